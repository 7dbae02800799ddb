//! Adam with its state in the open (moments and step count), so that training can be saved and
//! resumed bit for bit; with a NaN/infinity guard and optional gradient-norm clipping.

use super::params::NamedTensor;

/// Adam's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamSettings {
    /// Step size `α`.
    pub learning_rate: f64,
    /// Moment decay rates `(β₁, β₂)`.
    pub betas: [f64; 2],
    /// Denominator guard `ε`.
    pub eps: f64,
    /// Rescale the gradient to at most this Euclidean norm (`None`: no clipping).
    pub clip_norm: Option<f64>,
}

/// Adam's state: the step count and the first and second moments of every trainable tensor, in
/// the model's visiting order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdamState {
    /// Updates done so far, `t`.
    pub step: u64,
    /// First moments `m`, one per trainable tensor (empty before the first update).
    pub moment1: Vec<NamedTensor>,
    /// Second moments `v`, one per trainable tensor (empty before the first update).
    pub moment2: Vec<NamedTensor>,
}

/// Why an update was refused; the parameters and the state are then unchanged.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateError {
    /// A gradient value is NaN or infinite.
    Gradient {
        /// The tensor it belongs to.
        parameter: String,
        /// Its index within the tensor.
        index: usize,
        /// The value.
        value: f32,
    },
    /// The update would make a parameter NaN or infinite.
    Parameter {
        /// The tensor.
        parameter: String,
        /// The index within the tensor.
        index: usize,
        /// The value it would take.
        value: f32,
    },
    /// The gradients do not match the parameters (a programming error, never user input).
    Mismatch(String),
}

/// What an update did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateReport {
    /// The gradient's Euclidean norm before clipping.
    pub grad_norm: f64,
    /// Whether it was rescaled.
    pub clipped: bool,
}

impl AdamState {
    /// One Adam update of `params` (trainable tensors only, visiting order, updated in place)
    /// from `grads` for *minimising* the loss. The update is first computed in full into
    /// scratch buffers and checked, then committed by swapping buffers: a refused update leaves
    /// `params` and `self` unchanged. Allocates its scratch; a training loop keeps one
    /// [`AdamScratch`] and calls [`update_with`](Self::update_with).
    ///
    /// # Formula
    /// With `g` the gradient, rescaled by `min(1, c / ‖g‖₂)` when clipping at `c`:
    /// `m ← β₁ m + (1 - β₁) g`, `v ← β₂ v + (1 - β₂) g²`, `t ← t + 1`,
    /// `θ ← θ - α m̂ / (√v̂ + ε)` with `m̂ = m / (1 - β₁ᵗ)`, `v̂ = v / (1 - β₂ᵗ)`.
    ///
    /// # Errors
    /// [`UpdateError::Gradient`] for a NaN/infinite gradient, [`UpdateError::Parameter`] when a
    /// new parameter would not be finite, [`UpdateError::Mismatch`] when the lists (or the
    /// moments) disagree.
    pub fn update(
        &mut self,
        settings: &AdamSettings,
        params: &mut [NamedTensor],
        grads: &[NamedTensor],
    ) -> Result<UpdateReport, UpdateError> {
        self.update_with(settings, params, grads, &mut AdamScratch::default())
    }

