//! The local engine: services as processes on this machine.
//!
//! A process runs in a process group of its own (so Ctrl-C on svcmodel does not reach
//! it) with its standard output and error appended to a log under `.svcmodel/logs/`,
//! and outlives the CLI. It is known by its pid and its start time, so a reused pid is
//! never mistaken for it. Only the variables of the service's configuration reach it,
//! with `PATH`, `HOME`, `LANG` and `TZ` from svcmodel's own environment.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A process to start: everything resolved, secrets included (never stored).
#[derive(Debug, Clone)]
pub struct Launch {
    /// The program and its arguments; with a supervisor, what it runs.
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    /// [`MARK_VARIABLE`]'s value: who started it, for which state.
    pub mark: Option<String>,
    pub workdir: Option<PathBuf>,
    pub log: PathBuf,
}

/// What identifies a running process: `pid:PID:START` (START in clock ticks since
/// boot, from /proc), so a recycled pid does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: u32,
    pub start: u64,
}

impl ProcessId {
    pub fn encode(self) -> String {
        format!("pid:{}:{}", self.pid, self.start)
    }

    pub fn decode(text: &str) -> Option<ProcessId> {
        let mut parts = text.strip_prefix("pid:")?.split(':');
        Some(ProcessId {
            pid: parts.next()?.parse().ok()?,
            start: parts.next()?.parse().ok()?,
        })
    }
}

const INHERITED: [&str; 4] = ["PATH", "HOME", "LANG", "TZ"];

/// The variable that names, for `svcmodel supervise`, the variables whose values are
/// secrets: it masks them in the service's output before they reach its log.
pub const REDACT_VARIABLE: &str = "SVCMODEL_REDACT";

/// The variable that carries a process's [`crate::deploy::Mark`]: the supervisor and
/// the service inherit it, so a run killed at any instant leaves processes that
/// [`marked`] finds again.
pub const MARK_VARIABLE: &str = "SVCMODEL_MARK";

/// Starts `launch` detached. Fails if the program cannot be started.
pub fn start(launch: &Launch) -> std::io::Result<ProcessId> {
    use std::os::unix::process::CommandExt;
    let Some((program, args)) = launch.command.split_first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the command is empty",
        ));
    };
    if let Some(dir) = launch.log.parent() {
        fs::create_dir_all(dir)?;
    }
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&launch.log)?;
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    for name in INHERITED {
        if let Ok(value) = std::env::var(name) {
            command.env(name, value);
        }
    }
    for (name, value) in &launch.env {
        command.env(name, value);
    }
    if let Some(mark) = &launch.mark {
        command.env(MARK_VARIABLE, mark);
    }
    if let Some(dir) = &launch.workdir {
        command.current_dir(dir);
    }
    let child = command.spawn()?;
    let pid = child.id();
    // The child is not waited for: it must outlive svcmodel. Until svcmodel exits, a
    // process that ends stays a zombie, which `alive` counts as gone.
    drop(child);
    let start = start_time(pid).unwrap_or(0);
    Ok(ProcessId { pid, start })
}

/// Field 22 of /proc/PID/stat (start time) and field 3 (state).
fn start_time(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|s| s.start)
}

/// Whether the process still runs (not gone, not a zombie, not a recycled pid).
pub fn alive(id: ProcessId) -> bool {
    proc_stat(id.pid).is_some_and(|s| !s.gone() && s.start == id.start)
}

/// The processes of the group `id` leads that started with or after it: the service
/// under its supervisor, even when the supervisor itself is gone.
fn group(id: ProcessId) -> Vec<u32> {
    pids()
        .filter(|pid| {
            proc_stat(*pid).is_some_and(|s| s.pgrp == id.pid && s.start >= id.start && !s.gone())
        })
        .collect()
}

