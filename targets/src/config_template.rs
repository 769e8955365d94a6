//! Configuration templates: `file "/etc/app.conf" = template("app.conf.hbs")` renders
//! the file next to the declaring model file with the service's parameters, in strict
//! mode, escaped by the syntax its name says (`.json.hbs`, `.yaml.hbs`, `.toml.hbs`,
//! `.hcl.hbs`, `.env.hbs`).
//!
//! A file of any other syntax (`.conf`, `.ini`, ...) gets values as written, but a value
//! with a line break is refused (E0703): svcmodel cannot quote for a syntax it does not
//! know, and a line break is what turns a value into a second setting.

use std::collections::BTreeMap;

use handlebars::Handlebars;
use serde::Serialize;

use crate::escape::{self, Format};
use crate::problem::{Problem, ProblemKind};

/// How values are escaped in a configuration template, from its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Known(Format),
    /// Values as written, line breaks refused.
    Lines,
}

impl Syntax {
    pub fn of(path: &str) -> Syntax {
        let name = path.strip_suffix(".hbs").unwrap_or(path);
        let extension = name.rsplit_once('.').map_or("", |(_, e)| e);
        match extension {
            "json" | "toml" => Syntax::Known(Format::Json),
            "yaml" | "yml" => Syntax::Known(Format::Yaml),
            "hcl" | "tf" | "nomad" => Syntax::Known(Format::Hcl),
            "env" => Syntax::Known(Format::Env),
            _ => Syntax::Lines,
        }
    }
}

/// What a configuration template sees.
#[derive(Serialize)]
pub struct Context<'a> {
    pub service: ServiceContext<'a>,
    pub environment: &'a crate::view::EnvironmentView,
    /// Every parameter but secrets, by name: numbers and booleans as themselves,
    /// quantities as text (`30s`), lists and maps as JSON.
    pub param: BTreeMap<&'a str, serde_json::Value>,
    /// The service's own ports, by name.
    pub port: BTreeMap<&'a str, u16>,
    /// The services it requires, by name: `host`, `port`, `url` as this target
    /// reaches them (absent on Nomad, where addresses are only known at run time).
    pub requires: BTreeMap<&'a str, Address>,
}

#[derive(Serialize)]
pub struct ServiceContext<'a> {
    pub name: &'a str,
    pub service: &'a str,
    pub version: String,
}

#[derive(Serialize)]
pub struct Address {
    pub host: String,
    pub port: u16,
    pub url: String,
}

/// Marks a line break in a value of a `Lines` template: no configuration file holds
/// a NUL, so one in the output means a value tried to start a new line.
const LINE_BREAK_MARK: char = '\0';

/// Renders `text` (the template `path`) with `context`.
pub fn render(path: &str, text: &str, context: &Context) -> Result<String, Box<Problem>> {
    let syntax = Syntax::of(path);
    let single = std::collections::BTreeMap::from([(path.to_string(), text.to_string())]);
    crate::render::check_structure(&single).map_err(|problem| {
        Box::new(Problem {
            template: None,
            message: format!("configuration {}", problem.message),
            ..*problem
        })
    })?;
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    match syntax {
        Syntax::Known(format) => registry.register_escape_fn(move |t| escape::quote(format, t)),
        Syntax::Lines => registry.register_escape_fn(|t| {
            t.chars()
                .map(|c| {
                    if matches!(c, '\n' | '\r' | '\0' | '\u{85}' | '\u{2028}' | '\u{2029}') {
                        LINE_BREAK_MARK
                    } else {
                        c
                    }
                })
                .collect()
        }),
    }
    crate::render::register_value_helpers(&mut registry);
    let failed = |message: String| {
        Box::new(
            Problem::new(
                ProblemKind::Template,
                format!("configuration template `{path}` failed: {message}"),
            )
            .help("use `param.NAME`, `port.NAME`, `requires.SERVICE.host|port|url`, `service.name|version` and `environment.*`; secrets are not available to templates"),
        )
    };
    registry.register_template_string(path, text).map_err(|e| {
        let at = e
            .pos()
            .map(|(l, _)| format!(" (line {l})"))
            .unwrap_or_default();
        failed(format!("{}{at}", e.reason()))
    })?;
    let rendered = registry.render(path, context).map_err(|e| {
        let at = e
            .line_no
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        failed(format!("{}{at}", crate::render::describe(&e)))
    })?;
    if syntax == Syntax::Lines && rendered.contains(LINE_BREAK_MARK) {
        return Err(Box::new(
            Problem::new(
                ProblemKind::Unrepresentable,
                format!(
                    "a value with a line break cannot be written into `{path}`: svcmodel does not know its syntax"
                ),
            )
            .help("remove the line break from the value, or name the template after its syntax (`.json.hbs`, `.yaml.hbs`, `.toml.hbs`) so values are quoted"),
        ));
    }
    Ok(rendered)
}
