//! The default plugins, built from `guest-plugins/` by `build.rs` and
//! embedded in the binary: `source = "builtin:NAME"` needs no file on disk.

macro_rules! guest {
    ($file:literal) => {
        include_bytes!(concat!(env!("SWITCHYARD_GUEST_WASM_DIR"), "/", $file))
    };
}

/// Every builtin plugin: its name and its component.
pub const BUILTINS: &[(&str, &[u8])] = &[
    ("forwarded-proto", guest!("forwarded_proto.wasm")),
    ("https-redirect", guest!("https_redirect.wasm")),
    ("acme-challenge", guest!("acme_challenge.wasm")),
    ("round-robin", guest!("round_robin.wasm")),
];

/// The component of the builtin plugin `name`.
pub fn builtin(name: &str) -> Option<&'static [u8]> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

/// The builtin plugins' names, comma-separated (for messages).
pub fn names() -> String {
    BUILTINS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// Where the build put the fixture plugins (trap, spin, memory-hog...),
/// for tests and benchmarks.
pub const GUEST_WASM_DIR: &str = env!("SWITCHYARD_GUEST_WASM_DIR");
