//! Building the output family from the DSL's family arguments, through the family's builder.

use super::networks::family_type;
use crate::valid::CheckedModel;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

/// `fn __dlvm_family() -> Result<Family, FamilyError>`: `name = value` becomes `.name(value)`,
/// a bare `flag` becomes `.flag()`, each spanned at the user's argument.
pub fn constructor(m: &CheckedModel) -> TokenStream {
    let name = &m.name;
    let family = family_type(m);
    let p = quote!(::dlvm::__private);
    let calls = m.family_args.iter().map(|(arg, value)| match value {
        Some(v) => quote_spanned!(arg.span()=> let builder = builder.#arg(#v);),
        None => quote_spanned!(arg.span()=> let builder = builder.#arg();),
    });
    // One bound, and the whole call at the family token (the path is written out rather than
    // `#p`, whose tokens carry the call site's span): an incomplete builder is one error there,
    // with no label on the macro call as a whole.
    let build = quote_spanned!(m.family.span()=> ::dlvm::__private::build_family(builder));
    quote! {
        #[automatically_derived]
        impl<E: #p::Dtype, D: #p::Storage<E>> #name<E, D> {
            #[doc(hidden)]
            pub fn __dlvm_family() -> ::core::result::Result<#family, #p::FamilyError> {
                let builder =
                    <<#family as #p::OutputFamily>::Builder as ::core::default::Default>::default();
                #(#calls)*
                #build
            }
        }
    }
}
