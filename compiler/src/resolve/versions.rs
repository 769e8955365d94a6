//! Version resolution: one version per service name that satisfies every requirement,
//! newest first, by PubGrub. A conflict becomes a diagnostic that labels each
//! requirement involved, so a person can follow the chain.

use rustc_hash::{FxHashMap, FxHashSet};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::fmt;

use pubgrub::{
    Dependencies, DependencyConstraints, DependencyProvider, DerivationTree, External,
    PackageResolutionStatistics, PubGrubError, Ranges,
};
use semver::{Comparator, Op, Prerelease, Version, VersionReq};
use svcmodel_model::{Model, Span};

use crate::codes::Code;
use crate::diagnostic::Diagnostic;

type Set = Ranges<Version>;

/// A package for PubGrub: the system itself, or a service by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Package {
    System,
    Service(String),
}

impl fmt::Display for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Package::System => f.write_str("the system"),
            Package::Service(name) => f.write_str(name),
        }
    }
}

/// A version rule in force: only versions matching `requirement` may be chosen.
#[derive(Debug, Clone)]
pub struct VersionRule {
    pub requirement: VersionReq,
    pub policy: String,
    pub span: Span,
}

/// What resolution needs besides the model.
#[derive(Default)]
pub struct Inputs<'a> {
    /// Service names the system holds whatever requires them.
    pub roots: Vec<String>,
    /// `use` rules in force, by service name.
    pub rules: FxHashMap<String, Vec<VersionRule>>,
    /// Versions to keep when they still fit (the lockfile), by service name.
    pub preferred: FxHashMap<&'a str, Version>,
}

/// The chosen version of each service, with the index of its definition.
/// The index of the chosen definition of each service, by name (borrowed from the
/// model): hashed, since large systems look names up far more than they list them.
pub type Solution<'a> = FxHashMap<&'a str, usize>;

struct Provider<'a, 'i> {
    model: &'a Model,
    /// Each name's versions, newest first, with the definition's index.
    versions: FxHashMap<&'a str, Vec<(&'a Version, usize)>>,
    inputs: &'i Inputs<'i>,
    /// Services some requirement names a pre-release of: only these may get one, as in
    /// Cargo, where `^1.4` never picks `2.0.0-rc.1` nor `1.5.0-beta`.
    prerelease_ok: FxHashSet<&'a str>,
}

impl Provider<'_, '_> {
    fn allowed(&self, name: &str, version: &Version) -> bool {
        (version.pre.is_empty() || self.prerelease_ok.contains(name))
            && (self.inputs.rules.is_empty()
                || self
                    .inputs
                    .rules
                    .get(name)
                    .is_none_or(|rules| rules.iter().all(|r| r.requirement.matches(version))))
    }
}

impl DependencyProvider for Provider<'_, '_> {
    type P = Package;
    type V = Version;
    type VS = Set;
    type M = String;
    type Priority = (Reverse<usize>, Reverse<Package>);
    type Err = Infallible;

    fn prioritize(
        &self,
        package: &Package,
        range: &Set,
        _stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        // Decide the most constrained packages first: conflicts surface early.
        let candidates = match package {
            Package::System => 0,
            Package::Service(name) => self
                .versions
                .get(name.as_str())
                .map_or(0, |vs| vs.iter().filter(|(v, _)| range.contains(v)).count()),
        };
        (Reverse(candidates), Reverse(package.clone()))
    }

    fn choose_version(
        &self,
        package: &Package,
        range: &Set,
    ) -> Result<Option<Version>, Infallible> {
        let Package::Service(name) = package else {
            return Ok(Some(Version::new(0, 0, 0)));
        };
        let Some(versions) = self.versions.get(name.as_str()) else {
            return Ok(None);
        };
        let fits = |v: &Version| range.contains(v) && self.allowed(name, v);
        if let Some(kept) = self.inputs.preferred.get(name.as_str())
            && versions.iter().any(|(v, _)| *v == kept)
            && fits(kept)
        {
            return Ok(Some(kept.clone()));
        }
        Ok(versions.iter().map(|(v, _)| *v).find(|v| fits(v)).cloned())
    }

