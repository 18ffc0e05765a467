//! The example plugins of `examples/plugins/`, built with cargo exactly as
//! a plugin author would, loaded from their files by a running proxy, and
//! driven through real sockets (the cases are in `examples/cases.rs`).

mod support;

fn component(name: &str) -> String {
    support::rust_example(name)
}

#[path = "examples/cases.rs"]
mod cases;
