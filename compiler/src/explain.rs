//! The long explanations behind `svcmodel explain CODE`: what the diagnostic means, a
//! model that triggers it, and the same model corrected. A test compiles both examples.

use crate::codes::Code;

pub struct Explanation {
    pub code: Code,
    /// Paragraphs of plain text.
    pub text: &'static str,
    /// A complete model file that triggers the code.
    pub wrong: &'static str,
    /// The same model, corrected: it compiles cleanly. Empty where the code needs files
    /// on disk to show (imports); the test cases under `tests/cases/` cover those.
    pub right: &'static str,
}

pub fn explain(code: Code) -> Option<&'static Explanation> {
    EXPLANATIONS.iter().find(|e| e.code == code)
}

/// One explanation per code, in the order of [`Code::ALL`].
pub static EXPLANATIONS: &[Explanation] = &[
    Explanation {
        code: Code::UnexpectedCharacter,
        text: r#"
The file holds a character that means nothing in the model language, outside a string
or a comment. svcmodel reports it and skips it, so the rest of the file is still checked.

Most such characters are habits from other formats: a `;` at the end of a line, `:`
instead of `=`, single quotes around a string, or a single `&` or `|` in a condition.
End items with a new line (or a `,` between items on one line), assign with `=`, write
strings in double quotes and write `&&` and `||`. If the character belongs to a value,
put the whole value inside a double-quoted string.
"#,
        wrong: r#"service "orders" {
  version  = "2.3.1"
  image    = "shop/orders:2.3.1"
  replicas = 3;
}
"#,
        right: r#"service "orders" {
  version  = "2.3.1"
  image    = "shop/orders:2.3.1"
  replicas = 3
}
"#,
    },
    Explanation {
        code: Code::UnterminatedString,
        text: r#"
A string opens with `"` but its closing `"` is missing. A string ends on the line where
it starts: the model language has no multi-line strings, so the string is cut off at the
end of the line.

Add the closing `"` on the same line. Write a line break inside a string as `\n` and a
quote as `\"`. A `${` that is never closed with `}` also swallows the closing quote:
close the reference, or write `\${` for a literal `${`.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
    },
    Explanation {
        code: Code::InvalidEscape,
        text: r#"
A backslash in a string starts an escape, and this one is not an escape the language
knows. The escapes are `\n`, `\t`, `\r`, `\0`, `\\`, `\"`, `\$` and `\u{1F600}`. Any
other backslash is an error rather than being kept as it is, so that a regular
expression or a Windows path never silently means something else.

Write a literal backslash as `\\`: the regular expression `\d` is written `"\\d"` and
the path `C:\srv` is written `"C:\\srv"`.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"

  param "region" {
    type    = string
    pattern = "^[a-z]+-\d$"
  }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"

  param "region" {
    type    = string
    pattern = "^[a-z]+-\\d$"
    default = "eu-1"
  }
}
"#,
    },
    Explanation {
        code: Code::UnexpectedToken,
        text: r#"
The parser expected one thing and found another; the message says what it expected.
Common causes: two items on one line without a `,` between them, a key followed by
neither `=` nor `{`, nothing after `=`, a list whose items are not separated by `,`, or
a `}` that closes no block.

Put each item on its own line or separate items on one line with `,`, and write items
as `key = value` or `key "label" { ... }`. The parser skips to the next line and goes
on, so later mistakes are reported in the same run; fix the first one on a line first,
as what follows it on that line may only be a consequence.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  provides "http" { port = 8080 protocol = "http" }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  provides "http" { port = 8080, protocol = "http" }
}
"#,
    },
    Explanation {
        code: Code::UnclosedDelimiter,
        text: r#"
A `{`, `[` or `(` is never closed. The diagnostic points at the opening bracket. When a
`system`, `environment`, `service`, `policy` or `import` starts a line inside a block,
svcmodel takes it that the block before it is missing its `}` and says so there, instead
of reading the next declaration as part of the previous one.

Add the missing `}`, `]` or `)` where the block, list or group ends. Formatting the file
with `svcmodel fmt` once it parses makes the nesting easy to see.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  provides "http" { port = 8080 }

service "payments" {
  version = "1.4.0"
  image   = "shop/payments:1.4.0"
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  provides "http" { port = 8080 }
}

service "payments" {
  version = "1.4.0"
  image   = "shop/payments:1.4.0"
}
"#,
    },
    Explanation {
        code: Code::NestingTooDeep,
        text: r#"
Blocks, lists, maps, parentheses and `!` or `-` operators are nested more than 64 levels
deep. svcmodel stops there and skips the deeper part, so that no input can exhaust the
checker's stack. Hand-written models never come close; the usual cause is a generator or
a template that wraps a value again on every run.

Flatten the model: remove redundant parentheses and split deep structures into separate
top-level declarations.
"#,
        wrong: r#"policy "eu-only" {
  require = ((((((((((((((((((((((((((((((((
            ((((((((((((((((((((((((((((((((
            environment.jurisdiction == "EU"
            ))))))))))))))))))))))))))))))))
            ))))))))))))))))))))))))))))))))
}
"#,
        right: r#"policy "eu-only" {
  require = environment.jurisdiction == "EU"
}
"#,
    },
    Explanation {
        code: Code::InvalidNumber,
        text: r#"
A number is malformed: it has two decimal points (`1.2.3`), digits inside its unit
(`0x10`, `1e3`), or it is too large to represent.

Write a number in decimal, with an optional fraction, `_` between digits and a unit:
`8080`, `0.5`, `1_000_000`, `4Gi`. Hexadecimal and exponents are not part of the
language: write the number out in full. A version is a string: `version = "1.2.3"`.
"#,
        wrong: r#"service "orders" {
  version  = "2.3.1"
  image    = "shop/orders:2.3.1"
  replicas = 1e3
}
"#,
        right: r#"service "orders" {
  version  = "2.3.1"
  image    = "shop/orders:2.3.1"
  replicas = 1000
}
"#,
    },
    Explanation {
        code: Code::InvalidInterpolation,
        text: r#"
A string holds `${...}`, and what is inside the braces is not a reference, or the `${`
is never closed. Inside a string, `${...}` always holds a dotted name that svcmodel
resolves: `${param.NAME}`, `${self.PORT.port}`, `${SERVICE.PORT.host}` or `${version}`.
Shell syntax such as `${PORT:-8080}` is not a reference.

Write a reference the model knows, such as the service's own port. If the text is meant
for a shell or another tool and should stay as it is, escape the dollar: `\${PORT}`.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080 }

  run local {
    command = ["bin/orders", "--port", "${PORT:-8080}"]
  }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080 }

  run local {
    command = ["bin/orders", "--port", "${self.http.port}"]
  }
}
"#,
    },
    Explanation {
        code: Code::FileTooLarge,
        text: r#"
A model file is larger than 16 MiB, so svcmodel does not read it at all. A model that
large is almost always generated, or the path names something that is not a model (a
log, a dump, an archive).

Check that the path names the model you meant. If the model really is that large, split
it into several files in a folder and import the folder: `import "services"` reads every
`.svc` file below it.
"#,
        wrong: r#"# main.svc: about 30 MiB of generated services in one file
service "orders-000001" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}

