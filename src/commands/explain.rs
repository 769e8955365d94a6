//! `svcmodel explain CODE`: the long explanation of a diagnostic code.

use svcmodel_compiler::codes::Code;
use svcmodel_compiler::explain;

use crate::exit::Exit;

pub fn run(code: Option<&str>, list: bool) -> Exit {
    if list {
        for code in Code::ALL {
            println!("{code}  {}", code.title());
        }
        return Exit::Success;
    }
    let text = code.unwrap_or_default();
    let Some(code) = Code::parse(text) else {
        eprintln!("error: `{text}` is not a svcmodel diagnostic code");
        eprintln!("help: run `svcmodel explain --list` to see every code");
        return Exit::Usage;
    };
    print!("{}", render(code));
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
