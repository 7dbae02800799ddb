//! The negative ELBO of a shard of rows and the gradient with respect to every dense layer's
//! output (its *signal*): one forward and one backward pass over host buffers, the
//! hand-derived chain rule of the computation [`elbo`](crate::bound::elbo) records on dfdx's
//! tape. The parameter gradients, which need only the signals and the layers' inputs, are
//! computed afterwards for all shards at once (`weights.rs`).
//!
//! # Formula
//! For rows `x_r` with noise `ε_r` and a scale `c` (`1/n` of the whole minibatch):
//! - encoder `h = a_K(… a_1(x W₁ᵀ + b₁) …)`, heads `m = h W_mᵀ + b_m`, `v = h W_vᵀ + b_v`;
//! - `s = exp(v/2)`, `z = m + s ⊙ ε`, `KL_r = ½ Σ_j (m_rj² + e^{v_rj} - v_rj - 1)`;
//! - decoder `η = g_L(… ) W_Lᵀ + b_L`, `ℓ_r = log Φ(x_r | η_r)`;
//! - `L = -c Σ_r (ℓ_r - KL_r)`.
//!
//! Backward: `∂L/∂η = -c ∂ℓ/∂η`; each dense layer `y = u Wᵀ + b` with signal `gy = ∂L/∂y`
//! passes `∂u = gy W` down, and each activation `∂a = ∂y ⊙ f'(a)`; at the latent code
//! `∂L/∂m = ∂L/∂z + c m` and `∂L/∂v = ½ ∂L/∂z ⊙ ε ⊙ s + ½ c (e^v - 1)`. (The layer's own
//! gradients are `∂W = gyᵀ u` and `∂b = Σ_r gy_r`.)

use crate::architecture::plan::{Dense, LayerInput, Plan};
use crate::architecture::Activation;
use crate::family::OutputFamily;
use crate::kernels::{
    activate, forward_into, input_gradient_into, transposed_forward_skipping_zeros_into,
    Destination::{Add, Overwrite},
    SparseColumns, SparseRows,
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
    grad_z: Vec<f32>,
    /// The data rows compressed, when the first layer took the sparse path, and their columns
    /// (for the first weight's gradient).
    sparse: SparseRows,
    columns: SparseColumns,
    sparse_first: bool,
    /// `∂L/∂y` of every dense layer's output `y` (before its activation), `n × outputs`,
    /// numbered as [`Plan::layers`].
    signals: Vec<Vec<f32>>,
}

impl Workspace {
    /// What layer `layer` read in the last pass: rows of its input, `n × inputs`.
    pub(crate) fn input<'a>(&'a self, plan: &Plan, x: &'a [f32], layer: usize) -> &'a [f32] {
        match plan.input_of(layer) {
            LayerInput::Data => x,
            LayerInput::Trunk(k) => &self.trunk[k].values,
            LayerInput::Latent => &self.z,
            LayerInput::Decoder(k) => &self.decoder[k].values,
        }
    }

    /// The signal `∂L/∂y` of layer `layer` from the last pass, `n × outputs`.
    pub(crate) fn signal(&self, layer: usize) -> &[f32] {
        &self.signals[layer]
    }

    /// The data's non-zero entries by column, when the last pass's first layer took the sparse
    /// path.
    pub(crate) fn sparse_columns(&self) -> Option<&SparseColumns> {
        self.sparse_first.then_some(&self.columns)
    }
}

/// The rows of one shard: data `x` (`n × p`, row-major) and noise `eps` (`n × d`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub x: &'a [f32],
    pub eps: &'a [f32],
    pub n: usize,
    /// Whether the encoder's first weight is held transposed (`W₁ᵀ`, `inputs × outputs`; see
    /// `FusedGradients::enter`): the first layer then adds, for sparse rows, only the rows of
    /// `W₁ᵀ` that the non-zero entries pick.
    pub first_transposed: bool,
}

