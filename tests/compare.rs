//! Public reference systems, field by field: each official Kubernetes manifest under
//! `tests/fixtures/` against what svcmodel renders for its model under `examples/`.
//!
//! Both sides are read as Kubernetes objects and reduced to facts, one per field that
//! decides what runs: a workload's kind and replicas; each container's image, command,
//! args, ports, variables, requests and limits, probes, mounts and security settings;
//! a Service's type and ports (target ports resolved to numbers).
//!
//! Facts are what the container gets, however a manifest spells it: variables read
//! through `envFrom` and `configMapKeyRef` are resolved from the ConfigMaps, a Secret's
//! value is `from secret`, probe fields a manifest leaves out take Kubernetes'
//! defaults, named ports are numbers, and a Secret or ConfigMap volume is the files it
//! puts at paths. Every fact on one
//! side only is a difference. A difference passes only when an entry of the system's
//! list below explains it, and every entry must still explain one: a stale excuse
//! fails the test as surely as a new difference does.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value as Json;

/// Why a difference is allowed. `OnPurpose` is what svcmodel adds or changes by
/// design; `Gap` is something the language cannot say yet (issue 13 is open until
/// no system has one).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Why {
    OnPurpose,
    Gap,
    /// The official files contradict themselves: no model can match them.
    Fixture,
}

struct Allowed {
    /// `-` for a fact only the official manifest has, `+` for one only svcmodel
    /// renders, then a prefix of the fact.
    fact: &'static str,
    why: Why,
    reason: &'static str,
}

const fn on_purpose(fact: &'static str, reason: &'static str) -> Allowed {
    Allowed {
        fact,
        why: Why::OnPurpose,
        reason,
    }
}

const fn fixture(fact: &'static str, reason: &'static str) -> Allowed {
    Allowed {
        fact,
        why: Why::Fixture,
        reason,
    }
}

// No system has a gap today.
#[allow(dead_code)]
const fn gap(fact: &'static str, reason: &'static str) -> Allowed {
    Allowed {
        fact,
        why: Why::Gap,
        reason,
    }
}

/// What svcmodel adds to every system, on purpose.
const EVERY_SYSTEM: &[Allowed] = &[
    on_purpose(
        "+ NetworkPolicy ",
        "svcmodel allows exactly the declared `requires` edges (and name resolution)",
    ),
    on_purpose(
        "+ Namespace ",
        "svcmodel gives every environment its own namespace",
    ),
    on_purpose(
        "+ PodDisruptionBudget ",
        "a critical service with replicas keeps all but one of them through a drain",
    ),
    on_purpose(
        "+ * */* security allowPrivilegeEscalation = false",
        "hardened default: no privilege gained through exec",
    ),
    on_purpose(
        "+ * */* security capabilities.drop = ALL",
        "hardened default: no Linux capability the model does not add back",
    ),
    on_purpose(
        "+ * */* security readOnlyRootFilesystem = true",
        "hardened default: a read-only root, unless the model says why not (`writable_root`)",
    ),
    on_purpose(
        "+ * */* security runAsNonRoot = true",
        "hardened default: never root, unless the model says why (`allow_root`)",
    ),
    on_purpose(
        "+ * */* security seccompProfile = RuntimeDefault",
        "hardened default: the runtime's system call filter",
    ),
    on_purpose(
        "+ ServiceAccount ",
        "every service runs as an identity of its own (its name, unless the model gives `identity`), never the namespace's default",
    ),
    on_purpose(
        "+ * */* pod serviceAccountName = ",
        "every service runs as an identity of its own, never the namespace's default",
    ),
    on_purpose(
        "+ * */* pod automountServiceAccountToken = false",
        "hardened default: no API token in a pod that does not call the Kubernetes API",
    ),
    on_purpose(
        "+ * */* mount /tmp = emptyDir",
        "a read-only root needs a writable /tmp: svcmodel always gives one",
    ),
];

/// The official objects' names, as svcmodel names them: (official, svcmodel).
struct System {
    name: &'static str,
    fixture: &'static str,
    example: &'static str,
    environment: &'static str,
    renames: &'static [(&'static str, &'static str)],
    allowed: &'static [Allowed],
}

