//! The negative ELBO of a shard of rows and its gradient in every parameter: one forward and one
//! backward pass over host buffers, the hand-derived chain rule of the computation
//! [`elbo`](crate::bound::elbo) records on dfdx's tape.
//!
//! # Formula
//! For rows `x_r` with noise `ε_r` and a scale `c` (`1/n` of the whole minibatch):
//! - encoder `h = a_K(… a_1(x W₁ᵀ + b₁) …)`, heads `m = h W_mᵀ + b_m`, `v = h W_vᵀ + b_v`;
//! - `s = exp(v/2)`, `z = m + s ⊙ ε`, `KL_r = ½ Σ_j (m_rj² + e^{v_rj} - v_rj - 1)`;
//! - decoder `η = g_L(… ) W_Lᵀ + b_L`, `ℓ_r = log Φ(x_r | η_r)`;
//! - `L = -c Σ_r (ℓ_r - KL_r)`.
//!
//! Backward: `∂L/∂η = -c ∂ℓ/∂η`; each dense layer `y = u Wᵀ + b` gives `∂W += gyᵀ u`,
//! `∂b += Σ_r gy_r`, `∂u = gy W`, and each activation `∂a = ∂y ⊙ f'(a)`; at the latent code
//! `∂L/∂m = ∂L/∂z + c m` and `∂L/∂v = ½ ∂L/∂z ⊙ ε ⊙ s + ½ c (e^v - 1)`.

use super::plan::{Dense, Plan};
use crate::architecture::Activation;
use crate::family::OutputFamily;
use crate::kernels::{
    activate, bias_gradient_into, forward_into, input_gradient_into, weight_gradient_into,
    Destination::{Add, Overwrite},
};
use crate::train::NamedTensor;

/// One hidden layer's output after its activation, and the activation's derivative.
#[derive(Debug, Clone, Default)]
struct Hidden {
    values: Vec<f32>,
    derivative: Vec<f32>,
}

/// The buffers of one pass, reused from step to step (after the first step a pass allocates
/// nothing).
#[derive(Debug, Clone, Default)]
pub(crate) struct Workspace {
    trunk: Vec<Hidden>,
    mean: Vec<f32>,
    log_variance: Vec<f32>,
    sd: Vec<f32>,
    z: Vec<f32>,
    decoder: Vec<Hidden>,
    raw: Vec<f32>,
    log_lik: Vec<f32>,
    grad_raw: Vec<f32>,
    upstream: Vec<f32>,
    downstream: Vec<f32>,
    grad_mean: Vec<f32>,
    grad_log_variance: Vec<f32>,
}

/// The rows of one shard: data `x` (`n × p`, row-major) and noise `eps` (`n × d`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub x: &'a [f32],
    pub eps: &'a [f32],
    pub n: usize,
}

/// `L = -scale Σ_r ELBO(x_r, ε_r)` for the shard `rows`, with its gradient in every tensor of
/// `params` written to `grads` (same order and shapes; resized, then each written once by its
/// layer, so nothing is zero-filled).
///
/// # Panics
/// When `rows` does not fit the plan's widths (a bug in the caller).
pub(crate) fn loss_and_gradients<F: OutputFamily>(
    plan: &Plan,
    family: &F,
    params: &[NamedTensor],
    rows: Rows,
    scale: f32,
    ws: &mut Workspace,
    grads: &mut Vec<NamedTensor>,
) -> f32 {
    assert_eq!(
        rows.x.len(),
        rows.n * plan.observed,
        "data rows of the wrong width"
    );
    assert_eq!(
        rows.eps.len(),
        rows.n * plan.latent,
        "noise rows of the wrong width"
    );
    shape_gradients(params, grads);
    let loss = forward(plan, family, params, rows, scale, ws);
    backward(plan, params, rows, scale, ws, grads);
    loss
}

/// `grads` shaped like `params` (its buffers reused; the values are left to the pass).
fn shape_gradients(params: &[NamedTensor], grads: &mut Vec<NamedTensor>) {
    grads.truncate(params.len());
    for (k, p) in params.iter().enumerate() {
        match grads.get_mut(k) {
            Some(g) => g.values.resize(p.values.len(), 0.0),
            None => grads.push(NamedTensor {
                name: p.name.clone(),
                shape: p.shape.clone(),
                trainable: p.trainable,
                values: vec![0.0; p.values.len()],
            }),
        }
    }
}

