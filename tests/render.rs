//! Rendering through the CLI: every built-in target on every example, the custom
//! target in examples/templates, the E07xx diagnostics, writing a folder per
//! environment, template overrides, and secrets that never reach any output.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use support::{Project, repo, svcmodel};

fn examples(args: &[&str]) -> support::Output {
    svcmodel(&repo().join("examples"), args)
}

/// Absolute paths (`${self.dir}`) differ per checkout: snapshots show them as `[examples]`.
fn snapshot(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/render");
    settings.add_filter(
        &regex_escape(&repo().join("examples").to_string_lossy()),
        "[examples]",
    );
    settings.bind(|| insta::assert_snapshot!(name, text));
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

const TARGETS: [&str; 6] = [
    "kubernetes",
    "compose",
    "swarm",
    "nomad",
    "systemd",
    "local",
];

/// The examples every target renders and every parser reads.
const EXAMPLES: [&str; 6] = [
    "shop",
    "bank",
    "insurer",
    "bookinfo",
    "teastore",
    "bank-of-anthos",
];

#[test]
fn every_built_in_target_renders_every_example() {
    for example in EXAMPLES {
        for target in TARGETS {
            let output = examples(&["render", "--target", target, example]);
            snapshot(&format!("{example}-{target}"), &output.transcript());
        }
    }
}

#[test]
fn each_environment_renders_with_its_own_target() {
    // shop: `local` (processes) and `cloud` (the custom ECS target in examples/templates).
    let shop = examples(&["render", "shop"]);
    assert_eq!(shop.code, 0, "{}", shop.transcript());
    assert!(
        shop.stdout
            .contains("==> cloud/orders/task-definition.json (ecs, mode 0644) <==")
    );
    assert!(
        shop.stdout
            .contains("==> local/orders/process.json (local, mode 0644) <==")
    );
    snapshot("shop-own-targets", &shop.transcript());
    // Every ECS task definition is JSON.
    let json = examples(&["render", "-e", "cloud", "--format", "json", "shop"]);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let files = parsed["environments"][0]["files"].as_array().unwrap();
    assert_eq!(files.len(), 5);
    for file in files {
        let contents = file["contents"].as_str().unwrap();
        let task: serde_json::Value = serde_json::from_str(contents).unwrap();
        assert_eq!(task["requiresCompatibilities"][0], "FARGATE");
    }
    // bank: kubernetes, nomad and compose environments.
    let bank = examples(&[
        "render",
        "-e",
        "aws-eu-central",
        "--service",
        "fraud",
        "bank",
    ]);
    assert_eq!(bank.code, 0, "{}", bank.transcript());
    assert!(bank.stdout.contains("fraud.nomad.hcl (nomad"));
}

/// Every file rendered for the examples parses in its syntax: YAML (every document),
/// HCL, JSON. (CI also validates Kubernetes and Compose against their schemas:
/// .ci/validate-rendered.)
#[test]
fn every_rendered_file_of_the_examples_parses() {
    let mut parsed = 0;
    for example in EXAMPLES {
        for target in TARGETS {
            let output = examples(&["render", "--target", target, "--format", "json", example]);
            if output.code != 0 {
                continue; // a target the example cannot use: its diagnostics are snapshotted
            }
            let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
            for env in json["environments"].as_array().unwrap() {
                for file in env["files"].as_array().unwrap() {
                    let path = file["path"].as_str().unwrap();
                    let contents = file["contents"].as_str().unwrap();
                    if path.ends_with(".yaml") {
                        let docs = yaml_rust2::YamlLoader::load_from_str(contents)
                            .unwrap_or_else(|e| panic!("{example} {target} {path}: {e}"));
                        assert!(docs.iter().any(|d| !d.is_null()), "{path} is empty");
                    } else if path.ends_with(".hcl") {
                        hcl::parse(contents)
                            .unwrap_or_else(|e| panic!("{example} {target} {path}: {e}"));
                    } else if path.ends_with(".json") {
                        serde_json::from_str::<serde_json::Value>(contents)
                            .unwrap_or_else(|e| panic!("{example} {target} {path}: {e}"));
                    } else {
                        continue;
                    }
                    parsed += 1;
                }
            }
        }
    }
    assert!(parsed >= 60, "only {parsed} files parsed");
}

#[test]
fn rendering_is_byte_for_byte_deterministic() {
    for target in TARGETS {
        let first = examples(&["render", "--target", target, "bank"]);
        let second = examples(&["render", "--target", target, "bank"]);
        assert_eq!(first.stdout, second.stdout, "{target}");
        assert_eq!(first.stderr, second.stderr, "{target}");
    }
}

/// The wrong example of each E07xx explanation, rendered, reports its code; the right
/// one renders.
#[test]
fn explained_render_codes_are_reported() {
    for explanation in svcmodel_compiler::explain::EXPLANATIONS {
        let code = explanation.code.as_str();
        if !code.starts_with("E07") || explanation.right.is_empty() {
            continue;
        }
        let project = Project::new();
        project
            .file("svcmodel.toml", "")
            .file("main.svc", explanation.wrong);
        let wrong = project.run(&["render", "main.svc"]);
        assert_eq!(wrong.code, 1, "{code}: {}", wrong.transcript());
        assert!(
            wrong.stderr.contains(&format!("[{code}]")),
            "{code}: {}",
            wrong.transcript()
        );
        snapshot(&format!("explain-{code}"), &wrong.transcript());
        project.file("main.svc", explanation.right);
        let right = project.run(&["render", "main.svc"]);
        assert_eq!(right.code, 0, "{code} (right): {}", right.transcript());
    }
}

#[test]
fn output_folders_are_replaced_as_a_whole_and_keep_file_modes() {
    let project = Project::new();
    let out = project.path().join("out");
    let shop = repo().join("examples/shop");
    let shop = shop.to_str().unwrap();
    let out_arg = out.to_str().unwrap();
    let first = project.run(&[
        "render", "--target", "systemd", "-e", "local", "-o", out_arg, shop,
    ]);
    assert_eq!(first.code, 0, "{}", first.transcript());
    assert!(
        first.stderr.contains("rendered 10 files for 1 environment"),
        "{}",
        first.stderr
    );
    let env_file = out.join("local/payments/payments.env");
    let unit = out.join("local/payments/svcmodel-local-payments.service");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&env_file), 0o600);
        assert_eq!(mode(&unit), 0o644);
    }
    // A second render of fewer services leaves nothing stale behind.
    let second = project.run(&[
        "render",
        "--target",
        "systemd",
        "-e",
        "local",
        "--service",
        "products",
        "-o",
        out_arg,
        shop,
    ]);
    assert_eq!(second.code, 0, "{}", second.transcript());
    assert!(
        !env_file.exists(),
        "a service no longer rendered keeps no files"
    );
    assert!(out.join("local/products/products.env").exists());
    // A folder svcmodel did not write is never replaced.
    project.file("foreign/local/notes.txt", "mine");
    let foreign = project.path().join("foreign");
    let refused = project.run(&[
        "render",
        "-e",
        "local",
        "-o",
        foreign.to_str().unwrap(),
        shop,
    ]);
    assert_eq!(refused.code, 4, "{}", refused.transcript());
    assert!(
        refused
            .stderr_flat()
            .contains("was not written by svcmodel render"),
        "{}",
        refused.stderr
    );
    assert_eq!(project.read("foreign/local/notes.txt"), "mine");
}

