//! The categorical family ("products of multinomials"): each coordinate is one of `C` classes.

use super::{NoArguments, OutputFamily};
use dfdx::prelude::*;
use rand::{Rng, RngCore};

/// `x_j ~ Categorical(softmax(η_{0j}, ..., η_{C-1,j}))`, data as class indices `0, 1, ..., C-1`.
///
/// The class count is a const generic because it sizes the decoder's last layer at compile time:
/// in `dlvm!` write `observed x: 784 ~ Categorical<4>(mlp(z; 200; tanh))`. Raw outputs: `C`
/// logits per coordinate, laid out block by block (the `p` logits of class 0, then of class 1, ...).
///
/// # Formula
/// `log Φ_j(x_j | η) = η_{x_j, j} - log Σ_k exp(η_{k j}) <= 0`.
/// Mean (for single imputation) `E[x_j] = Σ_k k π_{kj}`, variance `Σ_k k² π_{kj} - E[x_j]²`.
///
/// ```
/// use dlvm_runtime::family::{Categorical, OutputFamily};
/// assert_eq!(<Categorical<3>>::raw_width(5), 15);
/// let mut mean = [0.0f32];
/// Categorical::<3>.mean_row(&[0.0, 0.0, 0.0], &mut mean); // uniform over {0, 1, 2}
/// assert!((mean[0] - 1.0).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Categorical<const C: usize>;

/// Class counts a [`Categorical`] family accepts: `Categorical<C>: ValidClassCount<C>` for
/// `2 <= C <= 256`. The count is the trait's parameter so that the compile error can name it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has an invalid class count: a categorical output needs between 2 and 256 classes, not {C}",
    label = "write the number of classes C, 2 <= C <= 256, as in `Categorical<4>(...)`",
    note = "data for a categorical output with C classes are the class indices 0, 1, ..., C - 1; here C = {C}"
)]
pub trait ValidClassCount<const C: usize> {}

macro_rules! valid_class_counts {
    ($($c:literal)*) => { $(#[diagnostic::do_not_recommend] impl ValidClassCount<$c> for Categorical<$c> {})* };
}

valid_class_counts!(
    2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35
    36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66
    67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97
    98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119 120 121
    122 123 124 125 126 127 128 129 130 131 132 133 134 135 136 137 138 139 140 141 142 143 144 145
    146 147 148 149 150 151 152 153 154 155 156 157 158 159 160 161 162 163 164 165 166 167 168 169
    170 171 172 173 174 175 176 177 178 179 180 181 182 183 184 185 186 187 188 189 190 191 192 193
    194 195 196 197 198 199 200 201 202 203 204 205 206 207 208 209 210 211 212 213 214 215 216 217
    218 219 220 221 222 223 224 225 226 227 228 229 230 231 232 233 234 235 236 237 238 239 240 241
    242 243 244 245 246 247 248 249 250 251 252 253 254 255 256
);

impl<const C: usize> Categorical<C> {
    /// The class probabilities `π_{kj}` of coordinate `j`, written into `probs` (length `C`).
    ///
    /// # Formula
    /// `π_{kj} = exp(η_{kj} - max_k η_{kj}) / Σ_k exp(η_{kj} - max_k η_{kj})`
    pub fn probabilities(raw: &[f32], p: usize, j: usize, probs: &mut [f64; C]) {
        let logit = |k: usize| f64::from(raw[k * p + j]);
        let max = (0..C).map(logit).fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        for (k, prob) in probs.iter_mut().enumerate() {
            *prob = (logit(k) - max).exp();
            total += *prob;
        }
        probs.iter_mut().for_each(|prob| *prob /= total);
    }

    /// One-hot encoding of class indices `x` (shape `(batch, p)`) as `(batch, C, p)` values.
    fn one_hot(x: &[f32], batch: usize, p: usize) -> Vec<f32> {
        let mut hot = vec![0.0f32; batch * C * p];
        for (i, row) in x.chunks(p.max(1)).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                if v >= 0.0 && v < C as f32 && v.fract() == 0.0 {
                    hot[(i * C + v as usize) * p + j] = 1.0;
                }
            }
        }
        hot
    }
}

