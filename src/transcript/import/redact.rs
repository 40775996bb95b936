//! Masking the secrets of an import, as the recorder masks them in a live session.

use popscope_core::command::{Command, Keyword};

use crate::transcript::lines::LineWalker;
use crate::transcript::text::{Entry, Item};

use super::Imported;

/// Masks the secrets of an import: every client line as [`redact`] does, and, as a defence
/// against a line put on the wrong side, any doubtful line that looks like a login (PASS,
/// APOP, AUTH with an initial response: see `popscope_core::redact::secret_span`) whichever side
/// it ended up on. Returns whether anything was masked.
pub(crate) fn redact_imported(imp: &mut Imported) -> bool {
    let mut changed = false;
    for (e, _) in imp
        .entries
        .iter_mut()
        .zip(imp.doubtful.iter())
        .filter(|(_, d)| **d)
    {
        let Item::Server(b) = &mut e.item else {
            continue;
        };
        let body = b.strip_suffix(b"\r\n").unwrap_or(b);
        if let Some(mut masked) = popscope_core::redact::client_line(body, None) {
            masked.extend_from_slice(&b[body.len()..]);
            *b = masked;
            changed = true;
        }
    }
    imp.doubtful.clear();
    redact(&mut imp.entries) | changed
}

/// Masks the secrets of client lines (PASS, APOP digests, AUTH initial responses and every SASL
/// response), keeping each line's length; returns whether anything was masked. A client line
/// split across entries (TCP segments of a capture) is judged whole: its start moves to the
/// entry that ends it.
fn redact(entries: &mut Vec<Entry>) -> bool {
    let mut walker = LineWalker::new(true);
    let mut changed = false;
    let mut carry: Vec<u8> = Vec::new();
    let mut last_client = None;
    let walk = |walker: &mut LineWalker, client: bool, bytes: &[u8]| {
        let mut v = Vec::with_capacity(bytes.len());
        let mut any = false;
        for line in bytes.split_inclusive(|&c| c == b'\n') {
            let shown = walker.line(client, line);
            any |= shown.redacted;
            v.extend_from_slice(&shown.bytes);
        }
        (v, any)
    };
    // A log can pair replies wrongly (a command typed ahead, a reply out of order), and then
    // the walker does not know a SASL exchange is open. A client line that answers a `+`
    // continuation and is no POP3 command is a SASL response whatever the pairing says.
    let mut after_continuation = false;
    for (i, e) in entries.iter_mut().enumerate() {
        match &mut e.item {
            Item::Client(b) => {
                let mut whole = std::mem::take(&mut carry);
                whole.extend_from_slice(b);
                let end = whole.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
                carry = whole.split_off(end);
                let (mut v, any) = walk(&mut walker, true, &whole);
                changed |= any;
                if after_continuation && !any {
                    let (masked, did) = mask_first_response(&v);
                    v = masked;
                    changed |= did;
                }
                after_continuation = false;
                *b = v;
                last_client = Some(i);
            }
            Item::Server(b) => {
                let (v, _) = walk(&mut walker, false, b);
                after_continuation = v
                    .split_inclusive(|&c| c == b'\n')
                    .next_back()
                    .is_some_and(|l| l.starts_with(b"+ ") || l.starts_with(b"+\r") || l == b"+");
                *b = v;
            }
            Item::Transport(ev) => walker.transport(*ev),
            Item::Idle { .. } => {}
        }
    }
    if let Some(i) = last_client
        && !carry.is_empty()
    {
        let (v, any) = walk(&mut walker, true, &carry);
        changed |= any;
        if let Some(Entry {
            item: Item::Client(b),
            ..
        }) = entries.get_mut(i)
        {
            b.extend_from_slice(&v);
        }
    }
    entries.retain(|e| !matches!(&e.item, Item::Client(b) if b.is_empty()));
    changed
}

/// The first line of `client` masked as a SASL response (same length, still base64) when it
/// is no POP3 command; the rest kept. Whether anything was masked.
fn mask_first_response(client: &[u8]) -> (Vec<u8>, bool) {
    let first_end = client
        .iter()
        .position(|&c| c == b'\n')
        .map_or(client.len(), |p| p + 1);
    let (first, rest) = client.split_at(first_end);
    let body = first.strip_suffix(b"\n").unwrap_or(first);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    if body.is_empty() || Command::parse(body, body.len() + 2).keyword != Keyword::Other {
        return (client.to_vec(), false);
    }
    match popscope_core::redact::client_line(body, Some("")) {
        Some(mut masked) => {
            masked.extend_from_slice(&first[body.len()..]);
            masked.extend_from_slice(rest);
            (masked, true)
        }
        None => (client.to_vec(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_split_across_segments_is_masked_whole() {
        let entry = |client: bool, b: &[u8]| Entry {
            line: 1,
            item: if client {
                Item::Client(b.to_vec())
            } else {
                Item::Server(b.to_vec())
            },
            at: None,
        };
        let mut entries = vec![
            entry(false, b"+OK ready\r\n"),
            entry(true, b"USER demo\r\nPASS hun"),
            entry(false, b"+OK\r\n"),
            entry(true, b"ter2\r\nAUTH PLAIN\r"),
            entry(true, b"\n"),
            entry(false, b"-ERR no\r\n+ \r\n"),
            entry(true, b"AGRlbW8Ac2VjcmV0\r\n"),
        ];
        assert!(redact(&mut entries));
        let client: Vec<u8> = entries
            .iter()
            .filter_map(|e| match &e.item {
                Item::Client(b) => Some(b.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        let text = String::from_utf8_lossy(&client).into_owned();
        assert!(!text.contains("hun") && !text.contains("ter2"), "{text}");
        assert!(
            text.starts_with("USER demo\r\nPASS *******\r\nAUTH PLAIN\r\n"),
            "{text}"
        );
        assert!(!text.contains("AGRlbW8Ac2VjcmV0"), "{text}");
    }
}
