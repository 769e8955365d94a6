//! The audit log: every call a run makes on an engine (start, stop, prune, release),
//! appended to `.svcmodel/audit.jsonl` as it returns, with the operations it stood
//! for, what it acted on, its result and the model hash of the service.
//!
//! [`Audited`] wraps an engine, so nothing the orchestrator asks of it escapes the
//! log, whichever path asked (a wave, a rollback, a destroy, converging what an
//! interrupted run left). Each entry is one line written by one `write` on a file
//! opened for appending, so the runs of several environments share the file without
//! tearing each other's lines; a line cut short by a crash is skipped on reading.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::deploy::{Desired, Engine, EngineError, Mark, Marked, Operation, Usage};
use crate::secrets::Redactor;

/// The file's name in the project's `.svcmodel/` folder.
pub const FILE: &str = "audit.jsonl";

/// One call on an engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Entry {
    /// When the call returned, RFC 3339 in UTC.
    pub time: String,
    /// The run it belongs to: every entry of one `svcmodel` command shares it.
    pub run: String,
    /// The command: `deploy`, `destroy` or `reconcile` (`--fix`).
    pub command: String,
    pub environment: String,
    /// The service it was for; `null` for what belongs to the environment (its
    /// network), or what the engine could not name.
    pub service: Option<String>,
    /// The engine call: `start`, `stop`, `prune` or `release`.
    pub call: String,
    /// What the call asked of the engine, in order.
    pub operations: Vec<Operation>,
    /// For `start`, the id the engine gave what it started; for the others, the id
    /// it acted on.
    pub engine_id: Option<String>,
    pub ok: bool,
    /// The failure's code (E1001, E1004, E1010) when it failed.
    pub code: Option<String>,
    /// What the engine said when it failed, secrets masked.
    pub message: Option<String>,
    /// The model hash of the service's definition: of the revision started, or of
    /// the recorded one stopped.
    pub model_hash: Option<String>,
}

/// The open log of one run.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<std::fs::File>,
    run: String,
    command: String,
    /// Also print each entry on standard error as it is appended (`-v`).
    echo: bool,
}

impl AuditLog {
    /// Opens (or creates) `dir/audit.jsonl` for appending, for the run `run` (see
    /// [`crate::state::new_id`]) of `command`.
    pub fn open(dir: &Path, command: &str, run: &str) -> std::io::Result<AuditLog> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        Ok(AuditLog {
            path,
            file: Mutex::new(file),
            run: run.to_string(),
            command: command.to_string(),
            echo: false,
        })
    }

    /// Prints each entry on standard error as well, as it is appended.
    pub fn echo(mut self, echo: bool) -> AuditLog {
        self.echo = echo;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run's id, as every entry of it carries it.
    pub fn run(&self) -> &str {
        &self.run
    }

    /// Appends one entry, flushed to disk before the call's result goes on: a log
    /// that cannot be written fails the call that could not be recorded.
    fn append(&self, entry: &Entry) -> std::io::Result<()> {
        if self.echo {
            let result = if entry.ok { "ok" } else { "failed" };
            let who = entry.service.as_deref().unwrap_or(&entry.environment);
            for operation in &entry.operations {
                eprintln!(
                    "  engine: {} {} ({who}): {result}",
                    operation.operation, operation.object
                );
            }
        }
        let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        line.push('\n');
        let file = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("the audit log is unusable"))?;
        (&*file).write_all(line.as_bytes())?;
        file.sync_data()
    }
}

/// Every entry of the log at `path`, oldest first; a missing log has none. A line
/// that does not read (cut short by a crash) is skipped.
pub fn read(path: &Path) -> std::io::Result<Vec<Entry>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

/// An engine whose every call that changes something is appended to an audit log.
pub struct Audited<'a> {
    engine: &'a dyn Engine,
    log: &'a AuditLog,
    environment: String,
    redactor: &'a Redactor,
    /// Engine id to (service, model hash): from the state's records, what this run
    /// started, and what the engine found marked.
    known: Mutex<BTreeMap<String, (String, String)>>,
}