    fn get_dependencies(
        &self,
        package: &Package,
        version: &Version,
    ) -> Result<Dependencies<Package, Set, String>, Infallible> {
        let mut constraints: Vec<(Package, Set)> = Vec::new();
        match package {
            Package::System => {
                for root in &self.inputs.roots {
                    constraints.push((Package::Service(root.clone()), Set::full()));
                }
            }
            Package::Service(name) => {
                let Some(definition) = definition(&self.versions, name, version) else {
                    return Ok(Dependencies::Unavailable(format!(
                        "no definition of {name} {version}"
                    )));
                };
                for requirement in &self.model.services[definition].requires {
                    let dependency = Package::Service(requirement.service.value.clone());
                    if !self
                        .versions
                        .contains_key(requirement.service.value.as_str())
                        || constraints.iter().any(|(p, _)| *p == dependency)
                    {
                        continue; // an unknown or repeated requirement was reported by lowering
                    }
                    constraints.push((dependency, ranges(&requirement.version.value)));
                }
            }
        }
        Ok(Dependencies::Available(
            constraints
                .into_iter()
                .collect::<DependencyConstraints<_, _>>(),
        ))
    }
}

fn definition(
    versions: &FxHashMap<&str, Vec<(&Version, usize)>>,
    name: &str,
    version: &Version,
) -> Option<usize> {
    versions
        .get(name)?
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, i)| *i)
}

/// Resolves the versions of everything the roots need.
pub fn resolve<'m>(model: &'m Model, inputs: &Inputs) -> Result<Solution<'m>, Diagnostic> {
    let mut versions: FxHashMap<&str, Vec<(&Version, usize)>> = FxHashMap::default();
    for (i, service) in model.services.iter().enumerate() {
        versions
            .entry(&service.name.value)
            .or_default()
            .push((&service.version.value, i));
    }
    for list in versions.values_mut() {
        list.sort_by(|a, b| b.0.cmp(a.0));
    }
    let prerelease_ok = model
        .services
        .iter()
        .flat_map(|s| &s.requires)
        .filter(|r| {
            r.version
                .value
                .comparators
                .iter()
                .any(|c| !c.pre.is_empty())
        })
        .map(|r| r.service.value.as_str())
        .collect();
    let provider = Provider {
        model,
        versions,
        inputs,
        prerelease_ok,
    };
    if let Some(solution) = first_choice(&provider) {
        return Ok(solution);
    }
    match pubgrub::resolve(&provider, Package::System, Version::new(0, 0, 0)) {
        Ok(solution) => {
            let mut out = Solution::default();
            for (package, version) in solution {
                if let Package::Service(name) = package
                    && let Some(index) = definition(&provider.versions, &name, &version)
                {
                    out.insert(model.services[index].name.value.as_str(), index);
                }
            }
            Ok(out)
        }
        Err(PubGrubError::NoSolution(tree)) => Err(explain_conflict(&provider, &tree)),
        Err(other) => Err(Diagnostic::error(
            Code::VersionConflict,
            format!("version resolution failed: {other}"),
        )
        .help("this is a bug in svcmodel; please report it with the model")),
    }
}

