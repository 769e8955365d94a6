//! The clap types: every command, its flags and its help with examples.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "svcmodel",
    version,
    about = "Model a system of services, place it by business rules, deploy it and reconcile it",
    after_help = "Examples:
  svcmodel check examples/shop            check a model and everything it imports
  svcmodel check --format json model/     diagnostics as JSON, for editors and pipelines
  svcmodel fmt examples/                  format every .svc file below a folder
  svcmodel fmt --check .                  fail (exit 3) if a file is not formatted
  svcmodel explain E0301                  what a diagnostic means, with examples

Exit codes: 0 success, 1 model errors, 2 usage error, 3 files need formatting,
4 a file could not be read or written. See docs/commands.md."
)]
pub struct Cli {
    /// When to colour diagnostics.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// Print only errors: no progress lines, notes or warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more: how long each stage took, and each engine operation as it runs.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour when writing to a terminal and NO_COLOR is not set.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Diagnostics as a compiler prints them.
    Human,
    /// One JSON document on stdout (diagnostics: docs/diagnostics.md; results:
    /// docs/schema/).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, lower and check a model and everything it imports.
    #[command(after_help = "Examples:
  svcmodel check                          the model in the current folder
  svcmodel check examples/shop            a folder: every .svc file below it, and their imports
  svcmodel check bank.svc catalog/        several files and folders as one model
  svcmodel check --format json .          machine-readable diagnostics

The project root (imports may not leave it) is the nearest folder holding
`svcmodel.toml`, else the current folder; `--root` sets it.")]
    Check {
        /// Model files or folders (default: the current folder).
        paths: Vec<PathBuf>,
        #[command(flatten)]
        model: ModelArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Format model files in the one canonical layout, keeping every comment.
    #[command(after_help = "Examples:
  svcmodel fmt examples/                  rewrite every .svc file below a folder
  svcmodel fmt --check .                  list unformatted files, exit 3 if any
  svcmodel fmt --stdin < a.svc            format standard input to standard output

Files with syntax errors are left untouched and reported (exit 1).")]
    Fmt {
        /// Files or folders (default: the current folder). Imports are not followed.
        paths: Vec<PathBuf>,
        /// Change nothing; list the files that are not formatted and exit 3 if any.
        #[arg(long)]
        check: bool,
        /// Read a model from standard input and write it formatted to standard output.
        #[arg(long, conflicts_with_all = ["paths", "check", "format"])]
        stdin: bool,
        /// Output format: human, or JSON with every file and whether it was formatted.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Resolve the system: versions, instances, values, dependency graph.
    #[command(after_help = "Examples:
  svcmodel compile examples/bank                      a summary per environment
  svcmodel compile --format json -e dc-frankfurt examples/bank
  svcmodel compile -f values/prod.toml --set orders.workers=16 shop/
  svcmodel compile --locked .                         fail if svcmodel.lock is stale

The services of the files named are the system; services of imported files (a
catalog) join when something requires them. Values: defaults, then each -f file
([SERVICE] tables, then [environment.ENV.SERVICE] tables), then --set flags.")]
    Compile {
        #[command(flatten)]
        system: SystemArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Draw the dependency graph.
    #[command(after_help = "Examples:
  svcmodel graph examples/shop                        DOT, for Graphviz
  svcmodel graph --format mermaid examples/shop       for Markdown
  svcmodel graph --format svg examples/bank > bank.svg
  svcmodel graph --format json -e dc-frankfurt examples/bank")]
    Graph {
        #[command(flatten)]
        system: SystemArgs,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Place every service by the model's rules: environment, failure domains, reason.
    #[command(after_help = "Examples:
  svcmodel place examples/bank                        every landscape (environments sharing a tier)
  svcmodel place -e dc-frankfurt examples/bank        the landscape that holds dc-frankfurt
  svcmodel place --explain fraud examples/bank        every environment, with why it was or was not chosen
  svcmodel place --lose fra-r02 examples/bank         what if rack fra-r02 were lost
  svcmodel place --without eu-only examples/bank      what if a policy were dropped
  svcmodel place --format json examples/bank

Hard rules: require/forbid policies, spread over failure domains, capacity, latency
budgets and bandwidth on requirements, links between environments, near. The
objective is cost per hour plus the weights of unmet prefer rules.")]
    Place {
        #[command(flatten)]
        system: SystemArgs,
        /// List every environment for this service, with why it was or was not chosen.
        #[arg(long, value_name = "SERVICE")]
        explain: Option<String>,
        /// Choices the exact search may try per landscape before it settles for the
        /// best placement found (and says how far from the optimum it may be).
        #[arg(long, value_name = "N", default_value_t = 2_000_000)]
        max_nodes: u64,
        /// What if this failure domain or environment were lost: place, assess and
        /// warn as if it were out of service; repeatable.
        #[arg(long, value_name = "DOMAIN|ENV")]
        lose: Vec<String>,
        /// What if this policy were dropped: place and assess without it; repeatable.
        #[arg(long, value_name = "POLICY")]
        without: Vec<String>,
        /// List every move against the placement `svcmodel.lock` records (another
        /// environment, other failure domains), each with the rule, capacity or cost
        /// change that caused it.
        #[arg(long)]
        diff: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// What stops if an environment or failure domain is lost; single points of failure.
    #[command(after_help = "Examples:
  svcmodel risk examples/bank
  svcmodel risk --lose aws-eu-central examples/bank   the risk left after losing a region
  svcmodel risk --format json -e dc-frankfurt examples/bank

A service stops when every replica is lost or when a service it requires stops.
Always exits 0 on a placed model: gate on the JSON (`single_points_of_failure`).")]
    Risk {
        #[command(flatten)]
        system: SystemArgs,
        /// What if this failure domain or environment were lost: place, assess and
        /// warn as if it were out of service; repeatable.
        #[arg(long, value_name = "DOMAIN|ENV")]
        lose: Vec<String>,
        /// What if this policy were dropped: place and assess without it; repeatable.
        #[arg(long, value_name = "POLICY")]
        without: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Availability and latency of each entry point against the system's `slo`.
    #[command(after_help = "Examples:
  svcmodel slo examples/bank
  svcmodel slo --format json examples/bank

Exit code 5 when a target is not met. Replicas count as independent only in distinct
failure domains; services without `availability` count as always up (and are listed).")]
    Slo {
        #[command(flatten)]
        system: SystemArgs,
        /// What if this failure domain or environment were lost: place, assess and
        /// warn as if it were out of service; repeatable.
        #[arg(long, value_name = "DOMAIN|ENV")]
        lose: Vec<String>,
        /// What if this policy were dropped: place and assess without it; repeatable.
        #[arg(long, value_name = "POLICY")]
        without: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// A service's parameters: type, range, default, doc, and the value each has with
    /// where it comes from (default, values file, --set).
    #[command(after_help = "Examples:
  svcmodel describe products examples/shop
  svcmodel describe products -e local -f examples/shop/values/local.toml examples/shop
  svcmodel describe --format json products examples/shop")]
    Describe {
        /// A service or instance name.
        service: String,
        #[command(flatten)]
        system: SystemArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Show the chains of requirements that bring a service into the system.
    #[command(after_help = "Examples:
  svcmodel why postgres examples/bank
  svcmodel why rabbitmq -e dc-frankfurt examples/bank
  svcmodel why --format json postgres examples/bank")]
    Why {
        /// A service or instance name.
        service: String,
        #[command(flatten)]
        system: SystemArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Show everything affected, directly and transitively, if a service fails.
    #[command(after_help = "Examples:
  svcmodel impact postgres examples/bank
  svcmodel impact products examples/shop
  svcmodel impact --format json postgres examples/bank")]
    Impact {
        /// A service or instance name.
        service: String,
        #[command(flatten)]
        system: SystemArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Write `svcmodel.lock`: the resolved version and definition hash of each service.
    #[command(after_help = "Examples:
  svcmodel lock examples/bank                         keep locked versions that still fit
  svcmodel lock --update postgres examples/bank       re-resolve postgres, newest first

The lockfile lives in the first folder named (or beside the first file named).
`--locked` on other commands fails when it is missing or does not match the model.")]
    Lock {
        #[command(flatten)]
        system: SystemArgs,
        /// Ignore the locked version of this service; repeatable.
        #[arg(long, value_name = "SERVICE")]
        update: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Render deployment manifests for each environment's target.
    #[command(after_help = "Examples:
  svcmodel render -o rendered examples/bank           every environment, one folder each
  svcmodel render -e dc-frankfurt --stdout examples/bank
  svcmodel render --target compose -e local --stdout examples/shop
  svcmodel render --service orders --stdout examples/shop
  svcmodel render --view -e local examples/shop       the data templates see (JSON)

Each environment renders with its `target`; a project's templates/<target>/ folder
overrides built-in templates or defines a custom target (docs/targets.md). Secrets
are references, never values. Nothing is written when any diagnostic is an error.")]
    Render {
        #[command(flatten)]
        system: SystemArgs,
        /// Write into DIR/<environment>/ (replacing what svcmodel rendered there before).
        #[arg(
            short = 'o',
            long = "output",
            value_name = "DIR",
            conflicts_with = "stdout"
        )]
        output: Option<PathBuf>,
        /// Print every file to standard output, each after a `==> PATH <==` line (the
        /// default when no -o is given).
        #[arg(long)]
        stdout: bool,
        /// Render with this target instead of each environment's own.
        #[arg(long, value_name = "TARGET")]
        target: Option<String>,
        /// Render only this service (or per-consumer instance); repeatable.
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
        /// Print the view the templates see, as JSON, instead of rendering.
        #[arg(long)]
        view: bool,
        /// Output format: human, or JSON with every file's path, mode and contents.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Show what `deploy` would change: create, update, delete or unchanged per service.
    #[command(after_help = "Examples:
  svcmodel plan -e local examples/shop
  svcmodel plan -e local -f values/local.toml --format json examples/shop
  svcmodel plan -e local --operations examples/shop     each engine operation, wave by wave
  svcmodel plan --detailed-exitcode examples/shop       in a pipeline: 2 when there are changes

Exit codes: 0 the plan ran (changes or not), 1 model errors. With --detailed-exitcode,
as terraform: 0 no changes, 1 an error, 2 changes.")]
    Plan {
        #[command(flatten)]
        system: SystemArgs,
        /// Exit 0 without changes, 2 with changes and 1 on any error, as `terraform
        /// plan -detailed-exitcode`.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also list the exact operations the engine will perform (start this
        /// process, create this container from this image, apply this object, delete
        /// that one), in order, wave by wave; asks the engine what runs.
        #[arg(long)]
        operations: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Deploy one environment (-e) or all: dependency waves, health gates, rollback.
    #[command(after_help = "Examples:
  SVCMODEL_SECRET_PAYMENTS_PROVIDER_API_KEY=... svcmodel deploy -e local examples/shop
  svcmodel deploy -e local --yes --timeout 60 examples/shop        in a pipeline
  svcmodel deploy --yes landscape/                                 every environment, in waves

Secrets come from SVCMODEL_SECRET_<SERVICE>_<PARAM> on this machine. The state is
in .svcmodel/ at the project root. Exit codes: 0 deployed (or nothing to do), 1 model
errors, 2 deletes need --yes off a terminal, 4 the state or an engine cannot be used,
6 a wave failed (rolled back unless --no-rollback) or the run was refused before it
started, 7 the environment is locked.")]
    Deploy {
        #[command(flatten)]
        system: SystemArgs,
        /// Allow deleting services the model no longer has (no question asked).
        #[arg(long)]
        yes: bool,
        /// Keep a failed wave as it is instead of rolling it back.
        #[arg(long)]
        no_rollback: bool,
        /// Seconds one service may take to become healthy.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        timeout: u64,
        /// Seconds to wait for another run's lock on the environment.
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        lock_timeout: u64,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Desired against observed for every service: version, running, health, config.
    #[command(after_help = "Examples:
  svcmodel status -e local examples/shop
  svcmodel status -e local --format json examples/shop")]
    Status {
        #[command(flatten)]
        system: SystemArgs,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Report drift between the model and what runs; `--fix` converges back.
    #[command(after_help = "Examples:
  svcmodel reconcile -e local examples/shop
  svcmodel reconcile -e local --format junit examples/shop > drift.xml
  svcmodel reconcile -e local --fix examples/shop

Exit codes: 0 no drift (or all fixed), 5 drift, 6 --fix failed.")]
    Reconcile {
        #[command(flatten)]
        system: SystemArgs,
        /// Converge back to the model (never touches what the state does not record).
        #[arg(long)]
        fix: bool,
        /// With --fix: allow deleting services the model no longer has.
        #[arg(long)]
        yes: bool,
        /// Write the tuning advice as a values file (`-f FILE` applies it later).
        #[arg(long, value_name = "FILE")]
        write_values: Option<PathBuf>,
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        timeout: u64,
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        lock_timeout: u64,
        #[arg(long, value_enum, default_value_t = DriftFormat::Human)]
        format: DriftFormat,
    },
    /// Every operation deploy, destroy and reconcile --fix performed on an engine, from
    /// the audit log in .svcmodel/.
    #[command(after_help = "Examples:
  svcmodel audit examples/shop                  every run, oldest first
  svcmodel audit -e local --last examples/shop  the last run on `local`
  svcmodel audit --format json examples/shop

Each entry: when, which run and command, the engine call (start, stop, prune,
release), the operations it stood for, the engine id, the result and the service's
model hash. The log is .svcmodel/audit.jsonl, one JSON object per line.")]
    Audit {
        /// Model files or folders: the project whose log to read (default: the
        /// current folder).
        paths: Vec<PathBuf>,
        /// The project root (default: found from the first path).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Only this environment's entries.
        #[arg(short = 'e', long, value_name = "ENV")]
        environment: Option<String>,
        /// Only the last run (of the environment, with -e).
        #[arg(long)]
        last: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Stop and forget every service of one environment (-e) or of all.
    #[command(after_help = "Examples:
  svcmodel destroy -e local --yes examples/shop")]
    Destroy {
        #[command(flatten)]
        system: SystemArgs,
        /// Do not ask (required when not on a terminal).
        #[arg(long)]
        yes: bool,
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        lock_timeout: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Run a local service and restart it by its policy (the local engine starts every
    /// service under this; not for people).
    #[command(hide = true)]
    Supervise {
        /// always, on_failure or never.
        #[arg(long)]
        restart: String,
        /// The program and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Manage the state under .svcmodel/.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Print the JSON Schema of a command's JSON output.
    #[command(after_help = "Examples:
  svcmodel schema compile > compile.schema.json
  svcmodel schema graph")]
    Schema {
        #[arg(value_enum)]
        name: SchemaName,
    },
    /// Start a project: svcmodel.toml and a first model (one service, one environment)
    /// that checks, and deploys on `local` as it is.
    #[command(after_help = "Examples:
  svcmodel init shop && svcmodel deploy -e local shop
  svcmodel init --target kubernetes platform

Never overwrites: a folder that already holds svcmodel.toml or a .svc file is refused.")]
    Init {
        /// The project folder, made if missing (default: the current folder).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The environment's target: local, kubernetes, compose, swarm, nomad or
        /// systemd.
        #[arg(long, default_value = "local")]
        target: String,
        /// The port the first service listens on.
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// One self-contained HTML page about the model and what runs: the graph coloured
    /// by placement, the landscape, risk, service levels, cost, every placement's
    /// reason, and the plan and drift of what was deployed.
    #[command(after_help = "Examples:
  svcmodel report examples/bank > /tmp/bank.html
  svcmodel report --format json examples/shop

The page loads nothing (no script, font or image from elsewhere) and follows the
reader's light or dark colour scheme.")]
    Report {
        #[command(flatten)]
        system: SystemArgs,
        /// `human` is the HTML page; `json` the same data.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Print the completion script of a shell.
    #[command(after_help = "Examples:
  svcmodel completions bash > /etc/bash_completion.d/svcmodel
  svcmodel completions zsh > \"${fpath[1]}/_svcmodel\"
  svcmodel completions fish > ~/.config/fish/completions/svcmodel.fish
  svcmodel completions powershell >> $PROFILE")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages: svcmodel(1) and one per command (svcmodel-deploy(1), ...).
    #[command(after_help = "Examples:
  svcmodel man --out /usr/local/share/man/man1
  svcmodel man | man -l -                  read the main page at once")]
    Man {
        /// The folder to write `svcmodel.1` and `svcmodel-COMMAND.1` into; without it,
        /// the main page goes to standard output.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Explain a diagnostic code, with a wrong and a right example.
    #[command(after_help = "Examples:
  svcmodel explain E0301                  the long explanation of one code
  svcmodel explain --list                 every code with its one-line summary")]
    Explain {
        /// A diagnostic code such as E0301.
        #[arg(required_unless_present = "list")]
        code: Option<String>,
        /// List every code.
        #[arg(long)]
        list: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

/// What selects and completes a system: the model, an environment, values, the lock.
#[derive(Debug, Clone, clap::Args)]
pub struct SystemArgs {
    /// Model files or folders (default: the current folder).
    pub paths: Vec<PathBuf>,
    /// The project root: no model file or import may lie outside it (values files may).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Resolve for this environment only (default: every environment).
    #[arg(short = 'e', long = "environment", value_name = "ENV")]
    pub environment: Option<String>,
    /// A TOML values file; give several, the later wins.
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Set one parameter, over any values file; repeatable.
    #[arg(long = "set", value_name = "SERVICE.PARAM=VALUE")]
    pub set: Vec<String>,
    /// Fail if `svcmodel.lock` is missing or out of date (for pipelines).
    #[arg(long)]
    pub locked: bool,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Record in the state the services that run with this project's mark but that no
    /// state records (a state file deleted or replaced while they ran); the next deploy
    /// replaces them with the model's revision.
    Adopt {
        #[command(flatten)]
        system: SystemArgs,
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        lock_timeout: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Release a lock left by a run that is gone (the id is in the lock error).
    Unlock {
        /// The lock's id.
        #[arg(required_unless_present = "force")]
        id: Option<String>,
        /// Release the lock of the environment `-e` names whatever it says, even when
        /// it cannot be read; a lock a live run on this machine holds is never released.
        #[arg(long, requires = "environment", conflicts_with = "id")]
        force: bool,
        /// With --force: the environment whose lock to release.
        #[arg(short = 'e', long, value_name = "ENV")]
        environment: Option<String>,
        /// The project root (default: found from the current folder).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriftFormat {
    /// Each drift as a compiler diagnostic pointing at the model.
    Human,
    Json,
    Markdown,
    /// JUnit XML: a test case per service, a failure per drift.
    Junit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart, for Markdown.
    Mermaid,
    /// Nodes, edges and waves as JSON.
    Json,
    /// A self-contained SVG picture, drawn by svcmodel itself.
    Svg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaName {
    /// The output of `svcmodel compile --format json`.
    Compile,
    /// The output of `svcmodel graph --format json`.
    Graph,
    /// The output of `svcmodel render --format json`.
    Render,
    /// The output of `svcmodel place --format json`.
    Place,
    /// The output of `svcmodel risk --format json`.
    Risk,
    /// The output of `svcmodel slo --format json`.
    Slo,
    /// The output of `svcmodel check --format json`.
    Check,
    /// The output of `svcmodel fmt --format json`.
    Fmt,
    /// The output of `svcmodel why --format json`.
    Why,
    /// The output of `svcmodel impact --format json`.
    Impact,
    /// The output of `svcmodel lock --format json`.
    Lock,
    /// The output of `svcmodel plan --format json`.
    Plan,
    /// The output of `svcmodel deploy --format json`.
    Deploy,
    /// The output of `svcmodel status --format json`.
    Status,
    /// The output of `svcmodel reconcile --format json`.
    Reconcile,
    /// The output of `svcmodel destroy --format json`.
    Destroy,
    /// The output of `svcmodel state unlock --format json`.
    StateUnlock,
    /// The output of `svcmodel state adopt --format json`.
    StateAdopt,
    /// The output of `svcmodel explain --format json` (one code, or `--list`).
    Explain,
    /// The output of `svcmodel audit --format json`.
    Audit,
    /// The output of `svcmodel describe --format json`.
    Describe,
    /// The output of `svcmodel report --format json`.
    Report,
}

#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// The project root: no model file may lie outside it.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}
