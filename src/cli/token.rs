//! Where a bearer token comes from: an environment variable, a file's first line, or a helper
//! command's first stdout line (how pizauth, oama and mutt_oauth2.py are used). Never argv.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use popscope_core::Secret;

use super::CliError;

/// How long a `--token-command` may run: a helper that refreshes a token over the network
/// takes a few seconds; one that waits for a browser login never ends by itself.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The first line of `bytes` without its CR LF, as a token; `what` names the source in errors.
fn first_line(bytes: &[u8], what: &str) -> Result<Secret, CliError> {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(CliError::usage(format!(
            "{what}: no token (the first line is empty)"
        )));
    }
    if line.iter().any(|&b| b < 0x20 || b == 0x7f || b == b' ') {
        // Never shown: it is the token.
        return Err(CliError::usage(format!(
            "{what}: the token holds a space or a control character; a bearer token cannot"
        )));
    }
    Ok(Secret::new(line.to_vec()))
}

pub(crate) fn from_env(var: &str) -> Result<Secret, CliError> {
    let what = format!("--token-env {var}");
    let value = std::env::var_os(var)
        .ok_or_else(|| CliError::usage(format!("{what}: the variable is not set")))?;
    first_line(&zeroize::Zeroizing::new(value.into_encoded_bytes()), &what)
}

pub(crate) fn from_file(path: &Path) -> Result<Secret, CliError> {
    let what = format!("--token-file {}", path.display());
    let text = zeroize::Zeroizing::new(
        std::fs::read(path).map_err(|e| CliError::usage(format!("{what}: {e}")))?,
    );
    first_line(&text, &what)
}

/// Runs `command_line` split at blanks (no shell, no quoting: a helper with spaces in an
/// argument goes in a script), stdin closed, stderr passed through; its first stdout line is
/// the token. A failure to start, a non-zero exit, no output or [`COMMAND_TIMEOUT`] is a
/// one-line error that names the command, never what it printed.
pub(crate) fn from_command(command_line: &str, timeout: Duration) -> Result<Secret, CliError> {
    let shown = popscope_core::sanitize::display(command_line.as_bytes(), 120);
    let what = format!("--token-command '{shown}'");
    let mut words = command_line.split_whitespace();
    let program = words
        .next()
        .ok_or_else(|| CliError::usage("--token-command: the command is empty"))?;
    let mut child = Command::new(program)
        .args(words)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| CliError::usage(format!("{what}: cannot run it: {e}")))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| CliError::usage(format!("{what}: no stdout")))?;
    // Read while it runs: a helper that fills the pipe would otherwise never exit.
    let reader = std::thread::spawn(move || {
        let mut out = zeroize::Zeroizing::new(Vec::new());
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CliError::usage(format!(
                    "{what}: no answer within {} s",
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(CliError::usage(format!("{what}: {e}"))),
        }
    };
    if !status.success() {
        return Err(CliError::usage(format!("{what}: it failed ({status})")));
    }
    let out = reader
        .join()
        .map_err(|_| CliError::usage(format!("{what}: its output could not be read")))?;
    first_line(&out, &what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_is_the_token_and_a_bad_one_is_never_shown() {
        assert_eq!(first_line(b"t0k\r\nrest", "x").unwrap().expose(), b"t0k");
        let e = first_line(b"se cret", "x").unwrap_err();
        assert!(!e.message.contains("se cret"), "{}", e.message);
        assert!(first_line(b"\nt0k", "x").is_err());
    }

    #[test]
    fn a_command_gives_its_first_line_and_failures_name_the_command() {
        assert_eq!(
            from_command("echo t0k", COMMAND_TIMEOUT).unwrap().expose(),
            b"t0k"
        );
        let e = from_command("false", COMMAND_TIMEOUT).unwrap_err();
        assert!(
            e.message.starts_with("--token-command 'false': it failed"),
            "{}",
            e.message
        );
        let e = from_command("sleep 5", Duration::from_millis(200)).unwrap_err();
        assert!(e.message.contains("no answer within"), "{}", e.message);
        assert!(from_command("true", COMMAND_TIMEOUT).is_err());
        assert!(from_command("/nonexistent/helper", COMMAND_TIMEOUT).is_err());
    }
}
