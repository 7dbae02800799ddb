//! Validation: the syntax tree becomes a checked model; one function per rule, each error at the
//! smallest wrong token, all errors collected.

mod family;

use crate::ast::{self, Dim, Net, Statement};
use crate::ctxt::Ctxt;
use proc_macro2::Span;
use syn::{Attribute, Expr, Ident, Path, Visibility};

/// A model that passed every check; expansion cannot fail on it.
pub struct CheckedModel {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub latent: Variable,
    pub observed: Variable,
    pub family: Path,
    pub family_args: Vec<(Ident, Option<Expr>)>,
    pub encoder: Network,
    pub decoder: Network,
}

/// A declared variable: its name and dimension.
pub struct Variable {
    pub dim: Dim,
}

/// A checked network: hidden widths and the activation between layers.
pub struct Network {
    pub hidden: Vec<Dim>,
    pub activation: Option<Activation>,
}

/// The activations the DSL knows.
#[derive(Clone, Copy)]
pub enum Activation {
    Tanh(Span),
    Relu(Span),
    Sigmoid(Span),
    Softplus(Span),
}

const ACTIVATIONS: &str = "`tanh`, `relu`, `sigmoid`, `softplus`";

/// The outcome of checking one model.
pub struct Checked {
    /// The model, repaired where a mistake has an obvious stand-in (an unknown activation becomes
    /// `tanh`, a bad dimension becomes 1, a literal floor `xi <= 0` becomes `1e-3`, a literal
    /// class count outside `2..=256` the nearest valid one), so that it can still be expanded and
    /// code that uses it reports no cascade of errors. `None` when a statement is missing.
    pub model: Option<CheckedModel>,
    /// Every error found; expansion of a repaired model must be emitted together with them.
    pub errors: Result<(), syn::Error>,
}

/// Checks one model, collecting every error.
pub fn check(model: &ast::Model) -> Checked {
    let mut cx = Ctxt::default();
    let parts = Parts::collect(model, &mut cx);
    check_unique_names(model, &mut cx);
    for statement in &model.statements {
        check_statement(statement, &parts, &mut cx);
    }
    let model = parts.into_checked(model, &mut cx);
    Checked {
        model,
        errors: cx.finish(),
    }
}

/// Checks that no two models of one `dlvm!` invocation share a name; returns the indices of the
/// models to expand (the first of each name).
pub fn unique_models(models: &[ast::Model], cx: &mut Ctxt) -> Vec<usize> {
    let mut keep: Vec<usize> = Vec::new();
    for (i, model) in models.iter().enumerate() {
        if keep.iter().any(|&k| models[k].name == model.name) {
            cx.error_at(
                &model.name,
                format!(
                    "a model named `{}` is already declared in this `dlvm!`",
                    model.name
                ),
            );
        } else {
            keep.push(i);
        }
    }
    keep
}

/// The three statements a model needs, each found exactly once.
struct Parts<'a> {
    latent: Option<&'a ast::Latent>,
    observed: Option<&'a ast::Observed>,
    encoder: Option<&'a ast::Encoder>,
}

impl<'a> Parts<'a> {
    fn collect(model: &'a ast::Model, cx: &mut Ctxt) -> Self {
        let mut parts = Parts {
            latent: None,
            observed: None,
            encoder: None,
        };
        for statement in &model.statements {
            match statement {
                Statement::Latent(l) => set_once(&mut parts.latent, l, l.keyword, "latent", cx),
                Statement::Observed(o) => {
                    set_once(&mut parts.observed, o, o.keyword, "observed", cx)
                }
                Statement::Encoder(e) => set_once(&mut parts.encoder, e, e.keyword, "encoder", cx),
            }
        }
        require(
            parts.latent.is_some(),
            model,
            "a `latent` variable, e.g. `latent z: 50 ~ Normal(0, I);`",
            cx,
        );
        require(
            parts.observed.is_some(),
            model,
            "an `observed` variable, e.g. `observed x: 784 ~ Bernoulli(mlp(z; 200; tanh));`",
            cx,
        );
        require(
            parts.encoder.is_some(),
            model,
            "an encoder, e.g. `encoder q(z | x) = mlp(x; 200; tanh);`",
            cx,
        );
        parts
    }

