//! The text transcript format: `C:` / `S:` lines and `--` transport events.
//!
//! ```text
//! # a comment
//! S: +OK POP3 ready
//! C: USER alice
//! S: +OK\r\n           <- ends in an escaped line end: nothing is appended
//! S: +OK partial\      <- ends in a lone backslash: nothing is appended
//! -- tls client-cert
//! -- idle 30
//! -- closed
//! ```
//! Escapes: `\\`, `\r`, `\n`, `\t`, `\xHH`. Without an escaped line end or a trailing `\`,
//! CRLF is appended.

use std::fmt::Write as _;

use popscope_core::{TlsFailure, TransportEvent};

/// One thing that happened, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Client(Vec<u8>),
    Server(Vec<u8>),
    Transport(TransportEvent),
    /// Time passes with nothing on the wire.
    Idle {
        seconds: f64,
    },
}

/// An item and the line of the file it came from (1-based).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub(crate) line: usize,
    pub item: Item,
    /// When it happened, if the transcript recorded it (JSON Lines does; the text format
    /// does not, and replay then advances 1 ms per entry).
    pub(crate) at: Option<popscope_core::Time>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub(crate) message: String,
}

/// Parses a whole transcript. Stops at the first malformed line, naming it.
/// The longest `-- idle` a transcript may hold: a year. Longer is a typo (or an attack on the
/// clock, which counts microseconds in a u64).
pub const MAX_IDLE: f64 = 366.0 * 86_400.0;

pub fn parse(input: &[u8]) -> Result<Vec<Entry>, ParseError> {
    let mut entries = Vec::new();
    stream(input, |e, _| entries.push(e))?;
    Ok(entries)
}

/// One line may be at most this long; longer is an error, so a file without line ends cannot
/// exhaust memory.
pub(crate) const MAX_LINE: usize = 64 << 20;

/// Reads a transcript line by line in bounded memory, handing out each entry with the raw
/// line it came from (without its line end). Stops at the first malformed line, naming it.
pub(crate) fn stream<R: std::io::BufRead>(
    r: R,
    on: impl FnMut(Entry, &[u8]),
) -> Result<(), ParseError> {
    stream_from(r, 1, on)
}

/// Like [`stream`], for a reader whose first line is line `first` of the file.
pub(crate) fn stream_from<R: std::io::BufRead>(
    mut r: R,
    first: usize,
    mut on: impl FnMut(Entry, &[u8]),
) -> Result<(), ParseError> {
    use std::io::{BufRead as _, Read as _};
    let mut buf = Vec::new();
    let mut line = first.saturating_sub(1);
    loop {
        buf.clear();
        line += 1;
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| ParseError {
                line,
                message: format!("cannot read: {e}"),
            })?;
        if n == 0 {
            return Ok(());
        }
        if buf.len() > MAX_LINE {
            return Err(ParseError {
                line,
                message: "a line longer than 64 MiB".into(),
            });
        }
        let raw = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Some(item) = parse_line(raw).map_err(|message| ParseError { line, message })? {
            on(
                Entry {
                    line,
                    item,
                    at: None,
                },
                raw,
            );
        }
    }
}

/// One line of the format (without its line end): an item, or None for a blank or comment.
fn parse_line(raw: &[u8]) -> Result<Option<Item>, String> {
    let trimmed = raw.trim_ascii_start();
    if trimmed.is_empty() || trimmed.starts_with(b"#") {
        return Ok(None);
    }
    let item = if let Some(rest) = raw.strip_prefix(b"C:") {
        Item::Client(unescape(strip_one_space(rest))?)
    } else if let Some(rest) = raw.strip_prefix(b"S:") {
        Item::Server(unescape(strip_one_space(rest))?)
    } else if let Some(rest) = raw.strip_prefix(b"--") {
        directive(std::str::from_utf8(rest).map_err(|_| "a '--' line is not UTF-8".to_owned())?)?
    } else {
        return Err(format!(
            "expected 'C: ', 'S: ', '-- ' or '#', found \"{}\"",
            popscope_core::sanitize::display(raw, 40)
        ));
    };
    Ok(Some(item))
}