const BOOKINFO: System = System {
    name: "bookinfo",
    fixture: "tests/fixtures/bookinfo/bookinfo.yaml",
    example: "examples/bookinfo",
    environment: "kubernetes",
    renames: &[
        ("details-v1", "details"),
        ("ratings-v1", "ratings"),
        ("productpage-v1", "productpage"),
    ],
    allowed: &[
        on_purpose(
            "~ Deployment",
            "svcmodel names a workload after its service; Bookinfo appends its version label (`details-v1`)",
        ),
        on_purpose(
            "+ Deployment */* readinessProbe.",
            "deploys wait on health gates: the model says how each Bookinfo service tells it is up (`GET /health`, which each answers); the official manifest has no probes, so traffic can reach a pod still starting",
        ),
        on_purpose(
            "+ Deployment */* livenessProbe.",
            "the liveness probe svcmodel derives from `health`: a service failing it six times in a row is restarted",
        ),
        on_purpose(
            "- Deployment */* imagePullPolicy = IfNotPresent",
            "svcmodel pulls on every start (`Always`), so a moved tag never runs stale code",
        ),
        on_purpose(
            "+ * */* imagePullPolicy = Always",
            "svcmodel pulls on every start (`Always`), so a moved tag never runs stale code",
        ),
    ],
};

const TEASTORE: System = System {
    name: "teastore",
    fixture: "tests/fixtures/teastore/teastore-clusterip.yaml",
    example: "examples/teastore",
    environment: "kubernetes",
    renames: &[],
    allowed: &[
        on_purpose(
            "- Deployment */* env REGISTRY_HOST = teastore-registry",
            "svcmodel addresses a Service by its fully qualified name, which resolves from any namespace; the official short name resolves only inside its own",
        ),
        on_purpose(
            "+ * */* env REGISTRY_HOST = teastore-registry.kubernetes.svc.cluster.local",
            "svcmodel addresses a Service by its fully qualified name",
        ),
        on_purpose(
            "- Deployment teastore-persistence/* env DB_HOST = teastore-db",
            "svcmodel addresses a Service by its fully qualified name",
        ),
        on_purpose(
            "+ Deployment teastore-persistence/* env DB_HOST = teastore-db.kubernetes.svc.cluster.local",
            "svcmodel addresses a Service by its fully qualified name",
        ),
    ],
};

