//! When the input cannot be parsed, or a model lacks a statement: the errors, plus the declared
//! items, so that code using the model does not fail with a cascade of unrelated errors.

use crate::ast::{Input, Model};
use proc_macro2::TokenStream;
use quote::quote;

/// The `compile_error!`s of a parse failure, plus a placeholder for each model that was parsed.
pub fn items(input: Option<&Input>, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let placeholders = input.into_iter().flat_map(|i| &i.models).map(placeholder);
    quote! { #errors #(#placeholders)* }
}

/// A placeholder struct with the model's name, attributes, visibility and constructors, for a
/// model that cannot be expanded (a statement is missing).
pub fn placeholder(m: &Model) -> TokenStream {
    let (attrs, vis, name) = (&m.attrs, &m.vis, &m.name);
    let p = quote!(::dlvm::__private);
    quote! {
        #(#attrs)*
        #vis struct #name<E = f32, D = #p::Cpu>(::core::marker::PhantomData<(E, D)>);
        impl<E, D> #name<E, D> {
            /// Placeholder: the model declaration has errors.
            #[track_caller]
            pub fn new(_dev: &D, _seed: u64) -> Self {
                ::core::unreachable!("the `dlvm!` declaration has errors")
            }
        }
    }
}
