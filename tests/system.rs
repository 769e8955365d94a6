//! Resolution through the CLI: the examples' compile, graph, why and impact outputs,
//! the lockfile's life cycle, and the JSON outputs against their published schemas.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use support::{Project, repo, svcmodel, validate};

fn examples(args: &[&str]) -> support::Output {
    svcmodel(&repo().join("examples"), args)
}

#[test]
fn examples_compile_graph_why_and_impact() {
    let runs: &[(&str, &[&str])] = &[
        ("compile-bank", &["compile", "bank"]),
        ("compile-shop", &["compile", "shop"]),
        ("graph-shop-dot", &["graph", "shop"]),
        (
            "graph-shop-mermaid",
            &["graph", "--format", "mermaid", "shop"],
        ),
        ("graph-bank-dot", &["graph", "bank"]),
        ("why-bank-postgres", &["why", "postgres", "bank"]),
        (
            "why-bank-redis",
            &["why", "redis", "-e", "dc-frankfurt", "bank"],
        ),
        ("impact-bank-postgres", &["impact", "postgres", "bank"]),
        ("impact-shop-products", &["impact", "products", "shop"]),
        ("why-unknown", &["why", "postgress", "bank"]),
        (
            "describe-shop-products",
            &[
                "describe",
                "products",
                "-e",
                "local",
                "-f",
                "shop/values/local.toml",
                "--set",
                "products.vat_rate=0.07",
                "shop",
            ],
        ),
        ("describe-shop-payments", &["describe", "payments", "shop"]),
        ("describe-unknown", &["describe", "product", "shop"]),
        (
            "compile-unknown-environment",
            &["compile", "-e", "dc-frankfrut", "bank"],
        ),
    ];
    for (name, args) in runs {
        let output = examples(args);
        insta::assert_snapshot!(*name, output.transcript());
    }
}