/// Stops the process's group: SIGTERM, then SIGKILL after `grace`. The group is
/// stopped even when its leader is already gone, so no child outlives it holding a
/// port.
pub fn stop(id: ProcessId, grace: Duration) -> Result<(), String> {
    if !alive(id) && group(id).is_empty() {
        return Ok(());
    }
    let signal_group = |signal: rustix::process::Signal| {
        if let Some(pid) = rustix::process::Pid::from_raw(id.pid as i32) {
            let _ = rustix::process::kill_process_group(pid, signal);
        }
    };
    let gone = || !alive(id) && group(id).is_empty();
    signal_group(rustix::process::Signal::TERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if gone() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(rustix::process::Signal::KILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if gone() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<String> = group(id).into_iter().map(describe).collect();
    Err(format!(
        "process group {} still runs after SIGKILL: {}",
        id.pid,
        left.join(", ")
    ))
}

/// Resident memory (bytes) and CPU time used (seconds) of the process and its
/// children (the service under its supervisor), from /proc.
pub fn usage(id: ProcessId) -> Option<(u64, f64)> {
    if !alive(id) {
        return None;
    }
    let (mut rss, mut cpu) = usage_of(id.pid)?;
    let children =
        fs::read_to_string(format!("/proc/{0}/task/{0}/children", id.pid)).unwrap_or_default();
    for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
        if let Some((r, c)) = usage_of(child) {
            rss += r;
            cpu += c;
        }
    }
    Some((rss, cpu))
}

fn usage_of(pid: u32) -> Option<(u64, f64)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((rss_kib * 1024, ticks as f64 / 100.0))
}

/// The running process groups marked for `project` and `environment`, by their
/// marks: one entry per group, known by its leader (or, when the leader is gone, by
/// its group id and its oldest member's start time).
pub fn marked(project: &str, environment: &str) -> Vec<crate::deploy::Marked> {
    // Group id to (leader's or oldest member's start, whether that is the leader, mark).
    let mut groups: std::collections::BTreeMap<u32, (u64, bool, crate::deploy::Mark)> =
        std::collections::BTreeMap::new();
    for pid in pids() {
        let Some(mark) = mark_of(pid) else {
            continue;
        };
        if mark.project != project || mark.environment != environment {
            continue;
        }
        let Some(info) = proc_stat(pid) else {
            continue;
        };
        if info.gone() {
            continue;
        }
        let leader = info.pgrp == pid;
        let entry = groups
            .entry(info.pgrp)
            .or_insert((info.start, leader, mark.clone()));
        if leader || (!entry.1 && info.start < entry.0) {
            *entry = (info.start, leader, mark);
        }
    }
    groups
        .into_iter()
        .map(|(pgrp, (start, _, mark))| crate::deploy::Marked {
            engine_id: ProcessId { pid: pgrp, start }.encode(),
            mark,
        })
        .collect()
}

/// The mark in a process's environment, if it is one svcmodel started (and this user
/// may read its environment).
fn mark_of(pid: u32) -> Option<crate::deploy::Mark> {
    let environ = fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{MARK_VARIABLE}=");
    environ
        .split(|b| *b == 0)
        .find_map(|entry| entry.strip_prefix(prefix.as_bytes()))
        .and_then(|value| crate::deploy::Mark::decode(std::str::from_utf8(value).ok()?))
}

/// What /proc/PID/stat says of a process.
struct ProcStat {
    state: char,
    pgrp: u32,
    start: u64,
}

impl ProcStat {
    /// Exited: a zombie or dead.
    fn gone(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// The processes of this machine, by pid (those this user may see).
fn pids() -> impl Iterator<Item = u32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
}

/// Fields 3 (state), 5 (process group) and 22 (start time) of /proc/PID/stat.
fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after its end.
    let fields: Vec<&str> = text[text.rfind(')')? + 2..].split_whitespace().collect();
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// The socket inodes listening on TCP `port` of this machine (any address, IPv4 or
/// IPv6), from /proc/net.
pub fn listeners(port: u16) -> Vec<u64> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let listening = *state == "0A";
            let on_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok())
                == Some(port);
            if listening
                && on_port
                && let Ok(inode) = inode.parse::<u64>()
                && inode != 0
            {
                inodes.push(inode);
            }
        }
    }
    inodes
}