    fn latent_name(&self) -> Option<&'a Ident> {
        self.latent.map(|l| &l.name)
    }

    fn observed_name(&self) -> Option<&'a Ident> {
        self.observed.map(|o| &o.name)
    }

    fn into_checked(self, model: &ast::Model, cx: &mut Ctxt) -> Option<CheckedModel> {
        let (latent, observed, encoder) = (self.latent?, self.observed?, self.encoder?);
        Some(CheckedModel {
            attrs: model.attrs.clone(),
            vis: model.vis.clone(),
            name: model.name.clone(),
            latent: Variable {
                dim: repaired_dim(&latent.dim),
            },
            observed: Variable {
                dim: repaired_dim(&observed.dim),
            },
            family: family::repaired_family(&observed.family),
            family_args: family_args(&observed.args, cx),
            encoder: network(&encoder.net, cx),
            decoder: network(&observed.net, cx),
        })
    }
}

fn set_once<'a, T>(
    slot: &mut Option<&'a T>,
    item: &'a T,
    keyword: Span,
    what: &str,
    cx: &mut Ctxt,
) {
    if slot.is_some() {
        cx.error_span(
            keyword,
            format!("a model has exactly one `{what}` statement; this is a second one"),
        );
    } else {
        *slot = Some(item);
    }
}

fn require(present: bool, model: &ast::Model, what: &str, cx: &mut Ctxt) {
    if !present {
        cx.error_at(&model.name, format!("model `{}` needs {what}", model.name));
    }
}

fn check_unique_names(model: &ast::Model, cx: &mut Ctxt) {
    let mut seen: Vec<&Ident> = Vec::new();
    for statement in &model.statements {
        let name = match statement {
            Statement::Latent(l) => &l.name,
            Statement::Observed(o) => &o.name,
            Statement::Encoder(e) => &e.name,
        };
        if seen.contains(&name) {
            cx.error_at(
                name,
                format!("the name `{name}` is declared twice in this model"),
            );
        } else {
            seen.push(name);
        }
    }
}

fn check_statement(statement: &Statement, parts: &Parts, cx: &mut Ctxt) {
    match statement {
        Statement::Latent(l) => {
            check_dim(&l.dim, "latent dimension", cx);
            check_prior(l, cx);
        }
        Statement::Observed(o) => {
            check_dim(&o.dim, "observed dimension", cx);
            family::check_class_count(&o.family, cx);
            check_floors(&o.args, cx);
            check_net(&o.net, parts.latent_name(), "the decoder", "latent", cx);
        }
        Statement::Encoder(e) => {
            check_encoder_variables(e, parts, cx);
            check_net(&e.net, parts.observed_name(), "the encoder", "observed", cx);
        }
    }
}

fn check_dim(dim: &Dim, what: &str, cx: &mut Ctxt) {
    let Dim::Lit(lit) = dim else { return };
    if !matches!(lit.suffix(), "" | "usize") {
        let digits = lit.base10_digits();
        cx.error_at(
            lit,
            format!("the {what} is a plain integer such as `{digits}`, not `{lit}`"),
        );
    } else if lit.base10_parse::<usize>().map_or(true, |n| n == 0) {
        cx.error_at(
            lit,
            format!("the {what} must be a positive integer, got `{lit}`"),
        );
    }
}

/// The dimension to expand: an unsuffixed positive literal, or 1 in place of an invalid one
/// (whose error [`check_dim`] reports), or the const path as written.
fn repaired_dim(dim: &Dim) -> Dim {
    match dim {
        Dim::Lit(lit) => {
            let n = lit
                .base10_parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .unwrap_or(1);
            Dim::Lit(syn::LitInt::new(&n.to_string(), lit.span()))
        }
        Dim::Const(path) => Dim::Const(path.clone()),
    }
}

