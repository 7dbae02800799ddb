//! When the input is invalid: the errors, plus the declared items so that code using the model
//! does not fail with a cascade of unrelated errors.

use crate::ast::Input;
use proc_macro2::TokenStream;
use quote::quote;

/// The `compile_error!`s and a placeholder struct with constructors for each declared model.
pub fn items(input: Option<&Input>, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let placeholders = input.into_iter().flat_map(|i| &i.models).map(|m| {
        let (attrs, vis, name) = (&m.attrs, &m.vis, &m.name);
        let p = quote!(::dlvm::__private);
        quote! {
            #(#attrs)*
            #vis struct #name<E = f32, D = #p::Cpu>(::core::marker::PhantomData<(E, D)>);
            impl<E, D> #name<E, D> {
                /// Placeholder: the model declaration has errors.
                pub fn new(_dev: &D, _seed: u64) -> Self {
                    ::core::unreachable!("the `dlvm!` declaration has errors")
                }
            }
        }
    });
    quote! { #errors #(#placeholders)* }
}
