//! The VAE of Rezende et al. (2014) for binarized MNIST, as in `examples/mnist_vae.rs`.

use dlvm::prelude::*;

dlvm! {
    /// 784-200-200-50, tanh, Bernoulli.
    pub model MnistVae {
        latent z: 50 ~ Normal(0, I);
        observed x: 784 ~ Bernoulli(mlp(z; 200, 200; tanh));
        encoder q(z | x) = mlp(x; 200, 200; tanh);
    }
}

fn main() {
    let dev = Cpu::default();
    let model = MnistVae::new(&dev, 0);
    let draws = model.sample(2, 0);
    let _ = draws;
    assert_eq!(<MnistVae as Dlvm<Cpu>>::observed_dim(), 784);
    assert_eq!(<MnistVae as Dlvm<Cpu>>::latent_dim(), 50);
}
