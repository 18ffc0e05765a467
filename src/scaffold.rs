//! `switchyard plugin new`: a new plugin project from the templates in
//! `templates/plugin/LANG/`, embedded in the binary. Each project builds
//! with its language's public toolchain (`build.sh`), carries a
//! configuration to try it (`switchyard.toml`) and an end-to-end test
//! (`templates/plugin/test.sh`, shared by every language: build, start the
//! proxy and an origin, check two requests), plus a copy of the WIT
//! contract it is built against.

use std::path::{Path, PathBuf};

/// The languages there is a template for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust, built with cargo for wasm32-wasip2.
    Rust,
    /// C, built with clang, wit-bindgen and wasm-tools.
    C,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-js.
    Js,
}

/// Why a plugin project could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// Not a plugin name.
    #[error("plugin name {0:?}: use lower-case letters, digits and dashes, starting with a letter (e.g. my-router)")]
    BadName(String),
    /// The directory holds files already.
    #[error("{} already exists and is not empty", .0.display())]
    NotEmpty(PathBuf),
    /// A file could not be written.
    #[error("cannot write {}", .0.display())]
    Write(PathBuf, #[source] std::io::Error),
}

/// One template file: its path in the project and its text.
type Template = (&'static str, &'static str);

macro_rules! templates {
    ($lang:literal: $($file:literal),+ $(,)?) => {
        &[$(($file, include_str!(concat!("../templates/plugin/", $lang, "/", $file)))),+]
    };
}

const RUST: &[Template] =
    templates!("rust": "Cargo.toml", "src/lib.rs", "build.sh", "switchyard.toml", "README.md", ".gitignore");
const C: &[Template] = templates!("c": "plugin.c", "build.sh", "switchyard.toml", "README.md", ".gitignore");
const PYTHON: &[Template] = templates!("python": "app.py", "build.sh", "switchyard.toml", "README.md", ".gitignore");
const JS: &[Template] = templates!("js": "app.js", "package.json", "package-lock.json", "build.sh", "switchyard.toml", "README.md", ".gitignore");
/// The end-to-end test, the same for every language (it only builds,
/// starts the proxy and an origin, and sends two requests).
const TEST_SH: &str = include_str!("../templates/plugin/test.sh");
/// The golden tests `switchyard plugin test` runs, also the same for every
/// language (the templates behave alike).
const PLUGIN_TEST: &str = include_str!("../templates/plugin/plugin-test.toml");
const WIT: &str = include_str!("../wit/plugin.wit");
/// The Rust SDK (`sdk/rust`), copied verbatim into a Rust project as
/// `switchyard-plugin/` (it finds the project's `wit/` one level up).
const RUST_SDK: &[Template] = &[
    ("switchyard-plugin/Cargo.toml", include_str!("../sdk/rust/Cargo.toml")),
    ("switchyard-plugin/build.rs", include_str!("../sdk/rust/build.rs")),
    ("switchyard-plugin/README.md", include_str!("../sdk/rust/README.md")),
    ("switchyard-plugin/src/lib.rs", include_str!("../sdk/rust/src/lib.rs")),
    (
        "switchyard-plugin/src/__adapters.rs",
        include_str!("../sdk/rust/src/__adapters.rs"),
    ),
    (
        "switchyard-plugin/src/balancer.rs",
        include_str!("../sdk/rust/src/balancer.rs"),
    ),
    (
        "switchyard-plugin/src/config.rs",
        include_str!("../sdk/rust/src/config.rs"),
    ),
    (
        "switchyard-plugin/src/decision.rs",
        include_str!("../sdk/rust/src/decision.rs"),
    ),
    (
        "switchyard-plugin/src/helpers.rs",
        include_str!("../sdk/rust/src/helpers.rs"),
    ),
    ("switchyard-plugin/src/log.rs", include_str!("../sdk/rust/src/log.rs")),
    (
        "switchyard-plugin/src/response.rs",
        include_str!("../sdk/rust/src/response.rs"),
    ),
];

impl Language {
    /// Files copied as they are (no placeholders): the language's SDK.
    fn sdk(self) -> &'static [Template] {
        match self {
            Language::Rust => RUST_SDK,
            Language::C | Language::Python | Language::Js => &[],
        }
    }

    fn templates(self) -> &'static [Template] {
        match self {
            Language::Rust => RUST,
            Language::C => C,
            Language::Python => PYTHON,
            Language::Js => JS,
        }
    }
}

/// Writes a new plugin project named `name` into `dir`; the files written.
pub fn new_plugin(language: Language, name: &str, dir: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !valid {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(ScaffoldError::NotEmpty(dir.to_path_buf()));
    }
    let snake = name.replace('-', "_");
    let files = language
        .templates()
        .iter()
        .chain([&("test.sh", TEST_SH), &("plugin-test.toml", PLUGIN_TEST)])
        .map(|(path, text)| (*path, text.replace("{{name_snake}}", &snake).replace("{{name}}", name)))
        .chain(std::iter::once(("wit/plugin.wit", WIT.to_string())))
        .chain(
            // Verbatim: the SDK is Rust, braces and all.
            language.sdk().iter().map(|(path, text)| (*path, text.to_string())),
        );
    let mut written = Vec::new();
    for (path, text) in files {
        let target = dir.join(path);
        write(&target, &text, path.ends_with(".sh")).map_err(|e| ScaffoldError::Write(target.clone(), e))?;
        written.push(target);
    }
    Ok(written)
}

/// Writes a project file (the CLI runs no runtime while it does).
#[allow(clippy::disallowed_methods)]
fn write(path: &Path, text: &str, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)?;
    if executable {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_rust_sdk_is_copied() {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk/rust");
        let mut on_disk = vec!["Cargo.toml".to_string(), "build.rs".into(), "README.md".into()];
        for entry in std::fs::read_dir(sdk.join("src")).unwrap() {
            on_disk.push(format!("src/{}", entry.unwrap().file_name().to_string_lossy()));
        }
        let mut copied: Vec<String> = RUST_SDK
            .iter()
            .map(|(path, _)| path.trim_start_matches("switchyard-plugin/").to_string())
            .collect();
        on_disk.sort();
        copied.sort();
        assert_eq!(on_disk, copied, "RUST_SDK must list every file of sdk/rust");
    }

    #[test]
    fn names_are_checked_and_placeholders_filled() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["My", "9lives", "a_b", "trailing-", ""] {
            assert!(matches!(
                new_plugin(Language::Rust, bad, dir.path()),
                Err(ScaffoldError::BadName(_))
            ));
        }
        let project = dir.path().join("my-router");
        let files = new_plugin(Language::Rust, "my-router", &project).unwrap();
        assert!(files.iter().any(|f| f.ends_with("wit/plugin.wit")));
        assert!(files.iter().any(|f| f.ends_with("switchyard-plugin/src/lib.rs")));
        for file in files
            .iter()
            .filter(|f| !f.starts_with(project.join("switchyard-plugin")))
        {
            let text = std::fs::read_to_string(file).unwrap();
            assert!(!text.contains("{{"), "{} keeps a placeholder", file.display());
        }
        let cargo = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("my_router") || cargo.contains("my-router"));
        assert!(matches!(
            new_plugin(Language::Rust, "my-router", &project),
            Err(ScaffoldError::NotEmpty(_))
        ));
    }
}
