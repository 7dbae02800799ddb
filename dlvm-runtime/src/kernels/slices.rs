//! Slice loops over [`fast_math`](super::fast_math), compiled twice: for the baseline target and
//! with AVX2 + FMA, picked at run time (`is_x86_feature_detected!`).

use super::fast_math;

/// Declares `pub fn $name(args)` that runs `$body` in an AVX2 + FMA build of the loop when the
/// CPU has both, else in the baseline build.
macro_rules! multiversion {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn generic($($arg: $ty),*) $body

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) {
                generic($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                return unsafe { avx2($($arg),*) };
            }
            generic($($arg),*)
        }
    };
}

multiversion! {
    /// `y = tanh x` and `dy = 1 - y²` (the derivative), element by element.
    fn tanh_forward(x: &[f32], y: &mut [f32], dy: &mut [f32]) {
        for ((&x, y), dy) in x.iter().zip(y.iter_mut()).zip(dy.iter_mut()) {
            let t = fast_math::tanh(x);
            *y = t;
            *dy = 1.0 - t * t;
        }
    }
}

multiversion! {
    /// `lp = x η - softplus(η)` and `d = x - σ(η)`, element by element.
    fn bernoulli_forward(eta: &[f32], x: &[f32], lp: &mut [f32], d: &mut [f32]) {
        for (((&eta, &x), lp), d) in eta.iter().zip(x).zip(lp.iter_mut()).zip(d.iter_mut()) {
            (*lp, *d) = fast_math::bernoulli_log_prob(eta, x);
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
