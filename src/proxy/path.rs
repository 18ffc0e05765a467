//! The path plugins see and servers get, normalised so that a prefix check
//! in a plugin means what it says: `/%61pi/x`, `/foo/../api/x` and
//! `//api/x` are all `/api/x` before any plugin runs (HAProxy's
//! `normalize-uri`, Envoy's `normalize_path` and `merge_slashes`, what nginx
//! does on its own). Per listener (`normalize_path`), in this order:
//!
//! 1. percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) are
//!    decoded and the rest of the percent-encoding upper-cased (RFC 3986
//!    6.2.2.2); a `%` not followed by two hex digits is refused;
//! 2. an encoded slash (`%2F`) is kept, refused, or decoded, as the listener
//!    says (servers differ on whether it separates segments);
//! 3. repeated slashes are merged;
//! 4. dot segments are removed (RFC 3986 5.2.4);
//! 5. with `lowercase`, the path is lower-cased (for servers that ignore
//!    case).
//!
//! A path that changes is forwarded as normalised (plugins and the server
//! see the same), or the request is refused (`on_change = "refuse"`).

use crate::config::{EscapedSlashes, PathNormalization};

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRefusal {
    /// A `%` without two hex digits.
    BadPercentEncoding,
    /// `%2F` with `escaped_slashes = "refuse"`.
    EscapedSlash,
    /// The normalised path differs, with `on_change = "refuse"`.
    NotNormal,
}

impl PathRefusal {
    /// The reason given in the 400 response.
    pub fn reason(self) -> &'static str {
        match self {
            PathRefusal::BadPercentEncoding => "the path has an invalid percent-encoding",
            PathRefusal::EscapedSlash => "the path has an encoded slash (%2F)",
            PathRefusal::NotNormal => {
                "the path is not in normal form (dot segments, repeated slashes or needless escapes)"
            }
        }
    }
}

/// The normalised form of `path` (which starts with `/`), or why it is
/// refused. `None` inside `Ok` means it is already normal.
pub fn normalize(path: &str, settings: &PathNormalization) -> Result<Option<String>, PathRefusal> {
    if !settings.enabled || already_normal(path, settings) {
        return Ok(None);
    }
    let decoded = decode_unreserved(path, settings.escaped_slashes)?;
    let merged = match settings.merge_slashes {
        true => merge_slashes(&decoded),
        false => decoded,
    };
    let mut normal = remove_dot_segments(&merged);
    if settings.lowercase {
        normal = normal.to_ascii_lowercase();
    }
    if normal == path {
        return Ok(None);
    }
    if settings.refuse_changed {
        return Err(PathRefusal::NotNormal);
    }
    Ok(Some(normal))
}

/// Whether `path` has nothing any step would change: the common case,
/// found in one pass without building the normal form.
fn already_normal(path: &str, settings: &PathNormalization) -> bool {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return false;
    }
    let mut after_slash = false;
    // The current segment's length, and whether it is dots only: "." and
    // ".." are found in the same pass.
    let (mut segment, mut dots) = (0usize, true);
    for &byte in bytes {
        match byte {
            b'%' => return false,
            b'/' if after_slash && settings.merge_slashes => return false,
            b'A'..=b'Z' if settings.lowercase => return false,
            _ => {}
        }
        after_slash = byte == b'/';
        if after_slash {
            if dots && (1..=2).contains(&segment) {
                return false;
            }
            (segment, dots) = (0, true);
        } else {
            segment += 1;
            dots &= byte == b'.';
        }
    }
    !(dots && (1..=2).contains(&segment))
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn decode_unreserved(path: &str, slashes: EscapedSlashes) -> Result<String, PathRefusal> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i] as char);
            i += 1;
            continue;
        }
        let (Some(high), Some(low)) = (
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) else {
            return Err(PathRefusal::BadPercentEncoding);
        };
        let byte = high << 4 | low;
        if is_unreserved(byte) {
            out.push(byte as char);
        } else if byte == b'/' {
            match slashes {
                EscapedSlashes::Keep => out.push_str("%2F"),
                EscapedSlashes::Refuse => return Err(PathRefusal::EscapedSlash),
                EscapedSlashes::Decode => out.push('/'),
            }
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(high)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(low)]));
        }
        i += 3;
    }
    Ok(out)
}

fn merge_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut last_slash = false;
    for c in path.chars() {
        if c == '/' && last_slash {
            continue;
        }
        last_slash = c == '/';
        out.push(c);
    }
    out
}