/// The processes holding any of the socket `inodes` open, with their group ids: who
/// listens. Processes of other users are not visible (their descriptors cannot be
/// read).
fn socket_owners(inodes: &[u64]) -> Vec<(u32, u32)> {
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let mut owners = Vec::new();
    for pid in pids() {
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .is_ok_and(|target| wanted.iter().any(|w| target.as_os_str() == w.as_str()))
        });
        if holds && let Some(info) = proc_stat(pid) {
            owners.push((pid, info.pgrp));
        }
    }
    owners
}

/// "pid 4711 (`nginx`)".
fn describe(pid: u32) -> String {
    let command = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    format!("pid {pid} (`{}`)", command.trim())
}

/// Who listens on `port`: nobody, a process of one of the groups `ours` leads, or
/// someone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listener {
    Nobody,
    Ours,
    /// Who it is, as "pid 4711 (`nginx`)".
    Foreign(String),
}

pub fn listener(port: u16, ours: &[ProcessId]) -> Listener {
    let inodes = listeners(port);
    if inodes.is_empty() {
        return Listener::Nobody;
    }
    let owners = socket_owners(&inodes);
    if owners
        .iter()
        .any(|(_, pgrp)| ours.iter().any(|o| o.pid == *pgrp))
    {
        return Listener::Ours;
    }
    match owners.first() {
        Some((pid, _)) => Listener::Foreign(describe(*pid)),
        None => Listener::Foreign("a process of another user".to_string()),
    }
}

/// How a service's health is checked on this machine.
#[derive(Debug, Clone)]
pub enum Probe {
    Tcp {
        port: u16,
    },
    Http {
        port: u16,
        path: String,
        /// Extra request headers (names and values checked by the compiler: no line
        /// breaks).
        headers: Vec<(String, String)>,
    },
    Command {
        command: Vec<String>,
        workdir: Option<PathBuf>,
    },
}

/// One check on this machine, within `timeout`.
pub fn probe(probe: &Probe, timeout: Duration) -> Result<(), String> {
    probe_at(std::net::IpAddr::from([127, 0, 0, 1]), probe, timeout)
}

