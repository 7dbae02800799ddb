//! Worker threads for data-parallel work (training shards, IWAE point groups, imputation
//! chains): each worker runs inside its own one-thread rayon pool, so dfdx's matrix products,
//! which size themselves by `rayon::current_num_threads()`, stay on the worker's core instead
//! of spreading over cores that the other workers already use.

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A fixed set of worker threads, each with a one-thread rayon pool.
pub struct Workers {
    pools: Vec<rayon::ThreadPool>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("threads", &self.pools.len())
            .finish()
    }
}

impl Workers {
    /// `threads` workers (at least one).
    ///
    /// # Errors
    /// A message when the operating system refuses a thread.
    pub fn new(threads: usize) -> Result<Self, String> {
        let pools = (0..threads.max(1))
            .map(|w| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .thread_name(move |_| format!("dlvm-worker-{w}"))
                    .build()
                    .map_err(|e| format!("cannot start worker thread {w}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { pools })
    }

    /// The number of workers.
    pub fn threads(&self) -> usize {
        self.pools.len()
    }

    /// `f` applied to every item, the items handed out one at a time to whichever worker is
    /// free (the calling thread drives the first worker); results in the items' order.
    ///
    /// # Panics
    /// When `f` panics on a worker (the panic is propagated).
    pub fn map<T, R, F>(&self, items: Vec<T>, f: F) -> Vec<R>
    where
        T: Send,
        R: Send,
        F: Fn(T) -> R + Sync,
    {
        let count = items.len();
        let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
        let results: Vec<Mutex<Option<R>>> = (0..count).map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let drain = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = slots.get(i) else { break };
            let item = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(item) = item {
                let value = f(item);
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
            }
        };
        let used = self.pools.len().min(count).max(1);
        run_on_pools(&self.pools[..used], &drain);
        results
            .into_iter()
            .map(|r| {
                r.into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .expect("every item was processed")
            })
            .collect()
    }
}

/// Runs `drain` once on each pool's thread, all at once; the first pool's call runs on the
/// calling thread (through `install`), the others as tasks of nested in-place scopes, so no
/// operating-system thread is started per call. Returns when every call has returned.
///
/// # Panics
/// When `drain` panics on any pool (rayon's scopes propagate the panic).
fn run_on_pools(pools: &[rayon::ThreadPool], drain: &(impl Fn() + Sync)) {
    match pools {
        [] => {}
        [first] => first.install(drain),
        [rest @ .., last] => last.in_place_scope(|scope| {
            scope.spawn(|_| drain());
            run_on_pools(rest, drain);
        }),
    }
}

/// Contiguous `(start, end)` ranges of `n` rows over at most `parts` shards, sizes differing by
/// at most one; no empty shard (one empty range when `n = 0`).
pub fn row_shards(n: usize, parts: usize) -> Vec<(usize, usize)> {
    let shards = parts.min(n).max(1);
    let (base, extra) = (n / shards, n % shards);
    let mut start = 0;
    (0..shards)
        .map(|w| {
            let end = start + base + usize::from(w < extra);
            let range = (start, end);
            start = end;
            range
        })
        .collect()
}

/// Random stream `stream` of `seed` (ChaCha12): streams of one seed are independent, so work
/// that gives each point or chain its own stream draws the same numbers however it is shared
/// between workers. Stream 0 is `StdRng::seed_from_u64(seed)`'s.
pub fn stream_rng(seed: u64, stream: u64) -> ChaCha12Rng {
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// The default worker count: the machine's available parallelism (1 when unknown).
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_order_and_uses_single_thread_pools() {
        let workers = Workers::new(3).unwrap();
        let out = workers.map((0..50).collect(), |i: usize| {
            (i * i, rayon::current_num_threads())
        });
        assert_eq!(
            out.iter().map(|o| o.0).collect::<Vec<_>>(),
            (0..50).map(|i| i * i).collect::<Vec<_>>()
        );
        assert!(out.iter().all(|o| o.1 == 1));
        assert!(workers.map(Vec::<usize>::new(), |i| i).is_empty());
    }

    #[test]
    fn shards_cover_every_row_once_with_balanced_sizes() {
        for n in 1..40 {
            for parts in 1..6 {
                let bounds = row_shards(n, parts);
                assert_eq!(bounds.first().map(|b| b.0), Some(0));
                assert_eq!(bounds.last().map(|b| b.1), Some(n));
                assert!(bounds.windows(2).all(|w| w[0].1 == w[1].0));
                let sizes: Vec<usize> = bounds.iter().map(|(a, b)| b - a).collect();
                assert!(sizes.iter().all(|&s| s >= 1));
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1, "{n} rows over {parts}: {sizes:?}");
                assert_eq!(bounds.len(), parts.min(n));
            }
        }
        assert_eq!(row_shards(0, 3), vec![(0, 0)]);
    }

    #[test]
    fn map_runs_items_at_once_on_several_threads() {
        let workers = Workers::new(2).unwrap();
        let barrier = std::sync::Barrier::new(2);
        // Two items that each wait for the other: finishes only if they run concurrently.
        let out = workers.map(vec![1, 2], |i: i32| {
            barrier.wait();
            i
        });
        assert_eq!(out, vec![1, 2]);
    }
}