# ... and 300 000 more services like it
"#,
        right: "",
    },
    Explanation {
        code: Code::CannotRead,
        text: r#"
A file named on the command line or in an `import` cannot be read: it does not exist,
permission is denied, or the import names a folder that holds no `.svc` files. Imports
are relative to the file that holds them, not to the current folder; the help suggests
the name you probably meant.

Correct the path, create the file, or remove the import.
"#,
        wrong: r#"import "catalgo"

service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
        right: "",
    },
    Explanation {
        code: Code::ImportOutsideRoot,
        text: r#"
An import leaves the project: it climbs above the project root with `..`, is an absolute
path, or goes through a symlink that points out of the project. The root is the folder
given with `--root`, else the nearest folder holding `svcmodel.toml`, else the current
folder. Keeping every file inside the root makes a model the same wherever it is checked
out and stops a model from reading arbitrary files.

Move or copy the shared files into the project and import them with a relative path, or
pass `--root` with a folder that holds all of them.
"#,
        wrong: r#"import "../../shared/postgres.svc"

service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
        right: "",
    },
    Explanation {
        code: Code::ImportCycle,
        text: r#"
Files import each other in a cycle: `a.svc` imports `b.svc` and `b.svc` imports `a.svc`,
directly or through other files. A file can also import itself, for example by
importing the folder it lies in. The message lists the files on the cycle, and the label
points at the import that closes it.

A model has no order between files, so a cycle is never needed. Move what both files
need into a third file that imports neither, and import that file from both; or let the
entry file import the others, and no file import the entry file.
"#,
        wrong: r#"# main.svc imports the folder it lies in, and with it itself
import "."

service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
        right: "",
    },
    Explanation {
        code: Code::NotUtf8,
        text: r#"
A model file is not UTF-8 text. This usually means an editor saved it in another
encoding, such as Latin-1 or Windows-1252, where a character like `é` is one byte that
UTF-8 does not accept. The label points at the first such byte; the file is not checked
further.

Save the file as UTF-8 (every editor offers it), or convert it, e.g.
`iconv -f latin1 -t utf-8 main.svc`.
"#,
        wrong: r#"# saved as Latin-1 (ISO-8859-1), not as UTF-8
service "orders" {
  version     = "2.3.1"
  image       = "shop/orders:2.3.1"
  description = "Commandes du café"
}
"#,
        right: "",
    },
    Explanation {
        code: Code::CannotWrite,
        text: r#"
svcmodel could not write what a command makes: the folder of `render -o`, the lockfile,
a values file from `reconcile --write-values`, the man pages of `svcmodel man --out`,
or standard output. The folder does not exist and cannot be made, permission is
denied, the disk is full, or (for `render -o`) the folder holds files svcmodel did not
write, which it never replaces. Nothing is left half written: `render -o` keeps the
previous output, the lockfile is replaced as a whole.

Choose a folder you can write, free space, or move the foreign files away, and run the
command again.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
        right: "",
    },
    Explanation {
        code: Code::UnknownCode,
        text: r#"
`svcmodel explain` was given something that is not one of svcmodel's diagnostic codes.
Codes are an `E` and four digits (`E0301`); the help names the closest one.

Run `svcmodel explain --list` to see every code with its one-line summary.
"#,
        wrong: "",
        right: "",
    },
    Explanation {
        code: Code::InternalError,
        text: r#"
svcmodel checks its own work where a mistake would cost a user data or a wrong result:
the formatter formats its own output again and compares, the built-in targets must all
be there. One of these checks failed. Nothing was written: the file or folder is as it
was.

This is a bug in svcmodel. Report it with the command and the file that caused it.
"#,
        wrong: "",
        right: "",
    },
    Explanation {
        code: Code::UnknownKey,
        text: r#"
A block holds a key it does not have. Each block has a fixed set of keys, and svcmodel
reports any other rather than ignoring it, because an ignored, misspelt key would
silently drop the setting it was meant to make. The same code reports an unknown
declaration at the top of a file and an unknown function in `config`.

Correct the spelling (the help suggests the closest key) or remove the key. The message
names the block, and the help lists the keys it accepts.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  replica = 3
}
"#,
        right: r#"service "orders" {
  version  = "2.3.1"
  image    = "shop/orders:2.3.1"
  replicas = 3
}
"#,
    },
    Explanation {
        code: Code::DuplicateKey,
        text: r#"
The same key is given twice in one block, or the same name is listed twice where names
must be unique: two `provides "http"`, two `requires "postgres"`, a choice repeated in
`enum(...)`, a map key or a failure domain given twice. svcmodel never lets the later
one silently win: two values for one setting are almost always a mistake, and which one
was meant is for you to say.

Keep one of them and remove the other; merge two requirements of the same service into
one block.
"#,
        wrong: r#"service "orders" {
  version  = "2.3.1"
  image    = "shop/orders:2.3.1"
  replicas = 2
  replicas = 3
}
"#,
        right: r#"service "orders" {
  version  = "2.3.1"
  image    = "shop/orders:2.3.1"
  replicas = 3
}
"#,
    },
    Explanation {
        code: Code::DuplicateDeclaration,
        text: r#"
Two declarations have the same name. Environments and policies are known by their name,
services by their name and version, and a model has one `system`. Duplicates are errors
wherever they are, in one file or in two: neither declaration silently replaces the
other.

Rename or remove one of them. If a catalog is meant to hold two versions of a service,
give each its own `version`.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}

service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.4.0"
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}

