//! The model struct: typed dfdx networks whose shapes are const generics.

use crate::ast::Dim;
use crate::valid::{Activation, CheckedModel, Network};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};

/// `{ DIM }` as a const-generic argument.
pub fn dim(d: &Dim) -> TokenStream {
    match d {
        Dim::Lit(lit) => lit.to_token_stream(),
        Dim::Const(path) => quote!({ #path }),
    }
}

/// The decoder's output width, computed from the family type (never hard-coded):
/// `p * PARAMS_PER_COORD + PARAMS_PER_POINT`.
pub fn raw_width(m: &CheckedModel) -> TokenStream {
    let p = dim(&m.observed.dim);
    let family = family_type(m);
    quote!({ (#p) * <#family as ::dlvm::__private::OutputFamily>::PARAMS_PER_COORD
        + <#family as ::dlvm::__private::OutputFamily>::PARAMS_PER_POINT })
}

/// The user's family path, spanned at the user's tokens.
pub fn family_type(m: &CheckedModel) -> TokenStream {
    m.family.to_token_stream()
}

fn activation(act: Option<Activation>) -> TokenStream {
    let p = quote!(::dlvm::__private);
    match act {
        Some(Activation::Tanh(s)) => quote_spanned!(s=> #p::Tanh),
        Some(Activation::Relu(s)) => quote_spanned!(s=> #p::ReLU),
        Some(Activation::Sigmoid(s)) => quote_spanned!(s=> #p::Sigmoid),
        Some(Activation::Softplus(s)) => quote_spanned!(s=> #p::Softplus),
        None => quote_spanned!(Span::call_site()=> #p::Tanh),
    }
}

/// The runtime's name for an activation, as data (`LayerActivation::Tanh`, ...).
fn activation_value(act: Option<Activation>) -> TokenStream {
    let p = quote!(::dlvm::__private::LayerActivation);
    match act {
        Some(Activation::Tanh(_)) | None => quote!(#p::Tanh),
        Some(Activation::Relu(_)) => quote!(#p::Relu),
        Some(Activation::Sigmoid(_)) => quote!(#p::Sigmoid),
        Some(Activation::Softplus(_)) => quote!(#p::Softplus),
    }
}

/// `Mlp { hidden: vec![...], activation }`: a network's description as data.
fn mlp_value(net: &Network) -> TokenStream {
    let p = quote!(::dlvm::__private);
    let hidden = net.hidden.iter().map(dim);
    let act = activation_value(net.activation);
    quote!(#p::Mlp { hidden: ::std::vec![#(#hidden),*], activation: #act })
}

/// The body of `Dlvm::architecture`: the widths and activations of the networks
/// [`struct_definition`] declares (the same hidden widths, the same default activation).
pub fn architecture_value(m: &CheckedModel) -> TokenStream {
    let (encoder, decoder) = (mlp_value(&m.encoder), mlp_value(&m.decoder));
    quote!(::dlvm::__private::Architecture { encoder: #encoder, decoder: #decoder })
}

fn linear(input: &TokenStream, output: &TokenStream) -> TokenStream {
    quote!(::dlvm::__private::Linear<#input, #output, E, D>)
}

/// A dense layer reading the data: no gradient for its input.
fn data_linear(input: &TokenStream, output: &TokenStream) -> TokenStream {
    quote!(::dlvm::__private::DataLinear<#input, #output, E, D>)
}

/// Whether a network's input is the data (no gradient needed) or a latent code.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Input {
    Data,
    Latent,
}

/// `(Linear<in, h1>, Act, Linear<h1, h2>, Act, ...)`: the hidden layers; returns the layer
/// types and the width of the last one. The first layer of a network on the data is a
/// `DataLinear`.
fn hidden_layers(
    net: &Network,
    input: TokenStream,
    reads: Input,
) -> (Vec<TokenStream>, TokenStream) {
    let act = activation(net.activation);
    let mut layers = Vec::new();
    let mut width = input;
    for h in &net.hidden {
        let h = dim(h);
        let layer = if layers.is_empty() && reads == Input::Data {
            data_linear(&width, &h)
        } else {
            linear(&width, &h)
        };
        layers.push(layer);
        layers.push(act.clone());
        width = h;
    }
    (layers, width)
}

/// The encoder trunk type (a tuple, `()` when there are no hidden layers) and its output width.
pub fn encoder_trunk(m: &CheckedModel) -> (TokenStream, TokenStream) {
    let (layers, width) = hidden_layers(&m.encoder, dim(&m.observed.dim), Input::Data);
    if layers.is_empty() {
        (quote!(::dlvm::__private::Identity), width)
    } else {
        (quote!((#(#layers,)*)), width)
    }
}

/// The decoder type: hidden layers then the output layer sized by the family.
pub fn decoder(m: &CheckedModel) -> TokenStream {
    let (mut layers, width) = hidden_layers(&m.decoder, dim(&m.latent.dim), Input::Latent);
    layers.push(linear(&width, &raw_width(m)));
    if layers.len() == 1 {
        layers.remove(0)
    } else {
        quote!((#(#layers,)*))
    }
}

/// The model struct, generic over dtype `E` and device `D` like dfdx modules.
pub fn struct_definition(m: &CheckedModel) -> TokenStream {
    let (attrs, vis, name) = (&m.attrs, &m.vis, &m.name);
    let (trunk, hidden) = encoder_trunk(m);
    let latent = dim(&m.latent.dim);
    // Without hidden layers the heads read the data themselves.
    let head = if m.encoder.hidden.is_empty() {
        data_linear(&hidden, &latent)
    } else {
        linear(&hidden, &latent)
    };
    let decoder = decoder(m);
    let family = family_type(m);
    let p = quote!(::dlvm::__private);
    quote! {
        #(#attrs)*
        #[derive(Clone, Debug)]
        #vis struct #name<E: #p::Dtype = f32, D: #p::Storage<E> = #p::Cpu> {
            /// Encoder trunk: the hidden layers of q(z | x).
            pub encoder: #trunk,
            /// Encoder head for the posterior mean m(x).
            pub encoder_mean: #head,
            /// Encoder head for the posterior log-variance v(x) = log s²(x).
            pub encoder_log_variance: #head,
            /// Decoder f(z): raw parameters of the output family.
            pub decoder: #decoder,
            family: #family,
        }
    }
}
