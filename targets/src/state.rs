//! What svcmodel deployed, per environment, under `.svcmodel/`: no server needed.
//!
//! - `state/ENV.json`: the services deployed, each with its version, model hash,
//!   engine id and the spec it was started with (secrets as references only); a
//!   `serial` that rises on every write and a `lineage` that never changes.
//! - `state/ENV.json.backup`: the previous snapshot.
//! - `state/ENV.lock`: who holds the environment (id, operation, pid, host, start).
//!
//! Every write is a temporary file, fsync, rename, then an fsync of the folder, so
//! a crash at any point leaves the old snapshot or the new one, never half of one.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    /// Chosen when the environment is first deployed; never changes.
    pub lineage: String,
    /// Rises by one on every write.
    pub serial: u64,
    pub environment: String,
    pub target: String,
    pub services: BTreeMap<String, ServiceRecord>,
    /// Work that was under way when a deploy stopped (Ctrl-C, a crash): reported by
    /// the next run, which converges it.
    #[serde(default)]
    pub pending: Vec<Pending>,
    /// The last revisions, newest last.
    #[serde(default)]
    pub history: Vec<Revision>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRecord {
    pub service: String,
    pub version: String,
    pub model_hash: String,
    /// What the engine calls it: a process id with its start time, a container id.
    pub engine_id: String,
    /// The spec it was started with, as the engine needs it to start it again
    /// (rollback, repair); secrets appear only as references.
    pub spec: serde_json::Value,
    /// The serial of the state when it was deployed.
    pub revision: u64,
    /// Unix seconds.
    pub deployed_at: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Pending {
    pub service: String,
    /// `create`, `update` or `repair`.
    pub action: String,
    /// What the engine calls what was started, when it got that far.
    pub engine_id: Option<String>,
    /// Unix seconds.
    pub since: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    pub serial: u64,
    pub at: u64,
    pub operation: String,
    pub summary: String,
}

const HISTORY: usize = 50;

impl State {
    pub fn new(environment: &str, target: &str) -> State {
        State {
            format: FORMAT,
            lineage: new_id(),
            serial: 0,
            environment: environment.to_string(),
            target: target.to_string(),
            services: BTreeMap::new(),
            pending: Vec::new(),
            history: Vec::new(),
        }
    }

    pub fn record(&mut self, operation: &str, summary: String) {
        self.history.push(Revision {
            serial: self.serial + 1,
            at: now(),
            operation: operation.to_string(),
            summary,
        });
        if self.history.len() > HISTORY {
            let extra = self.history.len() - HISTORY;
            self.history.drain(..extra);
        }
    }
}

/// Why the state could not be read or written.
#[derive(Debug)]
pub enum StateError {
    Io(PathBuf, std::io::Error),
    /// The file exists but is not a state svcmodel can read.
    Corrupt(PathBuf, String),
    /// Another run holds the environment.
    Locked(Box<LockInfo>),
    /// `unlock` named a lock that is not the one held.
    NotHeld(String),
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::Io(path, e) => write!(f, "cannot use `{}`: {e}", path.display()),
            StateError::Corrupt(path, why) => write!(
                f,
                "`{}` is not a state svcmodel can read: {why}; the previous snapshot is `{}.backup`",
                path.display(),
                path.display()
            ),
            StateError::Locked(lock) => write!(
                f,
                "environment `{}` is locked by {} (lock {}, `{}` by pid {} on {}, since {} s ago); wait with --lock-timeout, or if that run is gone, `svcmodel state unlock {}`",
                lock.environment,
                lock.who,
                lock.id,
                lock.operation,
                lock.pid,
                lock.host,
                now().saturating_sub(lock.since),
                lock.id
            ),
            StateError::NotHeld(id) => write!(f, "no lock `{id}` is held"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LockInfo {
    /// The lock's id, as `svcmodel state unlock` takes it.
    pub id: String,
    pub environment: String,
    /// The command that took it: `deploy`, `destroy`.
    pub operation: String,
    /// The user who ran it.
    pub who: String,
    pub pid: u32,
    pub host: String,
    /// Unix seconds.
    pub since: u64,
}

/// The `.svcmodel/` folder of a project.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// A held lock: released when dropped. A lock left on this machine by a process that
/// is gone is taken over by the next run; one from another machine needs
/// `svcmodel state unlock ID`.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
    pub info: LockInfo,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Remove only our own lock: a forced unlock may have handed it to another run.
        if read_lock(&self.path).is_some_and(|l| l.id == self.info.id) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    pub fn state_path(&self, environment: &str) -> PathBuf {
        self.state_dir().join(format!("{environment}.json"))
    }

    fn lock_path(&self, environment: &str) -> PathBuf {
        self.state_dir().join(format!("{environment}.lock"))
    }

    /// Logs of the processes of an environment.
    pub fn log_dir(&self, environment: &str) -> PathBuf {
        self.dir.join("logs").join(environment)
    }

    /// The state of `environment`, or `None` if it was never deployed.
    pub fn load(&self, environment: &str) -> Result<Option<State>, StateError> {
        let path = self.state_path(environment);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StateError::Io(path, e)),
        };
        let state: State = serde_json::from_str(&text)
            .map_err(|e| StateError::Corrupt(path.clone(), e.to_string()))?;
        if state.format != FORMAT {
            return Err(StateError::Corrupt(
                path,
                format!("format {} is not {FORMAT}", state.format),
            ));
        }
        Ok(Some(state))
    }

    /// Writes `state` with the next serial; the previous snapshot becomes the backup.
    pub fn save(&self, state: &mut State) -> Result<(), StateError> {
        let dir = self.state_dir();
        fs::create_dir_all(&dir).map_err(|e| StateError::Io(dir.clone(), e))?;
        state.serial += 1;
        let path = self.state_path(&state.environment);
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| StateError::Corrupt(path.clone(), e.to_string()))?;
        if path.exists() {
            let backup = path.with_extension("json.backup");
            write_atomically(
                &backup,
                &fs::read(&path).map_err(|e| StateError::Io(path.clone(), e))?,
            )
            .map_err(|e| StateError::Io(backup.clone(), e))?;
        }
        write_atomically(&path, text.as_bytes()).map_err(|e| StateError::Io(path.clone(), e))
    }

    /// Takes the lock of `environment`, waiting up to `timeout` for another holder.
    pub fn lock(
        &self,
        environment: &str,
        operation: &str,
        timeout: Duration,
    ) -> Result<LockGuard, StateError> {
        let dir = self.state_dir();
        fs::create_dir_all(&dir).map_err(|e| StateError::Io(dir.clone(), e))?;
        let path = self.lock_path(environment);
        let info = LockInfo {
            id: new_id(),
            environment: environment.to_string(),
            operation: operation.to_string(),
            who: std::env::var("USER").unwrap_or_else(|_| "someone".to_string()),
            pid: std::process::id(),
            host: hostname(),
            since: now(),
        };
        let text = serde_json::to_string_pretty(&info).unwrap_or_default();
        let start = Instant::now();
        // The lock is written to a file of its own, then hard-linked into place: the
        // link fails if a lock exists, so exactly one run wins, and whoever reads the
        // lock always reads all of it.
        let temp = dir.join(format!(
            ".{environment}.lock.{}.{}",
            std::process::id(),
            info.id
        ));
        write_atomically(&temp, text.as_bytes()).map_err(|e| StateError::Io(temp.clone(), e))?;
        let result = loop {
            match fs::hard_link(&temp, &path) {
                Ok(()) => {
                    sync_dir(&dir);
                    break Ok(LockGuard {
                        path: path.clone(),
                        info: info.clone(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // A lock whose holder ran on this machine and is gone (killed,
                    // crashed) is stale: taken over, and said so.
                    if let Some(holder) = read_lock(&path)
                        && holder.host == info.host
                        && !process_exists(holder.pid)
                    {
                        if fs::remove_file(&path).is_ok() {
                            eprintln!(
                                "note: took over lock {} of environment `{environment}`: its holder (pid {}, `{}`) is gone",
                                holder.id, holder.pid, holder.operation
                            );
                        }
                        continue;
                    }
                    if start.elapsed() >= timeout {
                        let holder = read_lock(&path).unwrap_or(LockInfo {
                            id: "?".to_string(),
                            environment: environment.to_string(),
                            operation: "?".to_string(),
                            who: "?".to_string(),
                            pid: 0,
                            host: "?".to_string(),
                            since: now(),
                        });
                        break Err(StateError::Locked(Box::new(holder)));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => break Err(StateError::Io(path.clone(), e)),
            }
        };
        let _ = fs::remove_file(&temp);
        result
    }

    /// Releases a stale lock by its id (`svcmodel state unlock ID`).
    pub fn unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        let dir = self.state_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotHeld(id.to_string()));
            }
            Err(e) => return Err(StateError::Io(dir, e)),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "lock")
                && let Some(lock) = read_lock(&path)
                && lock.id == id
            {
                fs::remove_file(&path).map_err(|e| StateError::Io(path.clone(), e))?;
                sync_dir(&dir);
                return Ok(lock);
            }
        }
        Err(StateError::NotHeld(id.to_string()))
    }
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn read_lock(path: &Path) -> Option<LockInfo> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

