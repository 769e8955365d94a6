//! The Kubernetes engine: the manifests of the `kubernetes` target, applied to the
//! cluster of the user's kubeconfig through its API (kube).
//!
//! - Every object is applied with server-side apply under one field manager,
//!   `svcmodel`, with `force`: svcmodel owns the fields it writes, and fields other
//!   managers own (an autoscaler's replicas, say) are left to them.
//! - A service's engine id is its inventory: the namespace, the instance and every
//!   object applied for it. Deletes and prunes touch exactly what an inventory holds,
//!   never an object found by a label or a name alone.
//! - Secrets are read from the deploying machine's variables at apply time and
//!   written to the Secret `INSTANCE-secrets`; the state and the plan hold only the
//!   variable's name.
//! - Health is the workload's rollout: the Deployment (or StatefulSet) has seen its
//!   latest generation and all its replicas are updated, ready and available. A pod
//!   that can never start (image not found, bad configuration, crash loop) fails the
//!   wait at once.
//! - The namespace is applied before each service and never deleted: other things may
//!   live in it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};

use crate::deploy::Desired;
use svcmodel_targets::RenderedFile;
use svcmodel_targets::view::ServiceView;

/// The field manager of every apply: the same on every run, so svcmodel keeps owning
/// the fields it set before.
pub const FIELD_MANAGER: &str = "svcmodel";

/// Waiting reasons of a container that will not get better by waiting.
const HOPELESS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "CrashLoopBackOff",
];

/// The mark on a health failure that waiting cannot cure.
const CANNOT_START: &str = "cannot start: ";

/// One object applied for a service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

/// What svcmodel applied for one service: its engine id, written as
/// `NAMESPACE/INSTANCE;API_VERSION:KIND:NAME;...`. Names are DNS labels and kinds are
/// identifiers, so neither holds `;` or `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub namespace: String,
    pub instance: String,
    pub objects: Vec<ObjectRef>,
}

impl Inventory {
    pub fn encode(&self) -> String {
        let mut out = format!("{}/{}", self.namespace, self.instance);
        for o in &self.objects {
            out.push_str(&format!(";{}:{}:{}", o.api_version, o.kind, o.name));
        }
        out
    }

    pub fn decode(id: &str) -> Option<Inventory> {
        let mut parts = id.split(';');
        let (namespace, instance) = parts.next()?.split_once('/')?;
        let objects = parts
            .map(|p| {
                let mut fields = p.rsplitn(3, ':');
                let name = fields.next()?;
                let kind = fields.next()?;
                let api_version = fields.next()?;
                Some(ObjectRef {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                    name: name.to_string(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Inventory {
            namespace: namespace.to_string(),
            instance: instance.to_string(),
            objects,
        })
    }

    /// The Deployments or StatefulSet whose rollouts are the service's health: one,
    /// or one per variant.
    fn workloads(&self) -> impl Iterator<Item = &ObjectRef> {
        self.objects
            .iter()
            .filter(|o| o.kind == "Deployment" || o.kind == "StatefulSet")
    }

    fn workload(&self) -> Option<&ObjectRef> {
        self.workloads().next()
    }
}

/// Builds the desired services of a view rendered for the `kubernetes` target: the
/// fields plans compare (as for containers) and the objects to apply, parsed from the
/// rendered files.
pub fn desired(
    view: &[ServiceView],
    files: &[RenderedFile],
    waves: &[Vec<String>],
    environment: &str,
    namespace: &str,
) -> Result<Vec<Desired>, String> {
    let namespace_object = files
        .iter()
        .find(|f| f.path == "namespace.yaml")
        .map(objects_of)
        .transpose()?
        .and_then(|mut objects| objects.pop())
        .unwrap_or_else(|| {
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": { "name": namespace },
            })
        });
    let mut out = crate::docker::desired(view, waves, environment);
    for (d, s) in out.iter_mut().zip(view) {
        let path = format!("{}/manifest.yaml", s.name);
        let Some(file) = files.iter().find(|f| f.path == path) else {
            return Err(format!("the kubernetes target rendered no `{path}`"));
        };
        let objects = objects_of(file)?;
        let secret = s.secrets.first().map(|first| {
            serde_json::json!({
                "name": first.object,
                "keys": s.secrets.iter().map(|x| (x.param.clone(), x.host_variable.clone())).collect::<BTreeMap<_, _>>(),
            })
        });
        if let Some(map) = d.spec.as_object_mut() {
            map.remove("network");
            map.remove("spread");
            map.insert("namespace".to_string(), namespace.into());
            map.insert("namespace_object".to_string(), namespace_object.clone());
            map.insert("objects".to_string(), serde_json::Value::Array(objects));
            map.insert("secret".to_string(), secret.unwrap_or_default());
        }
    }
    Ok(out)
}

/// The YAML documents of a rendered file, as JSON objects.
fn objects_of(file: &RenderedFile) -> Result<Vec<serde_json::Value>, String> {
    let docs = yaml_rust2::YamlLoader::load_from_str(&file.contents)
        .map_err(|e| format!("`{}` is not YAML: {e}", file.path))?;
    Ok(docs.iter().map(json_of).filter(|v| v.is_object()).collect())
}

fn json_of(yaml: &yaml_rust2::Yaml) -> serde_json::Value {
    use yaml_rust2::Yaml;
    match yaml {
        Yaml::String(s) => s.clone().into(),
        Yaml::Integer(i) => (*i).into(),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| r.clone().into(), serde_json::Value::Number),
        Yaml::Boolean(b) => (*b).into(),
        Yaml::Array(items) => items.iter().map(json_of).collect(),
        Yaml::Hash(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => json_of(other).to_string(),
                    };
                    (key, json_of(v))
                })
                .collect(),
        ),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => serde_json::Value::Null,
    }
}

