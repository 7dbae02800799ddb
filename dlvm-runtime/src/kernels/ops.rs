//! The fused kernels as dfdx operations: on the [`Cpu`] device a forward pass that also stores the
//! local derivative, and a backward closure on the tape that applies it (`∂L/∂x += ∂L/∂y · y'`).
//! Any other device runs dfdx's own operations, so models stay generic over the device.

use super::host::with_values;
use super::slices;
use crate::batch::to_host;
use dfdx::prelude::*;
use std::any::{Any, TypeId};

/// Whether `D` is dfdx's CPU device.
pub(crate) fn is_cpu<D: 'static>() -> bool {
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

/// A buffer for a local derivative: `len` values when the tape records, else empty (the
/// kernels then skip it).
fn derivative_buffer<T: Tape<f32, D>, D: Device<f32>>(len: usize) -> Vec<f32> {
    if T::OWNS_TAPE {
        vec![0.0; len]
    } else {
        Vec::new()
    }
}

/// Puts `out`, computed from `input` on the CPU, on `tape`, with the backward pass
/// `accumulate(∂L/∂input, ∂L/∂out, derivative)`; without a recording tape, just `out`.
fn record<SI: Shape, SO: Shape, D: Device<f32>, T: Tape<f32, D>>(
    input: &Tensor<SI, f32, Cpu>,
    out: Tensor<SO, f32, Cpu>,
    derivative: Vec<f32>,
    mut tape: T,
    accumulate: impl FnOnce(&mut [f32], &[f32], &[f32]) + 'static,
) -> Tensor<SO, f32, D, T> {
    if T::OWNS_TAPE {
        let (input_ghost, out_ghost) = (input.ghost(), out.ghost());
        tape.add_backward_op(move |grads: &mut Gradients<f32, D>| {
            let grads: &mut Gradients<f32, Cpu> = match (grads as &mut dyn Any).downcast_mut() {
                Some(grads) => grads,
                None => unreachable!("recorded only on the CPU device"),
            };
            let grad_out = grads.get_or_alloc_mut(&out_ghost).map_err(same)?.to_vec();
            let grad_in = grads.get_or_alloc_mut(&input_ghost).map_err(same)?;
            accumulate(grad_in, &grad_out, &derivative);
            Ok(())
        });
    }
    same::<Tensor<SO, f32, Cpu>, Tensor<SO, f32, D>>(out).put_tape(tape)
}

/// The dense layer `x Wᵀ + b` for a batch `x` of shape `(n, I)`: on the CPU one product
/// accumulating into bias-filled rows (`linear.rs`), and with a tape a backward pass that
/// accumulates `∂L/∂W += gyᵀ x`, `∂L/∂b += Σ_rows gy` and `∂L/∂x += gy W` in place; on other
/// devices dfdx's matmul and broadcast add, as dfdx's own `Linear` computes them.
pub fn linear<const I: usize, const O: usize, D: Device<f32>, T: Tape<f32, D>>(
    x: Tensor<(usize, Const<I>), f32, D, T>,
    weight: &Tensor<Rank2<O, I>, f32, D>,
    bias: &Tensor<Rank1<O>, f32, D>,
) -> Tensor<(usize, Const<O>), f32, D, T> {
    dense(x, weight, bias, InputGradient::Computed)
}

/// [`linear`] for a layer whose input is data: the backward pass gives the parameters their
/// gradients but computes none for `x` (on the CPU; other devices compute it anyway). A
/// gradient of `x` read after the backward pass is absent.
pub fn data_linear<const I: usize, const O: usize, D: Device<f32>, T: Tape<f32, D>>(
    x: Tensor<(usize, Const<I>), f32, D, T>,
    weight: &Tensor<Rank2<O, I>, f32, D>,
    bias: &Tensor<Rank1<O>, f32, D>,
) -> Tensor<(usize, Const<O>), f32, D, T> {
    dense(x, weight, bias, InputGradient::Skipped)
}

/// Whether a dense layer's backward pass computes the gradient of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputGradient {
    Computed,
    Skipped,
}

