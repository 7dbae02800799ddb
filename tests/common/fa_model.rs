//! The factor-analysis reference declared with the DSL, its parameters set by hand: the decoder is
//! exactly the FA model, the encoder the exact posterior moved by a chosen amount.

use super::{to_f32, FactorAnalysis};
use dlvm::prelude::*;

dlvm! {
    /// Factor analysis: a linear decoder with a diagonal Gaussian output and no floor.
    pub model Fa {
        latent z: 2 ~ Normal(0, I);
        observed x: 3 ~ Gaussian(linear(z), unconstrained);
        encoder q(z | x) = linear(x);
    }
}

/// `W` has orthogonal columns and `Ψ = 0.3 I`, so the exact posterior `p(z | x)` is diagonal.
pub fn reference() -> FactorAnalysis {
    FactorAnalysis {
        w: vec![1.0, 1.0, 1.0, -1.0, 0.5, 0.0],
        mu: vec![0.2, -0.1, 0.4],
        psi: vec![0.3, 0.3, 0.3],
        p: 3,
        d: 2,
    }
}

/// The model whose decoder is `fa` (means `W z + μ`, constant log-variances `log ψ`) and whose
/// encoder is `m(x) = A x + c + shift`, `log s² = log_var` (constant), where `N(A x + c, S)` is
/// the exact posterior.
pub fn fa_model(fa: &FactorAnalysis, shift: [f64; 2], log_var: [f64; 2]) -> Fa {
    let mut model = Fa::new(&Cpu::default(), 0);
    let mut weight = to_f32(&fa.w);
    weight.extend([0.0f32; 6]);
    let bias: Vec<f32> = fa
        .mu
        .iter()
        .map(|&v| v as f32)
        .chain(fa.psi.iter().map(|&v| v.ln() as f32))
        .collect();
    model.decoder.weight.copy_from(&weight);
    model.decoder.bias.copy_from(&bias);
    let (a, c) = fa.posterior_map();
    model.encoder_mean.weight.copy_from(&to_f32(&a));
    model
        .encoder_mean
        .bias
        .copy_from(&to_f32(&[c[0] + shift[0], c[1] + shift[1]]));
    model.encoder_log_variance.weight.copy_from(&[0.0; 6]);
    model.encoder_log_variance.bias.copy_from(&to_f32(&log_var));
    model
}

/// `log(scale ⊙ S)` for the exact posterior variances `S` (which do not depend on `x`):
/// `[1, 1]` gives the exact posterior's log-variances.
pub fn scaled_log_var(fa: &FactorAnalysis, scale: [f64; 2]) -> [f64; 2] {
    let (_, var) = fa.diagonal_posterior(&[0.0; 3]);
    [(scale[0] * var[0]).ln(), (scale[1] * var[1]).ln()]
}
