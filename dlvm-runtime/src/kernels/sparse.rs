//! The forward pass of a dense layer on a sparse input. Binarized images are mostly zeros (about
//! 13% of binarized MNIST's pixels are on), so the product `x Wᵀ` of the layer that reads them
//! needs only the non-zero entries of `x`: `y_r = b + Σ_{k: x_rk ≠ 0} x_rk W[·, k]`, a sum of
//! columns of `W`, which are rows of `Wᵀ`: the same sums as the dense product, in another order.
//! The transpose of `W` is paid once per call, so the sparse product is used for batches of at
//! least [`MIN_ROWS`] rows (the samplers' calls; training shards stay dense, as does the
//! backward pass, where the transposes cost more than the zeros save).

use super::slices::multiversion;

/// The fraction of non-zero entries at or below which the sparse product is used. At 25% the
/// sparse forward pass (a transpose of `W` plus `nnz · o` multiply-adds, each about three times
/// the cost of one of the dense product's) costs under the dense product's `n · i · o`.
pub(super) const MAX_DENSITY: f32 = 0.25;

/// The fewest rows for which the sparse product is used: below, the transpose of `W` (about
/// `i · o` moves) is not paid back.
pub(super) const MIN_ROWS: usize = 128;

/// The non-zero entries of a row-major `n × width` matrix, row by row (compressed rows).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SparseRows {
    /// Row `r`'s entries are `columns[starts[r]..starts[r + 1]]`, `values[..]` alike.
    starts: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<f32>,
    width: usize,
}

impl SparseRows {
    /// The non-zero entries of `xs` (`n × width`, row-major) when `n ≥ MIN_ROWS` and at most
    /// `MAX_DENSITY` of them are non-zero; `None` otherwise, where the dense product is faster.
    pub(super) fn of_sparse(xs: &[f32], width: usize) -> Option<Self> {
        if width == 0 || xs.len() < MIN_ROWS * width || width > u32::MAX as usize {
            return None;
        }
        let nonzero = xs.iter().filter(|&&v| v != 0.0).count();
        if nonzero as f32 > MAX_DENSITY * xs.len() as f32 {
            return None;
        }
        let mut rows = Self {
            starts: Vec::with_capacity(xs.len() / width + 1),
            columns: Vec::with_capacity(nonzero),
            values: Vec::with_capacity(nonzero),
            width,
        };
        compress_rows(
            xs,
            width,
            &mut rows.starts,
            &mut rows.columns,
            &mut rows.values,
        );
        Some(rows)
    }

    /// Compresses `xs` (`n × width`, row-major) into `self`, reusing its buffers, when at most
    /// `MAX_DENSITY` of its entries are non-zero (any number of rows: for callers that hold
    /// the transposed weights already, see [`product_transposed_into`](Self::product_transposed_into));
    /// `false` (and `self` unspecified) otherwise.
    pub(crate) fn compress(&mut self, xs: &[f32], width: usize) -> bool {
        if width == 0 || !xs.len().is_multiple_of(width) || width > u32::MAX as usize {
            return false;
        }
        let nonzero = xs.iter().filter(|&&v| v != 0.0).count();
        if nonzero as f32 > MAX_DENSITY * xs.len() as f32 {
            return false;
        }
        self.width = width;
        self.starts.clear();
        self.columns.clear();
        self.values.clear();
        compress_rows(
            xs,
            width,
            &mut self.starts,
            &mut self.columns,
            &mut self.values,
        );
        true
    }

    /// `out (n × o) += x · Wᵀ` for `W` given as its transpose `wt` (`width × o`, row-major):
    /// each row adds the rows of `Wᵀ` that its non-zero entries pick.
    ///
    /// # Formula
    /// `out[r, ·] += Σ_{k: x_rk ≠ 0} x_rk Wᵀ[k, ·]`
    pub(crate) fn product_transposed_into(&self, out: &mut [f32], wt: &[f32], o: usize) {
        assert!(out.len() == self.rows() * o && wt.len() == self.width * o);
        if o == 0 {
            return;
        }
        for (r, row) in out.chunks_exact_mut(o).enumerate() {
            let entries = self.starts[r]..self.starts[r + 1];
            let picked = Picked {
                indices: &self.columns[entries.clone()],
                values: &self.values[entries],
                table: wt,
                stride: o,
            };
            add_picked_rows(row, &[picked]);
        }
    }

