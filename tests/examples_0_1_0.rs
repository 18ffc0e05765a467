//! The Rust examples as built against contract `switchyard:plugin@0.1.0`,
//! committed unrebuilt in `tests/compat/0.1.0/`, through the same tests as
//! fresh builds (`examples/cases.rs`): a component built for 0.1.0 loads
//! and behaves the same under this host.

mod support;

fn component(name: &str) -> String {
    format!("{}/tests/compat/0.1.0/{name}.wasm", env!("CARGO_MANIFEST_DIR"))
}

#[path = "examples/cases.rs"]
mod cases;