#[test]
fn nothing_is_written_when_rendering_fails() {
    let project = Project::new();
    let out = project.path().join("out");
    let bank = repo().join("examples/bank");
    let output = project.run(&[
        "render",
        "--target",
        "local",
        "-o",
        out.to_str().unwrap(),
        bank.to_str().unwrap(),
    ]);
    assert_eq!(output.code, 1);
    assert!(output.stderr.contains("error: nothing was rendered"));
    assert!(!out.exists());
}

const SMALL: &str = r#"
environment "prod" {
  target = "kubernetes"
}

service "orders" {
  version = "1.0.0"
  image   = "shop/orders:1.0.0"

  provides "http" { port = 8080, protocol = "http" }
}
"#;

#[test]
fn a_project_template_overrides_a_built_in_one() {
    let project = Project::new();
    project
        .file("svcmodel.toml", "")
        .file("main.svc", SMALL)
        .file(
            "templates/kubernetes/namespace.yaml.hbs",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{environment.namespace}}\n  labels:\n    team: \"payments\"\n",
        );
    let output = project.run(&["render", "main.svc"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(output.stdout.contains("    team: \"payments\"\n"));
    // The other built-in template still renders.
    assert!(output.stdout.contains("==> prod/orders/manifest.yaml"));
}

#[test]
fn custom_target_errors_point_into_the_template() {
    let project = Project::new();
    project
        .file("svcmodel.toml", "")
        .file("main.svc", SMALL.replace("kubernetes", "ecs"))
        .file(
            "templates/ecs/target.toml",
            "format = \"json\"\n\n[[file]]\ntemplate = \"task.json.hbs\"\npath = \"{{service.name}}.json\"\neach = \"service\"\n",
        )
        .file("templates/ecs/task.json.hbs", "{\n  \"image\": {{service.imgae}}\n}\n");
    let output = project.run(&["render", "main.svc"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    snapshot("custom-target-missing-field", &output.transcript());

    project.file("templates/ecs/target.toml", "format = \"jsonn\"\n");
    let output = project.run(&["render", "main.svc"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(output.stderr.contains("[E0706]"), "{}", output.stderr);
    snapshot("custom-target-bad-manifest", &output.transcript());

    std::fs::remove_file(project.path().join("templates/ecs/target.toml")).unwrap();
    let output = project.run(&["check", "main.svc"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(output.stderr.contains("[E0508]"), "{}", output.stderr);
}

/// Secret values exist only on the deploying machine. With canaries in every variable
/// a deployer would read, and as a `--set`, no output of `render` holds one.
#[test]
fn secret_canaries_never_appear_in_rendered_output() {
    let canary = "canary-7f3a9c-secret";
    let project = Project::new();
    let bank = repo().join("examples/bank");
    let shop = repo().join("examples/shop");
    let variables = [
        "SVCMODEL_SECRET_PAYMENTS_PROVIDER_API_KEY",
        "SVCMODEL_SECRET_PROVIDER_API_KEY",
        "SVCMODEL_SECRET_ACCOUNTS_DB_PASSWORD",
        "SVCMODEL_SECRET_DB_PASSWORD",
        "SVCMODEL_SECRET_PASSWORD",
        "PROVIDER_API_KEY",
        "DB_PASSWORD",
    ];
    for target in TARGETS.iter().chain(["ecs"].iter()) {
        for model in [&bank, &shop] {
            let out = project.path().join(format!(
                "out-{target}-{}",
                model.file_name().unwrap().to_string_lossy()
            ));
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_svcmodel"));
            command
                .args(["--color", "never", "render", "--target", target, "-o"])
                .arg(&out)
                .arg(model)
                .current_dir(project.path());
            for v in variables {
                command.env(v, canary);
            }
            let output = command.output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!stdout.contains(canary) && !stderr.contains(canary));
            if out.exists() {
                for file in walk(&out) {
                    let text = std::fs::read_to_string(&file).unwrap();
                    assert!(
                        !text.contains(canary),
                        "{} holds the canary",
                        file.display()
                    );
                }
            }
        }
    }
    // A secret given on the command line is refused without echoing it.
    let output = project.run(&[
        "render",
        "--set",
        &format!("payments.provider_api_key={canary}"),
        shop.to_str().unwrap(),
    ]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(output.stderr.contains("[E0610]"), "{}", output.stderr);
    assert!(
        !output.stdout.contains(canary) && !output.stderr.contains(canary),
        "{}",
        output.transcript()
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn render_names_an_unknown_service() {
    let output = examples(&["render", "--service", "ordrs", "shop"]);
    assert_eq!(output.code, 2, "{}", output.transcript());
    assert!(
        output.stderr.contains("did you mean `orders`?"),
        "{}",
        output.stderr
    );
}

const WITH_TEMPLATES: &str = r#"
environment "prod" {
  target = "kubernetes"
}

service "api" {
  version = "1.0.0"
  image   = "shop/api:1.0.0"

  param "greeting" {
    type    = string
    default = "hello"
  }
  param "workers" {
    type    = int
    default = 4
  }
  param "timeout" {
    type    = duration
    default = 30s
  }
  param "token" {
    type = secret
  }

  config {
    file "/etc/api/settings.json" = template("settings.json.hbs")
    file "/etc/api/api.conf"      = template("api.conf.hbs")
    env "TOKEN"                   = param.token
  }

  provides "http" { port = 8080, protocol = "http" }
  requires "db"
}

service "db" {
  version = "1.0.0"
  image   = "shop/db:1.0.0"
  provides "sql" { port = 5432 }
}
"#;

fn template_project() -> Project {
    let project = Project::new();
    project
        .file("svcmodel.toml", "")
        .file("main.svc", WITH_TEMPLATES)
        .file(
            "settings.json.hbs",
            "{\n  \"greeting\": {{param.greeting}},\n  \"workers\": {{int param.workers}},\n  \"timeout\": {{param.timeout}},\n  \"db\": {{requires.db.url}},\n  \"port\": {{int port.http}},\n  \"service\": {{service.name}}\n}\n",
        )
        .file("api.conf.hbs", "greeting = {{param.greeting}}\nworkers = {{param.workers}}\n");
    project
}

/// The ConfigMap data of `api` in a Kubernetes render.
fn config_map(output: &support::Output) -> serde_json::Value {
    let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    let files = json["environments"][0]["files"].as_array().unwrap();
    let manifest = files
        .iter()
        .find(|f| f["path"] == "api/manifest.yaml")
        .unwrap()["contents"]
        .as_str()
        .unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(manifest).unwrap();
    let config = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("ConfigMap"))
        .unwrap();
    let mut out = serde_json::Map::new();
    for (k, v) in config["data"].as_hash().unwrap() {
        out.insert(k.as_str().unwrap().to_string(), v.as_str().unwrap().into());
    }
    out.into()
}

#[test]
fn configuration_templates_render_with_parameters_escaped_for_their_syntax() {
    let project = template_project();
    let output = project.run(&["render", "--format", "json", "main.svc"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let data = config_map(&output);
    let settings: serde_json::Value =
        serde_json::from_str(data["settings.json"].as_str().unwrap()).unwrap();
    assert_eq!(
        settings,
        serde_json::json!({
            "greeting": "hello",
            "workers": 4,
            "timeout": "30s",
            "db": "tcp://db.prod.svc.cluster.local:5432",
            "port": 8080,
            "service": "api",
        })
    );
    assert_eq!(data["api.conf"], "greeting = hello\nworkers = 4\n");

    // A hostile value stays one JSON string; in a file of unknown syntax a line break
    // is refused rather than written as a second setting.
    let hostile = "a\"b\\c\nadmin = true";
    let output = project.run(&[
        "render",
        "--format",
        "json",
        "--set",
        &format!("api.greeting={hostile}"),
        "main.svc",
    ]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(output.stdout.contains("E0703"), "{}", output.stdout);
    project.file("api.conf.hbs", "workers = {{param.workers}}\n");
    let output = project.run(&[
        "render",
        "--format",
        "json",
        "--set",
        &format!("api.greeting={hostile}"),
        "main.svc",
    ]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let data = config_map(&output);
    let settings: serde_json::Value =
        serde_json::from_str(data["settings.json"].as_str().unwrap()).unwrap();
    assert_eq!(settings["greeting"], hostile);
}

#[test]
fn configuration_template_errors_are_diagnostics() {
    let project = template_project();
    project.file(
        "api.conf.hbs",
        "greeting = {{param.greting}}\ntoken = {{param.token}}\n",
    );
    let output = project.run(&["render", "main.svc"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    snapshot("config-template-unknown-param", &output.transcript());

    std::fs::remove_file(project.path().join("settings.json.hbs")).unwrap();
    let output = project.run(&["render", "main.svc"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(output.stderr.contains("[E0201]"), "{}", output.stderr);
    snapshot("config-template-missing", &output.transcript());
}

/// Templates are user input too: a partial cycle or deep nesting would recurse until
/// the stack runs out. Both are diagnostics, and svcmodel exits normally.
#[test]
fn templates_that_would_recurse_forever_are_refused() {
    let project = Project::new();
    project
        .file("svcmodel.toml", "")
        .file("main.svc", SMALL.replace("kubernetes", "ecs"))
        .file(
            "templates/ecs/target.toml",
            "format = \"json\"\n\n[[file]]\ntemplate = \"a.hbs\"\npath = \"{{service.name}}.json\"\neach = \"service\"\n",
        )
        .file("templates/ecs/a.hbs", "{{#each service.ports}}{{> b.hbs}}{{/each}}\n")
        .file("templates/ecs/b.hbs", "{{> a.hbs}}\n");
    let output = project.run(&["render", "--format", "json", "main.svc"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains("includes itself through partials: a.hbs → b.hbs → a.hbs"),
        "{}",
        output.stdout
    );

    let nested = format!(
        "{}x{}",
        "{{#if service.name}}".repeat(2_000),
        "{{/if}}".repeat(2_000)
    );
    project
        .file("templates/ecs/a.hbs", nested)
        .file("templates/ecs/b.hbs", "");
    let output = project.run(&["render", "--format", "json", "main.svc"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(
        output.stdout.contains("nests blocks more than 32 deep"),
        "{}",
        output.stdout
    );

    project.file("templates/ecs/a.hbs", "{{> (concat \"a\" \".hbs\")}}\n");
    let output = project.run(&["render", "--format", "json", "main.svc"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(
        output.stdout.contains("whose name is computed"),
        "{}",
        output.stdout
    );
}

/// Values files and `--set` may give a service other resources than it declares
/// (`[SERVICE.resources]`, what `reconcile --write-values` writes); rendering uses them.
#[test]
fn values_files_and_flags_set_resources() {
    let project = Project::new();
    project
        .file("svcmodel.toml", "")
        .file(
            "main.svc",
            SMALL.replace(
                "provides",
                "resources { cpu = 250m, memory = 128Mi }\n  provides",
            ),
        )
        .file(
            "values.toml",
            "[environment.prod.orders.resources]\nmemory = \"512Mi\"\n",
        );
    let output = project.run(&[
        "render",
        "-f",
        "values.toml",
        "--set",
        "orders.resources.cpu=1.5",
        "main.svc",
    ]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains("              cpu: \"1500m\"\n              memory: \"512Mi\""),
        "{}",
        output.stdout
    );
    let wrong = project.run(&["render", "--set", "orders.resources.disk=1", "main.svc"]);
    assert_eq!(wrong.code, 1, "{}", wrong.transcript());
    assert!(wrong.stderr.contains("E0607"), "{}", wrong.stderr);
}

/// `context` is read by the engines that deploy through one; on a built-in target
/// that does not, it is a warning at the attribute, and rendering goes on.
#[test]
fn a_context_on_a_target_that_does_not_read_it_is_a_warning() {
    let project = Project::new();
    project.file("svcmodel.toml", "").file(
        "main.svc",
        "environment \"dev\" {\n  target  = \"local\"\n  context = \"prod-cluster\"\n}\n\nservice \"api\" {\n  version = \"1.0.0\"\n  run local {\n    command = [\"/bin/true\"]\n  }\n}\n",
    );
    let output = project.run(&["render", "main.svc"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        output
            .stderr
            .contains("warning[E0701]: target `local` does not read `context`")
            && output.stderr.contains("main.svc:3:13"),
        "{}",
        output.stderr
    );
}

/// Targets whose templates never list every service render each service's files as
/// its view is built; the others build the whole view first. Both give the same
/// bytes: here the built-in targets render each example three times: as they are;
/// with one more environment-wide file that lists the secrets, files and volumes
/// (gathered service by service); and with that file naming `services` too, which
/// takes the other path.
#[test]
fn rendering_service_by_service_gives_the_bytes_of_the_whole_view() {
    let lists = "{{#each secrets}}# secret {{instance}} {{param}}\n{{/each}}\
                 {{#each files}}# file {{name}} {{content}}\n{{/each}}\
                 {{#each volumes}}# volume {{this}}\n{{/each}}";
    let lists_and_services = format!("{lists}{{{{#each services}}}}{{{{/each}}}}");
    // Pairs that fail compare their diagnostics; most must render.
    let mut rendered = 0;
    let mut listed = 0;
    for target in ["kubernetes", "nomad", "systemd", "local"] {
        let project = Project::new();
        copy_tree(&repo().join("examples"), project.path());
        // A configuration file, a secret and data (systemd cannot express the file).
        project.file(
            "lists/main.svc",
            "service \"store\" {\n  version = \"1.0.0\"\n  image = \"store\"\n  run local {\n    command = [\"/bin/store\"]\n  }\n  param \"key\" { type = secret }\n  provides \"http\" { port = 8080 }\n  data { path = \"/var/lib/store\" }\n  config {\n    file \"/etc/store.conf\" = \"mode=fast\\n\"\n    env \"KEY\" = param.key\n  }\n}\n",
        );
        let examples = [
            "shop",
            "bank",
            "bookinfo",
            "bank-of-anthos",
            "teastore",
            "lists",
        ];
        let render_all = || -> Vec<_> {
            examples
                .iter()
                .map(|example| project.run(&["render", "--target", target, example]))
                .collect()
        };
        let plain = render_all();
        let manifest = std::fs::read_to_string(
            repo()
                .join("targets/templates")
                .join(target)
                .join("target.toml"),
        )
        .unwrap();
        project.file(
            &format!("templates/{target}/target.toml"),
            format!(
                "{manifest}\n[[file]]\ntemplate = \"every.txt.hbs\"\npath = \"every.txt\"\neach = \"environment\"\nformat = \"yaml\"\n"
            ),
        );
        project.file(&format!("templates/{target}/every.txt.hbs"), lists);
        let streamed = render_all();
        project.file(
            &format!("templates/{target}/every.txt.hbs"),
            &lists_and_services,
        );
        let whole = render_all();
        for (((example, plain), streamed), whole) in
            examples.iter().zip(plain).zip(streamed).zip(whole)
        {
            assert_eq!(
                plain.code,
                whole.code,
                "{target} {example}: {}",
                whole.transcript()
            );
            assert_eq!(streamed.stdout, whole.stdout, "{target} {example}");
            assert_eq!(streamed.stderr, whole.stderr, "{target} {example}");
            assert_eq!(plain.stderr, whole.stderr, "{target} {example}");
            // The whole view's output without the file of lists.
            let mut list = String::new();
            let without_list: String = whole
                .stdout
                .split_inclusive('\n')
                .scan(false, |in_list, line| {
                    if line.starts_with("==> ") {
                        *in_list = line.contains("/every.txt (");
                    }
                    if *in_list {
                        list.push_str(line);
                    }
                    Some(if *in_list { "" } else { line })
                })
                .collect();
            assert_eq!(plain.stdout, without_list, "{target} {example}");
            if whole.code == 0 {
                rendered += 1;
            }
            if list.contains("# secret ") && list.contains("# file ") && list.contains("# volume ")
            {
                listed += 1;
            }
        }
    }
    assert!(rendered >= 10, "only {rendered} of 24 rendered");
    assert!(
        listed >= 2,
        "only {listed} listed a secret, a file and a volume"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let into = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &into);
        } else {
            std::fs::copy(&path, &into).unwrap();
        }
    }
}

/// A write that fails halfway (here a file where the next file needs a folder) leaves
/// the previous output as it was and no half-written folder beside it.
#[test]
fn a_write_that_fails_halfway_keeps_the_previous_output() {
    let project = Project::new();
    let target = |paths: &[&str]| {
        paths
            .iter()
            .map(|path| {
                format!("[[file]]\ntemplate = \"task.json.hbs\"\npath = \"{path}\"\neach = \"service\"\n")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    project
        .file("svcmodel.toml", "")
        .file("main.svc", SMALL.replace("kubernetes", "ecs"))
        .file(
            "templates/ecs/target.toml",
            format!(
                "format = \"json\"\n\n{}",
                target(&["{{service.name}}.json"])
            ),
        )
        .file(
            "templates/ecs/task.json.hbs",
            "{\n  \"image\": {{service.image}}\n}\n",
        );
    let output = project.run(&["render", "-o", "out", "main.svc"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let before = project.read("out/prod/orders.json");

    project.file(
        "templates/ecs/target.toml",
        format!(
            "format = \"json\"\n\n{}",
            target(&["{{service.name}}", "{{service.name}}/task.json"])
        ),
    );
    let output = project.run(&["render", "-o", "out", "main.svc"]);
    assert_eq!(output.code, 4, "{}", output.transcript());
    assert!(
        output.stderr.contains("error[E0205]: cannot write `"),
        "{}",
        output.transcript()
    );
    assert_eq!(project.read("out/prod/orders.json"), before);
    let left: Vec<String> = std::fs::read_dir(project.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["prod"]);
}

/// A folder that cannot be replaced stops the writing, not the rendering: every
/// environment's model errors are still said, and they come first (exit 1), as
/// without `-o`.
#[test]
fn model_errors_come_before_a_folder_that_cannot_be_replaced() {
    let project = Project::new();
    let bank = repo().join("examples/bank");
    for env in ["dc-frankfurt", "aws-eu-central", "aws-test"] {
        project.file(&format!("out/{env}/notes.txt"), "mine");
    }
    let render = |extra: &[&str]| {
        let mut args = vec!["render", "--target", "local", bank.to_str().unwrap()];
        args.extend(extra);
        project.run(&args)
    };
    let to_stdout = render(&[]);
    let to_folder = render(&["-o", "out"]);
    assert_eq!(to_folder.code, 1, "{}", to_folder.transcript());
    assert_eq!(to_stdout.stderr, to_folder.stderr);
    assert!(to_folder.stderr.contains("error: nothing was rendered"));
    for env in ["dc-frankfurt", "aws-eu-central", "aws-test"] {
        assert_eq!(project.read(&format!("out/{env}/notes.txt")), "mine");
    }
}

/// `join` writes every service's text into one file, ordered by instance name with
/// the separator between them; its path is rendered once, without a `service`.
#[test]
fn a_joined_file_holds_every_service_in_order() {
    let project = Project::new();
    let model = format!(
        "{}\nservice \"billing\" {{\n  version = \"2.0.0\"\n  image   = \"shop/billing:2.0.0\"\n}}\n",
        SMALL.replace("kubernetes", "ecs")
    );
    let target = |path: &str, each: &str| {
        format!(
            "format = \"yaml\"\n\n[[file]]\ntemplate = \"task.yaml.hbs\"\npath = \"{path}\"\neach = \"{each}\"\njoin = \"---\\n\"\n"
        )
    };
    project
        .file("svcmodel.toml", "")
        .file("main.svc", model)
        .file(
            "templates/ecs/target.toml",
            target("{{environment.name}}-tasks.yaml", "service"),
        )
        .file(
            "templates/ecs/task.yaml.hbs",
            "name: {{service.name}}\nimage: {{service.image}}\n",
        );
    let output = project.run(&["render", "-o", "out", "main.svc"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert_eq!(
        project.read("out/prod/prod-tasks.yaml"),
        "name: \"billing\"\nimage: \"shop/billing:2.0.0\"\n---\nname: \"orders\"\nimage: \"shop/orders:1.0.0\"\n"
    );
    let files: Vec<_> = std::fs::read_dir(project.path().join("out/prod"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let joined = project.read("out/prod/prod-tasks.yaml");

    // The same when a template lists every service (the whole view is built first).
    project
        .file(
            "templates/ecs/target.toml",
            format!(
                "{}\n[[file]]\ntemplate = \"all.yaml.hbs\"\npath = \"all.yaml\"\neach = \"environment\"\n",
                target("{{environment.name}}-tasks.yaml", "service")
            ),
        )
        .file("templates/ecs/all.yaml.hbs", "{{#each services}}# {{name}}\n{{/each}}");
    let output = project.run(&["render", "-o", "out", "main.svc"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert_eq!(project.read("out/prod/prod-tasks.yaml"), joined);
    assert_eq!(
        project.read("out/prod/all.yaml"),
        "# \"billing\"\n# \"orders\"\n"
    );

    // A joined file's path has no service to name.
    project.file(
        "templates/ecs/target.toml",
        target("{{service.name}}.yaml", "service"),
    );
    let output = project.run(&["render", "main.svc"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(
        output.stderr.contains("path of task.yaml.hbs"),
        "{}",
        output.transcript()
    );

    project.file(
        "templates/ecs/target.toml",
        target("tasks.yaml", "environment"),
    );
    let output = project.run(&["render", "main.svc"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(output.stderr.contains("E0706"), "{}", output.transcript());
    assert!(
        output.stderr.contains("`join` is for a file rendered"),
        "{}",
        output.transcript()
    );
}

/// A joined file of a system large enough to render on several threads is the
/// per-service files, in path order, with the separator between them.
#[test]
fn a_joined_file_of_many_services_is_the_per_service_files_in_order() {
    let project = Project::new();
    let mut model = String::from("environment \"prod\" {\n  target = \"ecs\"\n}\n");
    for i in 0..300 {
        model.push_str(&format!(
            "service \"s{i}\" {{\n  version = \"1.0.{i}\"\n  image   = \"s{i}\"\n}}\n"
        ));
    }
    let target = |path: &str, join: &str| {
        format!(
            "format = \"yaml\"\n\n[[file]]\ntemplate = \"task.yaml.hbs\"\npath = \"{path}\"\neach = \"service\"\n{join}"
        )
    };
    project
        .file("svcmodel.toml", "")
        .file("main.svc", model)
        .file(
            "templates/ecs/target.toml",
            target("{{service.name}}.yaml", ""),
        )
        .file(
            "templates/ecs/task.yaml.hbs",
            "name: {{service.name}}\nversion: {{service.version}}\n",
        );
    let output = project.run(&["render", "-o", "apart", "main.svc"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let mut names: Vec<String> = std::fs::read_dir(project.path().join("apart/prod"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 300);
    let expected: Vec<String> = names
        .iter()
        .map(|name| project.read(&format!("apart/prod/{name}")))
        .collect();

    project.file(
        "templates/ecs/target.toml",
        target("all.yaml", "join = \"---\\n\"\n"),
    );
    let output = project.run(&["render", "-o", "joined", "main.svc"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert_eq!(project.read("joined/prod/all.yaml"), expected.join("---\n"));
}