const BANK_OF_ANTHOS: System = System {
    name: "bank-of-anthos",
    fixture: "tests/fixtures/bank-of-anthos",
    example: "examples/bank-of-anthos",
    environment: "kubernetes",
    renames: &[],
    allowed: &[
        fixture(
            "- StatefulSet */* envFrom ConfigMap demo-data-config (defined nowhere)",
            "the databases read `demo-data-config`, which none of the official files defines (its config.yaml has `default-data-config`): what it held is unknown, so the model cannot say it",
        ),
        on_purpose(
            "- * * container = ",
            "svcmodel names a service's one container after the service (`kubectl logs` needs no `-c`)",
        ),
        on_purpose(
            "+ * * container = ",
            "svcmodel names a service's one container after the service",
        ),
        on_purpose(
            "- * */* imagePullPolicy = IfNotPresent",
            "svcmodel pulls on every start (`Always`), so a moved tag never runs stale code",
        ),
        on_purpose(
            "+ * */* imagePullPolicy = Always",
            "svcmodel pulls on every start (`Always`), so a moved tag never runs stale code",
        ),
        on_purpose(
            "- * */* pod serviceAccountName = default",
            "svcmodel never runs a service as the namespace's default account",
        ),
        on_purpose(
            "+ * */* port ",
            "svcmodel declares the port a container listens on, so its Service, probes and NetworkPolicy name it",
        ),
        // Passwords: demo values in ConfigMaps officially, secrets here.
        on_purpose(
            "- * */* env POSTGRES_PASSWORD = ",
            "a password is a secret: svcmodel reads it from the service's Secret, never from a ConfigMap or a rendered file",
        ),
        on_purpose(
            "+ * */* env POSTGRES_PASSWORD = from secret",
            "a password is a secret",
        ),
        on_purpose(
            "- * */* env SPRING_DATASOURCE_PASSWORD = ",
            "a password is a secret",
        ),
        on_purpose(
            "+ * */* env SPRING_DATASOURCE_PASSWORD = from secret",
            "a password is a secret",
        ),
        on_purpose(
            "- * */* env ACCOUNTS_DB_URI = postgresql://accounts-admin:accounts-pwd@",
            "a password is a secret, also inside a longer value",
        ),
        on_purpose(
            "+ * */* env ACCOUNTS_DB_URI = postgresql://accounts-admin:$(SVCMODEL_SECRET_",
            "a password inside a longer value is filled in by Kubernetes from a variable that reads the Secret",
        ),
        on_purpose(
            "+ * */* env SVCMODEL_SECRET_",
            "the variable Kubernetes fills the password into `ACCOUNTS_DB_URI` from",
        ),
        // Addresses.
        on_purpose(
            "- * */* env *_ADDR = ",
            "svcmodel addresses a Service by its fully qualified name, which resolves from any namespace; the official short name resolves only inside its own",
        ),
        on_purpose(
            "+ * */* env *_ADDR = *.kubernetes.svc.cluster.local:",
            "svcmodel addresses a Service by its fully qualified name",
        ),
        on_purpose(
            "- Deployment */* env SPRING_DATASOURCE_URL = jdbc:postgresql://ledger-db:5432/",
            "svcmodel addresses a Service by its fully qualified name",
        ),
        on_purpose(
            "+ Deployment */* env SPRING_DATASOURCE_URL = jdbc:postgresql://ledger-db.kubernetes.svc.cluster.local:5432/",
            "svcmodel addresses a Service by its fully qualified name",
        ),
        on_purpose(
            "- Deployment ledgerwriter/* env ",
            "the shared `service-api-config` hands ledgerwriter every service's address; the model gives it the one it calls (balancereader), and its NetworkPolicy allows just that one",
        ),
        on_purpose(
            "- * */* env NAMESPACE = from field metadata.namespace",
            "svcmodel knows the namespace it renders into and writes it (`environment.namespace`): the value the downward API would give",
        ),
        on_purpose(
            "+ * */* env NAMESPACE = kubernetes",
            "svcmodel writes the namespace it renders into",
        ),
        // Probes, limits, volumes, security.
        on_purpose(
            "+ Deployment contacts/* livenessProbe.",
            "a service whose `health` check fails six times in a row is restarted: svcmodel derives the liveness probe from `health` unless the model gives `liveness`",
        ),
        on_purpose(
            "+ Deployment frontend/* livenessProbe.",
            "the liveness probe derived from `health`",
        ),
        on_purpose(
            "+ Deployment ledgerwriter/* livenessProbe.",
            "the liveness probe derived from `health`",
        ),
        on_purpose(
            "+ Deployment userservice/* livenessProbe.",
            "the liveness probe derived from `health`",
        ),
        on_purpose(
            "+ Deployment balancereader/* limits.memory = 256Mi",
            "svcmodel bounds every container's memory, at its request when the model gives no limit: a leak ends in the container, not on the node",
        ),
        on_purpose(
            "- StatefulSet */* mount /var/lib/postgresql/data = emptyDir",
            "a database's `data` outlives its pod: svcmodel claims a persistent volume where the demo keeps it in an emptyDir",
        ),
        on_purpose(
            "+ StatefulSet */* mount /var/lib/postgresql/data = persistentVolumeClaim",
            "a database's `data` outlives its pod",
        ),
        on_purpose(
            "+ StatefulSet */* mount /var/run/postgresql = emptyDir",
            "postgres writes its socket there, and the root file system is read-only",
        ),
        on_purpose(
            "+ StatefulSet */* security capabilities.add = CHOWN,DAC_OVERRIDE,FOWNER,SETGID,SETUID",
            "svcmodel drops every capability; the model adds back what the postgres entrypoint needs as root",
        ),
        on_purpose(
            "+ StatefulSet */* security runAsNonRoot = false",
            "the model's reasoned opt-out (`allow_root`), written where a reader of the manifest sees it",
        ),
    ],
};

#[test]
fn bank_of_anthos_matches_the_official_manifests() {
    compare(&BANK_OF_ANTHOS);
}

#[test]
fn bookinfo_matches_the_official_manifest() {
    compare(&BOOKINFO);
}