fn strip_one_space(s: &[u8]) -> &[u8] {
    s.strip_prefix(b" ").unwrap_or(s)
}

fn directive(text: &str) -> Result<Item, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let event = match words.as_slice() {
        ["tls", flags @ ..] => {
            let mut cert_requested = false;
            let mut client_cert = false;
            for f in flags {
                match *f {
                    "client-cert" => {
                        client_cert = true;
                        cert_requested = true;
                    }
                    "cert-requested" => cert_requested = true,
                    other => {
                        return Err(format!(
                            "unknown flag '{other}' after '-- tls' (client-cert, cert-requested)"
                        ));
                    }
                }
            }
            TransportEvent::TlsEstablished {
                cert_requested,
                client_cert,
            }
        }
        ["tls-failed", reason] => TransportEvent::TlsFailed {
            reason: match *reason {
                "plaintext" => TlsFailure::PlaintextFromServer,
                "alert" => TlsFailure::ServerAlert,
                "client" => TlsFailure::ClientAborted,
                other => {
                    return Err(format!(
                        "unknown reason '{other}' (plaintext, alert, client)"
                    ));
                }
            },
        },
        ["closed"] => TransportEvent::ServerClosed { close_notify: true },
        ["closed", "no-close-notify"] => TransportEvent::ServerClosed {
            close_notify: false,
        },
        ["client-closed"] => TransportEvent::ClientClosed,
        [
            stls @ ("client-stls" | "client-stls-failed"),
            dropped,
            extras @ ..,
        ] => {
            let mut client_cert = false;
            let mut injected_replies = 0;
            for extra in extras {
                match (*extra, extra.strip_prefix("injected=")) {
                    ("cert", _) => client_cert = true,
                    (_, Some(n)) => {
                        injected_replies = n.parse().map_err(|_| {
                            format!("'{n}' after 'injected=' is not a count of lines")
                        })?;
                    }
                    (other, None) => {
                        return Err(format!(
                            "unknown flag '{other}' after '-- {stls}' (cert, injected=N)"
                        ));
                    }
                }
            }
            TransportEvent::ClientLegStls {
                dropped_octets: dropped.parse().map_err(|_| {
                    format!("'{dropped}' after '-- {stls}' is not a count of octets")
                })?,
                established: *stls == "client-stls",
                client_cert,
                injected_replies,
            }
        }
        ["client-tls"] => TransportEvent::ClientLegTls { client_cert: false },
        ["client-tls", "cert"] => TransportEvent::ClientLegTls { client_cert: true },
        ["client-stls-refused"] => TransportEvent::ClientStlsRefused,
        ["timeout"] => TransportEvent::Timeout,
        ["idle", secs] => {
            let seconds: f64 = secs
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && (0.0..=MAX_IDLE).contains(s))
                .ok_or_else(|| {
                    format!(
                        "'-- idle' needs a number of seconds from 0 to {MAX_IDLE}, not '{secs}'"
                    )
                })?;
            return Ok(Item::Idle { seconds });
        }
        _ => {
            return Err(format!(
                "unknown event '--{text}' (tls, tls client-cert, tls-failed REASON, closed, client-closed, timeout, idle SECONDS)"
            ));
        }
    };
    Ok(Item::Transport(event))
}