    /// [`update`](Self::update) with reusable scratch buffers: after the first step an update
    /// allocates nothing and makes one pass over parameters, gradients and moments.
    ///
    /// # Errors
    /// Those of [`update`](Self::update).
    pub fn update_with(
        &mut self,
        settings: &AdamSettings,
        params: &mut [NamedTensor],
        grads: &[NamedTensor],
        scratch: &mut AdamScratch,
    ) -> Result<UpdateReport, UpdateError> {
        check_pairing(params, grads)?;
        let fresh = self.moment1.is_empty() && self.moment2.is_empty();
        if !fresh {
            check_pairing(params, &self.moment1)?;
            check_pairing(params, &self.moment2)?;
        }
        // Clipping needs the norm before the step; otherwise the step's own pass computes it,
        // and a non-finite gradient shows as a non-finite proposal.
        let clip_norm = match settings.clip_norm {
            Some(c) => Some((c, finite_norm(grads)?)),
            None => None,
        };
        let scale = match clip_norm {
            Some((c, norm)) if norm > c => (c / norm) as f32,
            _ => 1.0,
        };
        let step = Step::new(settings, self.step + 1, scale);
        if fresh {
            self.moment1 = zeros_like(params);
            self.moment2 = zeros_like(params);
        }
        scratch.fit(params);
        let (finite, squares) =
            step.propose_all(params, grads, [&self.moment1, &self.moment2], scratch);
        if !finite {
            if fresh {
                (self.moment1, self.moment2) = (Vec::new(), Vec::new());
            }
            finite_norm(grads)?;
            return Err(first_non_finite(params, scratch));
        }
        let grad_norm = clip_norm.map_or(squares.sqrt(), |(_, norm)| norm);
        self.commit(params, scratch);
        Ok(UpdateReport {
            grad_norm,
            clipped: scale < 1.0,
        })
    }
}

impl AdamState {
    /// [`update_with`](Self::update_with) for a gradient that the caller computes part by part,
    /// each part proposed as soon as it is known (while it is still in cache). Tensor `k` is
    /// cut at `bounds[k]` (`parts + 1` increasing element offsets from 0 to its length) and
    /// `run` gets thread `t`'s parts, `parts[t][k]`: it fills every part's
    /// [`gradient`](GradientPart::gradient), calls [`GradientPart::propose`] on it, and returns
    /// each thread's `(all finite, Σ g²)`. `grads` ends holding the whole gradient. The step is
    /// then checked and committed as in [`update_with`](Self::update_with), with the same
    /// results and errors.
    ///
    /// # Errors
    /// Those of [`update`](Self::update); [`UpdateError::Mismatch`] also when clipping is on
    /// (it needs the norm before any part is proposed) or `bounds` do not cut every tensor.
    pub(crate) fn update_in_parts(
        &mut self,
        settings: &AdamSettings,
        params: &mut [NamedTensor],
        grads: &mut [NamedTensor],
        scratch: &mut AdamScratch,
        bounds: &[Vec<usize>],
        run: impl FnOnce(Vec<Vec<GradientPart<'_>>>) -> Vec<(bool, f64)>,
    ) -> Result<UpdateReport, UpdateError> {
        check_pairing(params, grads)?;
        check_bounds(params, bounds)?;
        if settings.clip_norm.is_some() {
            return Err(UpdateError::Mismatch(
                "an update in parts cannot clip: the norm is known only at the end".into(),
            ));
        }
        let fresh = self.moment1.is_empty() && self.moment2.is_empty();
        if fresh {
            self.moment1 = zeros_like(params);
            self.moment2 = zeros_like(params);
        } else {
            check_pairing(params, &self.moment1)?;
            check_pairing(params, &self.moment2)?;
        }
        let step = Step::new(settings, self.step + 1, 1.0);
        scratch.fit(params);
        let parts = gradient_parts(
            &step,
            params,
            grads,
            [&self.moment1, &self.moment2],
            scratch,
            bounds,
        );
        let (finite, squares) = run(parts)
            .into_iter()
            .fold((true, 0.0), |(ok, sum), (f, s)| (ok & f, sum + s));
        if !finite {
            if fresh {
                (self.moment1, self.moment2) = (Vec::new(), Vec::new());
            }
            finite_norm(grads)?;
            return Err(first_non_finite(params, scratch));
        }
        self.commit(params, scratch);
        Ok(UpdateReport {
            grad_norm: squares.sqrt(),
            clipped: false,
        })
    }

    /// Makes the proposed step in `scratch` the current one (by swapping buffers).
    fn commit(&mut self, params: &mut [NamedTensor], scratch: &mut AdamScratch) {
        for (k, tensor) in params.iter_mut().enumerate() {
            std::mem::swap(&mut tensor.values, &mut scratch.params[k]);
            std::mem::swap(&mut self.moment1[k].values, &mut scratch.moment1[k]);
            std::mem::swap(&mut self.moment2[k].values, &mut scratch.moment2[k]);
        }
        self.step += 1;
    }
}

/// One part of one tensor in an [`AdamState::update_in_parts`]: the caller writes the
/// gradient, then proposes the step for these elements.
pub(crate) struct GradientPart<'a> {
    /// The part's gradient, to be written by the caller before [`propose`](Self::propose).
    pub gradient: &'a mut [f32],
    step: &'a Step,
    inputs: [&'a [f32]; 3],
    outputs: [&'a mut [f32]; 3],
}

impl GradientPart<'_> {
    /// The step for this part's elements into Adam's scratch; whether every new value is
    /// finite, and `Σ g²` of the part's gradient.
    pub(crate) fn propose(&mut self) -> (bool, f64) {
        let [theta, m, v] = self.inputs;
        let [t, mo, vo] = &mut self.outputs;
        let outputs = [&mut **t, &mut **mo, &mut **vo];
        self.step.propose([theta, &*self.gradient, m, v], outputs)
    }
}

/// The parts of every tensor cut at `bounds`, `parts[t][k]` (see
/// [`AdamState::update_in_parts`]).
fn gradient_parts<'a>(
    step: &'a Step,
    params: &'a [NamedTensor],
    grads: &'a mut [NamedTensor],
    [moment1, moment2]: [&'a [NamedTensor]; 2],
    scratch: &'a mut AdamScratch,
    bounds: &[Vec<usize>],
) -> Vec<Vec<GradientPart<'a>>> {
    let threads = bounds.first().map_or(0, |b| b.len().saturating_sub(1));
    let mut parts: Vec<Vec<GradientPart>> = (0..threads).map(|_| Vec::new()).collect();
    let outputs = scratch
        .params
        .iter_mut()
        .zip(scratch.moment1.iter_mut().zip(scratch.moment2.iter_mut()));
    let tensors = grads.iter_mut().zip(outputs).zip(bounds).enumerate();
    for (k, ((grad, (t_out, (m_out, v_out))), cuts)) in tensors {
        let mut gradient = split_at_bounds_mut(&mut grad.values, cuts);
        let mut t_out = split_at_bounds_mut(t_out, cuts);
        let mut m_out = split_at_bounds_mut(m_out, cuts);
        let mut v_out = split_at_bounds_mut(v_out, cuts);
        for (t, range) in cuts.windows(2).enumerate().rev() {
            let range = range[0]..range[1];
            let inputs = [&params[k], &moment1[k], &moment2[k]].map(|x| &x.values[range.clone()]);
            parts[t].push(GradientPart {
                gradient: gradient.pop().expect("one slice per part"),
                step,
                inputs,
                outputs: [t_out.pop(), m_out.pop(), v_out.pop()]
                    .map(|o| o.expect("one slice per part")),
            });
        }
    }
    parts
}