#[test]
fn teastore_matches_the_official_manifest() {
    compare(&TEASTORE);
}

fn compare(system: &System) {
    let repo = support::repo();
    // A fixture is one file or a folder of them (Bank of Anthos keeps one per service).
    let fixture = repo.join(system.fixture);
    let official_text: String = if fixture.is_dir() {
        yaml_files(&fixture)
            .iter()
            .map(|path| std::fs::read_to_string(path).unwrap() + "\n---\n")
            .collect()
    } else {
        std::fs::read_to_string(&fixture).unwrap()
    };
    let official = objects(&official_text);

    let out = tempfile::tempdir().unwrap();
    let output = support::svcmodel(
        &repo,
        &[
            "render",
            system.example,
            "-e",
            system.environment,
            "-o",
            out.path().to_str().unwrap(),
        ],
    );
    assert_eq!(output.code, 0, "render failed: {}", output.stderr);
    let mut rendered = Vec::new();
    for path in yaml_files(out.path()) {
        rendered.extend(objects(&std::fs::read_to_string(path).unwrap()));
    }

    let renames: BTreeMap<&str, &str> = system.renames.iter().copied().collect();
    let official_facts = facts(&official, &renames);
    let rendered_facts = facts(&rendered, &BTreeMap::new());
    let mut differences: Vec<String> = official_facts
        .difference(&rendered_facts)
        .map(|f| format!("- {f}"))
        .chain(
            rendered_facts
                .difference(&official_facts)
                .map(|f| format!("+ {f}")),
        )
        .collect();
    // A rename is a difference too, explained like any other.
    differences.extend(
        system
            .renames
            .iter()
            .map(|(from, to)| format!("~ Deployment {from} is {to}")),
    );

    let allowed: Vec<&Allowed> = EVERY_SYSTEM.iter().chain(system.allowed).collect();
    let mut used = vec![false; allowed.len()];
    let mut unexplained = Vec::new();
    let (mut gaps, mut contradictions) = (0, 0);
    for difference in &differences {
        match allowed.iter().position(|a| matches(a.fact, difference)) {
            Some(i) => {
                used[i] = true;
                match allowed[i].why {
                    Why::Gap => gaps += 1,
                    Why::Fixture => contradictions += 1,
                    Why::OnPurpose => {}
                }
            }
            None => unexplained.push(difference.clone()),
        }
    }
    let stale: Vec<&str> = allowed
        .iter()
        .zip(&used)
        .filter(|(a, used)| !**used && !EVERY_SYSTEM.iter().any(|e| e.fact == a.fact))
        .map(|(a, _)| a.fact)
        .collect();
    assert!(
        unexplained.is_empty(),
        "{}: {} differences nothing explains:\n{}",
        system.name,
        unexplained.len(),
        unexplained.join("\n")
    );
    assert!(
        stale.is_empty(),
        "{}: these explanations no longer match a difference; remove them:\n{}",
        system.name,
        stale.join("\n")
    );
    if std::env::var_os("COMPARE_SHOW").is_some() {
        eprintln!("{}", differences.join("\n"));
    }
    // Every entry says why.
    assert!(allowed.iter().all(|a| !a.reason.is_empty()));
    eprintln!(
        "{}: {} facts official, {} rendered, {} differences, all explained ({gaps} of them gaps of the language, {contradictions} where the official files contradict themselves)",
        system.name,
        official_facts.len(),
        rendered_facts.len(),
        differences.len(),
    );

    // The model says it in at most a third of the official lines.
    let official_lines = meaningful_lines(&official_text, '#');
    let mut model_lines = 0;
    for path in svc_files(&repo.join(system.example)) {
        model_lines += meaningful_lines(&std::fs::read_to_string(path).unwrap(), '#');
    }
    assert!(
        model_lines * 3 <= official_lines,
        "{}: the model has {model_lines} lines, more than a third of the official {official_lines}",
        system.name
    );
}

/// `*` in a pattern matches one name (no space, no `/`).
fn matches(pattern: &str, fact: &str) -> bool {
    fn go(p: &[u8], f: &[u8]) -> bool {
        match p.split_first() {
            None => true, // a prefix
            Some((b'*', rest)) => (0..=f.len())
                .take_while(|&i| i == 0 || !matches!(f[i - 1], b' ' | b'/'))
                .any(|i| go(rest, &f[i..])),
            Some((c, rest)) => f.first() == Some(c) && go(rest, &f[1..]),
        }
    }
    go(pattern.as_bytes(), fact.as_bytes())
}

