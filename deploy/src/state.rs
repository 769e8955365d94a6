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
    /// The lock is held, and what it says cannot be read.
    LockedUnreadable(String),
    /// `unlock` named a lock that a run on this machine holds and is alive.
    HeldByLiveRun(Box<LockInfo>),
    /// An environment name that cannot name a file (E0409).
    UnsafeName(String, String),
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
            StateError::LockedUnreadable(environment) => write!(
                f,
                "environment `{environment}` is locked by a run whose lock cannot be read; wait with --lock-timeout, or if no run is under way, `svcmodel state unlock --force -e {environment}`"
            ),
            StateError::HeldByLiveRun(lock) => write!(
                f,
                "lock {} of environment `{}` is held by pid {}, which is running `{}`; wait for it to end or stop it first",
                lock.id, lock.environment, lock.pid, lock.operation
            ),
            StateError::UnsafeName(name, why) => {
                write!(f, "environment `{name}` cannot name a state file: {why}")
            }
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

/// A held lock: released when dropped (and by the kernel, should the run die).
#[derive(Debug)]
pub struct LockGuard {
    file: fs::File,
    path: PathBuf,
    pub info: LockInfo,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Say it is free before the kernel lock goes with the handle. A forced unlock
        // never empties a file a live run holds, so this text is still ours.
        if LockText::of(&read_lock_text(&self.path)).is_holder(&self.info.id) {
            let _ = self.file.set_len(0);
        }
        let _ = self.file.unlock();
    }
}

