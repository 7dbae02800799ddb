//! `new` reports an out-of-range family argument given as an expression (checked at run time)
//! at the caller's line, not at the `dlvm!` declaration: it is `#[track_caller]`.

use dlvm::prelude::*;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

const FLOOR: f32 = -1.0;

dlvm! {
    model BadFloor {
        latent z: 2 ~ Normal(0, I);
        observed x: 3 ~ Gaussian(mlp(z; 4; tanh), xi = FLOOR);
        encoder q(z | x) = mlp(x; 4; tanh);
    }
}

fn main() {
    let location = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&location);
    panic::set_hook(Box::new(move |info| {
        let at = info.location().map(|l| (l.file().to_owned(), l.line()));
        *seen.lock().unwrap() = at;
    }));
    let dev = Cpu::default();
    let (built, line) = (panic::catch_unwind(AssertUnwindSafe(|| BadFloor::new(&dev, 0))), line!());
    let _ = panic::take_hook();
    assert!(built.is_err(), "a negative floor must not build");
    let (file, at) = location.lock().unwrap().clone().expect("the panic has a location");
    assert_eq!((file.as_str(), at), (file!(), line), "the panic is reported at the call of `new`");
}
