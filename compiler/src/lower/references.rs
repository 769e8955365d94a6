//! The second pass: references that cross declarations. Required, nearby, spread and
//! versioned services must exist; ports of other services must be provided and the
//! service required; links and entry points must name what the model declares.

use rustc_hash::FxHashSet;
use std::collections::BTreeSet;

use svcmodel_model::{Model, PolicyRule, Reference, Span, TemplatePart};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::suggest;

pub fn check(model: &Model, d: &mut Diagnostics) {
    let service_names: FxHashSet<&str> = model
        .services
        .iter()
        .map(|s| s.name.value.as_str())
        .collect();
    // Every (service, port) that some version provides: one set, built once, so each
    // reference is checked in constant time.
    let ports: FxHashSet<(&str, &str)> = model
        .services
        .iter()
        .flat_map(|s| {
            s.provides
                .iter()
                .map(|p| (s.name.value.as_str(), p.name.value.as_str()))
        })
        .collect();
    let check_port = |service: &str, port: &str, span: Span, d: &mut Diagnostics| {
        if !ports.contains(&(service, port)) {
            report_unknown_port(model, service, port, span, d);
        }
    };
    let unknown_service =
        |name: &str, span: Span, what: &dyn Fn() -> String, d: &mut Diagnostics| {
            if service_names.contains(name) {
                return false;
            }
            let mut names: Vec<&str> = service_names.iter().copied().collect();
            names.sort_unstable();
            let help = suggest::did_you_mean(name, names).unwrap_or_else(|| {
                format!("declare `service \"{name}\"`, or import the catalog that holds it")
            });
            d.push(
                Diagnostic::error(
                    Code::UnknownService,
                    format!("{} unknown service `{name}`", what()),
                )
                .label(span, "no service has this name")
                .help(help),
            );
            true
        };
    let check_service = |service: &svcmodel_model::Service, d: &mut Diagnostics| {
        let what = || format!("service `{}` requires", service.name.value);
        // A service requires a handful of others: a short list beats a hash set.
        let mut required: Vec<&str> = Vec::with_capacity(service.requires.len());
        // Services a misspelt requirement most likely meant: a reference to one is the
        // same mistake, not a second one (the E0501 on the requirement says it).
        let mut meant: Vec<&str> = Vec::new();
        for requirement in &service.requires {
            let name = requirement.service.value.as_str();
            if name == service.name.value {
                d.push(
                    Diagnostic::error(
                        Code::SelfRequirement,
                        format!("service `{name}` requires itself"),
                    )
                    .label(
                        requirement.service.span,
                        "a service cannot depend on itself",
                    )
                    .help("remove this requirement"),
                );
                continue;
            }
            if required.contains(&name) {
                d.push(
                    Diagnostic::error(
                        Code::DuplicateKey,
                        format!(
                            "`requires \"{name}\"` is given twice in service `{}`",
                            service.name.value
                        ),
                    )
                    .label(requirement.service.span, "required again here")
                    .help("merge the two requirements into one"),
                );
                continue;
            }
            required.push(name);
            if unknown_service(name, requirement.service.span, &what, d) {
                if let Some(closest) = suggest::closest(name, service_names.iter().copied()) {
                    meant.push(closest);
                }
                continue;
            }
            if let Some(via) = &requirement.via {
                check_port(name, &via.value, via.span, d);
            }
        }
        for near in &service.near {
            unknown_service(
                &near.value,
                near.span,
                &|| format!("service `{}` is near", service.name.value),
                d,
            );
        }
        for reference in references(service) {
            if let Reference::Const { name, span } = reference {
                if model.constant(name).is_none() {
                    let help = suggest::did_you_mean(
                        name,
                        model.constants.iter().map(|c| c.name.value.as_str()),
                    )
                    .unwrap_or_else(|| {
                        format!("declare it at the top of a file: `const \"{name}\" = \"...\"`")
                    });
                    d.push(
                        Diagnostic::error(
                            Code::UnknownConstant,
                            format!(
                                "service `{}` refers to an unknown constant `{name}`",
                                service.name.value
                            ),
                        )
                        .label(*span, "no constant has this name")
                        .help(help),
                    );
                }
                continue;
            }
            let Reference::Port {
                service: target,
                port,
                span,
                ..
            } = reference
            else {
                continue;
            };
            if !service_names.contains(target.as_str()) {
                unknown_service(
                    target,
                    *span,
                    &|| format!("service `{}` refers to", service.name.value),
                    d,
                );
            } else if meant.contains(&target.as_str()) {
                // `requires "dbb"` with `${db.pg.host}`: one mistake, reported once.
            } else if !required.contains(&target.as_str()) {
                d.push(
                    Diagnostic::error(
                        Code::ServiceNotRequired,
                        format!(
                            "service `{}` refers to `{target}` but does not require it",
                            service.name.value
                        ),
                    )
                    .label(*span, "a reference to a service that is not required")
                    .help(format!(
                        "add `requires \"{target}\"` to service `{}`",
                        service.name.value
                    )),
                );
            } else {
                check_port(target, port, *span, d);
            }
        }
    };
    // Services are checked independently: share them out over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = model.services.len().div_ceil(threads).max(1);
    let found: Vec<Diagnostic> = std::thread::scope(|scope| {
        let handles: Vec<_> = model
            .services
            .chunks(chunk)
            .map(|part| {
                let check_service = &check_service;
                scope.spawn(move || {
                    let mut d = Diagnostics::default();
                    for service in part {
                        check_service(service, &mut d);
                    }
                    d.into_vec()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    d.extend(found);
    for policy in &model.policies {
        let what = || format!("policy `{}` names", policy.name.value);
        match &policy.rule {
            PolicyRule::Spread { services, .. } => {
                for s in services {
                    unknown_service(&s.value, s.span, &what, d);
                }
            }
            PolicyRule::Use { versions } => {
                for (s, _) in versions {
                    unknown_service(&s.value, s.span, &what, d);
                }
            }
            _ => {}
        }
    }
    for system in &model.systems {
        for entry in &system.entrypoints {
            unknown_service(
                &entry.value,
                entry.span,
                &|| format!("system `{}` enters through", system.name.value),
                d,
            );
        }
    }
    let environment_names: Vec<&str> = model
        .environments
        .iter()
        .map(|e| e.name.value.as_str())
        .collect();
    for environment in &model.environments {
        for link in &environment.links {
            if !environment_names.contains(&link.to.value.as_str()) {
                let help = suggest::did_you_mean(&link.to.value, environment_names.iter().copied())
                    .unwrap_or_else(|| format!("declare `environment \"{}\"`", link.to.value));
                d.push(
                    Diagnostic::error(
                        Code::UnknownEnvironment,
                        format!(
                            "environment `{}` links to unknown environment `{}`",
                            environment.name.value, link.to.value
                        ),
                    )
                    .label(link.to.span, "no environment has this name")
                    .help(help),
                );
            } else if link.to.value == environment.name.value {
                d.push(
                    Diagnostic::error(
                        Code::UnknownEnvironment,
                        format!("environment `{}` links to itself", environment.name.value),
                    )
                    .label(link.to.span, "a link joins two different environments")
                    .help("remove this link"),
                );
            }
        }
    }
}

/// Checks that some version of `service` provides `port`.
fn report_unknown_port(model: &Model, service: &str, port: &str, span: Span, d: &mut Diagnostics) {
    let ports: BTreeSet<&str> = model
        .service_versions(service)
        .flat_map(|s| s.provides.iter().map(|p| p.name.value.as_str()))
        .collect();
    let help = suggest::did_you_mean(port, ports.iter().copied()).unwrap_or_else(|| {
        if ports.is_empty() {
            format!("service `{service}` provides no ports; add `provides \"{port}\" {{ port = ... }}` to it")
        } else {
            format!("use one of its ports: {}", ports.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "))
        }
    });
    d.push(
        Diagnostic::error(
            Code::UnknownPort,
            format!("service `{service}` provides no port `{port}`"),
        )
        .label(span, "no such port")
        .help(help),
    );
}

/// Every reference a service's strings hold.
fn references(service: &svcmodel_model::Service) -> impl Iterator<Item = &Reference> {
    use svcmodel_model::ConfigValue;
    let run = service
        .run_local
        .iter()
        .flat_map(|run| run.command.iter().chain(&run.workdir).map(|c| &c.value));
    let config = service
        .config
        .env
        .iter()
        .chain(&service.config.files)
        .map(|e| &e.value)
        .chain(&service.config.args)
        .filter_map(|value| match &value.value {
            ConfigValue::Text { template } => Some(template),
            _ => None,
        });
    let health = service.health.iter().flat_map(|h| match &h.check {
        svcmodel_model::HealthCheck::Command { command } => command.as_slice(),
        _ => &[],
    });
    service
        .image
        .iter()
        .map(|i| &i.value)
        .chain(run)
        .chain(config)
        .chain(health.map(|c| &c.value))
        .flat_map(|t| &t.parts)
        .filter_map(|p| match p {
            TemplatePart::Reference(r) => Some(r),
            TemplatePart::Literal(_) => None,
        })
}