/// Decodes escapes and appends CRLF unless the text ends in an escaped line end or a lone `\`.
/// The runs between backslashes are copied whole: most lines hold none.
fn unescape(s: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() + 2);
    let mut rest = s;
    let mut ends_with_escaped_eol = false;
    while let Some(at) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(&rest[..at]);
        let (value, len) = match rest.get(at + 1) {
            None => return Ok(out),
            Some(b'\\') => (b'\\', 2),
            Some(b'r') => (b'\r', 2),
            Some(b'n') => (b'\n', 2),
            Some(b't') => (b'\t', 2),
            Some(b'x') => {
                let hex = rest
                    .get(at + 2..at + 4)
                    .ok_or("'\\x' needs two hex digits")?;
                let v = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        format!(
                            "'\\x{}' is not two hex digits",
                            String::from_utf8_lossy(hex)
                        )
                    })?;
                (v, 4)
            }
            Some(other) => {
                return Err(format!(
                    "unknown escape '\\{}' (use \\\\, \\r, \\n, \\t, \\xHH)",
                    *other as char
                ));
            }
        };
        ends_with_escaped_eol = len == 2 && matches!(value, b'\r' | b'\n');
        out.push(value);
        rest = &rest[at + len..];
    }
    if !rest.is_empty() {
        ends_with_escaped_eol = false;
    }
    out.extend_from_slice(rest);
    if !ends_with_escaped_eol {
        out.extend_from_slice(b"\r\n");
    }
    Ok(out)
}

/// Writes bytes as the text format would: printable ASCII as is, the rest escaped, and the
/// line end implicit when the bytes end in exactly one CRLF. A UTF-8 sequence is escaped too, so
/// a transcript is plain ASCII and survives any editor.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let (body, implicit_crlf) = match bytes.strip_suffix(b"\r\n") {
        Some(b) if !b.contains(&b'\n') => (b, true),
        _ => (bytes, false),
    };
    let mut s = String::with_capacity(body.len() + 8);
    let mut rest = body;
    // Runs of printable ASCII but the backslash (most of a line) are copied whole.
    while let Some(at) = rest
        .iter()
        .position(|&b| !matches!(b, 0x20..=0x7e) || b == b'\\')
    {
        s.push_str(std::str::from_utf8(&rest[..at]).unwrap_or_default());
        match rest[at] {
            b'\\' => s.push_str("\\\\"),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
        rest = &rest[at + 1..];
    }
    s.push_str(std::str::from_utf8(rest).unwrap_or_default());
    if !implicit_crlf && !body.ends_with(b"\r") && !body.ends_with(b"\n") {
        s.push('\\');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_escapes() {
        let t = b"# c\n\nS: +OK ready\nC: USER a\\x41\nS: +OK\\n\nS: part\\\n-- tls client-cert\n-- idle 2.5\n-- closed\n";
        let e = parse(t).unwrap_or_default();
        let items: Vec<Item> = e.into_iter().map(|e| e.item).collect();
        assert_eq!(
            items,
            vec![
                Item::Server(b"+OK ready\r\n".to_vec()),
                Item::Client(b"USER aA\r\n".to_vec()),
                Item::Server(b"+OK\n".to_vec()),
                Item::Server(b"part".to_vec()),
                Item::Transport(TransportEvent::TlsEstablished {
                    cert_requested: true,
                    client_cert: true
                }),
                Item::Idle { seconds: 2.5 },
                Item::Transport(TransportEvent::ServerClosed { close_notify: true }),
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse(b"S: ok\nX: what").map_err(|e| e.line), Err(2));
        assert_eq!(parse(b"S: \\q").map_err(|e| e.line), Err(1));
        assert_eq!(parse(b"\n-- warp").map_err(|e| e.line), Err(2));
        assert_eq!(parse(b"S: \\x4").map_err(|e| e.line), Err(1));
    }

    #[test]
    fn escape_round_trips() {
        for bytes in [
            &b"+OK ready\r\n"[..],
            b"+OK\n",
            b"part",
            b"a\\b\x1b[2J\r\n",
            b"\r\n",
            b"x\r",
            b"\xff\x00\r\n",
            b"two\r\n\r\n",
        ] {
            let line = format!("S: {}", escape(bytes));
            let back = parse(line.as_bytes()).unwrap_or_default();
            assert_eq!(back.len(), 1, "{line}");
            assert_eq!(back[0].item, Item::Server(bytes.to_vec()), "{line}");
        }
    }
}