/// `values` cut at the increasing offsets `bounds` (`bounds[0] = 0`, last = length).
pub(crate) fn split_at_bounds_mut<'a>(
    mut values: &'a mut [f32],
    bounds: &[usize],
) -> Vec<&'a mut [f32]> {
    let mut slices = Vec::with_capacity(bounds.len().saturating_sub(1));
    for range in bounds.windows(2) {
        let (head, tail) = std::mem::take(&mut values).split_at_mut(range[1] - range[0]);
        slices.push(head);
        values = tail;
    }
    slices
}

/// Checks that `bounds` cuts every tensor of `params` into the same number of parts.
fn check_bounds(params: &[NamedTensor], bounds: &[Vec<usize>]) -> Result<(), UpdateError> {
    let parts = bounds.first().map_or(0, Vec::len);
    let bad = params.iter().zip(bounds).find(|(p, b)| {
        b.len() != parts
            || b.first() != Some(&0)
            || b.last() != Some(&p.values.len())
            || b.windows(2).any(|w| w[0] > w[1])
    });
    match (bounds.len() == params.len(), bad) {
        (true, None) if parts >= 2 => Ok(()),
        _ => Err(UpdateError::Mismatch(format!(
            "the part bounds do not cut the {} tensors into the same parts",
            params.len()
        ))),
    }
}

