//! A diagonal Gaussian output (`xi = 0.05`, relu decoder) with a linear encoder (no hidden layer).

use dlvm::prelude::*;

dlvm! {
    model Diag {
        latent z: 3 ~ Normal(0, I);
        observed x: 8 ~ Gaussian<Diagonal>(mlp(z; 32, 16; relu), xi = 0.05);
        encoder q(z | x) = linear(x);
    }
}

fn main() {
    let dev = Cpu::default();
    let model = Diag::new(&dev, 7);
    assert_eq!(model.family().xi(), 0.05);
    let _ = model.sample(2, 0);
    let posterior = model.encode(dev.zeros_like(&(4usize, Const::<8>)));
    let _ = posterior;
}