    /// The number of rows.
    pub(super) fn rows(&self) -> usize {
        self.starts.len() - 1
    }

    /// `out (n × o) += x · wsᵀ` for `ws` of shape `o × width`, row-major.
    ///
    /// # Formula
    /// `out_r += Σ_{k: x_rk ≠ 0} x_rk Wᵀ[k, ·]`
    pub(super) fn product_into(&self, out: &mut [f32], ws: &[f32], o: usize) {
        assert!(out.len() == self.rows() * o && ws.len() == o * self.width);
        if o == 0 {
            return;
        }
        with_scratch(ws.len(), |wt| {
            transpose_into(wt, ws, o, self.width);
            let (starts, columns, values) = (&self.starts[..], &self.columns[..], &self.values[..]);
            add_selected_rows(out, wt, starts, columns, values, o);
        });
    }
}

multiversion! {
    /// Appends the non-zero entries of `xs` (rows of `width` values) to `columns` and `values`
    /// row by row, with each row's end in `starts` (which starts with 0). Eight entries at a
    /// time: a bit mask of the non-zero ones, then one step per set bit, so runs of zeros
    /// cost one comparison per eight entries and no branch.
    fn compress_rows(
        xs: &[f32],
        width: usize,
        starts: &mut Vec<usize>,
        columns: &mut Vec<u32>,
        values: &mut Vec<f32>
    ) {
        starts.push(0);
        for row in xs.chunks_exact(width) {
            for (c, chunk) in row.chunks(8).enumerate() {
                let mut mask = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |m, (b, &v)| m | (u32::from(v != 0.0) << b));
                while mask != 0 {
                    let b = mask.trailing_zeros() as usize;
                    mask &= mask - 1;
                    columns.push((c * 8 + b) as u32);
                    values.push(chunk[b]);
                }
            }
            starts.push(columns.len());
        }
    }
}

multiversion! {
    /// `out[r, ·] += Σ_e values[e] · table[columns[e], ·]` over row `r`'s entries
    /// `e ∈ starts[r]..starts[r + 1]` (rows of width `o`).
    fn add_selected_rows(
        out: &mut [f32],
        table: &[f32],
        starts: &[usize],
        columns: &[u32],
        values: &[f32],
        o: usize
    ) {
        for (r, out_row) in out.chunks_exact_mut(o).enumerate() {
            for e in starts[r]..starts[r + 1] {
                let k = columns[e] as usize;
                axpy(out_row, values[e], &table[k * o..(k + 1) * o]);
            }
        }
    }
}

multiversion! {
    /// `out += Σ_s Σ_e values_s[e] · table_s[indices_s[e], ..out.len()]` over the `sources`
    /// (each `table_s`: rows of `stride_s ≥ out.len()` values). `out` is done in tiles of
    /// columns whose sums stay in registers over all the entries of all the sources, so `out`
    /// is loaded and stored once per tile rather than once per entry; within a tile each sum
    /// adds the entries in their order, as two partial sums (even and odd entries of each
    /// source) added at the end.
    fn add_picked_rows(out: &mut [f32], sources: &[Picked]) {
        let width = out.len();
        let mut c = 0;
        while c + 64 <= width {
            add_tile::<64>(out, c, sources);
            c += 64;
        }
        for tile in [32, 16, 8] {
            if c + tile <= width {
                match tile {
                    32 => add_tile::<32>(out, c, sources),
                    16 => add_tile::<16>(out, c, sources),
                    _ => add_tile::<8>(out, c, sources),
                }
                c += tile;
            }
        }
        while c < width {
            add_tile::<1>(out, c, sources);
            c += 1;
        }
    }
}

