use dlvm::prelude::*;

dlvm! {
    model M {
        latent z: 5 ~ Normal(0, I);
        observed x: 4 ~ Gaussian(mlp(z; 20; tanh), xi = -1.0);
        encoder q(z | x) = mlp(x; 20; tanh);
    }
}

fn main() {
    // The declaration's error only: the model is generated with a stand-in floor.
    let dev = Cpu::default();
    let m = M::new(&dev, 0);
    let _ = m.sample(2, 0);
}
