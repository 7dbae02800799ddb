use dlvm::prelude::*;

dlvm! {
    model M {
        latent z: 2 ~ Normal(0, I);
        observed x: 4 ~ Categorical<257>(mlp(z; 20; tanh));
        encoder q(z | x) = mlp(x; 20; tanh);
    }
}

fn main() {
    // The declaration's error only: the model is generated with a stand-in class count.
    let dev = Cpu::default();
    let m = M::new(&dev, 0);
    let _ = m.sample(2, 0);
}