fn check_prior(latent: &ast::Latent, cx: &mut Ctxt) {
    let name = &latent.name;
    let Some(prior) = &latent.prior else {
        cx.error_at(
            name,
            format!("latent `{name}` needs a prior: write `latent {name}: D ~ Normal(0, I);`"),
        );
        return;
    };
    let args: Vec<String> = prior
        .args
        .iter()
        .map(|a| quote::quote!(#a).to_string())
        .collect();
    if prior.name != "Normal" {
        cx.error_at(
            &prior.name,
            format!(
                "unknown prior `{}`: the supported prior is `Normal(0, I)`",
                prior.name
            ),
        );
    } else if args != ["0", "I"] {
        cx.error_at(
            &prior.name,
            "the supported prior is the standard normal, written `Normal(0, I)`",
        );
    }
}

fn check_encoder_variables(encoder: &ast::Encoder, parts: &Parts, cx: &mut Ctxt) {
    if let Some(latent) = parts.latent_name() {
        if encoder.target != *latent {
            cx.error_at(
                &encoder.target,
                format!(
                    "the encoder must model the latent variable: write `{}({latent} | ...)`",
                    encoder.name
                ),
            );
        }
    }
    if let Some(observed) = parts.observed_name() {
        if encoder.given != *observed {
            cx.error_at(&encoder.given, format!("the encoder must be conditioned on the observed variable: write `{}(... | {observed})`", encoder.name));
        }
    }
}

fn check_net(net: &Net, expected: Option<&Ident>, what: &str, kind: &str, cx: &mut Ctxt) {
    if let Some(expected) = expected {
        if net.input != *expected {
            cx.error_at(
                &net.input,
                format!(
                    "{what} takes the {kind} variable `{expected}` as input, not `{}`",
                    net.input
                ),
            );
        }
    }
    for width in &net.hidden {
        check_dim(width, "hidden-layer width", cx);
    }
    if let Some(act) = &net.activation {
        if activation(act).is_none() {
            cx.error_at(
                act,
                format!("unknown activation `{act}`; expected one of {ACTIVATIONS}"),
            );
        }
    }
}

fn activation(name: &Ident) -> Option<Activation> {
    let span = name.span();
    match name.to_string().as_str() {
        "tanh" => Some(Activation::Tanh(span)),
        "relu" => Some(Activation::Relu(span)),
        "sigmoid" => Some(Activation::Sigmoid(span)),
        "softplus" => Some(Activation::Softplus(span)),
        _ => None,
    }
}

fn network(net: &Net, _cx: &mut Ctxt) -> Network {
    Network {
        hidden: net.hidden.iter().map(repaired_dim).collect(),
        activation: net.activation.as_ref().and_then(activation),
    }
}

/// Every variance floor written as a number must be positive (one error per argument).
fn check_floors(args: &[ast::FamilyArg], cx: &mut Ctxt) {
    for arg in args {
        if let (true, Some(value)) = (family::is_floor(&latin_name(&arg.name)), &arg.value) {
            family::check_floor(value, cx);
        }
    }
}

fn family_args(args: &[ast::FamilyArg], cx: &mut Ctxt) -> Vec<(Ident, Option<Expr>)> {
    let mut out: Vec<(Ident, Option<Expr>)> = Vec::new();
    for arg in args {
        let name = latin_name(&arg.name);
        if out.iter().any(|(seen, _)| *seen == name) {
            cx.error_at(
                &arg.name,
                format!("the family argument `{name}` is given twice"),
            );
            continue;
        }
        let value = match &arg.value {
            Some(value) if family::is_floor(&name) => Some(family::repaired_floor(value)),
            value => value.clone(),
        };
        out.push((name, value));
    }
    out
}

/// Greek-letter argument names are spelled out: `ξ = 0.01` means `xi = 0.01`.
fn latin_name(name: &Ident) -> Ident {
    const GREEK: [(&str, &str); 20] = [
        ("α", "alpha"),
        ("β", "beta"),
        ("γ", "gamma"),
        ("δ", "delta"),
        ("ε", "epsilon"),
        ("η", "eta"),
        ("θ", "theta"),
        ("κ", "kappa"),
        ("λ", "lambda"),
        ("μ", "mu"),
        ("ν", "nu"),
        ("ξ", "xi"),
        ("π", "pi"),
        ("ρ", "rho"),
        ("σ", "sigma"),
        ("τ", "tau"),
        ("φ", "phi"),
        ("χ", "chi"),
        ("ψ", "psi"),
        ("ω", "omega"),
    ];
    let text = name.to_string();
    GREEK
        .iter()
        .find(|(greek, _)| *greek == text)
        .map_or_else(|| name.clone(), |(_, latin)| Ident::new(latin, name.span()))
}