impl<'a> Audited<'a> {
    /// `known`: the state's records, as engine id, service and model hash.
    pub fn new(
        engine: &'a dyn Engine,
        log: &'a AuditLog,
        environment: &str,
        redactor: &'a Redactor,
        known: impl IntoIterator<Item = (String, String, String)>,
    ) -> Audited<'a> {
        Audited {
            engine,
            log,
            environment: environment.to_string(),
            redactor,
            known: Mutex::new(
                known
                    .into_iter()
                    .map(|(id, service, hash)| (id, (service, hash)))
                    .collect(),
            ),
        }
    }

    fn remember(&self, engine_id: &str, service: &str, model_hash: &str) {
        if let Ok(mut known) = self.known.lock() {
            known.insert(
                engine_id.to_string(),
                (service.to_string(), model_hash.to_string()),
            );
        }
    }

    /// The service and model hash of what `engine_id` names, if known.
    fn who(&self, engine_id: &str) -> (Option<String>, Option<String>) {
        let known = match self.known.lock() {
            Ok(known) => known,
            Err(_) => return (None, None),
        };
        let found = known.get(engine_id).or_else(|| {
            known
                .iter()
                .find(|(id, _)| self.engine.same_instance(id, engine_id))
                .map(|(_, who)| who)
        });
        match found {
            Some((service, hash)) => (
                Some(service.clone()),
                (!hash.is_empty()).then(|| hash.clone()),
            ),
            None => (None, None),
        }
    }

    /// Records one call's result; a failure to record is the call's failure.
    fn record<T>(
        &self,
        call: &str,
        (service, model_hash): (Option<String>, Option<String>),
        operations: Vec<Operation>,
        engine_id: Option<&str>,
        result: Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let entry = Entry {
            time: jiff::Timestamp::now()
                .round(jiff::Unit::Millisecond)
                .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string()),
            run: self.log.run.clone(),
            command: self.log.command.clone(),
            environment: self.environment.clone(),
            service,
            call: call.to_string(),
            operations,
            engine_id: engine_id.map(str::to_string),
            ok: result.is_ok(),
            code: result.as_ref().err().map(|e| e.code().to_string()),
            message: result
                .as_ref()
                .err()
                .map(|e| self.redactor.redact(&e.message)),
            model_hash,
        };
        match (self.log.append(&entry), result) {
            (Ok(()), result) => result,
            (Err(e), Ok(_)) => Err(EngineError::from(format!(
                "done, but not recorded in the audit log `{}`: {e}",
                self.log.path.display()
            ))),
            (Err(_), Err(e)) => Err(e),
        }
    }
}

impl Engine for Audited<'_> {
    fn start(&self, desired: &Desired, mark: &Mark) -> Result<String, EngineError> {
        let operations = self.engine.start_operations(desired);
        let result = self.engine.start(desired, mark);
        if let Ok(id) = &result {
            self.remember(id, &desired.name, &desired.model_hash);
        }
        let id = result.as_ref().ok().cloned();
        self.record(
            "start",
            (Some(desired.name.clone()), Some(desired.model_hash.clone())),
            operations,
            id.as_deref(),
            result,
        )
    }

    fn start_operations(&self, desired: &Desired) -> Vec<Operation> {
        self.engine.start_operations(desired)
    }

    fn stop(&self, engine_id: &str) -> Result<(), EngineError> {
        // Described before it goes: a stopped container can no longer be named.
        let operations = self.engine.stop_operations(engine_id);
        let result = self.engine.stop(engine_id);
        self.record(
            "stop",
            self.who(engine_id),
            operations,
            Some(engine_id),
            result,
        )
    }

    fn stop_operations(&self, engine_id: &str) -> Vec<Operation> {
        self.engine.stop_operations(engine_id)
    }

    fn find_marked(&self, project: &str, environment: &str) -> Vec<Marked> {
        let found = self.engine.find_marked(project, environment);
        for marked in &found {
            if self.who(&marked.engine_id).0.is_none() {
                self.remember(&marked.engine_id, &marked.mark.service, "");
            }
        }
        found
    }

    fn release(&self) -> Result<(), EngineError> {
        let operations = self.engine.release_operations();
        let result = self.engine.release();
        // An engine with nothing shared to free (local processes) did nothing.
        if operations.is_empty() && result.is_ok() {
            return result;
        }
        self.record("release", (None, None), operations, None, result)
    }

    fn release_operations(&self) -> Vec<Operation> {
        self.engine.release_operations()
    }

    fn same_instance(&self, a: &str, b: &str) -> bool {
        self.engine.same_instance(a, b)
    }

    fn host_ports(&self, desired: &Desired) -> Vec<u16> {
        self.engine.host_ports(desired)
    }

    fn port_holder(&self, port: u16, ours: &[&str]) -> Option<String> {
        self.engine.port_holder(port, ours)
    }

    fn alive(&self, engine_id: &str) -> bool {
        self.engine.alive(engine_id)
    }

    fn wait_healthy(
        &self,
        engine_id: &str,
        spec: &serde_json::Value,
        deadline: Duration,
    ) -> Result<(), EngineError> {
        self.engine.wait_healthy(engine_id, spec, deadline)
    }

    fn check(&self, engine_id: &str, spec: &serde_json::Value) -> Result<(), EngineError> {
        self.engine.check(engine_id, spec)
    }

    fn usage(&self, engine_id: &str) -> Option<Usage> {
        self.engine.usage(engine_id)
    }

    fn in_place(&self) -> bool {
        self.engine.in_place()
    }

    fn prune(&self, old: &str, new: &str) {
        let new_objects: Vec<String> = self
            .engine
            .stop_operations(new)
            .into_iter()
            .map(|op| op.object)
            .collect();
        let operations: Vec<Operation> = self
            .engine
            .stop_operations(old)
            .into_iter()
            .filter(|op| !new_objects.contains(&op.object))
            .collect();
        self.engine.prune(old, new);
        // `prune` reports nothing: what it could not remove, no inventory lists.
        let _ = self.record("prune", self.who(new), operations, Some(old), Ok(()));
    }

    fn domains(&self, engine_id: &str) -> Option<Vec<BTreeMap<String, String>>> {
        self.engine.domains(engine_id)
    }
}
