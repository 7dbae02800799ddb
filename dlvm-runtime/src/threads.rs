//! How many CPU threads the dfdx CPU device uses for its matrix products.
//!
//! dfdx's CPU kernels run their matrix products on rayon's global thread pool. For the small
//! matrices of a VAE minibatch (100 x 784 x 200), waking a second thread costs more than it saves
//! on a 2-core machine: training the MNIST VAE at batch 100 takes 3.6 s per epoch on one thread
//! and 4.3 s on two (`docs/performance.md`). Programs choose with [`use_threads`] before any
//! other work.

use crate::error::{DlvmError, Result};

/// Sizes rayon's global pool, and so the CPU device's matrix products, to `threads` threads.
/// Call it once, at the start of a program, before anything has used the pool.
///
/// ```
/// dlvm_runtime::threads::use_threads(1).unwrap();
/// assert_eq!(rayon::current_num_threads(), 1);
/// ```
///
/// # Errors
/// [`DlvmError::Config`] naming `threads` when it is 0, or when the pool was already started
/// (call it earlier, or leave the pool at its default size: all cores).
pub fn use_threads(threads: usize) -> Result<()> {
    if threads == 0 {
        return Err(config("must be at least 1".into()));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| {
            config(format!(
                "cannot size the thread pool ({e}); call `use_threads` before any other work"
            ))
        })
}

fn config(reason: String) -> DlvmError {
    DlvmError::Config {
        parameter: "threads",
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_threads_is_a_config_error_naming_threads() {
        let err = use_threads(0).unwrap_err();
        assert!(
            matches!(
                err,
                DlvmError::Config {
                    parameter: "threads",
                    ..
                }
            ),
            "{err}"
        );
    }
}
