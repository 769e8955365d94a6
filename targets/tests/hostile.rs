//! Hostile values through every built-in target: whatever a parameter holds (line
//! breaks, `: `, `- `, `#`, `---`, `{{`, quotes, backslashes, U+2028, `${`, `$(`, `%`,
//! very long strings), every rendered file still parses in its syntax, has the same
//! keys as with a plain value, and gives the value back exactly, after the engine's
//! own expansion (`$$` in Kubernetes and Compose, `%%` and `$$` in systemd).
//! A NUL cannot reach a process at all: it is a diagnostic (E0703), never output.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::Value as Json;
use svcmodel_compiler::load::MemoryLoader;
use svcmodel_compiler::{SystemRequest, compile_system};
use svcmodel_targets::problem::ProblemKind;
use svcmodel_targets::view::Input;
use svcmodel_targets::{RenderedFile, builtin, render};

const TARGETS: [&str; 6] = [
    "kubernetes",
    "compose",
    "swarm",
    "nomad",
    "systemd",
    "local",
];

fn model(target: &str) -> String {
    // systemd has no configuration files; every other target carries the value in one.
    let file = if target == "systemd" {
        ""
    } else {
        r#"file "/etc/app/value.conf" = param.p"#
    };
    // A container's command: what the container targets start instead of the image's
    // entrypoint (systemd cannot; a local process runs `run local`).
    let command = if matches!(target, "systemd" | "local") {
        ""
    } else {
        r#"command = ["/bin/app", param.p]"#
    };
    format!(
        r#"
environment "prod" {{
  target = "{target}"
}}

service "app" {{
  version = "1.0.0"
  image   = "shop/app:1.0.0"

  run local {{
    command = ["/usr/local/bin/app"]
  }}

  param "p" {{
    type    = string
    default = "plain"
  }}

  config {{
    env "VALUE" = param.p
    args        = ["--value=${{param.p}}", param.p]
    {file}
    {command}
  }}

  provides "http" {{ port = 8080, protocol = "http" }}
}}
"#
    )
}

/// Compiles `source` as `/project/main.svc` with `sets` and renders its system on
/// `target`: the compilation (for resolved values) and what the render gave.
fn compile_and_render(
    source: String,
    sets: Vec<String>,
    target: &str,
) -> (
    svcmodel_compiler::SystemCompilation,
    svcmodel_targets::Rendered,
) {
    let path = PathBuf::from("/project/main.svc");
    let loader = MemoryLoader::new().with_file(&path, source);
    let compilation = compile_system(
        &loader,
        &SystemRequest {
            entries: vec![path],
            root: PathBuf::from("/project"),
            display_base: PathBuf::from("/project"),
            sets,
            ..Default::default()
        },
    );
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    let system = &compilation.resolution.as_ref().unwrap().systems[0];
    let rendered = render(
        &Input {
            model: &compilation.model,
            system,
            file_dirs: &[],
            root_dir: "",
            template_files: &Default::default(),
            only: &[],
            placed: None,
        },
        &builtin::built_in(target).unwrap(),
    );
    (compilation, rendered)
}

/// Renders the model with `p` set to `value`: the files and the value as resolved
/// (`--set` reads a quoted value as a string), or the problems' kinds.
fn render_with(target: &str, value: &str) -> Result<(Vec<RenderedFile>, String), Vec<ProblemKind>> {
    let (compilation, rendered) =
        compile_and_render(model(target), vec![format!("app.p={value}")], target);
    let system = &compilation.resolution.as_ref().unwrap().systems[0];
    let resolved = match &system.instances[0].values[0].value {
        Some(svcmodel_model::Value::String(s)) => s.clone(),
        other => panic!("p resolved to {other:?}"),
    };
    if rendered.has_errors() {
        return Err(rendered.problems.iter().map(|p| p.kind).collect());
    }
    Ok((rendered.files, resolved))
}

/// What one target's files hold: their parsed documents, and the value read back from
/// each place it went (variable, `--value=` argument, bare argument, file).
struct Parsed {
    documents: Vec<Json>,
    values: Vec<String>,
}

