//! Message data (rules.md §3.12 RETR and TOP, with UTF-003, UTF-004 of §3.15 and MSG-010): what
//! RETR and TOP deliver, scanned line by line without keeping the lines, and TOP-001, which
//! compares the two for one message.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use super::area::{Area, Ctx, DataLine, PlainLines};
use super::catalog as r;
use super::catalog::Severity;
use super::checker::Checker;
use crate::command::parse_decimal;
use crate::event::Location;
use crate::exchange::{Body, BodyKind, server_at};
use crate::plural;
use crate::response::StatusLine;
use crate::sanitize::display;

/// Lines of a message whose running hash is kept, to tell whether TOP is a prefix of RETR.
const PREFIX_LINES: usize = 256;

/// At most this many messages keep a RETR shape, and this many TOP shapes wait, for TOP-001.
const MAX_SHAPES: usize = 4096;

/// RETR and TOP data, with the message in progress and the shapes TOP-001 compares. Bounded:
/// at most [`MAX_SHAPES`] RETR shapes (up to 2 KiB each) and as many TOP shapes (64 octets).
#[derive(Debug, Default)]
pub(crate) struct Message {
    /// The RETR or TOP data in progress.
    scan: MessageScan,
    /// TOP-001: shapes of messages seen in full (RETR).
    retr_shapes: HashMap<u32, MessageShape>,
    /// TOP-001: shapes of messages seen in part (TOP), waiting for a RETR of the same message.
    top_shapes: HashMap<u32, Vec<TopShape>>,
    /// How many TOP shapes wait in `top_shapes`.
    tops_waiting: usize,
    /// TOP-001's line hash, keyed by a secret of this engine's own: the lines come from mail
    /// anyone can send, and with a public hash (FNV) they could pick a TOP that matches a
    /// different RETR, or one that differs from the same.
    prefix_key: RandomState,
}

impl Area for Message {
    fn on_body_start(&mut self, _cx: &mut Ctx<'_>, body: &Body, st: &StatusLine<'_>) {
        if matches!(body.kind, BodyKind::Retr | BodyKind::Top) {
            self.scan = MessageScan::for_reply(st);
        }
    }

    #[inline(always)] // runs on every data line of every body: the kind test inlines
    fn on_body_line(&mut self, cx: &mut Ctx<'_>, body: &Body, line: &DataLine<'_>) {
        if matches!(body.kind, BodyKind::Retr | BodyKind::Top) {
            self.scan.line(cx, line, &self.prefix_key);
        }
    }

    fn on_plain_lines(&mut self, cx: &mut Ctx<'_>, body: &Body, lines: &PlainLines<'_>) {
        if !matches!(body.kind, BodyKind::Retr | BodyKind::Top) {
            return;
        }
        if self.scan.past_prefix() {
            // What `line` does to a plain body line once the prefix is hashed: count it.
            self.scan.body_lines += lines.count();
        } else {
            let key = &self.prefix_key;
            lines.each(|line| self.scan.line(cx, line, key));
        }
    }

    fn on_body_end(&mut self, cx: &mut Ctx<'_>, body: &Body, complete: bool) {
        if !complete {
            return;
        }
        match body.kind {
            BodyKind::Retr => self.retr_end(cx, body),
            BodyKind::Top => self.top_end(cx, body),
            _ => {}
        }
    }
}

