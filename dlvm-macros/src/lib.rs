//! The `dlvm!` procedural macro: declare a deep latent variable model in a few lines and get typed
//! dfdx networks, the ELBO, and the runtime's model trait. See the `dlvm` crate for the guide.
//!
//! Pipeline: [`parse`] (syntax tree) → [`valid`] (checked model, all errors collected) →
//! [`expand`] (tokens; cannot fail). On error, [`fallback`] still emits the declared items.

mod ast;
mod ctxt;
mod expand;
mod fallback;
#[cfg(test)]
mod fuzz;
mod parse;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Declares one or more deep latent variable models.
///
/// ```ignore
/// dlvm! {
///     pub model MnistVae {
///         latent z: 50 ~ Normal(0, I);
///         observed x: 784 ~ Bernoulli(mlp(z; 200, 200; tanh));
///         encoder q(z | x) = mlp(x; 200, 200; tanh);
///     }
/// }
/// ```
#[proc_macro]
pub fn dlvm(input: TokenStream) -> TokenStream {
    expand_tokens(input.into()).into()
}

fn expand_tokens(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let input: ast::Input = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return fallback::items(None, e),
    };
    let mut cx = ctxt::Ctxt::default();
    let mut output = proc_macro2::TokenStream::new();
    for index in valid::unique_models(&input.models, &mut cx) {
        let model = &input.models[index];
        let checked = valid::check(model);
        if let Err(e) = checked.errors {
            cx.push(e);
        }
        match checked.model {
            Some(checked) => output.extend(expand::model(&checked)),
            None => output.extend(fallback::placeholder(model)),
        }
    }
    if let Err(e) = cx.finish() {
        output.extend(e.to_compile_error());
    }
    output
}