/// `L = -scale Σ_r ELBO(x_r, ε_r)` for the shard `rows`, with every layer's signal `∂L/∂y`
/// left in `ws` (see [`Workspace::signal`]).
///
/// # Panics
/// When `rows` does not fit the plan's widths (a bug in the caller).
pub(crate) fn loss_and_signals<F: OutputFamily>(
    plan: &Plan,
    family: &F,
    params: &[NamedTensor],
    rows: Rows,
    scale: f32,
    ws: &mut Workspace,
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
    let loss = forward(plan, family, params, rows, scale, ws);
    backward(plan, params, rows, scale, ws);
    loss
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
    let input = Input {
        values: rows.x,
        n,
        first_transposed: rows.first_transposed,
    };
    ws.sparse_first = false;
    let trunk = &plan.trunk;
    let first = FirstLayer {
        rows: &mut ws.sparse,
        columns: &mut ws.columns,
        sparse: &mut ws.sparse_first,
    };
    hidden_forward(
        trunk,
        plan.trunk_activation,
        params,
        input,
        &mut ws.trunk,
        first,
    );
    let h = ws.trunk.last().map_or(rows.x, |l| &l.values);
    dense_forward(&plan.mean, params, h, n, &mut ws.mean);
    dense_forward(&plan.log_variance, params, h, n, &mut ws.log_variance);
    reparameterise(ws, rows.eps);
    let (hidden, output) = plan.decoder.split_at(plan.decoder.len() - 1);
    let code = Input {
        values: &ws.z,
        n,
        first_transposed: false,
    };
    let activation = plan.decoder_activation;
    let unused = FirstLayer {
        rows: &mut ws.sparse,
        columns: &mut ws.columns,
        sparse: &mut false,
    };
    hidden_forward(hidden, activation, params, code, &mut ws.decoder, unused);
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

/// What a chain of hidden layers reads: `n` rows of `values`, and whether its first weight is
/// held transposed (see [`Rows::first_transposed`]).
#[derive(Clone, Copy)]
struct Input<'a> {
    values: &'a [f32],
    n: usize,
    first_transposed: bool,
}

/// The buffers of a first layer with a transposed weight: the compressed rows and columns of
/// its input, and whether they were used.
struct FirstLayer<'a> {
    rows: &'a mut SparseRows,
    columns: &'a mut SparseColumns,
    sparse: &'a mut bool,
}

/// The dense layers `layers`, each followed by `activation`, from `input`; every layer's output
/// and derivative kept in `out`. A first layer with a transposed weight skips the zeros of a
/// sparse input (and keeps its non-zero entries in `first` for the weight's gradient).
fn hidden_forward(
    layers: &[Dense],
    activation: Activation,
    params: &[NamedTensor],
    input: Input,
    out: &mut Vec<Hidden>,
    first: FirstLayer,
) {
    let n = input.n;
    out.resize_with(layers.len(), Hidden::default);
    let mut first = Some(first);
    for (k, layer) in layers.iter().enumerate() {
        let (done, rest) = out.split_at_mut(k);
        let u = done.last().map_or(input.values, |l| &l.values);
        let Hidden { values, derivative } = &mut rest[0];
        match first.take().filter(|_| input.first_transposed) {
            Some(buffers) => transposed_forward(layer, params, u, n, buffers, values),
            None => dense_forward(layer, params, u, n, values),
        }
        derivative.resize(values.len(), 0.0);
        activate(activation, values, derivative);
    }
}

/// `out = input Wᵀ + b` from the transposed weight `Wᵀ` (held in the weight's tensor): by
/// the rows of `Wᵀ` that the non-zero entries pick when at most a quarter of `input` is
/// non-zero (keeping the entries, by row and by column, in `first`), else by a dense product.
fn transposed_forward(
    layer: &Dense,
    params: &[NamedTensor],
    input: &[f32],
    n: usize,
    first: FirstLayer,
    out: &mut Vec<f32>,
) {
    let (wt, bias) = (&params[layer.weight].values, &params[layer.bias].values);
    let (i, rows) = (layer.inputs, &mut *first.rows);
    *first.sparse = transposed_forward_skipping_zeros_into(out, input, wt, bias, n, i, rows);
    if *first.sparse {
        first.columns.transpose_from(first.rows);
    }
}