impl Message {
    /// MSG-010, MSG-006 (UTF-004 in UTF-8 mode) and TOP-001 once RETR is complete.
    fn retr_end(&mut self, cx: &mut Ctx<'_>, body: &Body) {
        let (c, s) = (&mut *cx.check, &mut *cx.session);
        let at = server_at(body.ex.id, body.reply_offset);
        let Some(n) = body.ex.msg() else { return };
        let got = body.octets;
        if let Some(claimed) = self.scan.claimed_octets
            && claimed != got
        {
            c.report(&r::MSG_010, Severity::Info, at, format!(
                "The +OK text claims {} and {got} came; only +OK is significant in a RETR reply (RFC 1939 §9), the LIST size is what counts.",
                plural(claimed, "octet")
            ));
        }
        if let Some(size) = s.maildrop.get(n).and_then(|x| x.size)
            && size != got
        {
            let (rule, why) = if s.utf8_mode {
                (
                    &r::UTF_004,
                    "in UTF-8 mode LIST sizes should match what RETR delivers (RFC 6856 §2.1)",
                )
            } else {
                (
                    &r::MSG_006,
                    "the size in a scan listing is the exact number of octets RETR delivers, with CRLF line ends and without stuffing dots or the terminator (RFC 1939 §5, §11)",
                )
            };
            c.report(
                rule,
                Severity::Warning,
                at,
                format!(
                    "LIST said message {n} has {} but RETR delivered {got}: {why}.",
                    plural(size, "octet")
                ),
            );
        }
        s.maildrop.set_retr_octets(n, got);
        let shape = self.scan.take_shape();
        if let Some(tops) = self.top_shapes.remove(&n) {
            self.tops_waiting -= tops.len();
            for top in tops {
                compare_top(c, &shape, &top, n);
            }
        }
        if self.retr_shapes.len() < MAX_SHAPES || self.retr_shapes.contains_key(&n) {
            self.retr_shapes.insert(n, shape);
        }
    }

    /// TOP-001 once TOP is complete: at most n body lines, and the lines of RETR if it was seen.
    fn top_end(&mut self, cx: &mut Ctx<'_>, body: &Body) {
        let c = &mut *cx.check;
        let at = server_at(body.ex.id, body.reply_offset);
        let (Some(n), Some(lines)) = (body.ex.msg(), body.ex.cmd.arg(1).and_then(parse_decimal))
        else {
            return;
        };
        let scan = &self.scan;
        if scan.body_lines > lines {
            c.report(&r::TOP_001, Severity::Violation, at, format!(
                "TOP {n} {lines} returned {}: TOP returns the headers, the blank line and at most {} (RFC 1939 §7).",
                plural(scan.body_lines, "body line"),
                plural(lines, "body line")
            ));
            return;
        }
        let top = TopShape {
            n: lines,
            header_lines: scan.header_lines,
            body_lines: scan.body_lines,
            has_blank: scan.in_body,
            // The hash after TOP's last line, which RETR's prefix must have at the same place;
            // past the prefix (or with no line) there is nothing to compare.
            last: scan.prefix.get(scan.lines().wrapping_sub(1)).copied(),
            at,
        };
        match self.retr_shapes.get(&n) {
            Some(full) => compare_top(c, full, &top, n),
            None if self.tops_waiting < MAX_SHAPES => {
                self.tops_waiting += 1;
                self.top_shapes.entry(n).or_default().push(top)
            }
            None => {}
        }
    }
}

/// What RETR or TOP delivered so far, scanned line by line without keeping the lines.
#[derive(Debug, Default)]
struct MessageScan {
    in_body: bool,
    header_lines: u64,
    body_lines: u64,
    hash: u64,
    prefix: Vec<u64>,
    nul: bool,
    lone_cr: bool,
    eight_bit_header: bool,
    eight_bit_body: bool,
    /// The octet count the `+OK` text claimed, if it said "N octets" (MSG-010).
    claimed_octets: Option<u64>,
}

impl MessageScan {
    /// In the body, and past the lines whose hash TOP-001 keeps: a plain line only counts.
    fn past_prefix(&self) -> bool {
        self.in_body && self.header_lines + self.body_lines + 1 >= PREFIX_LINES as u64
    }
    fn done_scanning(&self) -> bool {
        self.nul && self.lone_cr && self.eight_bit_body && (self.eight_bit_header || self.in_body)
    }
    /// Header lines, the blank line if seen, and body lines.
    fn lines(&self) -> usize {
        (self.header_lines + self.body_lines + u64::from(self.in_body)) as usize
    }
    /// The shape of the data just ended; the scan is replaced at the next body.
    fn take_shape(&mut self) -> MessageShape {
        MessageShape {
            header_lines: self.header_lines,
            body_lines: self.body_lines,
            has_blank: self.in_body,
            prefix: std::mem::take(&mut self.prefix),
        }
    }
}

