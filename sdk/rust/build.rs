//! Finds the contract (`wit/plugin.wit`: in a plugin project made by
//! `switchyard plugin new`, which copies this crate, the project's `wit/`
//! one level up; in the repository, `../../wit`) and writes the bindings' invocations with its
//! absolute path, since `wit_bindgen::generate!` resolves a relative path
//! against the crate that expands it: the plugin, not this SDK.

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The worlds of `wit/plugin.wit`, each with the macro that generates a
/// plugin's bindings for it.
const WORLDS: &[&str] = &[
    "request-plugin",
    "memo-request-plugin",
    "asking-plugin",
    "body-plugin",
    "response-plugin",
    "request-response-plugin",
    "balancer-plugin",
    "rotating-balancer-plugin",
    "plugin",
];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let wit = [
        manifest.join("wit"),
        manifest.join("../wit"),
        manifest.join("../../wit"),
    ]
    .into_iter()
    .find(|dir| dir.join("plugin.wit").is_file())
    .unwrap_or_else(|| panic!("no wit/plugin.wit in {}, or one or two levels up", manifest.display()));
    let wit = wit.canonicalize().expect("the WIT directory resolves");
    println!("cargo:rerun-if-changed={}", wit.join("plugin.wit").display());
    let path = format!("{:?}", wit.display().to_string());

    let mut out = String::new();
    // The SDK's own bindings: the interfaces every plugin imports.
    writeln!(
        out,
        r#"mod generated {{
    wit_bindgen::generate!({{
        path: {path},
        inline: "package switchyard:sdk; world imports {{ import switchyard:plugin/types@0.2.0; import switchyard:plugin/host@0.2.0; import switchyard:plugin/shared@0.2.0; }}",
        world: "imports",
        generate_all,
    }});
}}"#
    )
    .expect("write to a String");
    // One macro per world: a plugin's exports, with the imports taken
    // from this crate so every plugin shares its types.
    for world in WORLDS {
        let name = world.replace('-', "_");
        writeln!(
            out,
            r#"
#[doc(hidden)]
#[macro_export]
macro_rules! __switchyard_bindings_{name} {{
    () => {{
        $crate::__wit_bindgen::generate!({{
            path: {path},
            world: "switchyard:plugin/{world}@0.2.0",
            with: {{
                "switchyard:plugin/types@0.2.0": ::switchyard_plugin::types,
                "switchyard:plugin/host@0.2.0": ::switchyard_plugin::host,
                "switchyard:plugin/shared@0.2.0": ::switchyard_plugin::shared,
            }},
            runtime_path: "::switchyard_plugin::__wit_bindgen::rt",
        }});
    }};
}}"#
        )
        .expect("write to a String");
    }
    let target = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("bindings.rs");
    std::fs::write(&target, out).expect("OUT_DIR is writable");
}
