//! The Docker engine: each service a container on the Docker Engine of this machine,
//! through its API (bollard), for environments whose target is `compose`.
//!
//! - A network per environment (`svcmodel-ENV`); each container joins it with its
//!   service's name as alias, so `${orders.http.host}` is `orders` as in the rendered
//!   Compose file.
//! - Containers are named `svcmodel-ENV-SERVICE` and labelled with their provenance
//!   (environment, service, version, model hash; never a secret).
//! - Images must already be on this machine: svcmodel never pulls.
//! - Containers run with Docker's init as PID 1, so a stop's SIGTERM reaches the
//!   service.
//! - Every declared port is also published on 127.0.0.1 at a port Docker picks, to
//!   reach the services from this machine. `tcp` and `http` checks run from the host
//!   against the container's address (images need no shell or probe tool);
//!   `command` checks run as Docker's own health check inside the container.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkCreateRequest,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, RemoveContainerOptionsBuilder,
    StatsOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use crate::deploy::Desired;
use crate::local::{Probe, probe_at};
use svcmodel_targets::view::ServiceView;

/// The label every container svcmodel creates carries, with its environment.
pub const ENVIRONMENT_LABEL: &str = "svcmodel.io/environment";

/// The label that carries a container's (or Swarm service's) [`crate::deploy::Mark`].
pub const MARK_LABEL: &str = "svcmodel.io/mark";

/// Whether labels carry the mark of the same project and lineage as `mark`: then an
/// interrupted run of this very state left it, and it is this state's to replace.
pub fn same_lineage(labels: Option<&HashMap<String, String>>, mark: &crate::deploy::Mark) -> bool {
    labels
        .and_then(|l| l.get(MARK_LABEL))
        .and_then(|m| crate::deploy::Mark::decode(m))
        .is_some_and(|m| {
            m.project == mark.project
                && m.lineage == mark.lineage
                && m.environment == mark.environment
        })
}

pub struct DockerEngine<'a> {
    docker: Docker,
    runtime: tokio::runtime::Runtime,
    environment: String,
    lookup: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// The networks this engine made sure of: see [`ensure_network`].
    networks: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// Builds the desired containers of a view rendered for the `compose` target.
pub fn desired(view: &[ServiceView], waves: &[Vec<String>], environment: &str) -> Vec<Desired> {
    crate::deploy::desired_local(view, waves)
        .into_iter()
        .zip(view)
        .map(|(mut d, s)| {
            d.spec = crate::spec::value(&crate::spec::ContainerSpec::of(s, environment));
            d
        })
        .collect()
}

/// A Docker client on a runtime of its own, with the API version agreed with the
/// Engine: what the Docker and Swarm engines start from.
/// A client of the Docker Engine the Docker `context` names (its endpoint from the
/// Docker CLI's context store), else of `DOCKER_HOST`, else of the local socket.
pub(crate) fn client(
    context: Option<&str>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(Docker, tokio::runtime::Runtime), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the Docker client: {e}"))?;
    let host = match context {
        Some(name) => context_host(name, lookup)?,
        None => lookup("DOCKER_HOST").filter(|h| !h.is_empty()),
    };
    let docker = match host.as_deref() {
        None => Docker::connect_with_local_defaults(),
        Some(host) if host.starts_with("unix://") => {
            Docker::connect_with_unix(host, 120, bollard::API_DEFAULT_VERSION)
        }
        Some(host) if host.starts_with("tcp://") || host.starts_with("http://") => {
            Docker::connect_with_http(host, 120, bollard::API_DEFAULT_VERSION)
        }
        Some(host) => {
            let origin = match context {
                Some(name) => format!("the Docker context `{name}`"),
                None => "DOCKER_HOST".to_string(),
            };
            return Err(format!(
                "{origin} points at `{host}`: svcmodel reaches a Docker Engine over a unix socket or plain TCP only"
            ));
        }
    }
    .map_err(|e| format!("cannot reach the Docker Engine: {e}"))?;
    let docker = runtime
        .block_on(docker.negotiate_version())
        .map_err(|e| format!("cannot reach the Docker Engine: {e}"))?;
    Ok((docker, runtime))
}

