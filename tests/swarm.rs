//! Deploy, reconcile and repair as Swarm services on the real Docker Engine of this
//! machine. The test puts the Engine in Swarm mode if it is not (and leaves it again
//! afterwards); svcmodel itself never changes the Engine's mode.
//!
//! Overlay networking between services does not work on this machine (a service
//! cannot reach another through the overlay network, checked by hand), so this test
//! checks each service through its own published ports, not one service reaching
//! another.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::{Output, Project};

fn docker(args: &[&str]) -> (bool, String) {
    let output = Command::new("docker").args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
    )
}

/// Swarm mode for the test's duration: initialised here only if it was off, and left
/// as found, down to the bridge network the Engine makes for it.
struct SwarmMode {
    initialised: bool,
    made_gateway_bridge: bool,
}

impl SwarmMode {
    fn on() -> SwarmMode {
        let (_, state) = docker(&["info", "-f", "{{.Swarm.LocalNodeState}}"]);
        if state == "active" {
            return SwarmMode {
                initialised: false,
                made_gateway_bridge: false,
            };
        }
        let (bridge_before, _) = docker(&["network", "inspect", "docker_gwbridge"]);
        let (ok, _) = docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        assert!(ok, "docker swarm init failed");
        SwarmMode {
            initialised: true,
            made_gateway_bridge: !bridge_before,
        }
    }
}