impl LockText {
    fn is_holder(&self, id: &str) -> bool {
        matches!(self, LockText::Holder(holder) if holder.id == id)
    }
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of the project's secret fingerprints (`.svcmodel/key`, 32 random
    /// bytes, readable by its owner only), made on first use. It lives outside the
    /// state, so whoever reads a state cannot test guesses against its fingerprints.
    /// Lost, it is made anew, and every secret counts as changed once.
    pub fn secret_key(&self) -> Result<Vec<u8>, StateError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join("key");
        match fs::read(&path) {
            Ok(key) if key.len() == 32 => return Ok(key),
            Ok(_) => {
                return Err(StateError::Corrupt(
                    path,
                    "a key is 32 bytes; remove it, and every secret counts as changed once"
                        .to_string(),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StateError::Io(path, e)),
        }
        fs::create_dir_all(&self.dir).map_err(|e| StateError::Io(self.dir.clone(), e))?;
        let mut key = vec![0u8; 32];
        fs::File::open("/dev/urandom")
            .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut key))
            .map_err(|e| StateError::Io(PathBuf::from("/dev/urandom"), e))?;
        // Written whole under another name, then linked into place: a run that loses
        // the race reads the winner's key, never half of one.
        let temp = self
            .dir
            .join(format!(".key.{}.{}", std::process::id(), new_id()));
        let written = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)?;
            file.write_all(&key)?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(StateError::Io(temp, e));
        }
        let linked = fs::hard_link(&temp, &path);
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => {
                sync_dir(&self.dir);
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                fs::read(&path).map_err(|e| StateError::Io(path, e))
            }
            Err(e) => Err(StateError::Io(path, e)),
        }
    }

    /// What marks the project's services (see [`crate::deploy::Mark`]): a digest of
    /// the absolute path of its `.svcmodel/` folder, so two checkouts of one model
    /// never take each other's services for their own.
    pub fn project_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let absolute = fs::canonicalize(&self.dir)
            .or_else(|_| std::path::absolute(&self.dir))
            .unwrap_or_else(|_| self.dir.clone());
        Sha256::digest(absolute.as_os_str().as_encoded_bytes())
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    pub fn state_path(&self, environment: &str) -> PathBuf {
        self.state_dir().join(format!("{environment}.json"))
    }

    fn lock_path(&self, environment: &str) -> Result<PathBuf, StateError> {
        checked(environment)?;
        Ok(self.state_dir().join(format!("{environment}.lock")))
    }

    /// Logs of the processes of an environment.
    pub fn log_dir(&self, environment: &str) -> Result<PathBuf, StateError> {
        checked(environment)?;
        Ok(self.dir.join("logs").join(environment))
    }

    /// The state of `environment`, or `None` if it was never deployed.
    pub fn load(&self, environment: &str) -> Result<Option<State>, StateError> {
        checked(environment)?;
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
    /// A backup of another lineage (the state of an earlier deployment of the
    /// environment, whose file was lost or replaced) is never overwritten: it is kept
    /// beside as `ENV.json.backup.LINEAGE`.
    pub fn save(&self, state: &mut State) -> Result<(), StateError> {
        checked(&state.environment)?;
        let dir = self.state_dir();
        fs::create_dir_all(&dir).map_err(|e| StateError::Io(dir.clone(), e))?;
        let path = self.state_path(&state.environment);
        state.serial = state.serial.checked_add(1).ok_or_else(|| {
            StateError::Corrupt(
                path.clone(),
                "its serial cannot rise any further".to_string(),
            )
        })?;
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| StateError::Corrupt(path.clone(), e.to_string()))?;
        match fs::read(&path) {
            Ok(previous) => {
                let backup = path.with_extension("json.backup");
                if let Some(kept) = lineage_of(&backup)
                    && lineage_of_bytes(&previous).is_none_or(|l| l != kept)
                {
                    let aside = path.with_extension(format!("json.backup.{kept}"));
                    if !aside.exists() {
                        fs::rename(&backup, &aside)
                            .map_err(|e| StateError::Io(aside.clone(), e))?;
                        sync_dir(&dir);
                    }
                }
                write_atomically(&backup, &previous)
                    .map_err(|e| StateError::Io(backup.clone(), e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StateError::Io(path, e)),
        }
        write_atomically(&path, text.as_bytes()).map_err(|e| StateError::Io(path.clone(), e))
    }

    /// Takes the lock of `environment`, waiting up to `timeout` for another holder.
    ///
    /// The lock is an OS file lock (`flock`) on `state/ENV.lock`, held for as long as
    /// the guard lives: the kernel releases it when the holder exits, however it
    /// exits, so no run ever has to decide that another is gone, and two runs can
    /// never both hold it. The file's text says who holds it (for the error a waiting
    /// run prints); the file itself is never removed, since a run waiting on a removed
    /// file would lock a different one. A description left by a holder on another
    /// machine (a shared folder whose file system ignores `flock`) still counts as held
    /// until `svcmodel state unlock ID` releases it.
    pub fn lock(
        &self,
        environment: &str,
        operation: &str,
        timeout: Duration,
    ) -> Result<LockGuard, StateError> {
        let dir = self.state_dir();
        fs::create_dir_all(&dir).map_err(|e| StateError::Io(dir.clone(), e))?;
        let path = self.lock_path(environment)?;
        let info = LockInfo {
            id: new_id(),
            environment: environment.to_string(),
            operation: operation.to_string(),
            who: std::env::var("USER").unwrap_or_else(|_| "someone".to_string()),
            pid: std::process::id(),
            host: hostname(),
            since: now(),
        };
        let start = Instant::now();
        loop {
            let file = open_lock_file(&path)?;
            match file.try_lock() {
                Ok(()) => {
                    let left = read_lock_text(&path);
                    match LockText::of(&left) {
                        LockText::Free => {}
                        LockText::Holder(holder) if holder.host != info.host => {
                            // Held on another machine: wait, then name it.
                            drop(file);
                            if start.elapsed() >= timeout {
                                return Err(StateError::Locked(Box::new(holder)));
                            }
                            std::thread::sleep(Duration::from_millis(100));
                            continue;
                        }
                        LockText::Holder(holder) => eprintln!(
                            "note: took over lock {} of environment `{environment}`: its holder (pid {}, `{}`) is gone",
                            holder.id, holder.pid, holder.operation
                        ),
                        LockText::Unreadable => eprintln!(
                            "note: took over the lock of environment `{environment}`: it was free, and what it said could not be read"
                        ),
                    }
                    write_lock_text(&file, &info).map_err(|e| StateError::Io(path.clone(), e))?;
                    return Ok(LockGuard { file, path, info });
                }
                Err(fs::TryLockError::WouldBlock) => {
                    drop(file);
                    if start.elapsed() >= timeout {
                        // The holder writes its description right after locking: look
                        // again briefly before calling it unreadable.
                        let mut holder = LockText::of(&read_lock_text(&path));
                        for _ in 0..10 {
                            if matches!(holder, LockText::Holder(_)) {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(20));
                            holder = LockText::of(&read_lock_text(&path));
                        }
                        return Err(match holder {
                            LockText::Holder(holder) => StateError::Locked(Box::new(holder)),
                            _ => StateError::LockedUnreadable(environment.to_string()),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(fs::TryLockError::Error(e)) => return Err(StateError::Io(path, e)),
            }
        }
    }

    /// Releases a lock that a run left behind, by its id (`svcmodel state unlock
    /// ID`): one whose holder is gone, or one from another machine. A lock held by a
    /// run that is alive on this machine is never released.
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
                && let LockText::Holder(lock) = LockText::of(&read_lock_text(&path))
                && lock.id == id
            {
                self.clear_lock(&path)?;
                return Ok(lock);
            }
        }
        Err(StateError::NotHeld(id.to_string()))
    }

    /// Releases the lock of `environment` whatever it says, even when that cannot be
    /// read (`svcmodel state unlock --force -e ENV`); never one a live run holds.
    /// What it said, when it could be read.
    pub fn force_unlock(&self, environment: &str) -> Result<Option<LockInfo>, StateError> {
        let path = self.lock_path(environment)?;
        let said = LockText::of(&read_lock_text(&path));
        self.clear_lock(&path)?;
        Ok(match said {
            LockText::Holder(holder) => Some(holder),
            _ => None,
        })
    }

    /// Empties a lock file, under its OS lock so that no live holder loses it.
    fn clear_lock(&self, path: &Path) -> Result<(), StateError> {
        let file = match fs::OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StateError::Io(path.to_path_buf(), e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let environment = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                return Err(match LockText::of(&read_lock_text(path)) {
                    LockText::Holder(holder) => StateError::HeldByLiveRun(Box::new(holder)),
                    _ => StateError::LockedUnreadable(environment),
                });
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(StateError::Io(path.to_path_buf(), e));
            }
        }
        file.set_len(0)
            .and_then(|()| file.sync_all())
            .map_err(|e| StateError::Io(path.to_path_buf(), e))
    }
}

/// The lineage a state file records, if it can be read.
fn lineage_of(path: &Path) -> Option<String> {
    lineage_of_bytes(&fs::read(path).ok()?)
}

fn lineage_of_bytes(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Lineage {
        lineage: String,
    }
    serde_json::from_slice::<Lineage>(bytes)
        .ok()
        .map(|l| l.lineage)
        .filter(|l| svcmodel_model::names::check_path_safe(l).is_ok())
}

/// An environment name that can name a file, or the error to stop with.
fn checked(environment: &str) -> Result<(), StateError> {
    svcmodel_model::names::check_path_safe(environment)
        .map_err(|why| StateError::UnsafeName(environment.to_string(), why))
}

/// What a lock file says.
enum LockText {
    /// Nothing: released.
    Free,
    Holder(LockInfo),
    /// Text that is not a lock (a crash while it was written, an edit by hand).
    Unreadable,
}

impl LockText {
    fn of(text: &Option<String>) -> LockText {
        match text.as_deref().map(str::trim) {
            None | Some("") => LockText::Free,
            Some(text) => serde_json::from_str(text).map_or(LockText::Unreadable, LockText::Holder),
        }
    }
}

fn open_lock_file(path: &Path) -> Result<fs::File, StateError> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StateError::Io(path.to_path_buf(), e))
}