/// Runs the network forward, keeping what the backward pass needs; returns the loss.
fn forward<F: OutputFamily>(
    plan: &Plan,
    family: &F,
    params: &[NamedTensor],
    rows: Rows,
    scale: f32,
    ws: &mut Workspace,
) -> f32 {
    let n = rows.n;
    hidden_forward(
        &plan.trunk,
        plan.trunk_activation,
        params,
        rows.x,
        n,
        &mut ws.trunk,
    );
    let h = ws.trunk.last().map_or(rows.x, |l| &l.values);
    dense_forward(&plan.mean, params, h, n, &mut ws.mean);
    dense_forward(&plan.log_variance, params, h, n, &mut ws.log_variance);
    reparameterise(ws, rows.eps);
    let (hidden, output) = plan.decoder.split_at(plan.decoder.len() - 1);
    hidden_forward(
        hidden,
        plan.decoder_activation,
        params,
        &ws.z,
        n,
        &mut ws.decoder,
    );
    let u = ws.decoder.last().map_or(&ws.z[..], |l| &l.values);
    dense_forward(&output[0], params, u, n, &mut ws.raw);
    ws.log_lik.resize(n, 0.0);
    ws.grad_raw.resize(n * plan.raw_width, 0.0);
    family.log_prob_rows_with_gradient_host(
        &ws.raw,
        rows.x,
        plan.observed,
        &mut ws.log_lik,
        &mut ws.grad_raw,
    );
    let d = plan.latent;
    let elbo: f64 = (0..n)
        .map(|r| f64::from(ws.log_lik[r]) - kl_row(&ws.mean, &ws.log_variance, r, d))
        .sum();
    -(scale * elbo as f32)
}

/// `KL(N(m_r, diag e^{v_r}) || N(0, I)) = ½ Σ_j (m_rj² + e^{v_rj} - v_rj - 1)` of row `r`.
fn kl_row(mean: &[f32], log_variance: &[f32], r: usize, d: usize) -> f64 {
    let (m, v) = (&mean[r * d..(r + 1) * d], &log_variance[r * d..(r + 1) * d]);
    let sum: f32 = m
        .iter()
        .zip(v)
        .map(|(&m, &v)| m * m + v.exp() - v - 1.0)
        .sum();
    f64::from(0.5 * sum)
}

/// `s = exp(v/2)`, `z = m + s ⊙ ε`.
fn reparameterise(ws: &mut Workspace, eps: &[f32]) {
    ws.sd.clear();
    ws.sd
        .extend(ws.log_variance.iter().map(|&v| (v * 0.5).exp()));
    ws.z.clear();
    let terms = ws.mean.iter().zip(&ws.sd).zip(eps);
    ws.z.extend(terms.map(|((&m, &s), &e)| m + s * e));
}

/// `out = input Wᵀ + b` for the `n` rows of `input`.
fn dense_forward(
    layer: &Dense,
    params: &[NamedTensor],
    input: &[f32],
    n: usize,
    out: &mut Vec<f32>,
) {
    let (w, b) = (&params[layer.weight].values, &params[layer.bias].values);
    forward_into(out, input, w, b, n, layer.inputs);
}

/// The dense layers `layers`, each followed by `activation`, from `input`; every layer's output
/// and derivative kept in `out`.
fn hidden_forward(
    layers: &[Dense],
    activation: Activation,
    params: &[NamedTensor],
    input: &[f32],
    n: usize,
    out: &mut Vec<Hidden>,
) {
    out.resize_with(layers.len(), Hidden::default);
    for (k, layer) in layers.iter().enumerate() {
        let (done, rest) = out.split_at_mut(k);
        let u = done.last().map_or(input, |l| &l.values);
        let Hidden { values, derivative } = &mut rest[0];
        dense_forward(layer, params, u, n, values);
        derivative.resize(values.len(), 0.0);
        activate(activation, values, derivative);
    }
}