/// Buffers for Adam's proposed parameters and moments, reused from step to step so that an
/// update allocates nothing (see [`AdamState::update_with`]).
///
/// With [`with_threads`](Self::with_threads) the step is computed by that many threads, each
/// on one contiguous part of every tensor (Adam is element-wise, so the result is the same).
#[derive(Debug, Clone, Default)]
pub struct AdamScratch {
    params: Vec<Vec<f32>>,
    moment1: Vec<Vec<f32>>,
    moment2: Vec<Vec<f32>>,
    threads: usize,
}

impl AdamScratch {
    /// Scratch whose updates are computed by `threads` threads (0 or 1: the calling thread).
    pub fn with_threads(threads: usize) -> Self {
        Self {
            threads,
            ..Self::default()
        }
    }

    /// Gives every buffer the length of the corresponding tensor of `params`.
    fn fit(&mut self, params: &[NamedTensor]) {
        for buffers in [&mut self.params, &mut self.moment1, &mut self.moment2] {
            buffers.resize_with(params.len(), Vec::new);
            for (buffer, tensor) in buffers.iter_mut().zip(params) {
                buffer.resize(tensor.values.len(), 0.0);
            }
        }
    }
}

/// One thread's share of one tensor: `[θ, g, m, v]` in, `[θ, m, v]` out.
struct Part<'a> {
    inputs: [&'a [f32]; 4],
    outputs: [&'a mut [f32]; 3],
}

/// The error for the first proposed value that is not finite: a parameter, else a moment
/// (named `<tensor> (first moment)` / `(second moment)`).
fn first_non_finite(params: &[NamedTensor], scratch: &AdamScratch) -> UpdateError {
    let groups = [
        (&scratch.params, ""),
        (&scratch.moment1, " (first moment)"),
        (&scratch.moment2, " (second moment)"),
    ];
    let found = groups.iter().find_map(|(proposed, suffix)| {
        params
            .iter()
            .zip(proposed.iter())
            .find_map(|(tensor, values)| {
                let index = values.iter().position(|v| !v.is_finite())?;
                Some((format!("{}{suffix}", tensor.name), index, values[index]))
            })
    });
    let (parameter, index, value) = found.unwrap_or_else(|| (String::new(), 0, f32::NAN));
    UpdateError::Parameter {
        parameter,
        index,
        value,
    }
}

/// The constants of one Adam step, in `f32` as dfdx's kernel computes them.
struct Step {
    b1: f32,
    b2: f32,
    lr: f32,
    eps: f32,
    correction1: f32,
    correction2: f32,
    scale: f32,
}

impl Step {
    fn new(settings: &AdamSettings, t: u64, scale: f32) -> Self {
        let power = i32::try_from(t).unwrap_or(i32::MAX);
        let [b1, b2] = settings.betas.map(|b| b as f32);
        Self {
            b1,
            b2,
            lr: settings.learning_rate as f32,
            eps: settings.eps as f32,
            correction1: (1.0 - b1.powi(power)).recip(),
            correction2: (1.0 - b2.powi(power)).recip(),
            scale,
        }
    }

    /// `(m, v, θ)` after the step, from `θ`, the raw gradient `g` and the old `(m, v)`.
    /// Writes the step's `[θ, m, v]` for every element of `[θ, g, m, v]` into `out`; returns
    /// whether every new `θ`, `m` and `v` is finite, and `Σ g²` of the raw gradient (in `f64`).
    /// Branch-free, so the compiler vectorises it.
    fn propose(&self, inputs: [&[f32]; 4], outputs: [&mut [f32]; 3]) -> (bool, f64) {
        #[cfg(target_arch = "x86_64")]
        {
            /// The loop compiled for AVX-512F (16 lanes of `sqrt` and division).
            #[target_feature(enable = "avx512f,avx2,fma")]
            unsafe fn wide(
                step: &Step,
                inputs: [&[f32]; 4],
                outputs: [&mut [f32]; 3],
            ) -> (bool, f64) {
                step.propose_lanes(inputs, outputs)
            }
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports AVX-512F, AVX2 and FMA, checked just above.
                return unsafe { wide(self, inputs, outputs) };
            }
        }
        self.propose_lanes(inputs, outputs)
    }

    /// The loop of [`propose`](Self::propose), inlined into each build of it.
    #[inline(always)]
    fn propose_lanes(
        &self,
        [theta, g, m, v]: [&[f32]; 4],
        [t_out, m_out, v_out]: [&mut [f32]; 3],
    ) -> (bool, f64) {
        let inputs = theta.iter().zip(g).zip(m.iter().zip(v));
        let outputs = t_out.iter_mut().zip(m_out.iter_mut().zip(v_out.iter_mut()));
        let mut finite = true;
        for (((&theta, &g), (&m, &v)), (t_new, (m_new, v_new))) in inputs.zip(outputs) {
            (*m_new, *v_new, *t_new) = self.apply(theta, g, m, v);
            // A finite θ with an overflowing moment (|g| > ~1.8e19 makes g² infinite) would freeze
            // the element for good, so the moments must stay finite too.
            finite &= t_new.is_finite() & m_new.is_finite() & v_new.is_finite();
        }
        (finite, sum_of_squares(g))
    }

    /// [`propose`](Self::propose) for every tensor into `scratch`, split over
    /// `scratch.threads` tasks of rayon's pool (the first on the calling thread); whether every
    /// new parameter is finite, and `Σ g²` over all gradients.
    fn propose_all(
        &self,
        params: &[NamedTensor],
        grads: &[NamedTensor],
        [moment1, moment2]: [&[NamedTensor]; 2],
        scratch: &mut AdamScratch,
    ) -> (bool, f64) {
        let threads = scratch.threads.max(1);
        let mut parts: Vec<Vec<Part>> = (0..threads).map(|_| Vec::new()).collect();
        let outputs = scratch
            .params
            .iter_mut()
            .zip(scratch.moment1.iter_mut().zip(scratch.moment2.iter_mut()));
        for (k, (t_out, (m_out, v_out))) in outputs.enumerate() {
            let size = params[k].values.len().div_ceil(threads).max(1);
            let inputs =
                [&params[k], &grads[k], &moment1[k], &moment2[k]].map(|t| t.values.chunks(size));
            let [theta, g, m, v] = inputs;
            let outs = t_out
                .chunks_mut(size)
                .zip(m_out.chunks_mut(size).zip(v_out.chunks_mut(size)));
            let ins = theta.zip(g).zip(m.zip(v));
            for (w, (((theta, g), (m, v)), (t, (mo, vo)))) in ins.zip(outs).enumerate() {
                parts[w].push(Part {
                    inputs: [theta, g, m, v],
                    outputs: [t, mo, vo],
                });
            }
        }
        let run = |parts: Vec<Part>| {
            parts.into_iter().fold((true, 0.0), |(ok, sum), part| {
                let (finite, squares) = self.propose(part.inputs, part.outputs);
                (ok & finite, sum + squares)
            })
        };
        let mut results = vec![(true, 0.0); parts.len()];
        rayon::in_place_scope(|scope| {
            let mut jobs = parts.into_iter().zip(results.iter_mut());
            let first = jobs.next();
            for (part, result) in jobs {
                scope.spawn(move |_| *result = run(part));
            }
            if let Some((part, result)) = first {
                *result = run(part);
            }
        });
        results
            .into_iter()
            .fold((true, 0.0), |(ok, sum), (finite, squares)| {
                (ok & finite, sum + squares)
            })
    }

    #[inline(always)]
    fn apply(&self, theta: f32, g: f32, m: f32, v: f32) -> (f32, f32, f32) {
        let g = g * self.scale;
        let m = m * self.b1 + g * (1.0 - self.b1);
        let v = v * self.b2 + g * g * (1.0 - self.b2);
        let update = self.lr * (m * self.correction1) / ((v * self.correction2).sqrt() + self.eps);
        (m, v, theta - update)
    }
}

