//! An isotropic Gaussian output with the variance floor written `ξ` and a softplus network.

use dlvm::prelude::*;

dlvm! {
    model Iso {
        latent z: 2 ~ Normal(0, I);
        observed x: 5 ~ Gaussian<Isotropic>(mlp(z; 16; softplus), ξ = 0.01);
        encoder q(z | x) = mlp(x; 16; softplus);
    }
}

fn main() {
    let dev = Cpu::default();
    let model = Iso::new(&dev, 0);
    assert_eq!(model.family().xi(), 0.01);
    let _ = model.sample(2, 0);
    let x = dev.zeros_like(&(3usize, Const::<5>));
    let eps = dev.zeros_like(&(3usize, Const::<2>));
    let elbo = model.elbo(x, eps);
    assert_eq!(elbo.as_vec().len(), 3);
}
