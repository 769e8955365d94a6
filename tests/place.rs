//! Placement, risk and service levels through the CLI: the bank's outputs, the JSON
//! against the published schemas, and what a new user meets when the rules cannot be
//! met (a rule no environment satisfies, a latency budget against a policy, too little
//! capacity), each explained with the rules named.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

use support::{Project, repo, svcmodel, validate};

fn examples(args: &[&str]) -> support::Output {
    svcmodel(&repo().join("examples"), args)
}

#[test]
fn the_bank_is_placed_explained_and_assessed() {
    let runs: &[(&str, &[&str], i32)] = &[
        ("place-bank", &["place", "bank"], 0),
        (
            "place-bank-explain-fraud",
            &["place", "-e", "dc-frankfurt", "--explain", "fraud", "bank"],
            0,
        ),
        (
            "place-bank-explain-postgres",
            &[
                "place",
                "-e",
                "aws-eu-central",
                "--explain",
                "postgres",
                "bank",
            ],
            0,
        ),
        ("place-shop", &["place", "shop"], 0),
        ("risk-bank", &["risk", "bank"], 0),
        // The bank's single redis and postgres instances cost it its availability target.
        ("slo-bank", &["slo", "bank"], 5),
        ("slo-shop", &["slo", "shop"], 0),
        (
            "place-unknown-service",
            &["place", "--explain", "frad", "bank"],
            2,
        ),
    ];
    for (name, args, code) in runs {
        let output = examples(args);
        assert_eq!(output.code, *code, "{name}: {}", output.transcript());
        insta::assert_snapshot!(*name, output.transcript());
    }
}