/// Entries `(indices[e], values[e])` and the table whose rows they pick (rows of `stride`
/// values).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Picked<'a> {
    pub indices: &'a [u32],
    pub values: &'a [f32],
    pub table: &'a [f32],
    pub stride: usize,
}

/// `out[c..c + T] += Σ_s Σ_e values_s[e] · table_s[indices_s[e], c..c + T]`.
#[inline(always)]
fn add_tile<const T: usize>(out: &mut [f32], c: usize, sources: &[Picked]) {
    let (mut even, mut odd) = ([0.0f32; T], [0.0f32; T]);
    even.copy_from_slice(&out[c..c + T]);
    for source in sources {
        let row = |e: usize| -> &[f32; T] {
            let start = source.indices[e] as usize * source.stride + c;
            source.table[start..start + T]
                .try_into()
                .expect("a tile of T values")
        };
        for p in 0..source.indices.len() / 2 {
            let (a, b) = (2 * p, 2 * p + 1);
            let (va, vb) = (source.values[a], source.values[b]);
            let (ra, rb) = (row(a), row(b));
            for j in 0..T {
                even[j] += va * ra[j];
                odd[j] += vb * rb[j];
            }
        }
        if source.indices.len() % 2 == 1 {
            let last = source.indices.len() - 1;
            let (v, r) = (source.values[last], row(last));
            for (s, &t) in even.iter_mut().zip(r) {
                *s += v * t;
            }
        }
    }
    for ((o, &e), &d) in out[c..c + T].iter_mut().zip(&even).zip(&odd) {
        *o = e + d;
    }
}

/// The non-zero entries of a matrix column by column (compressed columns), made from its
/// compressed rows: column `k`'s entries are `rows[starts[k]..starts[k + 1]]` (row indices,
/// increasing) and `values[..]` alike.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SparseColumns {
    starts: Vec<usize>,
    rows: Vec<u32>,
    values: Vec<f32>,
    /// Where the next entry of each column goes while sorting.
    next: Vec<usize>,
}

impl SparseColumns {
    /// The columns of `rows` (a counting sort of its entries by column), reusing the buffers.
    pub(crate) fn transpose_from(&mut self, rows: &SparseRows) {
        let width = rows.width;
        self.starts.clear();
        self.starts.resize(width + 1, 0);
        for &k in &rows.columns {
            self.starts[k as usize + 1] += 1;
        }
        for k in 0..width {
            self.starts[k + 1] += self.starts[k];
        }
        let nonzero = rows.columns.len();
        self.rows.clear();
        self.rows.resize(nonzero, 0);
        self.values.clear();
        self.values.resize(nonzero, 0.0);
        self.next.clone_from(&self.starts);
        for r in 0..rows.rows() {
            for e in rows.starts[r]..rows.starts[r + 1] {
                let k = rows.columns[e] as usize;
                let slot = self.next[k];
                self.rows[slot] = r as u32;
                self.values[slot] = rows.values[e];
                self.next[k] += 1;
            }
        }
    }

    /// The entries of column `k`, picking rows of `g` (`n × o`, row-major).
    fn column<'a>(&'a self, k: usize, g: &'a [f32], o: usize) -> Picked<'a> {
        let entries = self.starts[k]..self.starts[k + 1];
        Picked {
            indices: &self.rows[entries.clone()],
            values: &self.values[entries],
            table: g,
            stride: o,
        }
    }

    /// The number of columns.
    fn width(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }
}