/// The chain rule from `∂L/∂η` down to every layer's signal (the encoder's first layer is the
/// last: nothing below it needs a gradient).
fn backward(plan: &Plan, params: &[NamedTensor], rows: Rows, scale: f32, ws: &mut Workspace) {
    let n = rows.n;
    let count = plan.layers().count();
    ws.signals.resize_with(count, Vec::new);
    let output = &mut ws.signals[count - 1];
    output.clear();
    output.extend(ws.grad_raw.iter().map(|&g| -scale * g));
    let first = plan.decoder_layer();
    for (k, layer) in plan.decoder.iter().enumerate().rev() {
        let (lower, upper) = ws.signals.split_at_mut(first + k);
        let below = match k.checked_sub(1) {
            Some(j) => Some((&mut lower[first + j], &ws.decoder[j].derivative)),
            None => None,
        };
        match below {
            Some((target, derivative)) => {
                pass_down(layer, params, &upper[0], n, target, Overwrite);
                apply_derivative(target, derivative);
            }
            None => pass_down(layer, params, &upper[0], n, &mut ws.grad_z, Overwrite),
        }
    }
    let mean = plan.mean_layer();
    let (lower, heads) = ws.signals.split_at_mut(mean);
    let [grad_mean, grad_log_variance] = &mut heads[..2] else {
        unreachable!("the plan has both heads")
    };
    let latent = Latent {
        mean: &ws.mean,
        log_variance: &ws.log_variance,
        sd: &ws.sd,
        eps: rows.eps,
    };
    latent_backward(scale, latent, &ws.grad_z, grad_mean, grad_log_variance);
    let Some((top, below)) = lower.split_last_mut() else {
        return;
    };
    pass_down(&plan.mean, params, grad_mean, n, top, Overwrite);
    pass_down(&plan.log_variance, params, grad_log_variance, n, top, Add);
    apply_derivative(top, &ws.trunk[below.len()].derivative);
    for k in (1..plan.trunk.len()).rev() {
        let (lower, upper) = ws.signals.split_at_mut(k);
        let target = &mut lower[k - 1];
        pass_down(&plan.trunk[k], params, &upper[0], n, target, Overwrite);
        apply_derivative(target, &ws.trunk[k - 1].derivative);
    }
}

/// `target (n × inputs) ← gy W` (or `+=`): the gradient a dense layer with signal `gy` passes
/// to its input.
fn pass_down(
    layer: &Dense,
    params: &[NamedTensor],
    gy: &[f32],
    n: usize,
    target: &mut Vec<f32>,
    destination: crate::kernels::Destination,
) {
    let (i, o) = (layer.inputs, layer.outputs);
    target.resize(n * i, 0.0);
    let w = &params[layer.weight].values;
    input_gradient_into(target, gy, w, n, i, o, destination);
}

/// `g ⊙= f'`: the chain rule through an element-wise activation.
fn apply_derivative(g: &mut [f32], derivative: &[f32]) {
    for (g, &d) in g.iter_mut().zip(derivative) {
        *g *= d;
    }
}

/// The encoder's outputs at the latent layer for a shard: `m`, `v`, `s = e^{v/2}` and the
/// noise `ε`.
struct Latent<'a> {
    mean: &'a [f32],
    log_variance: &'a [f32],
    sd: &'a [f32],
    eps: &'a [f32],
}

/// `∂L/∂m = ∂L/∂z + c m`, `∂L/∂v = ½ ∂L/∂z ⊙ ε ⊙ s + ½ c (e^v - 1)`.
fn latent_backward(
    scale: f32,
    latent: Latent,
    grad_z: &[f32],
    grad_mean: &mut Vec<f32>,
    grad_log_variance: &mut Vec<f32>,
) {
    let Latent {
        mean,
        log_variance,
        sd,
        eps,
    } = latent;
    grad_mean.clear();
    grad_mean.extend(grad_z.iter().zip(mean).map(|(&g, &m)| g + scale * m));
    grad_log_variance.clear();
    let terms = grad_z.iter().zip(eps).zip(sd).zip(log_variance);
    grad_log_variance
        .extend(terms.map(|(((&g, &e), &s), &v)| 0.5 * g * e * s + 0.5 * scale * (v.exp() - 1.0)));
}