fn dense<const I: usize, const O: usize, D: Device<f32>, T: Tape<f32, D>>(
    x: Tensor<(usize, Const<I>), f32, D, T>,
    weight: &Tensor<Rank2<O, I>, f32, D>,
    bias: &Tensor<Rank1<O>, f32, D>,
    input_gradient: InputGradient,
) -> Tensor<(usize, Const<O>), f32, D, T> {
    if !is_cpu::<D>() {
        let y = x.matmul(weight.retaped::<T>().permute());
        let shape = *y.shape();
        return y + bias.retaped::<T>().broadcast_like(&shape);
    }
    // The parameters are public fields: a permuted weight must not be read in storage order.
    // `contiguous` keeps a contiguous tensor (and its gradient's identity) as it is; otherwise
    // it records a copy whose gradient flows back to the original.
    let (w, w_tape) = weight.retaped::<T>().contiguous().split_tape();
    let (b, b_tape) = bias.retaped::<T>().contiguous().split_tape();
    let (x, tape) = x.contiguous().split_tape();
    let tape = tape.merge(w_tape).merge(b_tape);
    let x: Tensor<(usize, Const<I>), f32, Cpu> = same(x);
    let w: Tensor<Rank2<O, I>, f32, Cpu> = same(w);
    let b: Tensor<Rank1<O>, f32, Cpu> = same(b);
    if !T::OWNS_TAPE {
        let y = super::linear::forward(&x, &w, &b);
        return same::<_, Tensor<(usize, Const<O>), f32, D>>(y).put_tape(tape);
    }
    taped_dense(x, w, b, input_gradient, tape)
}

/// The CPU forward pass of `x Wᵀ + b` with its backward pass on `tape`; the operands' host
/// copies move into the backward closure.
fn taped_dense<const I: usize, const O: usize, D: Device<f32>, T: Tape<f32, D>>(
    x: Tensor<(usize, Const<I>), f32, Cpu>,
    w: Tensor<Rank2<O, I>, f32, Cpu>,
    b: Tensor<Rank1<O>, f32, Cpu>,
    input_gradient: InputGradient,
    mut tape: T,
) -> Tensor<(usize, Const<O>), f32, D, T> {
    use super::linear::{
        bias_gradient_into, forward_values, input_gradient_into, weight_gradient_into,
        Destination::Add,
    };
    let n = x.shape().0;
    let (xs, ws) = (to_host(x.clone()), to_host(w.clone()));
    let out = forward_values(&xs, &ws, &to_host(b.clone()), n, I, O);
    let y = x.device().tensor_from_vec(out, (n, Const::<O>));
    let ghosts = (x.ghost(), w.ghost(), b.ghost(), y.ghost());
    let ws = (input_gradient == InputGradient::Computed).then_some(ws);
    tape.add_backward_op(move |grads: &mut Gradients<f32, D>| {
        let grads: &mut Gradients<f32, Cpu> = match (grads as &mut dyn Any).downcast_mut() {
            Some(grads) => grads,
            None => unreachable!("recorded only on the CPU device"),
        };
        let (x_ghost, w_ghost, b_ghost, y_ghost) = &ghosts;
        let gy = grads.get_or_alloc_mut(y_ghost).map_err(same)?.to_vec();
        let gw = grads.get_or_alloc_mut(w_ghost).map_err(same)?;
        weight_gradient_into(gw, &gy, &xs, n, I, O, Add);
        bias_gradient_into(grads.get_or_alloc_mut(b_ghost).map_err(same)?, &gy, Add);
        if let Some(ws) = &ws {
            let gx = grads.get_or_alloc_mut(x_ghost).map_err(same)?;
            input_gradient_into(gx, &gy, ws, n, I, O, Add);
        }
        Ok(())
    });
    same::<_, Tensor<(usize, Const<O>), f32, D>>(y).put_tape(tape)
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
    let n = x.shape().num_elements();
    let (mut y, mut dy) = (vec![0.0; n], derivative_buffer::<T, D>(n));
    with_values(&x, None::<&Tensor<S, f32, Cpu>>, |input, _| {
        slices::tanh_forward(input, &mut y, &mut dy)
    });
    let out = x.device().tensor_from_vec(y, *x.shape());
    record(&x, out, dy, tape, slices::accumulate_product)
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
    let n = eta.shape().num_elements();
    let (mut lp, mut d) = (vec![0.0; n], derivative_buffer::<T, D>(n));
    with_values(&eta, Some(&x), |logits, data| {
        slices::bernoulli_forward(logits, data, &mut lp, &mut d)
    });
    let out = eta.device().tensor_from_vec(lp, *eta.shape());
    record(&eta, out, d, tape, slices::accumulate_product)
}

