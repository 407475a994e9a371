//! Errors that say where, what, and what is allowed.

use std::fmt;
use std::ops::Range;

/// A scenario or topology file that cannot become a configuration.
///
/// It carries the position of the offending field (1-based line and
/// column), the field's name, its value as the file wrote it, and the
/// reason, which says what is allowed. The CLI prints it after the file's
/// name: `FILE:LINE:COLUMN: field = value: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// Line of the offending field, if known.
    pub line: Option<usize>,
    /// Column of the offending field, if known.
    pub column: Option<usize>,
    /// The field, as the file names it (`fault[2].end_s`).
    pub field: Option<String>,
    /// The value as written, in the file's unit.
    pub value: Option<String>,
    /// What is wrong and what is allowed.
    pub reason: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{l}:{c}: ")?,
            (Some(l), None) => write!(f, "{l}: ")?,
            _ => {}
        }
        match (&self.field, &self.value) {
            (Some(k), Some(v)) => write!(f, "{k} = {v}: ")?,
            (Some(k), None) => write!(f, "{k}: ")?,
            _ => {}
        }
        f.write_str(&self.reason)
    }
}

/// Turns byte spans of one text into lines and columns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Locator<'t> {
    text: &'t str,
}

impl<'t> Locator<'t> {
    pub(crate) fn new(text: &'t str) -> Locator<'t> {
        Locator { text }
    }

    /// 1-based line and column (in characters) of a span's start.
    pub(crate) fn at(&self, span: &Range<usize>) -> (usize, usize) {
        let start = span.start.min(self.text.len());
        let start = (0..=start)
            .rev()
            .find(|&i| self.text.is_char_boundary(i))
            .unwrap_or(0);
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// The text of `span`: a value as the file wrote it.
    pub(crate) fn written(&self, span: &Range<usize>) -> String {
        self.text
            .get(span.clone())
            .map_or_else(String::new, |t| t.trim().to_string())
    }

    /// An error at `span` about `field` (written `value`).
    pub(crate) fn error(
        &self,
        span: Option<&Range<usize>>,
        field: impl Into<String>,
        value: Option<String>,
        reason: impl Into<String>,
    ) -> ScenarioError {
        let (line, column) = span.map(|s| self.at(s)).unzip();
        ScenarioError {
            line,
            column,
            field: Some(field.into()),
            value,
            reason: reason.into(),
        }
    }

    /// An error at `span` with only a reason.
    pub(crate) fn plain(
        &self,
        span: Option<&Range<usize>>,
        reason: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            field: None,
            ..self.error(span, "", None, reason)
        }
    }
}
