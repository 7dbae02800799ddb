//! A described model's encoder and decoder over host copies of its weights.

use super::observed::ObservedRows;
use crate::architecture::plan::{Dense, Plan};
use crate::family::OutputFamily;
use crate::kernels::{
    activate_values, add_picked_rows, dense_forward_into, transpose_into, transposed_forward_into,
    transposed_forward_skipping_zeros_into, Picked, SparseRows,
};
use crate::model::Dlvm;
use crate::train::{read_tensors, NamedTensor};
use dfdx::prelude::*;

/// The fraction of non-zero entries at or below which the first layer adds rows of `W₁ᵀ`
/// instead of running a dense product (each added row costs about three of the product's
/// multiply-adds per entry; the same cut as `kernels::sparse`).
const MAX_DENSITY: f32 = 0.25;

/// The networks of a model that describes its architecture, as host copies of its weights:
///
/// - encoder `h = a(… a(x W₁ᵀ + b₁) …)`, `m = h W_mᵀ + b_m`, `v = h W_vᵀ + b_v`;
/// - decoder `η = g(… g(z V₁ᵀ + c₁) …) V_Lᵀ + c_L`;
///
/// the same functions as the model's [`encode`](Dlvm::encode) and [`decode`](Dlvm::decode),
/// up to the rounding of sums taken in another order. The weights are copied when the value
/// is made: a later change to the model is not seen.
#[derive(Debug, Clone)]
pub struct HostNetworks {
    plan: Plan,
    params: Vec<NamedTensor>,
    /// `W₁ᵀ` of the encoder's first hidden layer (`p × h₁`, row-major; empty without hidden
    /// layers): its rows are what a sparse input, or a change in a few coordinates, adds.
    first_transposed: Vec<f32>,
    /// The two heads as one layer of `2d` units: weight `[W_m; W_v]` (`2d × h`) …
    heads_weight: Vec<f32>,
    /// … and bias `[b_m; b_v]`.
    heads_bias: Vec<f32>,
}

/// The buffers of the calls of one thread, reused from call to call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Workspace {
    trunk: Vec<Vec<f32>>,
    heads: Vec<f32>,
    /// The posterior means of the last [`HostNetworks::encode_into`], `n × d`.
    pub mean: Vec<f32>,
    /// The posterior log-variances of the last [`HostNetworks::encode_into`], `n × d`.
    pub log_variance: Vec<f32>,
    decoder: Vec<Vec<f32>>,
    /// The decoder outputs of the last [`HostNetworks::decode_into`], `n × raw_width`.
    pub raw: Vec<f32>,
    sparse: SparseRows,
    picked: PickedEntries,
}