impl<const C: usize> OutputFamily for Categorical<C>
where
    Categorical<C>: ValidClassCount<C>,
{
    const NAME: &'static str = "Categorical";
    const PARAMS_PER_COORD: usize = C;
    const DISCRETE: bool = true;
    const POINT_MASSES: bool = true;
    type Builder = NoArguments<Categorical<C>>;

    fn log_prob<D: Device<f32>, T: Tape<f32, D>>(
        &self,
        raw: Tensor<(usize, usize), f32, D, T>,
        x: Tensor<(usize, usize), f32, D>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let (batch, p) = *x.shape();
        let hot = Self::one_hot(&x.as_vec(), batch, p);
        let hot = x.device().tensor_from_vec(hot, (batch, Const::<C>, p));
        let logits = raw.reshape_like(&(batch, Const::<C>, p));
        (logits.log_softmax::<Axis<1>>() * hot).sum::<(usize, usize), Axis<1>>()
    }

    fn sample_row(&self, raw: &[f32], rng: &mut dyn RngCore, out: &mut [f32]) {
        let p = out.len();
        let mut probs = [0.0f64; C];
        for (j, o) in out.iter_mut().enumerate() {
            Self::probabilities(raw, p, j, &mut probs);
            let mut u: f64 = rng.gen();
            let mut class = C - 1;
            for (k, &prob) in probs.iter().enumerate() {
                if u < prob {
                    class = k;
                    break;
                }
                u -= prob;
            }
            *o = class as f32;
        }
    }

    fn mean_row(&self, raw: &[f32], out: &mut [f32]) {
        let p = out.len();
        let mut probs = [0.0f64; C];
        for (j, o) in out.iter_mut().enumerate() {
            Self::probabilities(raw, p, j, &mut probs);
            *o = probs
                .iter()
                .enumerate()
                .map(|(k, q)| k as f64 * q)
                .sum::<f64>() as f32;
        }
    }

    fn variance_row(&self, raw: &[f32], out: &mut [f32]) -> bool {
        let p = out.len();
        let mut probs = [0.0f64; C];
        for (j, o) in out.iter_mut().enumerate() {
            Self::probabilities(raw, p, j, &mut probs);
            let moment = |power: i32| -> f64 {
                probs
                    .iter()
                    .enumerate()
                    .map(|(k, q)| (k as f64).powi(power) * q)
                    .sum()
            };
            *o = (moment(2) - moment(1).powi(2)) as f32;
        }
        true
    }

    fn class_count(&self) -> Option<usize> {
        Some(C)
    }

    /// The most probable class of each coordinate, the lowest on ties.
    fn point_row(&self, raw: &[f32], out: &mut [f32]) {
        let p = out.len();
        for (j, o) in out.iter_mut().enumerate() {
            let logit = |k: usize| raw[k * p + j];
            // Strictly greater: the first of equal logits wins.
            let best = (1..C).fold(0, |best, k| if logit(k) > logit(best) { k } else { best });
            *o = best as f32;
        }
    }

    fn in_support(&self, x: f32) -> bool {
        x >= 0.0 && x < C as f32 && x.fract() == 0.0
    }

    fn support_description(&self) -> &'static str {
        SupportText::<C>::TEXT
    }

    fn log_density_bound(&self) -> Option<f64> {
        Some(0.0)
    }
}

/// The support of `Categorical<C>` in words, with the class count written out, built at compile
/// time: `"class indices 0, 1, ..., 3 (4 classes)"` for `C = 4`, `"class indices 0, 1 (2 classes)"`
/// for `C = 2`.
struct SupportText<const C: usize>;

impl<const C: usize> SupportText<C> {
    const BYTES: ([u8; 64], usize) = support_text(C);
    const TEXT: &'static str = match std::str::from_utf8(Self::BYTES.0.split_at(Self::BYTES.1).0) {
        Ok(text) => text,
        Err(_) => panic!("the support text is ASCII"),
    };
}

