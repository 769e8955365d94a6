//! `svcmodel init [DIR] [--target T]`: a first project that checks, renders and (on
//! `local`) deploys as it is, formatted as `svcmodel fmt` would write it.

use std::path::Path;

use svcmodel_compiler::codes::Code;
use svcmodel_compiler::diagnostic::Diagnostic;

use crate::exit::Exit;
use crate::output;

/// The targets `init` writes a project for: the built-in ones.
const TARGETS: [&str; 6] = [
    "local",
    "kubernetes",
    "compose",
    "swarm",
    "nomad",
    "systemd",
];

pub fn run(dir: &Path, target: &str, port: u16) -> Exit {
    if !TARGETS.contains(&target) {
        output::failure(
            Diagnostic::error(Code::UnknownTarget, format!("unknown target `{target}`")).help(
                format!(
                    "use one of {}",
                    TARGETS.map(|t| format!("`{t}`")).join(", ")
                ),
            ),
        );
        return Exit::Usage;
    }
    if let Some(found) = existing_model(dir) {
        output::failure(
            Diagnostic::error(
                Code::CannotWrite,
                format!("`{}` already holds a model: `{found}`", dir.display()),
            )
            .help("run `svcmodel init` in a new or empty folder; init never overwrites a file"),
        );
        return Exit::Failure;
    }
    let name = system_name(dir);
    let files = [
        ("svcmodel.toml", PROJECT.to_string()),
        ("main.svc", model(&name, target, port)),
        ("public/index.html", INDEX.to_string()),
    ];
    let written = std::fs::create_dir_all(dir.join("public")).and_then(|()| {
        files.iter().try_for_each(|(file, text)| {
            use std::io::Write;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(dir.join(file))?
                .write_all(text.as_bytes())
        })
    });
    if let Err(error) = written {
        output::failure(
            Diagnostic::error(
                Code::CannotWrite,
                format!("cannot write the project into `{}`: {error}", dir.display()),
            )
            .help("choose a folder you can write"),
        );
        return Exit::Failure;
    }
    let shown = dir.display();
    let environment = environment_name(target);
    crate::say!(
        "wrote svcmodel.toml, main.svc and public/index.html into `{shown}`: one service, one environment"
    );
    crate::say!("next:");
    crate::say!("  svcmodel check {shown}");
    if target == "local" {
        crate::say!("  svcmodel deploy -e {environment} {shown}");
        crate::say!("  svcmodel status -e {environment} {shown}");
    } else {
        crate::say!("  svcmodel render -e {environment} -o rendered {shown}");
    }
    Exit::Success
}

/// A model file or project marker already in `dir`.
fn existing_model(dir: &Path) -> Option<String> {
    if dir.join("svcmodel.toml").exists() {
        return Some("svcmodel.toml".to_string());
    }
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| name.ends_with(".svc"))
}

/// The folder's name as a system name: lower case, letters, digits and `-`.
fn system_name(dir: &Path) -> String {
    let folder = std::fs::canonicalize(dir)
        .ok()
        .or_else(|| Some(dir.to_path_buf()))
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut name = String::new();
    for c in folder.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-').to_string();
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        "my-system".to_string()
    } else {
        name
    }
}

fn environment_name(target: &str) -> &'static str {
    if target == "local" { "local" } else { "dev" }
}

/// What the first service serves: only this folder, never the project (whose
/// `.svcmodel/` holds the state and its key).
const INDEX: &str = "<!doctype html>\n<title>hello</title>\n<p>hello from svcmodel</p>\n";

const PROJECT: &str = "\
# Marks this folder as the svcmodel project root: model files and their imports may
# not leave it, and the state of what is deployed lives in .svcmodel/ beside it.
";

/// The first model: a system, one environment on `target`, and one service that runs
/// as it is (Python's built-in web server) until it is replaced with a real one.
fn model(name: &str, target: &str, port: u16) -> String {
    let environment = environment_name(target);
    let description = match target {
        "local" => "This machine: every service is a process on 127.0.0.1",
        "kubernetes" => "A Kubernetes cluster: a namespace of its own",
        "compose" => "Docker on this machine: a container per service",
        "swarm" => "A Docker Swarm: a service per service",
        "nomad" => "A Nomad cluster: a job per service",
        _ => "This host: a systemd unit per service",
    };
    format!(
        r#"# A first model, written by `svcmodel init`: a system, the environment it runs in,
# and one service. Check it with `svcmodel check`; the language is in docs/language.md.
system "{name}" {{
  description = "What this system does"
  entrypoints = ["hello"]
}}

environment "{environment}" {{
  description = "{description}"
  target      = "{target}"
}}

# A placeholder: Python's built-in web server, serving public/ on 127.0.0.1. Put your
# own program in `run local` (and your image in `image`), keep the health check.
service "hello" {{
  version     = "0.1.0"
  description = "Says hello over HTTP"
  image       = "hello:${{version}}"

  run local {{
    command = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", "public"]
    workdir = "${{self.dir}}"
  }}

  config {{
    args = ["${{self.http.port}}"]
  }}

  provides "http" {{ port = {port}, protocol = "http" }}

  health {{
    http = "http"
    path = "/"
  }}
}}
"#
    )
}