/// `out (|columns| × o) += Σ_s x_sᵀ[columns, ·] · g_s` over the `parts` `(x_s, g_s)`, each
/// `x_s` compressed by columns and `g_s` its rows' `n_s × o` values (row-major): the rows
/// `columns` of `xᵀ g` for the matrices stacked row-wise.
///
/// # Formula
/// `out[k, ·] += Σ_s Σ_{r: x_s,rk ≠ 0} x_s,rk g_s[r, ·]` for `k ∈ columns`
pub(crate) fn transposed_products_into(
    out: &mut [f32],
    parts: &[(&SparseColumns, &[f32])],
    o: usize,
    columns: std::ops::Range<usize>,
) {
    assert!(out.len() == columns.len() * o);
    assert!(parts.iter().all(|(x, _)| columns.end <= x.width()));
    if o == 0 {
        return;
    }
    let mut sources = Vec::with_capacity(parts.len());
    for (k, row) in columns.zip(out.chunks_exact_mut(o)) {
        sources.clear();
        sources.extend(parts.iter().map(|(x, g)| x.column(k, g, o)));
        add_picked_rows(row, &sources);
    }
}

/// `y += a x`, element-wise.
#[inline(always)]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Side of the square tiles the transposes walk in (a tile of each matrix stays in cache).
const TILE: usize = 16;

thread_local! {
    /// Per-thread scratch for transposed matrices, reused from call to call (fresh
    /// multi-hundred-kilobyte buffers would be paid for in page faults).
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on a per-thread scratch buffer of `len` values (contents unspecified).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut buffer = cell.take();
        buffer.resize(len, 0.0);
        let result = f(&mut buffer[..len]);
        cell.replace(buffer);
        result
    })
}

/// `dst = srcᵀ` for `src` of shape `rows × cols`, both row-major (`dst`: `cols × rows`).
pub(crate) fn transpose_into(dst: &mut [f32], src: &[f32], rows: usize, cols: usize) {
    assert!(src.len() == rows * cols && dst.len() == rows * cols);
    for_each_tile(rows, cols, src, |r, c0, segment| {
        for (v, c) in segment.iter().zip(c0..) {
            dst[c * rows + r] = *v;
        }
    });
}

