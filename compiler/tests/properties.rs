//! Property tests: the parser never panics, and `fmt` is idempotent and keeps meaning.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use svcmodel_compiler::diagnostic::Diagnostics;
use svcmodel_compiler::{compile_str, fmt, syntax};
use svcmodel_model::FileId;

/// The model as JSON with every span removed: what a file means, not where it says it.
fn meaning(text: &str) -> (serde_json::Value, Vec<String>) {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("span");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let compilation = compile_str("main.svc", text);
    let mut json = serde_json::to_value(&compilation.model).expect("the model serialises");
    strip(&mut json);
    let codes = compilation
        .diagnostics
        .iter()
        .map(|d| d.code.to_string())
        .collect();
    (json, codes)
}

fn format(text: &str) -> Option<String> {
    let mut diagnostics = Diagnostics::default();
    let file = syntax::parse(text, FileId(0), &mut diagnostics);
    (!diagnostics.has_errors()).then(|| fmt::format_file(&file))
}

const TOKENS: &[&str] = &[
    "service",
    "environment",
    "policy",
    "system",
    "import",
    "param",
    "requires",
    "config",
    "env",
    "type",
    "int",
    "version",
    "when",
    "require",
    "true",
    "x",
    "a.b",
    "service.data.size",
    "\"x\"",
    "\"1.0.0\"",
    "\"${a.b.c}\"",
    "\"${\"",
    "\"\\q\"",
    "\"open",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "=",
    ",",
    ".",
    "..",
    "==",
    "!=",
    "<=",
    ">",
    "&&",
    "||",
    "!",
    "-",
    "in",
    "0",
    "1.5",
    "4Gi",
    "250m",
    "99.9%",
    "5ms",
    "\n",
    "\n\n",
    "# note\n",
    "// note\n",
    "@",
    "'",
    "\t",
    "é",
    "\u{2028}",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec((0..TOKENS.len(), prop::bool::ANY), 0..80).prop_map(|picks| {
        let mut out = String::new();
        for (i, space) in picks {
            out.push_str(TOKENS[i]);
            if space {
                out.push(' ');
            }
        }
        out
    })
}

const ATOMS: &[&str] = &[
    "1",
    "4Gi",
    "250m",
    "99.9%",
    "\"x\"",
    "\"${a.b.c}\"",
    "true",
    "a.b",
    "service.replicas",
    "[1, 2]",
    "[\n1, # c\n2\n]",
    "{ a = 1, b = \"x\" }",
    "{\n a = 1 # c\n}",
    "template(\"t\")",
    "(1)",
    "-2",
    "[]",
    "{}",
];
const OPS: &[&str] = &[" == ", " && ", " || ", " in ", " < "];

/// Lines shaped like items (`key label = expr`, `key { ... }`), to reach the formatter.
fn item_soup() -> impl Strategy<Value = String> {
    let expr = (
        0..ATOMS.len(),
        prop::option::of((0..OPS.len(), 0..ATOMS.len())),
        prop::bool::ANY,
    )
        .prop_map(|(a, op, negate)| {
            let mut out = String::new();
            if negate {
                out.push('!');
            }
            out.push_str(ATOMS[a]);
            if let Some((o, b)) = op {
                out.push_str(OPS[o]);
                out.push_str(ATOMS[b]);
            }
            out
        });
    let item = (0u8..6, expr, prop::bool::ANY, 0u8..3);
    prop::collection::vec(item, 0..12).prop_map(|items| {
        let mut out = String::new();
        let mut open = 0;
        for (shape, expr, comment, blank) in items {
            out.push_str(&"\n".repeat(blank as usize));
            match shape {
                0 => out.push_str(&format!("key = {expr}")),
                1 => out.push_str(&format!("env \"NAME\" = {expr}")),
                2 => {
                    out.push_str("block \"l\" {");
                    open += 1;
                }
                3 if open > 0 => {
                    out.push('}');
                    open -= 1;
                }
                4 => out.push_str("near \"x\""),
                _ => out.push_str("range = 1..64"),
            }
            if comment {
                out.push_str(" # c");
            }
            out.push('\n');
        }
        out.push_str(&"}\n".repeat(open));
        out
    })
}