/// The chain rule from `∂L/∂η` back to every parameter.
fn backward(
    plan: &Plan,
    params: &[NamedTensor],
    rows: Rows,
    scale: f32,
    ws: &mut Workspace,
    grads: &mut [NamedTensor],
) {
    let n = rows.n;
    ws.upstream.clear();
    ws.upstream.extend(ws.grad_raw.iter().map(|&g| -scale * g));
    let Workspace {
        trunk,
        mean,
        log_variance,
        sd,
        z,
        decoder,
        upstream,
        downstream,
        grad_mean,
        grad_log_variance,
        ..
    } = ws;
    hidden_backward(
        &plan.decoder,
        params,
        z,
        decoder,
        n,
        true,
        upstream,
        downstream,
        grads,
    );
    // `upstream` is now ∂L/∂z.
    latent_backward(
        scale,
        mean,
        log_variance,
        sd,
        rows.eps,
        upstream,
        grad_mean,
        grad_log_variance,
    );
    let h = trunk.last().map_or(rows.x, |l| &l.values);
    for (head, g) in [
        (&plan.mean, &*grad_mean),
        (&plan.log_variance, &*grad_log_variance),
    ] {
        parameter_gradients(head, g, h, n, grads);
    }
    let Some(top) = plan.trunk.last() else {
        return;
    };
    upstream.resize(n * top.outputs, 0.0);
    let heads = [
        (&plan.mean, &*grad_mean, Overwrite),
        (&plan.log_variance, &*grad_log_variance, Add),
    ];
    for (head, g, destination) in heads {
        let w = &params[head.weight].values;
        input_gradient_into(upstream, g, w, n, head.inputs, head.outputs, destination);
    }
    apply_derivative(upstream, &trunk[trunk.len() - 1].derivative);
    let layers = &plan.trunk;
    hidden_backward(
        layers, params, rows.x, trunk, n, false, upstream, downstream, grads,
    );
}

/// Back through `layers`, `upstream` holding the gradient of the last layer's output before any
/// activation: each layer's parameter gradients, then its input gradient times the derivative of
/// the activation below. Layer `k > 0` reads `hidden[k - 1]` (its input and that input's
/// activation derivative), layer 0 reads `input`. When `input_gradient`, `upstream` ends as
/// `∂L/∂input`.
#[allow(clippy::too_many_arguments)]
fn hidden_backward(
    layers: &[Dense],
    params: &[NamedTensor],
    input: &[f32],
    hidden: &[Hidden],
    n: usize,
    input_gradient: bool,
    upstream: &mut Vec<f32>,
    downstream: &mut Vec<f32>,
    grads: &mut [NamedTensor],
) {
    for (k, layer) in layers.iter().enumerate().rev() {
        let below = k.checked_sub(1).map(|j| &hidden[j]);
        let u = below.map_or(input, |h| &h.values);
        parameter_gradients(layer, upstream, u, n, grads);
        if below.is_none() && !input_gradient {
            break;
        }
        downstream.resize(n * layer.inputs, 0.0);
        let w = &params[layer.weight].values;
        let (i, o) = (layer.inputs, layer.outputs);
        input_gradient_into(downstream, upstream, w, n, i, o, Overwrite);
        if let Some(h) = below {
            apply_derivative(downstream, &h.derivative);
        }
        std::mem::swap(upstream, downstream);
    }
}

/// `∂W = gyᵀ u`, `∂b = Σ_r gy_r` of one dense layer (each parameter belongs to one layer, so
/// these are its whole gradients).
fn parameter_gradients(layer: &Dense, gy: &[f32], u: &[f32], n: usize, grads: &mut [NamedTensor]) {
    let (i, o) = (layer.inputs, layer.outputs);
    weight_gradient_into(&mut grads[layer.weight].values, gy, u, n, i, o, Overwrite);
    bias_gradient_into(&mut grads[layer.bias].values, gy, Overwrite);
}

/// `g ⊙= f'`: the chain rule through an element-wise activation.
fn apply_derivative(g: &mut [f32], derivative: &[f32]) {
    for (g, &d) in g.iter_mut().zip(derivative) {
        *g *= d;
    }
}

/// `∂L/∂m = ∂L/∂z + c m`, `∂L/∂v = ½ ∂L/∂z ⊙ ε ⊙ s + ½ c (e^v - 1)`.
#[allow(clippy::too_many_arguments)]
fn latent_backward(
    scale: f32,
    mean: &[f32],
    log_variance: &[f32],
    sd: &[f32],
    eps: &[f32],
    grad_z: &[f32],
    grad_mean: &mut Vec<f32>,
    grad_log_variance: &mut Vec<f32>,
) {
    grad_mean.clear();
    grad_mean.extend(grad_z.iter().zip(mean).map(|(&g, &m)| g + scale * m));
    grad_log_variance.clear();
    let terms = grad_z.iter().zip(eps).zip(sd).zip(log_variance);
    grad_log_variance
        .extend(terms.map(|(((&g, &e), &s), &v)| 0.5 * g * e * s + 0.5 * scale * (v.exp() - 1.0)));
}
