//! A dense layer on the CPU: the forward pass `y = x Wᵀ + b` as one matrix product that
//! accumulates into rows pre-filled with the bias (dfdx's `Linear` zero-fills the product's
//! output, runs the product, then adds the broadcast bias in a second pass), and the three
//! gradients of the backward pass, each accumulated in place into its gradient buffer.

use super::host::with_values;
use super::sparse::SparseRows;
use dfdx::prelude::*;

/// `x Wᵀ + b` for `x` of shape `(n, I)`, `W` of shape `(O, I)`, `b` of length `O`, all on the
/// CPU and contiguous.
///
/// # Formula
/// `y_ij = b_j + Σ_k x_ik W_jk`
pub(super) fn forward<const I: usize, const O: usize>(
    x: &Tensor<(usize, Const<I>), f32, Cpu>,
    weight: &Tensor<Rank2<O, I>, f32, Cpu>,
    bias: &Tensor<Rank1<O>, f32, Cpu>,
) -> Tensor<(usize, Const<O>), f32, Cpu> {
    let n = x.shape().0;
    let b = crate::batch::to_host(bias.clone());
    let out = with_values(x, Some(weight), |xs, ws| {
        forward_values(xs, ws, &b, n, I, O)
    });
    x.device().tensor_from_vec(out, (n, Const::<O>))
}

/// `y = xs · wsᵀ + b` on host values: `n` rows pre-filled with the bias, then the product
/// ([`layer_product_into`]).
pub(super) fn forward_values(
    xs: &[f32],
    ws: &[f32],
    bias: &[f32],
    n: usize,
    i: usize,
    o: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * o);
    forward_into(&mut out, xs, ws, bias, n, i);
    out
}

/// [`forward_values`] into `out` (its allocation reused): `out` becomes the `n × o` rows of
/// `xs · wsᵀ + bias`, `o = bias.len()`.
pub(crate) fn forward_into(
    out: &mut Vec<f32>,
    xs: &[f32],
    ws: &[f32],
    bias: &[f32],
    n: usize,
    i: usize,
) {
    fill_rows(out, bias, n);
    layer_product_into(out, xs, ws, n, i, bias.len());
}

/// [`forward_into`] by a dense product whatever the input: for callers that know `xs` is
/// dense (hidden activations), so that nothing counts its zeros.
pub(crate) fn dense_forward_into(
    out: &mut Vec<f32>,
    xs: &[f32],
    ws: &[f32],
    bias: &[f32],
    n: usize,
    i: usize,
) {
    fill_rows(out, bias, n);
    product_into(out, xs, ws, n, i, bias.len());
}

/// `out` becomes `n` copies of the row `bias` (its allocation reused): what every layer's
/// product accumulates into.
fn fill_rows(out: &mut Vec<f32>, bias: &[f32], n: usize) {
    out.clear();
    for _ in 0..n {
        out.extend_from_slice(bias);
    }
}

/// [`transposed_forward_into`] that, when at most a quarter of `xs` is non-zero, adds only the
/// rows of `wt` its non-zero entries pick (compressing `xs` into `sparse`); returns whether it
/// did.
pub(crate) fn transposed_forward_skipping_zeros_into(
    out: &mut Vec<f32>,
    xs: &[f32],
    wt: &[f32],
    bias: &[f32],
    n: usize,
    i: usize,
    sparse: &mut SparseRows,
) -> bool {
    if !sparse.compress(xs, i) {
        transposed_forward_into(out, xs, wt, bias, n, i);
        return false;
    }
    fill_rows(out, bias, n);
    sparse.product_transposed_into(out, wt, bias.len());
    true
}

/// `out (n × o) += xs · wsᵀ`, skipping the zeros of a sparse `xs` (see `sparse.rs`).
fn layer_product_into(out: &mut [f32], xs: &[f32], ws: &[f32], n: usize, i: usize, o: usize) {
    match SparseRows::of_sparse(xs, i) {
        Some(rows) => rows.product_into(out, ws, o),
        None => product_into(out, xs, ws, n, i, o),
    }
}