/// A random but valid model, printed with random layout and comments.
fn layout_model() -> impl Strategy<Value = String> {
    let service = (
        0u8..4,
        (0u64..20, 0u64..20, 0u64..20),
        1i64..50,
        prop::collection::vec(0u8..8, 0..6),
        prop::bool::ANY,
        0u8..3,
    );
    prop::collection::vec(service, 1..5).prop_map(|services| {
        let mut out = String::from(
            "# generated\nenvironment \"env\" { target = \"local\", tier = \"prod\" }\n",
        );
        let count = services.len();
        for (i, (style, (major, minor, patch), default, layout, inline, blanks)) in
            services.into_iter().enumerate()
        {
            let sep = |k: usize| -> &'static str {
                match layout.get(k % layout.len().max(1)).copied().unwrap_or(0) {
                    0 => "\n  ",
                    1 => "\n\n    ",
                    2 => "  # note\n ",
                    3 => "\n// between\n",
                    _ => "\n",
                }
            };
            out.push_str(&"\n".repeat(blanks as usize));
            out.push_str(&format!("service \"s{i}\" {{{}", sep(0)));
            out.push_str(&format!("version = \"{major}.{minor}.{patch}\"{}", sep(1)));
            out.push_str(&format!("image=\"img/s{i}:${{version}}\"{}", sep(2)));
            if inline {
                out.push_str(&format!(
                    "param \"workers\" {{ type = int, default = {default}, range = 1..64, doc = \"n\" }}{}",
                    sep(3)
                ));
            } else {
                out.push_str(&format!(
                    "param \"workers\" {{{}type = int{}default = {default}{}range = 1..64\n}}{}",
                    sep(3),
                    sep(4),
                    sep(5),
                    sep(6)
                ));
            }
            out.push_str(&format!(
                "provides \"http\" {{ port = {} }}{}",
                18000 + i,
                sep(7)
            ));
            if i + 1 < count {
                let next = i + 1;
                out.push_str(&format!(
                    "requires \"s{next}\" {{ version = \"*\", via = \"http\", latency = {}ms }}{}",
                    style as u32 + 1,
                    sep(8)
                ));
                out.push_str(&format!(
                    "config {{{}env \"URL\" = \"http://${{s{next}.http.host}}:${{s{next}.http.port}}\"{}env \"W\" = param.workers\n    args = [\"--x\",{}\"y\"]\n}}\n",
                    sep(9),
                    sep(10),
                    sep(11)
                ));
            }
            match style {
                0 => out.push_str("resources { cpu = 250m, memory = 512Mi }\n"),
                1 => out.push_str("  criticality = \"high\"\n  replicas = 2 # two\n"),
                2 => out.push_str("health { http = \"http\", path = \"/healthz\" }\n"),
                _ => out.push_str("data {\n classification = \"pii\"\n size = 1Gi }\n"),
            }
            out.push_str("}\n");
        }
        out.push_str(
            "policy \"p\" {\n  when = service.data.classification == \"pii\" && !(service.replicas > 3)\n  require = environment.tier in [\"prod\", \"test\"]\n  because = \"why\"\n}\n",
        );
        out
    })
}

fn comments(text: &str) -> usize {
    text.matches("# note").count()
        + text.matches("// between").count()
        + text.matches("# two").count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = compile_str("main.svc", &text);
    }

    #[test]
    fn the_parser_never_panics_on_token_soup(text in token_soup()) {
        let _ = compile_str("main.svc", &text);
    }

    #[test]
    fn fmt_is_idempotent_and_keeps_meaning_on_any_parsable_soup(text in token_soup()) {
        if let Some(formatted) = format(&text) {
            let again = format(&formatted);
            prop_assert_eq!(again.as_deref(), Some(formatted.as_str()), "fmt is not idempotent");
            prop_assert_eq!(meaning(&text), meaning(&formatted));
            prop_assert_eq!(comments(&text), comments(&formatted), "a comment was lost");
        }
    }

    #[test]
    fn fmt_is_idempotent_and_keeps_meaning_on_item_soup(text in item_soup()) {
        let formatted = format(&text).expect("item soup parses");
        let again = format(&formatted);
        prop_assert_eq!(again.as_deref(), Some(formatted.as_str()), "fmt is not idempotent:\n{}", text);
        prop_assert_eq!(meaning(&text), meaning(&formatted));
        prop_assert_eq!(text.matches("# c").count(), formatted.matches("# c").count(), "a comment was lost");
    }

    #[test]
    fn fmt_is_idempotent_and_keeps_meaning_on_models(text in layout_model()) {
        let formatted = format(&text).expect("generated models parse");
        let again = format(&formatted);
        prop_assert_eq!(again.as_deref(), Some(formatted.as_str()), "fmt is not idempotent");
        let (model, codes) = meaning(&text);
        prop_assert!(codes.is_empty(), "generated model has diagnostics {:?}:\n{}", codes, text);
        prop_assert_eq!((model, codes), meaning(&formatted));
        prop_assert_eq!(comments(&text), comments(&formatted), "a comment was lost");
    }
}