/// One check of a service listening at `ip`, within `timeout`.
pub fn probe_at(ip: std::net::IpAddr, probe: &Probe, timeout: Duration) -> Result<(), String> {
    match probe {
        Probe::Tcp { port } => connect(ip, *port, timeout).map(|_| ()),
        Probe::Http {
            port,
            path,
            headers,
        } => {
            let mut stream = connect(ip, *port, timeout)?;
            let _ = stream.set_read_timeout(Some(timeout));
            let _ = stream.set_write_timeout(Some(timeout));
            let extra: String = headers
                .iter()
                .map(|(name, value)| format!("{name}: {value}\r\n"))
                .collect();
            let request = format!(
                "GET {path} HTTP/1.0\r\nHost: {ip}:{port}\r\nUser-Agent: svcmodel\r\n{extra}\r\n"
            );
            stream
                .write_all(request.as_bytes())
                .map_err(|e| format!("cannot send the request: {e}"))?;
            // Read until the status line is complete: one read may return part of it.
            let mut head = Vec::new();
            let mut buffer = [0u8; 256];
            while !head.contains(&b'\n') && head.len() < 4096 {
                match stream.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => head.extend_from_slice(&buffer[..n]),
                    Err(e) => return Err(format!("no answer: {e}")),
                }
            }
            if head.is_empty() {
                return Err("the connection closed without an answer".to_string());
            }
            let line = String::from_utf8_lossy(&head);
            let status: u16 = line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| "not an HTTP answer".to_string())?;
            if (200..400).contains(&status) {
                Ok(())
            } else {
                Err(format!("HTTP {status}"))
            }
        }
        Probe::Command { command, workdir } => {
            let Some((program, args)) = command.split_first() else {
                return Err("the command is empty".to_string());
            };
            let mut cmd = Command::new(program);
            cmd.args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Some(dir) = workdir {
                cmd.current_dir(dir);
            }
            let mut child = cmd
                .spawn()
                .map_err(|e| format!("cannot run `{program}`: {e}"))?;
            let deadline = Instant::now() + timeout;
            loop {
                match child.try_wait() {
                    Ok(Some(status)) if status.success() => return Ok(()),
                    Ok(Some(status)) => return Err(format!("`{program}` exited with {status}")),
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(format!("`{program}` did not finish in {timeout:?}"));
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
    }
}

fn connect(ip: std::net::IpAddr, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let address = SocketAddr::from((ip, port));
    TcpStream::connect_timeout(&address, timeout).map_err(|e| format!("port {port}: {e}"))
}

/// Waits until `probe` passes, every `interval`, for at most `deadline`; fails early
/// when the process is gone.
pub fn wait_healthy(
    id: ProcessId,
    probe: Option<&Probe>,
    interval: Duration,
    timeout: Duration,
    deadline: Duration,
) -> Result<(), crate::deploy::EngineError> {
    use crate::deploy::{EngineError, EngineErrorKind};
    // Why the last check failed, for the message when the process then exits.
    let last = std::cell::RefCell::new(String::from("not checked yet"));
    let foreign = std::cell::Cell::new(false);
    crate::deploy::poll_healthy(
        deadline,
        // Until it is first healthy, look often: a deploy waits on this.
        interval.min(Duration::from_millis(200)),
        || {
            if !alive(id) {
                return Err(Unhealthy::Exited(last.borrow().clone()));
            }
            match probe {
                None => Ok(()),
                Some(p) => check_own(id, p, timeout).inspect_err(|e| match e {
                    Unhealthy::Not(why) => *last.borrow_mut() = why.clone(),
                    Unhealthy::Foreign(_) => foreign.set(true),
                    Unhealthy::Exited(_) => {}
                }),
            }
        },
        |e| !matches!(e, Unhealthy::Not(_)),
    )
    .map_err(|message| {
        let kind = if foreign.get() {
            EngineErrorKind::PortTaken
        } else {
            EngineErrorKind::Unhealthy
        };
        EngineError::new(kind, message)
    })
}

/// Why a check failed: not (yet) healthy, or the port is someone else's, which no
/// waiting mends.
enum Unhealthy {
    Not(String),
    Foreign(String),
    /// The process is gone, after the last check failed so.
    Exited(String),
}

impl std::fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unhealthy::Not(why) | Unhealthy::Foreign(why) => f.write_str(why),
            Unhealthy::Exited(last) => write!(f, "the process exited ({last})"),
        }
    }
}

/// One health check that counts only when the process group `id` leads is the one
/// listening: a probe of a port answered by another process (a leftover of an
/// interrupted run, a stranger) proves nothing about this service.
fn check_own(id: ProcessId, probe: &Probe, timeout: Duration) -> Result<(), Unhealthy> {
    if let Probe::Tcp { port } | Probe::Http { port, .. } = probe {
        match listener(*port, &[id]) {
            Listener::Nobody => {
                return Err(Unhealthy::Not(format!(
                    "nothing listens on port {port} yet"
                )));
            }
            Listener::Foreign(who) => {
                return Err(Unhealthy::Foreign(format!(
                    "port {port} is held by {who}, not by the process svcmodel started (pid {})",
                    id.pid
                )));
            }
            Listener::Ours => {}
        }
    }
    self::probe(probe, timeout).map_err(Unhealthy::Not)
}

/// The last lines of a log, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The local engine for [`crate::deploy`]: processes on this machine, logs under
/// `logs`, secrets read through `lookup` (the deploying machine's environment).
pub struct LocalEngine<'a> {
    pub logs: PathBuf,
    pub lookup: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// `svcmodel supervise`, which restarts a service by its policy; without it,
    /// processes run bare and nothing restarts them.
    pub supervisor: Option<PathBuf>,
}

