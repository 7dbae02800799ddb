//! The checks of an imputation's input: only the entries that the mask marks observed must be
//! finite and inside the family's support; the missing ones are ignored (they may be NaN, or any
//! placeholder, even one outside the support).

use super::mask::Mask;
use crate::data::{DataError, Dataset};
use crate::error::Result;
use crate::family::OutputFamily;

/// Checks `data` for imputation with `family` on `p` coordinates under `mask` (whose shape is
/// already known to be the data's).
///
/// # Errors
/// [`DataError::Width`] when the data do not have `p` columns;
/// [`DataError::ObservedNonFinite`] for the first observed entry (row-major) that is NaN or
/// infinite; [`DataError::OutOfSupport`] for the first observed entry outside the support.
pub(crate) fn check_observed<F: OutputFamily>(
    family: &F,
    data: &Dataset,
    mask: &Mask,
    p: usize,
) -> Result<()> {
    data.check_width(p)?;
    let ok = |v: f32| v.is_finite() && family.in_support(v);
    let Some((index, &value)) = data
        .as_slice()
        .iter()
        .zip(mask.missing())
        .enumerate()
        .find(|(_, (&v, &missing))| !missing && !ok(v))
        .map(|(index, (value, _))| (index, value))
    else {
        return Ok(());
    };
    let (row, column, source_name) = (index / p, index % p, data.name().to_string());
    let error = if value.is_finite() {
        DataError::OutOfSupport {
            source_name,
            row,
            column,
            value,
            family: F::NAME.to_string(),
            support: family.support_description().to_string(),
        }
    } else {
        DataError::ObservedNonFinite {
            source_name,
            row,
            column,
            value,
        }
    };
    Err(error.into())
}
