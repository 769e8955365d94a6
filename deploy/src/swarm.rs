//! The Swarm engine: each service a Swarm service on the Docker Engine of this machine
//! (a manager of an active swarm), through its API, for environments whose target is
//! `swarm`. svcmodel never initialises or leaves Swarm mode itself.
//!
//! - An attachable overlay network per environment (`svcmodel-ENV`); each service
//!   joins it with its name as alias.
//! - Services are named `svcmodel-ENV-SERVICE`, labelled with their provenance, run
//!   `replicas` tasks, with Docker's init, restart condition, memory and CPU limits,
//!   and a placement preference `spread: node.labels.svcmodel.KIND` per spread rule;
//!   a constraint `node.labels.svcmodel.KIND == DOMAIN` where placement put every
//!   replica in one domain.
//! - Every declared port is published in host mode at a port Swarm picks per task, so
//!   each task's `tcp` or `http` check runs from this machine; `command` checks become
//!   the container's health check. A service is healthy when all its replicas run and
//!   pass.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{
    EndpointPortConfig, EndpointPortConfigPublishModeEnum, EndpointSpec, Limit, LocalNodeState,
    NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec,
    TaskSpecContainerSpec, TaskSpecPlacement, TaskSpecPlacementPreferences,
    TaskSpecPlacementSpread, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::query_parameters::ListTasksOptionsBuilder;

use crate::deploy::Desired;
use crate::local::{Probe, probe};

/// For each target port of a task, every host port it is published at.
type PublishedPorts = HashMap<u16, Vec<u16>>;

