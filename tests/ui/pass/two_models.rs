//! Two models in one `dlvm!`, with attributes and different visibilities.

use dlvm::prelude::*;

dlvm! {
    /// A Bernoulli model.
    pub model First {
        latent z: 4 ~ Normal(0, I);
        observed x: 10 ~ Bernoulli(mlp(z; 8; tanh));
        encoder q(z | x) = mlp(x; 8; tanh);
    }

    /// A Gaussian model with other variable names.
    #[allow(dead_code)]
    model Second {
        latent h: 3 ~ Normal(0, I);
        observed y: 7 ~ Gaussian(linear(h), xi = 0.1);
        encoder enc(h | y) = linear(y);
    }
}

fn main() {
    let dev = Cpu::default();
    let first = First::new(&dev, 0);
    let second = Second::new(&dev, 1);
    let _ = first.sample(2, 0);
    let _ = second.sample(2, 0);
}
