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

/// How much of a helper's stdout is read for its first line, and of its stderr for the lines
/// shown: a helper cannot make popscope hold more.
const OUTPUT_CAP: usize = 64 << 10;
/// How many of a helper's stderr lines are shown, each cut at 200 characters.
const STDERR_LINES: usize = 20;

/// Runs `command_line` split at blanks (no shell, no quoting: a helper with spaces in an
/// argument goes in a script), stdin closed; its first stdout line is the token. A failure to
/// start, a non-zero exit, no output or no first line within `timeout` (a background process
/// that keeps the pipe open included) is a one-line error that names the command, never what
/// it printed on stdout. What it says on stderr (a helper explains why it has no token there)
/// is shown afterwards, sanitized, cut short, the token masked wherever it appears.
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
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::usage(format!("{what}: cannot run it: {e}")))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        return Err(CliError::usage(format!("{what}: no output pipes")));
    };
    // Read while it runs: a helper that fills a pipe would otherwise never exit. The first
    // line is enough: a process it leaves behind may hold the pipe open for ever.
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stdout = stdout;
        let _ = line_tx.send(read_first_line(&mut stdout));
        // The rest is read and dropped: a helper whose later lines found the pipe closed
        // would die of SIGPIPE and look failed.
        let mut rest = zeroize::Zeroizing::new([0u8; 4096]);
        while let Ok(1..) = stdout.read(&mut rest[..]) {}
    });
    let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let said_by_thread = said.clone();
    std::thread::spawn(move || collect(stderr, &said_by_thread));
    let deadline = Instant::now() + timeout;
    let late = || CliError::usage(format!("{what}: no answer within {} s", timeout.as_secs()));
    let result = loop {
        match child.try_wait() {
            Ok(Some(status)) if !status.success() => {
                break Err(CliError::usage(format!("{what}: it failed ({status})")));
            }
            Ok(Some(_)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                break match line_rx.recv_timeout(left) {
                    Ok(out) => first_line(&out, &what),
                    Err(_) => Err(late()),
                };
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(late());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Err(CliError::usage(format!("{what}: {e}"))),
        }
    };
    // What it said so far (a helper still holding stderr is not waited for).
    std::thread::sleep(Duration::from_millis(20));
    let stderr = said.lock().map(|v| v.clone()).unwrap_or_default();
    for line in helper_lines(&stderr, result.as_ref().ok()) {
        eprintln!("popscope: {what} says: {line}");
    }
    result
}

/// Stdout up to its first LF (or its end), at most [`OUTPUT_CAP`] octets; wiped when dropped.
fn read_first_line(out: &mut impl Read) -> zeroize::Zeroizing<Vec<u8>> {
    let mut line = zeroize::Zeroizing::new(Vec::new());
    let mut chunk = zeroize::Zeroizing::new([0u8; 4096]);
    while line.len() < OUTPUT_CAP {
        match out.read(&mut chunk[..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                line.extend_from_slice(&chunk[..n]);
                if chunk[..n].contains(&b'\n') {
                    break;
                }
            }
        }
    }
    line
}

/// Appends what `from` says to `into`, up to [`OUTPUT_CAP`] octets.
fn collect(mut from: impl Read, into: &std::sync::Mutex<Vec<u8>>) {
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = from.read(&mut chunk) {
        let Ok(mut v) = into.lock() else { return };
        let room = OUTPUT_CAP.saturating_sub(v.len());
        v.extend_from_slice(&chunk[..n.min(room)]);
    }
}

/// A helper's stderr as popscope shows it: the non-empty lines, at most [`STDERR_LINES`],
/// each sanitized and cut at 200 characters, with `token` masked where it appears.
fn helper_lines(stderr: &[u8], token: Option<&Secret>) -> Vec<String> {
    let masked;
    let text = match token.map(|t| t.expose()).filter(|t| !t.is_empty()) {
        Some(t) => {
            let mut v = stderr.to_vec();
            let mut at = 0;
            while let Some(i) = memchr::memmem::find(&v[at..], t) {
                let start = at + i;
                v[start..start + t.len()].fill(b'*');
                at = start + t.len();
            }
            masked = v;
            &masked[..]
        }
        None => stderr,
    };
    text.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.trim_ascii().is_empty())
        .take(STDERR_LINES)
        .map(|l| popscope_core::sanitize::display(l, 200))
        .collect()
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

    #[test]
    fn a_helpers_stderr_is_shown_sanitized_and_without_the_token() {
        let token = Secret::new(b"t0k3n".to_vec());
        let said = b"refreshing \x1b]0;owned\x07 t0k3n\r\n\n\nok";
        let lines = helper_lines(said, Some(&token));
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            !lines[0].contains("t0k3n") && lines[0].contains("*****"),
            "{lines:?}"
        );
        assert!(
            !lines[0].contains('\x1b') && !lines[0].contains('\x07'),
            "{lines:?}"
        );
        let many = "x\n".repeat(100);
        assert_eq!(helper_lines(many.as_bytes(), None).len(), STDERR_LINES);
    }
}