service "orders" {
  version = "2.4.0"
  image   = "shop/orders:2.4.0"
}
"#,
    },
    Explanation {
        code: Code::MissingKey,
        text: r#"
A required key is missing. A service needs a `version`, and `image` or `run local` to
say what runs; an environment needs a `target`; a parameter needs a `type`; a port needs
a `port`; a policy needs one rule; a `health` block needs `tcp`, `http` or `command`;
`run local` needs a `command`.

Add the key; the help shows an example of it.
"#,
        wrong: r#"service "orders" {
  image = "shop/orders:2.3.1"
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
    },
    Explanation {
        code: Code::WrongForm,
        text: r#"
A key is written in the wrong form: an attribute written as a block, a block written as
an attribute, or a label missing or added. Each key has one form: `key = value` for an
attribute, `key { ... }` for a block, `key "label" { ... }` for a labelled block such
as `service`, `provides` or `param`.

Write the key in the form the message shows. For a block, drop the `=`; for an
attribute, add it.
"#,
        wrong: r#"service "orders" {
  version   = "2.3.1"
  image     = "shop/orders:2.3.1"
  resources = { cpu = 500m, memory = 512Mi }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  resources { cpu = 500m, memory = 512Mi }
}
"#,
    },
    Explanation {
        code: Code::ConflictingKeys,
        text: r#"
Two keys are given that cannot be used together, or a key is given where it does not
apply: a `health` block with more than one kind of check, `path` without an `http`
check, a policy with two rules, `weight` outside a `prefer` rule, `services` outside a
`spread` rule, or a `pattern` or `range` on a parameter whose type does not take one.

Keep the one you meant and remove the other. A policy holds one rule, so that each rule
has its own `because`: split two rules into two policies.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  provides "http" { port = 8080, protocol = "http" }

  health {
    tcp  = "http"
    http = "http"
    path = "/healthz"
  }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  provides "http" { port = 8080, protocol = "http" }

  health {
    http = "http"
    path = "/healthz"
  }
}
"#,
    },
    Explanation {
        code: Code::TypeMismatch,
        text: r#"
A value has the wrong type: a string where a number is needed, a number where a string
is needed, a map where a list is needed, and so on. svcmodel does not convert values
for you: `"3"` is a string, and `3` is a number. In a policy, both sides of a comparison
must have the same type.

Write the value in the type the message names: numbers and `true`/`false` without
quotes, text in double quotes, lists in `[...]` and maps in `{ ... }`.
"#,
        wrong: r#"service "orders" {
  version  = "2.3.1"
  image    = "shop/orders:2.3.1"
  replicas = "3"
}
"#,
        right: r#"service "orders" {
  version  = "2.3.1"
  image    = "shop/orders:2.3.1"
  replicas = 3
}
"#,
    },
    Explanation {
        code: Code::InvalidQuantity,
        text: r#"
A quantity has a unit its kind does not accept, or has no unit where one is needed. A
bare `512` could mean bytes or megabytes, so sizes, durations and bandwidths always take
a unit (only `0` may stand alone). The units are:

sizes `B`, `k`, `M`, `G`, `T`, `P` (powers of 1000) and `Ki`, `Mi`, `Gi`, `Ti`, `Pi`
(powers of 1024); durations `ns`, `us`, `ms`, `s`, `m`, `h`, `d`; bandwidths `bps`,
`Kbps`, `Mbps`, `Gbps`, `Tbps`; cpu in cores (`2`, `0.5`) or millicores (`250m`);
percentages with `%`. Keys that take a plain number take no unit at all.

Write the unit svcmodel knows; the help suggests the one you probably meant, e.g. `Gi`
or `G` for `GB`.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  resources { cpu = 500m, memory = 512MB }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  resources { cpu = 500m, memory = 512Mi }
}
"#,
    },
    Explanation {
        code: Code::OutOfRange,
        text: r#"
A value lies outside the range its key allows: a port outside 1 to 65535, `replicas`
outside 1 to 10000, a percentage outside 0% to 100%, a negative size, duration or cost,
a quantity finer than its smallest unit (half a nanosecond), a parameter default outside
its `range`, or a `range` whose low end is above its high end.

Choose a value inside the range; the message states the limits.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  provides "http" { port = 80800 }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  provides "http" { port = 8080 }
}
"#,
    },
    Explanation {
        code: Code::UnknownChoice,
        text: r#"
A key that takes one of a fixed set of values was given another. The choices are:
`criticality` "low", "medium", "high" or "critical"; `instancing` "shared" or
"per_consumer"; `restart` "always", "on_failure" or "never"; a port's `protocol` "tcp",
"udp", "http", "https" or "grpc"; `spread` "zone", "cluster", "rack" or "hypervisor";
`run` takes the label `local`; and an `enum(...)` parameter takes the values it lists.

Use one of the choices the message lists; the help suggests the closest one.
"#,
        wrong: r#"service "orders" {
  version     = "2.3.1"
  image       = "shop/orders:2.3.1"
  criticality = "urgent"
}
"#,
        right: r#"service "orders" {
  version     = "2.3.1"
  image       = "shop/orders:2.3.1"
  criticality = "high"
}
"#,
    },
    Explanation {
        code: Code::InvalidVersion,
        text: r#"
A version is not a semantic version, or a version requirement cannot be parsed. A
service's `version` is a full `MAJOR.MINOR.PATCH`, such as `"16.2.0"`: svcmodel compares
versions to match requirements, and `"16.2"` or `"latest"` cannot be compared. The tag of
the container image may differ; it goes in `image`.

Write the full version, e.g. `"16.2.0"`. Write requirements (in `requires` and `use`)
as semver requirements such as `"^16"`, `">=1.2, <2"` or `"*"`.
"#,
        wrong: r#"service "postgres" {
  version = "16.2"
  image   = "postgres:16.2"
}
"#,
        right: r#"service "postgres" {
  version = "16.2.0"
  image   = "postgres:16.2"
}
"#,
    },
    Explanation {
        code: Code::InvalidPattern,
        text: r#"
A parameter's `pattern` is not a valid regular expression, or its `default` does not
match the pattern. Patterns use the syntax of Rust's `regex` crate, and a pattern
matches anywhere in the value unless anchored with `^` and `$`.

Fix the expression (the label says what is wrong with it), or change the default so
that it matches. Remember that a backslash in a string is written `\\`.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"

  param "region" {
    type    = string
    pattern = "^[a-z]+-[a-z]+$"
    default = "EU-West"
  }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"

  param "region" {
    type    = string
    pattern = "^[a-z]+-[a-z]+$"
    default = "eu-west"
  }
}
"#,
    },
    Explanation {
        code: Code::SecretLiteral,
        text: r#"
A `secret` parameter is given a value in the model. Secrets never belong in the model:
model files are committed, shared, reviewed and printed in plans, and a secret written
in one leaks to everyone who can read them.

Remove the value, and supply the secret when deploying, from a secret store or the
environment. If a real secret was ever committed, treat it as leaked and rotate it.
"#,
        wrong: r#"service "payments" {
  version = "1.4.0"
  image   = "shop/payments:1.4.0"

  param "api_key" {
    type    = secret
    default = "hunter2"
  }
}
"#,
        right: r#"service "payments" {
  version = "1.4.0"
  image   = "shop/payments:1.4.0"

  param "api_key" {
    type = secret
  }
}
"#,
    },
    Explanation {
        code: Code::InvalidParamType,
        text: r#"
A parameter's `type` is not a type svcmodel knows. The types are `int`, `float`, `bool`,
`string`, `duration`, `size`, `bandwidth`, `percent`, `cpu`, `secret`,
`enum("a", "b")`, `list(T)` and `map(T)`. A type is a name, not a string: write
`type = int`, not `type = "int"`.

Use one of these types; the help suggests the closest one.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"

  param "workers" {
    type    = integer
    default = 4
  }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"

  param "workers" {
    type    = int
    default = 4
  }
}
"#,
    },
    Explanation {
        code: Code::UnsafeName,
        text: r#"
A service or environment name becomes a file or folder name when svcmodel deploys or
renders: the log file of a local process, the state file of an environment, the folder
`svcmodel render -o` writes an environment into. A name that holds `/`, starts with `.`
or is `..` would name a file outside that folder, so it is refused on every target.

A name may hold ASCII letters, digits, `-`, `_` and `.`, must start with a letter or a
digit and may be at most 128 bytes long. Rename the service or environment; the help
suggests a name.
"#,
        wrong: r#"service "../orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
    },
    Explanation {
        code: Code::EmptyFailureDomain,
        text: r#"
An environment declares a kind of failure domain nested in the kind above it (`rack =
{ room-a = [...] }` lists the racks of each room), and one domain of the kind above
holds none of them. Every replica gets one path down the tree, room, then rack, so
nothing could ever be placed in that room, and counting it as a room to spread over
would promise a spread that cannot happen.

List what the domain holds, or remove it.
"#,
        wrong: r#"environment "dc" {
  target          = "kubernetes"
  failure_domains = {
    zone = ["room-a", "room-b"]
    rack = { room-a = ["a-r01", "a-r02"] }
  }
}
"#,
        right: r#"environment "dc" {
  target          = "kubernetes"
  failure_domains = {
    zone = ["room-a", "room-b"]
    rack = { room-a = ["a-r01", "a-r02"], room-b = ["b-r01"] }
  }
}
"#,
    },
    Explanation {
        code: Code::UnknownService,
        text: r#"
A service is named that the model does not declare: in `requires`, `near`, a reference
such as `${postgres.sql.host}`, a policy's `services` or `use`, or a system's
`entrypoints`.

Correct the name (the help suggests the closest declared service), declare the service,
or import the file or catalog that declares it.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  requires "postgress"
}