#[test]
fn the_banks_rules_hold_in_its_placement() {
    let output = examples(&["place", "--format", "json", "bank"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    let prod = &json["landscapes"][0];
    assert_eq!(prod["name"], "prod");
    assert_eq!(prod["optimal"], true);
    let env_of = |name: &str| {
        prod["assignments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["instance"] == name)
            .unwrap()["environment"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Personal data stays in the EU data centre.
    for pii in ["accounts", "payments", "statements"] {
        assert_eq!(env_of(pii), "dc-frankfurt", "{pii}");
    }
    // near and 1-2 ms budgets keep the databases and caches with their users.
    assert_eq!(env_of("postgres"), "dc-frankfurt");
    assert_eq!(env_of("accounts-redis"), "dc-frankfurt");
    assert_eq!(env_of("fraud-redis"), env_of("fraud"));
    // The zone-spread web bank can only run where there are zones; fraud prefers the cloud.
    assert_eq!(env_of("web-banking"), "aws-eu-central");
    assert_eq!(env_of("fraud"), "aws-eu-central");
    // Critical services: every replica on its own hypervisor, or spread over zones.
    for assignment in prod["assignments"].as_array().unwrap() {
        let replicas = assignment["replicas"].as_array().unwrap();
        let name = assignment["instance"].as_str().unwrap();
        if ["accounts", "payments"].contains(&name) {
            let hypervisors: std::collections::BTreeSet<&str> = replicas
                .iter()
                .map(|r| r["hypervisor"].as_str().unwrap())
                .collect();
            assert_eq!(hypervisors.len(), replicas.len(), "{name}: {replicas:?}");
        }
        if name == "web-banking" {
            let zones: std::collections::BTreeSet<&str> = replicas
                .iter()
                .map(|r| r["zone"].as_str().unwrap())
                .collect();
            assert_eq!(zones.len(), 3, "{replicas:?}");
        }
    }
    // The cost is the sum of the assignments' costs.
    let sum: f64 = prod["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["cost_per_hour"].as_f64().unwrap())
        .sum();
    assert!((sum - prod["cost_per_hour"].as_f64().unwrap()).abs() < 1e-5);
}

#[test]
fn place_risk_and_slo_json_match_their_schemas() {
    for (command, example) in [
        ("place", "bank"),
        ("place", "shop"),
        ("risk", "bank"),
        ("risk", "shop"),
        ("slo", "bank"),
        ("slo", "shop"),
    ] {
        let output = examples(&[command, "--format", "json", example]);
        let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
        validate(command, &json);
    }
    let explained = examples(&["place", "--format", "json", "--explain", "fraud", "bank"]);
    let json: serde_json::Value = serde_json::from_str(&explained.stdout).unwrap();
    validate("place", &json);
    let verdicts = &json["landscapes"][0]["explanations"][0]["verdicts"];
    assert_eq!(verdicts.as_array().unwrap().len(), 2);
}

/// Risk and service levels checked by hand on a small placed system: `web` (2
/// replicas, 99%) requires `db` (1 replica, 99.9%); one environment with two zones.
#[test]
fn risk_and_slo_figures_are_right_by_hand() {
    let project = Project::new();
    project.file(
        "main.svc",
        r#"system "small" {
  entrypoints = ["web"]
  slo {
    availability = 99.9%
    latency      = 100ms
  }
}

environment "prod" {
  target          = "kubernetes"
  tier            = "prod"
  failure_domains = { zone = ["a", "b"] }
}

service "db" {
  version      = "1.0.0"
  image        = "x/db:1"
  availability = 99.9%
}

service "web" {
  version      = "1.0.0"
  image        = "x/web:1"
  replicas     = 2
  availability = 99%
  requires "db" { latency = 30ms }
}
"#,
    );
    let slo = project.run(&["slo", "--format", "json", "main.svc"]);
    let json: serde_json::Value = serde_json::from_str(&slo.stdout).unwrap();
    let web = &json["landscapes"][0]["entrypoints"][0];
    // web: 1 - 0.01^2 = 0.9999 (two zones); db: 0.999; together 0.9989001.
    assert_eq!(web["availability"], 99.89001);
    assert_eq!(web["availability_met"], false);
    assert_eq!(web["latency_bound_ms"], 30.0);
    assert_eq!(web["latency_met"], true);
    assert_eq!(slo.code, 5, "a missed target is exit 5");
    // db costs 0.001 of 0.0011 of downtime.
    assert_eq!(web["weakest"][0]["service"], "db");
    assert_eq!(web["weakest"][0]["share"], 90.9);

    let risk = project.run(&["risk", "--format", "json", "main.svc"]);
    assert_eq!(risk.code, 0, "{}", risk.transcript());
    let json: serde_json::Value = serde_json::from_str(&risk.stdout).unwrap();
    let report = &json["landscapes"][0];
    let losses = report["losses"].as_array().unwrap();
    // Losing the zone of db stops db, then web through it; losing the other zone only
    // degrades web.
    let zone_of_db = losses
        .iter()
        .find(|l| l["kind"] == "zone" && l["stopped"] == serde_json::json!(["db"]))
        .unwrap();
    assert_eq!(zone_of_db["entrypoints_down"], serde_json::json!(["web"]));
    assert_eq!(zone_of_db["stopped_through"][0]["service"], "web");
    let other = losses
        .iter()
        .find(|l| l["kind"] == "zone" && l["name"] != zone_of_db["name"])
        .unwrap();
    assert_eq!(other["stopped"], serde_json::json!([]));
    assert_eq!(other["degraded"][0]["lost"], 1);
    assert_eq!(
        report["single_points_of_failure"][0]["services"],
        serde_json::json!(["db"])
    );
}

/// What a new user meets: each infeasible model explained with the rules named.
#[test]
fn impossible_rules_are_explained_in_plain_words() {
    let cases: &[(&str, &str)] = &[
        (
            "place-rule-never-met",
            r#"environment "dc" {
  target       = "kubernetes"
  jurisdiction = "EU"
  tier         = "prod"
}

environment "cloud" {
  target       = "kubernetes"
  jurisdiction = "EU"
  tier         = "prod"
}

service "ledger" {
  version = "1.0.0"
  image   = "x/ledger:1"
}

policy "us-only" {
  require = environment.jurisdiction == "US"
  because = "the ledger is regulated in the US"
}
"#,
        ),
        (
            "place-latency-against-policy",
            r#"environment "dc" {
  target   = "kubernetes"
  provider = "onprem"
  tier     = "prod"
  link "cloud" { latency = 8ms }
}

environment "cloud" {
  target   = "kubernetes"
  provider = "aws"
  tier     = "prod"
}

service "db" {
  version = "1.0.0"
  image   = "x/db:1"
  data { classification = "pii" }
}

service "api" {
  version = "1.0.0"
  image   = "x/api:1"
  requires "db" { latency = 2ms }
}

policy "pii-on-premises" {
  when    = service.data.classification == "pii"
  require = environment.provider == "onprem"
  because = "personal data stays in our data centre"
}

policy "api-in-cloud" {
  when    = service.name == "api"
  require = environment.provider == "aws"
  because = "the API scales out in the cloud"
}
"#,
        ),
        (
            "place-capacity-too-small",
            r#"environment "dc" {
  target   = "kubernetes"
  tier     = "prod"
  capacity = { cpu = 8, memory = 32Gi }
}

service "search" {
  version   = "1.0.0"
  image     = "x/search:1"
  replicas  = 3
  resources { cpu = 2, memory = 8Gi }
}

service "index" {
  version   = "1.0.0"
  image     = "x/index:1"
  replicas  = 2
  resources { cpu = 2, memory = 4Gi }
}
"#,
        ),
        (
            "place-service-too-big",
            r#"environment "dc" {
  target          = "kubernetes"
  tier            = "prod"
  failure_domains = { hypervisor = ["hv1", "hv2"] }
  capacity        = { cpu = 16, memory = 64Gi }
}

service "search" {
  version   = "1.0.0"
  image     = "x/search:1"
  resources { cpu = 12, memory = 8Gi }
}
"#,
        ),
    ];
    for (name, model) in cases {
        let project = Project::new();
        project.file("main.svc", model);
        let output = project.run(&["place", "main.svc"]);
        assert_eq!(output.code, 1, "{name}: {}", output.transcript());
        insta::assert_snapshot!(*name, output.transcript());
    }
    // With too small a search budget, the capacity case spread over two environments
    // is neither placed nor proved impossible: E0903 says so. (With one environment
    // there is nothing to search: it is proved at once.)
    let project = Project::new();
    project.file(
        "main.svc",
        format!(
            "{}\nenvironment \"dc2\" {{\n  target   = \"kubernetes\"\n  tier     = \"prod\"\n  capacity = {{ cpu = 2, memory = 32Gi }}\n}}\n",
            cases[2].1
        ),
    );
    let output = project.run(&["place", "--max-nodes", "1", "main.svc"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    insta::assert_snapshot!("place-search-budget", output.transcript());
}

/// Rendering and planning an environment of a placed landscape: only what placement
/// put there, dependencies elsewhere at their environment's `address`, and each
/// replica pinned to the failure domains placement chose.
#[test]
fn an_environment_of_a_placed_landscape_renders_and_plans_what_is_placed_there() {
    let placed: serde_json::Value =
        serde_json::from_str(&examples(&["place", "--format", "json", "bank"]).stdout).unwrap();
    let assignments = placed["landscapes"][0]["assignments"].as_array().unwrap();
    let placed_in = |env: &str| -> Vec<String> {
        assignments
            .iter()
            .filter(|a| a["environment"] == env)
            .map(|a| a["instance"].as_str().unwrap().to_string())
            .collect()
    };
    let rendered: serde_json::Value = serde_json::from_str(
        &examples(&["render", "--format", "json", "-e", "aws-eu-central", "bank"]).stdout,
    )
    .unwrap();
    let files = rendered["environments"][0]["files"].as_array().unwrap();
    let mut services: Vec<String> = files
        .iter()
        .filter_map(|f| f["path"].as_str()?.split('/').next().map(str::to_string))
        .filter(|s| !s.ends_with(".hcl") && !s.ends_with(".yaml"))
        .collect();
    services.sort();
    services.dedup();
    assert_eq!(services, placed_in("aws-eu-central"));
    let web = files
        .iter()
        .find(|f| f["path"] == "web-banking/web-banking.nomad.hcl")
        .unwrap()["contents"]
        .as_str()
        .unwrap();
    assert!(
        web.contains("ACCOUNTS_ADDR = \"accounts.dc-frankfurt.bank.internal:9090\""),
        "{web}"
    );

    // dc-frankfurt on Kubernetes: accounts pinned to the hypervisors it was placed on.
    let rendered: serde_json::Value = serde_json::from_str(
        &examples(&["render", "--format", "json", "-e", "dc-frankfurt", "bank"]).stdout,
    )
    .unwrap();
    let accounts = rendered["environments"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "accounts/manifest.yaml")
        .unwrap()["contents"]
        .as_str()
        .unwrap()
        .to_string();
    let hypervisors: std::collections::BTreeSet<&str> = assignments
        .iter()
        .find(|a| a["instance"] == "accounts")
        .unwrap()["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["hypervisor"].as_str().unwrap())
        .collect();
    let pinned = accounts
        .split("key: \"svcmodel.io/hypervisor\"")
        .nth(1)
        .unwrap();
    for hypervisor in &hypervisors {
        assert!(
            pinned.contains(&format!("- \"{hypervisor}\"")),
            "{accounts}"
        );
    }
    // payments requires fraud, placed in the cloud: reached at its address, and let
    // out by the network policy.
    assert!(!placed_in("dc-frankfurt").contains(&"fraud".to_string()));

    // The plan of an environment holds what is placed there, nothing else.
    let plan: serde_json::Value = serde_json::from_str(
        &examples(&["plan", "--format", "json", "-e", "dc-frankfurt", "bank"]).stdout,
    )
    .unwrap();
    let mut planned: Vec<String> = plan["environments"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    planned.sort();
    assert_eq!(planned, placed_in("dc-frankfurt"));
}

/// The physical tree of `tests/cases/failure-domain-tree`: each domain's parent.
const TREE: &[(&str, &str, &str)] = &[
    // (kind, domain, parent)
    ("cluster", "cl-a", "room-a"),
    ("cluster", "cl-b", "room-b"),
    ("rack", "a-r01", "cl-a"),
    ("rack", "a-r02", "cl-a"),
    ("rack", "b-r01", "cl-b"),
    ("rack", "b-r02", "cl-b"),
    ("hypervisor", "a-hv01", "a-r01"),
    ("hypervisor", "a-hv02", "a-r01"),
    ("hypervisor", "a-hv03", "a-r02"),
    ("hypervisor", "a-hv04", "a-r02"),
    ("hypervisor", "b-hv01", "b-r01"),
    ("hypervisor", "b-hv02", "b-r01"),
    ("hypervisor", "b-hv03", "b-r02"),
    ("hypervisor", "b-hv04", "b-r02"),
];

const KINDS: [&str; 4] = ["zone", "cluster", "rack", "hypervisor"];

/// The domains a rendered file lets one service's replicas run in, per kind: what its
/// node affinity (Kubernetes), constraints (Nomad) or placement constraints (Swarm)
/// admit, given every domain the environment declares.
fn admitted(target: &str, text: &str) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let declared = |kind: &str| -> BTreeSet<String> {
        match kind {
            "zone" => ["room-a", "room-b"].iter().map(|s| s.to_string()).collect(),
            _ => TREE
                .iter()
                .filter(|(k, _, _)| *k == kind)
                .map(|(_, d, _)| d.to_string())
                .collect(),
        }
    };
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut out = std::collections::BTreeMap::new();
    for kind in KINDS {
        let mut set = declared(kind);
        match target {
            "kubernetes" => {
                let label = match kind {
                    "zone" => "topology.kubernetes.io/zone".to_string(),
                    other => format!("svcmodel.io/{other}"),
                };
                if let Some(at) = lines
                    .iter()
                    .position(|l| *l == format!("- key: \"{label}\""))
                {
                    assert_eq!(lines[at + 1], "operator: In", "{text}");
                    set = lines[at + 3..]
                        .iter()
                        .take_while(|l| l.starts_with("- \""))
                        .map(|l| {
                            l.trim_start_matches("- \"")
                                .trim_end_matches('"')
                                .to_string()
                        })
                        .collect();
                }
            }
            "nomad" => {
                let attribute = format!("attribute = \"${{meta.svcmodel_{kind}}}\"");
                if let Some(at) = lines
                    .windows(2)
                    .position(|w| w[0] == "constraint {" && w[1] == attribute)
                {
                    assert_eq!(lines[at + 2], "operator  = \"set_contains_any\"", "{text}");
                    let value = lines[at + 3]
                        .trim_start_matches("value     = \"")
                        .trim_end_matches('"');
                    set = value.split(',').map(str::to_string).collect();
                }
            }
            "swarm" => {
                let label = format!("node.labels.svcmodel.{kind}");
                for line in &lines {
                    let line = line.trim_start_matches("- \"").trim_end_matches('"');
                    if let Some(domain) = line.strip_prefix(&format!("{label} == ")) {
                        set.retain(|d| d == domain);
                    } else if let Some(domain) = line.strip_prefix(&format!("{label} != ")) {
                        set.remove(domain);
                    }
                }
            }
            other => panic!("no pins for {other}"),
        }
        out.insert(kind.to_string(), set);
    }
    out
}

/// The acceptance model of nested failure domains: two rooms, two clusters, four racks,
/// eight hosts. Every replica's path follows the tree, spread rules hold at the kind
/// they name, and on each target that pins replicas the rendered constraints admit
/// exactly the domains placement chose, kind by kind.
#[test]
fn a_tree_of_failure_domains_gives_every_replica_one_path_and_every_target_pins_it() {
    let model =
        std::fs::read_to_string(repo().join("tests/cases/failure-domain-tree/main.svc")).unwrap();
    let parent: std::collections::BTreeMap<&str, &str> =
        TREE.iter().map(|(_, d, p)| (*d, *p)).collect();
    for target in ["kubernetes", "nomad", "swarm"] {
        let project = Project::new();
        project.file(
            "main.svc",
            model.replace("target = \"kubernetes\"", &format!("target = \"{target}\"")),
        );
        let output = project.run(&["place", "--format", "json", "main.svc"]);
        assert_eq!(output.code, 0, "{}", output.transcript());
        let placed: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
        let assignments = placed["landscapes"][0]["assignments"].as_array().unwrap();
        assert_eq!(assignments.len(), 3, "{}", output.stdout);
        for assignment in assignments {
            let service = assignment["instance"].as_str().unwrap();
            let replicas = assignment["replicas"].as_array().unwrap();
            let mut chosen: std::collections::BTreeMap<String, BTreeSet<String>> =
                std::collections::BTreeMap::new();
            for replica in replicas {
                let path: Vec<&str> = KINDS
                    .iter()
                    .map(|k| replica[*k].as_str().unwrap())
                    .collect();
                for pair in path.windows(2) {
                    assert_eq!(
                        parent[pair[1]], pair[0],
                        "{service}: {path:?} leaves the tree"
                    );
                }
                for (kind, domain) in KINDS.iter().zip(&path) {
                    chosen
                        .entry(kind.to_string())
                        .or_default()
                        .insert(domain.to_string());
                }
            }
            // `claims` spreads over rooms (3 replicas, 2 rooms), `ledger` over hosts.
            let distinct = |kind: &str| chosen[kind].len();
            match service {
                "claims" => assert_eq!(distinct("zone"), 2, "{}", output.stdout),
                "ledger" => assert_eq!(distinct("hypervisor"), 4, "{}", output.stdout),
                _ => {}
            }
            let rendered = project.run(&["render", "--stdout", "--service", service, "main.svc"]);
            assert_eq!(rendered.code, 0, "{}", rendered.transcript());
            assert_eq!(
                admitted(target, &rendered.stdout),
                chosen,
                "{target} pins {service} to other domains than placement chose:\n{}",
                rendered.stdout
            );
        }
    }
}

/// `--lose` and `--without` change one run, never the model: the bank without its data
/// centre cannot hold its personal data anywhere; without the residency rule too, it
/// moves to the cloud; with two of the cloud's three zones lost, the zone spreads are
/// degraded warnings, in the JSON as well; a name that is nothing is a usage error.
#[test]
fn what_if_flags_take_domains_environments_and_policies_away_for_one_run() {
    let lost = examples(&["place", "--lose", "dc-frankfurt", "bank"]);
    assert_eq!(lost.code, 1, "{}", lost.transcript());
    assert!(
        lost.stderr_flat()
            .contains("`dc-frankfurt` is out of service (`--lose`)"),
        "{}",
        lost.stderr
    );

    let moved = examples(&[
        "place",
        "--format",
        "json",
        "--lose",
        "dc-frankfurt",
        "--without",
        "pii-stays-on-premises",
        "bank",
    ]);
    assert_eq!(moved.code, 0, "{}", moved.transcript());
    let moved: serde_json::Value = serde_json::from_str(&moved.stdout).unwrap();
    let prod = &moved["landscapes"][0];
    assert_eq!(prod["name"], "prod");
    for a in prod["assignments"].as_array().unwrap() {
        assert_eq!(a["environment"], "aws-eu-central", "{a}");
    }
    // What moved, against the placement of the model as it is, and why.
    let accounts = moved["moves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["instance"] == "accounts")
        .unwrap();
    assert_eq!(accounts["from_environment"], "dc-frankfurt", "{accounts}");
    assert_eq!(accounts["to_environment"], "aws-eu-central", "{accounts}");
    assert_eq!(
        accounts["cause"], "`dc-frankfurt` is out of service (`--lose`)",
        "{accounts}"
    );
    validate("place", &moved);

    let degraded = examples(&[
        "place",
        "--format",
        "json",
        "--lose",
        "eu-central-1a",
        "--lose",
        "eu-central-1b",
        "bank",
    ]);
    assert_eq!(degraded.code, 0, "{}", degraded.transcript());
    let degraded: serde_json::Value = serde_json::from_str(&degraded.stdout).unwrap();
    validate("place", &degraded);
    let warnings = degraded["warnings"].as_array().unwrap();
    assert!(!warnings.is_empty(), "{degraded}");
    for w in warnings {
        assert_eq!(w["code"], "E0904", "{w}");
        assert_eq!(w["severity"], "warning", "{w}");
    }
    // Nothing was placed in the zones lost.
    for a in degraded["landscapes"][0]["assignments"].as_array().unwrap() {
        for r in a["replicas"].as_array().unwrap() {
            assert!(r["zone"].is_null() || r["zone"] == "eu-central-1c", "{a}");
        }
    }
    // The model is untouched: the next run places as before.
    let again = examples(&["place", "bank"]);
    assert_eq!(again.code, 0);
    assert!(!again.stderr.contains("E0904"), "{}", again.stderr);

    let unknown = examples(&["risk", "--lose", "fra-r2", "bank"]);
    assert_eq!(unknown.code, 2, "{}", unknown.transcript());
    let said = unknown.stderr_flat();
    assert!(
        said.contains(
            "error[E0506]: `--lose fra-r2`: no environment or failure domain has this name"
        ) && said.contains("help: did you mean `fra-r02`?"),
        "{}",
        unknown.stderr
    );
    let versions = examples(&["slo", "--without", "postgres-15-in-prod", "bank"]);
    assert_eq!(versions.code, 2, "{}", versions.transcript());
    assert!(
        versions.stderr.contains("a `use` rule picks versions"),
        "{}",
        versions.stderr
    );
}

/// A spread degraded by a domain out of service warns in every command that places,
/// for a person on standard error and for a pipeline in the JSON output.
#[test]
fn a_degraded_spread_is_a_warning_in_the_json_of_render_and_plan() {
    let project = Project::new();
    project.file("svcmodel.toml", "").file(
        "main.svc",
        r#"
environment "dev" {
  target          = "compose"
  failure_domains = { hypervisor = ["h1", "h2"] }
  out_of_service  = ["h2"]
}

policy "api-across-hosts" {
  services = ["api"]
  spread   = "hypervisor"
}

service "api" {
  version  = "1.0.0"
  image    = "api:1.0.0"
  replicas = 2
}
"#,
    );
    let warned = |json: &serde_json::Value| -> Vec<String> {
        json["warnings"]
            .as_array()
            .map(|w| {
                w.iter()
                    .map(|d| d["code"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let render = project.run(&["render", "--format", "json", "main.svc"]);
    assert_eq!(render.code, 0, "{}", render.transcript());
    let render: serde_json::Value = serde_json::from_str(&render.stdout).unwrap();
    validate("render", &render);
    assert!(warned(&render).contains(&"E0904".to_string()), "{render}");

    let plan = project.run(&["plan", "--format", "json", "main.svc"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    assert!(plan.stderr.is_empty(), "{}", plan.stderr);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    validate("plan", &plan);
    assert_eq!(warned(&plan), ["E0904"], "{plan}");

    let human = project.run(&["plan", "main.svc"]);
    assert!(
        human.stderr_flat().contains("warning[E0904]: `api-across-hosts` cannot spread `api` over hypervisors in `dev` while `h2` is out of service"),
        "{}",
        human.stderr
    );
}

/// `svcmodel lock` records where every replica runs; with a host removed from the
/// model, `place` then moves only the replicas that were on it.
#[test]
fn the_lock_keeps_replicas_where_they_were() {
    let model =
        std::fs::read_to_string(repo().join("tests/cases/failure-domain-tree/main.svc")).unwrap();
    let project = Project::new();
    project.file("svcmodel.toml", "").file("main.svc", &model);
    let paths = |output: &support::Output| -> Vec<(String, Vec<String>)> {
        assert_eq!(output.code, 0, "{}", output.transcript());
        let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
        json["landscapes"][0]["assignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let replicas = a["replicas"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        KINDS
                            .iter()
                            .map(|k| r[*k].as_str().unwrap())
                            .collect::<Vec<_>>()
                            .join("/")
                    })
                    .collect();
                (a["instance"].as_str().unwrap().to_string(), replicas)
            })
            .collect()
    };
    let before = paths(&project.run(&["place", "--format", "json", "main.svc"]));
    let lock = project.run(&["lock", "main.svc"]);
    assert_eq!(lock.code, 0, "{}", lock.transcript());
    let text = project.read("svcmodel.lock");
    assert!(
        text.contains("[placement.dc]\nclaims = [\"room-a/cl-a/a-r01/a-hv01\", "),
        "{text}"
    );
    project.file(
        "main.svc",
        model.replace(r#"a-r01 = ["a-hv01", "a-hv02"]"#, r#"a-r01 = ["a-hv02"]"#),
    );
    let after = paths(&project.run(&["place", "--format", "json", "main.svc"]));
    for ((name, old), (_, new)) in before.iter().zip(&after) {
        for (o, n) in old.iter().zip(new) {
            if o.ends_with("/a-hv01") {
                assert_ne!(o, n, "{name}");
            } else {
                assert_eq!(o, n, "{name}: {old:?} → {new:?}");
            }
        }
    }
    // The placement never makes the lock stale.
    let locked = project.run(&["compile", "--locked", "main.svc"]);
    assert_eq!(locked.code, 0, "{}", locked.transcript());
}
