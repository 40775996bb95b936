//! Multi-line replies and the maildrop (rules.md §3.8-§3.12): ML-*, MSG-*, DEL-*, UIDL-*,
//! TOP-*, and UTF-003/UTF-004 for message data.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::super::command::{Keyword, Syntax, parse_decimal};
use super::super::engine::{Body, BodyKind, Completed, Exchange};
use super::super::event::Location;
use super::super::framer::Line;
use super::super::response::{Status, StatusLine};
use super::super::session::Session;
use super::super::state::State;
use super::catalog as r;
use super::{Checker, MAX_SHAPES, Memory, Severity, server_at};
use crate::plural;
use crate::sanitize::display;

/// Lines of a message whose running hash is kept, to tell whether TOP is a prefix of RETR.
const PREFIX_LINES: usize = 256;

/// What RETR or TOP delivered so far, scanned line by line without keeping the lines.
#[derive(Debug, Default)]
pub(crate) struct MessageScan {
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
    fn done_scanning(&self) -> bool {
        self.nul && self.lone_cr && self.eight_bit_body && (self.eight_bit_header || self.in_body)
    }
    fn shape(&self) -> MessageShape {
        MessageShape {
            header_lines: self.header_lines,
            body_lines: self.body_lines,
            has_blank: self.in_body,
            prefix: self.prefix.clone(),
        }
    }
}

/// Per-listing bookkeeping for LIST and UIDL.
#[derive(Debug, Default)]
pub(crate) struct ListScan {
    numbers: NumberSet,
    /// Hash of a uid -> first message number with it. The uid itself is in the maildrop
    /// (a hit is confirmed there), so a million-line UIDL does not keep every uid twice.
    uids: HashMap<u64, u32>,
    max_number: u32,
}

/// Message numbers seen in one listing, one bit each up to the tracked limit.
#[derive(Debug, Default)]
struct NumberSet {
    bits: Vec<u64>,
}

impl NumberSet {
    /// Adds `n`; false if it was there already. Numbers beyond the limit are not kept
    /// (and never reported as repeated).
    fn insert(&mut self, n: u32) -> bool {
        let (word, bit) = (n as usize / 64, 1u64 << (n % 64));
        if word > super::super::session::MAX_TRACKED_MESSAGES / 64 {
            return true;
        }
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        match self.bits.get_mut(word) {
            Some(w) if *w & bit != 0 => false,
            Some(w) => {
                *w |= bit;
                true
            }
            None => true,
        }
    }

    fn contains(&self, n: u32) -> bool {
        self.bits
            .get(n as usize / 64)
            .is_some_and(|w| w & (1u64 << (n % 64)) != 0)
    }

    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0u32..).zip(self.bits.iter()).flat_map(|(i, &w)| {
            (0..64u32)
                .filter(move |b| w & (1u64 << b) != 0)
                .map(move |b| i * 64 + b)
        })
    }
}

fn uid_hash(uid: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    uid.hash(&mut h);
    h.finish()
}

/// The layout of a message as RETR delivered it.
#[derive(Clone, Debug)]
pub(crate) struct MessageShape {
    header_lines: u64,
    body_lines: u64,
    has_blank: bool,
    /// Running hash after each of the first lines.
    prefix: Vec<u64>,
}

/// What TOP delivered, to compare with RETR of the same message.
#[derive(Clone, Debug)]
pub(crate) struct TopShape {
    n: u64,
    shape: MessageShape,
    at: Location,
}

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    if h == 0 {
        h = 0xcbf2_9ce4_8422_2325;
    }
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

// ------------------------------------------------------------------ reply framing (ML)

/// ML-003: a `.` line where a status line belongs.
pub(crate) fn stray_terminator(
    c: &mut Checker,
    last: Option<Completed>,
    exchange: u32,
    line: &Line<'_>,
) {
    let at = server_at(exchange, line.offset);
    let msg = match last {
        Some(l) if !l.multiline && l.id > 0 => format!(
            "The single-line reply to {} was followed by data ending in a '.' line: every -ERR, and +OK to STAT, LIST n, UIDL n, DELE, NOOP, RSET and the login commands, is one line (RFC 1939 §3).",
            l.keyword
        ),
        _ => "A '.' line arrived where a status line belongs: a single-line reply carried data, or a listing was terminated twice.".to_owned(),
    };
    c.report(&r::ML_003, Severity::Violation, at, msg);
}

