//! Compile-time tests of the `dlvm!` DSL: every mistake in `tests/ui/fail` must be rejected with
//! the message pinned in its `.stderr` snapshot, and every program in `tests/ui/pass` must build.
//!
//! Regenerate the snapshots after an intended change of a message with
//! `TRYBUILD=overwrite cargo test --test ui`, then read every changed `.stderr` (and update
//! `docs/errors.md`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