impl Drop for SwarmMode {
    fn drop(&mut self) {
        if self.initialised {
            let _ = docker(&["swarm", "leave", "--force"]);
        }
        // Right after leaving, the Engine may still hold the bridge for a moment, and
        // a single `rm` then fails: a run left it behind that way.
        if self.made_gateway_bridge {
            for _ in 0..50 {
                let (removed, _) = docker(&["network", "rm", "docker_gwbridge"]);
                let (exists, _) = docker(&["network", "inspect", "docker_gwbridge"]);
                if removed || !exists {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    }
}

const MODEL: &str = r#"
environment "swarm1" {
  target          = "swarm"
  failure_domains = { zone = ["z1", "z2", "z3"] }
}

service "api" {
  version  = "1.0.0"
  image    = "svcmodel-demo:test"
  replicas = 2

  config {
    args = ["--name=${self.name}", "--port=${self.http.port}"]
  }

  provides "http" { port = 8080, protocol = "http" }

  health {
    http     = "http"
    path     = "/healthz"
    interval = 1s
  }
}

policy "api-across-zones" {
  spread   = "zone"
  services = ["api"]
  because  = "one zone may fail"
}
"#;

fn run(project: &Project, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["-e", "swarm1", "main.svc"]);
    project.run(&all)
}

/// The Swarm tests, in one Swarm mode (initialised and left once).
#[test]
fn on_the_real_swarm() {
    support::demo_image();
    let _swarm = SwarmMode::on();
    swarm_services_deploy_with_replicas_and_placement_and_are_repaired();
    a_swarm_wave_shares_one_network_that_destroy_removes();
}

fn swarm_services_deploy_with_replicas_and_placement_and_are_repaired() {
    let project = Project::new();
    project.file("svcmodel.toml", "").file("main.svc", MODEL);
    let deploy = run(&project, &["deploy", "--timeout", "60"]);
    let cleanup = || {
        let _ = run(&project, &["destroy", "--yes"]);
        let _ = docker(&["network", "rm", "svcmodel-swarm1"]);
    };
    if deploy.code != 0 {
        cleanup();
        panic!("{}", deploy.transcript());
    }
    let (_, replicas) = docker(&[
        "service",
        "inspect",
        "-f",
        "{{.Spec.Mode.Replicated.Replicas}}",
        "svcmodel-swarm1-api",
    ]);
    let (_, placement) = docker(&[
        "service",
        "inspect",
        "-f",
        "{{json .Spec.TaskTemplate.Placement}}",
        "svcmodel-swarm1-api",
    ]);
    let (_, labels) = docker(&[
        "service",
        "inspect",
        "-f",
        "{{json .Spec.Labels}}",
        "svcmodel-swarm1-api",
    ]);
    let rendered = run(&project, &["render", "--stdout"]);
    let (_, inspected) = docker(&["service", "inspect", "svcmodel-swarm1-api"]);
    let (_, network_id) = docker(&["network", "inspect", "-f", "{{.Id}}", "svcmodel-swarm1"]);
    let status = run(&project, &["status", "--format", "json"]);
    let clean = run(&project, &["reconcile"]);
    // Scale to zero behind svcmodel's back: reconcile sees it stopped, --fix repairs.
    docker(&["service", "scale", "-d", "svcmodel-swarm1-api=0"]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let drift = run(&project, &["reconcile"]);
    let fix = run(&project, &["reconcile", "--fix"]);
    let after = run(&project, &["reconcile"]);
    // Placement spread the 2 replicas over z1 and z2 (of three); this machine is one
    // node, without labels, so `!= z3` lets both run on it. Label
    // it z1: both replicas now run in z1, which reconcile reports as placement drift.
    let (_, node) = docker(&["info", "-f", "{{.Swarm.NodeID}}"]);
    docker(&["node", "update", "--label-add", "svcmodel.zone=z1", &node]);
    let crowded = run(&project, &["reconcile"]);
    docker(&["node", "update", "--label-rm", "svcmodel.zone", &node]);
    // An update whose health check fails is rolled back: the previous service runs
    // again, and the restored model finds no drift.
    project.file(
        "main.svc",
        MODEL.replace("path     = \"/healthz\"", "path     = \"/missing\""),
    );
    let failed = run(&project, &["deploy", "--timeout", "5"]);
    project.file("main.svc", MODEL);
    let restored = run(&project, &["reconcile"]);
    // The state lost while the services run: their marks stop a second copy.
    let state = project.path().join(".svcmodel/state/swarm1.json");
    let saved = std::fs::read(&state).unwrap();
    std::fs::remove_file(&state).unwrap();
    let unrecorded = run(&project, &["deploy", "--timeout", "60"]);
    std::fs::write(&state, saved).unwrap();
    // Zones z2 and z3 out of service: the spread over zones cannot hold, and the
    // deploy goes ahead onto the zone left, with a warning (this node is z1).
    docker(&["node", "update", "--label-add", "svcmodel.zone=z1", &node]);
    project.file(
        "main.svc",
        MODEL.replace(
            "failure_domains = { zone = [\"z1\", \"z2\", \"z3\"] }",
            "failure_domains = { zone = [\"z1\", \"z2\", \"z3\"] }\n  out_of_service  = [\"z2\", \"z3\"]",
        ),
    );
    let degraded = run(&project, &["deploy", "--timeout", "60"]);
    let (_, degraded_placement) = docker(&[
        "service",
        "inspect",
        "-f",
        "{{json .Spec.TaskTemplate.Placement}}",
        "svcmodel-swarm1-api",
    ]);
    docker(&["node", "update", "--label-rm", "svcmodel.zone", &node]);
    cleanup();
    assert_eq!(replicas, "2");
    same_as_rendered(&rendered, &inspected, &network_id);
    // Spread over the zones placement chose, and kept out of the one it did not.
    assert!(
        placement.contains(r#""Constraints":["node.labels.svcmodel.zone != z3"]"#)
            && placement.contains(r#""SpreadDescriptor":"node.labels.svcmodel.zone""#),
        "{placement}"
    );
    assert!(
        labels.contains(r#""svcmodel.io/environment":"swarm1""#),
        "{labels}"
    );
    assert!(
        status.stdout.contains(r#""healthy": true"#),
        "{}",
        status.transcript()
    );
    // What the replicas use, read from their containers: what tuning advice needs.
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let api = &status["environments"][0]["services"][0];
    assert!(api["memory_bytes"].as_u64().unwrap_or(0) > 0, "{api}");
    assert!(api["cpu_seconds"].as_f64().is_some(), "{api}");
    assert_eq!(clean.code, 0, "{}", clean.transcript());
    assert_eq!(drift.code, 5, "{}", drift.transcript());
    assert!(
        drift
            .stderr
            .contains("error[E0802]: `api` is deployed but not running"),
        "{}",
        drift.stderr
    );
    assert_eq!(fix.code, 0, "{}", fix.transcript());
    assert_eq!(after.code, 0, "{}", after.transcript());
    assert_eq!(crowded.code, 5, "{}", crowded.transcript());
    insta::assert_snapshot!("swarm-placement-drift", crowded.stderr);
    assert_eq!(failed.code, 6, "{}", failed.transcript());
    assert!(
        failed.stderr.contains("api: failed: not healthy within 5s")
            && failed.stderr.contains("api: rolled back"),
        "{}",
        failed.stderr
    );
    assert_eq!(restored.code, 0, "{}", restored.transcript());
    assert_eq!(degraded.code, 0, "{}", degraded.transcript());
    assert!(
        degraded.stderr_flat().contains(
            "warning[E0904]: `api-across-zones` cannot spread `api` over zones in `swarm1` while `z2`, `z3` are out of service; its 2 replicas share zone `z1`: losing it stops `api`"
        ),
        "{}",
        degraded.stderr
    );
    assert!(
        degraded_placement.contains(r#""Constraints":["node.labels.svcmodel.zone == z1"]"#),
        "{degraded_placement}"
    );
    assert_eq!(unrecorded.code, 6, "{}", unrecorded.transcript());
    assert!(
        unrecorded
            .stderr_flat()
            .contains("error[E1005]: environment `swarm1` runs a service that its state does not record: `api` (swarm:"),
        "{}",
        unrecorded.stderr
    );
}

/// What the Swarm engine created is what `svcmodel render` writes for the environment
/// (the Compose file `docker stack deploy` reads): every key of the rendered service is
/// either checked against `docker service inspect`, or a difference listed here.
fn same_as_rendered(rendered: &Output, inspected: &str, network_id: &str) {
    assert_eq!(rendered.code, 0, "{}", rendered.transcript());
    let text = &rendered.stdout[rendered.stdout.find('\n').unwrap() + 1..];
    let compose = support::yaml_to_json(&yaml_rust2::YamlLoader::load_from_str(text).unwrap()[0]);
    let inspected: serde_json::Value = serde_json::from_str(inspected).unwrap();
    let spec = &inspected[0]["Spec"];
    let task = &spec["TaskTemplate"];
    let container = &task["ContainerSpec"];
    // - expose: every port is published in host mode at a port Swarm picks;
    // - healthcheck: tcp and http checks run from this machine against each replica;
    // - restart: Compose's, for `docker compose`; Swarm reads deploy.restart_policy.
    let known = ["expose", "healthcheck", "restart"];
    for (name, service) in compose["services"].as_object().unwrap() {
        for (key, want) in service.as_object().unwrap() {
            let at = format!("{name}.{key}");
            match key.as_str() {
                "image" => assert!(
                    container["Image"]
                        .as_str()
                        .unwrap()
                        .starts_with(want.as_str().unwrap()),
                    "{at}"
                ),
                "command" => assert_eq!(container["Args"], *want, "{at}"),
                "labels" => {
                    for (label, value) in want.as_object().unwrap() {
                        assert_eq!(container["Labels"][label], *value, "{at}: {label}");
                        assert_eq!(spec["Labels"][label], *value, "{at}: {label} (service)");
                    }
                }
                "networks" => {
                    let attached = task["Networks"].as_array().unwrap();
                    assert!(
                        attached.iter().any(|n| n["Target"] == network_id
                            && n["Aliases"]
                                .as_array()
                                .is_some_and(|a| a.iter().any(|x| x == name.as_str()))),
                        "{at}: {attached:?}"
                    );
                }
                "read_only" => assert_eq!(container["ReadOnly"], *want, "{at}"),
                "tmpfs" => {
                    for path in want.as_array().unwrap() {
                        assert!(
                            container["Mounts"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|m| m["Type"] == "tmpfs" && m["Target"] == *path),
                            "{at}: {path}"
                        );
                    }
                }
                "security_opt" => {
                    // Swarm carries no-new-privileges from API 1.46 (Docker 27) on;
                    // older Engines drop it, as `docker stack deploy` does there.
                    let (_, api) = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
                    let minor: u32 = api
                        .split('.')
                        .nth(1)
                        .and_then(|m| m.parse().ok())
                        .unwrap_or(0);
                    let wants_it = want
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|o| o == "no-new-privileges:true");
                    if minor >= 46 {
                        assert_eq!(container["Privileges"]["NoNewPrivileges"], wants_it, "{at}");
                    }
                }
                "deploy" => {
                    let replicas: u64 = want["replicas"].as_str().map_or_else(
                        || want["replicas"].as_u64().unwrap(),
                        |r| r.parse().unwrap(),
                    );
                    assert_eq!(
                        spec["Mode"]["Replicated"]["Replicas"], replicas,
                        "{at}: replicas"
                    );
                    let condition = want["restart_policy"]["condition"].as_str().unwrap();
                    assert_eq!(
                        task["RestartPolicy"]["Condition"], condition,
                        "{at}: restart"
                    );
                    let placement = &want["placement"];
                    for constraint in placement["constraints"].as_array().into_iter().flatten() {
                        assert!(
                            task["Placement"]["Constraints"]
                                .as_array()
                                .unwrap()
                                .contains(constraint),
                            "{at}: {constraint}"
                        );
                    }
                    for preference in placement["preferences"].as_array().into_iter().flatten() {
                        let descriptor = &preference["spread"];
                        assert!(
                            task["Placement"]["Preferences"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|p| p["Spread"]["SpreadDescriptor"] == *descriptor),
                            "{at}: {descriptor}"
                        );
                    }
                    for other in want.as_object().unwrap().keys() {
                        assert!(
                            ["replicas", "restart_policy", "placement", "resources"]
                                .contains(&other.as_str()),
                            "{at}: the engine does not apply deploy.{other}"
                        );
                    }
                }
                other => assert!(
                    known.contains(&other),
                    "{at}: the engine does not apply `{other}`"
                ),
            }
        }
    }
}

/// Eight services in one wave of an environment never deployed: one overlay network is
/// made for all of them (each start creating its own used to fail with a 409), and
/// destroy removes it.
fn a_swarm_wave_shares_one_network_that_destroy_removes() {
    let environment = format!("swave-{}", std::process::id());
    let model = support::wave_model(&environment, "swarm", 8);
    let project = Project::new();
    project.file("svcmodel.toml", "").file("main.svc", &model);
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["-e", &environment, "main.svc"]);
        project.run(&all)
    };
    let network = format!("svcmodel-{environment}");
    let networks = || -> Vec<String> {
        let (_, names) = docker(&[
            "network",
            "ls",
            "--filter",
            &format!("name={network}"),
            "--format",
            "{{.Name}}",
        ]);
        names
            .lines()
            .filter(|n| *n == network)
            .map(str::to_string)
            .collect()
    };
    let deploy = run(&["deploy", "--timeout", "90"]);
    let after_deploy = networks();
    let destroy = run(&["destroy", "--yes"]);
    let after_destroy = networks();
    if !after_destroy.is_empty() {
        let _ = docker(&["network", "rm", &network]);
    }
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    assert_eq!(after_deploy, std::slice::from_ref(&network));
    assert_eq!(destroy.code, 0, "{}", destroy.transcript());
    assert!(
        after_destroy.is_empty(),
        "destroy leaves {after_destroy:?}: {}",
        destroy.transcript()
    );
}