pub struct SwarmEngine<'a> {
    docker: Docker,
    runtime: tokio::runtime::Runtime,
    environment: String,
    lookup: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// The networks this engine made sure of: see [`crate::docker::ensure_network`].
    networks: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl<'a> SwarmEngine<'a> {
    /// Connects to the Engine of the Docker `context` (or the local one), which must be
    /// a manager of an active swarm.
    pub fn connect(
        environment: &str,
        lookup: &'a (dyn Fn(&str) -> Option<String> + Sync),
        context: Option<&str>,
    ) -> Result<SwarmEngine<'a>, String> {
        let (docker, runtime) = crate::docker::client(context, lookup)?;
        let info = runtime
            .block_on(docker.info())
            .map_err(|e| format!("cannot reach the Docker Engine: {e}"))?;
        let state = info.swarm.and_then(|s| s.local_node_state);
        if state != Some(LocalNodeState::ACTIVE) {
            return Err(
                "Swarm mode is not active on this Docker Engine: run `docker swarm init` (svcmodel never changes the Engine's mode)"
                    .to_string(),
            );
        }
        Ok(SwarmEngine {
            docker,
            runtime,
            environment: environment.to_string(),
            lookup,
            networks: Default::default(),
        })
    }

    fn service_name(&self, service: &str) -> String {
        format!("svcmodel-{}-{service}", self.environment)
    }

    fn ensure_network(&self, name: &str) -> Result<(), String> {
        crate::docker::ensure_network(
            &self.docker,
            &self.runtime,
            &self.networks,
            (name, &self.environment, "overlay"),
        )
    }

    /// The running tasks of a service, with the host ports each published.
    /// The running tasks of a service: each one's container, and for each target port
    /// every host port it is published at (an Engine may publish IPv4 and IPv6 at two
    /// different ports).
    fn running_tasks(&self, service_id: &str) -> Vec<(Option<String>, PublishedPorts)> {
        let filters = HashMap::from([
            ("service", vec![service_id.to_string()]),
            ("desired-state", vec!["running".to_string()]),
        ]);
        let options = ListTasksOptionsBuilder::default().filters(&filters).build();
        let Ok(tasks) = self.runtime.block_on(self.docker.list_tasks(Some(options))) else {
            return Vec::new();
        };
        tasks
            .into_iter()
            .filter_map(|task| {
                let status = task.status?;
                if status.state != Some(TaskState::RUNNING) {
                    return None;
                }
                let container = status.container_status.and_then(|c| c.container_id);
                let mut ports: HashMap<u16, Vec<u16>> = HashMap::new();
                for p in status.port_status.and_then(|p| p.ports).unwrap_or_default() {
                    if let (Some(target), Some(published)) = (p.target_port, p.published_port) {
                        ports
                            .entry(target as u16)
                            .or_default()
                            .push(published as u16);
                    }
                }
                Some((container, ports))
            })
            .collect()
    }

    fn check_tasks(&self, service_id: &str, spec: &serde_json::Value) -> Result<(), String> {
        let spec: crate::spec::ContainerSpec = crate::spec::read(spec)?;
        let tasks = self.running_tasks(service_id);
        let wanted = spec.replicas as usize;
        if tasks.len() < wanted {
            return Err(format!("{} of {wanted} replicas run", tasks.len()));
        }
        let Some(health) = spec.health else {
            return Ok(());
        };
        let timeout = Duration::from_secs(health.timeout_seconds);
        let port = health.port;
        for (container, ports) in &tasks {
            match health.kind.as_str() {
                kind @ ("tcp" | "http") => {
                    let Some(host_ports) = port.and_then(|p| ports.get(&p)) else {
                        return Err("a replica's port is not published yet".to_string());
                    };
                    // Healthy when one of its published ports answers on this machine.
                    let mut last = Ok(());
                    for host_port in host_ports {
                        let p = if kind == "tcp" {
                            Probe::Tcp { port: *host_port }
                        } else {
                            Probe::Http {
                                port: *host_port,
                                path: health.path.clone().unwrap_or_else(|| "/".to_string()),
                                headers: health.headers.clone().into_iter().collect(),
                            }
                        };
                        last = probe(&p, timeout);
                        if last.is_ok() {
                            break;
                        }
                    }
                    last?;
                }
                _ => {
                    let Some(container) = container else {
                        return Err("a replica has no container yet".to_string());
                    };
                    let info = self
                        .runtime
                        .block_on(self.docker.inspect_container(
                            container,
                            None::<bollard::query_parameters::InspectContainerOptions>,
                        ))
                        .map_err(|e| e.to_string())?;
                    let status = info
                        .state
                        .and_then(|s| s.health)
                        .and_then(|h| h.status)
                        .map(|s| s.to_string());
                    if status.as_deref() != Some("healthy") {
                        return Err(format!(
                            "Docker reports a replica {}",
                            status.as_deref().unwrap_or("without health yet")
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn service_id(engine_id: &str) -> Option<&str> {
        engine_id.strip_prefix("swarm:")
    }

    /// Removes a service and waits for its tasks to end; one that is gone already
    /// counts as removed.
    fn remove(&self, name_or_id: &str) -> Result<(), String> {
        match self
            .runtime
            .block_on(self.docker.delete_service(name_or_id))
        {
            Ok(_)
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(format!("cannot remove the service `{name_or_id}`: {e}")),
        }
        // Its tasks' containers go after the service: wait, so its ports are free.
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.running_tasks(name_or_id).is_empty() {
            if Instant::now() >= deadline {
                return Err(format!(
                    "the tasks of the service `{name_or_id}` still run 15 s after it was removed"
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }
}

impl crate::deploy::Engine for SwarmEngine<'_> {
    fn start(
        &self,
        desired: &Desired,
        mark: &crate::deploy::Mark,
    ) -> Result<String, crate::deploy::EngineError> {
        let spec: crate::spec::ContainerSpec = crate::spec::read(&desired.spec)?;
        let Some(image) = spec.image.clone() else {
            return Err(format!("`{}` has no image to run", desired.name).into());
        };
        if self
            .runtime
            .block_on(self.docker.inspect_image(&image))
            .is_err()
        {
            return Err(format!(
                "the image `{image}` is not on this machine: build or load it first (svcmodel never pulls)"
            ).into());
        }
        let network = spec.network.clone();
        self.ensure_network(&network)?;
        let name = self.service_name(&desired.name);
        if let Ok(existing) = self.runtime.block_on(self.docker.inspect_service(
            &name,
            None::<bollard::query_parameters::InspectServiceOptions>,
        )) {
            let labels = existing.spec.as_ref().and_then(|s| s.labels.as_ref());
            if !crate::docker::same_lineage(labels, mark) {
                return Err(format!(
                    "a service named `{name}` exists and this state did not create it: remove or rename it, or deploy from the checkout that owns it"
                ).into());
            }
            self.remove(&name)?;
        }
        let crate::docker::ContainerParts {
            entrypoint,
            args,
            env,
            labels,
            ports,
            healthcheck: health_check,
        } = crate::docker::container_parts(&spec, self.lookup)?;
        let ports: Vec<EndpointPortConfig> = ports
            .into_iter()
            .map(|port| EndpointPortConfig {
                target_port: Some(i64::from(port)),
                published_port: None,
                publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
                ..Default::default()
            })
            .collect();
        let condition = match spec.restart.as_str() {
            "always" => TaskSpecRestartPolicyConditionEnum::ANY,
            "never" => TaskSpecRestartPolicyConditionEnum::NONE,
            _ => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
        };
        let preferences: Vec<TaskSpecPlacementPreferences> = spec
            .spread
            .iter()
            .map(|descriptor| TaskSpecPlacementPreferences {
                spread: Some(TaskSpecPlacementSpread {
                    spread_descriptor: Some(descriptor.to_string()),
                }),
            })
            .collect();
        let amount = |m: Option<u64>| m.and_then(|m| i64::try_from(m).ok());
        let limit = Limit {
            nano_cpus: amount(spec.cpu_limit()).map(|m| m * 1_000_000),
            memory_bytes: amount(spec.memory_limit()),
            pids: None,
        };
        let reservation = bollard::models::ResourceObject {
            nano_cpus: amount(spec.millicpu.or(spec.cpu_limit())).map(|m| m * 1_000_000),
            memory_bytes: amount(spec.memory_bytes.or(spec.memory_limit())),
            generic_resources: None,
        };
        let mut service_labels = labels.clone();
        service_labels.insert(crate::docker::MARK_LABEL.to_string(), mark.encode());
        let service = ServiceSpec {
            name: Some(name.clone()),
            labels: Some(service_labels),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image),
                    // Swarm's `command` replaces the image's entrypoint.
                    command: (!entrypoint.is_empty()).then_some(entrypoint),
                    args: Some(args),
                    user: spec.user.clone(),
                    capability_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
                    env: Some(env),
                    labels: Some(labels),
                    init: Some(true),
                    health_check,
                    // As the rendered file: a read-only root, a scratch /tmp, the data
                    // volume at its path.
                    read_only: Some(spec.read_only),
                    mounts: Some(swarm_mounts(&spec)),
                    privileges: Some(bollard::models::TaskSpecContainerSpecPrivileges {
                        no_new_privileges: Some(
                            spec.security_opt
                                .iter()
                                .any(|x| x == "no-new-privileges:true"),
                        ),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                resources: Some(TaskSpecResources {
                    limits: Some(limit.clone()),
                    // As the rendered file: the requests are reservations, so the
                    // scheduler only places a replica where its requests fit.
                    reservations: Some(reservation),
                    swap_bytes: None,
                    memory_swappiness: None,
                }),
                restart_policy: Some(TaskSpecRestartPolicy {
                    condition: Some(condition),
                    ..Default::default()
                }),
                placement: Some(TaskSpecPlacement {
                    preferences: Some(preferences),
                    constraints: Some(spec.constraints.clone()),
                    ..Default::default()
                }),
                networks: Some(vec![NetworkAttachmentConfig {
                    target: Some(network),
                    aliases: Some(
                        std::iter::once(desired.name.clone())
                            .chain(spec.aliases.iter().cloned())
                            .collect(),
                    ),
                    driver_opts: None,
                }]),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    replicas: Some(spec.replicas as i64),
                }),
                ..Default::default()
            }),
            endpoint_spec: Some(EndpointSpec {
                mode: None,
                ports: Some(ports),
            }),
            ..Default::default()
        };
        let created = self
            .runtime
            .block_on(self.docker.create_service(service, None))
            .map_err(|e| format!("cannot create the service `{name}`: {e}"))?;
        let id = created.id.unwrap_or(name);
        Ok(format!("swarm:{id}"))
    }

    fn start_operations(&self, desired: &Desired) -> Vec<crate::deploy::Operation> {
        use crate::deploy::Operation;
        let Ok(spec) = crate::spec::read::<crate::spec::ContainerSpec>(&desired.spec) else {
            return vec![Operation::new("create service", desired.name.clone())];
        };
        let mut operations = Vec::new();
        let known = self
            .networks
            .lock()
            .is_ok_and(|ensured| ensured.contains(&spec.network));
        let missing = crate::docker::networks_named(&self.docker, &self.runtime, &spec.network)
            .is_ok_and(|n| n.is_empty());
        if !known && missing {
            operations.push(Operation::new(
                "create network",
                format!("{} (overlay)", spec.network),
            ));
        }
        let name = self.service_name(&desired.name);
        let left = self
            .runtime
            .block_on(self.docker.inspect_service(
                &name,
                None::<bollard::query_parameters::InspectServiceOptions>,
            ))
            .is_ok();
        if left {
            operations.push(Operation::new("remove service", name.clone()));
        }
        operations.push(Operation::new(
            "create service",
            format!(
                "{name} (image {}, {} replicas, network {})",
                spec.image.as_deref().unwrap_or("(none)"),
                spec.replicas,
                spec.network
            ),
        ));
        operations
    }

    fn stop_operations(&self, engine_id: &str) -> Vec<crate::deploy::Operation> {
        let id = Self::service_id(engine_id).unwrap_or(engine_id);
        let name = self
            .runtime
            .block_on(
                self.docker
                    .inspect_service(id, None::<bollard::query_parameters::InspectServiceOptions>),
            )
            .ok()
            .and_then(|service| service.spec.and_then(|s| s.name))
            .unwrap_or_else(|| id.chars().take(12).collect());
        vec![crate::deploy::Operation::new("remove service", name)]
    }

    fn release_operations(&self) -> Vec<crate::deploy::Operation> {
        vec![crate::deploy::Operation::new(
            "remove network",
            format!("svcmodel-{} (once nothing is attached)", self.environment),
        )]
    }

    fn stop(&self, engine_id: &str) -> Result<(), crate::deploy::EngineError> {
        match Self::service_id(engine_id) {
            Some(id) => self.remove(id).map_err(Into::into),
            None => Err(format!("`{engine_id}` is not a Swarm service").into()),
        }
    }

    fn find_marked(&self, project: &str, environment: &str) -> Vec<crate::deploy::Marked> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{}={environment}", crate::docker::ENVIRONMENT_LABEL),
                crate::docker::MARK_LABEL.to_string(),
            ],
        )]);
        let options = bollard::query_parameters::ListServicesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let Ok(services) = self
            .runtime
            .block_on(self.docker.list_services(Some(options)))
        else {
            return Vec::new();
        };
        services
            .into_iter()
            .filter_map(|service| {
                let labels = service.spec.as_ref()?.labels.as_ref()?;
                let mark = crate::deploy::Mark::decode(labels.get(crate::docker::MARK_LABEL)?)?;
                (mark.project == project && mark.environment == environment).then(|| {
                    crate::deploy::Marked {
                        engine_id: format!("swarm:{}", service.id.unwrap_or_default()),
                        mark,
                    }
                })
            })
            .collect()
    }

    fn release(&self) -> Result<(), crate::deploy::EngineError> {
        (crate::docker::release_network(
            &self.docker,
            &self.runtime,
            &format!("svcmodel-{}", self.environment),
            &self.environment,
        ))
        .map_err(Into::into)
    }

    fn alive(&self, engine_id: &str) -> bool {
        Self::service_id(engine_id).is_some_and(|id| !self.running_tasks(id).is_empty())
    }

    fn wait_healthy(
        &self,
        engine_id: &str,
        spec: &serde_json::Value,
        deadline: Duration,
    ) -> Result<(), crate::deploy::EngineError> {
        let Some(id) = Self::service_id(engine_id) else {
            return Err(format!("`{engine_id}` is not a Swarm service").into());
        };
        (crate::deploy::poll_healthy(
            deadline,
            Duration::from_millis(250),
            || self.check_tasks(id, spec),
            |_| false,
        ))
        .map_err(crate::deploy::EngineError::unhealthy)
    }

    fn check(
        &self,
        engine_id: &str,
        spec: &serde_json::Value,
    ) -> Result<(), crate::deploy::EngineError> {
        let Some(id) = Self::service_id(engine_id) else {
            return Err(format!("`{engine_id}` is not a Swarm service").into());
        };
        self.check_tasks(id, spec)
            .map_err(crate::deploy::EngineError::unhealthy)
    }

    /// Per replica, as the model declares resources: the most memory any running
    /// task's container uses, and the CPU seconds they used on average. Only the
    /// tasks on this machine's node can be read; none there gives no figure.
    fn usage(&self, engine_id: &str) -> Option<crate::deploy::Usage> {
        let id = Self::service_id(engine_id)?;
        let samples: Vec<crate::deploy::Usage> = self
            .running_tasks(id)
            .into_iter()
            .filter_map(|(container, _)| {
                crate::docker::container_usage(&self.docker, &self.runtime, &container?)
            })
            .collect();
        crate::deploy::Usage::of_replicas(&samples)
    }

    /// Each running task's node, read through its `svcmodel.KIND` labels.
    fn domains(&self, engine_id: &str) -> Option<Vec<BTreeMap<String, String>>> {
        let id = Self::service_id(engine_id)?;
        let filters = HashMap::from([
            ("service", vec![id.to_string()]),
            ("desired-state", vec!["running".to_string()]),
        ]);
        let options = ListTasksOptionsBuilder::default().filters(&filters).build();
        let tasks = self
            .runtime
            .block_on(self.docker.list_tasks(Some(options)))
            .ok()?;
        let mut out = Vec::new();
        for task in tasks {
            let running = task
                .status
                .as_ref()
                .is_some_and(|s| s.state == Some(TaskState::RUNNING));
            let Some(node) = task.node_id.filter(|_| running) else {
                continue;
            };
            let labels = self
                .runtime
                .block_on(self.docker.inspect_node(&node))
                .ok()
                .and_then(|n| n.spec)
                .and_then(|s| s.labels)
                .unwrap_or_default();
            out.push(
                labels
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.strip_prefix("svcmodel.")?.to_string(), v)))
                    .collect(),
            );
        }
        Some(out)
    }
}

/// The mounts of a Swarm task: the spec's volumes, and a tmpfs for each of its
/// `tmpfs` paths.
fn swarm_mounts(spec: &crate::spec::ContainerSpec) -> Vec<bollard::models::Mount> {
    use bollard::models::{Mount, MountType};
    let volumes = spec.volumes.iter().map(|v| Mount {
        typ: Some(MountType::VOLUME),
        source: Some(v.source.clone()),
        target: Some(v.target.clone()),
        ..Default::default()
    });
    let tmpfs = spec.tmpfs_mounts().into_iter().map(|(target, size)| Mount {
        typ: Some(MountType::TMPFS),
        target: Some(target),
        tmpfs_options: size.map(|size| bollard::models::MountTmpfsOptions {
            size_bytes: i64::try_from(size).ok(),
            ..Default::default()
        }),
        ..Default::default()
    });
    volumes.chain(tmpfs).collect()
}
