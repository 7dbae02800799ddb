use dlvm::prelude::*;

dlvm! {
    model IntegerZero {
        latent z: 5 ~ Normal(0, I);
        observed x: 4 ~ Gaussian(mlp(z; 20; tanh), xi = 0);
        encoder q(z | x) = mlp(x; 20; tanh);
    }

    model FloatZero {
        latent z: 5 ~ Normal(0, I);
        observed x: 4 ~ Gaussian<Isotropic>(mlp(z; 20; tanh), ξ = 0.0);
        encoder q(z | x) = mlp(x; 20; tanh);
    }
}

fn main() {}