/// The identity of an object to apply.
impl ObjectRef {
    /// `Kind namespace/name`, as `plan --operations` and the audit log name it.
    fn shown(&self, namespace: &str) -> String {
        format!("{} {namespace}/{}", self.kind, self.name)
    }
}

fn object_ref(object: &serde_json::Value) -> Result<ObjectRef, String> {
    let field = |value: &serde_json::Value, what: &str| {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("a rendered object has no {what}"))
    };
    Ok(ObjectRef {
        api_version: field(&object["apiVersion"], "apiVersion")?,
        kind: field(&object["kind"], "kind")?,
        name: field(&object["metadata"]["name"], "metadata.name")?,
    })
}

/// The Secret of a service, from the deploying machine's variables (`lookup`): built
/// at apply time, never recorded.
pub fn secret_object(
    namespace: &str,
    instance: &str,
    spec: &serde_json::Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<serde_json::Value>, String> {
    let Some(name) = spec["secret"]["name"].as_str() else {
        return Ok(None);
    };
    let mut data = BTreeMap::new();
    for (param, variable) in spec["secret"]["keys"].as_object().into_iter().flatten() {
        let variable = variable.as_str().unwrap_or_default();
        let value = crate::spec::SpecValue::Parts {
            parts: vec![crate::spec::SpecPart::Secret {
                secret: param.clone(),
                from: variable.to_string(),
            }],
        }
        .resolve(lookup)?;
        data.insert(param.clone(), ByteString(value.into_bytes()));
    }
    let secret = k8s_openapi::api::core::v1::Secret {
        metadata: kube::core::ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([
                (
                    "app.kubernetes.io/instance".to_string(),
                    instance.to_string(),
                ),
                (
                    "app.kubernetes.io/managed-by".to_string(),
                    "svcmodel".to_string(),
                ),
            ])),
            ..Default::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(data),
        ..Default::default()
    };
    let mut value = serde_json::to_value(secret).map_err(|e| e.to_string())?;
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".to_string(), "v1".into());
        map.insert("kind".to_string(), "Secret".into());
    }
    Ok(Some(value))
}

pub struct KubernetesEngine<'a> {
    client: kube::Client,
    runtime: tokio::runtime::Runtime,
    lookup: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// What the API server said of each (apiVersion, kind): asked once per run.
    kinds: Mutex<BTreeMap<(String, String), (ApiResource, ApiCapabilities)>>,
}

