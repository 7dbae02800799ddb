//! `try_new` reports an out-of-range family argument as an error instead of panicking.

use dlvm::prelude::*;

const FLOOR: f32 = -1.0;

dlvm! {
    model BadFloor {
        latent z: 2 ~ Normal(0, I);
        observed x: 3 ~ Gaussian(mlp(z; 4; tanh), xi = FLOOR);
        encoder q(z | x) = mlp(x; 4; tanh);
    }
}

fn main() {
    let dev = Cpu::default();
    let err = BadFloor::try_new(&dev, 0).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("xi"), "{message}");
}
