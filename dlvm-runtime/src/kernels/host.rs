//! Host copies of kernel operands: per-thread buffers reused from call to call (large operands
//! would otherwise be fresh allocations, paid for in page faults).

use dfdx::prelude::*;

thread_local! {
    static OPERANDS: std::cell::RefCell<[Vec<f32>; 2]> = const { std::cell::RefCell::new([Vec::new(), Vec::new()]) };
}

/// Runs `f` on the values of `a` and `b` (contiguous CPU tensors) in memory order; `b`'s slice
/// is empty when `b` is `None`.
pub(super) fn with_values<SA: Shape, SB: Shape, R>(
    a: &Tensor<SA, f32, Cpu>,
    b: Option<&Tensor<SB, f32, Cpu>>,
    f: impl FnOnce(&[f32], &[f32]) -> R,
) -> R {
    OPERANDS.with(|cell| {
        let mut buffers = cell.borrow_mut();
        let [first, second] = &mut *buffers;
        first.resize(a.shape().num_elements(), 0.0);
        a.copy_into(first);
        second.clear();
        if let Some(b) = b {
            second.resize(b.shape().num_elements(), 0.0);
            b.copy_into(second);
        }
        f(first, second)
    })
}