/// A status line inside a listing: the listing never came (ML-004) or never ended (ML-001).
pub(crate) fn status_inside_listing(c: &mut Checker, body: &Body, offset: u64) {
    let at = server_at(body.ex.id, offset);
    let k = body.ex.keyword();
    if body.lines == 0 && body.kind == BodyKind::Lang {
        c.report(&r::LANG_004, Severity::Warning, at,
            "LANG without argument was answered +OK with no language list; a positive reply is usually a list ending in '.' (RFC 6856 §3.2).");
    } else if body.lines == 0 {
        c.report(&r::ML_004, Severity::Violation, at, format!(
            "+OK to {k} was not followed by a listing: the next line is a status line. +OK to {k} is multi-line and ends with '.'; a client waiting for the '.' hangs."
        ));
    } else {
        c.report(&r::ML_001, Severity::Violation, at, format!(
            "A status line appeared inside the {k} listing after {} line(s): the listing never got its terminating '.'.",
            body.lines
        ));
    }
}

/// ML-002: a data line starting with a single `.`.
pub(crate) fn unstuffed_dot(c: &mut Checker, at: Location, content: &[u8]) {
    c.report_once_per_exchange(&r::ML_002, Severity::Violation, at, || {
        format!(
            "The data line \"{}\" starts with a single '.': lines starting with '.' are sent with one more '.' (dot-stuffing, RFC 1939 §3). A message line that is just '.' ends the reply early.",
            display(content, 40)
        )
    });
}

pub(crate) fn closed_in_body(c: &mut Checker, body: &Body, at: Location) {
    c.report(&r::ML_001, Severity::Violation, at, format!(
        "The connection closed in the middle of the {} reply ({}, no terminating '.'): a multi-line reply ends with a line holding only '.'.",
        body.ex.keyword(),
        plural(body.lines, "line")
    ));
}

pub(crate) fn timeout_in_body(c: &mut Checker, body: &Body, at: Location) {
    let k = body.ex.keyword();
    if body.lines == 0 && body.kind == BodyKind::Lang {
        c.report_once_per_exchange(&r::LANG_004, Severity::Warning, at, || {
            "LANG without argument was answered +OK and no language list followed before the timeout.".into()
        });
    } else if body.lines == 0 && body.kind.is_listing() {
        c.report_once_per_exchange(&r::ML_004, Severity::Warning, at, || {
            format!("+OK to {k} and then nothing before the timeout: the reply looks single-line, but +OK to {k} is multi-line.")
        });
    } else {
        c.report_once_per_exchange(&r::ML_001, Severity::Warning, at, || {
            format!(
                "The {k} reply had not ended when the wait ran out ({} so far, no '.'): the server went quiet, or kept sending without ending it.",
                plural(body.lines, "line")
            )
        });
    }
}

pub(crate) fn empty_list(c: &mut Checker, body: &Body) {
    let at = server_at(body.ex.id, body.reply_offset);
    c.report_once(&r::ML_005, Severity::Info, at, || {
        format!(
            "The {} listing is empty: +OK followed directly by '.', the correct form.",
            body.ex.keyword()
        )
    });
}

// ------------------------------------------------------------------ RETR and TOP data