fn zeros_like(params: &[NamedTensor]) -> Vec<NamedTensor> {
    params
        .iter()
        .map(|p| NamedTensor {
            values: vec![0.0; p.values.len()],
            ..p.clone()
        })
        .collect()
}

/// Checks that parameters and gradients list the same tensors with the same sizes.
fn check_pairing(params: &[NamedTensor], grads: &[NamedTensor]) -> Result<(), UpdateError> {
    if params.len() != grads.len() {
        return Err(UpdateError::Mismatch(format!(
            "{} parameters but {} gradients",
            params.len(),
            grads.len()
        )));
    }
    match params
        .iter()
        .zip(grads)
        .find(|(p, g)| p.name != g.name || p.values.len() != g.values.len())
    {
        Some((p, g)) => Err(UpdateError::Mismatch(format!(
            "parameter `{}` paired with gradient `{}`",
            p.name, g.name
        ))),
        None => Ok(()),
    }
}

/// `Σ_i x_i²` in `f64` over eight interleaved partial sums, so that the loop vectorises
/// (a single running sum is one long dependency chain).
#[inline(always)]
fn sum_of_squares(values: &[f32]) -> f64 {
    let mut partial = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum();
    for chunk in chunks {
        for (p, &x) in partial.iter_mut().zip(chunk) {
            *p += f64::from(x) * f64::from(x);
        }
    }
    partial.iter().sum::<f64>() + tail
}