/// Walks `src` (`rows × cols`, row-major) in `TILE × TILE` tiles, calling
/// `f(r, c0, src[r, c0..c1])` for each row segment of a tile (so that the transposed writes
/// of a tile stay within `TILE` cache lines).
fn for_each_tile(rows: usize, cols: usize, src: &[f32], mut f: impl FnMut(usize, usize, &[f32])) {
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            let c1 = (c0 + TILE).min(cols);
            for r in r0..(r0 + TILE).min(rows) {
                f(r, c0, &src[r * cols + c0..r * cols + c1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `n × i` matrix with about one entry in `every` non-zero, and an `o × i` weight.
    fn operands(n: usize, i: usize, o: usize, every: usize) -> (Vec<f32>, Vec<f32>) {
        let xs = (0..n * i)
            .map(|k| {
                if (k * 7 + 3) % every == 0 {
                    1.0 + (k % 3) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let ws = (0..o * i).map(|k| (k as f32 * 0.91).cos()).collect();
        (xs, ws)
    }

    #[test]
    fn only_sparse_matrices_of_enough_rows_are_compressed() {
        let (dense, _) = operands(MIN_ROWS, 10, 1, 2);
        assert!(
            SparseRows::of_sparse(&dense, 10).is_none(),
            "half the entries"
        );
        let (sparse, _) = operands(MIN_ROWS, 10, 1, 5);
        let rows = SparseRows::of_sparse(&sparse, 10).expect("a fifth of the entries");
        assert_eq!(rows.rows(), MIN_ROWS);
        let nonzero = sparse.iter().filter(|&&v| v != 0.0).count();
        assert_eq!(rows.values.len(), nonzero);
        let few = &sparse[..(MIN_ROWS - 1) * 10];
        assert!(SparseRows::of_sparse(few, 10).is_none(), "too few rows");
        assert!(
            SparseRows::of_sparse(&vec![0.0; MIN_ROWS * 4], 4).is_some(),
            "all zeros"
        );
        assert!(SparseRows::of_sparse(&[], 4).is_none());
    }

    #[test]
    fn the_sparse_product_equals_the_dense_sums() {
        let (n, i, o) = (MIN_ROWS + 3, 45, 37);
        let (xs, ws) = operands(n, i, o, 6);
        let rows = SparseRows::of_sparse(&xs, i).expect("sparse");
        let mut out: Vec<f32> = (0..n * o).map(|k| k as f32 * 0.1).collect();
        rows.product_into(&mut out, &ws, o);
        for r in 0..n {
            for j in 0..o {
                let want = (r * o + j) as f32 * 0.1
                    + (0..i).map(|k| xs[r * i + k] * ws[j * i + k]).sum::<f32>();
                let tolerance = 1e-5 * want.abs().max(1.0);
                assert!((out[r * o + j] - want).abs() < tolerance, "y ({r}, {j})");
            }
        }
    }

    #[test]
    fn the_products_with_the_transpose_equal_the_dense_sums_for_any_row_count() {
        // o = 125 = 64 + 32 + 16 + 8 + 5 exercises every tile width.
        let (n, i, o) = (7, 45, 125);
        let (xs, ws) = operands(n, i, o, 6);
        let mut wt = vec![0.0; o * i];
        transpose_into(&mut wt, &ws, o, i);
        let mut rows = SparseRows::default();
        assert!(rows.compress(&xs, i), "a sixth of the entries");
        let mut out: Vec<f32> = (0..n * o).map(|k| k as f32 * 0.1).collect();
        rows.product_transposed_into(&mut out, &wt, o);
        for r in 0..n {
            for j in 0..o {
                let want = (r * o + j) as f32 * 0.1
                    + (0..i).map(|k| xs[r * i + k] * ws[j * i + k]).sum::<f32>();
                let tolerance = 1e-5 * want.abs().max(1.0);
                assert!((out[r * o + j] - want).abs() < tolerance, "y ({r}, {j})");
            }
        }
        // xᵀ[K, ·] g for the columns K = 3..40 of x, g = n × o.
        let g: Vec<f32> = (0..n * o).map(|k| (k as f32 * 0.53).sin()).collect();
        let mut columns = SparseColumns::default();
        columns.transpose_from(&rows);
        let cols = 3..40;
        let mut gw = vec![0.5; cols.len() * o];
        transposed_products_into(&mut gw, &[(&columns, &g[..])], o, cols.clone());
        for (a, k) in cols.clone().enumerate() {
            for j in 0..o {
                let want = 0.5 + (0..n).map(|r| xs[r * i + k] * g[r * o + j]).sum::<f32>();
                let tolerance = 1e-5 * want.abs().max(1.0);
                assert!((gw[a * o + j] - want).abs() < tolerance, "gw ({k}, {j})");
            }
        }
        // The same from the rows split in two parts (3 and 4 rows), stacked.
        let (mut top, mut bottom) = (SparseRows::default(), SparseRows::default());
        assert!(top.compress(&xs[..3 * i], i) & bottom.compress(&xs[3 * i..], i));
        let (mut top_columns, mut bottom_columns) =
            (SparseColumns::default(), SparseColumns::default());
        top_columns.transpose_from(&top);
        bottom_columns.transpose_from(&bottom);
        let parts = [(&top_columns, &g[..3 * o]), (&bottom_columns, &g[3 * o..])];
        let mut stacked = vec![0.5; cols.len() * o];
        transposed_products_into(&mut stacked, &parts, o, 3..40);
        for (a, b) in stacked.iter().zip(&gw) {
            assert!((a - b).abs() < 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
        let (dense, _) = operands(3, 10, 1, 2);
        assert!(!rows.compress(&dense, 10), "half the entries");
        assert!(rows.compress(&xs, i), "the buffers are reused");
        assert_eq!(rows.rows(), n);
    }

    #[test]
    fn transposes_cover_every_cell_of_uneven_tiles() {
        let (rows, cols) = (33, 70);
        let src: Vec<f32> = (0..rows * cols).map(|k| k as f32).collect();
        let mut t = vec![0.0; rows * cols];
        transpose_into(&mut t, &src, rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(t[c * rows + r], src[r * cols + c]);
            }
        }
    }
}