service "postgres" {
  version = "16.2.0"
  image   = "postgres:16.2"
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  requires "postgres"
}

service "postgres" {
  version = "16.2.0"
  image   = "postgres:16.2"
}
"#,
    },
    Explanation {
        code: Code::UnknownPort,
        text: r#"
A port is named that the service does not provide: in a reference such as
`${postgres.sql.host}`, a requirement's `via`, or a health check's `tcp` or `http`. A
service's ports are the names of its `provides` blocks.

Use a port the service provides (the help lists them), or add a `provides` block for the
port to the service.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  requires "postgres"

  config {
    env "DATABASE_HOST" = "${postgres.postgresql.host}"
  }
}

service "postgres" {
  version = "16.2.0"
  image   = "postgres:16.2"
  provides "sql" { port = 5432 }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  requires "postgres"

  config {
    env "DATABASE_HOST" = "${postgres.sql.host}"
  }
}

service "postgres" {
  version = "16.2.0"
  image   = "postgres:16.2"
  provides "sql" { port = 5432 }
}
"#,
    },
    Explanation {
        code: Code::UnknownParam,
        text: r#"
A reference names a parameter the service does not declare, as `param.NAME` or
`${param.NAME}`. A service sees only its own parameters, declared with
`param "NAME" { ... }`.

Correct the name (the help suggests the closest parameter) or declare the parameter.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"

  param "workers" {
    type    = int
    default = 4
  }

  config {
    env "WORKERS" = param.worker
  }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"

  param "workers" {
    type    = int
    default = 4
  }

  config {
    env "WORKERS" = param.workers
  }
}
"#,
    },
    Explanation {
        code: Code::InvalidReference,
        text: r#"
A reference has the wrong shape, or stands where references are not allowed. The
references are `param.NAME`, `version`, `self.name`, `self.dir`, `self.PORT.FIELD` and
`SERVICE.PORT.FIELD`, where FIELD is `host`, `port`, `url` or `address`. References are resolved
only in `config`, `image`, `run` and `health` commands; a key that takes a plain string,
such as `description`, cannot hold `${...}`.

Complete the reference, e.g. `${postgres.sql}` to `${postgres.sql.url}`, or write the
value itself where a plain string is needed.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  requires "postgres"

  config {
    env "DATABASE_URL" = "${postgres.sql}"
  }
}

service "postgres" {
  version = "16.2.0"
  image   = "postgres:16.2"
  provides "sql" { port = 5432 }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  requires "postgres"

  config {
    env "DATABASE_URL" = "${postgres.sql.url}"
  }
}

service "postgres" {
  version = "16.2.0"
  image   = "postgres:16.2"
  provides "sql" { port = 5432 }
}
"#,
    },
    Explanation {
        code: Code::ServiceNotRequired,
        text: r#"
A service refers to another service's port, as in `${postgres.sql.host}`, without
requiring that service. svcmodel derives the order of deployment and the connections it
must allow from `requires`, so a service may only use what it requires; an unrequired
reference would be a dependency nothing knows about.

Add `requires "SERVICE"` to the service that holds the reference.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"

  config {
    env "DATABASE_URL" = "${postgres.sql.url}"
  }
}

service "postgres" {
  version = "16.2.0"
  image   = "postgres:16.2"
  provides "sql" { port = 5432 }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  requires "postgres"

  config {
    env "DATABASE_URL" = "${postgres.sql.url}"
  }
}

service "postgres" {
  version = "16.2.0"
  image   = "postgres:16.2"
  provides "sql" { port = 5432 }
}
"#,
    },
    Explanation {
        code: Code::UnknownEnvironment,
        text: r#"
An environment's `link` names an environment that the model does not declare, or the
environment itself. A link joins two different declared environments.

Correct the name (the help suggests the closest declared environment), declare the
environment, or remove the link.
"#,
        wrong: r#"environment "eu-west" {
  target = "kubernetes"
  link "us-east1" { latency = 80ms }
}

environment "us-east" {
  target = "kubernetes"
}
"#,
        right: r#"environment "eu-west" {
  target = "kubernetes"
  link "us-east" { latency = 80ms }
}

environment "us-east" {
  target = "kubernetes"
}
"#,
    },
    Explanation {
        code: Code::UnknownAttribute,
        text: r#"
A policy condition reads an attribute that does not exist. A condition starts with
`service.` or `environment.`. A service has `name`, `version`, `criticality`,
`instancing`, `replicas`, `availability`, `data.classification`, `data.size`,
`resources.cpu`, `resources.memory` and `labels.NAME`; an environment has `name`,
`target`, `provider`, `jurisdiction`, `region`, `tier`, `capacity.cpu`,
`capacity.memory` and `labels.NAME`. svcmodel rejects other names instead of treating
them as empty, so that a misspelt attribute never makes a rule silently pass or fail.

Use one of these attributes; the help suggests the closest one. Write text to compare
with in double quotes.
"#,
        wrong: r#"policy "pii-stays-in-eu" {
  when    = service.classification == "pii"
  require = environment.jurisdiction == "EU"
  because = "personal data stays in the EU"
}
"#,
        right: r#"policy "pii-stays-in-eu" {
  when    = service.data.classification == "pii"
  require = environment.jurisdiction == "EU"
  because = "personal data stays in the EU"
}
"#,
    },
    Explanation {
        code: Code::UnknownTarget,
        text: r#"
An environment's `target` is not a platform svcmodel can deploy to. The built-in
targets are "kubernetes", "compose", "swarm", "nomad", "systemd" and "local"; a
project adds its own as a folder `templates/TARGET/` with a `target.toml` beside its
`svcmodel.toml` (docs/targets.md).

Use one of these names, spelt out in full, or create the custom target's folder.
"#,
        wrong: r#"environment "production" {
  target = "k8s"
}
"#,
        right: r#"environment "production" {
  target = "kubernetes"
}
"#,
    },
    Explanation {
        code: Code::SelfRequirement,
        text: r#"
A service lists itself under `requires`. A service cannot wait for itself to become
healthy, and a dependency on itself says nothing about where it must run.

Remove the requirement. If the service talks to its own replicas, that needs no
`requires`; if it needs another service with a similar name, name that one.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  provides "http" { port = 8080 }
  requires "orders" { via = "http" }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  provides "http" { port = 8080 }
}
"#,
    },
    Explanation {
        code: Code::UnknownConstant,
        text: r#"
A service refers to `const.NAME`, and no file of the model declares a constant of that
name. Constants are declared at the top of any file of the model (`const "NAME" =
value`) and every service can refer to them.

Declare the constant, or correct the name to one that is declared.
"#,
        wrong: r#"const "JVM_OPTS" = "-Xms256m -Xmx512m"

service "ledger" {
  version = "1.0.0"
  image   = "bank/ledger:1.0.0"
  config {
    env "JAVA_OPTS" = const.JVM_OTPS
  }
}
"#,
        right: r#"const "JVM_OPTS" = "-Xms256m -Xmx512m"

service "ledger" {
  version = "1.0.0"
  image   = "bank/ledger:1.0.0"
  config {
    env "JAVA_OPTS" = const.JVM_OPTS
  }
}
"#,
    },
    Explanation {
        code: Code::UnknownFailureDomain,
        text: r#"
A kind of failure domain is declared nested: a map from each domain of the nearest
declared kind above it to the domains it holds (`rack = { room-a = ["a-r01"] }`: rack
`a-r01` stands in room `room-a`). A key names a domain that the kind above does not
list, or no kind above is declared at all, so the tree has no root there.

Name a declared domain (the help suggests the closest), declare the one named, or
write the kind as a plain list if its domains stand apart from the others.
"#,
        wrong: r#"environment "dc" {
  target          = "kubernetes"
  failure_domains = {
    zone = ["room-a", "room-b"]
    rack = { room-a = ["a-r01"], rooom-b = ["b-r01"] }
  }
}
"#,
        right: r#"environment "dc" {
  target          = "kubernetes"
  failure_domains = {
    zone = ["room-a", "room-b"]
    rack = { room-a = ["a-r01"], room-b = ["b-r01"] }
  }
}
"#,
    },
    Explanation {
        code: Code::UnknownPolicy,
        text: r#"
`--without POLICY` on `place`, `risk` or `slo` names a policy the model does not
declare, or a `use` policy: those pick versions as each environment resolves, not
placement, so dropping one for a what-if would change the system itself. The help names
the closest policy.

Name a placement policy (`require`, `forbid`, `prefer` or `spread`) the model declares;
to try without a `use` rule, edit the model.
"#,
        wrong: "",
        right: "",
    },
    Explanation {
        code: Code::VersionConflict,
        text: r#"
Two or more requirements on one service cannot all be met by a single version. svcmodel
chooses one version per service name for the whole system (per-consumer instances
too), so every consumer gets the same version; when their requirements do not overlap,
no version can be chosen. A version rule (`use`) that allows no version the consumers
accept is reported here too. Every requirement involved is labelled.

Change one requirement so that the requirements overlap, or add a version to the
catalog that satisfies them all.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  requires "postgres" { version = "^15" }
}

