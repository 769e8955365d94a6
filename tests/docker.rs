//! Deploy, reconcile and repair on the real Docker Engine of this machine: an image
//! built here `FROM scratch` with the demo service (no registry is reachable), two
//! containers on the environment's network, one reaching the other by name.
//!
//! Needs a running Docker Engine (CI has one); the test fails, never skips, without it.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::{Output, Project};

const IMAGE: &str = support::DEMO_IMAGE;
const CANARY: &str = "canary-docker-7d2c";

fn image() -> &'static str {
    support::demo_image()
}

fn model(environment: &str) -> String {
    format!(
        r#"
environment "{environment}" {{
  target = "compose"
}}

service "api" {{
  version = "1.0.0"
  image   = "{IMAGE}"

  param "token" {{
    type = secret
  }}

  config {{
    args        = ["--name=${{self.name}}", "--port=${{self.http.port}}"]
    env "TOKEN" = param.token
  }}

  provides "http" {{ port = 8080, protocol = "http" }}

  health {{
    http     = "http"
    path     = "/healthz"
    interval = 1s
  }}
}}

service "web" {{
  version = "1.0.0"
  image   = "{IMAGE}"

  config {{
    args          = ["--name=${{self.name}}", "--port=${{self.http.port}}"]
    env "API_URL" = "${{api.http.url}}"
  }}

  provides "http" {{ port = 8081, protocol = "http" }}
  requires "api"

  health {{
    tcp      = "http"
    interval = 1s
  }}
}}
"#
    )
}

struct Dock {
    project: Project,
    environment: String,
    /// Variables for every svcmodel run, beyond the secret.
    variables: Vec<(String, String)>,
}

impl Dock {
    fn new(environment: &str) -> Dock {
        Dock::with_model(environment, &model(environment))
    }

    /// A project of its own holding `model`, deployed as `environment`.
    fn with_model(environment: &str, model: &str) -> Dock {
        image();
        let project = Project::new();
        project.file("svcmodel.toml", "").file("main.svc", model);
        Dock {
            project,
            environment: environment.to_string(),
            variables: Vec::new(),
        }
    }

    fn with(mut self, variable: &str, value: impl AsRef<std::ffi::OsStr>) -> Dock {
        let value = value.as_ref().to_string_lossy().into_owned();
        self.variables.push((variable.to_string(), value));
        self
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["-e", &self.environment, "main.svc"]);
        let output = Command::new(env!("CARGO_BIN_EXE_svcmodel"))
            .args(["--color", "never"])
            .args(&all)
            .current_dir(self.project.path())
            .env("COLUMNS", "80")
            .env("SVCMODEL_SECRET_API_TOKEN", CANARY)
            .envs(self.variables.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        Output::from(output)
    }

    fn container(&self, service: &str) -> String {
        format!("svcmodel-{}-{service}", self.environment)
    }
}

impl Drop for Dock {
    fn drop(&mut self) {
        let _ = self.run(&["destroy", "--yes"]);
        let _ = Command::new("docker")
            .args(["network", "rm", &format!("svcmodel-{}", self.environment)])
            .output();
    }
}

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The names a container answers to on the environment's network, as JSON.
fn aliases(container: &str, environment: &str) -> String {
    docker(&[
        "inspect",
        "-f",
        &format!(
            "{{{{json (index .NetworkSettings.Networks \"svcmodel-{environment}\").Aliases}}}}"
        ),
        container,
    ])
}

