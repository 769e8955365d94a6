//! Stable diagnostic codes. A code never changes meaning once released; a retired code
//! is never reused. `svcmodel explain CODE` prints the long text in [`crate::explain`].

use std::fmt;

macro_rules! codes {
    ($($variant:ident = $code:literal: $title:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// One line saying what the code is about.
            pub fn title(self) -> &'static str {
                match self {
                    $(Code::$variant => $title,)*
                }
            }
        }
    };
}

codes! {
    UnexpectedCharacter = "E0101": "a character that is not part of the language",
    UnterminatedString = "E0102": "a string without its closing quote",
    InvalidEscape = "E0103": "an unknown escape sequence in a string",
    UnexpectedToken = "E0104": "something other than what the grammar expects here",
    UnclosedDelimiter = "E0105": "a `{`, `[` or `(` that is never closed",
    NestingTooDeep = "E0106": "blocks or expressions nested too deeply",
    InvalidNumber = "E0107": "a malformed number",
    InvalidInterpolation = "E0108": "a `${...}` that is not a reference",
    FileTooLarge = "E0109": "a model file larger than the limit",
    CannotRead = "E0201": "a model file or import that cannot be read",
    ImportOutsideRoot = "E0202": "an import that leaves the project",
    ImportCycle = "E0203": "files that import each other in a cycle",
    NotUtf8 = "E0204": "a model file that is not UTF-8 text",
    CannotWrite = "E0205": "an output file or folder that cannot be written",
    UnknownCode = "E0206": "a diagnostic code svcmodel does not have",
    InternalError = "E0207": "a check svcmodel makes of itself that failed: a bug to report",
    UnknownKey = "E0301": "a key or block the enclosing block does not have",
    DuplicateKey = "E0302": "a key given twice in one block",
    DuplicateDeclaration = "E0303": "two declarations with the same name",
    MissingKey = "E0304": "a required key that is missing",
    WrongForm = "E0305": "an attribute written as a block, or the other way round",
    ConflictingKeys = "E0306": "keys that cannot be used together",
    TypeMismatch = "E0401": "a value of the wrong type",
    InvalidQuantity = "E0402": "a quantity with a wrong or missing unit",
    OutOfRange = "E0403": "a value outside its allowed range",
    UnknownChoice = "E0404": "a value that is not one of the allowed choices",
    InvalidVersion = "E0405": "a malformed version or version requirement",
    InvalidPattern = "E0406": "a malformed pattern, or a value that does not match it",
    SecretLiteral = "E0407": "a secret given a literal value in the model",
    InvalidParamType = "E0408": "an unknown parameter type",
    UnsafeName = "E0409": "a service or environment name that cannot be a file name",
    EmptyFailureDomain = "E0410": "a failure domain that holds none of the kind nested in it",
    UnknownService = "E0501": "a reference to a service that is not declared",
    UnknownPort = "E0502": "a reference to a port the service does not provide",
    UnknownParam = "E0503": "a reference to a parameter that is not declared",
    InvalidReference = "E0504": "a reference of the wrong shape",
    ServiceNotRequired = "E0505": "a reference to a service that is not required",
    UnknownEnvironment = "E0506": "a reference to an environment that is not declared",
    UnknownAttribute = "E0507": "a policy condition on an attribute that does not exist",
    UnknownTarget = "E0508": "an environment with an unknown target",
    SelfRequirement = "E0509": "a service that requires itself",
    UnknownConstant = "E0510": "a reference to a constant that is not declared",
    UnknownFailureDomain = "E0511": "a failure domain nested in one its environment does not declare",
    UnknownPolicy = "E0512": "a policy that the model does not declare, named on the command line",
    VersionConflict = "E0601": "requirements that no single version satisfies",
    NoMatchingVersion = "E0602": "a requirement that no version in the model satisfies",
    StaleLock = "E0603": "a lockfile that does not match the resolution",
    InvalidLockfile = "E0604": "a lockfile that cannot be read",
    DependencyCycle = "E0605": "services that require each other in a cycle",
    UnknownValueTarget = "E0606": "values for a service the model does not declare",
    UnknownValueParam = "E0607": "a value for a parameter the service does not declare",
    InvalidValuesFile = "E0608": "a values file that is not valid TOML or not shaped as one",
    MissingValue = "E0609": "a parameter with neither a default nor a value",
    SecretInValues = "E0610": "a secret given a value in a values file or flag",
    InvalidSet = "E0611": "a malformed `--set` flag",
    NameCollision = "E0612": "a per-consumer instance whose derived name is taken",
    TargetUnsupported = "E0701": "a model feature the environment's target cannot express",
    TargetInvalidName = "E0702": "a name the target's platform does not accept",
    Unrepresentable = "E0703": "a value that no engine can carry where it is used",
    PortClash = "E0704": "two services listening on one port of one host",
    TemplateFailed = "E0705": "a target template that fails to render",
    InvalidTarget = "E0706": "a custom target whose `target.toml` is missing or wrong",
    Unreachable = "E0707": "a dependency placed in another environment that declares no `address`",
    DriftMissing = "E0801": "a service of the model that is not deployed",
    DriftStopped = "E0802": "a deployed service that no longer runs",
    DriftUnhealthy = "E0803": "a deployed service whose health check fails",
    DriftExtra = "E0804": "a deployed service the model no longer has",
    DriftConfig = "E0805": "a deployed service whose configuration differs from the model",
    DriftVersion = "E0806": "a deployed service at another version than the model's",
    TuningAdvice = "E0807": "a service that uses much more or much less than it declares",
    DriftPlacement = "E0808": "a deployed service whose replicas run outside the failure domains placement chose",
    DriftMoved = "E0809": "a deployed service that placement moved to another environment",
    NoEnvironment = "E0901": "a service that no environment of its landscape allows",
    PlacementConflict = "E0902": "placement rules that cannot all hold together",
    PlacementUnknown = "E0903": "no placement found within the search budget",
    DegradedSpread = "E0904": "a spread rule that failure domains out of service keep from holding (a warning)",
    EngineUnreachable = "E1001": "an engine svcmodel cannot reach or use",
    StateUnusable = "E1002": "a state svcmodel cannot read or write",
    EnvironmentLocked = "E1003": "an environment another run holds",
    PortTaken = "E1004": "a port held by a process svcmodel did not start",
    UnrecordedServices = "E1005": "running services of the project that no state records",
    SecretUnset = "E1006": "a secret whose variable is not set on the deploying machine",
    NotDeployable = "E1007": "an environment whose target svcmodel does not deploy to",
    ConfirmationNeeded = "E1008": "a deletion that needs `--yes`",
    LockNotReleased = "E1009": "a lock that `state unlock` cannot release",
    DeployFailed = "E1010": "a deploy whose wave did not become healthy, or that could not delete",
}

impl Code {
    pub fn parse(text: &str) -> Option<Code> {
        let text = text.trim();
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
