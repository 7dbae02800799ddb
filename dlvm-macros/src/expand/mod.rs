//! Expansion: a checked model becomes Rust items. Nothing here can fail.

mod bounds;
mod family;
mod impls;
mod impute;
mod networks;

use crate::valid::CheckedModel;
use proc_macro2::TokenStream;
use quote::quote;

/// All items generated for one model.
pub fn model(m: &CheckedModel) -> TokenStream {
    let definition = networks::struct_definition(m);
    let family = family::constructor(m);
    let constructors = impls::constructors(m);
    let collection = impls::tensor_collection(m);
    let dlvm = impls::dlvm_trait(m);
    let typed = impls::typed_api(m);
    let impute = impute::methods(m);
    let bounds = bounds::likelihood_api(m);
    quote! {
        #definition
        #family
        #constructors
        #collection
        #dlvm
        #typed
        #impute
        #bounds
    }
}