fn meaningful_lines(text: &str, comment: char) -> usize {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(comment) && !l.starts_with("//"))
        .count()
}

fn yaml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    files(dir, "yaml")
}

fn svc_files(dir: &Path) -> Vec<std::path::PathBuf> {
    files(dir, "svc")
}

fn files(dir: &Path, extension: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path, extension));
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn objects(text: &str) -> Vec<Json> {
    yaml_rust2::YamlLoader::load_from_str(text)
        .unwrap()
        .iter()
        .map(support::yaml_to_json)
        .filter(|o| o.get("kind").is_some())
        .collect()
}

fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// The facts of every object. Workloads are named as svcmodel names them
/// (`renames`); a Service's target port is resolved to the container's number.
fn facts(objects: &[Json], renames: &BTreeMap<&str, &str>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let name_of = |o: &Json| text(&o["metadata"]["name"]);
    // Named container ports, per pod label set, to resolve `targetPort: http`.
    let mut workloads = Vec::new();
    for object in objects {
        let kind = text(&object["kind"]);
        let name = name_of(object);
        match kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" => {
                let name = renames
                    .get(name.as_str())
                    .map_or(name.clone(), |n| n.to_string());
                workload(&kind, &name, object, objects, &mut out);
                workloads.push(object);
            }
            // Their data counts where a container reads it (variables, mounts).
            "Service" | "ConfigMap" | "Secret" => {}
            _ => {
                out.insert(format!("{kind} {name}"));
            }
        }
    }
    for object in objects.iter().filter(|o| o["kind"] == "Service") {
        let name = name_of(object);
        let spec = &object["spec"];
        let service_type = spec["type"].as_str().unwrap_or("ClusterIP");
        let headless = spec["clusterIP"] == "None";
        out.insert(format!(
            "Service {name} type = {}",
            if headless { "headless" } else { service_type }
        ));
        let selector = spec["selector"].as_object().cloned().unwrap_or_default();
        let selected: Vec<&&Json> = workloads
            .iter()
            .filter(|w| {
                let labels = &w["spec"]["template"]["metadata"]["labels"];
                selector.iter().all(|(k, v)| &labels[k] == v)
            })
            .collect();
        for port in spec["ports"].as_array().into_iter().flatten() {
            let number = text(&port["port"]);
            let target = match &port["targetPort"] {
                Json::Null => number.clone(),
                Json::String(named) => selected
                    .iter()
                    .flat_map(|w| containers(w))
                    .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                    .find(|p| p["name"] == named.as_str())
                    .map_or(named.clone(), |p| text(&p["containerPort"])),
                other => text(other),
            };
            out.insert(format!("Service {name} port {number} -> {target}"));
            if let Some(node_port) = port.get("nodePort") {
                out.insert(format!(
                    "Service {name} port {number} nodePort = {}",
                    text(node_port)
                ));
            }
        }
    }
    out
}

fn containers(workload: &Json) -> Vec<Json> {
    workload["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The `data` of the ConfigMap named `name`, if one of `objects` is.
fn config_map<'a>(objects: &'a [Json], name: &str) -> Option<&'a serde_json::Map<String, Json>> {
    objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == name)
        .map(|o| o["data"].as_object())
        .unwrap_or(None)
        .or_else(|| {
            // A ConfigMap without data is empty, not missing.
            objects
                .iter()
                .any(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == name)
                .then_some(&EMPTY)
        })
}

static EMPTY: std::sync::LazyLock<serde_json::Map<String, Json>> =
    std::sync::LazyLock::new(serde_json::Map::new);

/// A variable's value as the container sees it: text, or where it comes from.
/// ConfigMap keys are resolved; a Secret's is `from secret` whatever its name, since
/// its value is only known when deploying.
fn variable_value(variable: &Json, objects: &[Json]) -> String {
    let from = &variable["valueFrom"];
    if from.is_null() {
        return text(&variable["value"]);
    }
    if let Some(reference) = from.get("configMapKeyRef") {
        return config_map(objects, &text(&reference["name"]))
            .and_then(|data| data.get(&text(&reference["key"])))
            .map_or_else(|| format!("from {from}"), text);
    }
    if from.get("secretKeyRef").is_some() {
        return "from secret".to_string();
    }
    if let Some(field) = from.get("fieldRef") {
        return format!("from field {}", text(&field["fieldPath"]));
    }
    format!("from {from}")
}

