//! The fused kernels as dfdx operations: on the [`Cpu`] device a forward pass that also stores the
//! local derivative, and a backward closure on the tape that applies it (`∂L/∂x += ∂L/∂y · y'`).
//! Any other device runs dfdx's own operations, so models stay generic over the device.

use super::slices;
use dfdx::prelude::*;
use std::any::{Any, TypeId};

/// Whether `D` is dfdx's CPU device.
fn is_cpu<D: 'static>() -> bool {
    TypeId::of::<D>() == TypeId::of::<Cpu>()
}

/// Moves a value from one name of a type to another; only called where [`is_cpu`] proved
/// `D = Cpu`, so the two are one type.
fn same<A: 'static, B: 'static>(value: A) -> B {
    match (Box::new(value) as Box<dyn Any>).downcast::<B>() {
        Ok(value) => *value,
        Err(_) => unreachable!("called only when the two types are equal"),
    }
}

/// The tensor's values in memory order (the tensor is contiguous).
fn values<S: Shape>(t: &Tensor<S, f32, Cpu>) -> Vec<f32> {
    let mut out = vec![0.0; t.shape().num_elements()];
    t.copy_into(&mut out);
    out
}

/// `y = f(x)` element-wise from precomputed `values` with local derivative `derivative`,
/// recorded on `tape`.
fn record<S: Shape, D: Device<f32>, T: Tape<f32, D>>(
    input: &Tensor<S, f32, Cpu>,
    values: Vec<f32>,
    derivative: Vec<f32>,
    mut tape: T,
) -> Tensor<S, f32, D, T> {
    let out: Tensor<S, f32, Cpu> = input.device().tensor_from_vec(values, *input.shape());
    let (input_ghost, out_ghost) = (input.ghost(), out.ghost());
    tape.add_backward_op(move |grads: &mut Gradients<f32, D>| {
        let grads: &mut Gradients<f32, Cpu> = match (grads as &mut dyn Any).downcast_mut() {
            Some(grads) => grads,
            None => unreachable!("recorded only on the CPU device"),
        };
        let grad_out = grads.get_or_alloc_mut(&out_ghost).map_err(same)?.to_vec();
        let grad_in = grads.get_or_alloc_mut(&input_ghost).map_err(same)?;
        slices::accumulate_product(grad_in, &grad_out, &derivative);
        Ok(())
    });
    same::<Tensor<S, f32, Cpu>, Tensor<S, f32, D>>(out).put_tape(tape)
}

/// `tanh x` element-wise; on the CPU one fused, vectorised pass (within 4 units in the last place
/// of `tanh`, see `fast_math`), with gradient `1 - tanh² x`.
pub fn tanh<S: Shape, D: Device<f32>, T: Tape<f32, D>>(
    x: Tensor<S, f32, D, T>,
) -> Tensor<S, f32, D, T> {
    if !is_cpu::<D>() {
        return x.tanh();
    }
    let (x, tape) = x.contiguous().split_tape();
    let x: Tensor<S, f32, Cpu> = same(x);
    let input = values(&x);
    let (mut y, mut dy) = (vec![0.0; input.len()], vec![0.0; input.len()]);
    slices::tanh_forward(&input, &mut y, &mut dy);
    record(&x, y, dy, tape)
}

/// The Bernoulli log-likelihood `x η - softplus(η)` element-wise for logits `eta` and data `x`
/// (no gradient for `x`), i.e. `-bce_with_logits(η, x)`; on the CPU one fused, vectorised pass
/// with gradient `x - σ(η)`.
///
/// # Panics
/// When `eta` and `x` differ in shape (a bug in the calling family).
pub fn bernoulli_log_prob<D: Device<f32>, T: Tape<f32, D>>(
    eta: Tensor<(usize, usize), f32, D, T>,
    x: Tensor<(usize, usize), f32, D>,
) -> Tensor<(usize, usize), f32, D, T> {
    assert_eq!(eta.shape(), x.shape(), "logits and data differ in shape");
    if !is_cpu::<D>() {
        return eta.bce_with_logits(x).negate();
    }
    let (eta, tape) = eta.contiguous().split_tape();
    let eta: Tensor<(usize, usize), f32, Cpu> = same(eta);
    let x: Tensor<(usize, usize), f32, Cpu> = same(x.contiguous());
    let (logits, data) = (values(&eta), values(&x));
    let (mut lp, mut d) = (vec![0.0; logits.len()], vec![0.0; logits.len()]);
    slices::bernoulli_forward(&logits, &data, &mut lp, &mut d);
    record(&eta, lp, d, tape)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Value and gradient of `Σ w ⊙ f(x)` through the fused op and through dfdx's own.
    fn compare(
        fused: impl Fn(
            Tensor<(usize, usize), f32, Cpu, OwnedTape<f32, Cpu>>,
        ) -> Tensor<(usize, usize), f32, Cpu, OwnedTape<f32, Cpu>>,
        reference: impl Fn(
            Tensor<(usize, usize), f32, Cpu, OwnedTape<f32, Cpu>>,
        ) -> Tensor<(usize, usize), f32, Cpu, OwnedTape<f32, Cpu>>,
        tolerance: f32,
    ) {
        let dev = Cpu::seed_from_u64(3);
        let x: Tensor<(usize, usize), f32, Cpu> = dev.sample_normal_like(&(7, 13)) * 4.0;
        let w: Tensor<(usize, usize), f32, Cpu> = dev.sample_normal_like(&(7, 13));
        let run = |f: &dyn Fn(_) -> _| {
            let y: Tensor<(usize, usize), f32, Cpu, OwnedTape<f32, Cpu>> = f(x.leaky_trace());
            let value = y.with_empty_tape().as_vec();
            let grads = (y * w.clone()).sum().backward();
            (value, grads.get(&x).as_vec())
        };
        let (value, grad) = run(&fused);
        let (want_value, want_grad) = run(&reference);
        for (got, want) in value
            .iter()
            .zip(&want_value)
            .chain(grad.iter().zip(&want_grad))
        {
            assert!(
                (got - want).abs() <= tolerance * want.abs().max(1.0),
                "{got} vs {want}"
            );
        }
    }

    #[test]
    fn fused_tanh_matches_dfdx_in_value_and_gradient() {
        compare(tanh, |x| x.tanh(), 1e-6);
    }

    #[test]
    fn fused_bernoulli_matches_dfdx_in_value_and_gradient() {
        let dev = Cpu::seed_from_u64(4);
        let bits: Vec<f32> = (0..7 * 13)
            .map(|i| ((i * 7 + 3) % 5 < 2) as u8 as f32)
            .collect();
        let data: Tensor<(usize, usize), f32, Cpu> = dev.tensor_from_vec(bits, (7, 13));
        compare(
            |eta| bernoulli_log_prob(eta, data.clone()),
            |eta| eta.bce_with_logits(data.clone()).negate(),
            2e-6,
        );
    }

    #[test]
    fn a_non_contiguous_input_is_handled() {
        let dev = Cpu::default();
        let x: Tensor<(usize, usize), f32, Cpu> =
            dev.tensor_from_vec(vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6], (2, 3));
        let xt: Tensor<(usize, usize), f32, Cpu> =
            x.clone().permute::<_, dfdx::shapes::Axes2<1, 0>>();
        let got = tanh(xt.clone()).as_vec();
        let want = xt.tanh().as_vec();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }
}
