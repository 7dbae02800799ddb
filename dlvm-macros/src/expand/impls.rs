//! Trait implementations and the typed API of a model.

use super::networks::{architecture_value, dim, family_type};
use crate::valid::CheckedModel;
use proc_macro2::TokenStream;
use quote::quote;

/// `try_new(&dev, seed)`, `new(&dev, seed)`.
pub fn constructors(m: &CheckedModel) -> TokenStream {
    let name = &m.name;
    let p = quote!(::dlvm::__private);
    quote! {
        #[automatically_derived]
        impl<D: #p::Device<f32> + ::core::marker::Sync> #name<f32, D> {
            /// Builds the model on `dev`, drawing its parameters from `seed`: the same seed gives
            /// the same parameters on every device.
            ///
            /// # Errors
            /// An invalid family argument (e.g. a variance floor `xi <= 0`) or a device failure.
            pub fn try_new(dev: &D, seed: u64) -> ::core::result::Result<Self, #p::DlvmError> {
                let family = Self::__dlvm_family()?;
                let device = |e: D::Err| #p::DlvmError::Device(::std::format!("{e}"));
                let mut model = Self {
                    encoder: #p::BuildModule::try_build(dev).map_err(device)?,
                    encoder_mean: #p::BuildModule::try_build(dev).map_err(device)?,
                    encoder_log_variance: #p::BuildModule::try_build(dev).map_err(device)?,
                    decoder: #p::BuildModule::try_build(dev).map_err(device)?,
                    family,
                };
                #p::init_parameters(&mut model, seed).map_err(device)?;
                ::core::result::Result::Ok(model)
            }

            /// Builds the model on `dev`, drawing its parameters from `seed`.
            ///
            /// # Panics
            /// When [`try_new`](Self::try_new) fails: a family argument given as a constant
            /// expression is out of range, or the device is out of memory. The panic is
            /// reported at the caller's line.
            #[track_caller]
            pub fn new(dev: &D, seed: u64) -> Self {
                match Self::try_new(dev, seed) {
                    ::core::result::Result::Ok(model) => model,
                    ::core::result::Result::Err(e) => {
                        ::core::panic!("cannot build model `{}`: {e}", ::core::stringify!(#name))
                    }
                }
            }
        }
    }
}

/// dfdx `TensorCollection`: optimisers, safetensors, device and dtype conversion.
pub fn tensor_collection(m: &CheckedModel) -> TokenStream {
    let name = &m.name;
    let p = quote!(::dlvm::__private);
    quote! {
        #[automatically_derived]
        impl<E, D> #p::TensorCollection<E, D> for #name<E, D>
        where
            E: #p::Dtype + #p::Float + #p::SampleUniform,
            D: #p::Device<E>,
        {
            type To<E2: #p::Dtype, D2: #p::Device<E2>> = #name<E2, D2>;

            fn iter_tensors<V: #p::ModuleVisitor<Self, E, D>>(
                visitor: &mut V,
            ) -> ::core::result::Result<::core::option::Option<Self::To<V::E2, V::D2>>, V::Err> {
                visitor.visit_fields(
                    (
                        Self::module("encoder", |s| &s.encoder, |s| &mut s.encoder),
                        Self::module("encoder_mean", |s| &s.encoder_mean, |s| &mut s.encoder_mean),
                        Self::module(
                            "encoder_log_variance",
                            |s| &s.encoder_log_variance,
                            |s| &mut s.encoder_log_variance,
                        ),
                        Self::module("decoder", |s| &s.decoder, |s| &mut s.decoder),
                    ),
                    |(encoder, encoder_mean, encoder_log_variance, decoder)| #name {
                        encoder,
                        encoder_mean,
                        encoder_log_variance,
                        decoder,
                        // The same arguments were validated when this model was built.
                        family: Self::__dlvm_family()
                            .unwrap_or_else(|e| ::core::panic!("{e}")),
                    },
                )
            }
        }
    }
}

