//! The DSL's activations on host slices, in place, each with its derivative in the same pass:
//! what the fused training pass (`train/fused`) runs between its dense layers.

use super::fast_math;
use super::slices::multiversion;
use crate::architecture::Activation;

/// `values ← f(values)` and `derivative ← f'(values before)` element by element, for the
/// activation `f` (formulas at [`Activation`]).
///
/// # Panics
/// When the two slices differ in length (a bug in the caller).
pub(crate) fn activate(activation: Activation, values: &mut [f32], derivative: &mut [f32]) {
    assert_eq!(
        values.len(),
        derivative.len(),
        "values and derivatives differ"
    );
    match activation {
        Activation::Tanh => tanh_in_place(values, derivative),
        Activation::Relu => relu_in_place(values, derivative),
        Activation::Sigmoid => sigmoid_in_place(values, derivative),
        Activation::Softplus => softplus_in_place(values, derivative),
    }
}

/// `values ← f(values)` element by element, for the activation `f` (formulas at
/// [`Activation`]), without its derivative: what forward-only passes (`forward`) run.
pub(crate) fn activate_values(activation: Activation, values: &mut [f32]) {
    match activation {
        Activation::Tanh => tanh_values(values),
        Activation::Relu => relu_values(values),
        Activation::Sigmoid => super::slices::sigmoid_in_place(values),
        Activation::Softplus => softplus_values(values),
    }
}

multiversion! {
    /// `y = tanh a`.
    fn tanh_values<A>(values: &mut [f32]) {
        for v in values.iter_mut() {
            *v = fast_math::tanh_with::<A>(*v);
        }
    }
}

multiversion! {
    /// `y = max(a, 0)`.
    fn relu_values(values: &mut [f32]) {
        for v in values.iter_mut() {
            *v = if *v > 0.0 { *v } else { 0.0 };
        }
    }
}

multiversion! {
    /// `y = max(a, 0) + ln(1 + e^{-|a|})` (`= log(1 + eᵃ)`).
    fn softplus_values<A>(values: &mut [f32]) {
        for v in values.iter_mut() {
            let a = *v;
            *v = a.max(0.0) + fast_math::ln_1p_unit_with::<A>(fast_math::exp_with::<A>(-a.abs()));
        }
    }
}

multiversion! {
    /// `y = tanh a`, `dy = 1 - y²`.
    fn tanh_in_place<A>(values: &mut [f32], derivative: &mut [f32]) {
        for (v, d) in values.iter_mut().zip(derivative.iter_mut()) {
            let y = fast_math::tanh_with::<A>(*v);
            *v = y;
            *d = 1.0 - y * y;
        }
    }
}

multiversion! {
    /// `y = max(a, 0)`, `dy = [a > 0]`.
    fn relu_in_place(values: &mut [f32], derivative: &mut [f32]) {
        for (v, d) in values.iter_mut().zip(derivative.iter_mut()) {
            let positive = *v > 0.0;
            *d = if positive { 1.0 } else { 0.0 };
            *v = if positive { *v } else { 0.0 };
        }
    }
}

multiversion! {
    /// `y = σ(a)`, `dy = y (1 - y)`.
    fn sigmoid_in_place<A>(values: &mut [f32], derivative: &mut [f32]) {
        for (v, d) in values.iter_mut().zip(derivative.iter_mut()) {
            let y = fast_math::sigmoid_with::<A>(*v);
            *v = y;
            *d = y * (1.0 - y);
        }
    }
}

multiversion! {
    /// `y = max(a, 0) + ln(1 + e^{-|a|})` (`= log(1 + eᵃ)`), `dy = σ(a)`, both from one
    /// `e^{-|a|}`.
    fn softplus_in_place<A>(values: &mut [f32], derivative: &mut [f32]) {
        for (v, d) in values.iter_mut().zip(derivative.iter_mut()) {
            let a = *v;
            let e = fast_math::exp_with::<A>(-a.abs());
            let inv = 1.0 / (1.0 + e);
            *d = if a >= 0.0 { inv } else { e * inv };
            *v = a.max(0.0) + fast_math::ln_1p_unit_with::<A>(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::*;

    const ALL: [Activation; 4] = [
        Activation::Tanh,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Softplus,
    ];

    /// Inputs spread over `[-25, 25]`, including 0 and both sides of softplus's cut at 20.
    fn inputs() -> Vec<f32> {
        (0..=1000).map(|i| -25.0 + 0.05 * i as f32).collect()
    }

    /// The value and derivative of dfdx's own activation (through its tape).
    fn dfdx_reference(activation: Activation, xs: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let dev = Cpu::default();
        let x = dev.tensor_from_vec(xs.to_vec(), (xs.len(),));
        let traced = x.leaky_trace();
        let y = match activation {
            Activation::Tanh => traced.tanh(),
            Activation::Relu => traced.relu(),
            Activation::Sigmoid => traced.sigmoid(),
            Activation::Softplus => crate::family::special::softplus(traced),
        };
        let values = y.retaped::<NoneTape>().as_vec();
        let gradient = y.sum().backward().get(&x).as_vec();
        (values, gradient)
    }

    #[test]
    fn the_values_alone_are_those_of_the_pass_with_derivatives() {
        let xs = inputs();
        for activation in ALL {
            let (mut with, mut derivative) = (xs.clone(), vec![0.0; xs.len()]);
            activate(activation, &mut with, &mut derivative);
            let mut alone = xs.clone();
            activate_values(activation, &mut alone);
            assert_eq!(alone, with, "{activation:?}");
        }
    }

    #[test]
    fn every_activation_matches_dfdx_in_value_and_derivative() {
        let xs = inputs();
        for activation in ALL {
            let (want_y, want_dy) = dfdx_reference(activation, &xs);
            let mut y = xs.clone();
            let mut dy = vec![f32::NAN; xs.len()];
            activate(activation, &mut y, &mut dy);
            for i in 0..xs.len() {
                let close = |a: f32, b: f32| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
                assert!(
                    close(y[i], want_y[i]) && close(dy[i], want_dy[i]),
                    "{activation:?} at {}: ({}, {}) but dfdx gives ({}, {})",
                    xs[i],
                    y[i],
                    dy[i],
                    want_y[i],
                    want_dy[i]
                );
            }
        }
    }
}