/// `out (n × o, row-major) += xs (n × i, row-major) · wsᵀ (ws: o × i, row-major)`.
pub(super) fn product_into(out: &mut [f32], xs: &[f32], ws: &[f32], n: usize, i: usize, o: usize) {
    assert!(out.len() == n * o && xs.len() == n * i && ws.len() == o * i);
    // dst (r, c) at r·o + c; lhs (r, k) = xs at r·i + k; rhs (k, c) = W[c, k] at c·i + k.
    let dst = Strided::row_major(out, o);
    let lhs = Operand::new(xs, 1, i);
    let rhs = Operand::new(ws, i, 1);
    accumulate_product(dst, lhs, rhs, n, o, i);
}

/// `out = xs · wt + bias` for a layer whose weight is held transposed, `wt = Wᵀ` (`i × o`,
/// row-major; `o = bias.len()`): `out` becomes `n × o`, its allocation reused.
///
/// # Formula
/// `y_rj = b_j + Σ_k x_rk Wᵀ_kj`
pub(crate) fn transposed_forward_into(
    out: &mut Vec<f32>,
    xs: &[f32],
    wt: &[f32],
    bias: &[f32],
    n: usize,
    i: usize,
) {
    let o = bias.len();
    assert!(xs.len() == n * i && wt.len() == i * o);
    fill_rows(out, bias, n);
    // dst (r, c) at r·o + c; lhs (r, k) = xs at r·i + k; rhs (k, c) = wt at k·o + c.
    let dst = Strided::row_major(out, o);
    accumulate_product(dst, Operand::new(xs, 1, i), Operand::new(wt, 1, o), n, o, i);
}

/// The rows `inputs` of the gradient of a weight held transposed (`Wᵀ`, `i × o`):
/// `gwt (|inputs| × o) += xs[·, inputs]ᵀ · gy` (or `=`), `xs` being `n × i` and `gy` `n × o`.
///
/// # Formula
/// `∂L/∂Wᵀ_kj += Σ_r x_rk (∂L/∂y_rj)` for `k ∈ inputs`
#[allow(clippy::too_many_arguments)]
pub(crate) fn transposed_weight_gradient_rows_into(
    gwt: &mut [f32],
    xs: &[f32],
    gy: &[f32],
    n: usize,
    i: usize,
    o: usize,
    inputs: std::ops::Range<usize>,
    destination: Destination,
) {
    let rows = inputs.len();
    assert!(inputs.end <= i && gwt.len() == rows * o && gy.len() == n * o && xs.len() == n * i);
    // dst (k, c) at k·o + c; lhs (k, r) = xs at r·i + inputs.start + k; rhs (r, c) = gy at r·o + c.
    let dst = Strided::row_major(gwt, o).to(destination);
    let lhs = Operand::new(&xs[inputs.start.min(xs.len())..], i, 1);
    accumulate_product(dst, lhs, Operand::new(gy, 1, o), rows, o, n);
}

/// Whether a product adds to its destination or replaces it (no zero-fill and no read of the
/// old values needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Destination {
    Add,
    Overwrite,
}

/// The weight gradient of `y = x Wᵀ + b`: `gw (o × i) += gyᵀ · xs` (or `=` with
/// [`Destination::Overwrite`]).
///
/// # Formula
/// `∂L/∂W_jk += Σ_r (∂L/∂y_rj) x_rk`
#[allow(clippy::too_many_arguments)]
pub(crate) fn weight_gradient_into(
    gw: &mut [f32],
    gy: &[f32],
    xs: &[f32],
    n: usize,
    i: usize,
    o: usize,
    destination: Destination,
) {
    weight_gradient_rows_into(gw, gy, xs, n, i, o, 0..o, destination);
}

