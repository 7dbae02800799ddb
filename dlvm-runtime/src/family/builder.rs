//! How DSL family arguments become a family value.
//!
//! For `Gaussian(mlp(..), xi = 0.01, unconstrained)` the macro generates
//! [`build_family`]`(<Gaussian as OutputFamily>::Builder::default().xi(0.01).unconstrained())`:
//! each `name = value` argument is a builder method taking the value, each bare `flag` a method
//! without arguments. A family whose builder is incomplete simply does not implement
//! [`FamilyBuilder`] in that state, so a missing argument is a compile error at the user's token.

use super::{FamilyError, OutputFamily};
use std::marker::PhantomData;

/// A complete family specification that can be turned into the family value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a complete output-family specification",
    label = "missing a required family argument",
    note = "see the family's `Builder` documentation for its arguments"
)]
pub trait FamilyBuilder {
    /// The family being built.
    type Family: OutputFamily;
    /// Validates the arguments and builds the family.
    ///
    /// # Errors
    /// A [`FamilyError`] naming the argument when a value is out of range (e.g. `xi <= 0`).
    fn build(self) -> Result<Self::Family, FamilyError>;
}

/// Builds the family `F` from a builder whose family is `F`: what the `dlvm!` macro calls.
///
/// The single bound `B: FamilyBuilder<Family = F>` makes an incomplete builder (e.g. a `Gaussian`
/// without a variance floor) one compile error at the user's family token, where calling
/// [`FamilyBuilder::build`] directly gives a second one for its return type. (`F` needs no bound
/// of its own: [`FamilyBuilder::Family`] is an [`OutputFamily`], and a second bound would repeat
/// the error of a type that is not a family.)
///
/// # Errors
/// The builder's [`FamilyError`] when an argument is out of range (e.g. `xi <= 0`).
pub fn build_family<F, B>(builder: B) -> Result<F, FamilyError>
where
    B: FamilyBuilder<Family = F>,
{
    builder.build()
}

/// The builder of a family that takes no DSL arguments: builds `F::default()`.
#[derive(Debug, Clone, Copy)]
pub struct NoArguments<F>(PhantomData<F>);

impl<F> Default for NoArguments<F> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<F: OutputFamily + Default> FamilyBuilder for NoArguments<F> {
    type Family = F;
    fn build(self) -> Result<F, FamilyError> {
        Ok(F::default())
    }
}
