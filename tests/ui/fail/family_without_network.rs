use dlvm::prelude::*;

dlvm! {
    model M {
        latent z: 5 ~ Normal(0, I);
        observed x: 4 ~ Bernoulli();
        encoder q(z | x) = mlp(x; 20; tanh);
    }
}

fn main() {}
