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
    let observed = data.as_slice().iter().zip(mask.missing()).enumerate();
    for (index, (&value, _)) in observed.filter(|(_, (_, &missing))| !missing) {
        let (row, column) = (index / p, index % p);
        let source_name = data.name().to_string();
        if !value.is_finite() {
            return Err(DataError::ObservedNonFinite {
                source_name,
                row,
                column,
                value,
            }
            .into());
        }
        if !family.in_support(value) {
            return Err(DataError::OutOfSupport {
                source_name,
                row,
                column,
                value,
                family: F::NAME.to_string(),
                support: family.support_description().to_string(),
            }
            .into());
        }
    }
    Ok(())
}