#[test]
fn the_svg_graph_is_well_formed_and_deterministic() {
    let first = examples(&["graph", "--format", "svg", "bank"]);
    let second = examples(&["graph", "--format", "svg", "bank"]);
    assert_eq!(first.code, 0, "{}", first.transcript());
    assert_eq!(
        first.stdout, second.stdout,
        "the drawing changed between runs"
    );
    let svg = &first.stdout;
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    // Every instance is drawn, and every requirement as an edge.
    let json: serde_json::Value =
        serde_json::from_str(&examples(&["graph", "--format", "json", "bank"]).stdout).unwrap();
    let graph = &json["graphs"][0];
    for node in graph["nodes"].as_array().unwrap() {
        let name = node["name"].as_str().unwrap();
        assert!(
            svg.contains(&format!(">{name}</text>")),
            "{name} is not drawn"
        );
    }
    assert!(graph["edges"].as_array().unwrap().len() > 5);
    let edges: usize = json["graphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["edges"].as_array().unwrap().len())
        .sum();
    assert_eq!(svg.matches("<polyline ").count(), edges);
    // Each requirement is written beside its edge, readable without hovering, on an
    // opaque background.
    assert_eq!(svg.matches("class=\"label\"").count(), edges);
    assert!(svg.contains("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>"));
    // Tags balance: the picture is well-formed XML as far as a count can tell.
    assert_eq!(svg.matches("<g ").count(), svg.matches("</g>").count());
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
}

#[test]
fn published_schemas_are_current() {
    let mut names = Vec::new();
    for name in [
        "compile",
        "graph",
        "render",
        "place",
        "risk",
        "slo",
        "check",
        "fmt",
        "why",
        "impact",
        "lock",
        "plan",
        "deploy",
        "status",
        "reconcile",
        "destroy",
        "state-unlock",
        "state-adopt",
        "audit",
        "describe",
        "report",
        "explain",
    ] {
        let generated = svcmodel(&repo(), &["schema", name]);
        assert_eq!(generated.code, 0);
        let path = repo()
            .join("docs/schema")
            .join(format!("{name}.schema.json"));
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated.stdout).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == generated.stdout,
            "docs/schema/{name}.schema.json is stale: run `UPDATE_DOCS=1 cargo test --test system`"
        );
        names.push(format!("{name}.schema.json"));
    }
    // Every published schema is one `svcmodel schema` prints.
    let mut published: Vec<String> = std::fs::read_dir(repo().join("docs/schema"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    published.sort();
    names.sort();
    assert_eq!(
        published, names,
        "docs/schema/ holds a schema no command prints"
    );
}

#[test]
fn compile_and_graph_json_match_their_schemas() {
    for example in ["bank", "shop", "catalog"] {
        let compile = examples(&["compile", "--format", "json", example]);
        assert_eq!(compile.code, 0, "{}", compile.transcript());
        let json: serde_json::Value = serde_json::from_str(&compile.stdout).unwrap();
        assert!(!json["systems"].as_array().unwrap().is_empty() || example == "catalog");
        validate("compile", &json);
        let graph = examples(&["graph", "--format", "json", example]);
        validate("graph", &serde_json::from_str(&graph.stdout).unwrap());
        if example != "catalog" {
            let render = examples(&["render", "--format", "json", example]);
            assert_eq!(render.code, 0, "{}", render.transcript());
            validate("render", &serde_json::from_str(&render.stdout).unwrap());
        }
    }
}

#[test]
fn compile_json_keeps_references_symbolic_and_secrets_out() {
    let compile = examples(&["compile", "--format", "json", "-e", "dc-frankfurt", "bank"]);
    let json: serde_json::Value = serde_json::from_str(&compile.stdout).unwrap();
    let instances = json["systems"][0]["instances"].as_array().unwrap();
    let accounts = instances.iter().find(|i| i["name"] == "accounts").unwrap();
    let env = accounts["env"].as_object().unwrap();
    assert!(
        env.values().any(|v| v["text"]
            .as_str()
            .is_some_and(|t| t.contains("${postgres.sql.host}"))),
        "{env:#?}"
    );
    let secrets: Vec<_> = instances
        .iter()
        .flat_map(|i| i["parameters"].as_object().unwrap().values())
        .filter(|p| p["type"] == "secret")
        .collect();
    assert!(!secrets.is_empty());
    for secret in secrets {
        assert_eq!(secret["value"], serde_json::Value::Null);
        assert_eq!(secret["source"], "secret");
    }
}

const CATALOG: &str = r#"
service "postgres" {
  version = "16.2.0"
  image   = "postgres:16.2"
  provides "sql" { port = 5432 }
}

service "postgres" {
  version = "15.6.0"
  image   = "postgres:15.6"
  provides "sql" { port = 5432 }
}
"#;

#[test]
fn the_lockfile_pins_versions_until_updated() {
    let project = Project::new();
    project.file("svcmodel.toml", "");
    project.file("catalog/postgres.svc", CATALOG.replace("16.2.0", "15.7.0"));
    let orders = "import \"../catalog\"\n\nservice \"orders\" {\n  version = \"1.0.0\"\n  image   = \"orders\"\n  requires \"postgres\" { version = \">=15\" }\n}\n";
    project.file("shop/orders.svc", orders);
    let shop = project.path().join("shop");

    let missing = svcmodel(&shop, &["compile", "--locked", "."]);
    assert_eq!(missing.code, 1, "{}", missing.transcript());
    assert!(missing.stderr.contains("E0603"), "{}", missing.stderr);

    let lock = svcmodel(&shop, &["lock", "."]);
    assert_eq!(lock.code, 0, "{}", lock.transcript());
    let text = project.read("shop/svcmodel.lock");
    assert!(text.contains("postgres = { version = \"15.7.0\""), "{text}");
    assert_eq!(
        svcmodel(&shop, &["lock", "."]).stdout,
        "svcmodel.lock is up to date\n"
    );

    // A newer version arrives: the lock keeps the old one, and stays valid.
    project.file("catalog/postgres16.svc", "service \"postgres\" {\n  version = \"16.2.0\"\n  image   = \"postgres:16.2\"\n  provides \"sql\" { port = 5432 }\n}\n");
    let locked = svcmodel(&shop, &["compile", "--locked", "."]);
    assert_eq!(locked.code, 0, "{}", locked.transcript());
    assert!(
        locked.stdout.contains("postgres 15.7.0"),
        "{}",
        locked.stdout
    );

    // Updating one service takes the newest version that fits.
    let update = svcmodel(&shop, &["lock", "--update", "postgres", "."]);
    assert_eq!(update.code, 0, "{}", update.transcript());
    assert!(
        project
            .read("shop/svcmodel.lock")
            .contains("postgres = { version = \"16.2.0\"")
    );

    // Changing a definition makes the lock stale: `--locked` fails and says why.
    project.file(
        "shop/orders.svc",
        orders.replace("image   = \"orders\"", "image   = \"orders:2\""),
    );
    let stale = svcmodel(&shop, &["compile", "--locked", "."]);
    assert_eq!(stale.code, 1, "{}", stale.transcript());
    assert!(
        stale
            .stderr
            .contains("the definition of `orders` 1.0.0 changed"),
        "{}",
        stale.stderr
    );
    // Without --locked it is a warning, and the command succeeds.
    let warned = svcmodel(&shop, &["compile", "."]);
    assert_eq!(warned.code, 0, "{}", warned.transcript());
    assert!(
        warned.stderr.contains("warning[E0603]"),
        "{}",
        warned.stderr
    );
}

#[test]
fn version_rules_choose_versions_per_environment() {
    let project = Project::new();
    project.file("catalog.svc", CATALOG);
    project.file(
        "main.svc",
        r#"import "catalog.svc"

environment "prod" {
  target = "kubernetes"
  tier   = "prod"
}

environment "test" {
  target = "compose"
  tier   = "test"
}

service "orders" {
  version = "1.0.0"
  image   = "orders"
  requires "postgres" { version = ">=15" }
}

policy "postgres-15-in-prod" {
  when    = environment.tier == "prod"
  use     = { postgres = "^15" }
  because = "16 is not qualified for production yet"
}
"#,
    );
    let output = project.run(&["compile", "main.svc"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    insta::assert_snapshot!(output.stdout, @r"
    environment `prod`: 2 instances
      wave 1: postgres 15.6.0
      wave 2: orders 1.0.0
    environment `test`: 2 instances
      wave 1: postgres 16.2.0
      wave 2: orders 1.0.0
    ");
    let why = project.run(&["why", "postgres", "-e", "prod", "main.svc"]);
    assert_eq!(why.code, 0, "{}", why.transcript());
    assert!(
        why.stdout.contains("version 15.6.0 is the newest of 16.2.0, 15.6.0 that meets:\n  `orders` requires >=15\n  policy `postgres-15-in-prod` allows ^15 here (16 is not qualified for production yet)"),
        "{}",
        why.stdout
    );
    // A rule that no version can meet names the rule.
    project.file(
        "main.svc",
        project.read("main.svc").replace("\"^15\"", "\"^14\""),
    );
    let conflict = project.run(&["compile", "-e", "prod", "main.svc"]);
    assert_eq!(conflict.code, 1, "{}", conflict.transcript());
    assert!(
        conflict
            .stderr
            .contains("policy `postgres-15-in-prod` allows only"),
        "{}",
        conflict.stderr
    );
}

#[test]
fn pre_releases_are_chosen_only_when_a_requirement_names_one() {
    let project = Project::new();
    let db = |version: &str| {
        format!("service \"db\" {{\n  version = \"{version}\"\n  image   = \"db\"\n}}\n\n")
    };
    let app = |requirement: &str| {
        format!(
            "service \"app\" {{\n  version = \"1.0.0\"\n  image   = \"app\"\n  requires \"db\" {{ version = \"{requirement}\" }}\n}}\n"
        )
    };
    for (requirement, chosen) in [
        ("*", "db 1.9.0"),
        (">=1.4.1", "db 1.9.0"),
        ("<2.0.0", "db 1.9.0"),
        (">=2.0.0-rc.1", "db 2.0.0-rc.1"),
    ] {
        project.file(
            "main.svc",
            format!("{}{}{}", db("2.0.0-rc.1"), db("1.9.0"), app(requirement)),
        );
        let output = project.run(&["compile", "main.svc"]);
        assert_eq!(output.code, 0, "{requirement}: {}", output.transcript());
        assert!(
            output.stdout.contains(chosen),
            "{requirement} should choose {chosen}:\n{}",
            output.stdout
        );
    }
}

#[test]
fn percentages_from_values_stay_within_0_and_100() {
    let project = Project::new();
    project.file("main.svc", "service \"app\" {\n  version = \"1.0.0\"\n  image   = \"app\"\n  param \"share\" { type = percent, default = 50% }\n}\n");
    project.file("values.toml", "[app]\nshare = 150\n");
    let file = project.run(&["compile", "-f", "values.toml", "main.svc"]);
    assert_eq!(file.code, 1, "{}", file.transcript());
    assert!(file.stderr.contains("E0403"), "{}", file.stderr);
    let flag = project.run(&["compile", "--set", "app.share=250%", "main.svc"]);
    assert_eq!(flag.code, 1, "{}", flag.transcript());
    assert!(flag.stderr.contains("E0403"), "{}", flag.stderr);
    let fine = project.run(&["compile", "--set", "app.share=99.5%", "main.svc"]);
    assert_eq!(fine.code, 0, "{}", fine.transcript());
}

#[test]
fn lock_update_of_an_unknown_service_is_a_usage_error() {
    let output = examples(&["lock", "--update", "postgress", "bank"]);
    assert_eq!(output.code, 2, "{}", output.transcript());
    assert!(
        output.stderr.contains("did you mean `postgres`?"),
        "{}",
        output.stderr
    );
}

#[test]
fn the_examples_values_files_apply() {
    let output = examples(&[
        "compile",
        "--format",
        "json",
        "--locked",
        "-f",
        "bank/values/prod.toml",
        "-e",
        "dc-frankfurt",
        "bank",
    ]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    let from_file: Vec<String> = json["systems"][0]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| {
            let name = i["name"].as_str().unwrap().to_string();
            i["parameters"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, p)| p["source"] == "values_file")
                .map(move |(param, p)| format!("{name}.{param} at line {}", p["given_at"]["line"]))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(from_file.len() >= 5, "{from_file:#?}");
    let shop = examples(&[
        "compile",
        "--locked",
        "-f",
        "shop/values/local.toml",
        "shop",
    ]);
    assert_eq!(shop.code, 0, "{}", shop.transcript());
}

#[test]
fn describe_json_says_where_each_value_comes_from() {
    let output = examples(&[
        "describe",
        "--format",
        "json",
        "products",
        "-e",
        "local",
        "-f",
        "shop/values/local.toml",
        "--set",
        "products.vat_rate=0.07",
        "shop",
    ]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    support::validate("describe", &json);
    let parameters = &json["systems"][0]["instances"][0]["parameters"];
    let by_name = |name: &str| {
        parameters
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    let ttl = by_name("cache_ttl");
    assert_eq!(ttl["type"], "duration");
    assert_eq!(ttl["range"], serde_json::json!(["0s", "1h"]));
    assert_eq!(ttl["default"], "1m");
    assert_eq!(ttl["value"], "0s");
    assert_eq!(ttl["source"], "values_file");
    assert_eq!(ttl["given_at"]["file"], "shop/values/local.toml");
    assert_eq!(
        ttl["doc"],
        "How long a product page may be served from memory"
    );
    let vat = by_name("vat_rate");
    assert_eq!(
        (vat["value"].clone(), vat["source"].clone()),
        ("0.07".into(), "set".into())
    );
}

/// A box of the drawing: its name and its rectangle (x, y, width, height).
type DrawnBox = (String, [f64; 4]);

/// An edge of the drawing: from, to, and its points.
type DrawnEdge = (String, String, Vec<(f64, f64)>);

/// The boxes and the edges of `graph --format svg`.
fn drawing(svg: &str) -> (Vec<DrawnBox>, Vec<DrawnEdge>) {
    let attr = |tag: &str, name: &str| -> String {
        let at = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        tag[at..at + tag[at..].find('"').unwrap()].to_string()
    };
    let number = |tag: &str, name: &str| attr(tag, name).parse::<f64>().unwrap();
    let mut boxes = Vec::new();
    for node in svg.split("<g class=\"node\">").skip(1) {
        let rect = &node[..node.find("/>").unwrap()];
        let name = &node[node.find("\">").unwrap() + 2..];
        let name = &name[..name.find("</text>").unwrap()];
        let rectangle = ["x", "y", "width", "height"].map(|a| number(rect, a));
        boxes.push((name.to_string(), rectangle));
    }
    let mut edges = Vec::new();
    for line in svg.split("<polyline").skip(1) {
        let tag = &line[..line.find('>').unwrap()];
        let points = attr(tag, "points")
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        edges.push((attr(tag, "data-from"), attr(tag, "data-to"), points));
    }
    (boxes, edges)
}

/// Whether the segment from `a` to `b` passes through the inside of `r`.
fn crosses(a: (f64, f64), b: (f64, f64), r: [f64; 4]) -> bool {
    let [x, y, w, h] = [r[0] + 0.5, r[1] + 0.5, r[2] - 1.0, r[3] - 1.0];
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [
        (-dx, a.0 - x),
        (dx, x + w - a.0),
        (-dy, a.1 - y),
        (dy, y + h - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else if p < 0.0 {
            t0 = t0.max(q / p);
        } else {
            t1 = t1.min(q / p);
        }
    }
    t0 < t1
}

/// No edge of the drawing passes behind a box that is not one of its ends, on every
/// example and on a generated model of 200 services.
#[test]
fn graph_edges_never_pass_behind_a_box() {
    let generated = tempfile::tempdir().unwrap();
    std::fs::write(generated.path().join("svcmodel.toml"), "").unwrap();
    for (path, text) in svcmodel_compiler::generate::model(200, 7).files {
        let path = generated.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut models: Vec<std::path::PathBuf> = [
        "bank",
        "shop",
        "insurer",
        "bookinfo",
        "teastore",
        "bank-of-anthos",
    ]
    .iter()
    .map(|e| repo().join("examples").join(e))
    .collect();
    models.push(generated.path().to_path_buf());
    for model in models {
        let output = svcmodel(
            &repo(),
            &["graph", "--format", "svg", model.to_str().unwrap()],
        );
        assert_eq!(
            output.code,
            0,
            "{}: {}",
            model.display(),
            output.transcript()
        );
        let (boxes, edges) = drawing(&output.stdout);
        assert!(!edges.is_empty(), "{}", model.display());
        let mut crossing = Vec::new();
        for (from, to, points) in &edges {
            for pair in points.windows(2) {
                for (name, rect) in &boxes {
                    if name != from && name != to && crosses(pair[0], pair[1], *rect) {
                        crossing.push(format!("{from} -> {to} passes behind {name}"));
                    }
                }
            }
        }
        assert!(crossing.is_empty(), "{}: {crossing:#?}", model.display());
    }
}