/// The rows `units` of the weight gradient of `y = x Wᵀ + b` (`gy`: `n × o`, `xs`: `n × i`):
/// `gw (|units| × i) += gy[·, units]ᵀ · xs` (or `=`), so that threads can share a layer's
/// gradient by its output units.
///
/// # Formula
/// `∂L/∂W_jk += Σ_r (∂L/∂y_rj) x_rk` for `j ∈ units`
#[allow(clippy::too_many_arguments)]
pub(crate) fn weight_gradient_rows_into(
    gw: &mut [f32],
    gy: &[f32],
    xs: &[f32],
    n: usize,
    i: usize,
    o: usize,
    units: std::ops::Range<usize>,
    destination: Destination,
) {
    let rows = units.len();
    assert!(units.end <= o && gw.len() == rows * i && gy.len() == n * o && xs.len() == n * i);
    // dst (j, k) at j·i + k; lhs (j, r) = gy at r·o + units.start + j; rhs (r, k) = xs at r·i + k.
    let dst = Strided::row_major(gw, i).to(destination);
    let lhs = Operand::new(&gy[units.start.min(gy.len())..], o, 1);
    let rhs = Operand::new(xs, 1, i);
    accumulate_product(dst, lhs, rhs, rows, i, n);
}

/// The input gradient of `y = x Wᵀ + b`: `gx (n × i) += gy · ws` (or `=`).
///
/// # Formula
/// `∂L/∂x_rk += Σ_j (∂L/∂y_rj) W_jk`
#[allow(clippy::too_many_arguments)]
pub(crate) fn input_gradient_into(
    gx: &mut [f32],
    gy: &[f32],
    ws: &[f32],
    n: usize,
    i: usize,
    o: usize,
    destination: Destination,
) {
    assert!(gx.len() == n * i && gy.len() == n * o && ws.len() == o * i);
    // dst (r, k) at r·i + k; lhs (r, j) = gy at r·o + j; rhs (j, k) = W at j·i + k.
    let dst = Strided::row_major(gx, i).to(destination);
    let lhs = Operand::new(gy, 1, o);
    let rhs = Operand::new(ws, 1, i);
    accumulate_product(dst, lhs, rhs, n, i, o);
}

/// The bias gradient of `y = x Wᵀ + b`: `gb (o) += Σ_r gy[r, ·]` (or `=`).
pub(crate) fn bias_gradient_into(gb: &mut [f32], gy: &[f32], destination: Destination) {
    let o = gb.len();
    bias_gradient_rows_into(gb, gy, o, 0..o, destination);
}

/// The entries `units` of the bias gradient (`gy`: rows of `o`): `gb (|units|) += Σ_r
/// gy[r, units]` (or `=`).
pub(crate) fn bias_gradient_rows_into(
    gb: &mut [f32],
    gy: &[f32],
    o: usize,
    units: std::ops::Range<usize>,
    destination: Destination,
) {
    assert!(units.end <= o && gb.len() == units.len());
    if destination == Destination::Overwrite {
        gb.fill(0.0);
    }
    if o == 0 {
        return;
    }
    for row in gy.chunks_exact(o) {
        for (g, &v) in gb.iter_mut().zip(&row[units.clone()]) {
            *g += v;
        }
    }
}

/// A row-major destination matrix.
struct Strided<'a> {
    values: &'a mut [f32],
    row_stride: usize,
    destination: Destination,
}

impl<'a> Strided<'a> {
    /// Added to.
    fn row_major(values: &'a mut [f32], cols: usize) -> Self {
        Self {
            values,
            row_stride: cols,
            destination: Destination::Add,
        }
    }

    fn to(self, destination: Destination) -> Self {
        Self {
            destination,
            ..self
        }
    }
}

/// A read-only operand with its column and row strides (in elements).
struct Operand<'a> {
    values: &'a [f32],
    col_stride: usize,
    row_stride: usize,
}

impl<'a> Operand<'a> {
    fn new(values: &'a [f32], col_stride: usize, row_stride: usize) -> Self {
        Self {
            values,
            col_stride,
            row_stride,
        }
    }

