//! Any text given to the configuration parser yields a configuration or a
//! list of problems, each placed in the file; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard::config::Config;

fuzz_target!(|text: &str| {
    let path = std::path::Path::new("/nonexistent/fuzz.toml");
    if let Err(error) = Config::parse(path, text) {
        for problem in error.problems() {
            assert!(problem.line <= text.lines().count() + 1, "{problem}");
            let _ = problem.to_string();
        }
    }
});