/// The fast path: give every service reached from the roots the version PubGrub would
/// try first (the kept one if it fits, else the newest allowed), then check that every
/// requirement of the chosen versions is met. When it is, PubGrub would decide the same
/// without backtracking, so this is its answer; when not, PubGrub runs and explains.
fn first_choice<'m>(provider: &Provider<'m, '_>) -> Option<Solution<'m>> {
    let model: &'m Model = provider.model;
    // Names become dense ids, so the search below indexes vectors instead of hashing.
    let names: Vec<&'m str> = provider.versions.keys().copied().collect();
    let id_of: FxHashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, i as u32))
        .collect();
    let mut chosen: Vec<Option<(&'m Version, usize)>> = vec![None; names.len()];
    let mut queue: std::collections::VecDeque<u32> = std::collections::VecDeque::new();
    for root in &provider.inputs.roots {
        queue.push_back(*id_of.get(root.as_str())?);
    }
    // (definition, requirement index, target id) of every requirement met on the way.
    let mut checks: Vec<(usize, usize, u32)> = Vec::new();
    let no_preferences = provider.inputs.preferred.is_empty();
    while let Some(id) = queue.pop_front() {
        if chosen[id as usize].is_some() {
            continue;
        }
        let name = names[id as usize];
        let versions = provider.versions.get(name)?;
        let allowed = |v: &Version| provider.allowed(name, v);
        let kept = if no_preferences {
            None
        } else {
            provider
                .inputs
                .preferred
                .get(name)
                .and_then(|kept| versions.iter().find(|(v, _)| *v == kept && allowed(v)))
        };
        let &(version, index) = kept.or_else(|| versions.iter().find(|(v, _)| allowed(v)))?;
        chosen[id as usize] = Some((version, index));
        for (r, requirement) in model.services[index].requires.iter().enumerate() {
            if let Some(&target) = id_of.get(requirement.service.value.as_str()) {
                checks.push((index, r, target));
                queue.push_back(target);
            }
        }
    }
    // Every requirement of every chosen version must hold; else let PubGrub decide.
    for (index, r, target) in checks {
        let requirement = &model.services[index].requires[r];
        if let Some((version, _)) = chosen[target as usize]
            && !satisfies(&requirement.version.value, version)
        {
            return None;
        }
    }
    Some(
        chosen
            .iter()
            .filter_map(|c| c.map(|(_, index)| (model.services[index].name.value.as_str(), index)))
            .collect(),
    )
}

/// Whether `version` meets `requirement`, as [`ranges`] decides; for release versions
/// that is exactly the semver crate's `matches`, which needs no allocation.
fn satisfies(requirement: &VersionReq, version: &Version) -> bool {
    if version.pre.is_empty() {
        requirement.matches(version)
    } else {
        ranges(requirement).contains(version)
    }
}

/// `^15` as a set of versions, with Cargo's meaning of each operator. Pre-release
/// versions of the next major (or minor) version are outside `^`, `~` and `<` bounds.
pub fn ranges(requirement: &VersionReq) -> Set {
    requirement
        .comparators
        .iter()
        .fold(Set::full(), |set, comparator| {
            set.intersection(&comparator_range(comparator))
        })
}

fn comparator_range(c: &Comparator) -> Set {
    let v = |major: u64, minor: u64, patch: u64| Version::new(major, minor, patch);
    // The first version above every pre-release of `major.minor.patch`'s predecessor.
    let floor = |major: u64, minor: u64, patch: u64| Version {
        pre: Prerelease::new("0").unwrap_or(Prerelease::EMPTY),
        ..v(major, minor, patch)
    };
    let exact = Version {
        pre: c.pre.clone(),
        ..v(c.major, c.minor.unwrap_or(0), c.patch.unwrap_or(0))
    };
    let (major, minor, patch) = (c.major, c.minor, c.patch);
    let between = |low: Version, high: Version| Set::between(low, high);
    match c.op {
        Op::Exact | Op::Wildcard => match (minor, patch) {
            (Some(_), Some(_)) => Set::singleton(exact),
            (Some(minor), None) => between(v(major, minor, 0), floor(major, minor + 1, 0)),
            _ => between(v(major, 0, 0), floor(major + 1, 0, 0)),
        },
        Op::Greater => match (minor, patch) {
            (Some(_), Some(_)) => Set::strictly_higher_than(exact),
            (Some(minor), None) => Set::higher_than(v(major, minor + 1, 0)),
            _ => Set::higher_than(v(major + 1, 0, 0)),
        },
        Op::GreaterEq => Set::higher_than(exact),
        Op::Less => Set::strictly_lower_than(match (minor, patch) {
            (Some(_), Some(_)) => exact,
            (Some(minor), None) => floor(major, minor, 0),
            _ => floor(major, 0, 0),
        }),
        Op::LessEq => match (minor, patch) {
            (Some(_), Some(_)) => Set::lower_than(exact),
            (Some(minor), None) => Set::strictly_lower_than(floor(major, minor + 1, 0)),
            _ => Set::strictly_lower_than(floor(major + 1, 0, 0)),
        },
        Op::Tilde => match minor {
            Some(minor) => between(exact, floor(major, minor + 1, 0)),
            None => between(exact, floor(major + 1, 0, 0)),
        },
        Op::Caret => match (major, minor, patch) {
            (0, Some(0), Some(patch)) => between(exact, floor(0, 0, patch + 1)),
            (0, Some(minor), _) => between(exact, floor(0, minor + 1, 0)),
            (major, _, _) => between(exact, floor(major + 1, 0, 0)),
        },
        _ => Set::full(),
    }
}