fn parse(target: &str, files: &[RenderedFile]) -> Parsed {
    match target {
        "kubernetes" => {
            let documents: Vec<Json> = files
                .iter()
                .flat_map(|f| yaml_documents(&f.contents))
                .collect();
            let deployment = documents
                .iter()
                .find(|d| d["kind"] == "Deployment")
                .unwrap();
            let container = &deployment["spec"]["template"]["spec"]["containers"][0];
            let env = container["env"].as_array().unwrap();
            let variable = env.iter().find(|e| e["name"] == "VALUE").unwrap()["value"]
                .as_str()
                .unwrap();
            let args = container["args"].as_array().unwrap();
            let config = documents.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
            let k8s = |s: &str| s.replace("$$", "$");
            let values = vec![
                k8s(variable),
                k8s(args[0].as_str().unwrap()),
                k8s(args[1].as_str().unwrap()),
                config["data"]["value.conf"].as_str().unwrap().to_string(),
                k8s(container["command"][1].as_str().unwrap()),
            ];
            Parsed { documents, values }
        }
        "compose" | "swarm" => {
            let documents = yaml_documents(&files[0].contents);
            let app = &documents[0]["services"]["app"];
            let compose = |v: &Json| v.as_str().unwrap().replace("$$", "$");
            let values = vec![
                compose(&app["environment"]["VALUE"]),
                compose(&app["command"][0]),
                compose(&app["command"][1]),
                compose(&documents[0]["configs"]["app-value.conf"]["content"]),
                compose(&app["entrypoint"][1]),
            ];
            Parsed { documents, values }
        }
        "nomad" => {
            let job: Json =
                hcl::eval::from_str(&files[0].contents, &hcl::eval::Context::new()).unwrap();
            let task = &job["job"]["app"]["group"]["app"]["task"]["app"];
            let args = &task["config"]["args"];
            let templates = match &task["template"] {
                Json::Array(list) => list.clone(),
                other => vec![other.clone()],
            };
            let file = templates
                .iter()
                .find(|t| t["destination"] == "local/value.conf")
                .unwrap();
            let values = vec![
                task["env"]["VALUE"].as_str().unwrap().to_string(),
                args[0].as_str().unwrap().to_string(),
                args[1].as_str().unwrap().to_string(),
                // The file is a Go template that renders to its literal text.
                file["data"].as_str().unwrap().replace("{{\"{{\"}}", "{{"),
                task["config"]["entrypoint"][1]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ];
            Parsed {
                documents: vec![job],
                values,
            }
        }
        "systemd" => {
            let env_file = files.iter().find(|f| f.path.ends_with(".env")).unwrap();
            let unit = files.iter().find(|f| f.path.ends_with(".service")).unwrap();
            let variables = systemd_env_file(&env_file.contents);
            let (sections, exec) = systemd_unit(&unit.contents);
            let values = vec![
                variables
                    .iter()
                    .find(|(k, _)| k == "VALUE")
                    .unwrap()
                    .1
                    .clone(),
                exec[1].clone(),
                exec[2].clone(),
            ];
            let keys: Vec<String> = variables.iter().map(|(k, _)| k.clone()).collect();
            Parsed {
                documents: vec![
                    serde_json::json!({ "env": keys, "unit": sections, "exec": exec.len() }),
                ],
                values,
            }
        }
        "local" => {
            let plan: Json = serde_json::from_str(&files[0].contents).unwrap();
            let values = vec![
                plan["env"]["VALUE"].as_str().unwrap().to_string(),
                plan["args"][0].as_str().unwrap().to_string(),
                plan["args"][1].as_str().unwrap().to_string(),
                plan["files"][0]["content"]["text"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ];
            Parsed {
                documents: vec![plan],
                values,
            }
        }
        other => panic!("no parser for {other}"),
    }
}

fn yaml_documents(text: &str) -> Vec<Json> {
    yaml_rust2::YamlLoader::load_from_str(text)
        .unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"))
        .iter()
        .filter(|d| !d.is_null())
        .map(yaml_to_json)
        .collect()
}

fn yaml_to_json(yaml: &yaml_rust2::Yaml) -> Json {
    use yaml_rust2::Yaml;
    match yaml {
        Yaml::String(s) => Json::from(s.as_str()),
        Yaml::Integer(i) => Json::from(*i),
        Yaml::Real(r) => Json::from(r.parse::<f64>().unwrap_or(0.0)),
        Yaml::Boolean(b) => Json::from(*b),
        Yaml::Array(items) => items.iter().map(yaml_to_json).collect(),
        Yaml::Hash(map) => map
            .iter()
            .map(|(k, v)| {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    other => format!("{other:?}"),
                };
                (key, yaml_to_json(v))
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Yaml::Null => Json::Null,
        other => panic!("unexpected YAML node {other:?}"),
    }
}

/// An environment file as systemd reads it (`KEY="..."`, with `\"`, `\\`, `\$` and
/// `` \` `` escapes; a line break inside the quotes is kept).
fn systemd_env_file(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        if chars.peek() == Some(&'#') {
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
            continue;
        }
        let mut key = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        assert_eq!(chars.next(), Some('"'), "value of {key} is quoted");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some(e @ ('"' | '\\' | '$' | '`')) => value.push(e),
                    Some('\n') => {}
                    Some(other) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => panic!("dangling backslash"),
                },
                c => value.push(c),
            }
        }
        assert_eq!(chars.next(), Some('\n'), "one assignment per line");
        out.push((key, value));
    }
    out
}