/// The endpoint of a Docker context, as the Docker CLI stores it: in
/// `$DOCKER_CONFIG` (else `~/.docker`), `contexts/meta/SHA256(NAME)/meta.json`.
/// `default` is the local Engine (`None`). A context with TLS material is refused:
/// svcmodel does not read it yet.
pub fn context_host(
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    use sha2::{Digest, Sha256};
    if name == "default" {
        return Ok(None);
    }
    let config = lookup("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| lookup("HOME").map(|home| std::path::Path::new(&home).join(".docker")))
        .ok_or("neither DOCKER_CONFIG nor HOME is set: no Docker context can be found")?;
    let digest: String = Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let meta = config.join("contexts/meta").join(&digest).join("meta.json");
    let text = std::fs::read_to_string(&meta).map_err(|_| {
        format!(
            "there is no Docker context `{name}` (looked for `{}`); `docker context ls` lists them",
            meta.display()
        )
    })?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("the Docker context `{name}` cannot be read: {e}"))?;
    let host = value["Endpoints"]["docker"]["Host"]
        .as_str()
        .ok_or_else(|| format!("the Docker context `{name}` names no Docker endpoint"))?;
    if config.join("contexts/tls").join(&digest).exists() {
        return Err(format!(
            "the Docker context `{name}` uses TLS certificates, which svcmodel does not read yet"
        ));
    }
    Ok(Some(host.to_string()))
}

/// The network of an environment, labelled as svcmodel's: `bridge` for containers,
/// `overlay` (attachable) for Swarm services.
/// The environment's network, created once per engine: the services of a wave start
/// in parallel, and the Engine lets two networks share a name, so the look-up and the
/// creation happen under one lock (`ensured`), and later starts skip both. Runs of one
/// environment never overlap (its state lock), so no other process creates it
/// meanwhile. Networks that already share the name are an error naming the fix.
pub(crate) fn ensure_network(
    docker: &Docker,
    runtime: &tokio::runtime::Runtime,
    ensured: &std::sync::Mutex<std::collections::BTreeSet<String>>,
    (name, environment, driver): (&str, &str, &str),
) -> Result<(), String> {
    let mut ensured = ensured
        .lock()
        .map_err(|_| "a start panicked while it created the network".to_string())?;
    if ensured.contains(name) {
        return Ok(());
    }
    let existing = networks_named(docker, runtime, name)?;
    match existing.len() {
        0 => {
            runtime
                .block_on(docker.create_network(network_request(name, environment, driver)))
                .map_err(|e| format!("cannot create the network `{name}`: {e}"))?;
        }
        1 => {}
        n => {
            return Err(format!(
                "{n} networks are named `{name}`: remove all but one (`docker network ls --filter name={name}`)"
            ));
        }
    }
    ensured.insert(name.to_string());
    Ok(())
}

/// The ids of the networks named exactly `name` (the Engine's filter matches parts of
/// names).
pub(crate) fn networks_named(
    docker: &Docker,
    runtime: &tokio::runtime::Runtime,
    name: &str,
) -> Result<Vec<String>, String> {
    let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
    let options = bollard::query_parameters::ListNetworksOptionsBuilder::default()
        .filters(&filters)
        .build();
    let networks = runtime
        .block_on(docker.list_networks(Some(options)))
        .map_err(|e| format!("cannot list the networks: {e}"))?;
    Ok(networks
        .into_iter()
        .filter(|n| n.name.as_deref() == Some(name))
        .filter_map(|n| n.id)
        .collect())
}

