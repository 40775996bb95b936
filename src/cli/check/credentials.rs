//! `check --targets … --credentials FILE`: who logs in where. Never the target file (it is
//! shared, generated, pasted into tickets); a file of the user's own, mode 0600, not a
//! symbolic link, one entry a line, the first whose pattern matches a target's host wins:
//!
//! ```text
//! # PATTERN          user NAME   SECRET
//! *.example.net      user alice  password-env FLEET_PW
//! mail.example.org   user bob    token-env BOB_TOKEN
//! legacy.example.org user carol  token-command pizauth show carol
//! ```
//!
//! PATTERN is a host (case does not matter) in which `*` stands for any run of characters,
//! dots included (`*.example.net` matches `a.b.example.net`, not `example.net`). The file
//! holds no secret itself, only where each comes from: `password-env VAR`, `token-env VAR`
//! or `token-command CMD…` (the rest of the line; run as `--token-command` runs it). Each is
//! read once, when the file is loaded, into a [`Secret`] wiped on drop. A target line's
//! `--user NAME` picks the first entry that matches its host and names that user.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use popscope_core::Secret;
use zeroize::Zeroizing;

use crate::session::login::Credentials;

/// A credentials file larger than this is not one.
const MAX_FILE: u64 = 1 << 20;

/// One line of the file, its secret read.
struct Entry {
    pattern: String,
    credentials: Credentials,
}

/// The entries of a credentials file, in file order.
#[derive(Default)]
pub struct CredentialsFile {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for CredentialsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The patterns and users, never the secrets.
        f.debug_list()
            .entries(
                self.entries
                    .iter()
                    .map(|e| (&e.pattern, &e.credentials.user)),
            )
            .finish()
    }
}

impl CredentialsFile {
    /// Reads `path`: refused unless a regular file, not a symbolic link, that only its owner
    /// may read or write (0600 or 0400). Errors are one line naming the file (and the line).
    pub fn load(path: &Path) -> Result<CredentialsFile, String> {
        let what = format!(
            "--credentials {}",
            popscope_core::sanitize::display(path.display().to_string().as_bytes(), 120)
        );
        let file = std::fs::OpenOptions::new()
            .read(true)
            // A symbolic link is refused at the open itself: no window between a check and it.
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => format!("{what}: a symbolic link; give the file itself"),
                _ => format!("{what}: {e}"),
            })?;
        let meta = file.metadata().map_err(|e| format!("{what}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{what}: not a regular file"));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{what}: mode {mode:04o} lets others read it; make it 0600 (chmod 600)"
            ));
        }
        if meta.len() > MAX_FILE {
            return Err(format!("{what}: larger than {MAX_FILE} octets"));
        }
        let mut text = Zeroizing::new(String::new());
        file.take(MAX_FILE)
            .read_to_string(&mut text)
            .map_err(|e| format!("{what}: {e}"))?;
        Self::parse(&text, &what, &Resolve::Real)
    }

    fn parse(text: &str, what: &str, resolve: &Resolve) -> Result<CredentialsFile, String> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry =
                parse_entry(line, resolve).map_err(|e| format!("{what} line {}: {e}", i + 1))?;
            entries.push(entry);
        }
        Ok(CredentialsFile { entries })
    }

    /// The credentials for a target on `host` (as `user`, when its line named one): the first
    /// entry that matches.
    pub fn for_target(&self, host: &str, user: Option<&str>) -> Option<&Credentials> {
        self.entries
            .iter()
            .find(|e| {
                glob_matches(&e.pattern, host) && user.is_none_or(|u| e.credentials.user == u)
            })
            .map(|e| &e.credentials)
    }
}

/// Where secrets come from: the environment and helper commands, or, in tests, a table.
enum Resolve {
    Real,
    #[cfg(test)]
    Fake(&'static [(&'static str, &'static str)]),
}

impl Resolve {
    fn env(&self, var: &str) -> Result<Zeroizing<Vec<u8>>, String> {
        let missing = || format!("{var}: the variable is not set");
        match self {
            Resolve::Real => std::env::var_os(var)
                .map(|v| Zeroizing::new(v.into_encoded_bytes()))
                .ok_or_else(missing),
            #[cfg(test)]
            Resolve::Fake(table) => table
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| Zeroizing::new(v.as_bytes().to_vec()))
                .ok_or_else(missing),
        }
    }
}

