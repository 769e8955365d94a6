//! Diagnostics: what the compiler tells a user, collected (never first-error-wins) and
//! rendered as a compiler would (miette) or as JSON for editors and pipelines.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use serde::Serialize;
use svcmodel_model::Span;

use crate::codes::Code;
use crate::source::SourceMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A span with the text that explains it; the first label of a diagnostic is the primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// Lowercase, no trailing period, names in backticks.
    pub message: String,
    pub labels: Vec<Label>,
    /// An instruction: what to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Help that is only given when there is something to say.
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }
}

/// Where diagnostics are collected while a stage carries on.
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    /// Source text that must never be shown: a secret's value written where it does
    /// not belong. Blanked in the source map before anything is printed.
    redactions: Vec<Span>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.list.push(diagnostic);
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }

    /// Takes over another collection's diagnostics and redactions.
    pub fn append(&mut self, other: Diagnostics) {
        self.list.extend(other.list);
        self.redactions.extend(other.redactions);
    }

    /// Marks source text (a secret's value) that no output may show.
    pub fn redact(&mut self, span: Span) {
        self.redactions.push(span);
    }

    pub fn take_redactions(&mut self) -> Vec<Span> {
        std::mem::take(&mut self.redactions)
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.list.extend(other);
    }

    /// As collected, unsorted.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.list
    }

    /// In source order: by file, then position; stable for equal positions.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.list
            .sort_by_key(|d| d.primary_span().map(|s| (s.file, s.start, s.end)));
        self.list.dedup();
        self.list
    }
}

/// How a diagnostic looks on a terminal.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    pub color: bool,
    pub width: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            width: 80,
        }
    }
}

/// Renders one diagnostic as a compiler would: message, code, source excerpt with labels, help.
pub fn render(diagnostic: &Diagnostic, sources: &SourceMap, options: RenderOptions) -> String {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false);
    if let Some(plain) = render_without_snippet(diagnostic, sources) {
        return plain;
    }
    let report = MietteReport::new(diagnostic, sources);
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        // Rendering into a String cannot fail; keep the message if it ever does.
        out = format!("error[{}]: {}\n", diagnostic.code, diagnostic.message);
    }
    out
}

/// Lines longer than this are not shown as a snippet: the renderer's column arithmetic
/// has limits, and nobody reads a 100,000-character line anyway.
const MAX_SNIPPET_LINE: usize = 2000;

/// A diagnostic whose labels sit on huge lines, rendered as locations only.
fn render_without_snippet(diagnostic: &Diagnostic, sources: &SourceMap) -> Option<String> {
    let long_line = diagnostic.labels.iter().any(|label| {
        let text = &sources.get(label.span.file).text;
        let start = (label.span.start as usize).min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        line_end - line_start > MAX_SNIPPET_LINE
    });
    if !long_line {
        return None;
    }
    let mut out = format!("  × error[{}]: {}\n", diagnostic.code, diagnostic.message);
    for label in &diagnostic.labels {
        let file = sources.get(label.span.file);
        let (line, column) = file.line_col(label.span.start);
        out.push_str(&format!(
            "   --> {}:{line}:{column}: {}\n",
            file.name, label.message
        ));
    }
    if let Some(help) = &diagnostic.help {
        out.push_str(&format!("  help: {help}\n"));
    }
    Some(out)
}

/// Renders every diagnostic and a closing count.
pub fn render_all(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    options: RenderOptions,
) -> String {
    let mut out = String::new();
    for (i, diagnostic) in diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&render(diagnostic, sources, options));
    }
    out
}

/// The miette view of a diagnostic: labels in the primary file stay on it; labels in
/// other files become related reports, each with its own source.
struct MietteReport {
    message: String,
    code: String,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<MietteReport>,
}

impl MietteReport {
    fn new(diagnostic: &Diagnostic, sources: &SourceMap) -> Self {
        let severity = match diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        };
        let primary_file = diagnostic.primary_span().map(|s| s.file);
        let mut related: Vec<MietteReport> = Vec::new();
        let mut labels = Vec::new();
        for (i, label) in diagnostic.labels.iter().enumerate() {
            let span = (label.span.start as usize, label.span.len() as usize);
            let text = (!label.message.is_empty()).then(|| label.message.clone());
            if Some(label.span.file) == primary_file {
                labels.push(if i == 0 {
                    LabeledSpan::new_primary_with_span(text, span)
                } else {
                    LabeledSpan::new_with_span(text, span)
                });
            } else {
                let file = sources.get(label.span.file);
                related.push(MietteReport {
                    message: label.message.clone(),
                    code: String::new(),
                    severity: miette::Severity::Advice,
                    help: None,
                    source: Some(NamedSource::new(&file.name, file.text.clone())),
                    labels: vec![LabeledSpan::new_with_span(None, span)],
                    related: Vec::new(),
                });
            }
        }
        let source = primary_file.map(|id| {
            let file = sources.get(id);
            NamedSource::new(&file.name, file.text.clone())
        });
        let kind = match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        MietteReport {
            // rustc's header: the code beside the message, where people look first.
            message: format!("{kind}[{}]: {}", diagnostic.code, diagnostic.message),
            code: String::new(),
            severity,
            help: diagnostic.help.clone(),
            source,
            labels,
            related,
        }
    }
}

impl fmt::Debug for MietteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for MietteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MietteReport {}

impl miette::Diagnostic for MietteReport {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        (!self.code.is_empty()).then(|| Box::new(&self.code) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

/// The JSON form of a diagnostic, for editors and pipelines (described in
/// docs/diagnostics.md; schema: docs/schema/check.schema.json).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct JsonDiagnostic {
    /// The stable code, such as `E0501` (`svcmodel explain CODE`).
    pub code: String,
    pub severity: Severity,
    pub message: String,
    /// What to do about it; `null` when there is nothing to say.
    pub help: Option<String>,
    /// The first is the primary label; empty for a diagnostic about a path named on
    /// the command line.
    pub labels: Vec<JsonLabel>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct JsonLabel {
    /// Relative to the current folder where possible.
    pub file: String,
    /// Byte offsets into the file.
    pub start: u32,
    /// Byte offset of the end (exclusive).
    pub end: u32,
    /// One-based line and column (in characters) of `start` and `end`.
    pub line: usize,
    /// One-based, in characters.
    pub column: usize,
    /// The line of `end`.
    pub end_line: usize,
    /// The column of `end`.
    pub end_column: usize,
    pub message: String,
    /// The first label of a diagnostic, the one it is about.
    pub primary: bool,
}

impl JsonDiagnostic {
    pub fn new(diagnostic: &Diagnostic, sources: &SourceMap) -> Self {
        let labels = diagnostic
            .labels
            .iter()
            .enumerate()
            .map(|(i, label)| {
                let file = sources.get(label.span.file);
                let (line, column) = file.line_col(label.span.start);
                let (end_line, end_column) = file.line_col(label.span.end);
                JsonLabel {
                    file: file.name.clone(),
                    start: label.span.start,
                    end: label.span.end,
                    line,
                    column,
                    end_line,
                    end_column,
                    message: label.message.clone(),
                    primary: i == 0,
                }
            })
            .collect();
        JsonDiagnostic {
            code: diagnostic.code.to_string(),
            severity: diagnostic.severity,
            message: diagnostic.message.clone(),
            help: diagnostic.help.clone(),
            labels,
        }
    }
}