impl<'a> KubernetesEngine<'a> {
    /// Connects to the cluster of the current kubeconfig context (`KUBECONFIG`, then
    /// `~/.kube/config`, then the in-cluster service account) and checks that its API
    /// answers.
    /// Connects through the kubeconfig `context` names, or through the current
    /// context (`KUBECONFIG`, else `~/.kube/config`, else the pod's service account).
    pub fn connect(
        lookup: &'a (dyn Fn(&str) -> Option<String> + Sync),
        context: Option<&str>,
    ) -> Result<KubernetesEngine<'a>, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the Kubernetes client: {e}"))?;
        let client = runtime.block_on(async {
            let config = match context {
                Some(context) => {
                    let options = kube::config::KubeConfigOptions {
                        context: Some(context.to_string()),
                        ..Default::default()
                    };
                    kube::Config::from_kubeconfig(&options).await.map_err(|e| {
                        format!("cannot use the kubeconfig context `{context}`: {e}")
                    })?
                }
                None => kube::Config::infer().await.map_err(|e| {
                    format!("no Kubernetes cluster is configured (set KUBECONFIG or write ~/.kube/config): {e}")
                })?,
            };
            let url = config.cluster_url.clone();
            let client = kube::Client::try_from(config)
                .map_err(|e| format!("cannot set up a client for `{url}`: {e}"))?;
            match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await
            {
                Ok(Ok(_)) => Ok(client),
                Ok(Err(e)) => Err(format!("the Kubernetes API at `{url}` does not answer: {e}")),
                Err(_) => Err(format!(
                    "the Kubernetes API at `{url}` did not answer within 10s"
                )),
            }
        })?;
        Ok(KubernetesEngine {
            client,
            runtime,
            lookup,
            kinds: Mutex::new(BTreeMap::new()),
        })
    }

    /// Runs an API call, retrying what may be transient (a broken connection, 429,
    /// 500, 502, 503, 504) up to three times with backoff from 250 ms.
    fn call<T, Fut>(&self, request: impl Fn() -> Fut) -> Result<T, kube::Error>
    where
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        crate::deploy::retry(Duration::from_millis(250), transient, || {
            self.runtime.block_on(request())
        })
    }

    /// The API of one kind of object in `namespace`, as the server describes it.
    fn api(
        &self,
        namespace: &str,
        api_version: &str,
        kind: &str,
    ) -> Result<Api<DynamicObject>, String> {
        let key = (api_version.to_string(), kind.to_string());
        let known = self.kinds.lock().ok().and_then(|k| k.get(&key).cloned());
        let (resource, capabilities) = match known {
            Some(found) => found,
            None => {
                let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
                let gvk = GroupVersionKind::gvk(group, version, kind);
                let found = self
                    .call(|| kube::discovery::pinned_kind(&self.client, &gvk))
                    .map_err(|e| {
                        format!("the cluster does not serve `{api_version}` `{kind}`: {e}")
                    })?;
                if let Ok(mut kinds) = self.kinds.lock() {
                    kinds.insert(key, found.clone());
                }
                found
            }
        };
        Ok(match capabilities.scope {
            Scope::Namespaced => Api::namespaced_with(self.client.clone(), namespace, &resource),
            Scope::Cluster => Api::all_with(self.client.clone(), &resource),
        })
    }

    /// Server-side apply of one object.
    fn apply(&self, namespace: &str, object: &serde_json::Value) -> Result<ObjectRef, String> {
        let id = object_ref(object)?;
        let api = self.api(namespace, &id.api_version, &id.kind)?;
        let object: DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| format!("`{}` `{}` is not an object: {e}", id.kind, id.name))?;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let patch = Patch::Apply(&object);
        self.call(|| api.patch(&id.name, &params, &patch))
            .map_err(|e| format!("cannot apply {} `{}`: {}", id.kind, id.name, reason(&e)))?;
        Ok(id)
    }

    fn delete(&self, namespace: &str, object: &ObjectRef) -> Result<(), String> {
        let api = self.api(namespace, &object.api_version, &object.kind)?;
        // Gone already is what a delete wants; other errors leave the object to the
        // next run, which still has it in its inventory.
        let params = DeleteParams::background();
        match self.call(|| api.delete(&object.name, &params)) {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(format!(
                "cannot delete {} `{}`: {}",
                object.kind,
                object.name,
                reason(&e)
            )),
        }
    }

    /// The workloads' rollouts, once: settled when every one is.
    fn rollout(&self, inventory: &Inventory) -> Result<(), String> {
        for workload in inventory.workloads() {
            self.rollout_of(inventory, workload)?;
        }
        Ok(())
    }

    fn rollout_of(&self, inventory: &Inventory, workload: &ObjectRef) -> Result<(), String> {
        let api = self.api(&inventory.namespace, &workload.api_version, &workload.kind)?;
        let object = self
            .call(|| api.get_opt(&workload.name))
            .map_err(|e| reason(&e))?
            .ok_or_else(|| format!("{} `{}` is gone", workload.kind, workload.name))?;
        let data = &object.data;
        let generation = object.metadata.generation.unwrap_or(0);
        let status = &data["status"];
        let count = |field: &str| status[field].as_i64().unwrap_or(0);
        let wanted = data["spec"]["replicas"].as_i64().unwrap_or(1);
        for condition in status["conditions"].as_array().into_iter().flatten() {
            if condition["reason"] == "ProgressDeadlineExceeded" {
                return Err(format!(
                    "{CANNOT_START}{} `{}` exceeded its progress deadline",
                    workload.kind, workload.name
                ));
            }
        }
        let settled = count("observedGeneration") >= generation
            && count("updatedReplicas") >= wanted
            && count("readyReplicas") >= wanted
            && count("replicas") == wanted
            && (workload.kind != "Deployment" || count("availableReplicas") >= wanted);
        if settled {
            return Ok(());
        }
        self.hopeless_pod(inventory)?;
        Err(format!(
            "{} of {wanted} replicas of `{}` ready",
            count("readyReplicas"),
            workload.name
        ))
    }

    /// A pod of the service that waits for something that will not come.
    fn hopeless_pod(&self, inventory: &Inventory) -> Result<(), String> {
        let pods: Api<DynamicObject> = self.api(&inventory.namespace, "v1", "Pod")?;
        let selector = format!("app.kubernetes.io/instance={}", inventory.instance);
        let params = ListParams::default().labels(&selector);
        let list = self.call(|| pods.list(&params)).map_err(|e| reason(&e))?;
        for pod in &list.items {
            let statuses = pod.data["status"]["containerStatuses"].as_array();
            for status in statuses.into_iter().flatten() {
                let waiting = &status["state"]["waiting"];
                let why = waiting["reason"].as_str().unwrap_or_default();
                if HOPELESS.contains(&why) {
                    return Err(format!(
                        "{CANNOT_START}pod `{}`: {why}: {}",
                        pod.metadata.name.as_deref().unwrap_or("?"),
                        waiting["message"].as_str().unwrap_or_default()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The failure domains a node's labels put it in, kind to name, by the labels
/// svcmodel renders node affinities with (`topology.kubernetes.io/zone`,
/// `svcmodel.io/cluster`, `svcmodel.io/rack`, `svcmodel.io/hypervisor`).
pub fn node_domains(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    svcmodel_model::FailureDomainKind::ALL
        .iter()
        .filter_map(|kind| {
            let value = labels.get(svcmodel_targets::view::node_label(*kind))?;
            Some((kind.as_str().to_string(), value.clone()))
        })
        .collect()
}

/// Whether an API error may pass by itself.
fn transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// An API error as a person reads it: the server's own message where there is one.
fn reason(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}

impl crate::deploy::Engine for KubernetesEngine<'_> {
    fn start(
        &self,
        desired: &Desired,
        _mark: &crate::deploy::Mark,
    ) -> Result<String, crate::deploy::EngineError> {
        let spec = &desired.spec;
        let namespace = spec["namespace"]
            .as_str()
            .ok_or_else(|| "the spec names no namespace".to_string())?;
        self.apply(namespace, &spec["namespace_object"])?;
        let mut inventory = Inventory {
            namespace: namespace.to_string(),
            instance: desired.name.clone(),
            objects: Vec::new(),
        };
        // The Secret first: pods that reference it cannot start without it.
        if let Some(secret) = secret_object(namespace, &desired.name, spec, self.lookup)? {
            inventory.objects.push(self.apply(namespace, &secret)?);
        }
        for object in spec["objects"].as_array().into_iter().flatten() {
            inventory.objects.push(self.apply(namespace, object)?);
        }
        Ok(inventory.encode())
    }

    fn start_operations(&self, desired: &Desired) -> Vec<crate::deploy::Operation> {
        use crate::deploy::Operation;
        let spec = &desired.spec;
        let namespace = spec["namespace"].as_str().unwrap_or_default();
        let mut operations = vec![Operation::new("apply", format!("Namespace {namespace}"))];
        if let Some(name) = spec["secret"]["name"].as_str() {
            operations.push(Operation::new(
                "apply",
                format!("Secret {namespace}/{name}"),
            ));
        }
        for object in spec["objects"].as_array().into_iter().flatten() {
            if let Ok(id) = object_ref(object) {
                operations.push(Operation::new("apply", id.shown(namespace)));
            }
        }
        operations
    }

    fn stop_operations(&self, engine_id: &str) -> Vec<crate::deploy::Operation> {
        let Some(inventory) = Inventory::decode(engine_id) else {
            return vec![crate::deploy::Operation::new("delete", engine_id)];
        };
        inventory
            .objects
            .iter()
            .rev()
            .map(|o| crate::deploy::Operation::new("delete", o.shown(&inventory.namespace)))
            .collect()
    }

    fn stop(&self, engine_id: &str) -> Result<(), crate::deploy::EngineError> {
        let Some(inventory) = Inventory::decode(engine_id) else {
            return Err(format!("`{engine_id}` is not an inventory").into());
        };
        crate::deploy::try_each(inventory.objects.iter().rev(), |object| {
            self.delete(&inventory.namespace, object)
        })
        .map_err(Into::into)
    }

    fn alive(&self, engine_id: &str) -> bool {
        let Some(inventory) = Inventory::decode(engine_id) else {
            return false;
        };
        if inventory.workload().is_none() {
            return true;
        }
        // Alive while every workload (one, or one per variant) is.
        inventory.workloads().all(|workload| {
            let Ok(api) = self.api(&inventory.namespace, &workload.api_version, &workload.kind)
            else {
                // Unknown is not gone: `check` says what is wrong.
                return true;
            };
            match self.call(|| api.get_opt(&workload.name)) {
                Ok(found) => found.is_some_and(|w| w.data["spec"]["replicas"].as_i64() != Some(0)),
                Err(_) => true,
            }
        })
    }

    fn wait_healthy(
        &self,
        engine_id: &str,
        _spec: &serde_json::Value,
        deadline: Duration,
    ) -> Result<(), crate::deploy::EngineError> {
        let inventory = Inventory::decode(engine_id)
            .ok_or_else(|| format!("`{engine_id}` is not an inventory"))?;
        (crate::deploy::poll_healthy(
            deadline,
            Duration::from_secs(1),
            || self.rollout(&inventory),
            |why| why.starts_with(CANNOT_START),
        ))
        .map_err(crate::deploy::EngineError::unhealthy)
    }

    fn check(
        &self,
        engine_id: &str,
        _spec: &serde_json::Value,
    ) -> Result<(), crate::deploy::EngineError> {
        let inventory = Inventory::decode(engine_id)
            .ok_or_else(|| format!("`{engine_id}` is not an inventory"))?;
        self.rollout(&inventory)
            .map_err(crate::deploy::EngineError::unhealthy)
    }

    /// Pod metrics give a rate, not the CPU seconds used: no advice on Kubernetes yet.
    fn usage(&self, _engine_id: &str) -> Option<crate::deploy::Usage> {
        None
    }

    fn in_place(&self) -> bool {
        true
    }

    /// The domains of the nodes the service's running pods are on.
    fn domains(&self, engine_id: &str) -> Option<Vec<BTreeMap<String, String>>> {
        let inventory = Inventory::decode(engine_id)?;
        let pods = self.api(&inventory.namespace, "v1", "Pod").ok()?;
        let nodes = self.api(&inventory.namespace, "v1", "Node").ok()?;
        let selector = format!("app.kubernetes.io/instance={}", inventory.instance);
        let params = ListParams::default().labels(&selector);
        let list = self.call(|| pods.list(&params)).ok()?;
        let mut seen: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut out = Vec::new();
        for pod in &list.items {
            let running = pod.data["status"]["phase"] == "Running"
                && pod.metadata.deletion_timestamp.is_none();
            let Some(node) = pod.data["spec"]["nodeName"].as_str().filter(|_| running) else {
                continue;
            };
            if !seen.contains_key(node) {
                let labels = self
                    .call(|| nodes.get_opt(node))
                    .ok()?
                    .and_then(|n| n.metadata.labels)
                    .unwrap_or_default();
                seen.insert(node.to_string(), node_domains(&labels));
            }
            out.extend(seen.get(node).cloned());
        }
        Some(out)
    }

    fn prune(&self, old: &str, new: &str) {
        let (Some(old), Some(new)) = (Inventory::decode(old), Inventory::decode(new)) else {
            return;
        };
        for object in old.objects.iter().rev() {
            if old.namespace != new.namespace || !new.objects.contains(object) {
                // A failed prune leaves an object no inventory lists any more; the
                // rollout it belonged to is healthy, so it is not worth failing over.
                let _ = self.delete(&old.namespace, object);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_in_the_domains_its_labels_name() {
        let labels: BTreeMap<String, String> = [
            ("topology.kubernetes.io/zone", "eu-central-1a"),
            ("svcmodel.io/hypervisor", "fra-hv02"),
            ("kubernetes.io/hostname", "node-7"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let domains = node_domains(&labels);
        assert_eq!(
            domains,
            BTreeMap::from([
                ("hypervisor".to_string(), "fra-hv02".to_string()),
                ("zone".to_string(), "eu-central-1a".to_string()),
            ])
        );
    }

    #[test]
    fn inventories_round_trip() {
        let inventory = Inventory {
            namespace: "prod".to_string(),
            instance: "orders".to_string(),
            objects: vec![
                ObjectRef {
                    api_version: "v1".to_string(),
                    kind: "Secret".to_string(),
                    name: "orders-secrets".to_string(),
                },
                ObjectRef {
                    api_version: "apps/v1".to_string(),
                    kind: "Deployment".to_string(),
                    name: "orders".to_string(),
                },
            ],
        };
        let id = inventory.encode();
        assert_eq!(
            id,
            "prod/orders;v1:Secret:orders-secrets;apps/v1:Deployment:orders"
        );
        assert_eq!(Inventory::decode(&id), Some(inventory.clone()));
        assert_eq!(
            inventory.workload().map(|w| w.name.as_str()),
            Some("orders")
        );
        assert_eq!(Inventory::decode("no-slash"), None);
        assert_eq!(Inventory::decode("ns/x;broken"), None);

        // A service run as variants has a workload per variant, each waited for.
        let variants = Inventory::decode(
            "prod/reviews;v1:Service:reviews;apps/v1:Deployment:reviews-v1;apps/v1:Deployment:reviews-v2",
        )
        .expect("an inventory of variants decodes");
        let names: Vec<&str> = variants.workloads().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["reviews-v1", "reviews-v2"]);
    }

    #[test]
    fn yaml_becomes_the_json_the_api_takes() {
        let file = RenderedFile {
            path: "x/manifest.yaml".to_string(),
            contents: "# c\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: 80\n      name: \"8080\"\n      weight: 0.5\n      on: true\n---\n".to_string(),
            mode: 0o644,
        };
        let objects = objects_of(&file).expect("parses");
        assert_eq!(
            objects,
            vec![serde_json::json!({
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                "spec": {"ports": [{"port": 80, "name": "8080", "weight": 0.5, "on": true}]}
            })]
        );
        assert_eq!(
            object_ref(&objects[0]).map(|r| r.kind),
            Ok("Service".to_string())
        );
        assert!(object_ref(&serde_json::json!({"kind": "Service"})).is_err());
    }
}