service "reports" {
  version = "1.0.4"
  image   = "shop/reports:1.0.4"
  requires "postgres" { version = "^14" }
}

service "postgres" {
  version = "15.6.0"
  image   = "postgres:15.6"
}

service "postgres" {
  version = "14.11.0"
  image   = "postgres:14.11"
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  requires "postgres" { version = "^15" }
}

service "reports" {
  version = "1.0.4"
  image   = "shop/reports:1.0.4"
  requires "postgres" { version = ">=14" }
}

service "postgres" {
  version = "15.6.0"
  image   = "postgres:15.6"
}

service "postgres" {
  version = "14.11.0"
  image   = "postgres:14.11"
}
"#,
    },
    Explanation {
        code: Code::NoMatchingVersion,
        text: r#"
A requirement names a version range that no version of the service in the model falls
in: the catalog does not hold such a version. The help lists the versions it holds.

Relax the requirement to a version the catalog holds, or add the version it asks for.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  requires "postgres" { version = "^17" }
}

service "postgres" {
  version = "16.2.0"
  image   = "postgres:16.2"
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  requires "postgres" { version = "^16" }
}

service "postgres" {
  version = "16.2.0"
  image   = "postgres:16.2"
}
"#,
    },
    Explanation {
        code: Code::StaleLock,
        text: r#"
`svcmodel.lock` does not match what the model resolves to today: a service is locked
at a version that no longer fits, a definition changed since it was locked (its content
hash differs), a resolved service is not locked, or a locked one is no longer used.
With `--locked` (for pipelines) this is an error, and `--locked` without a lockfile is
one too; otherwise it is a warning.

Run `svcmodel lock`, review the change to the lockfile, and commit it.
"#,
        wrong: r#"# svcmodel.lock pins postgres at 15.6.0, but the model now asks for ^16:
service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  requires "postgres" { version = "^16" }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::InvalidLockfile,
        text: r#"
`svcmodel.lock` is not a lockfile this svcmodel can read: it is not valid TOML, it is
of another format version, or an entry lacks its version or hash. svcmodel never edits
a lockfile it cannot read.

Delete it and run `svcmodel lock` to write it anew, then review and commit it.
"#,
        wrong: r#"# svcmodel.lock holds `version = 2`, a format this svcmodel does not read.
service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
        right: "",
    },
    Explanation {
        code: Code::DependencyCycle,
        text: r#"
Services require each other in a cycle, so there is no order in which to start them:
each waits for the next to be healthy. The message spells out the cycle, and each
requirement on it is labelled.

Real systems have calls both ways; a call that does not need the other side to be up
before starting should say `ordering = false`, which keeps the edge for placement and
reports but takes it out of the deploy order. Otherwise remove one requirement.
"#,
        wrong: r#"service "orders" {
  version = "1.0.0"
  image   = "shop/orders:1.0.0"
  requires "payments"
}

service "payments" {
  version = "1.0.0"
  image   = "shop/payments:1.0.0"
  requires "orders"
}
"#,
        right: r#"service "orders" {
  version = "1.0.0"
  image   = "shop/orders:1.0.0"
  requires "payments"
}

service "payments" {
  version = "1.0.0"
  image   = "shop/payments:1.0.0"
  requires "orders" { ordering = false }
}
"#,
    },
    Explanation {
        code: Code::UnknownValueTarget,
        text: r#"
A values file table, or a `--set` flag, names a service the model does not declare (nor
a per-consumer instance `CONSUMER-SERVICE`). A value for nothing is an error rather than
silently ignored, because it is usually a typo that leaves the intended service at its
default.

Use the service's name as declared; the help suggests the closest one.
"#,
        wrong: r#"# values.toml has `[ordres]` with `workers = 8`, for this model:
service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  param "workers" { type = int, default = 4 }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::UnknownValueParam,
        text: r#"
A values file or `--set` flag gives a value for a parameter that no version of the
service declares. It is an error, never ignored: a misspelt parameter would otherwise
leave the real one at its default without a word.

Use a parameter the service declares; the help suggests the closest one.
"#,
        wrong: r#"# values.toml has `[orders]` with `wokers = 16`, for this model:
service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  param "workers" { type = int, default = 4 }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::InvalidValuesFile,
        text: r#"
A values file is not valid TOML (a duplicate key, a missing quote), or is not shaped as
a values file: the top level holds `[SERVICE]` tables of `param = value`, and
`[environment.ENV.SERVICE]` tables for values that apply in one environment only.

Fix the syntax or the shape at the labelled place.
"#,
        wrong: r#"# values.toml sets `workers` twice under `[orders]`, for this model:
service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  param "workers" { type = int, default = 4 }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::MissingValue,
        text: r#"
A parameter has no default, and no values file or `--set` flag gives it a value, so the
service cannot be configured. Secrets are the exception: their values come when
deploying.

Give the parameter a default, set it in a values file (`[orders]` then `region = "eu"`),
or pass `--set orders.region=eu`.
"#,
        wrong: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  param "region" { type = string }
}
"#,
        right: r#"service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  param "region" { type = string, default = "eu" }
}
"#,
    },
    Explanation {
        code: Code::SecretInValues,
        text: r#"
A values file or `--set` flag gives a value to a secret parameter. Values files are
committed and flags end up in shell histories and CI logs; a secret's value must never
be in either. svcmodel refuses it rather than carry it into plans and state.

Remove the value; supply the secret when deploying, from a secret store or the
environment.
"#,
        wrong: r#"# values.toml has `[orders]` with `password = "hunter2"`, for this model:
service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  param "password" { type = secret }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::InvalidSet,
        text: r#"
A `--set` flag is not of the form `SERVICE.PARAM=VALUE`, or sets a list or map
parameter, which a flag cannot express.

Write `--set orders.workers=16`; set lists and maps in a values file.
"#,
        wrong: r#"# svcmodel compile --set orders=16, for this model:
service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
  param "workers" { type = int, default = 4 }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::NameCollision,
        text: r#"
A per-consumer service gets one instance per consumer, named `CONSUMER-SERVICE`. Here
that name is already taken by a service the model declares, so the two would be
confused in every output and on every platform.

Rename the declared service, or make the per-consumer service shared.
"#,
        wrong: r#"service "orders" {
  version = "1.0.0"
  image   = "shop/orders:1.0.0"
  requires "cache"
}