/// Removes the environment's network once nothing is attached to it (what destroy
/// leaves): a network still in use, or created by someone else, stays.
pub(crate) fn release_network(
    docker: &Docker,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    environment: &str,
) -> Result<(), String> {
    // A Swarm task's container, and its endpoint, leave the network a while after the
    // task: a network still in use is looked at again for a while, then left to a
    // later destroy.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    for id in networks_named(docker, runtime, name)? {
        loop {
            let Ok(network) = runtime.block_on(docker.inspect_network(
                &id,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )) else {
                break;
            };
            let ours = network
                .labels
                .as_ref()
                .is_some_and(|l| l.get(ENVIRONMENT_LABEL).map(String::as_str) == Some(environment));
            if !ours {
                break;
            }
            // An overlay network lists its own load balancer (`lb-NETWORK`) as attached.
            let in_use = network
                .containers
                .as_ref()
                .is_some_and(|c| c.keys().any(|k| !k.starts_with("lb-")));
            let removed = if in_use {
                Err(())
            } else {
                match runtime.block_on(docker.remove_network(&id)) {
                    Ok(())
                    | Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => Ok(()),
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 403 | 409,
                        ..
                    }) => Err(()),
                    Err(e) => return Err(format!("cannot remove the network `{name}`: {e}")),
                }
            };
            if removed.is_ok() {
                // Swarm removes an overlay network in the background: return once it
                // is gone, so what destroy reports is what the Engine lists.
                while std::time::Instant::now() < deadline
                    && networks_named(docker, runtime, name).is_ok_and(|ids| ids.contains(&id))
                {
                    std::thread::sleep(Duration::from_millis(200));
                }
                break;
            }
            if std::time::Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    Ok(())
}

pub(crate) fn network_request(name: &str, environment: &str, driver: &str) -> NetworkCreateRequest {
    NetworkCreateRequest {
        name: name.to_string(),
        driver: Some(driver.to_string()),
        attachable: (driver == "overlay").then_some(true),
        labels: Some(HashMap::from([
            (ENVIRONMENT_LABEL.to_string(), environment.to_string()),
            (
                "app.kubernetes.io/managed-by".to_string(),
                "svcmodel".to_string(),
            ),
        ])),
        ..Default::default()
    }
}

/// What a container (or a Swarm task's container) runs, from a spec: arguments and
/// variables with secrets filled in, labels, ports, and a command health check.
pub(crate) struct ContainerParts {
    pub entrypoint: Vec<String>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    pub ports: Vec<u16>,
    pub healthcheck: Option<HealthConfig>,
}