pub(crate) fn message_line(
    c: &mut Checker,
    s: &Session,
    scan: &mut MessageScan,
    at: Location,
    line: &Line<'_>,
    content: &[u8],
) {
    let lines = scan.header_lines + scan.body_lines + u64::from(scan.in_body);
    if scan.in_body {
        scan.body_lines += 1;
    } else if content.is_empty() {
        scan.in_body = true;
    } else {
        scan.header_lines += 1;
    }
    if (lines as usize) < PREFIX_LINES {
        scan.hash = fnv(fnv(scan.hash, content), b"\n");
        scan.prefix.push(scan.hash);
    }
    if scan.done_scanning() || !unusual(content) {
        return;
    }
    if !scan.nul && memchr::memchr(0, content).is_some() {
        scan.nul = true;
        c.report(&r::UTF_003, Severity::Violation, at,
            "The message contains NUL octets: binary content is never allowed in POP3 message data (RFC 6856 §2.1).");
    }
    if !scan.lone_cr && memchr::memchr(b'\r', content).is_some() {
        scan.lone_cr = true;
        c.report(&r::GEN_001, Severity::Info, at,
            "A message line contains a bare CR: inside message data that is content, not a line end, but mail should not carry it.");
    }
    if (!scan.eight_bit_body || !scan.eight_bit_header) && !content.is_ascii() && !s.utf8_mode {
        let utf8_advertised = s.any_caps().is_some_and(|caps| caps.has("UTF8"));
        let in_header = !scan.in_body;
        if in_header && !scan.eight_bit_header {
            scan.eight_bit_header = true;
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
        } else if !in_header && !scan.eight_bit_body {
            scan.eight_bit_body = true;
            let severity = if utf8_advertised {
                Severity::Warning
            } else {
                Severity::Info
            };
            c.report(&r::UTF_003, severity, at,
                "The message body carries 8-bit octets before UTF-8 mode (common legacy mail; outside RFC 6856 unless the server advertises UTF8).");
        }
    }
    let _ = line;
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

// ------------------------------------------------------------------ scan and uid listings

/// Why a `msg SP value` line does not parse.
#[derive(Debug, PartialEq)]
enum PairProblem {
    LeadingSpace,
    DoubleSpace,
    MissingSecond,
    /// Looks like a number but is not plain decimal (GEN-011).
    NotDecimal(String),
    NotNumeric(String),
}

/// A `msg SP value [SP rest]` line, split.
type Pair<'a> = (u32, &'a [u8], Option<&'a [u8]>);

/// Splits `first SP second [SP rest]`; `first` must be a message number.
fn split_pair(text: &[u8]) -> Result<Pair<'_>, PairProblem> {
    if text.first() == Some(&b' ') {
        return Err(PairProblem::LeadingSpace);
    }
    let mut parts = text.splitn(3, |&b| b == b' ');
    let first = parts.next().unwrap_or_default();
    let second = parts.next().ok_or(PairProblem::MissingSecond)?;
    if second.is_empty() {
        return Err(if text.ends_with(b" ") {
            PairProblem::MissingSecond
        } else {
            PairProblem::DoubleSpace
        });
    }
    let n = number_token(first)?;
    let n = u32::try_from(n).map_err(|_| PairProblem::NotNumeric(display(first, 20)))?;
    Ok((n, second, parts.next()))
}

fn number_token(tok: &[u8]) -> Result<u64, PairProblem> {
    if let Some(n) = parse_decimal(tok) {
        return Ok(n);
    }
    let looks_numeric = tok
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'+' || *b == b'-');
    Err(if looks_numeric {
        PairProblem::NotDecimal(display(tok, 20))
    } else {
        PairProblem::NotNumeric(display(tok, 20))
    })
}

fn pair_problem(
    c: &mut Checker,
    rule: &'static super::RuleInfo,
    at: Location,
    what: &str,
    p: PairProblem,
) {
    match p {
        PairProblem::NotDecimal(tok) => c.report_once_per_exchange(&r::GEN_011, Severity::Violation, at, || {
            format!("\"{tok}\" in {what} is not a plain decimal number (no sign, hex or separators; RFC 1939 §4).")
        }),
        other => {
            let why = match other {
                PairProblem::LeadingSpace => "starts with a space".to_owned(),
                PairProblem::DoubleSpace => "has two spaces between its fields".to_owned(),
                PairProblem::MissingSecond => "lacks its second field".to_owned(),
                PairProblem::NotNumeric(t) | PairProblem::NotDecimal(t) => format!("has \"{t}\" where a number belongs"),
            };
            c.report_once_per_exchange(rule, Severity::Violation, at, || format!("A line of {what} {why}."));
        }
    }
}

/// One `msg SP octets` line of a LIST listing.
pub(crate) fn scan_line(
    c: &mut Checker,
    s: &mut Session,
    body: &mut Body,
    at: Location,
    content: &[u8],
) {
    let (n, second, extra) = match split_pair(content) {
        Ok(v) => v,
        Err(p) => return pair_problem(c, &r::MSG_003, at, "the LIST listing", p),
    };
    let size = match number_token(second) {
        Ok(v) => v,
        Err(p) => return pair_problem(c, &r::MSG_003, at, "the LIST listing", p),
    };
    if extra.is_some() {
        c.report_once_per_exchange(&r::MSG_003, Severity::Info, at, || {
            "LIST lines carry text after the size: allowed, but strongly discouraged (RFC 1939 §5)."
                .into()
        });
    }
    listed_number(c, s, &mut body.list, at, n, "LIST");
    track_size(c, s, at, n, size);
}