/// The runtime's model trait: encoder, decoder, family.
pub fn dlvm_trait(m: &CheckedModel) -> TokenStream {
    let name = &m.name;
    let (latent, observed) = (dim(&m.latent.dim), dim(&m.observed.dim));
    let family = family_type(m);
    let architecture = architecture_value(m);
    let p = quote!(::dlvm::__private);
    quote! {
        #[automatically_derived]
        impl<D: #p::Device<f32> + ::core::marker::Sync> #p::Dlvm<D> for #name<f32, D> {
            type Latent = #p::Const<#latent>;
            type Observed = #p::Const<#observed>;
            type Family = #family;
            const NAME: &'static str = ::core::stringify!(#name);

            fn device(&self) -> &D {
                self.encoder_mean.weight.device()
            }

            fn family(&self) -> &#family {
                &self.family
            }

            fn architecture() -> ::core::option::Option<#p::Architecture> {
                ::core::option::Option::Some(#architecture)
            }

            fn encode<T: #p::Tape<f32, D>>(
                &self,
                x: #p::Tensor<(usize, #p::Const<#observed>), f32, D, T>,
            ) -> #p::Posterior<#p::Const<#latent>, D, T> {
                let h = #p::Module::forward(&self.encoder, x);
                let mean = #p::Module::forward(
                    &self.encoder_mean,
                    #p::WithEmptyTape::with_empty_tape(&h),
                );
                let log_variance = #p::Module::forward(&self.encoder_log_variance, h);
                #p::Posterior { mean, log_variance }
            }

            fn decode<T: #p::Tape<f32, D>>(
                &self,
                z: #p::Tensor<(usize, #p::Const<#latent>), f32, D, T>,
            ) -> #p::Tensor<(usize, usize), f32, D, T> {
                #p::to_dynamic(#p::Module::forward(&self.decoder, z))
            }
        }
    }
}

/// Typed convenience methods: a batch of the wrong width does not compile.
pub fn typed_api(m: &CheckedModel) -> TokenStream {
    let name = &m.name;
    let (latent, observed) = (dim(&m.latent.dim), dim(&m.observed.dim));
    let p = quote!(::dlvm::__private);
    quote! {
        #[automatically_derived]
        impl<D: #p::Device<f32> + ::core::marker::Sync> #name<f32, D> {
            /// The single-sample ELBO per point, `log Φ(x | f(z)) - KL(q(z|x) || N(0, I))` with
            /// `z = m(x) + s(x) ⊙ eps`; differentiable through the tape of `x`.
            pub fn elbo<T: #p::Tape<f32, D>>(
                &self,
                x: #p::Tensor<(usize, #p::Const<#observed>), f32, D, T>,
                eps: #p::Tensor<(usize, #p::Const<#latent>), f32, D>,
            ) -> #p::Tensor<(usize,), f32, D, T> {
                #p::elbo(self, x, eps)
            }

            /// The ELBO averaged over `data` (nats per point) with its standard error.
            ///
            /// # Errors
            /// The data does not fit the model, or `batch_size` is out of range.
            pub fn evaluate_elbo(
                &self,
                data: &#p::Dataset,
                batch_size: usize,
                seed: u64,
            ) -> ::core::result::Result<#p::Estimate, #p::DlvmError> {
                #p::evaluate_elbo(self, data, batch_size, seed)
            }

            /// `n` draws from the model (family mean and sample at `z ~ N(0, I)`).
            pub fn sample(&self, n: usize, seed: u64) -> #p::Draws {
                #p::sample_prior(self, n, seed)
            }

            /// Reconstructions of `rows` of `data` (family mean and sample at `z ~ q(z | x)`).
            ///
            /// # Errors
            /// The data does not fit the model.
            pub fn reconstruct(
                &self,
                data: &#p::Dataset,
                rows: &[usize],
                seed: u64,
            ) -> ::core::result::Result<#p::Draws, #p::DlvmError> {
                #p::reconstruct(self, data, rows, seed)
            }

            /// Saves the parameters to a safetensors file, atomically.
            ///
            /// # Errors
            /// The file cannot be written.
            pub fn save(
                &self,
                path: impl ::core::convert::AsRef<::std::path::Path>,
            ) -> ::core::result::Result<(), #p::DlvmError> {
                #p::save_checkpoint(self, path)
            }

            /// Loads parameters saved by [`save`](Self::save).
            ///
            /// # Errors
            /// The file is missing, corrupt, or was written by a different model.
            pub fn load(
                &mut self,
                path: impl ::core::convert::AsRef<::std::path::Path>,
            ) -> ::core::result::Result<(), #p::DlvmError> {
                #p::load_checkpoint(self, path)
            }
        }
    }
}