/// The Bernoulli log-likelihood summed over each row, `Σ_j x_j η_j - softplus(η_j)`, i.e.
/// `bernoulli_log_prob(eta, x).sum::<_, Axis<1>>()`; on the CPU one fused pass that neither
/// stores the per-element terms nor runs a separate reduction.
///
/// # Panics
/// When `eta` and `x` differ in shape (a bug in the calling family).
pub fn bernoulli_log_prob_rows<D: Device<f32>, T: Tape<f32, D>>(
    eta: Tensor<(usize, usize), f32, D, T>,
    x: Tensor<(usize, usize), f32, D>,
) -> Tensor<(usize,), f32, D, T> {
    assert_eq!(eta.shape(), x.shape(), "logits and data differ in shape");
    if !is_cpu::<D>() {
        return eta.bce_with_logits(x).negate().sum::<(usize,), Axis<1>>();
    }
    let (eta, tape) = eta.contiguous().split_tape();
    let eta: Tensor<(usize, usize), f32, Cpu> = same(eta);
    let x: Tensor<(usize, usize), f32, Cpu> = same(x.contiguous());
    let (rows, width) = *eta.shape();
    let (mut sums, mut d) = (vec![0.0; rows], derivative_buffer::<T, D>(rows * width));
    let mut row = vec![0.0; width];
    with_values(&eta, Some(&x), |logits, data| {
        slices::bernoulli_rows(logits, data, width, &mut sums, &mut d, &mut row)
    });
    let out = eta.device().tensor_from_vec(sums, (rows,));
    record(&eta, out, d, tape, move |grad_in, grad_out, d| {
        slices::accumulate_row_product(grad_in, grad_out, d, width)
    })
}

/// [`bernoulli_log_prob_rows`] on host values: `out[r] = Σ_j x_rj η_rj - softplus(η_rj)` for
/// row-major `eta` and `x` of `out.len()` rows of `width` values.
///
/// # Panics
/// When the lengths do not fit `out.len() × width` (a bug in the caller).
pub fn bernoulli_rows_host(eta: &[f32], x: &[f32], width: usize, out: &mut [f32]) {
    let n = out.len() * width;
    assert!(
        eta.len() == n && x.len() == n,
        "logits and data differ in shape"
    );
    let mut row = vec![0.0; width];
    slices::bernoulli_rows(eta, x, width, out, &mut [], &mut row);
}

