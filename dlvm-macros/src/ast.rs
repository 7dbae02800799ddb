//! The syntax tree of a `dlvm!` invocation. It keeps the user's tokens (for spans); no logic.

use proc_macro2::Span;
use syn::{punctuated::Punctuated, Attribute, Expr, Ident, LitInt, Path, Token, Visibility};

/// Everything inside `dlvm! { ... }`: one or more models.
pub struct Input {
    pub models: Vec<Model>,
}

/// `ATTRS VIS model NAME { STATEMENT* }`
pub struct Model {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub statements: Vec<Statement>,
}

/// One `...;` line of a model.
pub enum Statement {
    Latent(Latent),
    Observed(Observed),
    Encoder(Encoder),
}

/// `latent NAME: DIM ~ PRIOR;` (the prior may be missing; validation reports it).
pub struct Latent {
    pub keyword: Span,
    pub name: Ident,
    pub dim: Dim,
    pub prior: Option<Prior>,
}

/// `Normal(MEAN, COV)`, kept as written so that validation can point at a wrong part.
pub struct Prior {
    pub name: Ident,
    pub args: Punctuated<Expr, Token![,]>,
}

/// `observed NAME: DIM ~ FAMILY(NET, ARGS...);`
pub struct Observed {
    pub keyword: Span,
    pub name: Ident,
    pub dim: Dim,
    pub family: Path,
    pub net: Net,
    pub args: Vec<FamilyArg>,
}

/// A family argument: `name = value` or a bare `flag`.
pub struct FamilyArg {
    pub name: Ident,
    pub value: Option<Expr>,
}

/// `encoder q(LATENT | OBSERVED) = NET;`
pub struct Encoder {
    pub keyword: Span,
    pub name: Ident,
    pub target: Ident,
    pub given: Ident,
    pub net: Net,
}

/// `mlp(INPUT; H1, H2, ...; ACTIVATION)` or `linear(INPUT)`.
pub struct Net {
    pub input: Ident,
    pub hidden: Vec<Dim>,
    pub activation: Option<Ident>,
}

/// A dimension: an integer literal or the path of a `const`.
#[derive(Clone)]
pub enum Dim {
    Lit(LitInt),
    Const(Path),
}
