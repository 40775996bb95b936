//! UIDL (rules.md §3.11): UIDL-001, UIDL-002, UIDL-004, UIDL-006, and MSG-004/MSG-007 for
//! the unique-id listing. UIDL-003 needs two sessions and lives in `cross`.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::area::{Answer, Area, Ctx, DataLine};
use super::catalog as r;
use super::catalog::Severity;
use super::checker::Checker;
use super::listing::{NumberSet, pair_problem, split_pair};
use crate::command::Keyword;
use crate::event::Location;
use crate::exchange::{Body, BodyKind, Exchange};
use crate::response::{Status, StatusLine};
use crate::sanitize::display;
use crate::session::MAX_TRACKED_MESSAGES;
use crate::state::State;

/// Unique-id listings and `UIDL n`, with the listing in progress.
#[derive(Debug, Default)]
pub(crate) struct Uidl {
    /// Message numbers of the UIDL listing in progress.
    numbers: NumberSet,
    /// Hash of a uid -> first message number with it. The uid itself is in the maildrop
    /// (a hit is confirmed there), so a million-line UIDL does not keep every uid twice.
    uids: HashMap<u64, u32>,
}

impl Area for Uidl {
    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let (ex, at, st) = (reply.ex, reply.at, reply.status);
        let text = st.full_text;
        if s.state != State::Transaction
            || ex.keyword() != Keyword::Uidl
            || st.status != Status::Ok
            || ex.cmd.arg_count() != 1
        {
            return;
        }
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

    fn after_reply(&mut self, cx: &mut Ctx<'_>, ex: &Exchange, st: &StatusLine<'_>) {
        if st.status == Status::Ok
            && ex.keyword() == Keyword::Uidl
            && ex.cmd.arg_count() == 1
            && let Ok((n, uid, _)) = split_pair(st.full_text)
            && Some(n) == ex.msg()
            && let Some(e) = cx.session.maildrop.entry(n)
        {
            e.uid.get_or_insert_with(|| uid.into());
        }
    }

    fn on_body_start(&mut self, _cx: &mut Ctx<'_>, body: &Body, _st: &StatusLine<'_>) {
        if body.kind == BodyKind::Uidl {
            self.numbers = NumberSet::default();
            self.uids = HashMap::new();
        }
    }

    #[inline(always)] // runs on every data line of every body: the kind test inlines
    fn on_body_line(&mut self, cx: &mut Ctx<'_>, body: &Body, line: &DataLine<'_>) {
        if body.kind == BodyKind::Uidl {
            self.uid_line(cx, line);
        }
    }
}

impl Uidl {
    /// One `msg SP uid` line of a UIDL listing.
    fn uid_line(&mut self, cx: &mut Ctx<'_>, line: &DataLine<'_>) {
        let (c, at, content) = (&mut *cx.check, line.at, line.content);
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
        self.numbers.listed(cx, at, n, "UIDL");
        let (c, s) = (&mut *cx.check, &mut *cx.session);
        if self.uids.len() < MAX_TRACKED_MESSAGES {
            let key = uid_hash(uid);
            match self.uids.get(&key) {
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
                    self.uids.insert(key, n);
                }
            }
        }
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
}

fn uid_hash(uid: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    uid.hash(&mut h);
    h.finish()
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
