//! Durations (`"2s"`, `"500ms"`) and sizes (`"16MiB"`) as written in the file.

use std::time::Duration;

/// Parses `"250ms"`, `"2s"`, `"1m30s"`, `"1h"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("\"{text}\" is not a duration ({e}); write e.g. \"500ms\", \"2s\" or \"1m\""))
}

/// Parses a byte size: a number with an optional unit `B`, `KiB`, `MiB`,
/// `GiB`, `KB`, `MB` or `GB`.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let bad = || format!("\"{text}\" is not a size; write e.g. \"64MiB\", \"512KiB\" or \"1048576\"");
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: usize = number.parse().map_err(|_| bad())?;
    let multiplier: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(bad()),
    };
    number.checked_mul(multiplier).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").unwrap_err().contains("500ms"));
    }
}