/// [`bernoulli_rows_host`] with the gradient: also `grad[r·width + j] = x_rj - σ(η_rj)`.
///
/// # Panics
/// When the lengths do not fit `out.len() × width` (a bug in the caller).
pub fn bernoulli_rows_with_gradient_host(
    eta: &[f32],
    x: &[f32],
    width: usize,
    out: &mut [f32],
    grad: &mut [f32],
) {
    let n = out.len() * width;
    assert!(
        eta.len() == n && x.len() == n && grad.len() == n,
        "logits, data and gradient differ in shape"
    );
    let mut row = vec![0.0; width];
    slices::bernoulli_rows(eta, x, width, out, grad, &mut row);
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
    fn fused_bernoulli_row_sums_match_dfdx_in_value_and_gradient() {
        let dev = Cpu::seed_from_u64(5);
        // 21 columns: two full groups of eight and a tail of five.
        let bits: Vec<f32> = (0..6 * 21)
            .map(|i| ((i * 5 + 1) % 3 == 0) as u8 as f32)
            .collect();
        let data: Tensor<(usize, usize), f32, Cpu> = dev.tensor_from_vec(bits, (6, 21));
        let eta: Tensor<(usize, usize), f32, Cpu> = dev.sample_normal_like(&(6, 21)) * 5.0;
        let w: Tensor<(usize,), f32, Cpu> = dev.sample_normal_like(&(6,));
        let run = |fused: bool| {
            let traced = eta.leaky_trace();
            let sums = if fused {
                bernoulli_log_prob_rows(traced, data.clone())
            } else {
                traced
                    .bce_with_logits(data.clone())
                    .negate()
                    .sum::<(usize,), Axis<1>>()
            };
            let value = sums.with_empty_tape().as_vec();
            let grads = (sums * w.clone()).sum().backward();
            (value, grads.get(&eta).as_vec())
        };
        let ((value, grad), (want_value, want_grad)) = (run(true), run(false));
        for (got, want) in value.iter().zip(&want_value) {
            assert!(
                (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                "{got} vs {want}"
            );
        }
        for (got, want) in grad.iter().zip(&want_grad) {
            assert!(
                (got - want).abs() <= 2e-6 * want.abs().max(1.0),
                "{got} vs {want}"
            );
        }
        let untaped = bernoulli_log_prob_rows(eta.clone(), data.clone()).as_vec();
        assert_eq!(untaped, value, "the untaped path computes the same sums");
        let mut host = vec![0.0; 6];
        bernoulli_rows_host(&eta.as_vec(), &data.as_vec(), 21, &mut host);
        assert_eq!(host, value, "the host path computes the same sums");
    }

    #[test]
    fn the_fused_dense_layer_matches_dfdx_without_a_tape() {
        let dev = Cpu::seed_from_u64(6);
        let x: Tensor<(usize, Const<9>), f32, Cpu> = dev.sample_normal_like(&(4, Const::<9>));
        let w: Tensor<Rank2<5, 9>, f32, Cpu> = dev.sample_normal();
        let b: Tensor<Rank1<5>, f32, Cpu> = dev.sample_normal();
        let want = (x.clone().matmul(w.clone().permute())
            + b.clone().broadcast_like(&(4, Const::<5>)))
        .as_vec();
        let got = linear(x.clone(), &w, &b).as_vec();
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() < 1e-5 * w.abs().max(1.0),
                "{got:?} vs {want:?}"
            );
        }
    }

    /// `Σ v ⊙ layer(x)` and the gradients of `x`, `w`, `b` (zeros where none was computed),
    /// through `layer` and through dfdx's own matmul and broadcast add.
    #[allow(clippy::type_complexity)]
    fn dense_gradients<const I: usize, const O: usize>(
        layer: impl Fn(
            Tensor<(usize, Const<I>), f32, Cpu, OwnedTape<f32, Cpu>>,
            &Tensor<Rank2<O, I>, f32, Cpu>,
            &Tensor<Rank1<O>, f32, Cpu>,
        ) -> Tensor<(usize, Const<O>), f32, Cpu, OwnedTape<f32, Cpu>>,
        x: &Tensor<(usize, Const<I>), f32, Cpu>,
        w: &Tensor<Rank2<O, I>, f32, Cpu>,
        b: &Tensor<Rank1<O>, f32, Cpu>,
        v: &Tensor<(usize, Const<O>), f32, Cpu>,
    ) -> [Vec<f32>; 4] {
        let mut grads = Gradients::leaky();
        grads.try_alloc_for(w).unwrap();
        grads.try_alloc_for(b).unwrap();
        let y = layer(x.clone().traced(grads), w, b);
        let value = y.with_empty_tape().as_vec();
        let mut grads = (y * v.clone()).sum().backward();
        let mut read = |t: &dyn Fn(&mut Gradients<f32, Cpu>) -> Vec<f32>| t(&mut grads);
        let gx = read(&|g| g.get_or_alloc_mut(x).unwrap().to_vec());
        let gw = read(&|g| g.get_or_alloc_mut(w).unwrap().to_vec());
        let gb = read(&|g| g.get_or_alloc_mut(b).unwrap().to_vec());
        [value, gx, gw, gb]
    }

    fn assert_close(got: &[f32], want: &[f32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                "{what}: {got:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn the_taped_dense_layer_has_dfdx_gradients_and_data_layers_skip_the_input() {
        let dev = Cpu::seed_from_u64(8);
        let x: Tensor<(usize, Const<9>), f32, Cpu> = dev.sample_normal_like(&(6, Const::<9>));
        let w: Tensor<Rank2<5, 9>, f32, Cpu> = dev.sample_normal();
        let b: Tensor<Rank1<5>, f32, Cpu> = dev.sample_normal();
        let v: Tensor<(usize, Const<5>), f32, Cpu> = dev.sample_normal_like(&(6, Const::<5>));
        let reference = dense_gradients(
            |x, w, b| {
                let y = x.matmul(w.retaped::<OwnedTape<f32, Cpu>>().permute());
                let shape = *y.shape();
                y + b.retaped::<OwnedTape<f32, Cpu>>().broadcast_like(&shape)
            },
            &x,
            &w,
            &b,
            &v,
        );
        let fused = dense_gradients(|x, w, b| linear(x, w, b), &x, &w, &b, &v);
        for (k, what) in ["value", "x gradient", "W gradient", "b gradient"]
            .iter()
            .enumerate()
        {
            assert_close(&fused[k], &reference[k], what);
        }
        assert!(reference[1].iter().any(|&g| g != 0.0));
        let data = dense_gradients(|x, w, b| data_linear(x, w, b), &x, &w, &b, &v);
        assert_close(&data[0], &reference[0], "data layer value");
        assert!(
            data[1].iter().all(|&g| g == 0.0),
            "no gradient for the data"
        );
        assert_close(&data[2], &reference[2], "data layer W gradient");
        assert_close(&data[3], &reference[3], "data layer b gradient");
    }

    #[test]
    fn a_permuted_weight_gets_its_gradient_through_the_permutation() {
        let dev = Cpu::seed_from_u64(9);
        let x: Tensor<(usize, Const<3>), f32, Cpu> = dev.sample_normal_like(&(4, Const::<3>));
        let stored: Tensor<Rank2<3, 2>, f32, Cpu> = dev.sample_normal();
        let b: Tensor<Rank1<2>, f32, Cpu> = dev.sample_normal();
        let v: Tensor<(usize, Const<2>), f32, Cpu> = dev.sample_normal_like(&(4, Const::<2>));
        let run = |fused: bool| {
            let grads = Gradients::leaky();
            let y = if fused {
                linear(x.clone().traced(grads), &stored.clone().permute(), &b)
            } else {
                let w: Tensor<Rank2<2, 3>, f32, Cpu> = stored.clone().permute();
                let y = x
                    .clone()
                    .traced(grads)
                    .matmul(w.retaped::<OwnedTape<f32, Cpu>>().permute());
                let shape = *y.shape();
                y + b.retaped::<OwnedTape<f32, Cpu>>().broadcast_like(&shape)
            };
            let mut grads = (y * v.clone()).sum().backward();
            grads.get_or_alloc_mut(&stored).unwrap().to_vec()
        };
        let (got, want) = (run(true), run(false));
        assert!(want.iter().any(|&g| g != 0.0));
        assert_close(&got, &want, "gradient of the stored weight");
    }

    #[test]
    fn the_fused_dense_layer_reads_a_permuted_weight_by_its_shape() {
        let dev = Cpu::seed_from_u64(7);
        let x: Tensor<(usize, Const<3>), f32, Cpu> = dev.sample_normal_like(&(2, Const::<3>));
        let stored: Tensor<Rank2<3, 4>, f32, Cpu> = dev.sample_normal();
        let w: Tensor<Rank2<4, 3>, f32, Cpu> = stored.permute();
        let b: Tensor<Rank1<4>, f32, Cpu> = dev.sample_normal();
        let want = (x.clone().matmul(w.clone().permute())
            + b.clone().broadcast_like(&(2, Const::<4>)))
        .as_vec();
        let got = linear(x, &w, &b).as_vec();
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() < 1e-5 * w.abs().max(1.0),
                "{got:?} vs {want:?}"
            );
        }
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