/// Entries picked from rows of a matrix, row by row: row `r`'s are
/// `indices[starts[r]..starts[r + 1]]` with `values[..]` alike (the buffers may be longer).
#[derive(Debug, Clone, Default)]
struct PickedEntries {
    starts: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl HostNetworks {
    /// The networks of `model`, its weights read to the host; `None` when the model does not
    /// describe its architecture ([`Dlvm::architecture`]) or its tensors do not fit the
    /// description (the model's own networks then stay the only way to run it).
    pub fn of_model<M: Dlvm<D>, D: Device<f32>>(model: &M) -> Option<Self> {
        let architecture = M::architecture()?;
        let params = read_tensors(model).ok()?;
        let p = M::observed_dim();
        let width = <M::Family as OutputFamily>::raw_width(p);
        let plan = Plan::new(&architecture, &params, p, M::latent_dim(), width).ok()?;
        Some(Self::from_plan(plan, params))
    }

    /// The networks `plan` lays over `params`.
    pub(crate) fn from_plan(plan: Plan, params: Vec<NamedTensor>) -> Self {
        let first_transposed = plan.trunk.first().map_or_else(Vec::new, |layer| {
            let mut wt = vec![0.0; layer.inputs * layer.outputs];
            let w = &params[layer.weight].values;
            transpose_into(&mut wt, w, layer.outputs, layer.inputs);
            wt
        });
        let heads = [&plan.mean, &plan.log_variance];
        let heads_weight = heads.iter().flat_map(|l| &params[l.weight].values);
        let heads_bias = heads.iter().flat_map(|l| &params[l.bias].values);
        Self {
            heads_weight: heads_weight.copied().collect(),
            heads_bias: heads_bias.copied().collect(),
            first_transposed,
            plan,
            params,
        }
    }

    /// The observed dimension `p`.
    pub fn observed_dim(&self) -> usize {
        self.plan.observed
    }

    /// The latent dimension `d`.
    pub fn latent_dim(&self) -> usize {
        self.plan.latent
    }

    /// The decoder's output width (`raw_width(p)` of the model's family).
    pub fn raw_width(&self) -> usize {
        self.plan.raw_width
    }

    /// The encoder at the rows `x` (`p` values each, row-major): the posterior means and
    /// log-variances, `d` values per row each.
    ///
    /// # Panics
    /// When `x.len()` is not a multiple of `p`.
    pub fn encode(&self, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let n = self.rows_of(x, self.plan.observed, "data");
        let mut ws = Workspace::default();
        self.encode_into(x, n, None, &mut ws);
        (ws.mean, ws.log_variance)
    }

    /// The decoder at the latent rows `z` (`d` values each, row-major): the family's raw
    /// parameters, `raw_width` values per row.
    ///
    /// # Panics
    /// When `z.len()` is not a multiple of `d`.
    pub fn decode(&self, z: &[f32]) -> Vec<f32> {
        let n = self.rows_of(z, self.plan.latent, "latent");
        let mut ws = Workspace::default();
        self.decode_into(z, n, &mut ws);
        ws.raw
    }

    fn rows_of(&self, values: &[f32], width: usize, what: &str) -> usize {
        let rows = values.len() / width.max(1);
        assert_eq!(
            rows * width,
            values.len(),
            "{} {what} values are not rows of {width}",
            values.len()
        );
        rows
    }

    /// The encoder at the `n` rows `x` into `ws.mean` and `ws.log_variance`. With `observed`
    /// (the rows' part at their observed entries, see [`ObservedPart`](super::ObservedPart)),
    /// the first layer adds only the rows of `W₁ᵀ` that the non-zero missing entries pick.
    pub(crate) fn encode_into(
        &self,
        x: &[f32],
        n: usize,
        observed: Option<ObservedRows>,
        ws: &mut Workspace,
    ) {
        let plan = &self.plan;
        ws.trunk.resize_with(plan.trunk.len(), Vec::new);
        for k in 0..plan.trunk.len() {
            let (done, rest) = ws.trunk.split_at_mut(k);
            let out = &mut rest[0];
            match done.last() {
                None => self.first_layer_into(x, n, observed, out, &mut ws.sparse, &mut ws.picked),
                Some(u) => self.dense(&plan.trunk[k], u, n, out),
            }
            activate_values(plan.trunk_activation, out);
        }
        let h = ws.trunk.last().map_or(x, |l| &l[..]);
        let inputs = plan.mean.inputs;
        dense_forward_into(
            &mut ws.heads,
            h,
            &self.heads_weight,
            &self.heads_bias,
            n,
            inputs,
        );
        let d = plan.latent;
        ws.mean.clear();
        ws.log_variance.clear();
        for row in ws.heads.chunks_exact(2 * d) {
            ws.mean.extend_from_slice(&row[..d]);
            ws.log_variance.extend_from_slice(&row[d..]);
        }
    }

    /// The decoder at the `n` latent rows `z` into `ws.raw`.
    pub(crate) fn decode_into(&self, z: &[f32], n: usize, ws: &mut Workspace) {
        let plan = &self.plan;
        let (hidden, output) = plan.decoder.split_at(plan.decoder.len() - 1);
        ws.decoder.resize_with(hidden.len(), Vec::new);
        for (k, layer) in hidden.iter().enumerate() {
            let (done, rest) = ws.decoder.split_at_mut(k);
            let u = done.last().map_or(z, |l| &l[..]);
            self.dense(layer, u, n, &mut rest[0]);
            activate_values(plan.decoder_activation, &mut rest[0]);
        }
        let u = ws.decoder.last().map_or(z, |l| &l[..]);
        self.dense(&output[0], u, n, &mut ws.raw);
    }

    /// The pre-activation of the encoder's first hidden layer, `b₁ + x W₁ᵀ`, at the `n` rows
    /// `x` (`n × h₁`); empty without hidden layers. What [`ObservedPart`](super::ObservedPart)
    /// keeps for the points with their missing entries set to 0.
    pub(crate) fn first_layer(&self, x: &[f32], n: usize) -> Vec<f32> {
        let mut out = Vec::new();
        if !self.plan.trunk.is_empty() {
            let (mut sparse, mut picked) = (SparseRows::default(), PickedEntries::default());
            self.first_layer_into(x, n, None, &mut out, &mut sparse, &mut picked);
        }
        out
    }

    /// `out = b₁ + x W₁ᵀ` for the `n` rows `x`: from `observed`'s part plus the rows of `W₁ᵀ`
    /// of the non-zero missing entries, or from the non-zero entries of a sparse `x`, or by a
    /// dense product when more than [`MAX_DENSITY`] of the entries to add are non-zero.
    fn first_layer_into(
        &self,
        x: &[f32],
        n: usize,
        observed: Option<ObservedRows>,
        out: &mut Vec<f32>,
        sparse: &mut SparseRows,
        picked: &mut PickedEntries,
    ) {
        let layer = &self.plan.trunk[0];
        let (p, h) = (layer.inputs, layer.outputs);
        let (wt, bias) = (&self.first_transposed, &self.params[layer.bias].values);
        let Some(rows) = observed else {
            transposed_forward_skipping_zeros_into(out, x, wt, bias, n, p, sparse);
            return;
        };
        picked.gather_missing(x, p, &rows);
        if picked.len() as f32 <= MAX_DENSITY * (n * p) as f32 {
            out.clear();
            out.extend_from_slice(rows.base);
            picked.add_rows_into(out, wt, h);
        } else {
            transposed_forward_into(out, x, wt, bias, n, p);
        }
    }

    /// `out = u Wᵀ + b` for the `n` rows `u` (dense).
    fn dense(&self, layer: &Dense, u: &[f32], n: usize, out: &mut Vec<f32>) {
        let (w, b) = (
            &self.params[layer.weight].values,
            &self.params[layer.bias].values,
        );
        dense_forward_into(out, u, w, b, n, layer.inputs);
    }
}

impl PickedEntries {
    /// The non-zero entries of the rows `x` (`p` values each) at their missing coordinates.
    /// Every missing entry is written and the count advances only past the non-zero ones, so
    /// the loop has no data-dependent branch.
    fn gather_missing(&mut self, x: &[f32], p: usize, rows: &ObservedRows) {
        let n = x.len() / p.max(1);
        let most = rows.missing.count(rows.first, n);
        if self.indices.len() < most {
            self.indices.resize(most, 0);
            self.values.resize(most, 0.0);
        }
        self.starts.clear();
        self.starts.push(0);
        let mut count = 0;
        for (r, row) in x.chunks_exact(p).enumerate() {
            for &j in rows.missing.row(rows.first + r) {
                let v = row[j as usize];
                self.indices[count] = j;
                self.values[count] = v;
                count += usize::from(v != 0.0);
            }
            self.starts.push(count);
        }
    }

