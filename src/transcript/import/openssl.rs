//! `openssl s_client` terminal logs.

use popscope_core::TransportEvent;
use popscope_core::command::Command;
use popscope_core::response::StatusLine;

use crate::transcript::text::{Entry, Item};

use super::{ImportError, Imported, line_entry, logged};

/// Lines s_client prints about the connection, never POP3 (outside a message body).
fn s_client_noise(l: &str) -> bool {
    matches!(l, "read R BLOCK" | "DONE" | "RENEGOTIATING" | "KEYUPDATE")
        || l.starts_with("read:errno")
        || l.starts_with("write:errno")
}

/// What an s_client message says about the connection: `closed` is printed on the server's
/// close_notify; an OpenSSL error line (`80EB…:error:0A000126:…:unexpected eof while
/// reading:…`) on a TCP close without one. Other error lines are s_client's own: None, and
/// `Some(None)` says the line is an error line to leave out.
fn s_client_event(l: &str) -> Option<Option<TransportEvent>> {
    if l == "closed" {
        return Some(Some(TransportEvent::ServerClosed { close_notify: true }));
    }
    let mut parts = l.split(':');
    let code = parts.next()?;
    if code.len() < 8 || !code.bytes().all(|b| b.is_ascii_hexdigit()) || parts.next()? != "error" {
        return None;
    }
    Some(
        l.contains("unexpected eof while reading")
            .then_some(TransportEvent::ServerClosed {
                close_notify: false,
            }),
    )
}

/// The first status line of a `-starttls pop3` log, as OpenSSL 3.0 prints it: the greeting it
/// read before STLS, cut to the length of the STLS reply and without its line end, so that
/// what s_client prints next (`---`, or the next reply) is glued to it. Returns the greeting
/// and the glued rest.
fn unglue_greeting(l: &str) -> Option<(&str, &str)> {
    if let Some(g) = l.strip_suffix("---")
        && !g.is_empty()
    {
        return Some((g, "---"));
    }
    let at = ["+OK", "-ERR"]
        .iter()
        .filter_map(|s| l.get(1..).and_then(|t| t.find(s)).map(|i| i + 1))
        .min()?;
    Some((&l[..at], &l[at..]))
}

/// How a line of a terminal log ended: a terminal (onlcr) turns each `\n` s_client writes
/// into `\r\n`, so what came from the server (CRLF) ends `\r\r\n`, while what was typed (the
/// terminal's echo) and s_client's own messages end `\r\n`. A log that was not taken from a
/// terminal has bare `\n` (or CRLF everywhere) and says nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    /// `\r\r\n`: the server's.
    Server,
    /// `\r\n`: typed, or s_client's.
    Terminal,
    /// `\n`: no evidence.
    Bare,
}

fn split_end(l: &str) -> (&str, End) {
    if let Some(s) = l.strip_suffix("\r\r") {
        (s.trim_end_matches('\r'), End::Server)
    } else if let Some(s) = l.strip_suffix('\r') {
        (s, End::Terminal)
    } else {
        (l, End::Bare)
    }
}

/// A line of a log: its number in the file, its text, how it ended.
type LogLine<'a> = (usize, &'a str, End);

/// The lines of a log with how each ended, without script(1)'s footer (`Script done on …`,
/// after a blank line) and the empty piece after the last line end.
fn log_lines(text: &str) -> Vec<LogLine<'_>> {
    let mut v: Vec<LogLine<'_>> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| {
            let (t, e) = split_end(l);
            (i + 1, t, e)
        })
        .collect();
    let bare_empty = |x: &LogLine<'_>| x.1.is_empty() && x.2 != End::Server;
    while v.last().is_some_and(bare_empty) {
        v.pop();
    }
    if v.last().is_some_and(|x| x.1.starts_with("Script done on ")) {
        v.pop();
        while v.last().is_some_and(bare_empty) {
            v.pop();
        }
    }
    v
}

