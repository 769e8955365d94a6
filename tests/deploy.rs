//! Deploy, status, reconcile and destroy on real processes (the local engine), through
//! the CLI: the example shop, a changed parameter, a failing health check rolled
//! back, SIGKILL in the middle of a deploy, two deploys at once, canary secrets, and
//! the JSON outputs against their published schemas while the shop runs.
//!
//! Each test has a project of its own with its own ports, so tests run in parallel;
//! a guard destroys what a test deployed even when it fails.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Output, repo, validate};

const CANARY: &str = "canary-3f1e-provider-key";

/// A copy of the example shop (and its demo service) in a temporary folder, so the
/// test's `.svcmodel/` state is its own; each port the shop declares moved to a port
/// the system says is free, so runs on one machine do not collide.
struct Shop {
    dir: tempfile::TempDir,
    /// The example's port to the test's.
    ports: std::collections::BTreeMap<u16, u16>,
}

/// The ports the example shop declares.
const SHOP_PORTS: [u16; 5] = [18080, 18090, 18110, 18120, 18130];

/// `n` distinct ports that nothing listens on now: the system picks them.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl Shop {
    fn new() -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let ports: std::collections::BTreeMap<u16, u16> = SHOP_PORTS
            .into_iter()
            .zip(free_ports(SHOP_PORTS.len()))
            .collect();
        let shop = dir.path().join("shop");
        std::fs::create_dir_all(shop.join("bin")).unwrap();
        std::fs::write(dir.path().join("svcmodel.toml"), "").unwrap();
        for entry in std::fs::read_dir(repo().join("examples/shop")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".svc") {
                let text = std::fs::read_to_string(&path).unwrap();
                // The cloud environment needs the ECS templates: a local-only copy.
                let mut text = match text.find("\n# The shop in production") {
                    Some(at) if name == "shop.svc" => text[..at].to_string(),
                    _ => text,
                };
                for (from, to) in &ports {
                    text = text.replace(&format!("port = {from}"), &format!("port = {to}"));
                }
                std::fs::write(shop.join(&name), text).unwrap();
            }
        }
        std::fs::copy(
            repo().join("examples/shop/bin/demo-service"),
            shop.join("bin/demo-service"),
        )
        .unwrap();
        Shop { dir, ports }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = self.command(args);
        for (k, v) in env {
            command.env(k, v);
        }
        let output = command.output().unwrap();
        Output::from(output)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_svcmodel"));
        command
            .args(["--color", "never"])
            .args(args)
            .current_dir(self.path())
            .env("COLUMNS", "80")
            .env("SVCMODEL_SECRET_PAYMENTS_PROVIDER_API_KEY", CANARY)
            .stdin(Stdio::null());
        command
    }

    /// Deploys `local`; fails the test with the run's transcript if it did not.
    fn deploy_ok(&self) {
        let deploy = self.run(&["deploy", "-e", "local", "shop"]);
        assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    }

    /// The test's port for one the example shop declares.
    fn port(&self, example: u16) -> u16 {
        self.ports[&example]
    }

    fn state(&self) -> serde_json::Value {
        self.state_of("local")
    }

    fn state_of(&self, environment: &str) -> serde_json::Value {
        let path = format!(".svcmodel/state/{environment}.json");
        let text = std::fs::read_to_string(self.path().join(path)).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        // Every environment of the model: `local`, or a test's own landscape.
        let _ = self.run(&["destroy", "--yes", "shop"]);
    }
}

/// The transcript without tuning advice (E0807, printed last), whose figures depend
/// on the machine.
fn drift_only(output: &Output) -> String {
    let text = output.transcript();
    match text.find("  ⚠ warning[E0807]") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    Some(reply)
}

fn pid_of(shop: &Shop, service: &str) -> u32 {
    pid_in(shop, "local", service)
}

fn pid_in(shop: &Shop, environment: &str, service: &str) -> u32 {
    let state = shop.state_of(environment);
    let id = state["services"][service]["engine_id"]
        .as_str()
        .unwrap()
        .to_string();
    id.split(':').nth(1).unwrap().parse().unwrap()
}