    /// The number of entries picked.
    fn len(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }

    /// `out[r, ·] += Σ_e values[e] · table[indices[e], ·]` over row `r`'s entries (rows of
    /// `o` values).
    fn add_rows_into(&self, out: &mut [f32], table: &[f32], o: usize) {
        for (r, row) in out.chunks_exact_mut(o).enumerate() {
            let entries = self.starts[r]..self.starts[r + 1];
            let picked = Picked {
                indices: &self.indices[entries.clone()],
                values: &self.values[entries],
                table,
                stride: o,
            };
            add_picked_rows(row, &[picked]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ObservedPart, RowCoordinates};
    use super::*;
    use crate::architecture::{Activation, Architecture, Mlp};
    use rand::{rngs::StdRng, Rng, SeedableRng};

    const P: usize = 40;
    const D: usize = 3;

    /// `x: 40, z: 3`, encoder 40-9-6 (tanh), decoder 3-5 (relu)-40, random weights.
    fn networks(encoder: &[usize], decoder: &[usize]) -> HostNetworks {
        let architecture = Architecture {
            encoder: Mlp {
                hidden: encoder.to_vec(),
                activation: Activation::Tanh,
            },
            decoder: Mlp {
                hidden: decoder.to_vec(),
                activation: Activation::Relu,
            },
        };
        let mut rng = StdRng::seed_from_u64(3);
        let mut params = Vec::new();
        let mut layer = |inputs: usize, outputs: usize, params: &mut Vec<NamedTensor>| {
            for shape in [vec![outputs, inputs], vec![outputs]] {
                let len = shape.iter().product();
                params.push(NamedTensor {
                    name: format!("t{}", params.len()),
                    shape,
                    trainable: true,
                    values: (0..len).map(|_| rng.gen_range(-0.5..0.5)).collect(),
                });
            }
        };
        let mut width = P;
        for &h in encoder {
            layer(width, h, &mut params);
            width = h;
        }
        layer(width, D, &mut params);
        layer(width, D, &mut params);
        width = D;
        for &h in decoder {
            layer(width, h, &mut params);
            width = h;
        }
        layer(width, P, &mut params);
        let plan = Plan::new(&architecture, &params, P, D, P).unwrap();
        HostNetworks::from_plan(plan, params)
    }

    /// `y = u Wᵀ + b` in f64, from the tensors.
    fn dense_f64(net: &HostNetworks, layer: &Dense, u: &[f64]) -> Vec<f64> {
        let (w, b) = (
            &net.params[layer.weight].values,
            &net.params[layer.bias].values,
        );
        u.chunks(layer.inputs)
            .flat_map(|row| {
                (0..layer.outputs).map(move |o| {
                    let terms = row.iter().enumerate();
                    let dot: f64 = terms
                        .map(|(k, &v)| v * f64::from(w[o * layer.inputs + k]))
                        .sum();
                    dot + f64::from(b[o])
                })
            })
            .collect()
    }

    /// The encoder and decoder of the plan, in f64.
    fn reference(net: &HostNetworks, x: &[f32], z: &[f32]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut h: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        for layer in &net.plan.trunk {
            h = dense_f64(net, layer, &h)
                .into_iter()
                .map(f64::tanh)
                .collect();
        }
        let mean = dense_f64(net, &net.plan.mean, &h);
        let log_variance = dense_f64(net, &net.plan.log_variance, &h);
        let mut u: Vec<f64> = z.iter().map(|&v| f64::from(v)).collect();
        let (hidden, output) = net.plan.decoder.split_at(net.plan.decoder.len() - 1);
        for layer in hidden {
            u = dense_f64(net, layer, &u)
                .into_iter()
                .map(|a| a.max(0.0))
                .collect();
        }
        (mean, log_variance, dense_f64(net, &output[0], &u))
    }

    fn assert_close(got: &[f32], want: &[f64], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(g) - w).abs() <= 1e-5 * w.abs().max(1.0),
                "{what}[{k}]: {g} vs {w}"
            );
        }
    }

