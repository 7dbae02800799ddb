//! Dimensions and widths given as `const` items, including a path to a const in a module.

use dlvm::prelude::*;

const P: usize = 6;
const D: usize = 2;

mod widths {
    pub const HIDDEN: usize = 12;
}

dlvm! {
    model Consts {
        latent z: D ~ Normal(0, I);
        observed x: P ~ Bernoulli(mlp(z; widths::HIDDEN; tanh));
        encoder q(z | x) = mlp(x; widths::HIDDEN, 8; relu);
    }
}

fn main() {
    let dev = Cpu::default();
    let model = Consts::new(&dev, 0);
    let _ = model.sample(2, 0);
    assert_eq!(<Consts as Dlvm<Cpu>>::observed_dim(), P);
    assert_eq!(<Consts as Dlvm<Cpu>>::latent_dim(), D);
}
