//! Names that become file and folder names: a service's log file, an environment's
//! state file and output folder. A name is path-safe when it can only ever name one
//! entry inside the folder it is joined to.

/// The longest name: well under every file system's limit of 255 bytes, leaving room
/// for the suffixes svcmodel adds (`.json.backup`, `.log`).
pub const MAX_LEN: usize = 128;

/// Whether `name` names exactly one entry inside a folder: letters, digits, `-`, `_`
/// and `.`, starting with a letter or digit (so never `.`, `..`, a hidden file or an
/// option), at most [`MAX_LEN`] bytes. Why not, when it is not.
pub fn check_path_safe(name: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("it is empty".to_string());
    };
    if name.len() > MAX_LEN {
        return Err(format!("it is longer than {MAX_LEN} bytes"));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(format!("it starts with `{}`", first.escape_debug()));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(match bad {
            '/' | '\\' => format!("`{bad}` separates folders"),
            c if c.is_control() || c.is_whitespace() => {
                format!("it holds the character `{}`", c.escape_debug())
            }
            c => format!("it holds `{c}`"),
        });
    }
    Ok(())
}

/// `name` with every character a path-safe name cannot hold replaced by `-`.
pub fn suggest_path_safe(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut out: String = trimmed.chars().take(MAX_LEN).collect();
    if out.is_empty() {
        out.push_str("service");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_their_folder_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "../../../../x",
            "/etc/x",
            "a/b",
            "a\\b",
            ".hidden",
            "-rf",
            "a b",
            "a\nb",
            "naïve",
        ] {
            assert!(check_path_safe(bad).is_err(), "{bad:?} passed");
        }
        for good in ["orders", "Orders_API", "site-a", "v1.2", "a..b", "x9"] {
            assert_eq!(check_path_safe(good), Ok(()), "{good:?} refused");
        }
        assert!(check_path_safe(&"a".repeat(MAX_LEN + 1)).is_err());
    }

    #[test]
    fn the_suggestion_is_path_safe() {
        for name in ["../../x", "/etc/passwd", "a b", "...", "", "naïve"] {
            assert_eq!(
                check_path_safe(&suggest_path_safe(name)),
                Ok(()),
                "{name:?}"
            );
        }
    }
}
