//! Independent chains per row ([`ImputeOptions::chains`]): the rows replicated, one chain per
//! copy (each copy has its own random streams), and the copies' results pooled per row.

use super::classes::ClassFrequencies;
use super::mask::Mask;
use super::options::ImputeOptions;
use super::result::Imputation;
use crate::data::Dataset;
use crate::error::Result;

/// Runs `sampler` on `options.chains` copies of the rows of `data` (copy `c` of row `i` is row
/// `c · rows + i`, so the first copy's chains are those of a one-chain run) and pools the copies
/// per row with [`pool`].
///
/// # Errors
/// Invalid `options`, a mask whose shape is not the data's, and whatever `sampler` returns.
pub(crate) fn independent_chains(
    data: &Dataset,
    mask: &Mask,
    options: &ImputeOptions,
    sampler: impl FnOnce(&Dataset, &Mask) -> Result<Imputation>,
) -> Result<Imputation> {
    options.retained()?;
    mask.check_shape(data.rows(), data.cols())?;
    let chains = options.chains;
    if chains == 1 {
        return sampler(data, mask);
    }
    let (rows, cols) = (data.rows(), data.cols());
    let copies = Dataset::from_vec(
        data.name(),
        rows * chains,
        cols,
        data.as_slice().repeat(chains),
    )?;
    let flags = Mask::from_bools(rows * chains, cols, mask.missing().repeat(chains))?;
    Ok(pool(sampler(&copies, &flags)?, chains))
}

/// The run of `chains` copies of `rows` rows, per row: the first copy's draws, last draw,
/// family mean and point, and trace; the last draw of every copy as the multiple imputations;
/// the mean of the copies' draw means, acceptance rates and class frequencies; the sum of
/// their effective sample sizes.
fn pool(run: Imputation, chains: usize) -> Imputation {
    let rows = run.rows / chains;
    let len = rows * run.cols;
    let first = |v: &[f32]| v[..len].to_vec();
    let per_row = |v: &[f64], scale: f64| -> Vec<f64> {
        (0..rows)
            .map(|i| (0..chains).map(|c| v[c * rows + i]).sum::<f64>() * scale)
            .collect()
    };
    let mut draw_mean = vec![0.0f64; len];
    for copy in run.draw_mean.chunks(len) {
        for (sum, &v) in draw_mean.iter_mut().zip(copy) {
            *sum += f64::from(v) / chains as f64;
        }
    }
    let class_frequencies = run.class_frequencies.as_ref().and_then(|f| {
        let entries = f.entries.len() / chains;
        let parts: Vec<ClassFrequencies> = f
            .frequencies
            .chunks((entries * f.classes).max(1))
            .take(chains)
            .map(|frequencies| ClassFrequencies {
                classes: f.classes,
                entries: f.entries[..entries].to_vec(),
                frequencies: frequencies.to_vec(),
            })
            .collect();
        ClassFrequencies::average(&parts)
    });
    Imputation {
        rows,
        cols: run.cols,
        draws: run.draws.iter().map(|d| first(d)).collect(),
        imputations: run.last_draw.chunks(len).map(<[f32]>::to_vec).collect(),
        last_draw: first(&run.last_draw),
        draw_mean: draw_mean.into_iter().map(|v| v as f32).collect(),
        family_mean: first(&run.family_mean),
        family_point: first(&run.family_point),
        class_frequencies,
        acceptance: per_row(&run.acceptance, 1.0 / chains as f64),
        effective_sample_size: per_row(&run.effective_sample_size, 1.0),
        trace: run
            .trace
            .chunks(run.rows)
            .flat_map(|step| step[..rows].to_vec())
            .collect(),
        iterations: run.iterations,
        seconds: run.seconds,
        discrete: run.discrete,
    }
}
