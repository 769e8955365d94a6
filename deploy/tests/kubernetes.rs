//! What the Kubernetes engine applies, built from a model without a cluster: the
//! rendered objects of each service, its workload, the Secret built from the deploying
//! machine's variables, and no secret value anywhere in what is recorded.
//!
//! Applying them needs a cluster, which this machine does not have: the engine's API
//! calls are untested here (docs/deploy.md).

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use svcmodel_compiler::load::MemoryLoader;
use svcmodel_compiler::{SystemRequest, compile_system};
use svcmodel_deploy::{deploy, kubernetes};
use svcmodel_targets::view::Input;
use svcmodel_targets::{builtin, render};

const MODEL: &str = r#"
environment "prod" {
  target = "kubernetes"
}

service "cache" {
  version = "7.2.4"
  image   = "redis:7.2.4"
  provides "redis" { port = 6379, protocol = "tcp" }
  data { classification = "internal", size = 256Mi, path = "/data" }
}

service "api" {
  version = "1.0.0"
  image   = "shop/api:1.0.0"
  param "token" {
    type = secret
  }
  param "greeting" {
    type    = string
    default = "hello"
  }
  config {
    env "TOKEN"    = param.token
    env "GREETING" = param.greeting
    env "CACHE"    = "${cache.redis.host}"
  }
  provides "http" { port = 8080, protocol = "http" }
  requires "cache" {}
  health {
    http = "http"
    path = "/healthz"
  }
}
"#;

const CANARY: &str = "canary-7c1f0e9a";

fn desired(sets: &[&str]) -> Vec<deploy::Desired> {
    let path = PathBuf::from("/project/main.svc");
    let loader = MemoryLoader::new().with_file(&path, MODEL.to_string());
    let compilation = compile_system(
        &loader,
        &SystemRequest {
            entries: vec![path],
            root: PathBuf::from("/project"),
            display_base: PathBuf::from("/project"),
            sets: sets.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
    );
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    let system = &compilation.resolution.as_ref().unwrap().systems[0];
    let target = builtin::built_in("kubernetes").unwrap();
    let input = Input {
        model: &compilation.model,
        system,
        file_dirs: &[],
        root_dir: "",
        template_files: &Default::default(),
        only: &[],
        placed: None,
    };
    let rendered = render(&input, &target);
    assert!(!rendered.has_errors(), "{:?}", rendered.problems);
    let mut problems = Vec::new();
    let view = svcmodel_targets::view::build(&input, &target.manifest, &mut problems);
    let waves = deploy::wave_names(system);
    kubernetes::desired(&view.services, &rendered.files, &waves, "prod", "prod").unwrap()
}

fn kinds(d: &deploy::Desired) -> Vec<String> {
    d.spec["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn each_service_applies_its_rendered_objects_in_its_wave() {
    let desired = desired(&[]);
    let names: Vec<(&str, usize)> = desired.iter().map(|d| (d.name.as_str(), d.wave)).collect();
    assert_eq!(names, [("api", 1), ("cache", 0)]);
    let api = &desired[0];
    let cache = &desired[1];
    let api_kinds = kinds(api);
    assert!(
        api_kinds.contains(&"Deployment/api".to_string()),
        "{api_kinds:?}"
    );
    assert!(
        api_kinds.contains(&"Service/api".to_string()),
        "{api_kinds:?}"
    );
    assert!(
        api_kinds.contains(&"NetworkPolicy/api".to_string()),
        "{api_kinds:?}"
    );
    let cache_kinds = kinds(cache);
    assert!(
        cache_kinds.contains(&"StatefulSet/cache".to_string()),
        "{cache_kinds:?}"
    );
    for d in &desired {
        assert_eq!(d.spec["namespace"], "prod");
        assert_eq!(d.spec["namespace_object"]["kind"], "Namespace");
        assert_eq!(d.spec["namespace_object"]["metadata"]["name"], "prod");
        for object in d.spec["objects"].as_array().unwrap() {
            assert_eq!(object["metadata"]["namespace"], "prod", "{object}");
        }
    }
    // Ports are numbers and the replica count an integer, as the API wants them.
    let deployment = api.spec["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap();
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert!(
        deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
            .is_u64()
    );
}

#[test]
fn the_secret_is_built_at_apply_time_and_never_recorded() {
    let desired = desired(&[]);
    let api = &desired[0];
    assert_eq!(
        api.spec["secret"],
        serde_json::json!({ "name": "api-secrets", "keys": { "token": "SVCMODEL_SECRET_API_TOKEN" } })
    );
    let lookup =
        |variable: &str| (variable == "SVCMODEL_SECRET_API_TOKEN").then(|| CANARY.to_string());
    let secret = kubernetes::secret_object("prod", "api", &api.spec, &lookup)
        .unwrap()
        .unwrap();
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["metadata"]["name"], "api-secrets");
    assert_eq!(secret["metadata"]["namespace"], "prod");
    // base64 of the canary, as `data` holds it.
    assert_eq!(secret["data"]["token"], "Y2FuYXJ5LTdjMWYwZTlh");
    for d in &desired {
        assert!(!d.spec.to_string().contains(CANARY));
    }
    assert!(!format!("{desired:?}").contains(CANARY));

    let unset = |_: &str| None;
    let missing = kubernetes::secret_object("prod", "api", &api.spec, &unset).unwrap_err();
    assert!(missing.contains("SVCMODEL_SECRET_API_TOKEN"), "{missing}");
    // A service without secrets has no Secret.
    assert_eq!(
        kubernetes::secret_object("prod", "cache", &desired[1].spec, &unset),
        Ok(None)
    );
}

#[test]
fn a_changed_parameter_is_one_change_in_the_plan() {
    let before = desired(&[]);
    let after = desired(&["api.greeting=bonjour"]);
    assert_ne!(before[0].spec["objects"], after[0].spec["objects"]);
    let mut state = svcmodel_deploy::state::State::new("prod", "kubernetes");
    for d in &before {
        state.services.insert(
            d.name.clone(),
            svcmodel_deploy::state::ServiceRecord {
                service: d.service.clone(),
                version: d.version.clone(),
                model_hash: d.model_hash.clone(),
                engine_id: format!("prod/{}", d.name),
                spec: d.spec.clone(),
                revision: 1,
                deployed_at: 0,
            },
        );
    }
    let plan = deploy::plan("prod", Some(&state), &after, &Default::default());
    let changes: Vec<(&str, &str, Vec<&str>)> = plan
        .items
        .iter()
        .map(|i| {
            (
                i.name.as_str(),
                format!("{:?}", i.action).leak() as &str,
                i.changes.iter().map(|c| c.field.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("api", "Update", vec!["env.GREETING"]),
            ("cache", "Unchanged", vec![])
        ]
    );
}