/// RFC 3986 5.2.4, on an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    output.push("");
                }
            }
            ".." => {
                output.pop();
                if i == last {
                    output.push("");
                }
            }
            other => output.push(other),
        }
    }
    format!("/{}", output.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> PathNormalization {
        PathNormalization::default()
    }

    fn normal(path: &str) -> String {
        normalize(path, &on()).unwrap().unwrap_or_else(|| path.to_string())
    }

    #[test]
    fn the_bypasses_of_a_prefix_check_become_the_path_they_mean() {
        for (written, meant) in [
            ("/%61pi/x", "/api/x"),
            ("/%41%50%49/x", "/API/x"),
            ("/foo/../api/x", "/api/x"),
            ("//api/x", "/api/x"),
            ("/./api/x", "/api/x"),
            ("/api/./x", "/api/x"),
            ("/%2e%2e/api/x", "/api/x"),
            ("/a/b/../../api/x", "/api/x"),
            ("/../../api/x", "/api/x"),
            ("/api/x/..", "/api/"),
            ("/api/x/.", "/api/x/"),
            ("/api//x", "/api/x"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/a%20b", "/a%20b"),
        ] {
            assert_eq!(normal(written), meant, "{written}");
        }
    }

    #[test]
    fn normal_paths_are_left_alone() {
        for path in ["/", "/api/x", "/a%20b", "/index.html", "/a/b/", "/..a/b", "/a.../"] {
            assert_eq!(normalize(path, &on()), Ok(None), "{path}");
        }
    }

    #[test]
    fn the_quick_check_never_passes_a_path_the_full_one_changes() {
        let settings = [
            on(),
            PathNormalization {
                lowercase: true,
                ..on()
            },
            PathNormalization {
                merge_slashes: false,
                ..on()
            },
        ];
        let pieces = ["/", "a", "A", ".", "..", "%41", "%2F", "//", "b.c", "..x"];
        let mut checked = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let path = format!("/{a}{b}{c}");
                    for s in &settings {
                        if already_normal(&path, s) {
                            let slow = PathNormalization {
                                enabled: true,
                                ..s.clone()
                            };
                            let full = normal_slowly(&path, &slow);
                            assert_eq!(full, path, "{path} with {s:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 100, "{checked}");
        assert!(!already_normal("*", &on()), "not a path: the full steps decide");
    }

    /// The full steps, without the quick check.
    fn normal_slowly(path: &str, s: &PathNormalization) -> String {
        let decoded = decode_unreserved(path, s.escaped_slashes).unwrap();
        let merged = if s.merge_slashes {
            merge_slashes(&decoded)
        } else {
            decoded
        };
        let normal = remove_dot_segments(&merged);
        if s.lowercase {
            normal.to_ascii_lowercase()
        } else {
            normal
        }
    }

    #[test]
    fn settings() {
        assert_eq!(normalize("/a/%zz", &on()), Err(PathRefusal::BadPercentEncoding));
        assert_eq!(normalize("/a%2", &on()), Err(PathRefusal::BadPercentEncoding));
        assert_eq!(
            normalize("/a%2fb", &on()),
            Ok(Some("/a%2Fb".into())),
            "kept, case normalised"
        );
        let refuse = PathNormalization {
            escaped_slashes: EscapedSlashes::Refuse,
            ..on()
        };
        assert_eq!(normalize("/a%2Fb", &refuse), Err(PathRefusal::EscapedSlash));
        let decode = PathNormalization {
            escaped_slashes: EscapedSlashes::Decode,
            ..on()
        };
        assert_eq!(normalize("/public/..%2Fapi/x", &decode), Ok(Some("/api/x".into())));
        let strict = PathNormalization {
            refuse_changed: true,
            ..on()
        };
        assert_eq!(normalize("/foo/../api", &strict), Err(PathRefusal::NotNormal));
        assert_eq!(normalize("/api", &strict), Ok(None));
        let lower = PathNormalization {
            lowercase: true,
            ..on()
        };
        assert_eq!(normalize("/API/x", &lower), Ok(Some("/api/x".into())));
        let keep_slashes = PathNormalization {
            merge_slashes: false,
            ..on()
        };
        assert_eq!(normalize("//api", &keep_slashes), Ok(None));
        let off = PathNormalization { enabled: false, ..on() };
        assert_eq!(normalize("/foo/../api", &off), Ok(None));
    }
}