fn listed_number(
    c: &mut Checker,
    s: &Session,
    list: &mut ListScan,
    at: Location,
    n: u32,
    what: &str,
) {
    list.max_number = list.max_number.max(n);
    if !list.numbers.insert(n) {
        c.report_once_per_exchange(&r::MSG_004, Severity::Violation, at, || {
            format!("Message {n} appears twice in the {what} listing: each message is listed once.")
        });
    }
    if s.maildrop.is_deleted(n) {
        c.report_once_per_exchange(&r::MSG_004, Severity::Violation, at, || {
            format!("The {what} listing includes message {n}, which is marked deleted: deleted messages are not listed (RFC 1939 §5).")
        });
    }
    if let Some(count) = s.maildrop.initial_count
        && (u64::from(n) > count)
    {
        c.report_once_per_exchange(&r::MSG_004, Severity::Violation, at, || {
            format!("The {what} listing includes message {n}, beyond the {} the maildrop had when opened: numbers are fixed at login (RFC 1939 §4).", plural(count, "message"))
        });
    }
}

fn track_size(c: &mut Checker, s: &mut Session, at: Location, n: u32, size: u64) {
    let Some(entry) = s.maildrop.entry(n) else {
        return;
    };
    match entry.size {
        Some(old) if old != size => c.report_once_per_exchange(&r::MSG_007, Severity::Violation, at, || {
            format!("Message {n} was listed with {} earlier and {size} now: message sizes do not change during a session.", plural(old, "octet"))
        }),
        _ => entry.size = Some(size),
    }
}

