use dlvm::prelude::*;

dlvm! {
    model M {
        observed x: 4 ~ Bernoulli(mlp(z; 20; tanh));
        encoder q(z | x) = mlp(x; 20; tanh);
    }
}

fn main() {}