impl MessageScan {
    /// UTF-003 and GEN-001 for one data line of RETR or TOP; counts and hashes it for TOP-001.
    fn line(&mut self, cx: &mut Ctx<'_>, line: &DataLine<'_>, key: &RandomState) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let (at, content) = (line.at, line.content);
        let lines = self.header_lines + self.body_lines + u64::from(self.in_body);
        if self.in_body {
            self.body_lines += 1;
        } else if content.is_empty() {
            self.in_body = true;
        } else {
            self.header_lines += 1;
        }
        if (lines as usize) < PREFIX_LINES {
            // Chained, so a line's hash stands for every line up to it.
            self.hash = key.hash_one((self.hash, content));
            self.prefix.push(self.hash);
        }
        if self.done_scanning() || !unusual(content) {
            return;
        }
        if !self.nul && memchr::memchr(0, content).is_some() {
            self.nul = true;
            c.report(&r::UTF_003, Severity::Violation, at,
                "The message contains NUL octets: binary content is never allowed in POP3 message data (RFC 6856 §2.1).");
        }
        if !self.lone_cr && memchr::memchr(b'\r', content).is_some() {
            self.lone_cr = true;
            c.report(&r::GEN_001, Severity::Info, at,
                "A message line contains a bare CR: inside message data that is content, not a line end, but mail should not carry it.");
        }
        if (!self.eight_bit_body || !self.eight_bit_header) && !content.is_ascii() && !s.utf8_mode {
            let utf8_advertised = s.any_caps().is_some_and(|caps| caps.has("UTF8"));
            let in_header = !self.in_body;
            if in_header && !self.eight_bit_header {
                self.eight_bit_header = true;
                let severity = if utf8_advertised {
                    Severity::Violation
                } else {
                    Severity::Info
                };
                c.report(&r::UTF_003, severity, at, format!(
                    "Raw non-ASCII octets in the message header (\"{}\") before UTF-8 mode: {}",
                    display(content, 50),
                    if utf8_advertised {
                        "the server advertises UTF8, so it must send a surrogate or refuse with -ERR [UTF8] until the client issues UTF8 (RFC 6856 §2.1, §5)."
                    } else {
                        "legacy 8-bit headers; RFC 6856 clients need UTF8 first."
                    }
                ));
            } else if !in_header && !self.eight_bit_body {
                self.eight_bit_body = true;
                let severity = if utf8_advertised {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                c.report(&r::UTF_003, severity, at,
                    "The message body carries 8-bit octets before UTF-8 mode (common legacy mail; outside RFC 6856 unless the server advertises UTF8).");
            }
        }
    }

    fn for_reply(st: &StatusLine<'_>) -> Self {
        MessageScan {
            claimed_octets: claimed_octets(st.full_text),
            ..MessageScan::default()
        }
    }
}

/// The layout of a message as RETR delivered it.
#[derive(Clone, Debug)]
struct MessageShape {
    header_lines: u64,
    body_lines: u64,
    has_blank: bool,
    /// Running hash after each of the first lines.
    prefix: Vec<u64>,
}

/// What TOP delivered, to compare with RETR of the same message.
#[derive(Clone, Debug)]
struct TopShape {
    n: u64,
    header_lines: u64,
    body_lines: u64,
    has_blank: bool,
    /// The running hash after TOP's last line, if that line is among the hashed ones.
    last: Option<u64>,
    at: Location,
}