/// One `msg SP uid` line of a UIDL listing.
pub(crate) fn uid_line(
    c: &mut Checker,
    s: &mut Session,
    body: &mut Body,
    at: Location,
    content: &[u8],
) {
    let (n, uid, extra) = match split_pair(content) {
        Ok(v) => v,
        Err(p) => return pair_problem(c, &r::UIDL_001, at, "the UIDL listing", p),
    };
    if extra.is_some() {
        c.report_once_per_exchange(&r::UIDL_001, Severity::Violation, at, || {
            format!("The UIDL line \"{}\" has text after the uid: a unique-id listing is `msg SP uid` and nothing more (RFC 1939 §7).", display(content, 60))
        });
    }
    check_uid(c, at, uid);
    listed_number(c, s, &mut body.list, at, n, "UIDL");
    if body.list.uids.len() < super::super::session::MAX_TRACKED_MESSAGES {
        let key = uid_hash(uid);
        match body.list.uids.get(&key) {
            Some(&first)
                if first != n
                    && s.maildrop.get(first).and_then(|m| m.uid.as_deref()) == Some(uid) =>
            {
                let sizes = (
                    s.maildrop.get(first).and_then(|m| m.size),
                    s.maildrop.get(n).and_then(|m| m.size),
                );
                let differ = matches!(sizes, (Some(a), Some(b)) if a != b);
                let severity = if differ {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                c.report(&r::UIDL_004, severity, at, format!(
                    "Messages {first} and {n} share the uid \"{}\"{}: uids are unique within a listing (identical copies may share one).",
                    display(uid, 40),
                    if differ { " although their sizes differ" } else { "" }
                ));
            }
            Some(_) => {}
            None => {
                body.list.uids.insert(key, n);
            }
        }
    }
    track_uid(c, s, at, n, uid);
}

fn check_uid(c: &mut Checker, at: Location, uid: &[u8]) {
    if uid.is_empty() || uid.len() > 70 || !uid.iter().all(|b| (0x21..=0x7e).contains(b)) {
        c.report_once_per_exchange(&r::UIDL_002, Severity::Violation, at, || {
            format!(
                "The uid \"{}\" is not 1 to 70 characters in 0x21-0x7E (RFC 1939 §7).",
                display(uid, 80)
            )
        });
    }
}

fn track_uid(c: &mut Checker, s: &mut Session, at: Location, n: u32, uid: &[u8]) {
    let Some(entry) = s.maildrop.entry(n) else {
        return;
    };
    match &entry.uid {
        Some(old) if **old != *uid => c.report_once_per_exchange(&r::MSG_007, Severity::Violation, at, || {
            format!("Message {n} had the uid \"{}\" earlier and \"{}\" now: the number-to-uid map is fixed for the session.", display(old, 40), display(uid, 40))
        }),
        _ => entry.uid = Some(uid.into()),
    }
}

// ------------------------------------------------------------------ end of a data block

pub(crate) fn body_end(
    c: &mut Checker,
    s: &mut Session,
    m: &mut Memory,
    body: &Body,
    complete: bool,
) {
    if !complete {
        return;
    }
    let at = server_at(body.ex.id, body.reply_offset);
    match body.kind {
        BodyKind::List => list_end(c, s, m, body, at),
        BodyKind::Uidl if body.lines == 0 => empty_list(c, body),
        BodyKind::Retr => retr_end(c, s, m, body, at),
        BodyKind::Top => top_end(c, m, body, at),
        _ => {}
    }
}

fn list_end(c: &mut Checker, s: &mut Session, m: &mut Memory, body: &Body, at: Location) {
    if body.lines == 0 {
        empty_list(c, body);
    }
    if let Some((count, _)) = s.maildrop.expected_stat()
        && body.lines != count
        && !s.maildrop.saturated
    {
        c.report(&r::MSG_004, Severity::Violation, at, format!(
            "LIST has {} but the maildrop holds {}: LIST lists each non-deleted message exactly once.",
            plural(body.lines, "line"),
            plural(count, "undeleted message")
        ));
    }
    let missing_restored: Vec<u32> = m
        .restored
        .iter()
        .copied()
        .filter(|&n| !body.list.numbers.contains(n))
        .take(5)
        .collect();
    if !missing_restored.is_empty() {
        c.report(&r::DEL_002, Severity::Violation, at, format!(
            "After RSET, LIST still omits message(s) {:?}: RSET unmarks every deleted message (RFC 1939 §5).",
            missing_restored
        ));
    }
    if s.maildrop.initial_count.is_none() && s.state == State::Transaction {
        s.maildrop.initial_count = Some(u64::from(body.list.max_number).max(body.lines));
    }
    if let Some((_, stat_octets)) = s.maildrop.last_stat {
        let sizes: Option<u64> = body
            .list
            .numbers
            .iter()
            .map(|n| s.maildrop.get(n).and_then(|x| x.size))
            .sum();
        if let Some(sum) = sizes
            && sum != stat_octets
            && s.maildrop.deleted().next().is_none()
        {
            c.report_once(&r::MSG_006, Severity::Info, at, || {
                format!(
                    "STAT reports {} but the LIST sizes add up to {sum}.",
                    plural(stat_octets, "octet")
                )
            });
        }
    }
}

fn retr_end(c: &mut Checker, s: &mut Session, m: &mut Memory, body: &Body, at: Location) {
    let Some(n) = body.ex.msg() else { return };
    let got = body.octets;
    if let Some(claimed) = body.message.claimed_octets
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
    if let Some(entry) = s.maildrop.entry(n) {
        entry.retr_octets = Some(got);
    }
    let shape = body.message.shape();
    if let Some(tops) = m.top_shapes.remove(&n) {
        for top in tops {
            compare_top(c, &shape, &top, n);
        }
    }
    if m.retr_shapes.len() < MAX_SHAPES || m.retr_shapes.contains_key(&n) {
        m.retr_shapes.insert(n, shape);
    }
}

fn top_end(c: &mut Checker, m: &mut Memory, body: &Body, at: Location) {
    let (Some(n), Some(lines)) = (body.ex.msg(), body.ex.cmd.arg(1).and_then(parse_decimal)) else {
        return;
    };
    let shape = body.message.shape();
    if shape.body_lines > lines {
        c.report(&r::TOP_001, Severity::Violation, at, format!(
            "TOP {n} {lines} returned {}: TOP returns the headers, the blank line and at most {} (RFC 1939 §7).",
            plural(shape.body_lines, "body line"),
            plural(lines, "body line")
        ));
        return;
    }
    let top = TopShape {
        n: lines,
        shape,
        at,
    };
    match m.retr_shapes.get(&n) {
        Some(full) => compare_top(c, full, &top, n),
        None if m.top_shapes.len() < MAX_SHAPES => m.top_shapes.entry(n).or_default().push(top),
        None => {}
    }
}

/// TOP-001: TOP's lines are a prefix of RETR's, with exactly min(n, body lines) body lines.
fn compare_top(c: &mut Checker, full: &MessageShape, top: &TopShape, msg: u32) {
    let want_body = top.n.min(full.body_lines);
    let t = &top.shape;
    let shape_ok = t.header_lines == full.header_lines
        && (t.body_lines == want_body)
        && (t.has_blank == full.has_blank);
    let lines = (t.header_lines + t.body_lines + u64::from(t.has_blank)) as usize;
    let prefix_ok = lines == 0
        || lines > full.prefix.len()
        || t.prefix.get(lines - 1) == full.prefix.get(lines - 1);
    if !shape_ok {
        c.report(&r::TOP_001, Severity::Violation, top.at, format!(
            "TOP {msg} {} returned {} header and {} body lines, but RETR shows {} header lines and {} body lines, so {want_body} body lines were due (RFC 1939 §7).",
            top.n, t.header_lines, t.body_lines, full.header_lines, full.body_lines
        ));
    } else if !prefix_ok {
        c.report(
            &r::TOP_001,
            Severity::Violation,
            top.at,
            format!(
                "TOP {msg} {} did not return the same lines as the start of RETR {msg}.",
                top.n
            ),
        );
    }
}

// ------------------------------------------------------------------ single-line replies

pub(crate) fn on_reply(
    c: &mut Checker,
    s: &Session,
    m: &mut Memory,
    ex: &Exchange,
    at: Location,
    st: &StatusLine<'_>,
) {
    let k = ex.keyword();
    let ok = st.status == Status::Ok;
    let in_trans = s.state == State::Transaction;
    if ok
        && matches!(
            k,
            Keyword::Retr | Keyword::Dele | Keyword::List | Keyword::Uidl | Keyword::Top
        )
    {
        message_number(c, s, ex, at);
    }
    if !in_trans {
        return;
    }
    match k {
        Keyword::Stat if ok => stat_reply(c, s, m, at, st.full_text),
        Keyword::List if ok && ex.cmd.arg_count() == 1 => list_one(c, s, ex, at, st.full_text),
        Keyword::Uidl if ok && ex.cmd.arg_count() == 1 => uidl_one(c, s, ex, at, st.full_text),
        Keyword::Rset if !ok => c.report(&r::DEL_002, Severity::Violation, at,
            "RSET was answered -ERR: RSET always answers +OK and unmarks every deleted message (RFC 1939 §5)."),
        _ => {}
    }
}

/// MSG-009, DEL-001, TOP-002: `+OK` to a bad or deleted message number.
fn message_number(c: &mut Checker, s: &Session, ex: &Exchange, at: Location) {
    let k = ex.keyword();
    match ex.cmd.syntax() {
        Syntax::BadMessageNumber => {
            let arg = ex.cmd.arg(0).map(|a| display(a, 20));
            c.report(&r::MSG_009, Severity::Violation, at, match arg {
                Some(a) => format!("{k} {a} was answered +OK: \"{a}\" is not a valid message number (decimal, from 1)."),
                None => format!("{k} without a message number was answered +OK."),
            });
            return;
        }
        Syntax::BadLineCount => {
            c.report(&r::TOP_002, Severity::Violation, at, format!(
                "\"{}\" was answered +OK: TOP needs a non-negative number of lines (RFC 1939 §7).",
                display(ex.cmd.redacted().as_bytes(), 40)
            ));
            return;
        }
        _ => {}
    }
    let Some(n) = ex.msg() else { return };
    if let Some(count) = s.maildrop.initial_count
        && u64::from(n) > count
    {
        c.report(
            &r::MSG_009,
            Severity::Violation,
            at,
            format!(
                "{k} {n} was answered +OK but the maildrop holds only {}.",
                plural(count, "message")
            ),
        );
    } else if s.maildrop.is_deleted(n) {
        c.report(&r::DEL_001, Severity::Violation, at, format!(
            "{k} {n} was answered +OK although message {n} is marked deleted: a deleted message may not be referred to (RFC 1939 §5)."
        ));
    }
}

fn stat_reply(c: &mut Checker, s: &Session, m: &mut Memory, at: Location, text: &[u8]) {
    let (count, octets, extra) =
        match split_pair_u64(text) {
            Ok(v) => v,
            Err(PairProblem::NotDecimal(tok)) => {
                return c.report(
                    &r::GEN_011,
                    Severity::Violation,
                    at,
                    format!(
                        "STAT answered \"+OK {}\": \"{tok}\" is not a plain decimal number.",
                        display(text, 40)
                    ),
                );
            }
            Err(_) => {
                return c.report(&r::MSG_001, Severity::Violation, at, format!(
                "STAT answered \"+OK {}\": the reply must be `+OK count octets` (RFC 1939 §5).",
                display(text, 40)
            ));
            }
        };
    if extra {
        c.report_once(&r::MSG_001, Severity::Info, at, || {
            "STAT carries text after the octet count: allowed, but strongly discouraged.".into()
        });
    }
    let Some((want_count, want_octets)) = s.maildrop.expected_stat() else {
        return;
    };
    let changed = s.maildrop.deleted().next().is_some() || !m.restored.is_empty();
    let counts = plural(count, "message");
    if count != want_count {
        if !m.restored.is_empty() && count < want_count {
            c.report(&r::DEL_002, Severity::Violation, at, format!(
                "After RSET, STAT counts {counts} instead of {want_count}: RSET unmarks every deleted message."
            ));
        } else if changed {
            let are = if want_count == 1 { "is" } else { "are" };
            c.report(&r::MSG_002, Severity::Violation, at, format!(
                "STAT counts {counts}, but {want_count} {are} not marked deleted: STAT excludes deleted messages and RSET restores them (RFC 1939 §5)."
            ));
        } else if count > want_count {
            c.report(&r::MSG_008, Severity::Warning, at, format!(
                "STAT now counts {counts}; the maildrop had {want_count} when opened: new mail should not appear during a session."
            ));
        }
    } else if let Some(want) = want_octets
        && want != octets
        && changed
    {
        c.report(
            &r::MSG_002,
            Severity::Warning,
            at,
            format!(
                "STAT reports {}; with the deleted messages' sizes removed it should be {want}.",
                plural(octets, "octet")
            ),
        );
    }
}

fn split_pair_u64(text: &[u8]) -> Result<(u64, u64, bool), PairProblem> {
    if text.first() == Some(&b' ') {
        return Err(PairProblem::LeadingSpace);
    }
    let mut parts = text.splitn(3, |&b| b == b' ');
    let a = number_token(parts.next().unwrap_or_default())?;
    let b = number_token(parts.next().ok_or(PairProblem::MissingSecond)?)?;
    Ok((a, b, parts.next().is_some()))
}

fn list_one(c: &mut Checker, s: &Session, ex: &Exchange, at: Location, text: &[u8]) {
    let Some(asked) = ex.msg() else { return };
    let (n, second, _) = match split_pair(text) {
        Ok(v) => v,
        Err(p) => return pair_problem(c, &r::MSG_003, at, "the LIST reply", p),
    };
    let size = match number_token(second) {
        Ok(v) => v,
        Err(p) => return pair_problem(c, &r::MSG_003, at, "the LIST reply", p),
    };
    if n != asked {
        c.report(
            &r::MSG_005,
            Severity::Violation,
            at,
            format!("LIST {asked} was answered for message {n}."),
        );
    } else if let Some(known) = s.maildrop.get(n).and_then(|x| x.size)
        && known != size
    {
        c.report(
            &r::MSG_005,
            Severity::Violation,
            at,
            format!(
                "LIST {n} says {}, the full listing said {known}.",
                plural(size, "octet")
            ),
        );
    }
}

fn uidl_one(c: &mut Checker, s: &Session, ex: &Exchange, at: Location, text: &[u8]) {
    let Some(asked) = ex.msg() else { return };
    let (n, uid, extra) = match split_pair(text) {
        Ok(v) => v,
        Err(p) => return pair_problem(c, &r::UIDL_001, at, "the UIDL reply", p),
    };
    if extra.is_some() {
        c.report(
            &r::UIDL_001,
            Severity::Violation,
            at,
            "The UIDL reply has text after the uid.",
        );
    }
    check_uid(c, at, uid);
    if n != asked {
        c.report(
            &r::UIDL_006,
            Severity::Violation,
            at,
            format!("UIDL {asked} was answered for message {n}."),
        );
    } else if let Some(known) = s.maildrop.get(n).and_then(|x| x.uid.as_deref())
        && known != uid
    {
        c.report(
            &r::UIDL_006,
            Severity::Violation,
            at,
            format!(
                "UIDL {n} returns \"{}\", the full listing said \"{}\" (RFC 1939 §7).",
                display(uid, 40),
                display(known, 40)
            ),
        );
    }
}

/// Maildrop changes single-line replies make: STAT, DELE, RSET, LIST n, UIDL n; and what a
/// RETR reply claims, for MSG-010.
pub(crate) fn apply(s: &mut Session, m: &mut Memory, ex: &Exchange, st: &StatusLine<'_>) {
    if st.status != Status::Ok {
        return;
    }
    match ex.keyword() {
        Keyword::Stat => {
            if let Ok((count, octets, _)) = split_pair_u64(st.full_text) {
                s.maildrop.last_stat = Some((count, octets));
                if s.maildrop.initial_count.is_none() {
                    s.maildrop.initial_count = Some(count);
                    s.maildrop.initial_octets = Some(octets);
                }
            }
        }
        Keyword::Dele => {
            if let Some(e) = ex.msg().and_then(|n| s.maildrop.entry(n)) {
                e.deleted = true;
            }
            m.restored.clear();
        }
        Keyword::Rset => {
            m.restored = s.maildrop.deleted().map(|(n, _)| n).take(10_000).collect();
            for (_, e) in s.maildrop.iter_mut() {
                e.deleted = false;
            }
        }
        Keyword::List if ex.cmd.arg_count() == 1 => {
            if let Ok((n, second, _)) = split_pair(st.full_text)
                && Some(n) == ex.msg()
                && let Ok(size) = number_token(second)
                && let Some(e) = s.maildrop.entry(n)
            {
                e.size.get_or_insert(size);
            }
        }
        Keyword::Uidl if ex.cmd.arg_count() == 1 => {
            if let Ok((n, uid, _)) = split_pair(st.full_text)
                && Some(n) == ex.msg()
                && let Some(e) = s.maildrop.entry(n)
            {
                e.uid.get_or_insert_with(|| uid.into());
            }
        }
        _ => {}
    }
}

/// The "N octets" a RETR `+OK` text claims, if it does (text is not significant: MSG-010).
pub(crate) fn claimed_octets(text: &[u8]) -> Option<u64> {
    let mut words = text.split(|&b| b == b' ');
    let n = parse_decimal(words.next()?)?;
    let unit = words.next()?;
    unit.eq_ignore_ascii_case(b"octets").then_some(n)
}

impl MessageScan {
    pub(crate) fn for_reply(st: &StatusLine<'_>) -> Self {
        MessageScan {
            claimed_octets: claimed_octets(st.full_text),
            ..MessageScan::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The finding messages of a session written as `S: ` and `C: ` lines, fed to an engine.
    fn messages(trace: &str) -> Vec<String> {
        let mut engine = crate::Engine::new(crate::Config::default());
        let mut found = Vec::new();
        let mut sink = |e: crate::Event<'_>| {
            if let crate::Event::Finding(f) = e {
                found.push(f.message.clone());
            }
        };
        for (i, line) in trace.lines().enumerate() {
            let now = crate::Time(i as u64);
            if let Some(l) = line.strip_prefix("S: ") {
                engine.handle_server(now, format!("{l}\r\n").as_bytes(), &mut sink);
            } else if let Some(l) = line.strip_prefix("C: ") {
                engine.handle_client(now, format!("{l}\r\n").as_bytes(), &mut sink);
            }
        }
        found
    }

    #[test]
    fn one_message_is_one_message() {
        let login = "S: +OK ready\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\n";
        let m = messages(&format!(
            "{login}C: STAT\nS: +OK 1 200\nC: LIST\nS: +OK\nS: 1 200\nS: 2 1\nS: .\nC: DELE 1\nS: +OK\nC: STAT\nS: +OK 1 200\nC: LIST 2\nS: +OK 2 3\n"
        ))
        .join("\n");
        assert!(m.contains("STAT counts 1 message, but 0 are"), "{m}");
        assert!(
            m.contains("LIST has 2 lines but the maildrop holds 1 undeleted message:"),
            "{m}"
        );
        assert!(m.contains("beyond the 1 message the maildrop"), "{m}");
        let m = messages(&format!(
            "{login}C: STAT\nS: +OK 2 200\nC: LIST\nS: +OK\nS: 1 100\nS: 2 100\nS: .\nC: DELE 1\nS: +OK\nC: STAT\nS: +OK 2 100\nC: TOP 2 1\nS: +OK\nS: a: b\nS: \nS: x\nS: y\nS: .\nC: LIST 2\nS: +OK 2 1\n"
        ))
        .join("\n");
        assert!(m.contains("but 1 is not marked deleted"), "{m}");
        assert!(m.contains("returned 2 body lines: TOP returns the headers, the blank line and at most 1 body line "), "{m}");
        assert!(m.contains("LIST 2 says 1 octet, the full"), "{m}");
    }

    #[test]
    fn pairs() {
        assert_eq!(split_pair(b"1 120"), Ok((1, &b"120"[..], None)));
        assert_eq!(
            split_pair(b"1 120 extra"),
            Ok((1, &b"120"[..], Some(&b"extra"[..])))
        );
        assert_eq!(split_pair(b" 1 120"), Err(PairProblem::LeadingSpace));
        assert_eq!(split_pair(b"1  120"), Err(PairProblem::DoubleSpace));
        assert_eq!(split_pair(b"1"), Err(PairProblem::MissingSecond));
        assert!(matches!(
            split_pair(b"+1 120"),
            Err(PairProblem::NotDecimal(_))
        ));
        assert!(matches!(
            split_pair(b"one 120"),
            Err(PairProblem::NotNumeric(_))
        ));
    }

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
    fn claimed() {
        assert_eq!(claimed_octets(b"120 octets"), Some(120));
        assert_eq!(claimed_octets(b"message follows"), None);
    }
}
