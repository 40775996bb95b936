//! `curl -v` and `curl --trace-ascii` logs.

use popscope_core::command::Command;
use popscope_core::response::StatusLine;

use crate::transcript::text::Entry;

use super::{ImportError, Imported, line_entry};

/// `curl -v` (lines `< ` and `> `) or `curl --trace-ascii` (`<= Recv header` blocks).
pub fn curl(text: &str) -> Result<Imported, ImportError> {
    let mut lines: Vec<(usize, bool, Vec<u8>)> = Vec::new();
    let trace = text
        .lines()
        .any(|l| l.starts_with("=> Send") || l.starts_with("<= Recv"));
    if trace {
        let mut current: Option<(usize, bool, Vec<u8>)> = None;
        for (i, l) in text.lines().enumerate() {
            if l.starts_with("=> Send") || l.starts_with("<= Recv") {
                if let Some(c) = current.take() {
                    lines.push(c);
                }
                current = Some((i + 1, l.starts_with("=>"), Vec::new()));
            } else if l.starts_with("== Info") {
                if let Some(c) = current.take() {
                    lines.push(c);
                }
            } else if let Some((_, _, buf)) = current.as_mut()
                && let Some((offset, data)) = l.split_once(": ")
                && offset.len() == 4
                && offset.bytes().all(|b| b.is_ascii_hexdigit())
            {
                // trace-ascii wraps at 64 octets and shows line ends as line breaks.
                buf.extend_from_slice(data.as_bytes());
            }
        }
        if let Some(c) = current.take() {
            lines.push(c);
        }
    } else {
        for (i, l) in text.lines().enumerate() {
            if let Some(r) = l.strip_prefix("< ") {
                lines.push((i + 1, false, r.as_bytes().to_vec()));
            } else if let Some(r) = l.strip_prefix("> ") {
                lines.push((i + 1, true, r.as_bytes().to_vec()));
            }
        }
    }
    if lines.is_empty() {
        return Err(ImportError::Format(
            "no POP3 lines: expected a curl -v log (< and > lines) or --trace-ascii output".into(),
        ));
    }
    let mut notes =
        vec!["curl logs show lines, not octets: every line ends in CRLF here".to_owned()];
    let entries = close_missing_bodies(lines, &mut notes);
    Ok(Imported::sure(entries, notes))
}

/// Lines as (file line, from client, text). A log that omits a multi-line body (curl writes
/// it elsewhere) would have the next reply swallowed as message data, and an assumed empty body
/// would be judged against the octets the status line claims: such an exchange, command and
/// status line, is left out, and a note names it.
fn close_missing_bodies(lines: Vec<(usize, bool, Vec<u8>)>, notes: &mut Vec<String>) -> Vec<Entry> {
    let mut out: Vec<Option<Entry>> = Vec::with_capacity(lines.len());
    let mut pending: std::collections::VecDeque<(Command, usize)> = Default::default();
    let mut in_body = false;
    let mut left_out: Vec<String> = Vec::new();
    for (i, (n, client, text)) in lines.iter().enumerate() {
        out.push(Some(line_entry(*n, *client, text)));
        if *client {
            pending.push_back((Command::parse(text, text.len() + 2), out.len() - 1));
            continue;
        }
        if in_body {
            if text.as_slice() == b"." {
                in_body = false;
            }
            continue;
        }
        let Some((cmd, at)) = pending.pop_front() else {
            continue;
        };
        let st = StatusLine::parse(text);
        let multi = st.status == popscope_core::Status::Ok && cmd.expects_multiline();
        if !multi {
            continue;
        }
        let body_follows = lines.get(i + 1).is_some_and(|(_, c, _)| !c);
        if body_follows {
            in_body = true;
        } else {
            let line = out[at].take().map_or(*n, |e| e.line);
            out.pop();
            left_out.push(format!(
                "{} (line {line})",
                popscope_core::sanitize::display(&popscope_core::redact::command_line(&cmd), 80)
            ));
        }
    }
    if !left_out.is_empty() {
        notes.push(format!(
            "the log has no data for {}: left out (the body went elsewhere, and a check cannot judge what it did not see)",
            left_out.join(", ")
        ));
    }
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::text::Item;

    #[test]
    fn curl_verbose_log() {
        let log = "* Connected to 127.0.0.1 port 110\n< +OK ready\n> CAPA\n< +OK\n< TOP\n< .\n> RETR 1\n< +OK 278 octets\n* Connection #0 left intact\n";
        let imp = curl(log).unwrap_or_default();
        let server: Vec<u8> = imp
            .entries
            .iter()
            .filter_map(|e| {
                if let Item::Server(b) = &e.item {
                    Some(b.clone())
                } else {
                    None
                }
            })
            .flatten()
            .collect();
        // RETR's body is not in the log: the exchange is left out, not given an empty body
        // the engine would judge against "278 octets".
        assert_eq!(server, b"+OK ready\r\n+OK\r\nTOP\r\n.\r\n");
        assert!(
            !imp.entries
                .iter()
                .any(|e| e.item == Item::Client(b"RETR 1\r\n".to_vec()))
        );
        assert!(
            imp.notes.iter().any(|n| n.contains("RETR 1 (line 7)")),
            "{:?}",
            imp.notes
        );
    }
}