fn get(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn containers_deploy_reach_each_other_and_are_repaired() {
    let dock = Dock::new(&unique("dock1"));
    let environment = dock.environment.clone();
    let deploy = dock.run(&["deploy"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    let wave = |name: &str| deploy.stderr.find(&format!("  {name}: healthy")).unwrap();
    assert!(wave("api") < wave("web"), "{}", deploy.stderr);

    // web reaches api by its service name on the environment's network.
    let address = docker(&["port", &dock.container("web"), "8081/tcp"]);
    let deps = get(&address, "/deps");
    assert!(deps.contains(r#""api": true"#), "{deps}");

    // Containers carry their provenance, never a secret.
    let labels = docker(&[
        "inspect",
        "-f",
        "{{json .Config.Labels}}",
        &dock.container("api"),
    ]);
    assert!(
        labels.contains(&format!(r#""svcmodel.io/environment":"{environment}""#)),
        "{labels}"
    );
    assert!(labels.contains(r#""svcmodel.io/model-hash""#), "{labels}");
    assert!(!labels.contains(CANARY), "{labels}");
    let network = docker(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        &dock.container("api"),
    ]);
    assert!(
        network.contains(&format!("svcmodel-{environment}")),
        "{network}"
    );

    // A second deploy changes nothing.
    let id = docker(&["inspect", "-f", "{{.Id}}", &dock.container("api")]);
    assert!(dock.run(&["deploy"]).stderr.contains("no changes"));
    assert_eq!(
        docker(&["inspect", "-f", "{{.Id}}", &dock.container("api")]),
        id
    );

    // Stop one: reconcile reports it against the model, --fix repairs it.
    docker(&["stop", &dock.container("api")]);
    let drift = dock.run(&["reconcile"]);
    assert_eq!(drift.code, 5, "{}", drift.transcript());
    assert!(
        drift.stderr_flat().contains(&format!(
            "read its output with `docker logs {}`",
            dock.container("api")
        )),
        "the help names the container's logs: {}",
        drift.stderr
    );
    assert!(
        drift
            .stderr
            .contains("error[E0802]: `api` is deployed but not running"),
        "{}",
        drift.stderr
    );
    assert!(drift.stderr.contains("main.svc:6:9"), "{}", drift.stderr);
    let fix = dock.run(&["reconcile", "--fix"]);
    assert_eq!(fix.code, 0, "{}", fix.transcript());
    assert_eq!(dock.run(&["reconcile"]).code, 0);
    let status = dock.run(&["status", "--format", "json"]);
    assert!(!status.stdout.contains(CANARY) && !status.stderr.contains(CANARY));
    let state = std::fs::read_to_string(
        dock.project
            .path()
            .join(format!(".svcmodel/state/{environment}.json")),
    )
    .unwrap();
    assert!(!state.contains(CANARY));

    // Destroy removes the containers.
    assert_eq!(dock.run(&["destroy", "--yes"]).code, 0);
    assert_eq!(
        docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=svcmodel.io/environment={environment}")
        ]),
        ""
    );
}

#[test]
fn a_missing_image_fails_the_deploy_without_pulling() {
    let dock = Dock::new(&unique("dock2"));
    let text = model(&dock.environment).replace(
        &format!("image   = \"{IMAGE}\"\n\n  param"),
        "image   = \"svcmodel-absent:0.0.0\"\n\n  param",
    );
    dock.project.file("main.svc", text);
    let deploy = dock.run(&["deploy", "--timeout", "5"]);
    assert_eq!(deploy.code, 6, "{}", deploy.transcript());
    assert!(
        deploy
            .stderr
            .contains("the image `svcmodel-absent:0.0.0` is not on this machine"),
        "{}",
        deploy.stderr
    );
}

/// A landscape over two engines: `web` runs as a local process, `api` and `worker` as
/// containers. One deploy orders them across both: api (containers), then web
/// (processes), then worker (containers).
fn mixed_model() -> String {
    let demo = env!("CARGO_BIN_EXE_demo-service");
    format!(
        r#"
environment "procs" {{
  target   = "local"
  provider = "onprem"
  tier     = "mixed"
  address  = "127.0.0.1"
  link "boxes" {{ latency = 1ms }}
}}

environment "boxes" {{
  target   = "compose"
  provider = "docker"
  tier     = "mixed"
  address  = "127.0.0.1"
  link "procs" {{ latency = 1ms }}
}}

policy "web-on-the-host" {{
  when    = service.name == "web"
  require = environment.provider == "onprem"
  because = "web runs next to the host's files"
}}

policy "the-rest-in-containers" {{
  when    = service.name != "web"
  require = environment.provider == "docker"
  because = "everything else ships as an image"
}}

service "api" {{
  version = "1.0.0"
  image   = "{IMAGE}"
  config {{
    args = ["--name=${{self.name}}", "--port=${{self.http.port}}"]
  }}
  provides "http" {{ port = 8080, protocol = "http" }}
  health {{
    http     = "http"
    path     = "/healthz"
    interval = 1s
  }}
}}

service "web" {{
  version = "1.0.0"
  run local {{
    command = ["{demo}"]
  }}
  config {{
    args = ["--name=${{self.name}}", "--port=${{self.http.port}}"]
  }}
  provides "http" {{ port = 27311, protocol = "http" }}
  requires "api"
  health {{
    http     = "http"
    path     = "/healthz"
    interval = 1s
  }}
}}

service "worker" {{
  version = "1.0.0"
  image   = "{IMAGE}"
  config {{
    args = ["--name=${{self.name}}", "--port=${{self.http.port}}"]
  }}
  provides "http" {{ port = 8082, protocol = "http" }}
  requires "web"
  health {{
    http     = "http"
    path     = "/healthz"
    interval = 1s
  }}
}}
"#
    )
}

#[test]
fn one_deploy_orders_a_landscape_across_two_engines() {
    image();
    let project = Project::new();
    project
        .file("svcmodel.toml", "")
        .file("main.svc", mixed_model());
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("main.svc");
        project.run(&all)
    };
    struct Cleanup<'a>(&'a dyn Fn(&[&str]) -> Output);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["destroy", "--yes"]);
            let _ = Command::new("docker")
                .args(["network", "rm", "svcmodel-boxes"])
                .output();
        }
    }
    let _cleanup = Cleanup(&run);

    let deploy = run(&["deploy", "--timeout", "60"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    let at = |line: &str| deploy.stderr_at(line);
    assert!(at("boxes/api: healthy") < at("procs/web: started"));
    assert!(at("procs/web: healthy") < at("boxes/worker: started"));
    assert_eq!(
        docker(&[
            "inspect",
            "-f",
            "{{.State.Running}}",
            "svcmodel-boxes-worker"
        ]),
        "true"
    );
    assert!(get("127.0.0.1:27311", "/healthz").contains("200 OK"));

    let status = run(&["status", "--format", "json"]);
    assert_eq!(status.code, 0, "{}", status.transcript());
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let healthy: Vec<(String, bool)> = status["environments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|env| {
            env["services"].as_array().unwrap().iter().map(move |row| {
                (
                    format!("{}/{}", env["environment"].as_str().unwrap(), row["name"]),
                    row["healthy"] == true,
                )
            })
        })
        .collect();
    assert_eq!(healthy.len(), 3, "{healthy:?}");
    assert!(healthy.iter().all(|(_, ok)| *ok), "{healthy:?}");
    assert_eq!(run(&["reconcile"]).code, 0);
}

/// An environment's `context` names a Docker context: svcmodel deploys through its
/// endpoint (here one made for the test, pointing at this machine's Engine), and an
/// unknown one is an error before anything starts.
#[test]
fn a_docker_context_picks_the_engine() {
    let scratch = tempfile::tempdir().unwrap();
    let config = scratch.path().join("docker-config");
    let create = |name: &str, host: &str| {
        let created = Command::new("docker")
            .env("DOCKER_CONFIG", &config)
            .args(["context", "create", name, "--docker"])
            .arg(format!("host={host}"))
            .output()
            .unwrap();
        assert!(created.status.success(), "{created:?}");
    };
    create("svcmodel-test", &local_engine());
    create("svcmodel-dead", "unix:///nonexistent/docker.sock");
    let dock = Dock::new(&unique("dock3")).with("DOCKER_CONFIG", &config);
    let text = model(&dock.environment);
    let with_context = |context: &str| {
        dock.project.file(
            "main.svc",
            text.replace(
                "  target = \"compose\"\n",
                &format!("  target  = \"compose\"\n  context = \"{context}\"\n"),
            ),
        );
    };

    with_context("svcmodel-test");
    let deploy = dock.run(&["deploy", "--timeout", "60"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    assert_eq!(
        docker(&[
            "inspect",
            "-f",
            "{{.State.Running}}",
            &dock.container("web")
        ]),
        "true"
    );
    assert_eq!(dock.run(&["destroy", "--yes"]).code, 0);

    // A context whose endpoint is dead: the Engine it names is the one tried.
    with_context("svcmodel-dead");
    let unreachable = dock.run(&["deploy"]);
    assert_eq!(unreachable.code, 4, "{}", unreachable.transcript());
    assert!(
        unreachable
            .stderr_flat()
            .contains("error[E1001]: cannot reach the Docker Engine"),
        "{}",
        unreachable.stderr
    );
    with_context("nowhere");
    let unknown = dock.run(&["deploy"]);
    assert_eq!(unknown.code, 4, "{}", unknown.transcript());
    assert!(
        unknown
            .stderr_flat()
            .contains("error[E1001]: there is no Docker context `nowhere`"),
        "{}",
        unknown.stderr
    );
    // What Drop's destroy needs: a context that reaches the Engine.
    with_context("svcmodel-test");
}

/// The endpoint of this machine's Docker Engine, as its default context names it.
fn local_engine() -> String {
    docker(&[
        "context",
        "inspect",
        "default",
        "-f",
        "{{.Endpoints.docker.Host}}",
    ])
}

/// A TCP front for this machine's Docker Engine that answers the first `failures`
/// requests whose request line contains `matching` with `status`, and passes every
/// other request through to the Engine's socket. Counts the matching requests.
struct FlakyEngine {
    address: String,
    matched: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FlakyEngine {
    fn start(matching: &'static str, failures: usize, status: &'static str) -> FlakyEngine {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let socket = local_engine().trim_start_matches("unix://").to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("tcp://{}", listener.local_addr().unwrap());
        let matched = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = matched.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (socket, counter) = (socket.clone(), counter.clone());
                std::thread::spawn(move || {
                    let mut client = client;
                    // The request head, byte by byte up to the blank line.
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match client.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let line = String::from_utf8_lossy(&head)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string();
                    if line.contains(matching) && counter.fetch_add(1, Ordering::SeqCst) < failures
                    {
                        // Read the body before answering: closing a socket with unread
                        // bytes sends a reset, which the client may see before the
                        // answer and rightly retry as a transport error.
                        if !read_request_body(&mut client, &head) {
                            return;
                        }
                        let body = r#"{"message":"injected by the test"}"#;
                        let _ = write!(
                            client,
                            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        return;
                    }
                    let Ok(mut engine) = std::os::unix::net::UnixStream::connect(&socket) else {
                        return;
                    };
                    if engine.write_all(&head).is_err() {
                        return;
                    }
                    let (mut to_engine, mut from_engine) =
                        (client.try_clone().unwrap(), engine.try_clone().unwrap());
                    let upstream = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut to_engine, &mut engine);
                        let _ = engine.shutdown(std::net::Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut from_engine, &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    let _ = upstream.join();
                });
            }
        });
        FlakyEngine { address, matched }
    }

    fn matched(&self) -> usize {
        self.matched.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Reads the body of the request whose head is `head`, by its `Content-Length` or
/// chunk by chunk. False when the client went away first.
fn read_request_body(client: &mut std::net::TcpStream, head: &[u8]) -> bool {
    use std::io::{BufRead, BufReader, Read};
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let field = |name: &str| {
        head.lines()
            .find_map(|line| line.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    if let Some(length) = field("content-length:").and_then(|v| v.parse::<usize>().ok()) {
        let mut body = vec![0u8; length];
        return client.read_exact(&mut body).is_ok();
    }
    if field("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
        let mut reader = BufReader::new(client);
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size).unwrap_or(0) == 0 {
                return false;
            }
            let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
                return false;
            };
            // The chunk and its CRLF; the last chunk is followed by an empty line.
            let mut chunk = vec![0u8; size + 2];
            if reader.read_exact(&mut chunk).is_err() {
                return false;
            }
            if size == 0 {
                return true;
            }
        }
    }
    true
}

/// A 503 from the Engine is retried and the deploy goes on; a 500 is not retried and
/// fails the wave.
#[test]
fn transient_engine_errors_are_retried_and_others_are_not() {
    let flaky = FlakyEngine::start("/containers/create", 1, "503 Service Unavailable");
    let dock = Dock::new(&unique("dock4")).with("DOCKER_HOST", &flaky.address);
    let deploy = dock.run(&["deploy", "--timeout", "60"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    // api's create failed once and was retried; web's went through.
    assert_eq!(flaky.matched(), 3, "{}", deploy.stderr);
    assert_eq!(dock.run(&["destroy", "--yes"]).code, 0);

    let broken = FlakyEngine::start(
        "/containers/create",
        usize::MAX,
        "500 Internal Server Error",
    );
    let dock = Dock::new(&unique("dock5")).with("DOCKER_HOST", &broken.address);
    let deploy = dock.run(&["deploy", "--timeout", "60"]);
    assert_eq!(deploy.code, 6, "{}", deploy.transcript());
    assert!(
        deploy.stderr.contains("injected by the test"),
        "{}",
        deploy.stderr
    );
    assert_eq!(broken.matched(), 1, "a 500 is not retried");
    drop(dock);
}

/// An environment name of this test run's own: another run on this machine uses
/// other containers and networks.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

/// The networks named exactly `name`.
fn networks_named(name: &str) -> Vec<String> {
    docker(&[
        "network",
        "ls",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Name}}",
    ])
    .lines()
    .filter(|n| *n == name)
    .map(str::to_string)
    .collect()
}

/// Twenty services in one wave on an environment never deployed: one network is made
/// for all of them (not one per service, racing), and destroy removes it.
#[test]
fn a_wave_of_twenty_containers_shares_one_network_that_destroy_removes() {
    image();
    let environment = unique("wave20");
    let model = support::wave_model(&environment, "compose", 20);
    let dock = Dock::with_model(&environment, &model);
    let deploy = dock.run(&["deploy"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    assert!(
        deploy.stderr.contains("wave 1: s0, s1, s10"),
        "{}",
        deploy.stderr
    );
    let network = format!("svcmodel-{environment}");
    assert_eq!(networks_named(&network), std::slice::from_ref(&network));
    let destroy = dock.run(&["destroy", "--yes"]);
    assert_eq!(destroy.code, 0, "{}", destroy.transcript());
    assert!(
        networks_named(&network).is_empty(),
        "destroy leaves the network"
    );
}

/// A container with svcmodel's name and labels that this state did not create (a
/// second checkout, one made by hand) is never replaced or removed.
#[test]
fn a_container_this_state_did_not_create_is_never_touched() {
    let environment = unique("foreign");
    let dock = Dock::new(&environment);
    let name = dock.container("api");
    let created = docker(&[
        "create",
        "--name",
        &name,
        "--label",
        &format!("svcmodel.io/environment={environment}"),
        "--label",
        "svcmodel.io/service=api",
        image(),
    ]);
    assert!(!created.is_empty(), "docker create failed");
    let deploy = dock.run(&["deploy"]);
    assert_eq!(deploy.code, 6, "{}", deploy.transcript());
    assert!(
        deploy.stderr_flat().contains(&format!(
            "a container named `{name}` exists and this state did not create it"
        )),
        "{}",
        deploy.stderr
    );
    assert_eq!(docker(&["inspect", "-f", "{{.Id}}", &name]), created);
    docker(&["rm", "-f", &name]);
}

/// What the Docker engine runs is what `svcmodel render --target compose` writes: every
/// key of every rendered service is either checked against `docker inspect` of the
/// service's containers, or one of the differences listed here, so a key the template
/// gains fails this test until the engine applies it or it is listed.
#[test]
fn the_docker_engine_runs_what_the_compose_file_says() {
    image();
    let environment = unique("parity");
    let model = format!(
        r#"
environment "{environment}" {{
  target = "compose"
}}

service "api" {{
  version  = "1.0.0"
  image    = "{IMAGE}"
  replicas = 2

  param "token" {{
    type = secret
  }}
  config {{
    args        = ["--name=${{self.name}}", "--port=${{self.http.port}}"]
    env "TOKEN" = param.token
    env "MODE"  = "parity"
  }}
  provides "http" {{ port = 8080, protocol = "http" }}
  health {{
    http     = "http"
    path     = "/healthz"
    interval = 1s
  }}
  data {{ path = "/var/lib/api", size = 1Gi }}
  resources {{ cpu = 250m, memory = 64Mi }}
}}

service "web" {{
  version = "1.0.0"
  image   = "{IMAGE}"
  restart = "always"
  config {{
    args          = ["--name=${{self.name}}", "--port=${{self.http.port}}"]
    env "API_URL" = "${{api.http.url}}"
  }}
  provides "http" {{ port = 8081, protocol = "http" }}
  requires "api"
  health {{
    tcp      = "http"
    interval = 1s
  }}
}}
"#
    );
    let dock = Dock::with_model(&environment, &model);
    let rendered = dock.run(&["render", "--target", "compose", "--stdout"]);
    assert_eq!(rendered.code, 0, "{}", rendered.transcript());
    let text = &rendered.stdout[rendered.stdout.find('\n').unwrap() + 1..];
    let compose = support::yaml_to_json(&yaml_rust2::YamlLoader::load_from_str(text).unwrap()[0]);
    let deploy = dock.run(&["deploy"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());

    let project_name = compose["name"].as_str().unwrap();
    // The data volume outlives destroy (data does): removed after the test, even a
    // failed one, once its containers are gone.
    struct RemoveVolume(String);
    impl Drop for RemoveVolume {
        fn drop(&mut self) {
            let _ = Command::new("docker")
                .args(["ps", "-aq", "--filter", &format!("volume={}", self.0)])
                .output()
                .map(|o| {
                    for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                        let _ = Command::new("docker").args(["rm", "-f", id]).output();
                    }
                });
            let _ = Command::new("docker")
                .args(["volume", "rm", &self.0])
                .output();
        }
    }
    let _volume = RemoveVolume(format!("{project_name}_api-data"));
    // Keys where the engine differs from `docker compose up`, on purpose or not yet:
    // - expose/ports: every port is published on 127.0.0.1 at a port Docker picks;
    // - healthcheck: tcp and http checks run from this machine against the
    //   container's address (a FROM-scratch image has no shell for CMD-SHELL);
    // - secrets: the secret reaches the container as its environment variable, as the
    //   file's `environment` says; the file /run/secrets/PARAM is not made;
    // - depends_on: the engine orders by the same deploy waves;
    // - deploy.restart_policy and deploy.placement: Swarm's, applied by that engine.
    let known = ["expose", "ports", "healthcheck", "secrets", "depends_on"];
    for (name, service) in compose["services"].as_object().unwrap() {
        let ids = docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=svcmodel.io/environment={environment}"),
            "--filter",
            &format!("label=app.kubernetes.io/instance={name}"),
        ]);
        let ids: Vec<&str> = ids.lines().collect();
        assert_eq!(
            ids.len() as u64,
            service["deploy"]["replicas"].as_str().map_or_else(
                || service["deploy"]["replicas"].as_u64().unwrap(),
                |r| r.parse().unwrap()
            ),
            "{name}: one container per replica"
        );
        for id in ids {
            let inspect: serde_json::Value =
                serde_json::from_str(&docker(&["inspect", id])).unwrap();
            let c = &inspect[0];
            for (key, want) in service.as_object().unwrap() {
                let at = format!("{name}.{key}");
                match key.as_str() {
                    "image" => assert_eq!(c["Config"]["Image"], *want, "{at}"),
                    "command" => assert_eq!(c["Config"]["Cmd"], *want, "{at}"),
                    "environment" => {
                        let env: Vec<&str> = c["Config"]["Env"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|v| v.as_str().unwrap())
                            .collect();
                        for (var, value) in want.as_object().unwrap() {
                            let value = value.as_str().unwrap();
                            let value = if value.starts_with("${SVCMODEL_SECRET_") {
                                CANARY
                            } else {
                                value
                            };
                            assert!(
                                env.contains(&format!("{var}={value}").as_str()),
                                "{at}: {var}"
                            );
                        }
                    }
                    "labels" => {
                        for (label, value) in want.as_object().unwrap() {
                            assert_eq!(c["Config"]["Labels"][label], *value, "{at}: {label}");
                        }
                    }
                    "restart" => {
                        assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], *want, "{at}")
                    }
                    "read_only" => assert_eq!(c["HostConfig"]["ReadonlyRootfs"], *want, "{at}"),
                    "tmpfs" => {
                        for path in want.as_array().unwrap() {
                            assert!(
                                c["HostConfig"]["Tmpfs"]
                                    .get(path.as_str().unwrap())
                                    .is_some(),
                                "{at}"
                            );
                        }
                    }
                    "security_opt" => assert_eq!(c["HostConfig"]["SecurityOpt"], *want, "{at}"),
                    "volumes" => {
                        for volume in want.as_array().unwrap() {
                            let mounted = c["Mounts"].as_array().unwrap().iter().any(|m| {
                                m["Type"] == "volume"
                                    && m["Name"]
                                        == format!(
                                            "{project_name}_{}",
                                            volume["source"].as_str().unwrap()
                                        )
                                        .as_str()
                                    && m["Destination"] == volume["target"]
                            });
                            assert!(mounted, "{at}: {volume} in {}", c["Mounts"]);
                        }
                    }
                    "networks" => {
                        for network in want.as_array().unwrap() {
                            let real = compose["networks"][network.as_str().unwrap()]["name"]
                                .as_str()
                                .unwrap();
                            let aliases = &c["NetworkSettings"]["Networks"][real]["Aliases"];
                            assert!(
                                aliases
                                    .as_array()
                                    .is_some_and(|a| a.iter().any(|x| x == name.as_str())),
                                "{at}: reachable as `{name}` on `{real}`: {aliases}"
                            );
                        }
                    }
                    "deploy" => {
                        let limits = &want["resources"]["limits"];
                        let mib = |v: &serde_json::Value| {
                            v.as_str().map(|m| {
                                m.trim_end_matches('M').parse::<i64>().unwrap() * 1024 * 1024
                            })
                        };
                        if let Some(memory) = mib(&limits["memory"]) {
                            assert_eq!(c["HostConfig"]["Memory"], memory, "{at}: memory");
                        }
                        if let Some(memory) = mib(&want["resources"]["reservations"]["memory"]) {
                            assert_eq!(
                                c["HostConfig"]["MemoryReservation"], memory,
                                "{at}: reservation"
                            );
                        }
                        if let Some(cpus) = limits["cpus"].as_str() {
                            let nano = (cpus.parse::<f64>().unwrap() * 1e9).round() as i64;
                            assert_eq!(c["HostConfig"]["NanoCpus"], nano, "{at}: cpus");
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
    let destroy = dock.run(&["destroy", "--yes"]);
    assert_eq!(destroy.code, 0, "{}", destroy.transcript());
}

/// A service run as two variants: a container each, both healthy before what needs
/// them starts, both answering to the service's name, which its consumer reaches.
#[test]
fn variants_run_side_by_side_behind_the_service_name() {
    let environment = unique("variants");
    let model = format!(
        r#"
environment "{environment}" {{
  target = "compose"
}}

service "api" {{
  version = "1.0.0"
  config {{
    args = ["--name=${{self.name}}", "--port=${{self.http.port}}"]
  }}
  provides "http" {{ port = 8080, protocol = "http" }}
  health {{
    http     = "http"
    path     = "/healthz"
    interval = 1s
  }}
  variant "stable" {{ image = "{IMAGE}" }}
  variant "canary" {{ image = "{IMAGE}" }}
}}

service "web" {{
  version = "1.0.0"
  image   = "{IMAGE}"
  config {{
    args          = ["--name=${{self.name}}", "--port=${{self.http.port}}"]
    env "API_URL" = "${{api.http.url}}"
  }}
  provides "http" {{ port = 8081, protocol = "http" }}
  requires "api"
  health {{
    tcp      = "http"
    interval = 1s
  }}
}}
"#
    );
    let dock = Dock::with_model(&environment, &model);
    let deploy = dock.run(&["deploy"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    let at = |name: &str| {
        deploy
            .stderr
            .find(&format!("  {name}: healthy"))
            .unwrap_or_else(|| panic!("{name} is not reported healthy: {}", deploy.stderr))
    };
    assert!(at("api-stable") < at("web"), "{}", deploy.stderr);
    assert!(at("api-canary") < at("web"), "{}", deploy.stderr);

    // Each variant is a container of its own that also answers to `api`.
    for variant in ["api-stable", "api-canary"] {
        let aliases = aliases(&dock.container(variant), &environment);
        assert!(aliases.contains(r#""api""#), "{variant}: {aliases}");
        assert!(
            aliases.contains(&format!(r#""{variant}""#)),
            "{variant}: {aliases}"
        );
    }
    // The consumer reaches the service by its name.
    let address = docker(&["port", &dock.container("web"), "8081/tcp"]);
    let deps = get(&address, "/deps");
    assert!(deps.contains(r#""api": true"#), "{deps}");

    let status = dock.run(&["status"]);
    assert_eq!(status.code, 0, "{}", status.transcript());
    assert!(
        status.stdout.contains("api-canary") && status.stdout.contains("api-stable"),
        "{}",
        status.stdout
    );
    assert_eq!(dock.run(&["destroy", "--yes"]).code, 0);
}

/// Istio's Bookinfo from `examples/bookinfo`, deployed from its `compose` environment
/// on the real Engine: stand-in images built here under the official names (the demo
/// service listening on 9080 and answering `/health`), three variants of `reviews`
/// behind its name, every one healthy in `status`, the scratch folders and annotations
/// as the Compose file says.
#[test]
fn bookinfo_deploys_from_its_compose_environment() {
    const STAND_IN: &str = "svcmodel.test/stand-in";
    let images = [
        (
            "details",
            "docker.io/istio/examples-bookinfo-details-v1:1.20.1",
        ),
        (
            "ratings",
            "docker.io/istio/examples-bookinfo-ratings-v1:1.20.1",
        ),
        (
            "reviews",
            "docker.io/istio/examples-bookinfo-reviews-v1:1.20.1",
        ),
        (
            "reviews",
            "docker.io/istio/examples-bookinfo-reviews-v2:1.20.1",
        ),
        (
            "reviews",
            "docker.io/istio/examples-bookinfo-reviews-v3:1.20.1",
        ),
        (
            "productpage",
            "docker.io/istio/examples-bookinfo-productpage-v1:1.20.1",
        ),
    ];
    image();
    for (name, tag) in images {
        // Never replace an image this test did not build.
        let label = docker(&[
            "image",
            "inspect",
            "-f",
            &format!("{{{{index .Config.Labels \"{STAND_IN}\"}}}}"),
            tag,
        ]);
        let exists = Command::new("docker")
            .args(["image", "inspect", tag])
            .output()
            .unwrap()
            .status
            .success();
        assert!(
            !exists || label == "true",
            "{tag} exists and is not a stand-in: not touching it"
        );
        let context = tempfile::tempdir().unwrap();
        std::fs::write(
            context.path().join("Dockerfile"),
            format!(
                "FROM {IMAGE}\nLABEL {STAND_IN}=true\nENTRYPOINT [\"/demo-service\", \"--name={name}\", \"--port=9080\"]\n"
            ),
        )
        .unwrap();
        let build = Command::new("docker")
            .args(["build", "-q", "-t", tag])
            .arg(context.path())
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "{}",
            String::from_utf8_lossy(&build.stderr)
        );
    }
    struct Untag(Vec<&'static str>);
    impl Drop for Untag {
        fn drop(&mut self) {
            for tag in &self.0 {
                let _ = Command::new("docker").args(["rmi", tag]).output();
            }
        }
    }
    let _untag = Untag(images.iter().map(|(_, tag)| *tag).collect());

    // The example as it is, in an environment of this run's own.
    let environment = unique("bookinfo");
    let text = std::fs::read_to_string(support::repo().join("examples/bookinfo/bookinfo.svc"))
        .unwrap()
        .replace(
            "environment \"compose\"",
            &format!("environment \"{environment}\""),
        );
    assert!(text.contains(&environment));
    let dock = Dock::with_model(&environment, &text);
    let deploy = dock.run(&["deploy"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    let started = |name: &str| {
        deploy
            .stderr
            .find(&format!("  {name}: "))
            .unwrap_or_else(|| panic!("{name} did not start: {}", deploy.stderr))
    };
    for reviews in ["reviews-v1", "reviews-v2", "reviews-v3"] {
        assert!(started("ratings") < started(reviews), "{}", deploy.stderr);
        assert!(
            started(reviews) < started("productpage"),
            "{}",
            deploy.stderr
        );
    }

    let status = dock.run(&["status", "--format", "json"]);
    assert_eq!(status.code, 0, "{}", status.transcript());
    let report: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let services = report["environments"][0]["services"].as_array().unwrap();
    let running: Vec<&str> = services
        .iter()
        .filter(|s| s["running"] == true)
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        running.len(),
        6,
        "every workload runs: {running:?} of {}",
        status.stdout
    );
    // Healthy by the model's own check (`GET /health` on each container's port).
    for service in services {
        assert_eq!(
            service["healthy"], true,
            "{} is not healthy: {}",
            service["name"], status.stdout
        );
    }
    // What the Compose file says reaches the containers: the scratch folder, the
    // annotations, and the name every variant answers to.
    let reviews = dock.container("reviews-v2");
    let tmpfs = docker(&["inspect", "-f", "{{json .HostConfig.Tmpfs}}", &reviews]);
    assert!(tmpfs.contains("/opt/ibm/wlp/output"), "{tmpfs}");
    let aliases = aliases(&reviews, &environment);
    assert!(aliases.contains(r#""reviews""#), "{aliases}");
    let labels = docker(&[
        "inspect",
        "-f",
        "{{json .Config.Labels}}",
        &dock.container("productpage"),
    ]);
    assert!(
        labels.contains(r#""prometheus.io/scrape":"true""#),
        "{labels}"
    );
    assert_eq!(dock.run(&["destroy", "--yes"]).code, 0);
}

/// The container ids of the engine ids in the audit entries of `call`.
fn audited_containers(entries: &[serde_json::Value], call: &str) -> Vec<String> {
    let mut ids: Vec<String> = entries
        .iter()
        .filter(|e| e["call"] == call)
        .flat_map(|e| {
            assert_eq!(e["ok"], true, "{e}");
            let id = e["engine_id"]
                .as_str()
                .unwrap()
                .strip_prefix("docker:")
                .unwrap();
            id.split(',').map(str::to_string).collect::<Vec<_>>()
        })
        .collect();
    ids.sort();
    ids
}

/// `plan --operations` on a Docker environment, then a deploy, a deploy rolled back
/// and a destroy: the containers the audit log says were created and removed are
/// exactly those the Docker Engine's own event stream reports.
#[test]
fn the_audit_log_of_a_docker_environment_matches_the_engines_events() {
    let dock = Dock::new(&unique("dockaudit"));
    let environment = dock.environment.clone();
    let plan = dock.run(&["plan", "--operations"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&environment, "[env]");
    settings.bind(|| insta::assert_snapshot!("plan-operations-docker", plan.stdout));
    let since = docker(&["system", "info", "--format", "{{.SystemTime}}"]);

    assert_eq!(dock.run(&["deploy"]).code, 0);
    // web listens where its health check does not look: the wave is rolled back.
    let text = model(&environment).replace(
        r#"args          = ["--name=${self.name}", "--port=${self.http.port}"]"#,
        r#"args          = ["--name=${self.name}", "--port=9"]"#,
    );
    assert_ne!(text, model(&environment));
    dock.project.file("main.svc", text);
    let failed = dock.run(&["deploy", "--timeout", "5"]);
    assert_eq!(failed.code, 6, "{}", failed.transcript());
    assert_eq!(dock.run(&["destroy", "--yes"]).code, 0);
    let until = docker(&["system", "info", "--format", "{{.SystemTime}}"]);

    let audit = dock.run(&["audit", "--format", "json"]);
    let audit: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    support::validate("audit", &audit);
    let entries = audit["entries"].as_array().unwrap();
    let events = docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=container",
        "--filter",
        &format!("label=svcmodel.io/environment={environment}"),
        "--format",
        "{{.Action}} {{.Actor.ID}}",
    ]);
    let engine_did = |action: &str| {
        let mut ids: Vec<String> = events
            .lines()
            .filter_map(|line| line.strip_prefix(&format!("{action} ")))
            .map(str::to_string)
            .collect();
        ids.sort();
        ids
    };
    let created = audited_containers(entries, "start");
    // api and web, web again (failed), web's previous revision again.
    assert_eq!(created.len(), 4, "{entries:#?}");
    assert_eq!(created, engine_did("create"), "{events}");
    assert_eq!(created, engine_did("start"), "{events}");
    assert_eq!(
        audited_containers(entries, "stop"),
        engine_did("destroy"),
        "{events}"
    );
    assert_eq!(
        engine_did("create"),
        engine_did("destroy"),
        "nothing is left"
    );
    let released = entries.iter().filter(|e| e["call"] == "release").count();
    assert_eq!(released, 1, "{entries:#?}");
    assert!(networks_named(&format!("svcmodel-{environment}")).is_empty());
}
