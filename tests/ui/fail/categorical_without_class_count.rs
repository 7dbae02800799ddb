use dlvm::prelude::*;

dlvm! {
    model M {
        latent z: 2 ~ Normal(0, I);
        observed x: 4 ~ Categorical(mlp(z; 20; tanh));
        encoder q(z | x) = mlp(x; 20; tanh);
    }
}

fn main() {}
