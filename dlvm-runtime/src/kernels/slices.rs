//! Slice loops over [`fast_math`](super::fast_math), compiled three times: for the baseline
//! target, with AVX2 + FMA and with AVX-512F, picked at run time (`is_x86_feature_detected!`).

use super::fast_math;

/// Declares `pub fn $name(args)` that runs `$body` in an AVX-512 build of the loop when the CPU
/// has AVX-512F, else in an AVX2 + FMA build when it has both, else in the baseline build.
macro_rules! multiversion {
    ($(#[$doc:meta])* fn $name:ident<$a:ident>($($arg:ident: $ty:ty),*) $body:block) => {
        $crate::kernels::slices::multiversion! {
            @build
            $(#[$doc])*
            ///
            /// (`A`: fused multiply-adds in the AVX2 + FMA and AVX-512 builds, separate ones in
            /// the baseline build; see [`MulAdd`](crate::kernels::fast_math::MulAdd).)
            fn $name<$a>($($arg: $ty),*) $body
        }
    };
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        // The body names no multiply-add type: the parameter goes unused.
        $crate::kernels::slices::multiversion! {
            @build $(#[$doc])* fn $name<Unused>($($arg: $ty),*) $body
        }
    };
    (@build $(#[$doc:meta])* fn $name:ident<$a:ident>($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::extra_unused_type_parameters)] // the plain arm's `Unused`
            fn generic<$a: $crate::kernels::fast_math::MulAdd>($($arg: $ty),*) $body

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx2,fma")]
            unsafe fn avx512($($arg: $ty),*) {
                generic::<$crate::kernels::fast_math::Fused>($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) {
                generic::<$crate::kernels::fast_math::Fused>($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            {
                if is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU supports AVX-512F, AVX2 and FMA, checked just above.
                    return unsafe { avx512($($arg),*) };
                }
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            generic::<$crate::kernels::fast_math::Separate>($($arg),*)
        }
    };
}

/// For the other kernel files.
pub(super) use multiversion;

multiversion! {
    /// `y = tanh x` and, unless `dy` is empty, `dy = 1 - y²` (the derivative), element by
    /// element.
    fn tanh_forward<A>(x: &[f32], y: &mut [f32], dy: &mut [f32]) {
        for (&x, y) in x.iter().zip(y.iter_mut()) {
            *y = fast_math::tanh_with::<A>(x);
        }
        for (y, dy) in y.iter().zip(dy.iter_mut()) {
            *dy = 1.0 - y * y;
        }
    }
}

multiversion! {
    /// `lp = x η - softplus(η)` and, unless `d` is empty, `d = x - σ(η)`, element by element.
    fn bernoulli_forward<A>(eta: &[f32], x: &[f32], lp: &mut [f32], d: &mut [f32]) {
        if d.is_empty() {
            for ((&eta, &x), lp) in eta.iter().zip(x).zip(lp.iter_mut()) {
                *lp = fast_math::bernoulli_log_prob_with::<A>(eta, x).0;
            }
            return;
        }
        for (((&eta, &x), lp), d) in eta.iter().zip(x).zip(lp.iter_mut()).zip(d.iter_mut()) {
            (*lp, *d) = fast_math::bernoulli_log_prob_with::<A>(eta, x);
        }
    }
}

multiversion! {
    /// `acc += g · d`, element by element (the chain rule through an element-wise map).
    fn accumulate_product(acc: &mut [f32], g: &[f32], d: &[f32]) {
        for ((a, &g), &d) in acc.iter_mut().zip(g).zip(d) {
            *a += g * d;
        }
    }
}

multiversion! {
    /// Row sums `sums[r] = Σ_j (x η - softplus(η))` over rows of `width` values and, unless `d`
    /// is empty, `d = x - σ(η)` element by element. Each row's terms go through `row` (a
    /// scratch buffer of `width` values) and are summed in eight interleaved partial sums.
    fn bernoulli_rows<A>(
        eta: &[f32],
        x: &[f32],
        width: usize,
        sums: &mut [f32],
        d: &mut [f32],
        row: &mut [f32]
    ) {
        let w = width.max(1);
        for (r, ((eta, x), sum)) in eta.chunks_exact(w).zip(x.chunks_exact(w)).zip(sums.iter_mut()).enumerate() {
            if d.is_empty() {
                for ((&e, &x), lp) in eta.iter().zip(x).zip(row.iter_mut()) {
                    *lp = fast_math::bernoulli_log_prob_with::<A>(e, x).0;
                }
            } else {
                let d = &mut d[r * w..(r + 1) * w];
                for (((&e, &x), lp), dk) in eta.iter().zip(x).zip(row.iter_mut()).zip(d.iter_mut()) {
                    (*lp, *dk) = fast_math::bernoulli_log_prob_with::<A>(e, x);
                }
            }
            *sum = sum_lanes(&row[..w]);
        }
    }
}

/// `Σ values` over eight interleaved partial sums (a single running sum does not vectorise).
#[inline(always)]
fn sum_lanes(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

multiversion! {
    /// `acc[r, j] += g[r] · d[r, j]` over rows of `width` values (the chain rule through a row
    /// sum of an element-wise map).
    fn accumulate_row_product(acc: &mut [f32], g: &[f32], d: &[f32], width: usize) {
        let rows = acc.chunks_exact_mut(width.max(1)).zip(d.chunks_exact(width.max(1)));
        for ((acc, d), &g) in rows.zip(g) {
            for (a, &d) in acc.iter_mut().zip(d) {
                *a += g * d;
            }
        }
    }
}

multiversion! {
    /// `acc += x` element by element, each `x` widened to `f64`.
    fn accumulate_widened(acc: &mut [f64], x: &[f32]) {
        for (a, &x) in acc.iter_mut().zip(x) {
            *a += f64::from(x);
        }
    }
}

multiversion! {
    /// `v ← σ(v)` element by element.
    fn sigmoid_in_place<A>(values: &mut [f32]) {
        for v in values.iter_mut() {
            *v = fast_math::sigmoid_with::<A>(*v);
        }
    }
}

multiversion! {
    /// `out = σ(η)` element by element.
    fn sigmoid<A>(eta: &[f32], out: &mut [f32]) {
        for (o, &e) in out.iter_mut().zip(eta) {
            *o = fast_math::sigmoid_with::<A>(e);
        }
    }
}
