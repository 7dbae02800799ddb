//! The parameter gradients of the fused pass, from the signals of every shard: each layer's
//! output units are cut into one range per thread, and each thread computes the rows of `∂W`
//! and the entries of `∂b` of its units over all shards' rows. Every gradient element is
//! written once, by one thread, and can be used (by Adam) while it is still in that thread's
//! cache; no per-shard copy of the gradient is made or summed.
//!
//! # Formula
//! For layer `l` with units `J`, signal `gy_s = ∂L/∂y` and input `u_s` on shard `s`:
//! `∂W[J, ·] = Σ_s gy_s[·, J]ᵀ u_s`, `∂b[J] = Σ_s Σ_r gy_s[r, J]`.

use super::pass::Workspace;
use crate::architecture::plan::Plan;
use crate::kernels::{
    bias_gradient_rows_into, transposed_products_into, transposed_weight_gradient_rows_into,
    weight_gradient_rows_into,
    Destination::{Add, Overwrite},
    SparseColumns,
};
use std::ops::Range;

/// One shard after its pass: the data it read and its workspace (inputs and signals).
#[derive(Clone, Copy)]
pub(super) struct ShardView<'a> {
    pub x: &'a [f32],
    pub n: usize,
    pub workspace: &'a Workspace,
}

/// Where one thread writes one tensor's part of the gradient, and what it does with the part
/// once written.
pub(super) trait GradientSlot {
    /// The part's elements, to be overwritten.
    fn values(&mut self) -> &mut [f32];
    /// Called once the part is written; returns `(all finite, Σ g²)` of what it did with it.
    fn finish(&mut self) -> (bool, f64);
}

impl GradientSlot for &mut [f32] {
    fn values(&mut self) -> &mut [f32] {
        self
    }

    fn finish(&mut self) -> (bool, f64) {
        (true, 0.0)
    }
}

impl GradientSlot for crate::train::adam::GradientPart<'_> {
    fn values(&mut self) -> &mut [f32] {
        self.gradient
    }

    fn finish(&mut self) -> (bool, f64) {
        self.propose()
    }
}

/// The range of output units of a layer of `outputs` units that part `part` of `parts` owns:
/// `⌊o p / P⌋ .. ⌊o (p + 1) / P⌋` (consecutive, covering every unit once; empty when there are
/// fewer units than parts).
pub(super) fn units(outputs: usize, part: usize, parts: usize) -> Range<usize> {
    (outputs * part / parts)..(outputs * (part + 1) / parts)
}

/// For every tensor, the element offsets at which the parts of [`units`] cut it (`parts + 1`
/// offsets: a weight's rows are its units, a bias's entries are). With `first_transposed`, the
/// encoder's first weight is held as `Wᵀ` (`inputs × outputs`) and cut by its inputs.
pub(super) fn tensor_bounds(
    plan: &Plan,
    tensors: usize,
    parts: usize,
    first_transposed: bool,
) -> Vec<Vec<usize>> {
    let cuts = |count: usize, size: usize| -> Vec<usize> {
        let starts = (0..parts).map(|p| units(count, p, parts).start);
        starts.chain([count]).map(|s| s * size).collect()
    };
    let mut bounds = vec![Vec::new(); tensors];
    for (l, layer) in plan.layers().enumerate() {
        bounds[layer.weight] = if l == 0 && first_transposed {
            cuts(layer.inputs, layer.outputs)
        } else {
            cuts(layer.outputs, layer.inputs)
        };
        bounds[layer.bias] = cuts(layer.outputs, 1);
    }
    bounds
}

/// Part `part` of `parts` of every layer's gradient, over all `shards`, into `slots` (one per
/// tensor, holding that tensor's part); each slot is finished right after it is written.
/// With `first_transposed` the first layer's weight part is rows of `∂Wᵀ` (see
/// [`tensor_bounds`]). Returns the slots' combined `(all finite, Σ g²)`.
pub(super) fn part_gradients<S: GradientSlot>(
    plan: &Plan,
    shards: &[ShardView],
    part: usize,
    parts: usize,
    slots: &mut [S],
    first_transposed: bool,
) -> (bool, f64) {
    let mut result = (true, 0.0);
    for (l, layer) in plan.layers().enumerate() {
        let units = units(layer.outputs, part, parts);
        let (i, o) = (layer.inputs, layer.outputs);
        let (before, after) = slots.split_at_mut(layer.bias);
        let (weight, bias) = (&mut before[layer.weight], &mut after[0]);
        if l == 0 && first_transposed {
            let inputs = self::units(i, part, parts);
            transposed_weight_part(plan, shards, weight.values(), inputs, i, o);
        }
        for (s, shard) in shards.iter().enumerate() {
            let destination = if s == 0 { Overwrite } else { Add };
            let (gy, ws) = (shard.workspace.signal(l), shard.workspace);
            if !(l == 0 && first_transposed) {
                let u = ws.input(plan, shard.x, l);
                let gw = weight.values();
                weight_gradient_rows_into(gw, gy, u, shard.n, i, o, units.clone(), destination);
            }
            bias_gradient_rows_into(bias.values(), gy, o, units.clone(), destination);
        }
        for slot in [weight, bias] {
            let (finite, squares) = slot.finish();
            result = (result.0 & finite, result.1 + squares);
        }
    }
    result
}

/// The rows `inputs` of `∂Wᵀ = Σ_s x_sᵀ gy_s` of the encoder's first layer, over all shards:
/// from the data's non-zero entries by column where the shard's pass kept them (sparse
/// data), else by a dense product.
fn transposed_weight_part(
    plan: &Plan,
    shards: &[ShardView],
    gwt: &mut [f32],
    inputs: Range<usize>,
    i: usize,
    o: usize,
) {
    gwt.fill(0.0);
    let sparse: Vec<(&SparseColumns, &[f32])> = shards
        .iter()
        .filter_map(|s| Some((s.workspace.sparse_columns()?, s.workspace.signal(0))))
        .collect();
    transposed_products_into(gwt, &sparse, o, inputs.clone());
    for shard in shards {
        let (ws, gy) = (shard.workspace, shard.workspace.signal(0));
        if ws.sparse_columns().is_none() {
            let x = ws.input(plan, shard.x, 0);
            let range = inputs.clone();
            transposed_weight_gradient_rows_into(gwt, x, gy, shard.n, i, o, range, Add);
        }
    }
}
