//! What rendering can find wrong: problems carry model spans; the CLI turns them into
//! diagnostics with stable codes (E07xx), so this crate needs no source text.

use svcmodel_model::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProblemKind {
    /// E0701: a model feature the target cannot express.
    Unsupported,
    /// E0702: a name the target's platform does not accept.
    InvalidName,
    /// E0703: a value no engine can carry (a NUL in a variable, a secret in an image).
    Unrepresentable,
    /// E0704: two services on one host listening on the same port.
    PortClash,
    /// E0705: a template that fails to render (a missing value in strict mode, a
    /// syntax error, an unknown helper).
    Template,
    /// E0706: a custom target's `target.toml` that is missing or wrong.
    TargetManifest,
}

/// Where in a template file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateLocation {
    /// The template's path relative to its target folder, e.g. `manifest.yaml.hbs`.
    pub template: String,
    /// 1-based; 0 when unknown.
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub warning: bool,
    /// Lowercase, names in backticks.
    pub message: String,
    pub labels: Vec<(Span, String)>,
    pub template: Option<TemplateLocation>,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(kind: ProblemKind, message: impl Into<String>) -> Self {
        Problem {
            kind,
            warning: false,
            message: message.into(),
            labels: Vec::new(),
            template: None,
            help: None,
        }
    }

    pub fn warning(mut self) -> Self {
        self.warning = true;
        self
    }

    pub fn label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push((span, message.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn at_template(mut self, location: TemplateLocation) -> Self {
        self.template = Some(location);
        self
    }
}
