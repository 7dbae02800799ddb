//! The forward pass of a dense layer without a tape on the CPU: `y = x Wᵀ + b` as one matrix
//! product that accumulates into rows pre-filled with the bias (dfdx's `Linear` zero-fills the
//! product's output, runs the product, then adds the broadcast bias in a second pass).

use super::host::with_values;
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
    let b = bias.as_vec();
    let mut out = Vec::with_capacity(n * O);
    for _ in 0..n {
        out.extend_from_slice(&b);
    }
    with_values(x, Some(weight), |xs, ws| {
        product_into(&mut out, xs, ws, n, I, O)
    });
    x.device().tensor_from_vec(out, (n, Const::<O>))
}

/// `out (n × o, row-major) += xs (n × i, row-major) · wsᵀ (ws: o × i, row-major)`.
fn product_into(out: &mut [f32], xs: &[f32], ws: &[f32], n: usize, i: usize, o: usize) {
    assert!(out.len() == n * o && xs.len() == n * i && ws.len() == o * i);
    if n == 0 || o == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let (i_stride, o_stride) = (i as isize, o as isize);
    // SAFETY: the lengths are checked above, so every index the strides reach is in bounds:
    // dst (r, c) at r·o + c < n·o, lhs (r, k) at r·i + k < n·i, rhs (k, c) = W[c, k] at
    // c·i + k < o·i; `out` does not alias the operands (it is a distinct `&mut`).
    unsafe {
        gemm::gemm(
            n,
            o,
            i,
            out.as_mut_ptr(),
            1,
            o_stride,
            true,
            xs.as_ptr(),
            1,
            i_stride,
            ws.as_ptr(),
            i_stride,
            1,
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
}
