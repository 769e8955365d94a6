//! `svcmodel explain CODE`: the long explanation of a diagnostic code.

use serde::Serialize;
use svcmodel_compiler::codes::Code;
use svcmodel_compiler::diagnostic::Diagnostic;
use svcmodel_compiler::explain;

use crate::cli::Format;
use crate::exit::Exit;
use crate::output;

/// What `svcmodel explain --format json` prints: one code explained, or with
/// `--list` every code and its title.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ExplainOutput {
    Code(CodeExplanation),
    List(CodeList),
}

/// `svcmodel explain CODE --format json`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct CodeExplanation {
    /// The version of this shape.
    format: u32,
    /// Such as `E0402`.
    code: String,
    /// The one-line summary.
    title: String,
    /// What it means and what to do, in paragraphs of plain text (Markdown-style
    /// backticks around names).
    text: String,
    /// A model file that triggers the code; `null` where none can show it alone.
    wrong: Option<String>,
    /// The same model, corrected; `null` where the code needs files on disk to show.
    right: Option<String>,
}

/// `svcmodel explain --list --format json`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct CodeList {
    /// The version of this shape.
    format: u32,
    /// Every code, in order.
    codes: Vec<CodeTitle>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct CodeTitle {
    code: String,
    title: String,
}

fn example(text: &str) -> Option<String> {
    (!text.trim().is_empty()).then(|| text.to_string())
}

pub fn run(code: Option<&str>, list: bool, format: Format) -> Exit {
    output::set_mode(format, crate::cli::Color::Auto);
    if list {
        match format {
            Format::Json => output::print_json(&ExplainOutput::List(CodeList {
                format: 1,
                codes: Code::ALL
                    .iter()
                    .map(|code| CodeTitle {
                        code: code.to_string(),
                        title: code.title().to_string(),
                    })
                    .collect(),
            })),
            Format::Human => {
                for code in Code::ALL {
                    println!("{code}  {}", code.title());
                }
            }
        }
        return Exit::Success;
    }
    let text = code.unwrap_or_default();
    let Some(code) = Code::parse(text) else {
        let hint = svcmodel_compiler::suggest::did_you_mean(
            &text.to_uppercase(),
            Code::ALL.iter().map(|c| c.as_str()),
        );
        output::failure(
            Diagnostic::error(
                Code::UnknownCode,
                format!("`{text}` is not a svcmodel diagnostic code"),
            )
            .help(
                hint.unwrap_or_else(|| {
                    "run `svcmodel explain --list` to see every code".to_string()
                }),
            ),
        );
        return Exit::Usage;
    };
    match format {
        Format::Json => {
            let explanation = explain::explain(code);
            output::print_json(&ExplainOutput::Code(CodeExplanation {
                format: 1,
                code: code.to_string(),
                title: code.title().to_string(),
                text: explanation.map_or(String::new(), |e| e.text.trim().to_string()),
                wrong: explanation.and_then(|e| example(e.wrong)),
                right: explanation.and_then(|e| example(e.right)),
            }));
        }
        Format::Human => print!("{}", render(code)),
    }
    Exit::Success
}

/// The explanation as plain text (the same words as docs/diagnostics.md).
pub fn render(code: Code) -> String {
    let mut out = format!("{code}: {}\n", code.title());
    if let Some(e) = explain::explain(code) {
        out.push('\n');
        out.push_str(e.text.trim());
        out.push_str("\n\nFor example, this is wrong:\n\n");
        out.push_str(&indent(e.wrong));
        if !e.right.is_empty() {
            out.push_str("\nThis is right:\n\n");
            out.push_str(&indent(e.right));
        }
    }
    out
}

fn indent(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("    {l}\n")
            }
        })
        .collect()
}