fn kill(pid: u32, signal: &str) {
    Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The service a supervisor runs: its (first) child.
fn service_of(supervisor: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{supervisor}/task/{supervisor}/children"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn process_gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

#[test]
fn deploy_reconcile_repair_the_shop_on_real_processes() {
    let shop = Shop::new();
    let plan = shop.run(&["plan", "-e", "local", "shop"]);
    assert_eq!(plan.code, 0, "the plan ran: {}", plan.transcript());
    assert!(plan.stdout.contains("5 to create"), "{}", plan.stdout);
    let detailed = shop.run(&["plan", "-e", "local", "--detailed-exitcode", "shop"]);
    assert_eq!(detailed.code, 2, "changes: {}", detailed.transcript());
    let broken = shop.run(&["plan", "-e", "nowhere", "--detailed-exitcode", "shop"]);
    assert_eq!(broken.code, 1, "an error: {}", broken.transcript());

    let deploy = shop.run(&["deploy", "-e", "local", "shop"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    // Waves in dependency order: payments and products first, storefront last.
    let wave = |name: &str| deploy.stderr.find(&format!("  {name}: healthy")).unwrap();
    assert!(wave("products") < wave("orders") && wave("orders") < wave("storefront"));

    // The storefront really reaches what it requires.
    let deps = http_get(shop.port(18080), "/deps").unwrap();
    assert!(
        deps.contains(r#""orders": true"#) && deps.contains(r#""products": true"#),
        "{deps}"
    );

    let status = shop.run(&["status", "-e", "local", "--format", "json", "shop"]);
    assert_eq!(status.code, 0, "{}", status.transcript());
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    for row in status["environments"][0]["services"].as_array().unwrap() {
        assert_eq!(row["running"], true, "{row}");
        assert_eq!(row["healthy"], true, "{row}");
    }

    // A second deploy of the same model changes nothing.
    let pid = pid_of(&shop, "orders");
    let again = shop.run(&["deploy", "-e", "local", "shop"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert!(again.stderr.contains("no changes"), "{}", again.stderr);
    assert_eq!(pid_of(&shop, "orders"), pid);

    // Stop one: reconcile points at its declaration and exits non-zero.
    kill(pid, "-KILL");
    wait_until("orders is gone", || process_gone(pid));
    let drift = shop.run(&["reconcile", "-e", "local", "shop"]);
    assert_eq!(drift.code, 5, "{}", drift.transcript());
    insta::assert_snapshot!("drift-stopped", drift_only(&drift));
    assert!(
        drift
            .stderr
            .contains("error[E0802]: `orders` is deployed but not running"),
        "{}",
        drift.stderr
    );
    assert!(
        drift.stderr.contains("shop/orders.svc:3:9"),
        "{}",
        drift.stderr
    );
    // The report of the deployed shop shows the drift, pointing at the model, as a
    // reader sees it in a browser.
    let report = shop.run(&["report", "shop"]);
    assert_eq!(report.code, 0, "{}", report.transcript());
    let page = shop.path().join("report.html");
    std::fs::write(&page, &report.stdout).unwrap();
    let (dom, log) = support::chromium_dom(&page);
    assert!(!log.contains("CONSOLE"), "{log}");
    for seen in [
        "Environment <code>local</code>",
        "E0802",
        "`orders` is deployed but not running",
        "shop/orders.svc:3",
    ] {
        assert!(dom.contains(seen), "the report does not show `{seen}`");
    }
    let junit = shop.run(&["reconcile", "-e", "local", "--format", "junit", "shop"]);
    assert!(
        junit.stdout.contains(r#"<failure type="E0802""#),
        "{}",
        junit.stdout
    );

    let fix = shop.run(&["reconcile", "-e", "local", "--fix", "shop"]);
    assert_eq!(fix.code, 0, "{}", fix.transcript());
    let clean = shop.run(&["reconcile", "-e", "local", "shop"]);
    assert_eq!(clean.code, 0, "{}", clean.transcript());
    assert!(
        clean.stderr.contains("runs as modelled"),
        "{}",
        clean.stderr
    );
    assert_ne!(pid_of(&shop, "orders"), pid);
    // Tuning: products declares 256Mi and its process uses a few MiB. Advice is a
    // warning pointing at the declaration; it does not change the exit code.
    assert!(
        clean
            .stderr
            .contains("warning[E0807]: `products` could declare memory ="),
        "{}",
        clean.stderr
    );
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d+(Mi|Ki|B|m)\b", "[N]$1");
    settings.add_filter(r"\d+% of", "[N]% of");
    settings.add_filter(r"over \d+ s", "over [N] s");
    // The products advice: from its header to the blank line after its help.
    let advice: String = clean
        .stderr
        .lines()
        .skip_while(|l| !l.contains("`products` could declare memory"))
        .take_while(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    settings.bind(|| insta::assert_snapshot!("advice-memory", advice));
    let status = shop.run(&["status", "-e", "local", "--format", "json", "shop"]);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let advised = status["environments"][0]["advice"].as_array().unwrap();
    assert!(
        advised
            .iter()
            .any(|a| a["service"] == "products" && a["resource"] == "memory"),
        "{status}"
    );
    // The advice as a values file closes the loop: with it, the advice is gone.
    let written = shop.run(&[
        "reconcile",
        "-e",
        "local",
        "--write-values",
        "tuned.toml",
        "shop",
    ]);
    assert_eq!(written.code, 0, "{}", written.transcript());
    let tuned = std::fs::read_to_string(shop.path().join("tuned.toml")).unwrap();
    assert!(
        tuned.contains("[environment.local.products.resources]\nmemory = \""),
        "{tuned}"
    );
    let again = shop.run(&["reconcile", "-e", "local", "-f", "tuned.toml", "shop"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert!(
        !again.stderr.contains("`products` could declare memory"),
        "{}",
        again.stderr
    );
    // A file it did not write is never overwritten.
    std::fs::write(shop.path().join("mine.toml"), "[orders]\nmax_items = 3\n").unwrap();
    let refused = shop.run(&[
        "reconcile",
        "-e",
        "local",
        "--write-values",
        "mine.toml",
        "shop",
    ]);
    assert_eq!(refused.code, 4, "{}", refused.transcript());
    let mine = std::fs::read_to_string(shop.path().join("mine.toml")).unwrap();
    assert_eq!(mine, "[orders]\nmax_items = 3\n");

    // Destroy stops everything it recorded.
    let pids: Vec<u32> = ["orders", "products", "storefront"]
        .iter()
        .map(|s| pid_of(&shop, s))
        .collect();
    let destroy = shop.run(&["destroy", "-e", "local", "--yes", "shop"]);
    assert_eq!(destroy.code, 0, "{}", destroy.transcript());
    for pid in pids {
        wait_until("the service is stopped", || process_gone(pid));
    }
}

#[test]
fn a_changed_parameter_is_planned_and_deployed_alone() {
    let shop = Shop::new();
    shop.deploy_ok();
    let before: Vec<(String, u32)> = [
        "admin-console",
        "orders",
        "payments",
        "products",
        "storefront",
    ]
    .iter()
    .map(|s| (s.to_string(), pid_of(&shop, s)))
    .collect();
    std::fs::write(
        shop.path().join("values.toml"),
        "[orders]\nmax_items = 75\n",
    )
    .unwrap();
    let plan = shop.run(&["plan", "-e", "local", "-f", "values.toml", "shop"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    let changes: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.starts_with("      "))
        .collect();
    assert_eq!(changes, ["      env.MAX_ITEMS: 50 → 75"], "{}", plan.stdout);
    assert!(plan.stdout.contains("~ orders 1.5.1 (update)"));
    assert!(
        plan.stdout.contains("1 to update, 4 unchanged"),
        "{}",
        plan.stdout
    );

    let drift = shop.run(&["reconcile", "-e", "local", "-f", "values.toml", "shop"]);
    assert_eq!(drift.code, 5);
    insta::assert_snapshot!("drift-config", drift_only(&drift));
    // The drift points at the value in the values file.
    assert!(
        drift.stderr.contains("E0805") && drift.stderr.contains("values.toml:2:13"),
        "{}",
        drift.stderr
    );

    let deploy = shop.run(&["deploy", "-e", "local", "-f", "values.toml", "shop"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    for (service, pid) in before {
        let now = pid_of(&shop, &service);
        if service == "orders" {
            assert_ne!(now, pid, "orders was replaced");
        } else {
            assert_eq!(now, pid, "{service} was left alone");
        }
    }
    let plan = shop.run(&["plan", "-e", "local", "-f", "values.toml", "shop"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
}

#[test]
fn a_failing_health_check_rolls_the_wave_back_and_keeps_the_state() {
    let shop = Shop::new();
    shop.deploy_ok();
    let state_before = shop.state();
    let pid = pid_of(&shop, "products");
    // products now checks a path the demo service does not serve: 404.
    let products = shop.path().join("shop/products.svc");
    let text = std::fs::read_to_string(&products).unwrap();
    std::fs::write(
        &products,
        text.replace("path = \"/healthz\"", "path = \"/missing\""),
    )
    .unwrap();
    let start = Instant::now();
    let deploy = shop.run(&["deploy", "-e", "local", "--timeout", "3", "shop"]);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "deadline not kept"
    );
    assert_eq!(deploy.code, 6, "{}", deploy.transcript());
    assert!(
        deploy
            .stderr
            .contains("products: failed: not healthy within 3s: HTTP 404"),
        "{}",
        deploy.stderr
    );
    assert!(deploy.stderr.contains("rolled back"), "{}", deploy.stderr);
    // The state still records the previous revision, which runs again.
    let state = shop.state();
    assert_eq!(
        state["services"]["products"]["model_hash"],
        state_before["services"]["products"]["model_hash"]
    );
    assert_ne!(
        pid_of(&shop, "products"),
        pid,
        "the previous revision was restarted"
    );
    assert_eq!(state["pending"], serde_json::json!([]));
    assert!(state["serial"].as_u64() > state_before["serial"].as_u64());
    std::fs::write(&products, text).unwrap();
    let clean = shop.run(&["reconcile", "-e", "local", "shop"]);
    assert_eq!(clean.code, 0, "{}", clean.transcript());
}

#[test]
fn a_deploy_killed_at_any_point_leaves_a_state_the_next_deploy_converges() {
    let shop = Shop::new();
    // Slow starts, so the kill lands in the middle of waves.
    let products = shop.path().join("shop/products.svc");
    let text = std::fs::read_to_string(&products).unwrap();
    std::fs::write(
        &products,
        text.replace(
            "env \"CACHE_TTL\"",
            "env \"DEMO_START_DELAY\" = \"0.4\"\n    env \"CACHE_TTL\"",
        ),
    )
    .unwrap();
    for delay in [50u64, 250, 450, 700, 1000] {
        let mut child = shop
            .command(&["deploy", "-e", "local", "shop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if let Ok(text) = std::fs::read_to_string(shop.path().join(".svcmodel/state/local.json")) {
            serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| {
                panic!("after {delay} ms the state does not parse: {e}\n{text}")
            });
        }
        // The lock of the killed run is stale: the next run takes it over.
        let stale = shop.path().join(".svcmodel/state/local.lock").exists();
        let converge = shop.run(&["deploy", "-e", "local", "shop"]);
        assert_eq!(
            converge.code,
            0,
            "after a kill at {delay} ms: {}",
            converge.transcript()
        );
        if stale {
            assert!(
                converge.stderr.contains("note: took over lock"),
                "{}",
                converge.stderr
            );
        }
        let clean = shop.run(&["reconcile", "-e", "local", "shop"]);
        assert_eq!(
            clean.code,
            0,
            "after a kill at {delay} ms: {}",
            clean.transcript()
        );
        assert_eq!(
            shop.run(&["destroy", "-e", "local", "--yes", "shop"]).code,
            0
        );
    }
}

#[test]
fn two_deploys_at_once_one_waits_or_fails_naming_the_holder() {
    let shop = Shop::new();
    let first = shop
        .command(&["deploy", "-e", "local", "shop"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let second = shop
        .command(&["deploy", "-e", "local", "shop"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let codes: Vec<i32> = outputs
        .iter()
        .map(|o| o.status.code().unwrap_or(-1))
        .collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 7], "{outputs:?}");
    let loser = &outputs[codes.iter().position(|c| *c == 7).unwrap()];
    let stderr = String::from_utf8_lossy(&loser.stderr);
    assert!(
        stderr.contains("environment `local` is locked by") && stderr.contains("`deploy` by pid"),
        "{stderr}"
    );
    // With --lock-timeout the second one waits for the first and finds nothing to do.
    let first = shop
        .command(&[
            "deploy",
            "-e",
            "local",
            "--set",
            "orders.max_items=51",
            "shop",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let waiting = shop.run(&[
        "deploy",
        "-e",
        "local",
        "--lock-timeout",
        "30",
        "--set",
        "orders.max_items=51",
        "shop",
    ]);
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0));
    assert_eq!(waiting.code, 0, "{}", waiting.transcript());
}

#[test]
fn canary_secrets_never_reach_output_logs_or_state() {
    let shop = Shop::new();
    let mut outputs = Vec::new();
    for args in [
        &["plan", "-e", "local", "shop"][..],
        &["deploy", "-e", "local", "shop"],
        &["status", "-e", "local", "--format", "json", "shop"],
        &["reconcile", "-e", "local", "--format", "json", "shop"],
        &["reconcile", "-e", "local", "--format", "markdown", "shop"],
        &["plan", "-e", "local", "--format", "json", "shop"],
    ] {
        outputs.push(shop.run(args));
    }
    // A changed secret is planned as changed, never shown.
    let changed = shop.run_with(
        &["plan", "-e", "local", "--detailed-exitcode", "shop"],
        &[(
            "SVCMODEL_SECRET_PAYMENTS_PROVIDER_API_KEY",
            "canary-3f1e-rotated",
        )],
    );
    assert_eq!(changed.code, 2, "{}", changed.transcript());
    assert!(
        changed
            .stdout
            .contains("secret.provider_api_key: (secret) → (secret, changed)"),
        "{}",
        changed.stdout
    );
    assert!(!changed.stdout.contains("rotated") && !changed.stderr.contains("rotated"));
    outputs.push(changed);
    // The secret did reach the service that needs it.
    let pid = pid_of(&shop, "payments");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(String::from_utf8_lossy(&environ).contains(CANARY));
    for output in &outputs {
        assert!(
            !output.stdout.contains(CANARY) && !output.stderr.contains(CANARY),
            "{}",
            output.transcript()
        );
    }
    for file in walk(&shop.path().join(".svcmodel")) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(
            !text.contains(CANARY),
            "{} holds the canary",
            file.display()
        );
    }
    // No process of this machine has it on its command line, where every user can
    // read it.
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            assert!(
                !String::from_utf8_lossy(&cmdline).contains(CANARY),
                "{} has the canary on its command line",
                entry.path().display()
            );
        }
    }
    // The fingerprints' key lives beside the state, readable by its owner only.
    let key = shop.path().join(".svcmodel/key");
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
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

/// Every kind of drift, each a diagnostic pointing where the model declares what was
/// expected (snapshots: tests/snapshots/deploy__drift-*.snap).
#[test]
fn every_kind_of_drift_points_at_the_model() {
    let shop = Shop::new();
    let snapshot = |name: &str, output: &Output| {
        insta::assert_snapshot!(name, drift_only(output));
    };
    let missing = shop.run(&["reconcile", "-e", "local", "shop"]);
    assert_eq!(missing.code, 5);
    snapshot("drift-missing", &missing);
    shop.deploy_ok();

    // Unhealthy: the demo service can be told to fail its health check.
    assert!(http_get(shop.port(18110), "/break").is_some());
    let unhealthy = shop.run(&["reconcile", "-e", "local", "shop"]);
    assert_eq!(unhealthy.code, 5);
    snapshot("drift-unhealthy", &unhealthy);
    assert_eq!(
        shop.run(&["reconcile", "-e", "local", "--fix", "shop"])
            .code,
        0
    );

    // Version changed, and extra: orders moves to 1.5.2; admin-console leaves the model.
    let orders = shop.path().join("shop/orders.svc");
    let text = std::fs::read_to_string(&orders).unwrap();
    std::fs::write(
        &orders,
        text.replace("version     = \"1.5.1\"", "version     = \"1.5.2\""),
    )
    .unwrap();
    std::fs::remove_file(shop.path().join("shop/admin-console.svc")).unwrap();
    let shop_svc = shop.path().join("shop/shop.svc");
    let text = std::fs::read_to_string(&shop_svc).unwrap();
    std::fs::write(&shop_svc, text.replace(", \"admin-console\"", "")).unwrap();
    let changed = shop.run(&["reconcile", "-e", "local", "shop"]);
    assert_eq!(changed.code, 5);
    snapshot("drift-version-and-extra", &changed);
    let markdown = shop.run(&["reconcile", "-e", "local", "--format", "markdown", "shop"]);
    snapshot("drift-markdown", &markdown);
    // --fix replaces orders; deleting admin-console needs --yes.
    let fix = shop.run(&["reconcile", "-e", "local", "--fix", "shop"]);
    assert_eq!(fix.code, 2, "{}", fix.transcript());
    let fix = shop.run(&["reconcile", "-e", "local", "--fix", "--yes", "shop"]);
    assert_eq!(fix.code, 0, "{}", fix.transcript());
    assert_eq!(shop.run(&["reconcile", "-e", "local", "shop"]).code, 0);
}

/// A lock held from another machine is never taken over: the run names the holder,
/// and `svcmodel state unlock ID` releases it.
#[test]
fn a_lock_from_another_machine_waits_for_state_unlock() {
    let shop = Shop::new();
    let lock = shop.path().join(".svcmodel/state/local.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(
        &lock,
        r#"{"id": "0123456789ab", "environment": "local", "operation": "deploy", "who": "ci", "pid": 1, "host": "build-agent-7", "since": 0}"#,
    )
    .unwrap();
    let blocked = shop.run(&["deploy", "-e", "local", "shop"]);
    assert_eq!(blocked.code, 7, "{}", blocked.transcript());
    assert!(
        blocked
            .stderr_flat()
            .contains("error[E1003]: environment `local` is locked by ci (lock 0123456789ab, `deploy` by pid 1 on build-agent-7"),
        "{}",
        blocked.stderr
    );
    let unlock = shop.run(&["state", "unlock", "0123456789ab"]);
    assert_eq!(unlock.code, 0, "{}", unlock.transcript());
    let unknown = shop.run(&["state", "unlock", "0123456789ab"]);
    assert_eq!(unknown.code, 2, "{}", unknown.transcript());
    shop.deploy_ok();
}

/// Local services run under `svcmodel supervise`, which honours the model's restart
/// policy: a service that crashes comes back by itself, and reconcile sees no drift.
#[test]
fn a_crashed_local_service_is_restarted_by_its_policy() {
    let shop = Shop::new();
    shop.deploy_ok();
    let supervisor = pid_of(&shop, "products");
    let child = || -> Option<u32> {
        std::fs::read_to_string(format!("/proc/{supervisor}/task/{supervisor}/children"))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let first = child().unwrap();
    kill(first, "-KILL");
    wait_until("products runs again", || {
        child().is_some_and(|c| c != first)
            && http_get(shop.port(18110), "/healthz").is_some_and(|r| r.contains("200"))
    });
    let clean = shop.run(&["reconcile", "-e", "local", "shop"]);
    assert_eq!(clean.code, 0, "{}", clean.transcript());
    assert_eq!(pid_of(&shop, "products"), supervisor);
    let log =
        std::fs::read_to_string(shop.path().join(".svcmodel/logs/local/products.log")).unwrap();
    assert!(
        log.contains("restarting in 1 s (restart = \"on_failure\")"),
        "{log}"
    );
}

/// No cluster can be reached from this machine: what is tested of the Kubernetes
/// engine through the CLI is that `plan` works without one, and that `deploy` and
/// `status` fail at once, say why, write no state and leak no secret.
#[test]
fn a_kubernetes_environment_without_a_reachable_cluster_fails_cleanly() {
    let shop = Shop::new();
    let model = shop.path().join("shop/shop.svc");
    let mut text = std::fs::read_to_string(&model).unwrap();
    text.push_str("\nenvironment \"cluster\" {\n  target = \"kubernetes\"\n}\n");
    std::fs::write(&model, text).unwrap();
    let kubeconfig = shop.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: nowhere\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: nowhere\n  context: {cluster: nowhere, user: nobody}\ncurrent-context: nowhere\nusers:\n- name: nobody\n  user: {token: not-a-secret}\n",
    )
    .unwrap();
    let kubeconfig = kubeconfig.to_string_lossy().into_owned();

    let plan = shop.run(&["plan", "-e", "cluster", "shop"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.stdout.contains("+ orders 1.5.1 (create)"),
        "{}",
        plan.stdout
    );

    // Deploy through a kubeconfig, which must fail with exit 4 saying `why`.
    let deploy_fails = |kubeconfig: &str, why: &str| -> Output {
        let deploy = shop.run_with(
            &["deploy", "-e", "cluster", "--yes", "shop"],
            &[("KUBECONFIG", kubeconfig)],
        );
        assert_eq!(deploy.code, 4, "{deploy:?}");
        assert!(deploy.stderr_flat().contains(why), "{}", deploy.stderr);
        deploy
    };
    let deploy = deploy_fails(
        &kubeconfig,
        "error[E1001]: the Kubernetes API at `https://127.0.0.1:1/` does not answer",
    );
    let status = shop.run_with(
        &["status", "-e", "cluster", "shop"],
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
    );
    assert_eq!(status.code, 4, "{status:?}");
    assert!(
        status
            .stderr_flat()
            .contains("error[E1001]: no Kubernetes cluster is configured"),
        "{}",
        status.stderr
    );
    assert!(!shop.path().join(".svcmodel/state/cluster.json").exists());
    for output in [&plan, &deploy, &status] {
        assert!(!format!("{output:?}").contains(CANARY));
    }

    // An environment's `context` picks its kubeconfig context, not the current one.
    let two = shop.path().join("two-clusters");
    std::fs::write(
        &two,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: one\n  cluster:\n    server: https://127.0.0.1:1\n- name: two\n  cluster:\n    server: https://127.0.0.1:2\ncontexts:\n- name: one\n  context: {cluster: one, user: nobody}\n- name: two\n  context: {cluster: two, user: nobody}\ncurrent-context: one\nusers:\n- name: nobody\n  user: {token: not-a-secret}\n",
    )
    .unwrap();
    let two = two.to_string_lossy().into_owned();
    let plain = std::fs::read_to_string(&model).unwrap();
    let with_context = |context: &str| {
        let text = plain.replace(
            "  target = \"kubernetes\"\n",
            &format!("  target = \"kubernetes\"\n  context = \"{context}\"\n"),
        );
        std::fs::write(&model, text).unwrap();
    };
    with_context("two");
    deploy_fails(
        &two,
        "error[E1001]: the Kubernetes API at `https://127.0.0.1:2/` does not answer",
    );
    with_context("three");
    deploy_fails(
        &two,
        "error[E1001]: cannot use the kubeconfig context `three`",
    );
}

/// `--format json` of deploy, and of status, plan, reconcile and destroy while the
/// shop runs, against the schemas in docs/schema/ (tests/json.rs checks them with
/// nothing running).
#[test]
fn json_outputs_match_their_schemas_while_the_shop_runs() {
    let shop = Shop::new();
    let json = |output: &Output| -> serde_json::Value {
        serde_json::from_str(&output.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", output.transcript()))
    };

    let deploy = shop.run(&["deploy", "-e", "local", "--format", "json", "shop"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    let report = json(&deploy);
    validate("deploy", &report);
    assert_eq!(report["ok"], true);
    let outcomes = report["environments"][0]["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 5, "{report}");
    assert!(
        outcomes
            .iter()
            .all(|o| o["action"] == "create" && o["ok"] == true)
    );

    let status = shop.run(&["status", "-e", "local", "--format", "json", "shop"]);
    assert_eq!(status.code, 0, "{}", status.transcript());
    let status = json(&status);
    validate("status", &status);
    assert!(status["environments"][0]["serial"].as_u64().unwrap() > 0);
    for row in status["environments"][0]["services"].as_array().unwrap() {
        assert_eq!(row["configuration"], "as modelled", "{row}");
    }

    // A changed parameter: plan and reconcile see it.
    let changed = [
        "-e",
        "local",
        "--set",
        "orders.max_items=77",
        "--format",
        "json",
    ];
    let plan = shop.run(&[&["plan"][..], &changed, &["shop"]].concat());
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    let plan = json(&plan);
    validate("plan", &plan);
    let orders = plan["environments"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "orders")
        .unwrap();
    assert_eq!(orders["action"], "update");
    assert_eq!(orders["changes"][0]["field"], "env.MAX_ITEMS");
    let reconcile = shop.run(&[&["reconcile"][..], &changed, &["shop"]].concat());
    assert_eq!(reconcile.code, 5, "{}", reconcile.transcript());
    let reconcile = json(&reconcile);
    validate("reconcile", &reconcile);
    assert_eq!(
        reconcile["environments"][0]["drift"][0]["kind"],
        "config_changed"
    );
    assert_eq!(
        reconcile["environments"][0]["drift"][0]["diagnostic"]["code"],
        "E0805"
    );

    let destroy = shop.run(&[
        "destroy", "-e", "local", "--yes", "--format", "json", "shop",
    ]);
    assert_eq!(destroy.code, 0, "{}", destroy.transcript());
    let destroy = json(&destroy);
    validate("destroy", &destroy);
    assert_eq!(
        destroy["environments"][0]["removed"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

/// The shop as one landscape of two environments on this machine: placement puts
/// products and the storefront in `site-b`, the rest in `site-a`, so requirements
/// cross between them both ways (storefront → orders, orders → products).
const LANDSCAPE: &str = r#"
system "shop" {
  entrypoints = ["storefront", "admin-console"]
}

environment "site-a" {
  target   = "local"
  provider = "onprem"
  tier     = "dev"
  address  = "127.0.0.1"
  capacity = { cpu = 4, memory = 8Gi }
  link "site-b" { latency = 1ms }
}

environment "site-b" {
  target   = "local"
  provider = "aws"
  tier     = "dev"
  address  = "127.0.0.1"
  capacity = { cpu = 4, memory = 8Gi }
  link "site-a" { latency = 1ms }
}

policy "front-in-the-cloud" {
  when    = service.name in ["products", "storefront"]
  require = environment.provider == "aws"
  because = "the shop front scales with the visitors"
}

policy "the-rest-at-home" {
  when    = !(service.name in ["products", "storefront"])
  require = environment.provider == "onprem"
  because = "orders and payments stay in our own data centre"
}
"#;

/// `plan`, `deploy`, `status`, `reconcile --fix` and `destroy` without `-e`: every
/// environment at once, in waves across them, on real processes.
#[test]
fn a_landscape_of_two_environments_deploys_in_waves_across_them() {
    let shop = Shop::new();
    std::fs::write(shop.path().join("shop/shop.svc"), LANDSCAPE).unwrap();
    let json = |output: &Output, schema: &str| -> serde_json::Value {
        let value = serde_json::from_str(&output.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", output.transcript()));
        validate(schema, &value);
        value
    };

    let plan = shop.run(&["plan", "--format", "json", "shop"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    let plan = json(&plan, "plan");
    let waves: Vec<(String, String, u64)> = plan["environments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|env| {
            env["items"].as_array().unwrap().iter().map(|item| {
                (
                    env["environment"].as_str().unwrap().to_string(),
                    item["name"].as_str().unwrap().to_string(),
                    item["wave"].as_u64().unwrap(),
                )
            })
        })
        .collect();
    let wave_of = |name: &str| {
        waves
            .iter()
            .find(|(_, n, _)| n == name)
            .map(|(env, _, wave)| (env.as_str(), *wave))
            .unwrap()
    };
    // orders waits for products in the other environment, the storefront for orders.
    assert_eq!(wave_of("products"), ("site-b", 0), "{waves:?}");
    assert_eq!(wave_of("payments"), ("site-a", 0), "{waves:?}");
    assert_eq!(wave_of("orders"), ("site-a", 1), "{waves:?}");
    assert_eq!(wave_of("storefront"), ("site-b", 2), "{waves:?}");
    // admin-console waits for products only: its `orders` requirement has
    // `ordering = false`.
    assert_eq!(wave_of("admin-console"), ("site-a", 1), "{waves:?}");

    // A missing secret stops the run before anything starts, naming its environment.
    let unset = shop
        .command(&["deploy", "shop"])
        .env_remove("SVCMODEL_SECRET_PAYMENTS_PROVIDER_API_KEY")
        .output()
        .unwrap();
    let unset = Output::from(unset);
    assert_eq!(unset.code, 6);
    assert_eq!(
        unset.stderr_flat(),
        "  × error[E1006]: the secrets of environment `site-a` are not set: `SVCMODEL_SECRET_PAYMENTS_PROVIDER_API_KEY`\n  help: set these variables on the deploying machine, then run the command again"
    );
    assert!(!shop.path().join(".svcmodel/state/site-b.json").exists());

    let deploy = shop.run(&["deploy", "shop"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    let at = |line: &str| deploy.stderr_at(line);
    assert!(at("site-b/products: healthy") < at("site-a/orders: started"));
    assert!(at("site-a/orders: healthy") < at("site-b/storefront: started"));
    assert!(
        deploy
            .stderr
            .contains("environment `site-a`: 3 changes deployed")
    );
    assert!(
        deploy
            .stderr
            .contains("environment `site-b`: 2 changes deployed")
    );

    // The storefront in site-b reaches orders in site-a at its address.
    let deps = http_get(shop.port(18080), "/deps").unwrap();
    assert!(
        deps.contains(r#""orders": true"#) && deps.contains(r#""products": true"#),
        "{deps}"
    );

    let status = json(&shop.run(&["status", "--format", "json", "shop"]), "status");
    let environments = status["environments"].as_array().unwrap();
    assert_eq!(environments.len(), 2);
    for env in environments {
        for row in env["services"].as_array().unwrap() {
            assert_eq!(row["healthy"], true, "{row}");
        }
    }
    assert_eq!(shop.run(&["plan", "shop"]).code, 0, "nothing left to do");

    // orders stops: reconcile finds it in site-a only, and --fix brings it back.
    let pid = pid_in(&shop, "site-a", "orders");
    kill(pid, "-KILL");
    wait_until("orders is gone", || process_gone(pid));
    let drift = shop.run(&["reconcile", "--format", "json", "shop"]);
    assert_eq!(drift.code, 5, "{}", drift.transcript());
    let drift = json(&drift, "reconcile");
    assert_eq!(drift["environments"][0]["drift"][0]["service"], "orders");
    assert_eq!(drift["environments"][0]["drift"][0]["kind"], "stopped");
    assert_eq!(drift["environments"][1]["drift"], serde_json::json!([]));
    let fix = shop.run(&["reconcile", "--fix", "--format", "json", "shop"]);
    assert_eq!(fix.code, 0, "{}", fix.transcript());
    let fix = json(&fix, "reconcile");
    assert_eq!(fix["environments"][0]["drift"][0]["kind"], "stopped");
    assert_eq!(fix["environments"][0]["left"], serde_json::json!([]));
    assert_ne!(pid_in(&shop, "site-a", "orders"), pid);

    // One environment of the landscape on its own still works.
    let one = shop.run(&["deploy", "-e", "site-b", "shop"]);
    assert_eq!(one.code, 0, "{}", one.transcript());
    assert!(
        one.stderr.contains("environment `site-b`: no changes"),
        "{}",
        one.stderr
    );

    let pids: Vec<u32> = ["payments", "orders", "admin-console"]
        .iter()
        .map(|s| pid_in(&shop, "site-a", s))
        .chain(
            ["products", "storefront"]
                .iter()
                .map(|s| pid_in(&shop, "site-b", s)),
        )
        .collect();
    let destroy = shop.run(&["destroy", "--yes", "--format", "json", "shop"]);
    assert_eq!(destroy.code, 0, "{}", destroy.transcript());
    let destroy = json(&destroy, "destroy");
    assert_eq!(destroy["environments"][0]["environment"], "site-a");
    assert_eq!(
        destroy["environments"][0]["removed"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // Consumers first: the storefront (wave 2) before products (wave 0).
    assert_eq!(
        destroy["environments"][1]["removed"],
        serde_json::json!(["storefront", "products"])
    );
    for pid in pids {
        wait_until("every service is stopped", || process_gone(pid));
    }
}

/// A wave that fails in one environment is rolled back in every environment it ran
/// in, and the later waves start nowhere.
#[test]
fn a_failed_wave_is_rolled_back_in_every_environment_it_ran_in() {
    let shop = Shop::new();
    std::fs::write(shop.path().join("shop/shop.svc"), LANDSCAPE).unwrap();
    let first = shop.run(&["deploy", "shop"]);
    assert_eq!(first.code, 0, "{}", first.transcript());
    let before = [shop.state_of("site-a"), shop.state_of("site-b")];
    let payments = pid_in(&shop, "site-a", "payments");
    let orders = pid_in(&shop, "site-a", "orders");

    // Wave 0 changes payments (site-a) and products (site-b), whose new health check
    // fails; wave 1 would change orders.
    let products = shop.path().join("shop/products.svc");
    let text = std::fs::read_to_string(&products).unwrap();
    std::fs::write(
        &products,
        text.replace("path = \"/healthz\"", "path = \"/missing\""),
    )
    .unwrap();
    let changes = [
        "--set",
        "payments.mode=live",
        "--set",
        "orders.max_items=77",
    ];
    let args = [
        &["deploy", "--timeout", "3", "--format", "json"][..],
        &changes,
        &["shop"],
    ];
    let deploy = shop.run(&args.concat());
    assert_eq!(deploy.code, 6, "{}", deploy.transcript());
    let report: serde_json::Value = serde_json::from_str(&deploy.stdout).unwrap();
    validate("deploy", &report);
    assert_eq!(report["ok"], false);
    assert_eq!(report["failed_wave"], 0);
    let site_a = &report["environments"][0];
    assert_eq!(site_a["environment"], "site-a");
    assert_eq!(site_a["rolled_back"], true, "{report}");
    assert_eq!(site_a["outcomes"][0]["name"], "payments");
    assert_eq!(
        site_a["outcomes"][0]["ok"], true,
        "healthy, but its wave failed"
    );
    assert_eq!(report["environments"][1]["rolled_back"], true);
    assert_eq!(report["environments"][1]["outcomes"][0]["ok"], false);

    // Both environments run their previous revision; orders was never touched.
    for (env, before) in ["site-a", "site-b"].iter().zip(&before) {
        let state = shop.state_of(env);
        for (name, record) in before["services"].as_object().unwrap() {
            assert_eq!(
                state["services"][name]["spec"], record["spec"],
                "{env}/{name} is back at its previous revision"
            );
        }
        assert_eq!(state["pending"], serde_json::json!([]));
    }
    assert_ne!(pid_in(&shop, "site-a", "payments"), payments, "restarted");
    assert_eq!(
        pid_in(&shop, "site-a", "orders"),
        orders,
        "wave 1 never ran"
    );
    std::fs::write(&products, text).unwrap();
    let clean = shop.run(&["reconcile", "shop"]);
    assert_eq!(clean.code, 0, "{}", clean.transcript());
}

/// Without `-e`, every environment must be deployable; the error names those that are
/// not and those that are.
#[test]
fn a_model_with_an_environment_svcmodel_cannot_deploy_needs_e() {
    let bank = repo().join("examples");
    let plan = support::svcmodel(&bank, &["plan", "bank"]);
    assert_eq!(plan.code, 2, "{}", plan.transcript());
    let said = plan.stderr_flat();
    assert!(
        said.contains("error[E1007]: not every environment of the model can be deployed")
            && said.contains("runs on `nomad`")
            && said.contains("help: choose an environment with -e ENV (dc-frankfurt, aws-test)"),
        "{said}"
    );
}

/// The `port = N` of `service` in the shop copy, moved to another service's port.
fn share_port(shop: &Shop, service: &str, with: u16) {
    let file = shop.path().join(format!("shop/{service}.svc"));
    let text = std::fs::read_to_string(&file).unwrap();
    let at = text.find("port = ").unwrap() + "port = ".len();
    let end = at + text[at..].find(',').unwrap();
    let moved = format!("{}{}{}", &text[..at], with, &text[end..]);
    std::fs::write(&file, moved).unwrap();
}

/// The groups of processes that carry this shop's mark (`SVCMODEL_MARK`), by their
/// group ids: everything svcmodel started for it, recorded or not.
fn marked_groups(shop: &Shop) -> Vec<u32> {
    let project = shop.state()["lineage"].as_str().map(str::to_string);
    let mut groups: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let environ = String::from_utf8_lossy(&environ);
            environ.split('\0').any(|v| {
                v.starts_with("SVCMODEL_MARK=")
                    && project
                        .as_deref()
                        .is_some_and(|l| v.contains(&format!(":{l}:")))
            }) && !process_gone(*pid)
        })
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            stat.rsplit(')')
                .next()?
                .split_whitespace()
                .nth(2)?
                .parse()
                .ok()
        })
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

/// Two services of a local model on one port: deploy refuses before anything starts,
/// pointing at both ports (E0704), as render does.
#[test]
fn two_services_on_one_port_are_refused_before_anything_starts() {
    let shop = Shop::new();
    share_port(&shop, "orders", shop.port(18110));
    let deploy = shop.run(&["deploy", "-e", "local", "shop"]);
    assert_eq!(deploy.code, 1, "{}", deploy.transcript());
    assert!(deploy.stderr.contains("error[E0704]"), "{}", deploy.stderr);
    assert!(!shop.path().join(".svcmodel/state/local.json").exists());
}

/// A port held by a process svcmodel did not start is refused before anything
/// starts, naming the process (E1004); and a listener that appears while a service
/// starts, or after it runs, never passes for the service's health.
#[test]
fn a_foreign_listener_is_refused_and_never_counts_as_healthy() {
    let shop = Shop::new();
    let products = shop.port(18110);
    let squatter = std::net::TcpListener::bind(("127.0.0.1", products)).unwrap();
    let deploy = shop.run(&["deploy", "-e", "local", "shop"]);
    assert_eq!(deploy.code, 6, "{}", deploy.transcript());
    let said = deploy.stderr_flat();
    assert!(
        said.contains(&format!(
            "error[E1004]: port {products}, which `products` of environment `local` listens on, is held by pid {}",
            std::process::id()
        )),
        "{said}"
    );
    let state = shop.path().join(".svcmodel/state/local.json");
    assert!(
        !state.exists() || shop.state()["services"].as_object().unwrap().is_empty(),
        "nothing may start"
    );
    drop(squatter);

    // Deployed; then products' service dies, and before its supervisor restarts it a
    // stranger takes the port: the restarted service cannot listen, and status and
    // reconcile say so instead of "healthy".
    shop.deploy_ok();
    let supervisor = pid_of(&shop, "products");
    let child: u32 = service_of(supervisor);
    kill(child, "-KILL");
    let squatter = {
        let start = Instant::now();
        loop {
            if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", products)) {
                break listener;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the port never came free"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    // The squatter answers connections (the kernel completes them), as a leftover
    // service would.
    let reconcile = shop.run(&["reconcile", "-e", "local", "shop"]);
    assert_eq!(reconcile.code, 5, "{}", reconcile.transcript());
    let said = reconcile.stderr_flat();
    assert!(said.contains("error[E0803]"), "{said}");
    assert!(
        said.contains(&format!(
            "port {products} is held by pid {}",
            std::process::id()
        )),
        "{said}"
    );
    let status = shop.run(&["status", "-e", "local", "--format", "json", "shop"]);
    assert!(
        !status.stdout.contains("\"healthy\": true") || {
            let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
            json["environments"][0]["services"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == "products" && s["healthy"] == false)
        },
        "{}",
        status.stdout
    );
    drop(squatter);
}

/// A run killed between starting a service and recording it leaves a process no
/// state records: the next deploy finds it by its mark and stops it, so exactly one
/// copy runs.
#[test]
fn a_started_but_unrecorded_process_is_found_by_its_mark_and_stopped() {
    let shop = Shop::new();
    shop.deploy_ok();
    let lost = pid_of(&shop, "products");
    // What the killed run's state would say: nothing of products.
    let path = shop.path().join(".svcmodel/state/local.json");
    let mut state = shop.state();
    state["services"]
        .as_object_mut()
        .unwrap()
        .remove("products");
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();

    let deploy = shop.run(&["deploy", "-e", "local", "shop"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    assert!(
        deploy
            .stderr
            .contains(&format!("products: stopped pid:{lost}:"))
            && deploy
                .stderr
                .contains("which an interrupted run started and did not record"),
        "{}",
        deploy.stderr
    );
    wait_until("the unrecorded copy is gone", || process_gone(lost));
    let now = pid_of(&shop, "products");
    assert_ne!(now, lost);
    assert_eq!(marked_groups(&shop).len(), 5, "one copy of each service");
    assert_eq!(shop.run(&["reconcile", "-e", "local", "shop"]).code, 0);
}

/// The state deleted while the shop runs: deploy refuses to start second copies
/// (E1005), destroy refuses to pretend nothing runs, `state adopt` records what runs
/// from its marks, and the next deploy and destroy converge.
#[test]
fn a_lost_state_refuses_deploy_until_its_services_are_adopted() {
    let shop = Shop::new();
    shop.deploy_ok();
    let before: Vec<u32> = [
        "products",
        "orders",
        "payments",
        "storefront",
        "admin-console",
    ]
    .iter()
    .map(|s| pid_of(&shop, s))
    .collect();
    let lineage = shop.state()["lineage"].as_str().unwrap().to_string();
    std::fs::remove_file(shop.path().join(".svcmodel/state/local.json")).unwrap();

    let deploy = shop.run(&["deploy", "-e", "local", "shop"]);
    assert_eq!(deploy.code, 6, "{}", deploy.transcript());
    let said = deploy.stderr_flat();
    assert!(
        said.contains(
            "error[E1005]: environment `local` runs services that its state does not record"
        ),
        "{said}"
    );
    assert!(said.contains("svcmodel state adopt -e local"), "{said}");
    assert!(
        before.iter().all(|pid| !process_gone(*pid)),
        "nothing was stopped"
    );
    let destroy = shop.run(&["destroy", "-e", "local", "--yes", "shop"]);
    assert_eq!(destroy.code, 6, "{}", destroy.transcript());
    assert!(
        destroy.stderr_flat().contains("error[E1005]"),
        "{}",
        destroy.stderr
    );

    let adopt = shop.run(&["state", "adopt", "-e", "local", "--format", "json", "shop"]);
    assert_eq!(adopt.code, 0, "{}", adopt.transcript());
    let adopted: serde_json::Value = serde_json::from_str(&adopt.stdout).unwrap();
    validate("state-adopt", &adopted);
    assert_eq!(
        adopted["environments"][0]["adopted"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        shop.state()["lineage"],
        lineage.as_str(),
        "the marks' lineage"
    );

    let plan = shop.run(&["plan", "-e", "local", "--detailed-exitcode", "shop"]);
    assert_eq!(
        plan.code,
        2,
        "adopted services are replaced: {}",
        plan.transcript()
    );
    let deploy = shop.run(&["deploy", "-e", "local", "shop"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    for pid in &before {
        wait_until("the adopted copies are replaced", || process_gone(*pid));
    }
    assert_eq!(shop.run(&["reconcile", "-e", "local", "shop"]).code, 0);
    let after: Vec<u32> = ["products", "orders"]
        .iter()
        .map(|s| pid_of(&shop, s))
        .collect();
    assert_eq!(
        shop.run(&["destroy", "-e", "local", "--yes", "shop"]).code,
        0
    );
    for pid in after {
        assert!(
            process_gone(pid),
            "destroy returns once its processes are gone"
        );
    }
}

/// Work an interrupted deploy left pending (started, recorded only as pending) is
/// stopped by destroy, not left running.
#[test]
fn destroy_stops_what_an_interrupted_run_left_pending() {
    let shop = Shop::new();
    shop.deploy_ok();
    let pending = pid_of(&shop, "storefront");
    let path = shop.path().join(".svcmodel/state/local.json");
    let mut state = shop.state();
    let record = state["services"]
        .as_object_mut()
        .unwrap()
        .remove("storefront")
        .unwrap();
    state["pending"] = serde_json::json!([{
        "service": "storefront",
        "action": "create",
        "engine_id": record["engine_id"],
        "since": 0,
    }]);
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    let destroy = shop.run(&["destroy", "-e", "local", "--yes", "shop"]);
    assert_eq!(destroy.code, 0, "{}", destroy.transcript());
    assert!(process_gone(pending), "the pending storefront still runs");
    assert!(marked_groups(&shop).is_empty());
    assert!(shop.state()["pending"].as_array().unwrap().is_empty());
}

/// A rollback whose previous revision comes back unhealthy records what it
/// restarted: destroy then stops it.
#[test]
fn a_failed_rollback_records_what_it_restarted() {
    let shop = Shop::new();
    shop.deploy_ok();
    let first = pid_of(&shop, "products");
    // The recorded revision, once restarted, fails its health check.
    let path = shop.path().join(".svcmodel/state/local.json");
    let mut state = shop.state();
    state["services"]["products"]["spec"]["env"]["DEMO_UNHEALTHY"] = "1".into();
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    // The new revision fails too.
    let products = shop.path().join("shop/products.svc");
    let text = std::fs::read_to_string(&products).unwrap();
    std::fs::write(
        &products,
        text.replace(
            "config {",
            "config {\n    env \"DEMO_UNHEALTHY\" = \"1\"\n    env \"REVISION\" = \"2\"",
        ),
    )
    .unwrap();
    let deploy = shop.run(&["deploy", "-e", "local", "--timeout", "2", "shop"]);
    assert_eq!(deploy.code, 6, "{}", deploy.transcript());
    assert!(
        deploy
            .stderr
            .contains("the previous revision came back unhealthy"),
        "{}",
        deploy.stderr
    );
    let restarted = pid_of(&shop, "products");
    assert_ne!(restarted, first);
    assert!(!process_gone(restarted), "the record names what runs");
    assert_eq!(marked_groups(&shop).len(), 5, "nothing runs unrecorded");
    assert_eq!(
        shop.run(&["destroy", "-e", "local", "--yes", "shop"]).code,
        0
    );
    assert!(process_gone(restarted));
}

/// A lock file that cannot be read: free, it is taken over with a note; `state
/// unlock --force` clears it.
#[test]
fn an_unreadable_lock_is_taken_over_or_forced() {
    let shop = Shop::new();
    let lock = shop.path().join(".svcmodel/state/local.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, "{ garbage").unwrap();
    let forced = shop.run(&["state", "unlock", "--force", "-e", "local"]);
    assert_eq!(forced.code, 0, "{}", forced.transcript());
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), "");
    std::fs::write(&lock, "").unwrap();
    std::fs::write(&lock, "\u{0}\u{1}not json").unwrap();
    let deploy = shop.run(&["deploy", "-e", "local", "shop"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    assert!(
        deploy
            .stderr
            .contains("took over the lock of environment `local`"),
        "{}",
        deploy.stderr
    );
    let missing = shop.run(&["state", "unlock"]);
    assert_eq!(missing.code, 2, "{}", missing.transcript());
}

/// Without `svcmodel.toml`, the state lives with the model, wherever the command is
/// run from: deployed from the parent folder, seen from inside the model's folder.
#[test]
fn the_state_lives_with_the_model_not_the_current_folder() {
    let shop = Shop::new();
    std::fs::remove_file(shop.path().join("svcmodel.toml")).unwrap();
    shop.deploy_ok();
    assert!(shop.path().join("shop/.svcmodel/state/local.json").exists());
    let inside = shop
        .command(&["status", "-e", "local", "--format", "json", "."])
        .current_dir(shop.path().join("shop"))
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&inside.stdout).unwrap();
    assert!(json["environments"][0]["serial"].is_u64(), "{json}");
    let again = shop
        .command(&["deploy", "-e", "local", "."])
        .current_dir(shop.path().join("shop"))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no changes"));
    let destroyed = shop
        .command(&["destroy", "-e", "local", "--yes", "shop"])
        .output()
        .unwrap();
    assert_eq!(destroyed.status.code(), Some(0));
}

/// A secret a failing service prints (as itself, or in base64) is masked in the log
/// tail deploy quotes; and a secret on a local command line is refused (E0703).
#[test]
fn log_tails_are_redacted_and_secrets_stay_off_command_lines() {
    let project = tempfile::tempdir().unwrap();
    let port = free_ports(1)[0];
    let model = format!(
        r#"environment "local" {{
  target = "local"
}}

service "leaky" {{
  version = "1.0.0"
  param "key" {{ type = secret }}
  run local {{
    command = ["/bin/sh", "-c", "printf 'key=%s b64=%s\\n' \"$KEY\" \"$(printf %s \"$KEY\" | base64)\"; exit 3"]
  }}
  config {{
    env "KEY" = param.key
  }}
  provides "tcp" {{ port = {port}, protocol = "tcp" }}
  health {{ tcp = "tcp" }}
  restart = "never"
}}
"#
    );
    std::fs::write(project.path().join("main.svc"), &model).unwrap();
    std::fs::write(project.path().join("svcmodel.toml"), "").unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_svcmodel"))
            .args(["--color", "never"])
            .args(args)
            .current_dir(project.path())
            .env("COLUMNS", "200")
            .env("SVCMODEL_SECRET_LEAKY_KEY", CANARY)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Output::from(output)
    };
    let deploy = run(&["deploy", "-e", "local", "--timeout", "5", "."]);
    assert_eq!(deploy.code, 6, "{}", deploy.transcript());
    assert!(
        deploy.stderr.contains("key=[redacted] b64=[redacted]"),
        "{}",
        deploy.stderr
    );
    let json = run(&[
        "deploy",
        "-e",
        "local",
        "--timeout",
        "5",
        "--format",
        "json",
        ".",
    ]);
    // The service's own log file holds no secret either: its supervisor masks them.
    let log =
        std::fs::read_to_string(project.path().join(".svcmodel/logs/local/leaky.log")).unwrap();
    assert!(log.contains("key=[redacted] b64=[redacted]"), "{log}");
    assert!(!log.contains(CANARY) && !log.contains("Y2FuYXJ5"), "{log}");
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let outcome = &report["environments"][0]["outcomes"][0];
    assert_eq!(outcome["ok"], false, "{report}");
    assert_eq!(
        outcome["code"], "E1010",
        "a service that exits is not healthy: {report}"
    );
    for output in [&deploy, &json] {
        assert!(
            !output.transcript().contains(CANARY),
            "{}",
            output.transcript()
        );
        assert!(
            !output.transcript().contains("Y2FuYXJ5"),
            "base64 of the canary"
        );
    }
    let _ = run(&["destroy", "-e", "local", "--yes", "."]);

    let in_args = model.replace(
        "config {\n    env \"KEY\" = param.key",
        "config {\n    args = [\"--key=${param.key}\"]\n    env \"KEY\" = param.key",
    );
    std::fs::write(project.path().join("main.svc"), in_args).unwrap();
    let refused = run(&["deploy", "-e", "local", "."]);
    assert_eq!(refused.code, 1, "{}", refused.transcript());
    assert!(
        refused.stderr.contains(
            "error[E0703]: a secret cannot be in the command line of a process on target `local`"
        ),
        "{}",
        refused.stderr
    );
}

/// Failures that are not the model's are coded diagnostics with help, on standard
/// error and under `--format json` (snapshots: tests/snapshots/deploy__failure-*.snap;
/// process ids, ports, paths and times are filtered out).
#[test]
fn operational_failures_are_coded_diagnostics() {
    let shop = Shop::new();
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in [
        (r"pid:\d+:\d+", "pid:[id]"),
        (r"pid \d+ \(`deploy-[0-9a-f]+`\)", "pid [pid] (`[test]`)"),
        (r"pid \d+", "pid [pid]"),
        (r"port \d+", "port [port]"),
        (r"since \d+ s ago", "since [n] s ago"),
        (r"`/[^`]*/\.svcmodel/", "`[project]/.svcmodel/"),
        (r"\(lineage [0-9a-f]+\)", "(lineage [id])"),
    ] {
        settings.add_filter(pattern, replacement);
    }
    let _bound = settings.bind_to_scope();
    let snapshot = |name: &str, output: &Output| {
        insta::assert_snapshot!(
            format!("failure-{name}"),
            format!("exit: {}\n{}", output.code, output.stderr)
        );
    };

    // E1006: a secret whose variable is not set.
    let unset = shop
        .command(&["deploy", "-e", "local", "shop"])
        .env_remove("SVCMODEL_SECRET_PAYMENTS_PROVIDER_API_KEY")
        .env("COLUMNS", "1000")
        .output()
        .unwrap();
    let unset = Output::from(unset);
    snapshot("secret-unset", &unset);

    // E1004: a port held by a stranger, and the same under --format json.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", shop.port(18130))).unwrap();
    let taken = wide(&shop, &["deploy", "-e", "local", "shop"]);
    snapshot("port-taken", &taken);
    let json = wide(
        &shop,
        &["deploy", "-e", "local", "--format", "json", "shop"],
    );
    assert_eq!(json.code, 6, "{}", json.transcript());
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["diagnostics"][0]["code"], "E1004", "{report}");
    assert!(report["diagnostics"][0]["help"].is_string());
    drop(squatter);

    // E1010: a wave that does not become healthy (the closing diagnostic only: the
    // progress lines before it hold timings).
    assert_eq!(wide(&shop, &["deploy", "-e", "local", "shop"]).code, 0);
    let products = shop.path().join("shop/products.svc");
    let plain = std::fs::read_to_string(&products).unwrap();
    std::fs::write(
        &products,
        plain.replace("config {", "config {\n    env \"DEMO_UNHEALTHY\" = \"1\""),
    )
    .unwrap();
    let failed = wide(&shop, &["deploy", "-e", "local", "--timeout", "1", "shop"]);
    assert_eq!(failed.code, 6, "{}", failed.transcript());
    let closing = Output {
        code: failed.code,
        stdout: String::new(),
        stderr: failed.stderr[failed.stderr.find("  × error[E1010]").unwrap()..].to_string(),
    };
    snapshot("deploy-failed", &closing);
    std::fs::write(&products, plain).unwrap();

    // E1008: a deploy that would delete, without --yes.
    assert_eq!(wide(&shop, &["deploy", "-e", "local", "shop"]).code, 0);
    std::fs::remove_file(shop.path().join("shop/admin-console.svc")).unwrap();
    let shop_svc = shop.path().join("shop/shop.svc");
    let text = std::fs::read_to_string(&shop_svc).unwrap();
    std::fs::write(&shop_svc, text.replace(", \"admin-console\"", "")).unwrap();
    let confirm = wide(&shop, &["deploy", "-e", "local", "shop"]);
    assert_eq!(confirm.code, 2, "{}", confirm.transcript());
    snapshot("confirmation-needed", &confirm);

    // E1005: the state lost while services run.
    std::fs::rename(
        shop.path().join(".svcmodel/state/local.json"),
        shop.path().join("local.json.saved"),
    )
    .unwrap();
    let unrecorded = wide(&shop, &["deploy", "-e", "local", "--yes", "shop"]);
    snapshot("unrecorded", &unrecorded);
    std::fs::rename(
        shop.path().join("local.json.saved"),
        shop.path().join(".svcmodel/state/local.json"),
    )
    .unwrap();

    // E1002: a state svcmodel cannot read.
    let state = shop.path().join(".svcmodel/state/local.json");
    let saved = std::fs::read(&state).unwrap();
    std::fs::write(&state, "{ not a state").unwrap();
    let corrupt = wide(&shop, &["status", "-e", "local", "shop"]);
    assert_eq!(corrupt.code, 4, "{}", corrupt.transcript());
    snapshot("state-unusable", &corrupt);
    std::fs::write(&state, saved).unwrap();

    // E1009: a lock that is not held.
    let unlock = wide(&shop, &["state", "unlock", "0123456789ab"]);
    assert_eq!(unlock.code, 2, "{}", unlock.transcript());
    snapshot("lock-not-released", &unlock);

    // E1003: a lock held from another machine.
    let lock = shop.path().join(".svcmodel/state/local.lock");
    std::fs::write(
        &lock,
        r#"{"id": "0123456789ab", "environment": "local", "operation": "deploy", "who": "ci", "pid": 1, "host": "build-agent-7", "since": 0}"#,
    )
    .unwrap();
    let locked = wide(&shop, &["destroy", "-e", "local", "--yes", "shop"]);
    assert_eq!(locked.code, 7, "{}", locked.transcript());
    snapshot("locked", &locked);
    std::fs::write(&lock, "").unwrap();

    // E1007: an environment svcmodel does not deploy to.
    let nomad = support::svcmodel(
        &repo().join("examples"),
        &["deploy", "-e", "aws-eu-central", "bank"],
    );
    assert_eq!(nomad.code, 2, "{}", nomad.transcript());
    snapshot("not-deployable", &nomad);

    // E1001: an engine that cannot be reached.
    let cluster = shop.path().join("shop/cluster.svc");
    std::fs::write(
        &cluster,
        "environment \"cluster\" {\n  target = \"kubernetes\"\n}\n",
    )
    .unwrap();
    let unreachable = shop.run_with(
        &["status", "-e", "cluster", "shop"],
        &[
            ("KUBECONFIG", "/nonexistent/kubeconfig"),
            ("COLUMNS", "1000"),
        ],
    );
    assert_eq!(unreachable.code, 4, "{}", unreachable.transcript());
    snapshot("engine-unreachable", &unreachable);
    std::fs::remove_file(&cluster).unwrap();
}

/// A run whose diagnostics do not wrap: snapshots that hold filtered figures (process
/// ids, ports) stay the same whatever the figures' widths.
fn wide(shop: &Shop, args: &[&str]) -> Output {
    shop.run_with(args, &[("COLUMNS", "1000")])
}

/// What the local engine starts is what `svcmodel render` writes for the local target:
/// each service's process has the rendered command and arguments, every rendered
/// variable (a secret's value where the file names its variable), the rendered
/// working folder, and runs under a supervisor with the rendered restart policy.
#[test]
fn the_local_engine_runs_what_process_json_says() {
    let shop = Shop::new();
    let out = shop.path().join("rendered");
    let render = shop.run(&["render", "-e", "local", "-o", out.to_str().unwrap(), "shop"]);
    assert_eq!(render.code, 0, "{}", render.transcript());
    shop.deploy_ok();
    let mut checked = 0;
    for entry in std::fs::read_dir(out.join("local")).unwrap().flatten() {
        let file = entry.path().join("process.json");
        if !file.exists() {
            continue;
        }
        let rendered: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let name = rendered["name"].as_str().unwrap();
        let supervisor = pid_of(&shop, name);
        let child: u32 = service_of(supervisor);
        let words = |pid: u32, what: &str| -> Vec<String> {
            String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/{what}")).unwrap())
                .split('\0')
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect()
        };
        let want: Vec<String> = rendered["command"]
            .as_array()
            .unwrap()
            .iter()
            .chain(rendered["args"].as_array().unwrap())
            .map(|w| w.as_str().unwrap().to_string())
            .collect();
        let cmdline = words(child, "cmdline");
        // A script runs under its interpreter: the rendered words end the command line.
        assert!(
            cmdline.ends_with(&want[1..]) && cmdline.iter().any(|w| *w == want[0]),
            "{name}: {cmdline:?} against {want:?}"
        );
        let environ = words(child, "environ");
        for (variable, value) in rendered["env"].as_object().unwrap() {
            let value = match value.as_str() {
                Some(text) => text.to_string(),
                None => CANARY.to_string(),
            };
            assert!(
                environ.contains(&format!("{variable}={value}")),
                "{name}: {variable}"
            );
        }
        let cwd = std::fs::read_link(format!("/proc/{child}/cwd")).unwrap();
        match rendered["workdir"].as_str() {
            Some(dir) => assert_eq!(cwd, Path::new(dir), "{name}: workdir"),
            None => assert_eq!(
                cwd,
                std::fs::canonicalize(shop.path()).unwrap(),
                "{name}: workdir"
            ),
        }
        let policy = words(supervisor, "cmdline");
        let restart = rendered["restart"].as_str().unwrap_or("on_failure");
        assert!(
            policy
                .windows(2)
                .any(|w| w[0] == "--restart" && w[1] == restart),
            "{name}: {policy:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, 5);
}

/// A landscape of two local environments, `east` and `west`. `ledger` runs in `east`
/// until a policy keeps it out: then `plan` and `reconcile` of `east` say it moved to
/// `west` and by which rule, never that it left the model (E0804).
const MOVED_MODEL: &str = r#"
environment "east" {
  target = "local"
  tier   = "prod"
  region = "us-east"
  cost   = { cpu_hour = 0.01 }
}

environment "west" {
  target = "local"
  tier   = "prod"
  region = "us-west"
  cost   = { cpu_hour = 0.02 }
}

service "ledger" {
  version = "1.0.0"
  run local { command = ["sleep", "600"] }
  resources {
    cpu = 1
  }
}
"#;

const MOVED_POLICY: &str = r#"
policy "ledger-out-of-east" {
  when    = service.name == "ledger"
  forbid  = environment.region == "us-east"
  because = "the ledger's data stays on the west coast"
}
"#;

/// Destroys every environment of a project when the test ends, passed or not.
struct Destroyed<'a>(&'a support::Project);

impl Drop for Destroyed<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["destroy", "--yes", "main.svc"]);
    }
}

#[test]
fn a_service_placement_moved_is_planned_and_reconciled_as_moved_with_its_cause() {
    let project = support::Project::new();
    project
        .file("svcmodel.toml", "")
        .file("main.svc", MOVED_MODEL);
    let _destroyed = Destroyed(&project);
    let deploy = project.run(&["deploy", "-e", "east", "main.svc"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());

    // A rule east cannot meet: placement moves the ledger to west.
    project.file("main.svc", format!("{MOVED_MODEL}{MOVED_POLICY}"));
    let plan = project.run(&["plan", "-e", "east", "main.svc"]);
    let reconcile = project.run(&["reconcile", "-e", "east", "main.svc"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    assert_eq!(reconcile.code, 5, "{}", reconcile.transcript());
    assert!(!reconcile.stderr.contains("E0804"), "{}", reconcile.stderr);
    insta::assert_snapshot!("plan-moved", plan.stdout);
    insta::assert_snapshot!("reconcile-moved", reconcile.stderr);
    let json = project.run(&["plan", "--format", "json", "-e", "east", "main.svc"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    validate("plan", &json);
    assert_eq!(
        json["environments"][0]["items"][0]["moved"],
        "moved it to `west`: `ledger-out-of-east` forbids `east`: the ledger's data stays on the west coast"
    );
}

/// The audit log's entries of the last run on `local`.
fn last_run(shop: &Shop) -> Vec<serde_json::Value> {
    let audit = shop.run(&["audit", "-e", "local", "--last", "--format", "json", "shop"]);
    assert_eq!(audit.code, 0, "{}", audit.transcript());
    let json: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    validate("audit", &json);
    json["entries"].as_array().unwrap().clone()
}

/// The (call, service, engine id) of each entry, in order.
fn calls(entries: &[serde_json::Value]) -> Vec<(String, String, String)> {
    entries
        .iter()
        .map(|e| {
            assert_eq!(e["ok"], true, "{e}");
            (
                e["call"].as_str().unwrap().to_string(),
                e["service"].as_str().unwrap_or_default().to_string(),
                e["engine_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The (service, engine id) pairs a state records, by service.
fn recorded(state: &serde_json::Value) -> Vec<(String, String)> {
    state["services"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, r)| (name.clone(), r["engine_id"].as_str().unwrap().to_string()))
        .collect()
}

fn pid_of_id(engine_id: &str) -> u32 {
    engine_id.split(':').nth(1).unwrap().parse().unwrap()
}

/// `plan --operations` lists what the engine will do; the audit log then lists what
/// it did, call by call, and each call is checked against the processes themselves:
/// what a start names ran with the state's mark, what a stop names is gone, through a
/// deploy, a rolled-back deploy and a destroy.
#[test]
fn the_audit_log_lists_every_engine_operation_of_deploy_rollback_and_destroy() {
    let shop = Shop::new();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        &regex_escape(&shop.path().display().to_string()),
        "[project]",
    );
    for (example, port) in &shop.ports {
        settings.add_filter(&format!(r"\b{port}\b"), example.to_string());
    }
    let plan = shop.run(&["plan", "-e", "local", "--operations", "shop"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    settings.bind(|| insta::assert_snapshot!("plan-operations-local", plan.stdout));
    let planned = shop.run(&[
        "plan",
        "-e",
        "local",
        "--operations",
        "--format",
        "json",
        "shop",
    ]);
    let planned: serde_json::Value = serde_json::from_str(&planned.stdout).unwrap();
    validate("plan", &planned);

    // Deploy: one start per service, each the group the state records, each carrying
    // the state's mark, each with the operations the plan listed.
    shop.deploy_ok();
    let deployed = last_run(&shop);
    let state = shop.state();
    let mut started: Vec<(String, String)> = calls(&deployed)
        .into_iter()
        .map(|(call, service, id)| {
            assert_eq!(call, "start");
            (service, id)
        })
        .collect();
    started.sort();
    assert_eq!(started, recorded(&state));
    let mut groups: Vec<u32> = started.iter().map(|(_, id)| pid_of_id(id)).collect();
    groups.sort_unstable();
    assert_eq!(
        marked_groups(&shop),
        groups,
        "the started groups are what runs"
    );
    for entry in &deployed {
        let step = planned["environments"][0]["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == entry["service"])
            .unwrap();
        assert_eq!(step["operations"], entry["operations"], "as planned");
        assert_eq!(
            entry["model_hash"],
            state["services"][entry["service"].as_str().unwrap()]["model_hash"]
        );
    }

    // A deploy whose health check fails is rolled back: the old products stopped, the
    // new one started, stopped again, and the old revision started anew.
    let old = state["services"]["products"]["engine_id"]
        .as_str()
        .unwrap()
        .to_string();
    let products = shop.path().join("shop/products.svc");
    let text = std::fs::read_to_string(&products).unwrap();
    std::fs::write(
        &products,
        text.replace("path = \"/healthz\"", "path = \"/missing\""),
    )
    .unwrap();
    let failed = shop.run(&["deploy", "-e", "local", "--timeout", "3", "shop"]);
    assert_eq!(failed.code, 6, "{}", failed.transcript());
    let rolled_back = calls(&last_run(&shop));
    let now = shop.state()["services"]["products"]["engine_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(rolled_back.len(), 4, "{rolled_back:?}");
    let new = rolled_back[1].2.clone();
    assert_eq!(
        rolled_back,
        [
            ("stop".to_string(), "products".to_string(), old.clone()),
            ("start".to_string(), "products".to_string(), new.clone()),
            ("stop".to_string(), "products".to_string(), new.clone()),
            ("start".to_string(), "products".to_string(), now.clone()),
        ]
    );
    assert!(process_gone(pid_of_id(&old)) && process_gone(pid_of_id(&new)));
    assert!(
        !process_gone(pid_of_id(&now)),
        "the old revision runs again"
    );
    std::fs::write(&products, text).unwrap();

    // Destroy: one stop per recorded service, and nothing of the shop runs after.
    let before = shop.state();
    assert_eq!(
        shop.run(&["destroy", "-e", "local", "--yes", "shop"]).code,
        0
    );
    let mut stopped: Vec<(String, String)> = calls(&last_run(&shop))
        .into_iter()
        .map(|(call, service, id)| {
            assert_eq!(call, "stop");
            (service, id)
        })
        .collect();
    stopped.sort();
    assert_eq!(stopped, recorded(&before));
    assert!(stopped.iter().all(|(_, id)| process_gone(pid_of_id(id))));
    assert_eq!(marked_groups(&shop), Vec::<u32>::new());
    let human = shop.run(&["audit", "shop"]);
    assert_eq!(human.code, 0);
    assert_eq!(human.stdout.matches("run ").count(), 3, "{}", human.stdout);
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}