impl LocalEngine<'_> {
    fn launch(&self, desired: &crate::deploy::Desired) -> Result<Launch, String> {
        let spec: crate::spec::LocalSpec = crate::spec::read(&desired.spec)?;
        let command = spec
            .command
            .iter()
            .map(|v| v.resolve(self.lookup))
            .collect::<Result<Vec<_>, _>>()?;
        let env = spec
            .env
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.resolve(self.lookup)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let workdir = match &spec.workdir {
            Some(v) => Some(PathBuf::from(v.resolve(self.lookup)?)),
            None => None,
        };
        let mut env = env;
        let command = match &self.supervisor {
            Some(supervisor) => {
                // The supervisor masks these variables' values in what the service
                // writes to its log: their names only, never a value, on its way.
                let secret_variables: Vec<&str> = spec
                    .env
                    .iter()
                    .filter(|(_, v)| {
                        matches!(v, crate::spec::SpecValue::Parts { parts }
                            if parts.iter().any(|p| matches!(p, crate::spec::SpecPart::Secret { .. })))
                    })
                    .map(|(k, _)| k.as_str())
                    .collect();
                if !secret_variables.is_empty() {
                    env.push((REDACT_VARIABLE.to_string(), secret_variables.join(",")));
                }
                let mut wrapped = vec![
                    supervisor.to_string_lossy().into_owned(),
                    "supervise".to_string(),
                    "--restart".to_string(),
                    spec.restart.clone(),
                    "--".to_string(),
                ];
                wrapped.extend(command);
                wrapped
            }
            None => command,
        };
        Ok(Launch {
            command,
            env,
            mark: None,
            workdir,
            log: self.logs.join(format!("{}.log", desired.name)),
        })
    }
}

fn probe_of(spec: &serde_json::Value) -> Option<(Probe, Duration, Duration)> {
    let spec: crate::spec::LocalSpec = crate::spec::read(spec).ok()?;
    let health = spec.health?;
    let probe = match health.kind.as_str() {
        "tcp" => Probe::Tcp { port: health.port? },
        "http" => Probe::Http {
            port: health.port?,
            path: health.path.unwrap_or_else(|| "/".to_string()),
            headers: health.headers.into_iter().collect(),
        },
        _ => Probe::Command {
            command: health.command,
            workdir: None,
        },
    };
    Some((
        probe,
        Duration::from_secs(health.interval_seconds),
        Duration::from_secs(health.timeout_seconds),
    ))
}