/// A unit file's `(section, key)` pairs, and `ExecStart=` split into words as systemd
/// does: double-quoted words with C escapes, then `%%` and `$$` reduced.
fn systemd_unit(text: &str) -> (Vec<String>, Vec<String>) {
    let mut keys = Vec::new();
    let mut exec = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a setting: {line:?}"));
        keys.push(format!("{section}{key}"));
        if key == "ExecStart" {
            exec = exec_words(value);
        }
    }
    (keys, exec)
}

fn exec_words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let Some(first) = chars.next() else { break };
        assert_eq!(first, '"', "every word is quoted: {value}");
        let mut word = String::new();
        loop {
            match chars.next().unwrap() {
                '"' => break,
                '\\' => match chars.next().unwrap() {
                    'n' => word.push('\n'),
                    't' => word.push('\t'),
                    'r' => word.push('\r'),
                    '\\' => word.push('\\'),
                    '"' => word.push('"'),
                    'x' => {
                        let hex: String = chars.by_ref().take(2).collect();
                        word.push(char::from(u8::from_str_radix(&hex, 16).unwrap()));
                    }
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        word.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                    }
                    other => panic!("unknown escape \\{other}"),
                },
                c => word.push(c),
            }
        }
        words.push(word.replace("%%", "%").replace("$$", "$"));
    }
    words
}

/// Every string leaf blanked: what remains is the shape (keys, lengths, types).
fn shape(value: &Json) -> Json {
    match value {
        Json::String(_) => Json::from(""),
        Json::Array(items) => items.iter().map(shape).collect(),
        Json::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), shape(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

fn check(value: &str) {
    for target in TARGETS {
        let plain = parse(target, &render_with(target, "plain").unwrap().0);
        let (files, value) = render_with(target, value)
            .unwrap_or_else(|problems| panic!("{target}: {value:?} was refused: {problems:?}"));
        let value = value.as_str();
        let hostile = parse(target, &files);
        assert_eq!(
            plain.documents.iter().map(shape).collect::<Vec<_>>(),
            hostile.documents.iter().map(shape).collect::<Vec<_>>(),
            "{target}: the shape changed for {value:?}"
        );
        let expected: Vec<String> = [
            value.to_string(),
            format!("--value={value}"),
            value.to_string(),
            value.to_string(),
            value.to_string(),
        ]
        .into_iter()
        .take(hostile.values.len())
        .collect();
        assert_eq!(
            hostile.values, expected,
            "{target}: {value:?} did not round-trip"
        );
    }
}

const NASTY: &[&str] = &[
    "\n",
    ": ",
    "- ",
    "#",
    "---",
    "...",
    "{{",
    "}}",
    "{{\"{{\"}}",
    "\"",
    "'",
    "\\",
    "\\n",
    "\u{2028}",
    "\u{2029}",
    "\u{85}",
    "\u{feff}",
    "${x}",
    "$${x}",
    "$(x)",
    "$$",
    "%{x}",
    "%%",
    "%n",
    "`id`",
    "\t",
    "\r\n",
    " ",
    "&anchor",
    "*alias",
    "!tag",
    "|",
    ">",
    "@",
    "[",
    "]",
    "{",
    "}",
    ",",
    "?",
    "null",
    "true",
    "0x1F",
    "~",
    "=",
    "\u{7f}",
    "\u{1b}[31m",
];

#[test]
fn each_nasty_piece_round_trips_on_every_target() {
    for piece in NASTY {
        check(piece);
        check(&format!("a{piece}b"));
    }
}

#[test]
fn a_very_long_value_round_trips() {
    check(&"long-value: with \"quotes\" and\nlines ".repeat(2_000));
}

#[test]
fn a_nul_is_refused_on_every_target() {
    for target in TARGETS {
        let problems = render_with(target, "a\0b").unwrap_err();
        assert!(
            problems.contains(&ProblemKind::Unrepresentable),
            "{target}: {problems:?}"
        );
    }
}

fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        proptest::sample::select(NASTY).prop_map(str::to_string),
        "[^\u{0}]{0,8}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn hostile_values_round_trip_on_every_target(value in hostile_text()) {
        check(&value);
    }
}