/// Whether a line holds a NUL, a CR or an 8-bit octet: one pass, eight octets at a time, so
/// plain ASCII mail (nearly all of it) costs one cheap scan per line.
fn unusual(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const CRS: u64 = 0x0d0d_0d0d_0d0d_0d0d;
    // Non-zero exactly when some octet of `w` is zero.
    let zero_octet = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let mut words = bytes.chunks_exact(8);
    for c in &mut words {
        let w = c.try_into().map(u64::from_le_bytes).unwrap_or(0);
        if (w & HIGH) | zero_octet(w) | zero_octet(w ^ CRS) != 0 {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b == 0 || b == b'\r' || b >= 0x80)
}

/// TOP-001: TOP's lines are a prefix of RETR's, with exactly min(n, body lines) body lines.
fn compare_top(c: &mut Checker, full: &MessageShape, t: &TopShape, msg: u32) {
    let want_body = t.n.min(full.body_lines);
    let shape_ok = t.header_lines == full.header_lines
        && (t.body_lines == want_body)
        && (t.has_blank == full.has_blank);
    let lines = (t.header_lines + t.body_lines + u64::from(t.has_blank)) as usize;
    let prefix_ok =
        lines == 0 || lines > full.prefix.len() || t.last == full.prefix.get(lines - 1).copied();
    if !shape_ok {
        c.report(&r::TOP_001, Severity::Violation, t.at, format!(
            "TOP {msg} {} returned {} header and {} body lines, but RETR shows {} header lines and {} body lines, so {want_body} body lines were due (RFC 1939 §7).",
            t.n, t.header_lines, t.body_lines, full.header_lines, full.body_lines
        ));
    } else if !prefix_ok {
        c.report(
            &r::TOP_001,
            Severity::Violation,
            t.at,
            format!(
                "TOP {msg} {} did not return the same lines as the start of RETR {msg}.",
                t.n
            ),
        );
    }
}

/// The "N octets" a RETR `+OK` text claims, if it does (text is not significant: MSG-010).
fn claimed_octets(text: &[u8]) -> Option<u64> {
    let mut words = text.split(|&b| b == b' ');
    let n = parse_decimal(words.next()?)?;
    let unit = words.next()?;
    unit.eq_ignore_ascii_case(b"octets").then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusual_octets() {
        assert!(!unusual(b""));
        assert!(!unusual(
            b"Lorem ipsum dolor sit amet, consectetur adipiscing elit\t!"
        ));
        for bad in [0u8, b'\r', 0x80, 0xff] {
            for pos in 0..20 {
                let mut v = vec![b'a'; 20];
                v[pos] = bad;
                assert!(unusual(&v), "{bad:#x} at {pos}");
            }
        }
        assert!(!unusual(&[
            0x0c,
            0x0e,
            0x7f,
            0x01,
            0x0d ^ 0x80 ^ 0x80 ^ 0x01,
            0x20,
            0x20,
            0x20,
            0x20
        ]));
    }

    #[test]
    fn a_waiting_top_costs_64_octets() {
        assert!(std::mem::size_of::<TopShape>() <= 64);
    }

    /// A login, then TOP `msg` 1 answered with `body` lines after a one-line header, then
    /// RETR `msg` answered with the header and `retr` lines.
    fn top_then_retr(msg: u32, body: &[&str], retr: &[&str]) -> Vec<String> {
        let mut t = crate::rules::tests::LOGIN.to_owned();
        t.push_str(&format!("C: TOP {msg} 1\nS: +OK\nS: Subject: x\nS: \n"));
        body.iter().for_each(|l| t.push_str(&format!("S: {l}\n")));
        t.push_str(&format!(
            "S: .\nC: RETR {msg}\nS: +OK\nS: Subject: x\nS: \n"
        ));
        retr.iter().for_each(|l| t.push_str(&format!("S: {l}\n")));
        t.push_str("S: .\n");
        crate::rules::tests::findings(&t)
            .0
            .into_iter()
            .filter(|f| f.rule.id == "TOP-001")
            .map(|f| f.message)
            .collect()
    }

    #[test]
    fn top_is_compared_with_the_start_of_a_later_retr() {
        assert!(top_then_retr(1, &["one"], &["one", "two"]).is_empty());
        let other = top_then_retr(1, &["uno"], &["one", "two"]);
        assert_eq!(other.len(), 1, "{other:?}");
        assert!(
            other[0].contains("did not return the same lines"),
            "{other:?}"
        );
        let short = top_then_retr(1, &[], &["one", "two"]);
        assert!(short[0].contains("so 1 body lines were due"), "{short:?}");
    }

    #[test]
    fn top_past_the_hashed_lines_compares_its_counts_only() {
        // As many header lines as are hashed, different in TOP and RETR: past the hashes.
        let header = |v: &str| -> String {
            (0..PREFIX_LINES)
                .map(|i| format!("S: H-{i}: {v}\n"))
                .collect()
        };
        let trace = format!(
            "{}C: TOP 1 0\nS: +OK\n{}S: \nS: .\nC: RETR 1\nS: +OK\n{}S: \nS: body\nS: .\n",
            crate::rules::tests::LOGIN,
            header("x"),
            header("y")
        );
        let found = crate::rules::tests::findings(&trace).0;
        assert!(found.iter().all(|f| f.rule.id != "TOP-001"), "{found:?}");
    }

    #[test]
    fn claimed() {
        assert_eq!(claimed_octets(b"120 octets"), Some(120));
        assert_eq!(claimed_octets(b"message follows"), None);
    }
}