/// Temporary file, fsync, rename over `path`, fsync of the folder.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        sync_dir(dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn sync_dir(dir: &Path) {
    if let Ok(file) = fs::File::open(dir) {
        let _ = file.sync_all();
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A random-enough id: time, pid and a counter, hashed.
pub fn new_id() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{nanos}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    Sha256::digest(seed.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_with_a_rising_serial_and_a_backup() {
        let dir = std::env::temp_dir().join(format!("svcmodel-state-{}", new_id()));
        let store = Store::new(&dir);
        assert_eq!(store.load("dev").ok().flatten(), None);
        let mut state = State::new("dev", "local");
        store.save(&mut state).ok();
        store.save(&mut state).ok();
        let loaded = store.load("dev").ok().flatten();
        assert_eq!(loaded.as_ref().map(|s| s.serial), Some(2));
        let backup: State = serde_json::from_str(
            &fs::read_to_string(store.state_path("dev").with_extension("json.backup"))
                .unwrap_or_default(),
        )
        .unwrap_or_else(|_| State::new("x", "x"));
        assert_eq!(backup.serial, 1);
        assert_eq!(backup.lineage, state.lineage);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_second_lock_waits_then_names_the_holder() {
        let dir = std::env::temp_dir().join(format!("svcmodel-lock-{}", new_id()));
        let store = Store::new(&dir);
        let first = store.lock("dev", "deploy", Duration::ZERO);
        assert!(first.is_ok());
        match store.lock("dev", "deploy", Duration::from_millis(250)) {
            Err(StateError::Locked(holder)) => {
                assert_eq!(
                    Some(holder.id.clone()),
                    first.as_ref().ok().map(|g| g.info.id.clone())
                );
            }
            other => panic!("expected a held lock, got {other:?}"),
        }
        drop(first);
        assert!(store.lock("dev", "deploy", Duration::ZERO).is_ok());
        let _ = fs::remove_dir_all(&dir);
    }
}
