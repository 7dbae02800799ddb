use dlvm::prelude::*;

const CLASSES: usize = 1;

dlvm! {
    model M {
        latent z: 2 ~ Normal(0, I);
        observed x: 4 ~ Categorical<CLASSES>(mlp(z; 20; tanh));
        encoder q(z | x) = mlp(x; 20; tanh);
    }
}

fn main() {}
