//! Generated likelihood methods: IWAE-K, the family's closed-form bound, the nonparametric bound
//! and the report that orders them. Each forwards to `dlvm_runtime::bound`.

use crate::valid::CheckedModel;
use proc_macro2::TokenStream;
use quote::quote;

/// `impl Model<f32, D> { fn iwae, iwae_with, family_bound, nonparametric_bound, likelihood_report }`.
pub fn likelihood_api(m: &CheckedModel) -> TokenStream {
    let name = &m.name;
    let p = quote!(::dlvm::__private);
    quote! {
        #[automatically_derived]
        impl<D: #p::Device<f32> + ::core::marker::Sync> #name<f32, D> {
            /// The importance-weighted bound `L_K` averaged over `data` (nats per point) with its
            /// standard error: `L_K(x) = log (1/K) Σ_k Φ(x | f(z_k)) p(z_k) / q(z_k | x)`,
            /// `z_k ~ q(z | x)`. Memory is bounded (4096 decoder rows per call); a progress bar
            /// shows on a terminal.
            ///
            /// # Errors
            /// `k = 0`, or the data does not fit the model.
            pub fn iwae(
                &self,
                data: &#p::Dataset,
                k: usize,
                seed: u64,
            ) -> ::core::result::Result<#p::Estimate, #p::DlvmError> {
                let config = #p::IwaeConfig { seed, ..#p::IwaeConfig::new(k) };
                #p::evaluate_iwae(self, data, &config)
            }

            /// [`iwae`](Self::iwae) with every setting (chunk size, progress bar).
            ///
            /// # Errors
            /// A setting is out of range, or the data does not fit the model.
            pub fn iwae_with(
                &self,
                data: &#p::Dataset,
                config: &#p::IwaeConfig,
            ) -> ::core::result::Result<#p::Estimate, #p::DlvmError> {
                #p::evaluate_iwae(self, data, config)
            }

            /// The family's closed-form bound on the log-likelihood of `n` points, for every
            /// parameter value: discrete `0`; Gaussian with floor ξ `-(n p / 2) log(2π ξ)`;
            /// unconstrained Gaussian: unbounded.
            pub fn family_bound(&self, n: usize) -> #p::FamilyBound {
                #p::model_family_bound(self, n)
            }

            /// The nonparametric-mixture bound `max_G l(G)` on `data` (exact empirical value for
            /// discrete families; certified EM for a floored Gaussian).
            ///
            /// # Errors
            /// The data does not fit the model; no bound exists for the family (unconstrained
            /// Gaussian) or a setting is out of range.
            pub fn nonparametric_bound(
                &self,
                data: &#p::Dataset,
                config: &#p::MixtureConfig,
            ) -> ::core::result::Result<#p::NonparametricBound, #p::DlvmError> {
                #p::nonparametric_bound(self, data, config)
            }

            /// ELBO, IWAE-K, the nonparametric and the closed-form bounds on `data`, ordered, with
            /// the variational and parsimony gaps named.
            ///
            /// # Errors
            /// The data does not fit the model, or a setting is out of range.
            pub fn likelihood_report(
                &self,
                data: &#p::Dataset,
                iwae: &#p::IwaeConfig,
                mixture: &#p::MixtureConfig,
            ) -> ::core::result::Result<#p::LikelihoodReport, #p::DlvmError> {
                #p::likelihood_report(self, data, iwae, mixture)
            }
        }
    }
}
