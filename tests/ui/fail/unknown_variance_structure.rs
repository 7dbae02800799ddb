use dlvm::prelude::*;

dlvm! {
    model M {
        latent z: 5 ~ Normal(0, I);
        observed x: 4 ~ Gaussian<Isotropik>(mlp(z; 20; tanh), xi = 0.1);
        encoder q(z | x) = mlp(x; 20; tanh);
    }
}

fn main() {}