/// Writes the support text of `c` classes into a buffer; returns it and the text's length.
const fn support_text(c: usize) -> ([u8; 64], usize) {
    let buf = [0u8; 64];
    let (buf, len) = push_str(buf, 0, b"class indices 0, 1");
    let (buf, len) = match c {
        0..=2 => (buf, len),
        3 => push_str(buf, len, b", 2"),
        _ => {
            let (buf, len) = push_str(buf, len, b", ..., ");
            push_digits(buf, len, c - 1)
        }
    };
    let (buf, len) = push_str(buf, len, b" (");
    let (buf, len) = push_digits(buf, len, c);
    push_str(buf, len, b" classes)")
}

const fn push_str(mut buf: [u8; 64], mut len: usize, text: &[u8]) -> ([u8; 64], usize) {
    let mut i = 0;
    while i < text.len() {
        buf[len] = text[i];
        len += 1;
        i += 1;
    }
    (buf, len)
}

/// Appends the decimal digits of `n`.
const fn push_digits(mut buf: [u8; 64], mut len: usize, n: usize) -> ([u8; 64], usize) {
    let mut digits = [0u8; 20];
    let (mut count, mut rest) = (0, n);
    loop {
        digits[count] = b'0' + (rest % 10) as u8;
        count += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    while count > 0 {
        count -= 1;
        buf[len] = digits[count];
        len += 1;
    }
    (buf, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_prob_is_the_log_softmax_of_the_observed_class() {
        let dev = Cpu::default();
        // p = 2 coordinates, C = 3: logits of class 0 for (j=0, j=1), then class 1, then class 2.
        let raw = vec![0.5f32, -1.0, 2.0, 0.0, -0.5, 1.5];
        let x = vec![1.0f32, 2.0];
        let got = Categorical::<3>
            .log_prob(
                dev.tensor_from_vec(raw, (1, 6)),
                dev.tensor_from_vec(x, (1, 2)),
            )
            .as_vec();
        let lse = |a: f64, b: f64, c: f64| (a.exp() + b.exp() + c.exp()).ln();
        let want = [2.0 - lse(0.5, 2.0, -0.5), 1.5 - lse(-1.0, 0.0, 1.5)];
        for (g, w) in got.iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-5, "{g} vs {w}");
        }
    }

    #[test]
    fn the_point_imputation_is_the_most_probable_class_not_the_mean_index() {
        // Two coordinates; logits block by class: (0, -30, 0) for coordinate 0, (-1, 2, 2)
        // for coordinate 1. The mean index of coordinate 0 is 1, a class of probability e^-30.
        let f = Categorical::<3>;
        let raw = [0.0, -1.0, -30.0, 2.0, 0.0, 2.0];
        let mut point = [9.0; 2];
        f.point_row(&raw, &mut point);
        assert_eq!(point, [0.0, 1.0]);
        let mut mean = [0.0; 2];
        f.mean_row(&raw, &mut mean);
        assert!((mean[0] - 1.0).abs() < 1e-6, "{mean:?}");
        assert_eq!(f.class_count(), Some(3));
    }

    #[test]
    fn support_is_the_class_indices() {
        let f = Categorical::<4>;
        assert!((0..4).all(|k| f.in_support(k as f32)));
        assert!(!f.in_support(4.0) && !f.in_support(-1.0) && !f.in_support(1.5));
    }

    #[test]
    fn support_description_names_the_class_count() {
        assert_eq!(
            Categorical::<4>.support_description(),
            "class indices 0, 1, ..., 3 (4 classes)"
        );
        assert_eq!(
            Categorical::<2>.support_description(),
            "class indices 0, 1 (2 classes)"
        );
        assert_eq!(
            Categorical::<3>.support_description(),
            "class indices 0, 1, 2 (3 classes)"
        );
        assert_eq!(
            Categorical::<256>.support_description(),
            "class indices 0, 1, ..., 255 (256 classes)"
        );
    }
}
