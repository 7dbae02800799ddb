use dlvm::prelude::*;

dlvm! {
    model M {
        latent z: 5 ~ Normal(0, I);
        observed x: 4 ~ Bernoulli(mlp(z; 20; tanh));
        encoder q(z | x) = mlp(x; 20; tanhh);
    }
}

fn main() -> Result<(), DlvmError> {
    let dev = Cpu::default();
    let mut model = M::try_new(&dev, 0)?;
    let data = Dataset::from_npy("data.npy")?;
    let _ = Trainer::new(TrainConfig::default()).fit(&mut model, &data, None)?;
    Ok(())
}
