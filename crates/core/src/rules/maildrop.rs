//! STAT, LIST and message numbers (rules.md §3.9, MSG-*) and deleted messages (§3.10, DEL-*):
//! what the maildrop holds, as STAT, LIST, DELE and RSET tell it. MSG-010 and the LIST size
//! against RETR are judged in `message`, which sees the data.

use super::area::{Answer, Area, Ctx, DataLine, PlainLines};
use super::catalog as r;
use super::catalog::Severity;
use super::listing::{
    NumberSet, PairProblem, number_token, pair_problem, split_pair, split_pair_u64,
};
use crate::command::{Keyword, Syntax};
use crate::exchange::{Body, BodyKind, Exchange, server_at};
use crate::plural;
use crate::response::{Status, StatusLine};
use crate::sanitize::display;
use crate::state::State;

/// The maildrop's rules, with the LIST listing in progress and what RSET restored.
#[derive(Debug, Default)]
pub(crate) struct Maildrop {
    /// Message numbers of the LIST listing in progress.
    numbers: NumberSet,
    /// The highest of them.
    max_number: u32,
    /// DEL-002: messages that were marked deleted before the last RSET (until the next DELE).
    restored: Vec<u32>,
}

impl Area for Maildrop {
    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let (ex, at, st) = (reply.ex, reply.at, reply.status);
        let k = ex.keyword();
        let ok = st.status == Status::Ok;
        let in_trans = cx.session.state == State::Transaction;
        if ok
            && matches!(
                k,
                Keyword::Retr | Keyword::Dele | Keyword::List | Keyword::Uidl | Keyword::Top
            )
        {
            message_number(cx, reply);
        }
        if !in_trans {
            return;
        }
        match k {
            Keyword::Stat if ok => self.stat_reply(cx, reply),
            Keyword::List if ok && ex.cmd.arg_count() == 1 => list_one(cx, reply),
            Keyword::Rset if !ok => cx.check.report(&r::DEL_002, Severity::Violation, at,
                "RSET was answered -ERR: RSET always answers +OK and unmarks every deleted message (RFC 1939 §5)."),
            _ => {}
        }
    }

    /// Maildrop changes single-line replies make: STAT, DELE, RSET, LIST n.
    fn after_reply(&mut self, cx: &mut Ctx<'_>, ex: &Exchange, st: &StatusLine<'_>) {
        let s = &mut *cx.session;
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
                if let Some(n) = ex.msg() {
                    s.maildrop.set_deleted(n);
                }
                self.restored.clear();
            }
            Keyword::Rset => {
                self.restored = s.maildrop.deleted().map(|(n, _)| n).take(10_000).collect();
                s.maildrop.undelete_all();
            }
            Keyword::List if ex.cmd.arg_count() == 1 => {
                if let Ok((n, second, _)) = split_pair(st.full_text)
                    && Some(n) == ex.msg()
                    && let Ok(size) = number_token(second)
                    && s.maildrop.get(n).and_then(|m| m.size).is_none()
                {
                    s.maildrop.set_size(n, size);
                }
            }
            _ => {}
        }
    }

    fn on_body_start(&mut self, _cx: &mut Ctx<'_>, body: &Body, _st: &StatusLine<'_>) {
        if body.kind == BodyKind::List {
            self.numbers = NumberSet::default();
            self.max_number = 0;
        }
    }

    #[inline(always)] // runs on every data line of every body: the kind test inlines
    fn on_body_line(&mut self, cx: &mut Ctx<'_>, body: &Body, line: &DataLine<'_>) {
        if body.kind == BodyKind::List {
            self.scan_line(cx, line);
        }
    }

    // The kind test once for the lines, not once a line: the compiler does not hoist it.
    fn on_plain_lines(&mut self, cx: &mut Ctx<'_>, body: &Body, lines: &PlainLines<'_>) {
        if body.kind == BodyKind::List {
            lines.each(|line| self.scan_line(cx, line));
        }
    }

    fn on_body_end(&mut self, cx: &mut Ctx<'_>, body: &Body, complete: bool) {
        if !complete || body.kind != BodyKind::List {
            return;
        }
        let at = server_at(body.ex.id, body.reply_offset);
        let (c, s) = (&mut *cx.check, &mut *cx.session);
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
        let missing_restored: Vec<u32> = self
            .restored
            .iter()
            .copied()
            .filter(|&n| !self.numbers.contains(n))
            .take(5)
            .collect();
        if !missing_restored.is_empty() {
            c.report(&r::DEL_002, Severity::Violation, at, format!(
                "After RSET, LIST still omits message(s) {:?}: RSET unmarks every deleted message (RFC 1939 §5).",
                missing_restored
            ));
        }
        if s.maildrop.initial_count.is_none() && s.state == State::Transaction {
            s.maildrop.initial_count = Some(u64::from(self.max_number).max(body.lines));
        }
        if let Some((_, stat_octets)) = s.maildrop.last_stat {
            let sizes: Option<u64> = self
                .numbers
                .iter()
                .map(|n| s.maildrop.get(n).and_then(|x| x.size))
                .sum();
            if let Some(sum) = sizes
                && sum != stat_octets
                && s.maildrop.deleted_count() == 0
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
}

impl Maildrop {
    /// One `msg SP octets` line of a LIST listing.
    fn scan_line(&mut self, cx: &mut Ctx<'_>, line: &DataLine<'_>) {
        let (c, at, content) = (&mut *cx.check, line.at, line.content);
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
        self.max_number = self.max_number.max(n);
        self.numbers.listed(cx, at, n, "LIST");
        let maildrop = &mut cx.session.maildrop;
        match maildrop.get(n).and_then(|m| m.size) {
            Some(old) if old != size => cx.check.report_once_per_exchange(&r::MSG_007, Severity::Violation, at, || {
                format!("Message {n} was listed with {} earlier and {size} now: message sizes do not change during a session.", plural(old, "octet"))
            }),
            _ => maildrop.set_size(n, size),
        }
    }

    fn stat_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let (at, text) = (reply.at, reply.status.full_text);
        let (count, octets, extra) = match split_pair_u64(text) {
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
        let changed = s.maildrop.deleted_count() > 0 || !self.restored.is_empty();
        let counts = plural(count, "message");
        if count != want_count {
            if !self.restored.is_empty() && count < want_count {
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
}

/// MSG-009, DEL-001, TOP-002: `+OK` to a bad or deleted message number.
fn message_number(cx: &mut Ctx<'_>, reply: &Answer<'_>) {
    let (c, s) = (&mut *cx.check, &*cx.session);
    let (ex, at) = (reply.ex, reply.at);
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
                display(&ex.cmd.redacted_bytes(), 40)
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

fn list_one(cx: &mut Ctx<'_>, reply: &Answer<'_>) {
    let (c, s) = (&mut *cx.check, &*cx.session);
    let (ex, at, text) = (reply.ex, reply.at, reply.status.full_text);
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

#[cfg(test)]
mod tests {
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
}