/// Text written in the model itself (an annotation's value, the reasons of opt-outs, a
/// scratch folder's path, a secret file's path, a constant) reaches the files of every target that takes it intact, and
/// a reason with line breaks never breaks out of its comment.
#[test]
fn model_text_in_annotations_reasons_and_paths_round_trips() {
    let nasty = NASTY.concat().replace('\0', "");
    // The language's own escapes, so the text survives the model's string syntax.
    let mut literal = String::new();
    for c in nasty.chars() {
        match c {
            '"' => literal.push_str("\\\""),
            '\\' => literal.push_str("\\\\"),
            '$' => literal.push_str("\\$"),
            '\n' => literal.push_str("\\n"),
            '\r' => literal.push_str("\\r"),
            '\t' => literal.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' || c == '\u{85}' => {
                literal.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => literal.push(c),
        }
    }
    let path = "/var/cache/a b:c'd";
    let secret_path = "/etc/app/#k: v\\\"x\"";
    let secret_literal = secret_path.replace('\\', "\\\\").replace('"', "\\\"");
    for target in ["kubernetes", "compose", "swarm"] {
        let source = format!(
            r#"
const "NOTE" = "{literal}"

environment "prod" {{
  target = "{target}"
}}

service "app" {{
  version = "1.0.0"
  image   = "shop/app:1.0.0"
  annotation "example.com/note" = "{literal}"
  security {{
    allow_root    = "{literal}"
    writable_root = "{literal}"
  }}
  scratch "{path}"
  param "key" {{ type = secret }}
  config {{
    file "{secret_literal}" = param.key
    env "NOTE" = const.NOTE
  }}
}}
"#
        );
        let (_, rendered) = compile_and_render(source, Vec::new(), target);
        assert!(!rendered.has_errors(), "{target}: {:?}", rendered.problems);
        let documents: Vec<Json> = rendered
            .files
            .iter()
            .flat_map(|f| yaml_documents(&f.contents))
            .collect();
        let unescape = |v: &Json| v.as_str().unwrap().replace("$$", "$");
        if target == "kubernetes" {
            let workload = documents
                .iter()
                .find(|d| d["kind"] == "Deployment")
                .unwrap();
            let pod = &workload["spec"]["template"];
            // Kubernetes expands `$(VAR)` in commands and variables only: an
            // annotation is taken as written.
            assert_eq!(
                pod["metadata"]["annotations"]["example.com/note"],
                nasty.as_str()
            );
            let skip = workload["metadata"]["annotations"]["checkov.io/skip1"]
                .as_str()
                .unwrap();
            assert_eq!(skip, format!("CKV_K8S_23={nasty}"));
            assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], false);
            let container = &pod["spec"]["containers"][0];
            assert_eq!(
                container["securityContext"]["readOnlyRootFilesystem"],
                false
            );
            let mounts: Vec<&str> = container["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["mountPath"].as_str().unwrap())
                .collect();
            assert_eq!(mounts, ["/tmp", path, secret_path]);
            let note = container["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == "NOTE")
                .unwrap();
            assert_eq!(unescape(&note["value"]), nasty);
            let secret_volume = pod["spec"]["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == "secret-files")
                .unwrap();
            assert_eq!(secret_volume["secret"]["items"][0]["key"], "key");
        } else {
            let app = &documents[0]["services"]["app"];
            assert_eq!(
                unescape(&app["labels"]["example.com/note"]),
                nasty,
                "{target}"
            );
            assert_eq!(app["read_only"], false, "{target}");
            assert_eq!(app["tmpfs"][1].as_str().unwrap(), path, "{target}");
            assert_eq!(unescape(&app["environment"]["NOTE"]), nasty, "{target}");
            let secrets = app["secrets"].as_array().unwrap();
            assert_eq!(secrets[1]["target"], secret_path, "{target}");
            assert_eq!(secrets[1]["source"], secrets[0]["source"], "{target}");
        }
    }
}