service "orders-cache" {
  version = "1.0.0"
  image   = "shop/orders-cache:1.0.0"
}

service "cache" {
  version    = "7.2.4"
  image      = "redis:7.2.4"
  instancing = "per_consumer"
}
"#,
        right: r#"service "orders" {
  version = "1.0.0"
  image   = "shop/orders:1.0.0"
  requires "cache"
}

service "order-archive" {
  version = "1.0.0"
  image   = "shop/order-archive:1.0.0"
}

service "cache" {
  version    = "7.2.4"
  image      = "redis:7.2.4"
  instancing = "per_consumer"
}
"#,
    },
    Explanation {
        code: Code::TargetUnsupported,
        text: r#"
The environment's target cannot express something the model asks of a service, so
rendering stops rather than drop it silently. Each target lists what it supports
(docs/targets.md): local processes and systemd units run one copy of a service, so
`replicas` above 1 is refused there; Nomad's own health checks are http and tcp only;
container targets need an `image`, local processes need `run local`.

Remove the feature for that environment, or run the environment on a target that can
express it. A restart policy that a target cannot express is a warning with the same
code: the target's own policy applies.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version  = "2.3.1"
  replicas = 3

  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"

  run local {
    command = ["./bin/orders"]
  }
}
"#,
    },
    Explanation {
        code: Code::TargetInvalidName,
        text: r#"
A service or environment name becomes a name on the platform: a Kubernetes object and
DNS name, a Compose service, a Nomad job, a systemd unit. Those platforms accept only
RFC 1123 labels: lowercase letters, digits and `-`, at most 63 characters, starting
and ending with a letter or digit. Port names must be IANA service names: at most 15
characters of lowercase letters, digits and `-`, with at least one letter.

Rename the service, environment or port. Names that follow the rule work on every
target.
"#,
        wrong: r#"environment "prod" {
  target = "kubernetes"
}

service "Orders_API" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
        right: r#"environment "prod" {
  target = "kubernetes"
}

service "orders-api" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
    },
    Explanation {
        code: Code::Unrepresentable,
        text: r#"
A value ends up where no engine can carry it: a secret inside an image name (images
are pulled before any secret is handed out, and image names are logged), a NUL
character in an environment variable, an argument or a command (no operating system
passes one to a process), a variable name that is not portable, or a secret or a
run-time address in a health check command.

Build image names from the version and plain parameters only; pass secrets in
environment variables; remove NUL characters from values.
"#,
        wrong: r#"environment "prod" {
  target = "kubernetes"
}

service "orders" {
  version = "2.3.1"
  image   = "registry.example/${param.registry_token}/orders:2.3.1"

  param "registry_token" {
    type = secret
  }
}
"#,
        right: r#"environment "prod" {
  target = "kubernetes"
}

service "orders" {
  version = "2.3.1"
  image   = "registry.example/shop/orders:2.3.1"
}
"#,
    },
    Explanation {
        code: Code::PortClash,
        text: r#"
On targets where every service shares the host's network (local processes), two
services that provide the same port number cannot both start: the second fails to
bind. Per-consumer services are a common cause: each consumer gets its own instance,
and every instance provides the definition's port.

Give one of the services another port. Services on container targets each have their
own network address, so the same port there is fine, except where they are published
outside the environment: two exposed services (`expose = "node_port"` or
`"load_balancer"`, or entry points on Compose) published at one port of the host or of
every node clash the same way. Give one of them another `publish` port.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080 }

  run local {
    command = ["./bin/orders"]
  }
}

service "products" {
  version = "1.0.0"
  provides "http" { port = 8080 }

  run local {
    command = ["./bin/products"]
  }
}
"#,
        right: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080 }

  run local {
    command = ["./bin/orders"]
  }
}

service "products" {
  version = "1.0.0"
  provides "http" { port = 8081 }

  run local {
    command = ["./bin/products"]
  }
}
"#,
    },
    Explanation {
        code: Code::TemplateFailed,
        text: r#"
A template of the environment's target (a project's own under `templates/TARGET/`, or
one that overrides a built-in template) does not render. Templates run in strict mode:
a field the view does not have is an error, never an empty string, so a misspelt field
cannot produce a manifest that looks right. A syntax error (an unclosed `{{#each}}`)
and an unknown helper are reported the same way, with the template and line.

Use the fields listed in docs/targets.md (`svcmodel render --view` prints the view a
template sees) and the helpers `value`, `quote`, `text`, `json`, `int`, `concat`.
For example, with `templates/ecs/service.json.hbs` holding `{{service.imgae}}`:
"#,
        wrong: r#"environment "cloud" {
  target = "ecs"
}

service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
        right: "",
    },
    Explanation {
        code: Code::InvalidTarget,
        text: r#"
A project's target folder `templates/TARGET/` cannot be used: its `target.toml` is
missing, is not valid TOML, has an unknown key, names a template the folder does not
hold, or gives a file path that would leave the output folder. A custom target needs
a `target.toml` that says which files to render from which templates, and how values
are escaped:

    format = "json"
    needs  = "image"

    [[file]]
    template = "service.json.hbs"
    path     = "{{service.name}}/service.json"
    each     = "service"

Correct `target.toml` as the message says; docs/targets.md lists every key.
"#,
        wrong: r#"environment "cloud" {
  target = "ecs"
}

service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
        right: "",
    },
    Explanation {
        code: Code::Unreachable,
        text: r#"
The environment shares its landscape (its `tier`) with others, so `svcmodel place`
decides which services it runs, and a service placed here requires one placed in
another environment. Rendering needs the host this environment reaches it at, and
that environment declares no `address`.

Give the other environment an `address`: the host name other environments reach its
services at, with `{name}` for the service (an ingress, a gateway or a DNS zone,
e.g. `address = "{name}.dc.example.internal"`).
"#,
        wrong: r#"environment "dc" {
  target   = "kubernetes"
  provider = "onprem"
  tier     = "prod"
}

environment "cloud" {
  target   = "kubernetes"
  provider = "aws"
  tier     = "prod"
}

service "db" {
  version = "1.0.0"
  image   = "x/db:1"
  data { classification = "pii" }
  provides "sql" { port = 5432 }
}

service "api" {
  version = "1.0.0"
  image   = "x/api:1"
  requires "db" {}
  config {
    env "DB_HOST" = "${db.sql.host}"
  }
}

policy "pii-on-premises" {
  when    = service.data.classification == "pii"
  require = environment.provider == "onprem"
}

policy "api-in-cloud" {
  when    = service.name == "api"
  require = environment.provider == "aws"
}
"#,
        right: r#"environment "dc" {
  target   = "kubernetes"
  provider = "onprem"
  tier     = "prod"
  address  = "{name}.dc.example.internal"
}

environment "cloud" {
  target   = "kubernetes"
  provider = "aws"
  tier     = "prod"
}

service "db" {
  version = "1.0.0"
  image   = "x/db:1"
  data { classification = "pii" }
  provides "sql" { port = 5432 }
}

