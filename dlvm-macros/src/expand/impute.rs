//! The imputation methods of a model: `pseudo_gibbs` and `metropolis_within_gibbs`.

use crate::valid::CheckedModel;
use proc_macro2::TokenStream;
use quote::quote;

/// `model.pseudo_gibbs(&data, &mask, &options)`, `model.metropolis_within_gibbs(..)`.
pub fn methods(m: &CheckedModel) -> TokenStream {
    let name = &m.name;
    let p = quote!(::dlvm::__private);
    quote! {
        #[automatically_derived]
        impl<D: #p::Device<f32> + ::core::marker::Sync> #name<f32, D> {
            /// Imputes the entries of `data` that `mask` marks missing with pseudo-Gibbs
            /// sampling (Rezende et al. 2014): `z_t ~ q(z | x_obs, x_miss_{t-1})`,
            /// `x_miss_t ~ Φ(x_miss | f(z_t))`, one chain per row. Observed entries never change.
            ///
            /// # Errors
            /// Invalid `options` (e.g. zero iterations), a mask whose shape is not the data's,
            /// data of the wrong width, or an observed entry outside the family's support.
            pub fn pseudo_gibbs(
                &self,
                data: &#p::Dataset,
                mask: &#p::Mask,
                options: &#p::ImputeOptions,
            ) -> ::core::result::Result<#p::Imputation, #p::DlvmError> {
                #p::pseudo_gibbs(self, data, mask, options)
            }

            /// Imputes the entries of `data` that `mask` marks missing with
            /// Metropolis-within-Gibbs (Mattei & Frellsen 2018): an independent
            /// Metropolis-Hastings step for `z` with the encoder as proposal, then
            /// `x_miss_t ~ Φ(x_miss | f(z_t))`; the chain targets `p(x_miss | x_obs)` exactly.
            ///
            /// # Errors
            /// Invalid `options` (e.g. zero iterations), a mask whose shape is not the data's,
            /// data of the wrong width, or an observed entry outside the family's support.
            pub fn metropolis_within_gibbs(
                &self,
                data: &#p::Dataset,
                mask: &#p::Mask,
                options: &#p::ImputeOptions,
            ) -> ::core::result::Result<#p::Imputation, #p::DlvmError> {
                #p::metropolis_within_gibbs(self, data, mask, options)
            }
        }
    }
}
