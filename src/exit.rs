//! Exit codes: stable, documented in docs/commands.md, relied on by pipelines.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The command did what was asked; the model is clean.
    Success = 0,
    /// The model has errors (diagnostics were printed).
    ModelErrors = 1,
    /// The command line is wrong (also clap's code for usage errors).
    Usage = 2,
    /// `fmt --check`: some files are not formatted.
    NeedsFormatting = 3,
    /// Reading or writing a file failed, or svcmodel found a bug in itself.
    Failure = 4,
    /// `plan`: there are changes; `reconcile`: there is drift.
    Changes = 5,
    /// `deploy` (or `reconcile --fix`) failed; the state records what finished.
    DeployFailed = 6,
    /// Another run holds the environment's lock (past `--lock-timeout`).
    Locked = 7,
    /// `plan --detailed-exitcode`: there are changes (exit 2, terraform's convention).
    DetailedChanges = 8,
}

impl Exit {
    /// The process's exit status.
    pub fn code(self) -> i32 {
        match self {
            Exit::DetailedChanges => 2,
            other => other as i32,
        }
    }
}
