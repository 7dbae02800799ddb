//! One `syn::parse::Parse` implementation per grammar rule; keywords via `custom_keyword!`.
//!
//! ```text
//! input    := model*
//! model    := attr* vis `model` IDENT `{` statement* `}`
//! statement:= latent | observed | encoder
//! latent   := `latent` IDENT `:` dim [`~` IDENT `(` expr,* `)`] `;`
//! observed := `observed` IDENT `:` dim `~` path `(` net (`,` arg)* `)` `;`
//! encoder  := `encoder` IDENT `(` IDENT `|` IDENT `)` `=` net `;`
//! net      := `mlp` `(` IDENT `;` dim,+ `;` IDENT `)` | `linear` `(` IDENT `)`
//! arg      := IDENT [`=` expr]
//! dim      := INTEGER | path
//! ```

use crate::ast::*;
use syn::parse::{Parse, ParseStream};
use syn::{braced, parenthesized, punctuated::Punctuated, Ident, Result, Token};

pub mod kw {
    syn::custom_keyword!(model);
    syn::custom_keyword!(latent);
    syn::custom_keyword!(observed);
    syn::custom_keyword!(encoder);
    syn::custom_keyword!(mlp);
    syn::custom_keyword!(linear);
}

impl Parse for Input {
    fn parse(input: ParseStream) -> Result<Self> {
        let mut models = Vec::new();
        while !input.is_empty() {
            models.push(input.parse()?);
        }
        if models.is_empty() {
            return Err(input.error(
                "expected a model: `model NAME { latent ...; observed ...; encoder ...; }`",
            ));
        }
        Ok(Input { models })
    }
}

impl Parse for Model {
    fn parse(input: ParseStream) -> Result<Self> {
        let attrs = input.call(syn::Attribute::parse_outer)?;
        let vis = input.parse()?;
        input.parse::<kw::model>()?;
        let name = input.parse()?;
        let body;
        braced!(body in input);
        let mut statements = Vec::new();
        while !body.is_empty() {
            statements.push(body.parse()?);
        }
        Ok(Model {
            attrs,
            vis,
            name,
            statements,
        })
    }
}

impl Parse for Statement {
    fn parse(input: ParseStream) -> Result<Self> {
        let lookahead = input.lookahead1();
        let statement = if lookahead.peek(kw::latent) {
            Statement::Latent(input.parse()?)
        } else if lookahead.peek(kw::observed) {
            Statement::Observed(input.parse()?)
        } else if lookahead.peek(kw::encoder) {
            Statement::Encoder(input.parse()?)
        } else {
            return Err(lookahead.error());
        };
        input.parse::<Token![;]>()?;
        Ok(statement)
    }
}

impl Parse for Latent {
    fn parse(input: ParseStream) -> Result<Self> {
        let keyword = input.parse::<kw::latent>()?.span;
        let name = input.parse()?;
        input.parse::<Token![:]>()?;
        let dim = input.parse()?;
        let prior = if input.peek(Token![~]) {
            input.parse::<Token![~]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Latent {
            keyword,
            name,
            dim,
            prior,
        })
    }
}

impl Parse for Prior {
    fn parse(input: ParseStream) -> Result<Self> {
        let name = input.parse()?;
        let content;
        parenthesized!(content in input);
        let args = Punctuated::parse_terminated(&content)?;
        Ok(Prior { name, args })
    }
}

impl Parse for Observed {
    fn parse(input: ParseStream) -> Result<Self> {
        let keyword = input.parse::<kw::observed>()?.span;
        let name = input.parse()?;
        input.parse::<Token![:]>()?;
        let dim = input.parse()?;
        input.parse::<Token![~]>()?;
        let family = input.parse()?;
        let content;
        parenthesized!(content in input);
        let net = content.parse()?;
        let mut args = Vec::new();
        while content.parse::<Option<Token![,]>>()?.is_some() && !content.is_empty() {
            args.push(content.parse()?);
        }
        if !content.is_empty() {
            return Err(
                content.error("expected `,` and a family argument such as `xi = 0.01`, or `)`")
            );
        }
        Ok(Observed {
            keyword,
            name,
            dim,
            family,
            net,
            args,
        })
    }
}

impl Parse for FamilyArg {
    fn parse(input: ParseStream) -> Result<Self> {
        let name = input.call(Ident::parse_any)?;
        // Arguments become builder method calls: a keyword there would expand to invalid Rust.
        if syn::parse_str::<Ident>(&name.to_string()).is_err() {
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "`{name}` is a Rust keyword and cannot name a family argument; write the \
                     family's argument names, e.g. `Gaussian(mlp(z; 200; tanh), xi = 0.01)`"
                ),
            ));
        }
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(FamilyArg { name, value })
    }
}

impl Parse for Encoder {
    fn parse(input: ParseStream) -> Result<Self> {
        let keyword = input.parse::<kw::encoder>()?.span;
        let name = input.parse()?;
        let content;
        parenthesized!(content in input);
        let target = content.parse()?;
        content.parse::<Token![|]>()?;
        let given = content.parse()?;
        input.parse::<Token![=]>()?;
        let net = input.parse()?;
        Ok(Encoder {
            keyword,
            name,
            target,
            given,
            net,
        })
    }
}

impl Parse for Net {
    fn parse(input: ParseStream) -> Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::mlp) {
            input.call(Ident::parse_any)?;
            let content;
            parenthesized!(content in input);
            let net_input = content.parse()?;
            content.parse::<Token![;]>()?;
            let hidden = Punctuated::<Dim, Token![,]>::parse_separated_nonempty(&content)?;
            content.parse::<Token![;]>()?;
            let activation = Some(content.parse()?);
            Ok(Net {
                input: net_input,
                hidden: hidden.into_iter().collect(),
                activation,
            })
        } else if lookahead.peek(kw::linear) {
            input.call(Ident::parse_any)?;
            let content;
            parenthesized!(content in input);
            let net_input = content.parse()?;
            Ok(Net {
                input: net_input,
                hidden: Vec::new(),
                activation: None,
            })
        } else {
            Err(lookahead.error())
        }
    }
}

impl Parse for Dim {
    fn parse(input: ParseStream) -> Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(syn::LitInt) {
            Ok(Dim::Lit(input.parse()?))
        } else if lookahead.peek(Ident) {
            Ok(Dim::Const(input.parse()?))
        } else {
            Err(lookahead.error())
        }
    }
}

use syn::ext::IdentExt;
