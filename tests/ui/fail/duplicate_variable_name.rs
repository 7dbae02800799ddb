use dlvm::prelude::*;

dlvm! {
    model M {
        latent x: 5 ~ Normal(0, I);
        observed x: 4 ~ Bernoulli(mlp(x; 20; tanh));
        encoder q(x | x) = mlp(x; 20; tanh);
    }
}

fn main() {}