pub(crate) fn container_parts(
    spec: &crate::spec::ContainerSpec,
    lookup: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<ContainerParts, String> {
    let resolve = |values: &[crate::spec::SpecValue]| {
        values
            .iter()
            .map(|v| v.resolve(lookup))
            .collect::<Result<Vec<_>, _>>()
    };
    let entrypoint = resolve(&spec.entrypoint)?;
    let args = resolve(&spec.args)?;
    let env = spec
        .env
        .iter()
        .map(|(k, v)| Ok(format!("{k}={}", v.resolve(lookup)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let labels = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let ports = spec.ports.values().copied().collect();
    let healthcheck = spec
        .health
        .as_ref()
        .filter(|h| h.kind == "exec")
        .map(|health| {
            let nanos = |seconds: u64| (seconds * 1_000_000_000) as i64;
            let mut test = vec!["CMD".to_string()];
            test.extend(health.command.iter().cloned());
            HealthConfig {
                test: Some(test),
                interval: Some(nanos(health.interval_seconds)),
                timeout: Some(nanos(health.timeout_seconds)),
                retries: Some(i64::from(health.failure_threshold)),
                start_period: health.initial_delay_seconds.map(nanos),
                start_interval: Some(1_000_000_000),
            }
        });
    Ok(ContainerParts {
        entrypoint,
        args,
        env,
        labels,
        ports,
        healthcheck,
    })
}

impl<'a> DockerEngine<'a> {
    /// Connects to the local Docker Engine, agreeing on an API version with it.
    /// Connects to the Engine of the Docker `context`, or to the local one.
    pub fn connect(
        environment: &str,
        lookup: &'a (dyn Fn(&str) -> Option<String> + Sync),
        context: Option<&str>,
    ) -> Result<DockerEngine<'a>, String> {
        let (docker, runtime) = client(context, lookup)?;
        Ok(DockerEngine {
            docker,
            runtime,
            environment: environment.to_string(),
            lookup,
            networks: Default::default(),
        })
    }

    /// Runs an Engine API call, retrying what may be transient (a timeout, a broken
    /// connection, 502, 503, 504) up to three times with backoff from 100 ms; any
    /// other error fails at once.
    fn call<T, Fut>(&self, request: impl Fn() -> Fut) -> Result<T, bollard::errors::Error>
    where
        Fut: std::future::Future<Output = Result<T, bollard::errors::Error>>,
    {
        crate::deploy::retry(Duration::from_millis(100), transient, || {
            self.runtime.block_on(request())
        })
    }

    fn container_name(&self, service: &str) -> String {
        format!("svcmodel-{}-{service}", self.environment)
    }

    /// The first replica has the service's container name; the others add their
    /// number (`svcmodel-ENV-SERVICE-2`).
    fn replica_name(&self, service: &str, replica: u64) -> String {
        match replica {
            1 => self.container_name(service),
            n => format!("{}-{n}", self.container_name(service)),
        }
    }

    /// What every replica of `desired` is created with: the fields of the rendered
    /// Compose service, secrets filled in from the deploying machine.
    fn container_config(
        &self,
        spec: &crate::spec::ContainerSpec,
        mark: &crate::deploy::Mark,
        image: &str,
    ) -> Result<ContainerCreateBody, String> {
        let network = spec.network.as_str();
        let ContainerParts {
            entrypoint,
            args,
            env,
            mut labels,
            ports,
            healthcheck,
        } = container_parts(spec, self.lookup)?;
        labels.insert(MARK_LABEL.to_string(), mark.encode());
        let bindings = ports
            .iter()
            .map(|p| {
                (
                    format!("{p}/tcp"),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".to_string()),
                        host_port: Some(String::new()),
                    }]),
                )
            })
            .collect();
        let restart = match spec.restart.as_str() {
            "always" => RestartPolicyNameEnum::ALWAYS,
            "never" => RestartPolicyNameEnum::NO,
            _ => RestartPolicyNameEnum::ON_FAILURE,
        };
        let mounts: Vec<bollard::models::Mount> = spec
            .volumes
            .iter()
            .map(|v| bollard::models::Mount {
                typ: Some(bollard::models::MountType::VOLUME),
                source: Some(v.source.clone()),
                target: Some(v.target.clone()),
                ..Default::default()
            })
            .collect();
        let bytes = |m: Option<u64>| m.and_then(|m| i64::try_from(m).ok());
        Ok(ContainerCreateBody {
            image: Some(image.to_string()),
            entrypoint: (!entrypoint.is_empty()).then_some(entrypoint),
            cmd: Some(args),
            user: spec.user.clone(),
            env: Some(env),
            labels: Some(labels),
            exposed_ports: Some(ports.iter().map(|p| format!("{p}/tcp")).collect()),
            healthcheck,
            host_config: Some(HostConfig {
                port_bindings: Some(bindings),
                restart_policy: Some(RestartPolicy {
                    name: Some(restart),
                    maximum_retry_count: None,
                }),
                network_mode: Some(network.to_string()),
                // Docker's init as PID 1: SIGTERM reaches the service (a process that
                // is PID 1 itself ignores it) and zombies are reaped.
                init: Some(true),
                memory: bytes(spec.memory_limit()),
                memory_reservation: bytes(spec.memory_bytes.or(spec.memory_limit())),
                // A container has no cpu reservation outside Swarm: the limit.
                nano_cpus: bytes(spec.cpu_limit()).map(|m| m * 1_000_000),
                readonly_rootfs: Some(spec.read_only),
                cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
                tmpfs: Some(
                    spec.tmpfs_mounts()
                        .into_iter()
                        .map(|(path, size)| {
                            (path, size.map(|s| format!("size={s}")).unwrap_or_default())
                        })
                        .collect(),
                ),
                security_opt: Some(spec.security_opt.clone()),
                mounts: (!mounts.is_empty()).then_some(mounts),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.to_string(),
                    EndpointSettings {
                        aliases: Some(
                            std::iter::once(spec.name.clone())
                                .chain(spec.aliases.iter().cloned())
                                .collect(),
                        ),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        })
    }

    /// Creates one container and starts it; its id.
    fn create_and_start(&self, name: &str, config: &ContainerCreateBody) -> Result<String, String> {
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        let created = self
            .call(|| {
                self.docker
                    .create_container(Some(options.clone()), config.clone())
            })
            .map_err(|e| format!("cannot create the container `{name}`: {e}"))?;
        self.call(|| {
            self.docker.start_container(
                &created.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
        })
        .map_err(|e| {
            // Created but not started: removed, and if that fails too, found again by
            // its mark.
            let _ = self.remove(&created.id);
            format!("cannot start the container `{name}`: {e}")
        })?;
        Ok(created.id)
    }

    fn ensure_network(&self, name: &str) -> Result<(), String> {
        ensure_network(
            &self.docker,
            &self.runtime,
            &self.networks,
            (name, &self.environment, "bridge"),
        )
    }

    /// The container's address on its network: this machine reaches it there directly,
    /// without Docker's port proxy (which accepts connections even when nothing
    /// listens behind it, so a check through it would pass for a dead service).
    fn address(&self, id: &str) -> Option<std::net::IpAddr> {
        let info = self
            .call(|| {
                self.docker
                    .inspect_container(id, None::<InspectContainerOptions>)
            })
            .ok()?;
        let networks = info.network_settings?.networks?;
        networks.values().find_map(|n| {
            n.ip_address
                .as_ref()
                .filter(|ip| !ip.is_empty())?
                .parse()
                .ok()
        })
    }

    /// The containers an engine id names: one per replica.
    fn container_ids(engine_id: &str) -> Option<Vec<&str>> {
        let ids: Vec<&str> = engine_id
            .strip_prefix("docker:")?
            .split(',')
            .filter(|id| !id.is_empty())
            .collect();
        (!ids.is_empty()).then_some(ids)
    }

    fn running(&self, id: &str) -> Option<(bool, Option<String>)> {
        let info = self
            .call(|| {
                self.docker
                    .inspect_container(id, None::<InspectContainerOptions>)
            })
            .ok()?;
        let state = info.state?;
        let health = state.health.and_then(|h| h.status).map(|s| s.to_string());
        Some((state.running.unwrap_or(false), health))
    }

    fn check_once(&self, id: &str, spec: &serde_json::Value) -> Result<(), String> {
        let Some((running, docker_health)) = self.running(id) else {
            return Err("the container is gone".to_string());
        };
        if !running {
            return Err("the container is not running".to_string());
        }
        let spec: crate::spec::ContainerSpec = crate::spec::read(spec)?;
        let Some(health) = spec.health else {
            return Ok(());
        };
        let timeout = Duration::from_secs(health.timeout_seconds);
        match health.kind.as_str() {
            kind @ ("tcp" | "http") => {
                let (Some(ip), Some(port)) = (self.address(id), health.port) else {
                    return Err("it has no address on its network".to_string());
                };
                let p = if kind == "tcp" {
                    Probe::Tcp { port }
                } else {
                    Probe::Http {
                        port,
                        path: health.path.unwrap_or_else(|| "/".to_string()),
                        headers: health.headers.into_iter().collect(),
                    }
                };
                probe_at(ip, &p, timeout)
            }
            _ => match docker_health.as_deref() {
                Some("healthy") => Ok(()),
                Some(other) => Err(format!("Docker reports it {other}")),
                None => Err("Docker reports no health yet".to_string()),
            },
        }
    }

    /// Stops and removes a container; one that is gone already counts as removed.
    fn remove(&self, name_or_id: &str) -> Result<(), String> {
        let stop = StopContainerOptionsBuilder::default().t(5).build();
        let _ = self.call(|| self.docker.stop_container(name_or_id, Some(stop.clone())));
        let remove = RemoveContainerOptionsBuilder::default().force(true).build();
        match self.call(|| {
            self.docker
                .remove_container(name_or_id, Some(remove.clone()))
        }) {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(format!("cannot remove the container `{name_or_id}`: {e}")),
        }
    }
}

/// Errors worth another try: the engine or the connection to it hiccupped.
fn transient(error: &bollard::errors::Error) -> bool {
    use bollard::errors::Error;
    match error {
        Error::RequestTimeoutError
        | Error::IOError { .. }
        | Error::HyperResponseError { .. }
        | Error::HyperLegacyError { .. } => true,
        Error::DockerResponseServerError { status_code, .. } => {
            matches!(status_code, 502..=504)
        }
        _ => false,
    }
}

impl crate::deploy::Engine for DockerEngine<'_> {
    fn start(
        &self,
        desired: &Desired,
        mark: &crate::deploy::Mark,
    ) -> Result<String, crate::deploy::EngineError> {
        let spec: crate::spec::ContainerSpec = crate::spec::read(&desired.spec)?;
        let Some(image) = spec.image.clone() else {
            return Err(format!("`{}` has no image to run", desired.name).into());
        };
        if self.call(|| self.docker.inspect_image(&image)).is_err() {
            return Err(format!(
                "the image `{image}` is not on this machine: build or load it first (svcmodel never pulls)"
            ).into());
        }
        self.ensure_network(&spec.network)?;
        let replicas = spec.replicas.max(1);
        let names: Vec<String> = (1..=replicas)
            .map(|replica| self.replica_name(&desired.name, replica))
            .collect();
        // A container of one of these names left by an interrupted run of this state is
        // replaced; any other (another checkout's, one made by hand) is not svcmodel's
        // to touch.
        for name in &names {
            if let Ok(info) = self.call(|| {
                self.docker
                    .inspect_container(name, None::<InspectContainerOptions>)
            }) {
                if !same_lineage(info.config.as_ref().and_then(|c| c.labels.as_ref()), mark) {
                    return Err(format!(
                        "a container named `{name}` exists and this state did not create it: remove or rename it, or deploy from the checkout that owns it"
                    ).into());
                }
                self.remove(name)?;
            }
        }
        let config = self.container_config(&spec, mark, &image)?;
        let mut ids = Vec::new();
        for name in &names {
            match self.create_and_start(name, &config) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    // The replicas already started go too; a removal that fails leaves
                    // them to the next run, which finds them by their mark.
                    for id in &ids {
                        let _ = self.remove(id);
                    }
                    return Err(e.into());
                }
            }
        }
        Ok(format!("docker:{}", ids.join(",")))
    }

    fn start_operations(&self, desired: &Desired) -> Vec<crate::deploy::Operation> {
        use crate::deploy::Operation;
        let Ok(spec) = crate::spec::read::<crate::spec::ContainerSpec>(&desired.spec) else {
            return vec![Operation::new("create container", desired.name.clone())];
        };
        let mut operations = Vec::new();
        let known = self
            .networks
            .lock()
            .is_ok_and(|ensured| ensured.contains(&spec.network));
        if !known
            && networks_named(&self.docker, &self.runtime, &spec.network)
                .is_ok_and(|n| n.is_empty())
        {
            operations.push(Operation::new(
                "create network",
                format!("{} (bridge)", spec.network),
            ));
        }
        let image = spec.image.as_deref().unwrap_or("(none)");
        for replica in 1..=spec.replicas.max(1) {
            let name = self.replica_name(&desired.name, replica);
            let left = self
                .call(|| {
                    self.docker
                        .inspect_container(&name, None::<InspectContainerOptions>)
                })
                .is_ok();
            if left {
                operations.push(Operation::new("remove container", name.clone()));
            }
            operations.push(Operation::new(
                "create container",
                format!("{name} (image {image}, network {})", spec.network),
            ));
            operations.push(Operation::new("start container", name));
        }
        operations
    }

    fn stop_operations(&self, engine_id: &str) -> Vec<crate::deploy::Operation> {
        let Some(ids) = Self::container_ids(engine_id) else {
            return vec![crate::deploy::Operation::new("remove container", engine_id)];
        };
        ids.into_iter()
            .flat_map(|id| {
                // By name where Docker still knows it: an id means little to a reader.
                let name = self
                    .call(|| {
                        self.docker
                            .inspect_container(id, None::<InspectContainerOptions>)
                    })
                    .ok()
                    .and_then(|info| info.name)
                    .map(|name| name.trim_start_matches('/').to_string())
                    .unwrap_or_else(|| id.chars().take(12).collect());
                [
                    crate::deploy::Operation::new("stop container", format!("{name} (5 s grace)")),
                    crate::deploy::Operation::new("remove container", name),
                ]
            })
            .collect()
    }

    fn release_operations(&self) -> Vec<crate::deploy::Operation> {
        vec![crate::deploy::Operation::new(
            "remove network",
            format!("svcmodel-{} (once nothing is attached)", self.environment),
        )]
    }

    fn stop(&self, engine_id: &str) -> Result<(), crate::deploy::EngineError> {
        let Some(ids) = Self::container_ids(engine_id) else {
            return Err(format!("`{engine_id}` is not a container").into());
        };
        crate::deploy::try_each(ids, |id| self.remove(id)).map_err(Into::into)
    }

    fn same_instance(&self, a: &str, b: &str) -> bool {
        // A replica found by its mark belongs to the service whose id lists it.
        match (Self::container_ids(a), Self::container_ids(b)) {
            (Some(a), Some(b)) => a.iter().any(|id| b.contains(id)),
            _ => a == b,
        }
    }

    fn release(&self) -> Result<(), crate::deploy::EngineError> {
        (release_network(
            &self.docker,
            &self.runtime,
            &format!("svcmodel-{}", self.environment),
            &self.environment,
        ))
        .map_err(Into::into)
    }

    fn find_marked(&self, project: &str, environment: &str) -> Vec<crate::deploy::Marked> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{ENVIRONMENT_LABEL}={environment}"),
                MARK_LABEL.to_string(),
            ],
        )]);
        let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let Ok(containers) = self.call(|| self.docker.list_containers(Some(options.clone())))
        else {
            return Vec::new();
        };
        containers
            .into_iter()
            .filter_map(|c| {
                let mark = crate::deploy::Mark::decode(c.labels.as_ref()?.get(MARK_LABEL)?)?;
                (mark.project == project && mark.environment == environment).then(|| {
                    crate::deploy::Marked {
                        engine_id: format!("docker:{}", c.id.unwrap_or_default()),
                        mark,
                    }
                })
            })
            .collect()
    }

    fn alive(&self, engine_id: &str) -> bool {
        Self::container_ids(engine_id).is_some_and(|ids| {
            ids.iter()
                .all(|id| self.running(id).is_some_and(|(running, _)| running))
        })
    }

    fn wait_healthy(
        &self,
        engine_id: &str,
        spec: &serde_json::Value,
        deadline: Duration,
    ) -> Result<(), crate::deploy::EngineError> {
        let Some(ids) = Self::container_ids(engine_id) else {
            return Err(format!("`{engine_id}` is not a container").into());
        };
        (crate::deploy::poll_healthy(
            deadline,
            Duration::from_millis(200),
            || ids.iter().try_for_each(|id| self.check_once(id, spec)),
            |why| why.contains("not running") || why.contains("gone"),
        )
        .map_err(|why| {
            if why.starts_with("not healthy") {
                why
            } else {
                format!("the container stopped: {why}")
            }
        }))
        .map_err(crate::deploy::EngineError::unhealthy)
    }

    fn check(
        &self,
        engine_id: &str,
        spec: &serde_json::Value,
    ) -> Result<(), crate::deploy::EngineError> {
        let Some(ids) = Self::container_ids(engine_id) else {
            return Err(format!("`{engine_id}` is not a container").into());
        };
        ids.iter()
            .try_for_each(|id| self.check_once(id, spec))
            .map_err(crate::deploy::EngineError::unhealthy)
    }

    fn usage(&self, engine_id: &str) -> Option<crate::deploy::Usage> {
        let samples: Vec<crate::deploy::Usage> = Self::container_ids(engine_id)?
            .iter()
            .filter_map(|id| container_usage(&self.docker, &self.runtime, id))
            .collect();
        crate::deploy::Usage::of_replicas(&samples)
    }
}

/// A container's memory in use and the CPU seconds it used, from one stats sample.
pub(crate) fn container_usage(
    docker: &Docker,
    runtime: &tokio::runtime::Runtime,
    id: &str,
) -> Option<crate::deploy::Usage> {
    let options = StatsOptionsBuilder::default()
        .stream(false)
        .one_shot(true)
        .build();
    let stats = runtime
        .block_on(async { docker.stats(id, Some(options)).next().await })?
        .ok()?;
    let memory = stats.memory_stats.and_then(|m| m.usage)?;
    let cpu_ns = stats
        .cpu_stats
        .and_then(|c| c.cpu_usage)
        .and_then(|u| u.total_usage)?;
    Some(crate::deploy::Usage {
        memory_bytes: memory,
        cpu_seconds: cpu_ns as f64 / 1e9,
    })
}