/// The Euclidean norm of all gradients, after checking every value is finite.
///
/// # Formula
/// `‖g‖₂ = √(Σ_k Σ_i g_ki²)`, accumulated in `f64`.
fn finite_norm(grads: &[NamedTensor]) -> Result<f64, UpdateError> {
    // Squares of finite f32 values cannot overflow f64: the sum is finite iff every value is.
    let sum: f64 = grads.iter().map(|t| sum_of_squares(&t.values)).sum();
    if sum.is_finite() {
        return Ok(sum.sqrt());
    }
    let (tensor, index, value) = grads
        .iter()
        .flat_map(|t| t.values.iter().enumerate().map(move |(i, &g)| (t, i, g)))
        .find(|(_, _, g)| !g.is_finite())
        .map_or((String::new(), 0, f32::NAN), |(t, i, g)| {
            (t.name.clone(), i, g)
        });
    Err(UpdateError::Gradient {
        parameter: tensor,
        index,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, values: Vec<f32>) -> NamedTensor {
        NamedTensor {
            name: name.into(),
            shape: vec![values.len()],
            trainable: true,
            values,
        }
    }

    fn settings(clip_norm: Option<f64>) -> AdamSettings {
        AdamSettings {
            learning_rate: 0.1,
            betas: [0.9, 0.999],
            eps: 1e-8,
            clip_norm,
        }
    }

    /// One update of `params` by `update_in_parts` with the gradient `grads`, cut at `bounds`,
    /// each part's gradient copied in by the "caller" (in reverse part order, to show the order
    /// does not matter).
    fn update_by_parts(
        state: &mut AdamState,
        params: &mut [NamedTensor],
        grads: &[NamedTensor],
        bounds: &[Vec<usize>],
    ) -> Result<UpdateReport, UpdateError> {
        let mut written: Vec<NamedTensor> = grads
            .iter()
            .map(|g| tensor(&g.name, vec![f32::NAN; g.values.len()]))
            .collect();
        let mut scratch = AdamScratch::default();
        let run = |parts: Vec<Vec<GradientPart<'_>>>| {
            let mut results: Vec<(bool, f64)> = parts
                .into_iter()
                .enumerate()
                .rev()
                .map(|(t, mut part)| {
                    part.iter_mut()
                        .enumerate()
                        .fold((true, 0.0), |acc, (k, p)| {
                            let range = bounds[k][t]..bounds[k][t + 1];
                            p.gradient.copy_from_slice(&grads[k].values[range]);
                            let (f, s) = p.propose();
                            (acc.0 & f, acc.1 + s)
                        })
                })
                .collect();
            results.reverse();
            results
        };
        let report = state.update_in_parts(
            &settings(None),
            params,
            &mut written,
            &mut scratch,
            bounds,
            run,
        );
        if report.is_ok() {
            assert_eq!(written, grads, "the whole gradient is left in `grads`");
        }
        report
    }

    #[test]
    fn an_update_in_parts_equals_the_whole_update() {
        let grads = [
            tensor("a", vec![0.5, -2.0, 1.5, 0.25, -0.75]),
            tensor("b", vec![3.0, -1.0]),
        ];
        let bounds = [vec![0, 2, 5], vec![0, 0, 2]];
        let start = [tensor("a", vec![1.0; 5]), tensor("b", vec![-1.0, 2.0])];
        let (mut whole, mut parts) = (AdamState::default(), AdamState::default());
        let (mut p_whole, mut p_parts) = (start.clone(), start.clone());
        for step in 0..3 {
            let scaled: Vec<NamedTensor> = grads
                .iter()
                .map(|g| {
                    tensor(
                        &g.name,
                        g.values.iter().map(|v| v / (step + 1) as f32).collect(),
                    )
                })
                .collect();
            let a = whole
                .update(&settings(None), &mut p_whole, &scaled)
                .unwrap();
            let b = update_by_parts(&mut parts, &mut p_parts, &scaled, &bounds).unwrap();
            assert_eq!((a.grad_norm, a.clipped), (b.grad_norm, b.clipped));
            assert_eq!((&whole, &p_whole), (&parts, &p_parts), "step {step}");
        }
        assert_ne!(p_whole, start);
    }

    #[test]
    fn an_update_in_parts_refuses_what_the_whole_update_refuses() {
        let mut state = AdamState::default();
        let mut params = [tensor("a", vec![1.0]), tensor("b", vec![1.0, 2.0])];
        let bounds = [vec![0, 1, 1], vec![0, 1, 2]];
        let good = [tensor("a", vec![1.0]), tensor("b", vec![1.0, 1.0])];
        update_by_parts(&mut state, &mut params, &good, &bounds).unwrap();
        let before = (state.clone(), params.clone());
        let bad = [tensor("a", vec![1.0]), tensor("b", vec![1.0, f32::NAN])];
        match update_by_parts(&mut state, &mut params, &bad, &bounds).unwrap_err() {
            UpdateError::Gradient {
                parameter, index, ..
            } => assert_eq!((parameter.as_str(), index), ("b", 1)),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!((state, params), before, "nothing was committed");
    }

    #[test]
    fn an_update_in_parts_rejects_clipping_and_bad_bounds() {
        let mut state = AdamState::default();
        let mut params = [tensor("a", vec![1.0, 2.0])];
        let mut grads = [tensor("a", vec![0.0, 0.0])];
        let mut scratch = AdamScratch::default();
        let never =
            |_: Vec<Vec<GradientPart<'_>>>| -> Vec<(bool, f64)> { panic!("no part may run") };
        for (clip, bounds) in [
            (Some(1.0), vec![vec![0, 1, 2]]),
            (None, vec![vec![0, 1, 3]]),
            (None, vec![vec![0, 2, 1]]),
            (None, vec![vec![0, 2], vec![0, 1]]),
            (None, vec![]),
        ] {
            let err = state
                .update_in_parts(
                    &settings(clip),
                    &mut params,
                    &mut grads,
                    &mut scratch,
                    &bounds,
                    never,
                )
                .unwrap_err();
            assert!(
                matches!(err, UpdateError::Mismatch(_)),
                "{bounds:?}: {err:?}"
            );
        }
        assert_eq!(state, AdamState::default());
    }

    #[test]
    fn the_first_step_moves_each_parameter_by_the_learning_rate() {
        // After one step m̂ = g and v̂ = g², so θ moves by α g / (|g| + ε) ≈ α sign(g).
        let mut state = AdamState::default();
        let mut params = [tensor("w", vec![1.0, 1.0, 1.0])];
        let grads = [tensor("w", vec![3.0, -0.5, 0.0])];
        let report = state.update(&settings(None), &mut params, &grads).unwrap();
        let want = [0.9f32, 1.1, 1.0];
        for (got, want) in params[0].values.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        assert!((report.grad_norm - 9.25f64.sqrt()).abs() < 1e-9);
        assert_eq!(state.step, 1);
        // v = (1 - β₂) g² = 0.009; in f32, 1 - 0.999 carries a relative error of about
        // 2⁻²⁴ / 0.001 ≈ 6e-5, hence the relative tolerance 1e-4.
        assert!((state.moment2[0].values[0] / 0.009 - 1.0).abs() < 1e-4);
    }

    #[test]
    fn clipping_rescales_the_gradient_to_the_given_norm() {
        // Clipping at 1 rescales g = (3, 4) (norm 5) to (0.6, 0.8): m = 0.1 g' after one step.
        let mut state = AdamState::default();
        let mut params = [tensor("w", vec![0.0, 0.0])];
        let grads = [tensor("w", vec![3.0, 4.0])];
        let report = state
            .update(&settings(Some(1.0)), &mut params, &grads)
            .unwrap();
        assert!(report.clipped && (report.grad_norm - 5.0).abs() < 1e-9);
        assert!((state.moment1[0].values[0] - 0.06).abs() < 1e-7);
        assert!((state.moment1[0].values[1] - 0.08).abs() < 1e-7);
        let mut unclipped = AdamState::default();
        let mut params = [tensor("w", vec![0.0, 0.0])];
        let report = unclipped
            .update(&settings(Some(10.0)), &mut params, &grads)
            .unwrap();
        assert!(!report.clipped);
        assert!((unclipped.moment1[0].values[0] - 0.3).abs() < 1e-7);
    }

    #[test]
    fn a_non_finite_gradient_is_refused_and_leaves_the_state_unchanged() {
        let mut state = AdamState::default();
        let mut params = [tensor("a", vec![1.0]), tensor("b", vec![1.0, 2.0])];
        let good = [tensor("a", vec![1.0]), tensor("b", vec![1.0, 1.0])];
        state.update(&settings(None), &mut params, &good).unwrap();
        let before = (state.clone(), params.clone());
        let bad = [tensor("a", vec![1.0]), tensor("b", vec![1.0, f32::NAN])];
        let err = state
            .update(&settings(None), &mut params, &bad)
            .unwrap_err();
        match err {
            UpdateError::Gradient {
                parameter, index, ..
            } => assert_eq!((parameter.as_str(), index), ("b", 1)),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!((state, params), before);
    }

    #[test]
    fn an_update_to_infinity_is_refused() {
        let mut state = AdamState::default();
        let huge = AdamSettings {
            learning_rate: 1e39,
            ..settings(None)
        };
        let mut params = [tensor("w", vec![0.0]), tensor("u", vec![0.0])];
        let grads = [tensor("w", vec![0.0]), tensor("u", vec![1.0])];
        let err = state.update(&huge, &mut params, &grads).unwrap_err();
        assert!(matches!(err, UpdateError::Parameter { .. }), "{err:?}");
        assert_eq!(state, AdamState::default());
        assert_eq!(params[0].values, [0.0], "nothing was committed");
    }

    #[test]
    fn a_gradient_whose_square_overflows_is_refused_as_a_moment() {
        // g = 1e20: g² overflows f32, so v = ∞ while θ stays finite (m̂ / √v̂ = 0); committing it
        // would freeze the element for good.
        let mut state = AdamState::default();
        let mut params = [tensor("w", vec![0.5, 0.5])];
        let grads = [tensor("w", vec![1.0, 1e20])];
        let err = state
            .update(&settings(None), &mut params, &grads)
            .unwrap_err();
        match err {
            UpdateError::Parameter {
                parameter, index, ..
            } => {
                assert!(
                    parameter.starts_with('w') && parameter.contains("moment"),
                    "{parameter}"
                );
                assert_eq!(index, 1);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(state, AdamState::default());
        assert_eq!(params[0].values, [0.5, 0.5], "nothing was committed");
    }
}
