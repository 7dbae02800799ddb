//! Tests that run a copy of their own test binary as a child process (to kill it, or to hold a
//! lock from another process): the child runs one named test with an environment variable set.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A child process that is killed when dropped, so a failing assertion never leaves it running.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Starts this test binary again running only the test `name`, with `key` set to `dir` (the
/// test reads `key` to know it is the child), its output discarded.
pub fn spawn_test(name: &str, key: &str, dir: &Path) -> Killed {
    let child = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([name, "--exact", "--test-threads=1"])
        .env(key, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the test binary starts again");
    Killed(child)
}