/// One requirement that took part in a conflict.
struct Involved {
    consumer: String,
    consumer_version: Option<Version>,
    dependency: String,
    requirement: String,
    span: Span,
}

fn explain_conflict(
    provider: &Provider<'_, '_>,
    tree: &DerivationTree<Package, Set, String>,
) -> Diagnostic {
    let mut externals = Vec::new();
    collect(tree, &mut externals);
    let model = provider.model;
    let mut involved: Vec<Involved> = Vec::new();
    let mut missing: Vec<(String, Set)> = Vec::new();
    for external in externals {
        match external {
            External::FromDependencyOf(
                Package::Service(consumer),
                consumer_set,
                Package::Service(dependency),
                _,
            ) => {
                // The newest version of the consumer in the set that states this requirement.
                let found = provider.versions.get(consumer.as_str()).and_then(|vs| {
                    vs.iter()
                        .filter(|(v, _)| consumer_set.contains(v))
                        .find_map(|(v, i)| {
                            model.services[*i]
                                .requires
                                .iter()
                                .find(|r| r.service.value == *dependency)
                                .map(|r| ((*v).clone(), r))
                        })
                });
                if let Some((version, requirement)) = found {
                    let text = requirement.version.value.to_string();
                    if !involved.iter().any(|i| i.span == requirement.version.span) {
                        involved.push(Involved {
                            consumer: consumer.clone(),
                            consumer_version: Some(version),
                            dependency: dependency.clone(),
                            requirement: text,
                            span: requirement.version.span,
                        });
                    }
                }
            }
            External::NoVersions(Package::Service(name), set) => {
                missing.push((name.clone(), set.clone()))
            }
            _ => {}
        }
    }
    // The package the conflict is about: the one most requirements point at.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &involved {
        *counts.entry(&i.dependency).or_default() += 1;
    }
    for (name, _) in &missing {
        *counts.entry(name).or_default() += 1;
    }
    let subject = counts
        .iter()
        .max_by_key(|(name, count)| (**count, Reverse(**name)))
        .map(|(name, _)| name.to_string())
        .unwrap_or_default();
    let available: Vec<String> = provider
        .versions
        .get(subject.as_str())
        .map(|vs| vs.iter().map(|(v, _)| v.to_string()).collect())
        .unwrap_or_default();
    let on_subject: Vec<&Involved> = involved
        .iter()
        .filter(|i| i.dependency == subject)
        .collect();
    let clauses: Vec<String> = on_subject
        .iter()
        .map(|i| {
            format!(
                "`{}` requires `{}` {}",
                i.consumer, i.dependency, i.requirement
            )
        })
        .collect();
    let rules: Vec<&VersionRule> = provider
        .inputs
        .rules
        .get(subject.as_str())
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    let message = match (clauses.len(), rules.is_empty()) {
        (0, _) => format!("no version of `{subject}` can be chosen"),
        (1, true) => format!("{}: no version of `{subject}` satisfies it", clauses[0]),
        (1, false) => format!(
            "{}, but a version rule allows other versions only",
            clauses[0]
        ),
        (2, true) => format!("{}: no version satisfies both", clauses.join(" and ")),
        (n, _) => {
            format!("{n} requirements on `{subject}` cannot all be met: no version satisfies them")
        }
    };
    let mut diagnostic = Diagnostic::error(
        if clauses.len() >= 2 || !rules.is_empty() {
            Code::VersionConflict
        } else {
            Code::NoMatchingVersion
        },
        message,
    );
    // The requirements on the subject first, then the chain that led to them.
    let mut ordered: Vec<&Involved> = on_subject.clone();
    ordered.extend(involved.iter().filter(|i| i.dependency != subject));
    for i in ordered {
        let consumer = match &i.consumer_version {
            Some(v) => format!("`{}` {v}", i.consumer),
            None => format!("`{}`", i.consumer),
        };
        diagnostic = diagnostic.label(
            i.span,
            format!("{consumer} requires `{}` {}", i.dependency, i.requirement),
        );
    }
    for rule in &rules {
        diagnostic = diagnostic.label(
            rule.span,
            format!(
                "policy `{}` allows only `{}` {} here",
                rule.policy, subject, rule.requirement
            ),
        );
    }
    let held = if available.is_empty() {
        format!("the model holds no version of `{subject}`")
    } else {
        format!("the model holds `{subject}` {}", available.join(", "))
    };
    let used: BTreeSet<&str> = on_subject.iter().map(|i| i.consumer.as_str()).collect();
    let help = if let [rule] = rules.as_slice() {
        format!(
            "{held}; relax the requirement, or policy `{}`'s `use` rule (`{subject}` {} here)",
            rule.policy, rule.requirement
        )
    } else if used.len() >= 2 {
        format!("{held}; change one requirement so that a single version satisfies all")
    } else {
        format!("{held}; relax the requirement, or add a version of `{subject}` that satisfies it")
    };
    diagnostic.help(help)
}

