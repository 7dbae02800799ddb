//! Rules on the observed family that the tokens alone decide: a variance floor written as a number
//! must be positive, and the class count of `Categorical<N>` written as a number must be in
//! `2..=256`. Each mistake is one error at its token; the family is then expanded with a stand-in
//! (floor `1e-3`, the nearest valid class count) so that rustc adds no cascade. A floor or class
//! count given as an expression is left to the run-time check and to the type system.

use crate::ctxt::Ctxt;
use syn::{Expr, ExprLit, GenericArgument, Lit, LitFloat, LitInt, Path, PathArguments, UnOp};

/// The class counts a `Categorical` output accepts (the runtime's `ValidClassCount`).
const CLASS_COUNTS: std::ops::RangeInclusive<u64> = 2..=256;

/// The floor expanded in place of an invalid literal one (its error is reported).
const STAND_IN_FLOOR: &str = "1e-3";

/// Whether a (latin-spelled) family argument is the variance floor.
pub fn is_floor(name: &syn::Ident) -> bool {
    name == "xi"
}

/// A variance floor written as a number must be a finite positive `f32`: `xi = -1.0`, `xi = 0`
/// and `xi = 0.0` are errors at the number. Other expressions are checked when the model is built.
pub fn check_floor(value: &Expr, cx: &mut Ctxt) {
    if literal_number(value).is_some_and(|v| !valid_floor(v)) {
        let written = quote::quote!(#value).to_string().replace("- ", "-");
        cx.error_at(
            value,
            format!(
                "the variance floor xi must be a positive number, e.g. xi = {STAND_IN_FLOOR}; \
                 got `{written}`"
            ),
        );
    }
}

/// The floor to expand: the user's expression, or the stand-in `1e-3` in place of a literal that
/// [`check_floor`] rejects.
pub fn repaired_floor(value: &Expr) -> Expr {
    if literal_number(value).is_some_and(|v| !valid_floor(v)) {
        let span = syn::spanned::Spanned::span(value);
        Expr::Lit(ExprLit {
            attrs: Vec::new(),
            lit: Lit::Float(LitFloat::new(STAND_IN_FLOOR, span)),
        })
    } else {
        value.clone()
    }
}

/// A floor is used as an `f32`: it must be finite and positive there (`1e-50` rounds to 0).
fn valid_floor(value: f64) -> bool {
    let single = value as f32;
    single.is_finite() && single > 0.0
}

/// The value of a numeric literal, possibly negated or parenthesised: `-1.0`, `(0)`, `1e-3`.
fn literal_number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Float(f), ..
        }) => f.base10_parse().ok(),
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse().ok(),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => literal_number(&u.expr).map(|v| -v),
        Expr::Paren(p) => literal_number(&p.expr),
        Expr::Group(g) => literal_number(&g.expr),
        _ => None,
    }
}

/// `Categorical<N>` with a literal `N` outside `2..=256` is an error at `N`.
pub fn check_class_count(family: &Path, cx: &mut Ctxt) {
    let Some(count) = class_count_literal(family) else {
        return;
    };
    let parsed = count.base10_parse::<u64>().ok();
    if !parsed.is_some_and(|n| CLASS_COUNTS.contains(&n)) {
        let written = count.base10_digits();
        cx.error_at(
            count,
            format!(
                "a categorical output needs 2 to 256 classes, got {written}: write the number of \
                 classes C, as in `Categorical<4>(...)`; its data are the class indices 0, 1, ..., C - 1"
            ),
        );
    }
}

/// The family to expand: the user's path, with a literal class count of `Categorical` outside
/// `2..=256` replaced by the nearest valid one (whose error [`check_class_count`] reports).
pub fn repaired_family(family: &Path) -> Path {
    let mut repaired = family.clone();
    if let Some(count) = class_count_literal(family) {
        let (min, max) = (*CLASS_COUNTS.start(), *CLASS_COUNTS.end());
        let n = count
            .base10_parse::<u64>()
            .map_or(max, |n| n.clamp(min, max));
        let count = LitInt::new(&n.to_string(), count.span());
        if let Some(last) = repaired.segments.last_mut() {
            last.arguments = PathArguments::AngleBracketed(syn::parse_quote!(<#count>));
        }
    }
    repaired
}

/// The `N` of a path ending in `Categorical<N>` when `N` is an integer literal.
fn class_count_literal(family: &Path) -> Option<&LitInt> {
    let last = family.segments.last()?;
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match (
        last.ident == "Categorical",
        args.args.len(),
        args.args.first(),
    ) {
        (
            true,
            1,
            Some(GenericArgument::Const(Expr::Lit(ExprLit {
                lit: Lit::Int(n), ..
            }))),
        ) => Some(n),
        _ => None,
    }
}
