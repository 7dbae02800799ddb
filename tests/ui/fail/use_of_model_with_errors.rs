use dlvm::prelude::*;

dlvm! {
    model M {
        latent z: 5 ~ Normal(0, I);
        observed x: 4 ~ Bernoulli(mlp(z; 20; tanh));
        encoder q(z | x) = mlp(x; 20; tanhh);
    }
}

fn main() {
    // Only the declaration's error is reported, not a cascade from the uses of `M`.
    let dev = Cpu::default();
    let m = M::new(&dev, 0);
    let _ = m.sample(2, 0);
}