    /// `n` rows of `P` values, each non-zero with probability `density` (values in ±2).
    fn rows(n: usize, density: f64, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n * P)
            .map(|_| {
                let on = rng.gen_bool(density);
                if on {
                    rng.gen_range(-2.0..2.0)
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn encoder_and_decoder_compute_the_networks_on_dense_and_sparse_rows() {
        for (encoder, decoder) in [(&[9, 6][..], &[5][..]), (&[][..], &[][..])] {
            let net = networks(encoder, decoder);
            for density in [1.0, 0.1] {
                let x = rows(7, density, 11);
                let z: Vec<f32> = rows(7, 1.0, 12)[..7 * D].to_vec();
                let (mean, log_variance) = net.encode(&x);
                let raw = net.decode(&z);
                let (want_m, want_v, want_raw) = reference(&net, &x, &z);
                assert_close(&mean, &want_m, "mean");
                assert_close(&log_variance, &want_v, "log-variance");
                assert_close(&raw, &want_raw, "raw");
            }
        }
    }

    #[test]
    fn the_first_layer_from_the_observed_part_equals_the_whole_product() {
        let net = networks(&[9, 6], &[5]);
        let n = 6;
        let mut rng = StdRng::seed_from_u64(5);
        // Row r misses each coordinate with probability r / 10 (row 0 misses nothing).
        let flags: Vec<bool> = (0..n * P)
            .map(|k| rng.gen_bool((k / P) as f64 / 10.0))
            .collect();
        let full = rows(n, 0.3, 21);
        let zeroed: Vec<f32> = full
            .iter()
            .zip(&flags)
            .map(|(&v, &m)| if m { 0.0 } else { v })
            .collect();
        let part = ObservedPart::new(&net, &zeroed, RowCoordinates::from_flags(&flags, P)).unwrap();
        let (want_m, want_v, _) = reference(&net, &full, &[]);
        for (first, count) in [(0, n), (2, 3)] {
            let mut ws = Workspace::default();
            let x = &full[first * P..(first + count) * P];
            net.encode_into(x, count, Some(part.rows(first, count)), &mut ws);
            let range = first * D..(first + count) * D;
            assert_close(&ws.mean, &want_m[range.clone()], "mean");
            assert_close(&ws.log_variance, &want_v[range], "log-variance");
        }
    }

    #[test]
    fn a_dense_completion_falls_back_to_the_whole_product() {
        let net = networks(&[9], &[]);
        let n = 4;
        let flags = vec![true; n * P];
        let full = rows(n, 1.0, 8);
        let part = ObservedPart::new(
            &net,
            &vec![0.0; n * P],
            RowCoordinates::from_flags(&flags, P),
        )
        .unwrap();
        let mut ws = Workspace::default();
        net.encode_into(&full, n, Some(part.rows(0, n)), &mut ws);
        assert!(ws.picked.len() > n * P / 4, "the dense case is tested");
        let (want_m, _, _) = reference(&net, &full, &[]);
        assert_close(&ws.mean, &want_m, "mean");
    }

    #[test]
    fn without_hidden_layers_there_is_no_observed_part() {
        let net = networks(&[], &[]);
        let flags = vec![false; P];
        assert!(
            ObservedPart::new(&net, &[1.0; P], RowCoordinates::from_flags(&flags, P)).is_none()
        );
    }

    #[test]
    fn row_coordinates_list_the_set_flags_of_each_row() {
        let flags = [true, false, true, false, false, false, false, true, true];
        let rows = RowCoordinates::from_flags(&flags, 3);
        assert_eq!(
            [rows.row(0), rows.row(1), rows.row(2)],
            [&[0, 2][..], &[][..], &[1, 2][..]]
        );
    }
}