/// Kubernetes' values for the probe fields a manifest leaves out.
const PROBE_DEFAULTS: [(&str, i64); 5] = [
    ("initialDelaySeconds", 0),
    ("periodSeconds", 10),
    ("timeoutSeconds", 1),
    ("successThreshold", 1),
    ("failureThreshold", 3),
];

fn workload(kind: &str, name: &str, object: &Json, objects: &[Json], out: &mut BTreeSet<String>) {
    let spec = &object["spec"];
    let pod = &spec["template"]["spec"];
    out.insert(format!(
        "{kind} {name} replicas = {}",
        spec["replicas"].as_i64().unwrap_or(1)
    ));
    for (key, value) in spec["template"]["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if !key.starts_with("svcmodel.io/") {
            out.insert(format!("{kind} {name} annotation {key} = {}", text(value)));
        }
    }
    for key in [
        "serviceAccountName",
        "automountServiceAccountToken",
        "hostNetwork",
    ] {
        if !pod[key].is_null() {
            out.insert(format!("{kind} {name}/* pod {key} = {}", text(&pod[key])));
        }
    }
    let volumes: BTreeMap<String, &Json> = pod["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (text(&v["name"]), v))
        .collect();
    let claims: BTreeSet<String> = spec["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| text(&c["metadata"]["name"]))
        .collect();
    let pod_security = &pod["securityContext"];
    let all = containers(object);
    for container in &all {
        // One container stands for its pod: named by the workload, its own name a
        // fact of its own.
        let at = if all.len() == 1 {
            out.insert(format!(
                "{kind} {name} container = {}",
                text(&container["name"])
            ));
            format!("{kind} {name}/{name}")
        } else {
            format!("{kind} {name}/{}", text(&container["name"]))
        };
        out.insert(format!("{at} image = {}", text(&container["image"])));
        // Kubernetes' default: `Always` for an image without a tag or tagged
        // `latest`, `IfNotPresent` for any other.
        let image = text(&container["image"]);
        let tag = image
            .rsplit('/')
            .next()
            .and_then(|last| last.split_once(':'));
        let default = match tag {
            None | Some((_, "latest")) => "Always",
            Some(_) => "IfNotPresent",
        };
        out.insert(format!(
            "{at} imagePullPolicy = {}",
            container["imagePullPolicy"].as_str().unwrap_or(default)
        ));
        for key in ["command", "args"] {
            if let Some(words) = container[key].as_array() {
                let words: Vec<String> = words.iter().map(text).collect();
                out.insert(format!("{at} {key} = {}", words.join(" ")));
            }
        }
        for port in container["ports"].as_array().into_iter().flatten() {
            out.insert(format!(
                "{at} port {}/{}",
                text(&port["containerPort"]),
                port["protocol"].as_str().unwrap_or("TCP")
            ));
        }
        // What the container's environment holds: `envFrom` first, `env` over it.
        let mut environment = BTreeMap::new();
        for source in container["envFrom"].as_array().into_iter().flatten() {
            let prefix = text(&source["prefix"]);
            if let Some(reference) = source.get("configMapRef") {
                let map_name = text(&reference["name"]);
                match config_map(objects, &map_name) {
                    Some(data) => {
                        for (key, value) in data {
                            environment.insert(format!("{prefix}{key}"), text(value));
                        }
                    }
                    None => {
                        out.insert(format!(
                            "{at} envFrom ConfigMap {map_name} (defined nowhere)"
                        ));
                    }
                }
            } else {
                out.insert(format!("{at} envFrom {source}"));
            }
        }
        for variable in container["env"].as_array().into_iter().flatten() {
            environment.insert(text(&variable["name"]), variable_value(variable, objects));
        }
        for (variable, value) in environment {
            out.insert(format!("{at} env {variable} = {value}"));
        }
        for (kind_of, amounts) in container["resources"].as_object().into_iter().flatten() {
            for (resource, amount) in amounts.as_object().into_iter().flatten() {
                out.insert(format!("{at} {kind_of}.{resource} = {}", text(amount)));
            }
        }
        for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
            let mut probe_spec = container[probe].clone();
            if let Some(fields) = probe_spec.as_object_mut() {
                for (field, default) in PROBE_DEFAULTS {
                    fields.entry(field).or_insert(Json::from(default));
                }
                // A port named in a probe is the container's port of that name.
                for check in ["httpGet", "tcpSocket"] {
                    let Some(port) = fields.get_mut(check).and_then(|c| c.get_mut("port")) else {
                        continue;
                    };
                    if let Some(named) = port.as_str().map(str::to_string)
                        && let Some(number) = container["ports"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .find(|p| p["name"] == named.as_str())
                            .map(|p| p["containerPort"].clone())
                    {
                        *port = number;
                    }
                }
            }
            flatten(&format!("{at} {probe}"), &probe_spec, out);
        }
        for mount in container["volumeMounts"].as_array().into_iter().flatten() {
            let volume_name = text(&mount["name"]);
            let read_only = if mount["readOnly"] == true {
                " (read-only)"
            } else {
                ""
            };
            let path = text(&mount["mountPath"]);
            let Some(volume) = volumes.get(&volume_name) else {
                let source = if claims.contains(&volume_name) {
                    "persistentVolumeClaim"
                } else {
                    "(no such volume)"
                };
                out.insert(format!("{at} mount {path} = {source}{read_only}"));
                continue;
            };
            let (source, options) = volume
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| *k != "name"))
                .map_or((String::new(), Json::Null), |(k, v)| (k.clone(), v.clone()));
            // Secrets and ConfigMaps as the files they put at paths: a folder of
            // items, or one item by `subPath`. Their names are the engine's business.
            if matches!(source.as_str(), "secret" | "configMap") {
                let items: Vec<String> = options["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| text(&i["path"]))
                    .collect();
                let sub_path = text(&mount["subPath"]);
                if !sub_path.is_empty() {
                    out.insert(format!("{at} mount {path} = {source} file{read_only}"));
                } else if items.is_empty() {
                    out.insert(format!("{at} mount {path} = {source} folder{read_only}"));
                } else {
                    for item in items {
                        out.insert(format!(
                            "{at} mount {path}/{item} = {source} file{read_only}"
                        ));
                    }
                }
                continue;
            }
            let source = match options.as_object() {
                Some(options) if !options.is_empty() => {
                    format!("{source} {}", Json::from(options.clone()))
                }
                _ => source,
            };
            out.insert(format!("{at} mount {path} = {source}{read_only}"));
        }
        // Pod and container security settings, as the container gets them.
        let mut security = BTreeMap::new();
        for context in [pod_security, &container["securityContext"]] {
            let mut flat = BTreeSet::new();
            flatten("", context, &mut flat);
            for line in flat {
                if let Some((key, value)) = line.trim().split_once(" = ") {
                    security.insert(key.to_string(), value.to_string());
                }
            }
        }
        for (key, value) in security {
            let key = key.replace("seccompProfile.type", "seccompProfile");
            // Kubernetes' default, said or not.
            if key == "privileged" && value == "false" {
                continue;
            }
            // Capability names are case-blind to the runtime: `all` is `ALL`.
            let value = if key.starts_with("capabilities.") {
                value.to_ascii_uppercase()
            } else {
                value
            };
            out.insert(format!("{at} security {key} = {value}"));
        }
    }
}

/// `prefix a.b = value` for every scalar below `value`; lists joined by `,`.
fn flatten(prefix: &str, value: &Json, out: &mut BTreeSet<String>) {
    match value {
        Json::Null => {}
        Json::Object(map) => {
            for (key, inner) in map {
                let prefix = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&prefix, inner, out);
            }
        }
        Json::Array(items) if items.iter().all(|i| !i.is_object()) => {
            let items: Vec<String> = items.iter().map(text).collect();
            out.insert(format!("{prefix} = {}", items.join(",")));
        }
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}.{i}"), item, out);
            }
        }
        scalar => {
            out.insert(format!("{prefix} = {}", text(scalar)));
        }
    }
}
