//! Every diagnostic code has an explanation whose wrong example triggers it (snapshot of
//! the rendered diagnostic: the per-code UI test) and whose right example is clean; and
//! `docs/diagnostics.md` is generated from the same table (`UPDATE_DOCS=1` rewrites it).

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

use svcmodel_compiler::codes::Code;
use svcmodel_compiler::compile_system_str;
use svcmodel_compiler::diagnostic::{RenderOptions, render_all};
use svcmodel_compiler::explain::{EXPLANATIONS, explain};

#[test]
fn every_code_is_explained_once_in_order() {
    let explained: Vec<Code> = EXPLANATIONS.iter().map(|e| e.code).collect();
    assert_eq!(
        explained,
        Code::ALL,
        "EXPLANATIONS must list every code once, in order"
    );
}

#[test]
fn wrong_examples_trigger_their_code_and_right_examples_are_clean() {
    let mut unclean: Vec<String> = Vec::new();
    for code in Code::ALL {
        let Some(explanation) = explain(*code) else {
            panic!("{code} has no explanation");
        };
        let wrong = compile_system_str("main.svc", explanation.wrong);
        let codes: Vec<Code> = wrong.diagnostics.iter().map(|d| d.code).collect();
        if code.as_str().starts_with("E10") {
            // Running: what the machine, the engine or the state says, not the model.
            // The CLI tests (tests/deploy.rs, tests/docker.rs) meet each one.
            assert!(!wrong.has_errors(), "{code}: the example should compile");
            continue;
        }
        if code.as_str().starts_with("E08") {
            // Drift: reported by `reconcile` against what runs; tests/deploy.rs covers
            // each through the real binary on real processes.
            assert!(!wrong.has_errors(), "{code}: the example should compile");
            continue;
        }
        if code.as_str().starts_with("E07") {
            // Rendering codes: the model is sound, the target cannot take it. The CLI
            // tests (tests/render.rs) render these examples and check the code.
            if !explanation.right.is_empty() {
                assert!(
                    !wrong.has_errors(),
                    "{code}: the wrong example should compile: {codes:?}"
                );
                let right = compile_system_str("main.svc", explanation.right);
                assert!(!right.has_errors(), "{code}: the right example has errors");
            }
            continue;
        }
        if code.as_str().starts_with("E09") {
            // Placement: the model is sound, its rules cannot all hold.
            if explanation.wrong.is_empty() {
                continue;
            }
            assert!(
                !wrong.has_errors(),
                "{code}: the example should compile: {codes:?}"
            );
            let placed = place(&wrong);
            assert_eq!(
                placed.first().map(|d| d.code),
                Some(*code),
                "{code}: placing the wrong example reports {placed:?}"
            );
            let rendered = render_all(&placed, &wrong.sources, RenderOptions::default());
            insta::assert_snapshot!(code.as_str(), rendered);
            if !explanation.right.is_empty() {
                let right = compile_system_str("main.svc", explanation.right);
                assert!(
                    place(&right).is_empty(),
                    "{code}: the right example does not place"
                );
            }
            continue;
        }
        if explanation.right.is_empty() {
            // Shown only with files on disk (imports, encodings, sizes): tests/cases and
            // tests/cli.rs cover these through the real binary.
            continue;
        }
        assert_eq!(
            codes.first(),
            Some(code),
            "{code}: the wrong example reports {codes:?}"
        );
        let rendered = render_all(&wrong.diagnostics, &wrong.sources, RenderOptions::default());
        insta::assert_snapshot!(code.as_str(), rendered);
        let right = compile_system_str("main.svc", explanation.right);
        let found: Vec<String> = right
            .diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect();
        if !found.is_empty() {
            unclean.push(format!("{code}: {found:?}"));
        }
    }
    assert!(
        unclean.is_empty(),
        "right examples that are not clean: {unclean:#?}"
    );
}

fn markdown() -> String {
    let mut out = String::from(
        "# Diagnostics\n\n\
         <!-- Generated from compiler/src/codes.rs and compiler/src/explain.rs by\n     \
         `UPDATE_DOCS=1 cargo test -p svcmodel-compiler --test explain`. Do not edit. -->\n\n\
         Every diagnostic has a stable code: a code never changes meaning, and a retired code\n\
         is never reused. `svcmodel explain CODE` prints the same text as this page.\n\n\
         | code | what it is about |\n|---|---|\n",
    );
    for code in Code::ALL {
        out.push_str(&format!(
            "| [{code}](#{}) | {} |\n",
            code.as_str().to_lowercase(),
            code.title()
        ));
    }
    for code in Code::ALL {
        let Some(e) = explain(*code) else { continue };
        out.push_str(&format!(
            "\n## {code}\n\n{}\n\n{}\n\nWrong:\n\n```\n{}\n```\n",
            code.title(),
            e.text.trim(),
            e.wrong.trim_end()
        ));
        if !e.right.is_empty() {
            out.push_str(&format!("\nRight:\n\n```\n{}\n```\n", e.right.trim_end()));
        }
    }
    out.push_str(JSON_SECTION);
    out
}

const JSON_SECTION: &str = r#"
## JSON output

`svcmodel check --format json` prints one JSON document on standard output:

```json
{
  "ok": false,
  "errors": 1,
  "warnings": 0,
  "diagnostics": [
    {
      "code": "E0501",
      "severity": "error",
      "message": "service `orders` requires unknown service `postgres`",
      "help": "declare `service \"postgres\"`, or import the catalog that holds it",
      "labels": [
        {
          "file": "main.svc",
          "start": 119, "end": 129,
          "line": 5, "column": 12, "end_line": 5, "end_column": 22,
          "message": "no service has this name",
          "primary": true
        }
      ]
    }
  ],
  "files": 1, "systems": 0, "environments": 0, "services": 1, "policies": 0
}
```

- `severity` is `error` or `warning`; `help` may be `null`.
- `labels[0]` is the primary label. `start` and `end` are byte offsets into the file;
  `line` and `column` are one-based, columns counted in characters.
- `file` is the path relative to the current folder where possible.
- A diagnostic about a path named on the command line (not found) has no labels.
- Diagnostics are sorted by file and position.
"#;

#[test]
fn docs_diagnostics_md_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/diagnostics.md");
    let generated = markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).expect("docs/diagnostics.md can be written");
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == generated,
        "docs/diagnostics.md is stale: run `UPDATE_DOCS=1 cargo test -p svcmodel-compiler --test explain`"
    );
}

/// The diagnostics of placing every landscape of a compiled model.
fn place(
    compilation: &svcmodel_compiler::SystemCompilation,
) -> Vec<svcmodel_compiler::diagnostic::Diagnostic> {
    let systems = &compilation.resolution.as_ref().expect("resolved").systems;
    // Errors, then warnings (E0904).
    svcmodel_compiler::place::place(&compilation.model, systems, Default::default())
        .into_iter()
        .flat_map(|p| {
            p.diagnostics
                .into_iter()
                .chain(p.warnings.into_iter().map(|(_, d)| d))
        })
        .collect()
}