/// `PATTERN user NAME password-env VAR | token-env VAR | token-command CMD…`.
fn parse_entry(line: &str, resolve: &Resolve) -> Result<Entry, String> {
    let mut words = line.split_whitespace();
    let pattern = words.next().unwrap_or_default().to_ascii_lowercase();
    let syntax = "give PATTERN user NAME password-env VAR | token-env VAR | token-command CMD";
    if words.next() != Some("user") {
        return Err(syntax.into());
    }
    let user = words.next().ok_or(syntax)?.to_owned();
    if user.contains(|c: char| c.is_control()) {
        return Err("the user name holds a control character".into());
    }
    let kind = words.next().ok_or(syntax)?;
    let rest: Vec<&str> = words.collect();
    let one = |name: &str| match rest.as_slice() {
        [var] => Ok(*var),
        _ => Err(format!("{name} takes one variable name")),
    };
    let mut credentials = Credentials {
        user,
        ..Credentials::default()
    };
    match kind {
        "password-env" => {
            let var = one(kind)?;
            let password = resolve.env(var).map_err(|e| format!("password-env {e}"))?;
            if password.is_empty() {
                return Err(format!("password-env {var}: the variable is empty"));
            }
            if password.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
                // Never shown: it is the password.
                return Err(format!(
                    "password-env {var}: the password holds a CR, LF or NUL: it would end the POP3 line early and send the rest as a command"
                ));
            }
            credentials.password = Some(Secret::new(password.to_vec()));
        }
        "token-env" => {
            let var = one(kind)?;
            let token = match resolve {
                Resolve::Real => super::super::token::from_env(var),
                #[cfg(test)]
                Resolve::Fake(_) => resolve
                    .env(var)
                    .map(|v| Secret::new(v.to_vec()))
                    .map_err(super::super::CliError::usage),
            };
            credentials.token = Some(token.map_err(|e| e.message)?);
        }
        "token-command" if rest.is_empty() => return Err("token-command needs a command".into()),
        "token-command" => {
            let command = rest.join(" ");
            let token =
                super::super::token::from_command(&command, super::super::token::COMMAND_TIMEOUT)
                    .map_err(|e| e.message)?;
            credentials.token = Some(token);
        }
        other => {
            return Err(format!(
                "'{}': not a secret's source ({syntax})",
                popscope_core::sanitize::display(other.as_bytes(), 40)
            ));
        }
    }
    Ok(Entry {
        pattern,
        credentials,
    })
}

/// Whether `host` matches `pattern`, case aside; `*` is any run of characters.
fn glob_matches(pattern: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = host.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the host itself.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const ENV: Resolve = Resolve::Fake(&[
        ("ALICE_PW", "wonderland"),
        ("BOB_TOKEN", "tok123"),
        ("BAD", "a\r\nDELE 1"),
    ]);

    fn parsed(text: &str) -> Result<CredentialsFile, String> {
        CredentialsFile::parse(text, "--credentials c", &ENV)
    }

    #[test]
    fn globs() {
        for (pattern, host, matches) in [
            ("*.example.net", "a.example.net", true),
            ("*.example.net", "a.b.EXAMPLE.net", true),
            ("*.example.net", "example.net", false),
            ("*.example.net", "a.example.net.evil", false),
            ("mail.example.org", "mail.example.org", true),
            ("mail.example.org", "xmail.example.org", false),
            ("*", "anything", true),
            ("pop*.example.*", "pop3.example.com", true),
            ("a*a", "a", false),
            ("a*a", "aa", true),
        ] {
            assert_eq!(glob_matches(pattern, host), matches, "{pattern} {host}");
        }
    }

    #[test]
    fn the_first_matching_entry_wins_and_a_named_user_picks_its_own() {
        let file = parsed(
            "# fleet\n*.example.net user alice password-env ALICE_PW\n\nmail.example.net user bob token-env BOB_TOKEN\n* user bob password-env ALICE_PW\n",
        )
        .unwrap_or_default();
        let c = file.for_target("mail.example.net", None);
        assert_eq!(c.map(|c| c.user.as_str()), Some("alice"));
        assert!(c.is_some_and(|c| {
            c.password
                .as_ref()
                .is_some_and(|p| p.expose() == b"wonderland")
        }));
        let bob = file.for_target("mail.example.net", Some("bob"));
        assert!(bob.is_some_and(|c| c.token.as_ref().is_some_and(|t| t.expose() == b"tok123")));
        assert_eq!(
            file.for_target("other.org", None).map(|c| c.user.as_str()),
            Some("bob")
        );
        assert!(file.for_target("other.org", Some("carol")).is_none());
        // The debug form shows who, never the secret.
        let debug = format!("{file:?}");
        assert!(
            debug.contains("alice") && !debug.contains("wonderland"),
            "{debug}"
        );
    }

    #[test]
    fn a_bad_line_is_refused_naming_it_and_never_showing_a_secret() {
        for (text, says) in [
            (
                "h user a password-env NOPE",
                "line 1: password-env NOPE: the variable is not set",
            ),
            (
                "# c\n\nh user a token-file F",
                "line 3: 'token-file': not a secret's source",
            ),
            (
                "h a password-env ALICE_PW",
                "line 1: give PATTERN user NAME",
            ),
            ("h user a password-env", "takes one variable name"),
            ("h user a token-command", "needs a command"),
            ("h user a password-env BAD", "CR, LF or NUL"),
        ] {
            let e = parsed(text).err().unwrap_or_default();
            assert!(e.starts_with("--credentials c line "), "{e}");
            assert!(e.contains(says), "{text}: {e}");
            assert!(!e.contains("DELE"), "{e}");
        }
    }

    #[test]
    fn the_file_must_be_its_owners_alone_and_not_a_link() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("creds");
        std::fs::write(&path, "# nothing\n").unwrap_or_else(|e| panic!("{e}"));
        let chmod = |m| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        chmod(0o644);
        let e = CredentialsFile::load(&path).err().unwrap_or_default();
        assert!(e.contains("mode 0644") && e.contains("chmod 600"), "{e}");
        chmod(0o640);
        assert!(CredentialsFile::load(&path).is_err());
        chmod(0o600);
        assert!(CredentialsFile::load(&path).is_ok());
        chmod(0o400);
        assert!(CredentialsFile::load(&path).is_ok());
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap_or_else(|e| panic!("{e}"));
        let e = CredentialsFile::load(&link).err().unwrap_or_default();
        assert!(e.contains("symbolic link"), "{e}");
        let e = CredentialsFile::load(dir.path()).err().unwrap_or_default();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
