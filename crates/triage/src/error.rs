//! Errors as values: one opaque [`Error`] with a [`ErrorKind`], and the
//! rule-file [`Diagnostic`]s behind a rule-set error. The same
//! [`Diagnostic`] type, with [`Severity::Warning`], carries the lints of
//! [`crate::lint`].

use std::fmt;

/// What went wrong, broadly. More kinds may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A rule file or directory could not be read.
    Io,
    /// One or more rule files are invalid; see [`Error::diagnostics`].
    Rules,
    /// The rule set loaded, but some of its inline tests fail (strict mode).
    RuleTests,
    /// The rule set exceeds a size limit (phrases, regex size, automaton).
    Limit,
}

/// The error type of this crate.
///
/// Opaque on purpose: match on [`Error::kind`], read [`Error::diagnostics`]
/// for rule-file problems, and print it with `Display`.
///
/// ```
/// use portal_triage::{ErrorKind, RuleSet};
/// let err = RuleSet::from_sources([("bad.toml", "[[rule]]\nid = 3\n")]).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Rules);
/// assert!(err.to_string().contains("bad.toml:2:"));
/// ```
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    diagnostics: Vec<Diagnostic>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            diagnostics: Vec::new(),
        }
    }

    pub(crate) fn with_diagnostics(kind: ErrorKind, diagnostics: Vec<Diagnostic>) -> Error {
        let message = format!(
            "{} error{} in the rule set",
            diagnostics.len(),
            if diagnostics.len() == 1 { "" } else { "s" }
        );
        Error {
            kind,
            message,
            diagnostics,
        }
    }

    /// The broad kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Every problem found in the rule files, in file and line order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.diagnostics.is_empty() {
            return f.write_str(&self.message);
        }
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The rule set cannot be used as written: it does not load
    /// (`E0001`-`E0011`), an inline test fails (`E0010`), or a combination
    /// can never be met (`E0006`).
    Error,
    /// The rule set loads, but probably does not do what its author meant
    /// (the lints `W0001`-`W0009`, see [`crate::lint`]).
    Warning,
}

impl Severity {
    /// `error` or `warning`, as shown in `path:line:col: error[CODE]: ...`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in a rule file, located by path, line and column (1-based):
/// an error that stops a rule set from loading ([`Error::diagnostics`]) or a
/// warning from [`crate::lint`], told apart by [`Diagnostic::severity`].
///
/// Displayed as `path:line:col: error[CODE]: message` (or
/// `warning[CODE]`), then the source line and a caret under the column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The rule file's path (or name, for built-in and in-memory sources).
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// A stable code such as `E0002` or `W0001`; see `docs/rules.md`.
    pub code: &'static str,
    /// What is wrong and, where it helps, what to do.
    pub message: String,
    /// The offending line of the rule file, for display (empty when the
    /// file's text is not known).
    pub source_line: String,
}

impl Diagnostic {
    /// An error at byte `offset` of the rule file `source` named `path`:
    /// its line, column and source line are worked out from the text.
    pub(crate) fn at(
        path: &str,
        source: &str,
        offset: usize,
        code: &'static str,
        message: impl Into<String>,
    ) -> Diagnostic {
        let offset = offset.min(source.len());
        let offset = (0..=offset)
            .rev()
            .find(|&o| source.is_char_boundary(o))
            .unwrap_or(0);
        let before = &source[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = source[line_start..offset].chars().count() + 1;
        let source_line = source[line_start..]
            .lines()
            .next()
            .unwrap_or("")
            .trim_end()
            .to_string();
        Diagnostic {
            severity: Severity::Error,
            path: path.to_string(),
            line,
            column,
            code,
            message: message.into(),
            source_line,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}[{}]: {}",
            self.path, self.line, self.column, self.severity, self.code, self.message
        )?;
        snippet(f, self.line, self.column, &self.source_line)
    }
}

/// The source line under a diagnostic, rustc style, with a caret at
/// `column` (nothing when the line is not known).
fn snippet(
    f: &mut fmt::Formatter<'_>,
    line: usize,
    column: usize,
    source_line: &str,
) -> fmt::Result {
    if source_line.is_empty() {
        return Ok(());
    }
    writeln!(f)?;
    let gutter = line.to_string().len();
    writeln!(f, "{:gutter$} |", "")?;
    writeln!(f, "{line} | {source_line}")?;
    write!(f, "{:gutter$} | {:>col$}", "", "^", col = column.max(1))
}