service "api" {
  version = "1.0.0"
  image   = "x/api:1"
  requires "db" {}
  config {
    env "DB_HOST" = "${db.sql.host}"
  }
}

policy "pii-on-premises" {
  when    = service.data.classification == "pii"
  require = environment.provider == "onprem"
}

policy "api-in-cloud" {
  when    = service.name == "api"
  require = environment.provider == "aws"
}
"#,
    },
    Explanation {
        code: Code::DriftMissing,
        text: r#"
`svcmodel reconcile` compares what runs with the model. The model declares this service
for the environment, but it was never deployed there (or its deployment was lost): the
state under `.svcmodel/` has no record of it. The label points at the service's
declaration.

Run `svcmodel deploy -e ENV`, or `svcmodel reconcile --fix`, to start it.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080, protocol = "http" }
  health { http = "http", path = "/healthz" }

  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::DriftStopped,
        text: r#"
The service was deployed and recorded, but its process or container no longer runs: it
crashed, was stopped by hand, or its machine restarted. The label points at the
service's declaration (and its restart policy, if any).

`svcmodel reconcile --fix` starts it again from the recorded revision; read its log
under `.svcmodel/logs/ENV/` to see why it stopped.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080, protocol = "http" }
  health { http = "http", path = "/healthz" }

  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::DriftUnhealthy,
        text: r#"
The service runs but its health check fails now. The label points at the `health`
block that declares the check.

Look at its log; `svcmodel reconcile --fix` restarts it.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080, protocol = "http" }
  health { http = "http", path = "/healthz" }

  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::DriftExtra,
        text: r#"
The state records a service in this environment that the model no longer declares:
something the model removed or renamed and that was never deleted. svcmodel only ever
touches what its state records, never anything else that runs.

`svcmodel deploy -e ENV` deletes it (after a confirmation on a terminal, or with
`--yes`); so does `svcmodel reconcile --fix`.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080, protocol = "http" }
  health { http = "http", path = "/healthz" }

  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::DriftConfig,
        text: r#"
The service runs with another configuration than the model gives it now: a parameter,
a value in a values file, an environment variable, its command or its health check
changed since it was deployed. The labels point at what declares the new value.

`svcmodel plan -e ENV` shows each change; `svcmodel deploy` (or `reconcile --fix`)
applies it.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080, protocol = "http" }
  health { http = "http", path = "/healthz" }

  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::DriftVersion,
        text: r#"
The service runs at another version than the one the model resolves to now (a version
rule, a requirement or the lockfile changed). The label points at the version the model
declares.

`svcmodel deploy -e ENV` (or `reconcile --fix`) replaces it with the model's version.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080, protocol = "http" }
  health { http = "http", path = "/healthz" }

  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::TuningAdvice,
        text: r#"
A warning from `svcmodel reconcile` (and an entry under `advice` in `svcmodel status
--format json`): the service's observed use is far from what its `resources` declare.
Memory counts the resident memory of the process (or the container's, from Docker's
statistics); CPU counts the average cores used since it was deployed. Above 90% of the
declared amount the advice is 1.5 times the use; under a quarter of the memory (or a
tenth of the CPU, after a minute of running) it is twice the use, so that placement
and capacity planning work from real numbers. The label points at the declaration.

Set the advised value in the service's `resources`, or leave it if the observed period
was not typical. Advice never changes the exit code.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080, protocol = "http" }
  resources { cpu = 2, memory = 4Gi }

  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::DriftPlacement,
        text: r#"
`svcmodel place` chose a failure domain (zone, cluster, rack, hypervisor) for every replica, and
the platform reports the replicas elsewhere: a replica on a node whose `svcmodel.KIND`
label (Swarm) or node label (Kubernetes) names a domain placement did not choose, or
replicas crowded into fewer domains than placement spread them over (a spread rule no
longer met). The label points at the domain the environment declares.

Label the nodes as the environment's `failure_domains` say, then redeploy the service.
Only engines that can tell a replica's node report this (Swarm today).
"#,
        wrong: r#"environment "swarm1" {
  target          = "swarm"
  tier            = "prod"
  failure_domains = { zone = ["z1", "z2"] }
}

service "api" {
  version  = "1.0.0"
  image    = "shop/api:1.0.0"
  replicas = 2
  provides "http" { port = 8080 }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::DriftMoved,
        text: r#"
A service runs in this environment, as the state records, and placement now puts it
in another environment of the landscape: a policy rules this one out, or the other is
cheaper or meets more preferences. It is not gone from the model, so it is not E0804:
the message names where it moved and the rule that moved it, and `svcmodel plan`
shows the same cause on its delete line.

Deploy the environment it moved to first, so it runs there, then deploy this one with
`--yes` to remove it here; deploying the whole landscape does both in order.
"#,
        wrong: r#"environment "east" {
  target = "local"
  tier   = "prod"
  region = "us-east"
}

environment "west" {
  target = "local"
  tier   = "prod"
  region = "us-west"
}

policy "ledger-out-of-east" {
  when    = service.name == "ledger"
  forbid  = environment.region == "us-east"
  because = "the ledger's data stays on the west coast"
}

service "ledger" {
  version = "1.0.0"
  run local { command = ["sleep", "600"] }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::NoEnvironment,
        text: r#"
`svcmodel place` found a service that no environment of its landscape (the
environments sharing its `tier`) may run: every environment is ruled out by a
`require` or `forbid` policy, a `spread` rule the environment's failure domains cannot
meet, a capacity smaller than the service's replicas, or a resolution that does not
hold the service there. Each label names one environment and the rule that rules it
out, with the rule's `because`.

Change one of the rules, make the service smaller, or add an environment that meets
them all.
"#,
        wrong: r#"environment "cloud" {
  target   = "kubernetes"
  provider = "aws"
  tier     = "prod"
}

service "ledger" {
  version = "1.0.0"
  image   = "bank/ledger:1.0.0"
  data { classification = "pii" }
}

policy "pii-on-premises" {
  when    = service.data.classification == "pii"
  require = environment.provider == "onprem"
  because = "personal data stays in our own data centre"
}
"#,
        right: r#"environment "cloud" {
  target   = "kubernetes"
  provider = "aws"
  tier     = "prod"
}

environment "dc" {
  target   = "kubernetes"
  provider = "onprem"
  tier     = "prod"
}

service "ledger" {
  version = "1.0.0"
  image   = "bank/ledger:1.0.0"
  data { classification = "pii" }
}

policy "pii-on-premises" {
  when    = service.data.classification == "pii"
  require = environment.provider == "onprem"
  because = "personal data stays in our own data centre"
}
"#,
    },
    Explanation {
        code: Code::PlacementConflict,
        text: r#"
Every service has an environment it may run in, but no placement meets all the rules
at once: a latency budget that keeps two services together while a policy keeps them
apart, more replicas than an environment holds, a link without the bandwidth that the
dependencies crossing it need. The labels are the smallest set of rules svcmodel found
that cannot hold together: drop any one of them and the others can be met. (When the
search gives up on a rule, the help says the set may not be the smallest.)

Loosen one of the labelled rules.
"#,
        wrong: r#"environment "dc" {
  target   = "kubernetes"
  provider = "onprem"
  tier     = "prod"
  link "cloud" { latency = 6ms }
}

environment "cloud" {
  target   = "kubernetes"
  provider = "aws"
  tier     = "prod"
}

service "db" {
  version = "1.0.0"
  image   = "bank/db:1.0.0"
  data { classification = "pii" }
}

