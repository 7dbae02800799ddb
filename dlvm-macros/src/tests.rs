//! Unit tests of the parser and the validator on token streams (no compiler in the loop; the
//! end-to-end messages are pinned by the trybuild suite in `tests/ui`).

use crate::ast::{Dim, Input, Statement};
use crate::valid;
use quote::quote;

fn parse(tokens: proc_macro2::TokenStream) -> syn::Result<Input> {
    syn::parse2(tokens)
}

/// Every message of the validation of the single model in `tokens`.
fn errors_of(tokens: proc_macro2::TokenStream) -> Vec<String> {
    let input = parse(tokens).expect("the input parses");
    match valid::check(&input.models[0]).errors {
        Ok(()) => Vec::new(),
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn the_mnist_model_parses_into_its_three_statements() {
    let input = parse(quote! {
        /// Doc.
        pub model MnistVae {
            latent z: 50 ~ Normal(0, I);
            observed x: 784 ~ Bernoulli(mlp(z; 200, 200; tanh));
            encoder q(z | x) = mlp(x; 200, 200; tanh);
        }
    })
    .unwrap();
    let model = &input.models[0];
    assert_eq!(model.name, "MnistVae");
    assert_eq!(model.attrs.len(), 1);
    let [Statement::Latent(l), Statement::Observed(o), Statement::Encoder(e)] =
        &model.statements[..]
    else {
        panic!("expected latent, observed, encoder");
    };
    assert!(matches!(&l.dim, Dim::Lit(n) if n.base10_digits() == "50"));
    assert_eq!(o.net.hidden.len(), 2);
    assert_eq!(o.net.activation.as_ref().unwrap(), "tanh");
    assert_eq!(
        (e.target.to_string(), e.given.to_string()),
        ("z".into(), "x".into())
    );
    assert!(errors_of(quote! {
        model M {
            latent z: 50 ~ Normal(0, I);
            observed x: 784 ~ Bernoulli(mlp(z; 200, 200; tanh));
            encoder q(z | x) = mlp(x; 200, 200; tanh);
        }
    })
    .is_empty());
}

#[test]
fn family_arguments_keep_names_values_and_flags() {
    let input = parse(quote! {
        model G {
            latent z: 2 ~ Normal(0, I);
            observed x: 3 ~ Gaussian<Isotropic>(linear(z), xi = 0.01, unconstrained);
            encoder q(z | x) = linear(x);
        }
    })
    .unwrap();
    let Statement::Observed(o) = &input.models[0].statements[1] else {
        panic!()
    };
    assert_eq!(o.args.len(), 2);
    assert_eq!(o.args[0].name, "xi");
    assert!(o.args[0].value.is_some() && o.args[1].value.is_none());
    assert!(o.net.hidden.is_empty() && o.net.activation.is_none());
}

#[test]
fn several_models_and_const_dimensions_parse() {
    let input = parse(quote! {
        model A { latent z: D ~ Normal(0, I); observed x: sizes::P ~ Bernoulli(linear(z)); encoder q(z | x) = linear(x); }
        model B { latent z: 1 ~ Normal(0, I); observed x: 1 ~ Bernoulli(linear(z)); encoder q(z | x) = linear(x); }
    })
    .unwrap();
    assert_eq!(input.models.len(), 2);
    let Statement::Observed(o) = &input.models[0].statements[1] else {
        panic!()
    };
    assert!(matches!(&o.dim, Dim::Const(p) if p.segments.len() == 2));
}

#[test]
fn syntax_mistakes_say_what_was_expected() {
    let cases = [
        (quote! {}, "expected a model"),
        (quote! { M { } }, "expected `model`"),
        (
            quote! { model M { prior p: 3; } },
            "expected one of: `latent`, `observed`, `encoder`",
        ),
        (
            quote! { model M { observed x: 4 Bernoulli(linear(z)); } },
            "expected `~`",
        ),
        (
            quote! { model M { observed x: 4 ~ Bernoulli(mlpp(z; 2; tanh)); } },
            "expected `mlp` or `linear`",
        ),
        (
            quote! { model M { latent z: 4.0 ~ Normal(0, I); } },
            "expected integer literal or identifier",
        ),
        (
            quote! { model M { latent z: 4 ~ Normal(0, I) } },
            "expected `;`",
        ),
    ];
    for (tokens, want) in cases {
        let text = tokens.to_string();
        let err = parse(tokens)
            .err()
            .unwrap_or_else(|| panic!("`{text}` must not parse"))
            .to_string();
        assert!(err.contains(want), "`{text}`: got `{err}`, want `{want}`");
    }
}

#[test]
fn the_validator_reports_every_mistake_of_a_model_at_once() {
    let errors = errors_of(quote! {
        model M {
            latent z: 0 ~ Normal(1, I);
            observed x: 4u8 ~ Bernoulli(mlp(w; 0; tanhh));
            encoder z(x | y) = mlp(u; 3; relu);
        }
    });
    let want = [
        "the latent dimension must be a positive integer, got `0`",
        "the supported prior is the standard normal",
        "the observed dimension is a plain integer such as `4`, not `4u8`",
        "the decoder takes the latent variable `z` as input, not `w`",
        "the hidden-layer width must be a positive integer, got `0`",
        "unknown activation `tanhh`",
        "the name `z` is declared twice",
        "the encoder must model the latent variable",
        "the encoder must be conditioned on the observed variable",
        "the encoder takes the observed variable `x` as input, not `u`",
    ];
    for w in want {
        assert!(
            errors.iter().any(|e| e.contains(w)),
            "missing `{w}` in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), want.len(), "{errors:#?}");
}

#[test]
fn missing_statements_are_named_and_leave_no_model_to_expand() {
    let input = parse(quote! { model M { latent z: 2; } }).unwrap();
    let checked = valid::check(&input.models[0]);
    assert!(checked.model.is_none());
    let errors: Vec<String> = checked
        .errors
        .unwrap_err()
        .into_iter()
        .map(|e| e.to_string())
        .collect();
    assert!(errors
        .iter()
        .any(|e| e.contains("latent `z` needs a prior")));
    assert!(errors
        .iter()
        .any(|e| e.contains("needs an `observed` variable")));
    assert!(errors.iter().any(|e| e.contains("needs an encoder")));
}

#[test]
fn a_repairable_model_is_still_expanded_beside_its_errors() {
    let input = parse(quote! {
        model M {
            latent z: 0 ~ Normal(0, I);
            observed x: 4 ~ Bernoulli(mlp(z; 3; tanhh));
            encoder q(z | x) = mlp(x; 3; tanh);
        }
    })
    .unwrap();
    let checked = valid::check(&input.models[0]);
    assert!(checked.errors.is_err());
    let model = checked.model.expect("a repaired model");
    assert!(matches!(&model.latent.dim, Dim::Lit(n) if n.base10_digits() == "1"));
    let tokens = crate::expand::model(&model).to_string();
    assert!(tokens.contains("struct M") && tokens.contains("Tanh"));
}

#[test]
fn greek_argument_names_are_spelled_out_and_duplicates_rejected() {
    let errors = errors_of(quote! {
        model M {
            latent z: 2 ~ Normal(0, I);
            observed x: 4 ~ Gaussian(linear(z), ξ = 0.1, xi = 0.2);
            encoder q(z | x) = linear(x);
        }
    });
    assert_eq!(errors, ["the family argument `xi` is given twice"]);
}

#[test]
fn two_models_with_one_name_are_an_error_at_the_second() {
    let input = parse(quote! {
        model M { latent z: 1 ~ Normal(0, I); observed x: 1 ~ Bernoulli(linear(z)); encoder q(z | x) = linear(x); }
        model M { latent z: 1 ~ Normal(0, I); observed x: 1 ~ Bernoulli(linear(z)); encoder q(z | x) = linear(x); }
    })
    .unwrap();
    let mut cx = crate::ctxt::Ctxt::default();
    assert_eq!(valid::unique_models(&input.models, &mut cx), [0]);
    let err = cx.finish().unwrap_err().to_string();
    assert!(
        err.contains("a model named `M` is already declared"),
        "{err}"
    );
}

/// The errors of a model whose observed statement is `observed x: 4 ~ FAMILY;`.
fn family_errors(family: proc_macro2::TokenStream) -> Vec<String> {
    errors_of(quote! {
        model M {
            latent z: 2 ~ Normal(0, I);
            observed x: 4 ~ #family;
            encoder q(z | x) = linear(x);
        }
    })
}

#[test]
fn literal_floors_that_are_not_positive_are_one_error_each() {
    let bad = [
        (quote!(xi = -1.0), "-1.0"),
        (quote!(xi = 0), "0"),
        (quote!(ξ = 0.0), "0.0"),
        (quote!(xi = (-2)), "(-2)"),
        (quote!(xi = 1e-50), "1e-50"),
        (quote!(xi = 1e300), "1e300"),
    ];
    for (arg, written) in bad {
        let errors = family_errors(quote!(Gaussian(linear(z), #arg)));
        assert_eq!(
            errors,
            [format!(
                "the variance floor xi must be a positive number, e.g. xi = 1e-3; got `{written}`"
            )],
            "{arg}"
        );
    }
    for arg in [
        quote!(xi = 0.01),
        quote!(ξ = 1e-3),
        quote!(xi = FLOOR),
        quote!(xi = -FLOOR),
    ] {
        assert!(
            family_errors(quote!(Gaussian(linear(z), #arg))).is_empty(),
            "{arg} is checked at run time"
        );
    }
}

#[test]
fn a_rejected_literal_floor_is_expanded_as_a_stand_in() {
    let input = parse(quote! {
        model M {
            latent z: 2 ~ Normal(0, I);
            observed x: 4 ~ Gaussian(linear(z), xi = -1.0);
            encoder q(z | x) = linear(x);
        }
    })
    .unwrap();
    let model = valid::check(&input.models[0])
        .model
        .expect("a repaired model");
    let tokens = crate::expand::model(&model).to_string();
    assert!(tokens.contains("builder . xi (1e-3)"), "{tokens}");
}

#[test]
fn literal_class_counts_outside_2_to_256_are_one_error_at_the_count() {
    for (count, repaired) in [(quote!(0), "2"), (quote!(1), "2"), (quote!(257), "256")] {
        let family = quote!(Categorical<#count>(linear(z)));
        let errors = family_errors(family.clone());
        assert_eq!(errors.len(), 1, "{family}: {errors:#?}");
        assert!(
            errors[0].starts_with(&format!(
                "a categorical output needs 2 to 256 classes, got {count}"
            )),
            "{}",
            errors[0]
        );
        let input = parse(quote! {
            model M {
                latent z: 2 ~ Normal(0, I);
                observed x: 4 ~ #family;
                encoder q(z | x) = linear(x);
            }
        })
        .unwrap();
        let model = valid::check(&input.models[0])
            .model
            .expect("a repaired model");
        let path = &model.family;
        assert_eq!(
            quote!(#path).to_string(),
            format!("Categorical < {repaired} >")
        );
    }
    for family in [
        quote!(Categorical<2>(linear(z))),
        quote!(Categorical<256>(linear(z))),
        quote!(dlvm::prelude::Categorical<K>(linear(z))),
    ] {
        assert!(family_errors(family.clone()).is_empty(), "{family}");
    }
}
