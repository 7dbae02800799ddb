use dlvm::prelude::*;

dlvm! {}

fn main() {}