fn read_lock_text(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// Replaces the lock file's text with `info`, through the locked handle.
fn write_lock_text(file: &fs::File, info: &LockInfo) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let text = serde_json::to_string_pretty(info).map_err(std::io::Error::other)?;
    let mut handle = file;
    handle.set_len(0)?;
    handle.seek(SeekFrom::Start(0))?;
    handle.write_all(text.as_bytes())?;
    handle.sync_all()
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

    #[test]
    fn a_backup_of_another_lineage_is_kept_aside_never_overwritten() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = Store::new(dir.path());
        let mut first = State::new("dev", "local");
        store.save(&mut first).ok();
        store.save(&mut first).ok();
        let backup = store.state_path("dev").with_extension("json.backup");
        assert_eq!(lineage_of(&backup), Some(first.lineage.clone()));
        // The state file is lost; a new lineage starts and saves twice.
        fs::remove_file(store.state_path("dev")).ok();
        let mut second = State::new("dev", "local");
        store.save(&mut second).ok();
        store.save(&mut second).ok();
        assert_eq!(lineage_of(&backup), Some(second.lineage.clone()));
        let aside = store
            .state_path("dev")
            .with_extension(format!("json.backup.{}", first.lineage));
        assert_eq!(lineage_of(&aside), Some(first.lineage.clone()));
    }

    #[test]
    fn a_serial_that_cannot_rise_is_an_error_not_a_wrap() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = Store::new(dir.path());
        let mut state = State::new("dev", "local");
        state.serial = u64::MAX;
        assert!(matches!(
            store.save(&mut state),
            Err(StateError::Corrupt(..))
        ));
        assert_eq!(state.serial, u64::MAX);
    }

    #[test]
    fn a_dead_holders_lock_is_free_and_an_unreadable_one_forced() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = Store::new(dir.path());
        let held = store.lock("dev", "deploy", Duration::ZERO);
        assert!(held.is_ok());
        // Held: neither a second lock nor a forced unlock takes it.
        assert!(matches!(
            store.lock("dev", "deploy", Duration::ZERO),
            Err(StateError::Locked(_))
        ));
        assert!(matches!(
            store.force_unlock("dev"),
            Err(StateError::HeldByLiveRun(_))
        ));
        drop(held);
        fs::write(store.lock_path("dev").expect("a safe name"), "{ not json").ok();
        assert!(store.lock("dev", "deploy", Duration::ZERO).is_ok());
        fs::write(store.lock_path("dev").expect("a safe name"), "{ not json").ok();
        assert_eq!(store.force_unlock("dev").ok(), Some(None));
        assert!(matches!(
            store.lock("../x", "deploy", Duration::ZERO),
            Err(StateError::UnsafeName(..))
        ));
    }
}