fn collect<'t>(
    tree: &'t DerivationTree<Package, Set, String>,
    out: &mut Vec<&'t External<Package, Set, String>>,
) {
    match tree {
        DerivationTree::External(external) => out.push(external),
        DerivationTree::Derived(derived) => {
            collect(&derived.cause1, out);
            collect(&derived.cause2, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(req: &str) -> Set {
        ranges(&VersionReq::parse(req).unwrap())
    }

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn requirements_mean_what_cargo_means() {
        let cases = [
            ("^15", "15.0.0", true),
            ("^15", "15.9.3", true),
            ("^15", "16.0.0", false),
            ("^15", "16.0.0-rc.1", false),
            ("^15", "14.11.0", false),
            ("^0.3", "0.3.9", true),
            ("^0.3", "0.4.0", false),
            ("^0.0.3", "0.0.4", false),
            ("~3.12", "3.12.13", true),
            ("~3.12", "3.13.0", false),
            (">=1.2, <2", "1.9.0", true),
            (">=1.2, <2", "2.0.0", false),
            (">=1.2, <2", "1.1.9", false),
            ("=2.3.1", "2.3.1", true),
            ("=2.3.1", "2.3.2", false),
            ("*", "99.0.0", true),
            ("<=1.4", "1.4.7", true),
            ("<=1.4", "1.5.0", false),
            (">1.4", "1.4.9", false),
            (">1.4", "1.5.0", true),
            ("1.*", "1.7.0", true),
        ];
        for (req, version, expected) in cases {
            assert_eq!(
                set(req).contains(&v(version)),
                expected,
                "{req} vs {version}"
            );
            // Agree with the semver crate on release versions.
            if v(version).pre.is_empty() {
                assert_eq!(
                    VersionReq::parse(req).unwrap().matches(&v(version)),
                    expected,
                    "semver: {req} vs {version}"
                );
            }
        }
    }
}
