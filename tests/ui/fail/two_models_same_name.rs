use dlvm::prelude::*;

dlvm! {
    model M {
        latent z: 5 ~ Normal(0, I);
        observed x: 4 ~ Bernoulli(mlp(z; 20; tanh));
        encoder q(z | x) = mlp(x; 20; tanh);
    }
    model M {
        latent z: 2 ~ Normal(0, I);
        observed x: 3 ~ Bernoulli(linear(z));
        encoder q(z | x) = linear(x);
    }
}

fn main() {}