service "api" {
  version = "1.0.0"
  image   = "bank/api:1.0.0"
  requires "db" { latency = 1ms }
}

policy "pii-on-premises" {
  when    = service.data.classification == "pii"
  require = environment.provider == "onprem"
}

policy "api-in-cloud" {
  when    = service.name == "api"
  forbid  = environment.provider == "onprem"
}
"#,
        right: "",
    },
    Explanation {
        code: Code::PlacementUnknown,
        text: r#"
The placement search visited as many choices as it may (`--max-nodes`, two million by default)
without finding a placement or proving that there is none. This happens only with very
tight rules on large landscapes: the greedy pass and the local search found nothing,
and the exhaustive search could not finish.

Loosen a rule (capacity, a latency budget, a spread), or split the landscape into
smaller ones with `tier`.
"#,
        wrong: "",
        right: "",
    },
    Explanation {
        code: Code::DegradedSpread,
        text: r#"
A warning. A spread rule asks for a service's replicas in two failure domains of a
kind or more, the environment declares enough of them, but some are out of service
(`out_of_service` in the environment, or `--lose` on `place`, `risk` and `slo`). The
rule cannot hold until they come back, so placement goes ahead without it, and the
warning says what is at risk: the domain all the replicas now share, whose loss
stops the service. `render`, `plan` and `deploy` print it and carry on.

Bring a domain back into service (remove it from `out_of_service`) and deploy again.
If the service must not run degraded, write `degraded = "block"` in the policy: the
rule then rules the environment out (E0901) while too few domains are in service.
"#,
        wrong: r#"environment "dc" {
  target          = "kubernetes"
  failure_domains = { zone = ["room-a", "room-b"] }
  out_of_service  = ["room-b"]
}

policy "critical-across-rooms" {
  when   = service.criticality == "critical"
  spread = "zone"
}

service "claims" {
  version     = "1.0.0"
  image       = "insurer/claims:1.0.0"
  criticality = "critical"
  replicas    = 2
}
"#,
        right: r#"environment "dc" {
  target          = "kubernetes"
  failure_domains = { zone = ["room-a", "room-b"] }
}

policy "critical-across-rooms" {
  when   = service.criticality == "critical"
  spread = "zone"
}

service "claims" {
  version     = "1.0.0"
  image       = "insurer/claims:1.0.0"
  criticality = "critical"
  replicas    = 2
}
"#,
    },
    Explanation {
        code: Code::EngineUnreachable,
        text: r#"
svcmodel could not connect to the engine an environment deploys to, or the engine
refused what svcmodel asked: the Docker Engine is not running or its socket is not
readable, the kubeconfig has no usable context, or a context the environment names
does not exist. Nothing was started.

Start the engine, check `DOCKER_HOST`, `KUBECONFIG` or the environment's `context`, and
run the command again.
"#,
        wrong: r#"environment "prod" {
  target  = "kubernetes"
  context = "no-such-context"
}

service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
        right: "",
    },
    Explanation {
        code: Code::StateUnusable,
        text: r#"
The state under `.svcmodel/state/` could not be read or written: the file is not JSON
svcmodel wrote, its format is newer than this svcmodel, the folder is not writable, or
the disk is full. svcmodel never guesses what runs: it stops instead.

The previous snapshot is `ENV.json.backup` beside it; restore it, or fix the folder's
permissions, and run the command again.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::EnvironmentLocked,
        text: r#"
Another run holds the environment's lock: a deploy, reconcile --fix or destroy is under
way, so this one waited `--lock-timeout` seconds and gave up. The message names the
holder: its lock id, command, process and machine.

Wait for it, or give a longer `--lock-timeout`. A lock whose holder died on this machine
is released by the kernel and taken over at once; one left on another machine is
released with `svcmodel state unlock ID`, and one whose text cannot be read with
`svcmodel state unlock --force -e ENV`.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::PortTaken,
        text: r#"
A local service is about to listen on a port of this machine that another process
holds, and svcmodel did not start that process (or it belongs to another environment).
Its health check would reach the stranger instead of the service, so nothing was
started. The message names the process.

Stop that process, or give the service another port (a parameter set per environment
keeps the model the same elsewhere).
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080, protocol = "http" }
  health { http = "http", path = "/healthz" }
  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::UnrecordedServices,
        text: r#"
Processes or containers run that carry this project's mark for the environment, but
the environment's state does not record them: the state file was deleted, replaced by
another, or the project was copied. svcmodel will not start second copies beside them,
nor stop what its state does not own, so it stopped before starting anything.

Run `svcmodel state adopt -e ENV` to record them in the state (the next deploy then
replaces them with the model's revision), or stop them yourself.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::SecretUnset,
        text: r#"
A service has a secret parameter, and secrets never live in the model: each one is
read at deploy time from a variable of the deploying machine, named
`SVCMODEL_SECRET_INSTANCE_PARAM` (the instance and parameter names in upper case, `-`
as `_`). That variable is not set, so nothing was started.

Set the variables the message lists (in a pipeline, from its secret store) and run the
command again.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "payments" {
  version = "0.9.4"
  param "api_key" { type = secret }
  config {
    env "API_KEY" = param.api_key
  }
  run local {
    command = ["./bin/payments"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::NotDeployable,
        text: r#"
svcmodel deploys to local processes, Docker (`compose`), Swarm and Kubernetes. The
environment's target is another one (Nomad, systemd, a custom target): svcmodel renders
its files, and another tool deploys them.

Deploy one of the other environments with `-e ENV`, or write the files with
`svcmodel render -e ENV -o DIR` and hand them to that target's own tool.
"#,
        wrong: r#"environment "aws" {
  target = "nomad"
}

service "orders" {
  version = "2.3.1"
  image   = "shop/orders:2.3.1"
}
"#,
        right: "",
    },
    Explanation {
        code: Code::ConfirmationNeeded,
        text: r#"
The command would delete services (a deploy of a model that no longer has them, or a
destroy), and no one confirmed it: standard input is not a terminal, so svcmodel could
not ask. Nothing was changed.

Pass `--yes` once you have read the plan (`svcmodel plan`).
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::LockNotReleased,
        text: r#"
`svcmodel state unlock` was asked to release a lock it must not or cannot release: no
lock has that id, or the lock is held by a run that is alive on this machine (the
kernel holds its lock for it until it ends).

Check the id in the lock error, or wait for the run to end; `--force -e ENV` releases a
lock whose text cannot be read, but never one a live run holds.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  run local {
    command = ["./bin/orders"]
  }
}
"#,
        right: "",
    },
    Explanation {
        code: Code::DeployFailed,
        text: r#"
A service of a deploy wave did not become healthy within `--timeout` (its process or
container exited, or its health check kept failing), so the wave was rolled back to
the previous revision wherever it ran and later waves did not start; or a service the
model no longer has could not be stopped. The progress lines above name each service
and why it failed, with the last lines of its log, secrets masked. The state records
what finished, so the next run starts from what really runs.

Read the failed services' messages, fix the model or the service, and deploy again;
`svcmodel reconcile` shows what runs now. `--no-rollback` keeps a failed wave as it is,
to look at it.
"#,
        wrong: r#"environment "laptop" {
  target = "local"
}

service "orders" {
  version = "2.3.1"
  provides "http" { port = 8080, protocol = "http" }
  health { http = "http", path = "/healthz" }
  run local {
    command = ["./bin/orders", "--fail-health-checks"]
  }
}
"#,
        right: "",
    },
];