/// An `openssl s_client` terminal log (OpenSSL 3.0, with `-ign_eof` or `-quiet`): the
/// handshake banner, session-ticket blocks, script(1)'s header and footer and s_client's own
/// messages are skipped; `closed` and an unexpected-EOF error become the server's close.
///
/// Which side a line is from: under a terminal the line ends tell (see [`End`]). Without that
/// evidence it is inferred (a status line or a line inside a multi-line reply is the
/// server's, any other the client's), and every line so placed is marked doubtful in
/// [`Imported::doubtful`]: [`super::redact_imported`] masks a doubtful line that looks like a login
/// whichever side it ended up on.
///
/// With `-starttls pop3` (told by the greeting glued to what follows, the zero padding after a
/// short greeting, or the command line in script(1)'s header) STLS, its `+OK` and the
/// handshake, which s_client did itself unlogged, are put back.
pub fn openssl(text: &str) -> Result<Imported, ImportError> {
    let all = log_lines(text);
    let evidence = all.iter().any(|x| x.2 == End::Server);
    let mut notes = vec!["s_client logs show lines: every line ends in CRLF here".to_owned()];
    notes.push(if evidence {
        "which side each line is from is told by its line end (a terminal shows the server's CRLF as \\r\\r\\n, what was typed as \\r\\n)".to_owned()
    } else {
        "which lines the client typed is inferred (status lines and multi-line replies are the server's)".to_owned()
    });
    let Greeted {
        lines: raw,
        starttls,
        cut_short,
    } = from_greeting(&all);
    if raw.is_empty() {
        return Err(ImportError::Format(
            "no +OK/-ERR greeting found: not an s_client log of a POP3 session".into(),
        ));
    }
    let noise = session_tickets(&raw);
    let evident = |end: End| evidence && end != End::Bare;
    let mut lines: Vec<Entry> = Vec::new();
    let mut doubtful: Vec<bool> = Vec::new();
    let mut pending: std::collections::VecDeque<Command> = Default::default();
    let mut in_body = false;
    let mut typed = 0usize;
    for (k, &(n, l, end)) in raw.iter().enumerate() {
        if noise[k] {
            continue;
        }
        let sure = evident(end);
        let quiet = if sure { end == End::Terminal } else { !in_body };
        if quiet {
            if let Some(ev) = s_client_event(l) {
                if let Some(ev) = ev {
                    lines.push(logged(n, Item::Transport(ev)));
                    doubtful.push(false);
                }
                continue;
            }
            if s_client_noise(l) || l == "---" {
                continue;
            }
        }
        let b = l.as_bytes();
        let status = StatusLine::looks_like_status(b);
        let server = if sure {
            end == End::Server
        } else {
            in_body || status || b.starts_with(b"+ ") || lines.is_empty()
        };
        if server {
            if in_body {
                in_body = b != b".";
            } else if status && let Some(cmd) = pending.pop_front() {
                in_body = b.starts_with(b"+OK") && cmd.expects_multiline();
            }
        } else {
            pending.push_back(Command::parse(b, b.len() + 2));
            typed += 1;
        }
        lines.push(line_entry(n, !server, b));
        doubtful.push(!sure);
        if starttls && lines.len() == 1 {
            // s_client sent STLS and did the handshake before printing anything.
            lines.push(line_entry(n, true, b"STLS"));
            lines.push(line_entry(n, false, b"+OK"));
            lines.push(logged(
                n,
                Item::Transport(TransportEvent::TlsEstablished {
                    cert_requested: false,
                    client_cert: false,
                }),
            ));
            doubtful.extend([false; 3]);
        }
    }
    if starttls {
        notes.push(format!(
            "line {}: -starttls: {}STLS, its +OK (text unknown) and the handshake were not logged and are put back",
            raw[0].0,
            if cut_short {
                "s_client printed the greeting cut short; "
            } else {
                ""
            }
        ));
    }
    if typed == 0 {
        notes.push("no typed lines: the log holds only the server's side (capture a terminal, e.g. with script(1), to keep what was typed)".into());
    }
    Ok(Imported {
        entries: lines,
        notes,
        doubtful,
    })
}

/// The lines of a log from the greeting on, and what they say of `-starttls`.
struct Greeted<'a> {
    /// The greeting unglued from what s_client printed after it.
    lines: Vec<LogLine<'a>>,
    /// s_client sent STLS and did the handshake before printing anything.
    starttls: bool,
    /// s_client printed the greeting cut to the length of the STLS reply.
    cut_short: bool,
}

fn from_greeting<'a>(all: &[LogLine<'a>]) -> Greeted<'a> {
    let mut raw: Vec<LogLine<'a>> = Vec::new();
    let mut starttls = false;
    let mut cut_short = false;
    let mut told = false;
    for &(n, l, end) in all {
        if raw.is_empty() {
            if l.contains("s_client") && l.contains("-starttls") {
                told = true;
            }
            if !StatusLine::looks_like_status(l.as_bytes()) {
                continue;
            }
            if let Some((greeting, rest)) = unglue_greeting(l) {
                starttls = true;
                cut_short = true;
                raw.push((n, greeting, End::Server));
                raw.push((n, rest, End::Terminal));
                continue;
            }
            starttls = told;
        } else if raw.len() == 1 && l.starts_with('\0') {
            // A greeting shorter than the STLS reply: s_client printed the rest of its
            // buffer, zeros, glued to what came next.
            starttls = true;
            raw.push((n, l.trim_start_matches('\0'), end));
            continue;
        }
        raw.push((n, l, end));
    }
    Greeted {
        lines: raw,
        starttls,
        cut_short,
    }
}

/// Which lines are in a session-ticket block (TLS 1.3 sends them after the handshake,
/// s_client prints them whenever they arrive): from the `---` before "Post-Handshake New
/// Session Ticket arrived:" to the `---` after it.
fn session_tickets(raw: &[LogLine<'_>]) -> Vec<bool> {
    let mut noise = vec![false; raw.len()];
    let mut i = 0;
    while i < raw.len() {
        if matches!(
            raw[i].1,
            "Post-Handshake New Session Ticket arrived:" | "SSL-Session:"
        ) && raw[i].2 != End::Server
            && !noise[i]
        {
            if i > 0 && raw[i - 1].1 == "---" {
                noise[i - 1] = true;
            }
            let mut j = i;
            while j < raw.len() {
                noise[j] = true;
                if j > i && raw[j].1 == "---" {
                    break;
                }
                j += 1;
            }
            i = j;
        }
        i += 1;
    }
    noise
}