impl crate::deploy::Engine for LocalEngine<'_> {
    fn start(
        &self,
        desired: &crate::deploy::Desired,
        mark: &crate::deploy::Mark,
    ) -> Result<String, crate::deploy::EngineError> {
        let mut launch = self.launch(desired)?;
        launch.mark = Some(mark.encode());
        let id = start(&launch).map_err(|e| {
            format!(
                "cannot start `{}`: {e}",
                launch.command.first().map(String::as_str).unwrap_or("")
            )
        })?;
        Ok(id.encode())
    }

    fn start_operations(&self, desired: &crate::deploy::Desired) -> Vec<crate::deploy::Operation> {
        let Ok(spec) = crate::spec::read::<crate::spec::LocalSpec>(&desired.spec) else {
            return vec![crate::deploy::Operation::new(
                "start process group",
                desired.name.clone(),
            )];
        };
        let mut object = crate::spec::command_line(&spec.command);
        if let Some(dir) = &spec.workdir {
            object.push_str(&format!(" (in {})", dir.shown()));
        }
        if self.supervisor.is_some() {
            object.push_str(&format!(
                ", under `svcmodel supervise` (restart {})",
                spec.restart
            ));
        }
        vec![crate::deploy::Operation::new("start process group", object)]
    }

    fn stop_operations(&self, engine_id: &str) -> Vec<crate::deploy::Operation> {
        let object = match ProcessId::decode(engine_id) {
            Some(id) => format!("{} (SIGTERM, SIGKILL after 5 s)", id.pid),
            None => engine_id.to_string(),
        };
        vec![crate::deploy::Operation::new("stop process group", object)]
    }

    fn stop(&self, engine_id: &str) -> Result<(), crate::deploy::EngineError> {
        match ProcessId::decode(engine_id) {
            Some(id) => stop(id, Duration::from_secs(5)).map_err(Into::into),
            None => Err(format!("`{engine_id}` is not a local process").into()),
        }
    }

    fn find_marked(&self, project: &str, environment: &str) -> Vec<crate::deploy::Marked> {
        marked(project, environment)
    }

    fn same_instance(&self, a: &str, b: &str) -> bool {
        // A group is known by its id: its leader (the supervisor) may be gone.
        match (ProcessId::decode(a), ProcessId::decode(b)) {
            (Some(a), Some(b)) => a.pid == b.pid,
            _ => a == b,
        }
    }

    fn host_ports(&self, desired: &crate::deploy::Desired) -> Vec<u16> {
        let Ok(spec) = crate::spec::read::<crate::spec::LocalSpec>(&desired.spec) else {
            return Vec::new();
        };
        let mut ports: Vec<u16> = spec.ports.into_values().collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    fn port_holder(&self, port: u16, ours: &[&str]) -> Option<String> {
        let ours: Vec<ProcessId> = ours.iter().filter_map(|id| ProcessId::decode(id)).collect();
        match listener(port, &ours) {
            Listener::Foreign(who) => Some(who),
            Listener::Nobody | Listener::Ours => None,
        }
    }

    fn alive(&self, engine_id: &str) -> bool {
        ProcessId::decode(engine_id).is_some_and(alive)
    }

    fn wait_healthy(
        &self,
        engine_id: &str,
        spec: &serde_json::Value,
        deadline: Duration,
    ) -> Result<(), crate::deploy::EngineError> {
        let Some(id) = ProcessId::decode(engine_id) else {
            return Err(format!("`{engine_id}` is not a local process").into());
        };
        let probe = probe_of(spec);
        let (interval, timeout) = probe.as_ref().map_or(
            (Duration::from_secs(1), Duration::from_secs(1)),
            |(_, i, t)| (*i, *t),
        );
        let result = wait_healthy(
            id,
            probe.as_ref().map(|(p, _, _)| p),
            interval,
            timeout,
            deadline,
        );
        result.map_err(|error| {
            let log = self
                .logs
                .join(format!("{}.log", engine_log_name(spec).unwrap_or_default()));
            let tail = log_tail(&log, 3);
            if tail.is_empty() {
                error
            } else {
                crate::deploy::EngineError::new(
                    error.kind,
                    format!("{}; its log ends: {tail}", error.message),
                )
            }
        })
    }

    fn check(
        &self,
        engine_id: &str,
        spec: &serde_json::Value,
    ) -> Result<(), crate::deploy::EngineError> {
        let Some(id) = ProcessId::decode(engine_id) else {
            return Err(format!("`{engine_id}` is not a local process").into());
        };
        if !alive(id) {
            return Err(crate::deploy::EngineError::unhealthy("not running"));
        }
        match probe_of(spec) {
            None => Ok(()),
            Some((p, _, timeout)) => check_own(id, &p, timeout).map_err(|e| {
                let kind = match e {
                    Unhealthy::Foreign(_) => crate::deploy::EngineErrorKind::PortTaken,
                    _ => crate::deploy::EngineErrorKind::Unhealthy,
                };
                crate::deploy::EngineError::new(kind, e.to_string())
            }),
        }
    }

    fn usage(&self, engine_id: &str) -> Option<crate::deploy::Usage> {
        let (memory_bytes, cpu_seconds) = usage(ProcessId::decode(engine_id)?)?;
        Some(crate::deploy::Usage {
            memory_bytes,
            cpu_seconds,
        })
    }
}

/// The service a spec is for: its log is named after it.
fn engine_log_name(spec: &serde_json::Value) -> Option<String> {
    crate::spec::read::<crate::spec::LocalSpec>(spec)
        .ok()
        .map(|s| s.name)
}
