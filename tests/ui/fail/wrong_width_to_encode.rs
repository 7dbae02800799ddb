use dlvm::model::Dlvm;
use dlvm::prelude::*;

dlvm! {
    model M {
        latent z: 2 ~ Normal(0, I);
        observed x: 4 ~ Bernoulli(mlp(z; 20; tanh));
        encoder q(z | x) = mlp(x; 20; tanh);
    }
}

fn main() {
    let dev = Cpu::default();
    let m = M::new(&dev, 0);
    let _ = m.encode(dev.zeros_like(&(2usize, Const::<5>)));
}
