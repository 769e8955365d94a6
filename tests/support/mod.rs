//! Running the real `svcmodel` binary the way users meet it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Output {
    fn from(output: std::process::Output) -> Output {
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Output {
    /// Where `line` first appears on standard error: progress lines compared by their
    /// order. Fails the test when it does not appear.
    pub fn stderr_at(&self, line: &str) -> usize {
        self.stderr
            .find(line)
            .unwrap_or_else(|| panic!("no `{line}` in:\n{}", self.stderr))
    }

    /// Standard error with the lines a diagnostic wraps joined again (its gutter and
    /// the help's indentation dropped): what a message says, whatever the width.
    pub fn stderr_flat(&self) -> String {
        let mut out = String::new();
        for line in self.stderr.lines() {
            let trimmed = line.trim_start();
            if let Some(rest) = trimmed.strip_prefix("│ ") {
                out.push(' ');
                out.push_str(rest.trim_end());
            } else if line.starts_with("        ") && !out.is_empty() && !trimmed.is_empty() {
                out.push(' ');
                out.push_str(trimmed.trim_end());
            } else {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(line.trim_end());
            }
        }
        out
    }

    /// Exit code, stdout and stderr in one text, for snapshots.
    pub fn transcript(&self) -> String {
        let mut out = format!("exit: {}\n", self.code);
        if !self.stdout.is_empty() {
            out.push_str("--- stdout\n");
            out.push_str(&self.stdout);
        }
        if !self.stderr.is_empty() {
            out.push_str("--- stderr\n");
            out.push_str(&self.stderr);
        }
        out
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn svcmodel(dir: &Path, args: &[&str]) -> Output {
    svcmodel_with_stdin(dir, args, None)
}

pub fn svcmodel_with_stdin(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_svcmodel"))
        .args(["--color", "never"])
        .args(args)
        .current_dir(dir)
        .env("COLUMNS", "80")
        .env_remove("NO_COLOR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the svcmodel binary runs");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(text.as_bytes())
            .expect("stdin accepts the model");
    }
    let output = child.wait_with_output().expect("svcmodel finishes");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Checks `instance` against the published `docs/schema/NAME.schema.json`.
pub fn validate(schema_name: &str, instance: &serde_json::Value) {
    let published = repo()
        .join("docs/schema")
        .join(format!("{schema_name}.schema.json"));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&published).expect("the schema is published"),
    )
    .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "output does not match docs/schema/{schema_name}.schema.json: {errors:#?}"
    );
}

/// A temporary project folder with files.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Self {
        Project {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str, text: impl AsRef<[u8]>) -> &Self {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("folders can be made");
        }
        std::fs::write(path, text).expect("files can be written");
        self
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).expect("the file exists")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        svcmodel(self.path(), args)
    }
}

/// The image the Docker and Swarm tests run: `src/bin/demo-service` built FROM scratch.
pub const DEMO_IMAGE: &str = "svcmodel-demo:test";

/// Builds the demo image once: the binary and the libraries it links, nothing else.
pub fn demo_image() -> &'static str {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let context = tempfile::tempdir().unwrap();
        let binary = env!("CARGO_BIN_EXE_demo-service");
        std::fs::copy(binary, context.path().join("demo-service")).unwrap();
        let ldd = Command::new("ldd").arg(binary).output().unwrap();
        for library in String::from_utf8_lossy(&ldd.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
        {
            let target = context.path().join(library.trim_start_matches('/'));
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(library, &target).unwrap();
        }
        // glibc resolves names (`api`, the alias on the network) through NSS.
        std::fs::create_dir_all(context.path().join("etc")).unwrap();
        std::fs::write(
            context.path().join("etc/nsswitch.conf"),
            "hosts: files dns\n",
        )
        .unwrap();
        std::fs::write(
            context.path().join("Dockerfile"),
            "FROM scratch\nCOPY . /\nENTRYPOINT [\"/demo-service\"]\n",
        )
        .unwrap();
        let build = Command::new("docker")
            .args(["build", "-q", "-t", DEMO_IMAGE])
            .arg(context.path())
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "docker build: {}",
            String::from_utf8_lossy(&build.stderr)
        );
    });
    DEMO_IMAGE
}

/// A YAML document as JSON, to read the rendered Compose file like `docker inspect`.
pub fn yaml_to_json(yaml: &yaml_rust2::Yaml) -> serde_json::Value {
    use yaml_rust2::Yaml;
    match yaml {
        Yaml::String(s) | Yaml::Real(s) => serde_json::Value::from(s.as_str()),
        Yaml::Integer(i) => serde_json::Value::from(*i),
        Yaml::Boolean(b) => serde_json::Value::from(*b),
        Yaml::Array(items) => items.iter().map(yaml_to_json).collect(),
        Yaml::Hash(map) => map
            .iter()
            .map(|(k, v)| {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    other => format!("{other:?}"),
                };
                (key, yaml_to_json(v))
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        _ => serde_json::Value::Null,
    }
}

/// A model of `count` demo services (the image `DEMO_IMAGE`) that require nothing, so
/// they all start in one wave, in an environment on `target`.
pub fn wave_model(environment: &str, target: &str, count: usize) -> String {
    let mut model = format!("environment \"{environment}\" {{\n  target = \"{target}\"\n}}\n");
    for i in 0..count {
        model.push_str(&format!(
            r#"
service "s{i}" {{
  version = "1.0.0"
  image   = "{DEMO_IMAGE}"
  config {{
    args = ["--name=${{self.name}}", "--port=${{self.http.port}}"]
  }}
  provides "http" {{ port = 8080, protocol = "http" }}
  health {{
    tcp      = "http"
    interval = 1s
  }}
}}
"#
        ));
    }
    model
}

/// Headless Chromium (Debian's `chromium`, which `.ci/run` installs): the page's DOM
/// after it loaded, and what the browser logged. The test fails, never skips, when
/// Chromium is missing.
pub fn chromium_dom(page: &Path) -> (String, String) {
    let output = chromium(&[
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        &format!("file://{}", page.display()),
    ]);
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A screenshot of `page` at 1200 × `height` pixels, light or dark, decoded to RGBA.
pub fn chromium_screenshot(
    page: &Path,
    height: u32,
    dark: bool,
    png: &Path,
) -> (u32, u32, Vec<u8>) {
    let scheme = if dark { "0" } else { "1" };
    chromium(&[
        &format!("--window-size=1200,{height}"),
        &format!("--blink-settings=preferredColorScheme={scheme}"),
        &format!("--screenshot={}", png.display()),
        &format!("file://{}", page.display()),
    ]);
    decode_png(png)
}

/// A PNG's width, height and RGBA pixels.
pub fn decode_png(png: &Path) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    let decoder = ::png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    pixels.truncate(info.buffer_size());
    let rgba = match info.color_type {
        ::png::ColorType::Rgba => pixels,
        ::png::ColorType::Rgb => pixels
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("unexpected screenshot colours {other:?}"),
    };
    (info.width, info.height, rgba)
}

fn chromium(args: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().expect("a profile folder");
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--force-device-scale-factor=1",
            "--font-render-hinting=none",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("headless Chromium runs: apt-get install chromium (.ci/run does)");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
