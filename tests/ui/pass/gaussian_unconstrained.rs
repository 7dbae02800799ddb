//! A Gaussian output whose variance floor is dropped on purpose (default structure: diagonal).

use dlvm::prelude::*;

dlvm! {
    model Unbounded {
        latent z: 2 ~ Normal(0, I);
        observed x: 6 ~ Gaussian(mlp(z; 10; sigmoid), unconstrained);
        encoder q(z | x) = mlp(x; 10; sigmoid);
    }
}

fn main() {
    let dev = Cpu::default();
    let model = Unbounded::new(&dev, 0);
    assert_eq!(model.family().xi(), 0.0);
    assert!(model.family().log_density_bound().is_none());
    let _ = model.sample(2, 0);
}
