//! Configuration problems: each names the file, the line and column, and the
//! field, and they are collected so one run of `switchyard check` reports
//! every problem at once.

use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line, or 0 when the problem has no place in the file (for
    /// example a plugin that fails to compile is reported at its `source`).
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// The field's path in the document, e.g. `listener[0].default_backend`.
    pub field: String,
    /// What is wrong, and where possible what would be right.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.field, self.message)
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It was read, and has problems.
    #[error("{} has {} problem(s):\n{}", file.display(), problems.len(), ProblemList(problems))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Every problem, in file order.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// Every problem found (empty for a read error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

/// Problems shown one per line, indented: the one way every command and
/// log shows a list of them.
pub struct ProblemList<'a>(pub &'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {problem}")?;
        }
        Ok(())
    }
}

/// Collects problems while a document is checked, turning byte offsets into
/// lines and columns.
pub(crate) struct Problems<'a> {
    file: &'a Path,
    text: &'a str,
    found: Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        Problems {
            file,
            text,
            found: Vec::new(),
        }
    }

    /// Records a problem at a byte offset of the document.
    pub(crate) fn at(&mut self, offset: Option<usize>, field: impl Into<String>, message: impl Into<String>) {
        let (line, column) = offset.map(|o| line_column(self.text, o)).unwrap_or((0, 0));
        self.found.push(Problem {
            file: self.file.to_path_buf(),
            line,
            column,
            field: field.into(),
            message: message.into(),
        });
    }

    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// `value` if no problem was found, else every problem.
    pub(crate) fn into_result<T>(self, value: T) -> Result<T, ConfigError> {
        if self.found.is_empty() {
            Ok(value)
        } else {
            Err(self.into_error())
        }
    }

    pub(crate) fn into_error(mut self) -> ConfigError {
        self.found.sort_by_key(|p| (p.line, p.column));
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            problems: self.found,
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbb = 2\n\nccc";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 9), (2, 4));
        assert_eq!(line_column(text, 13), (3, 1));
        assert_eq!(line_column(text, 14), (4, 1));
        assert_eq!(line_column(text, 1000), (4, 4));
    }
}