    /// The largest index an `rows × cols` view reaches, plus one (0 for an empty view).
    fn extent(&self, rows: usize, cols: usize) -> usize {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * self.row_stride + (cols - 1) * self.col_stride + 1
        }
    }
}

/// `dst (m × n) += lhs (m × k) · rhs (k × n)` by the `gemm` crate, on as many threads as the
/// current rayon pool has (one inside the library's workers).
///
/// # Panics
/// When a view reaches past its slice.
fn accumulate_product(dst: Strided, lhs: Operand, rhs: Operand, m: usize, n: usize, k: usize) {
    if m == 0 || n == 0 {
        return;
    }
    let dst_extent = (m - 1) * dst.row_stride + n;
    assert!(dst.values.len() >= dst_extent, "destination too short");
    assert!(
        lhs.values.len() >= lhs.extent(m, k),
        "left operand too short"
    );
    assert!(
        rhs.values.len() >= rhs.extent(k, n),
        "right operand too short"
    );
    let keep = dst.destination == Destination::Add;
    if k == 0 {
        if !keep {
            for row in dst.values[..dst_extent].chunks_mut(dst.row_stride) {
                let width = n.min(row.len());
                row[..width].fill(0.0);
            }
        }
        return;
    }
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above check that every index each view reaches is inside its slice
    // (row-major destination of m × n; operands by their extents); `dst` is a distinct `&mut`,
    // so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.values.as_mut_ptr(),
            1,
            dst.row_stride as isize,
            keep,
            lhs.values.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.values.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_product_matches_a_direct_sum() {
        let (n, i, o) = (5, 7, 3);
        let xs: Vec<f32> = (0..n * i).map(|k| (k as f32 * 0.37).sin()).collect();
        let ws: Vec<f32> = (0..o * i).map(|k| (k as f32 * 0.91).cos()).collect();
        let mut out: Vec<f32> = (0..n * o).map(|k| k as f32).collect();
        product_into(&mut out, &xs, &ws, n, i, o);
        for r in 0..n {
            for c in 0..o {
                let want =
                    (r * o + c) as f32 + (0..i).map(|k| xs[r * i + k] * ws[c * i + k]).sum::<f32>();
                assert!((out[r * o + c] - want).abs() < 1e-5, "({r}, {c})");
            }
        }
    }

    /// `(n, i, o)` operands with distinct values: `xs` (n × i), `ws` (o × i), `gy` (n × o).
    fn operands(n: usize, i: usize, o: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let xs = (0..n * i).map(|k| (k as f32 * 0.37).sin()).collect();
        let ws = (0..o * i).map(|k| (k as f32 * 0.91).cos()).collect();
        let gy = (0..n * o).map(|k| (k as f32 * 0.53).sin() + 0.2).collect();
        (xs, ws, gy)
    }

    #[test]
    fn the_gradients_match_direct_sums_and_accumulate() {
        let (n, i, o) = (6, 5, 4);
        let (xs, ws, gy) = operands(n, i, o);
        let mut gw: Vec<f32> = vec![1.0; o * i];
        weight_gradient_into(&mut gw, &gy, &xs, n, i, o, Destination::Add);
        for j in 0..o {
            for k in 0..i {
                let want = 1.0 + (0..n).map(|r| gy[r * o + j] * xs[r * i + k]).sum::<f32>();
                assert!((gw[j * i + k] - want).abs() < 1e-5, "W ({j}, {k})");
            }
        }
        let mut gx: Vec<f32> = vec![-2.0; n * i];
        input_gradient_into(&mut gx, &gy, &ws, n, i, o, Destination::Add);
        for r in 0..n {
            for k in 0..i {
                let want = -2.0 + (0..o).map(|j| gy[r * o + j] * ws[j * i + k]).sum::<f32>();
                assert!((gx[r * i + k] - want).abs() < 1e-5, "x ({r}, {k})");
            }
        }
        let mut gb = vec![0.5; o];
        bias_gradient_into(&mut gb, &gy, Destination::Add);
        for j in 0..o {
            let want = 0.5 + (0..n).map(|r| gy[r * o + j]).sum::<f32>();
            assert!((gb[j] - want).abs() < 1e-5, "b {j}");
        }
    }

    #[test]
    fn overwriting_gradients_ignore_the_old_values() {
        let (n, i, o) = (6, 5, 4);
        let (xs, ws, gy) = operands(n, i, o);
        let (mut added, mut written) = (vec![0.0; o * i], vec![f32::NAN; o * i]);
        weight_gradient_into(&mut added, &gy, &xs, n, i, o, Destination::Add);
        weight_gradient_into(&mut written, &gy, &xs, n, i, o, Destination::Overwrite);
        assert_eq!(added, written);
        let (mut added, mut written) = (vec![0.0; n * i], vec![f32::NAN; n * i]);
        input_gradient_into(&mut added, &gy, &ws, n, i, o, Destination::Add);
        input_gradient_into(&mut written, &gy, &ws, n, i, o, Destination::Overwrite);
        assert_eq!(added, written);
        let (mut added, mut written) = (vec![0.0; o], vec![f32::NAN; o]);
        bias_gradient_into(&mut added, &gy, Destination::Add);
        bias_gradient_into(&mut written, &gy, Destination::Overwrite);
        assert_eq!(added, written);
        // No rows: an overwritten gradient is zero.
        let mut empty = vec![f32::NAN; o * i];
        weight_gradient_into(&mut empty, &[], &[], 0, i, o, Destination::Overwrite);
        assert_eq!(empty, vec![0.0; o * i]);
    }

    #[test]
    fn the_products_of_a_transposed_weight_match_direct_sums() {
        let (n, i, o) = (5, 9, 4);
        let (xs, ws, gy) = operands(n, i, o);
        let mut wt = vec![0.0; i * o];
        for j in 0..o {
            for k in 0..i {
                wt[k * o + j] = ws[j * i + k];
            }
        }
        let bias: Vec<f32> = (0..o).map(|j| j as f32 - 1.5).collect();
        let mut y = vec![9.0; 3];
        transposed_forward_into(&mut y, &xs, &wt, &bias, n, i);
        for r in 0..n {
            for j in 0..o {
                let want = bias[j] + (0..i).map(|k| xs[r * i + k] * ws[j * i + k]).sum::<f32>();
                assert!((y[r * o + j] - want).abs() < 1e-5, "y ({r}, {j})");
            }
        }
        let inputs = 2..7;
        let mut gwt = vec![0.25; inputs.len() * o];
        transposed_weight_gradient_rows_into(
            &mut gwt,
            &xs,
            &gy,
            n,
            i,
            o,
            inputs.clone(),
            Destination::Add,
        );
        for (a, k) in inputs.clone().enumerate() {
            for j in 0..o {
                let want = 0.25 + (0..n).map(|r| xs[r * i + k] * gy[r * o + j]).sum::<f32>();
                assert!((gwt[a * o + j] - want).abs() < 1e-5, "gwt ({k}, {j})");
            }
        }
        let mut fresh = vec![f32::NAN; inputs.len() * o];
        transposed_weight_gradient_rows_into(
            &mut fresh,
            &xs,
            &gy,
            n,
            i,
            o,
            inputs,
            Destination::Overwrite,
        );
        for (f, g) in fresh.iter().zip(&gwt) {
            assert!((f + 0.25 - g).abs() < 1e-5);
        }
    }

    #[test]
    fn empty_batches_change_nothing() {
        let (_, ws, _) = operands(0, 3, 2);
        let mut gw = vec![7.0; 6];
        weight_gradient_into(&mut gw, &[], &[], 0, 3, 2, Destination::Add);
        assert_eq!(gw, vec![7.0; 6]);
        let mut out: Vec<f32> = Vec::new();
        product_into(&mut out, &[], &ws, 0, 3, 2);
        assert!(out.is_empty());
    }
}
