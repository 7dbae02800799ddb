//! The families added by issue 5 in `dlvm!`: a const-generic class count, optional builder
//! arguments, and families without arguments.

use dlvm::prelude::*;

dlvm! {
    /// Grey levels quantised to 4 classes.
    model Classes {
        latent z: 2 ~ Normal(0, I);
        observed x: 6 ~ Categorical<4>(mlp(z; 8; tanh));
        encoder q(z | x) = mlp(x; 8; tanh);
    }
}

dlvm! {
    model Counts {
        latent z: 2 ~ Normal(0, I);
        observed x: 3 ~ Poisson(mlp(z; 8; tanh));
        encoder q(z | x) = mlp(x; 8; tanh);
    }
}

dlvm! {
    model Heavy {
        latent z: 2 ~ Normal(0, I);
        observed x: 3 ~ StudentT(mlp(z; 8; tanh), scale_floor = 0.01, df_floor = 4.0);
        encoder q(z | x) = mlp(x; 8; tanh);
    }
}

dlvm! {
    model Grey {
        latent z: 2 ~ Normal(0, I);
        observed x: 3 ~ ContinuousBernoulli(mlp(z; 8; tanh));
        encoder q(z | x) = mlp(x; 8; tanh);
    }
}

fn main() {
    let dev = Cpu::default();
    let classes = Classes::new(&dev, 0);
    // 4 logits per coordinate.
    let raw = classes.decode(dev.zeros_like(&(1usize, Const::<2>)));
    assert_eq!(raw.as_vec().len(), 24);
    let x = dev.zeros_like(&(3usize, Const::<6>));
    let eps = dev.zeros_like(&(3usize, Const::<2>));
    assert_eq!(classes.elbo(x, eps).as_vec().len(), 3);
    assert_eq!(Heavy::new(&dev, 0).family().df_floor(), 4.0);
    let _ = (Counts::new(&dev, 0).sample(2, 0), Grey::new(&dev, 0).sample(2, 0));
}
