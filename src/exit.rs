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
}
