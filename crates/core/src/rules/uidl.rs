//! UIDL (rules.md §3.11): UIDL-001, UIDL-002, UIDL-004, UIDL-006, and MSG-004/MSG-007 for
//! the unique-id listing. UIDL-003 needs two sessions and lives in `cross`.

use std::hash::{BuildHasher, RandomState};

use super::area::{Answer, Area, Ctx, DataLine, PlainLines};
use super::catalog as r;
use super::catalog::Severity;
use super::checker::Checker;
use super::listing::{NumberSet, pair_problem, split_pair};
use crate::command::Keyword;
use crate::event::Location;
use crate::exchange::{Body, BodyKind, Exchange};
use crate::response::{Status, StatusLine};
use crate::sanitize::display;
use crate::session::{MAX_TRACKED_MESSAGES, Maildrop};
use crate::state::State;

/// Unique-id listings and `UIDL n`, with the listing in progress.
#[derive(Debug, Default)]
pub(crate) struct Uidl {
    /// Message numbers of the UIDL listing in progress.
    numbers: NumberSet,
    /// The listing's message numbers by uid, for UIDL-004.
    uids: UidIndex,
}

/// Message numbers hashed by their uid, open addressing: the uid itself is only in the
/// maildrop (a probe compares it there), so a slot costs 4 octets, not a key and a value.
#[derive(Debug, Default)]
struct UidIndex {
    /// Message numbers; 0 is an empty slot. At most 3/4 full.
    slots: Vec<u32>,
    len: usize,
    /// The uid hash's key, this index's own secret: the server picks the uids, and with a
    /// public hash it could give them all one slot (a listing of n uids would cost n²/2
    /// probes: 5 × 10^9 for 100,000).
    key: RandomState,
}

impl UidIndex {
    /// An index sized once for `expected` messages (the count LIST or STAT gave).
    fn with_room(expected: u64) -> UidIndex {
        let expected = expected.min(MAX_TRACKED_MESSAGES as u64) as usize;
        UidIndex {
            slots: vec![0; room(expected)],
            len: 0,
            key: RandomState::new(),
        }
    }

    /// The first message other than `n` whose uid in `maildrop` is `uid`; else `n` is added
    /// (when there is room) and None returned.
    fn first_with(&mut self, maildrop: &Maildrop, uid: &[u8], n: u32) -> Option<u32> {
        if self.slots.is_empty() || (self.len + 1) * 4 > self.slots.len() * 3 {
            if self.len >= MAX_TRACKED_MESSAGES {
                return self.find(maildrop, uid, n).ok();
            }
            self.rehash(maildrop, room(self.len + 1) * 2);
        }
        match self.find(maildrop, uid, n) {
            Ok(first) => Some(first),
            Err(None) => None,
            Err(Some(free)) => {
                if let Some(slot) = self.slots.get_mut(free) {
                    *slot = n;
                    self.len += 1;
                }
                None
            }
        }
    }

    /// Ok(the other message with `uid`), or Err(the free slot where `uid` belongs; None when
    /// `n` is there already).
    fn find(&self, maildrop: &Maildrop, uid: &[u8], n: u32) -> Result<u32, Option<usize>> {
        let mut i = self.home(uid);
        for _ in 0..self.slots.len() {
            match self.slots.get(i).copied() {
                None | Some(0) => return Err(Some(i)),
                Some(m) if maildrop.get(m).and_then(|x| x.uid) == Some(uid) => {
                    return if m == n { Err(None) } else { Ok(m) };
                }
                Some(_) => i = self.next(i),
            }
        }
        Err(None)
    }

    /// The slot where a probe for `uid` starts: the hash scaled to the table (no power-of-two
    /// size needed, so the table is no larger than 3/4 full requires).
    fn home(&self, uid: &[u8]) -> usize {
        ((u128::from(self.key.hash_one(uid)) * self.slots.len() as u128) >> 64) as usize
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 >= self.slots.len() { 0 } else { i + 1 }
    }

    /// Moves the entries into `size` slots, hashed by the uid the maildrop keeps for each (an
    /// entry whose uid it could not keep is dropped: no probe could match it).
    fn rehash(&mut self, maildrop: &Maildrop, size: usize) {
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        self.len = 0;
        for m in old.into_iter().filter(|&m| m != 0) {
            let Some(uid) = maildrop.get(m).and_then(|x| x.uid) else {
                continue;
            };
            let mut i = self.home(uid);
            while self.slots.get(i).is_some_and(|&s| s != 0) {
                i = self.next(i);
            }
            if let Some(slot) = self.slots.get_mut(i) {
                *slot = m;
                self.len += 1;
            }
        }
    }
}

/// Slots for `n` entries at most 3/4 full.
fn room(n: usize) -> usize {
    (n * 4 / 3 + 1).max(16)
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
        } else if let Some(known) = s.maildrop.get(n).and_then(|x| x.uid)
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
        {
            cx.session.maildrop.set_uid(n, uid);
        }
    }

    fn on_body_start(&mut self, cx: &mut Ctx<'_>, body: &Body, _st: &StatusLine<'_>) {
        if body.kind == BodyKind::Uidl {
            self.numbers = NumberSet::default();
            self.uids = UidIndex::with_room(cx.session.maildrop.initial_count.unwrap_or(0));
        }
    }

    #[inline(always)] // runs on every data line of every body: the kind test inlines
    fn on_body_line(&mut self, cx: &mut Ctx<'_>, body: &Body, line: &DataLine<'_>) {
        if body.kind == BodyKind::Uidl {
            self.uid_line(cx, line);
        }
    }

    // The kind test once for the lines, not once a line: the compiler does not hoist it.
    fn on_plain_lines(&mut self, cx: &mut Ctx<'_>, body: &Body, lines: &PlainLines<'_>) {
        if body.kind == BodyKind::Uidl {
            lines.each(|line| self.uid_line(cx, line));
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
        if let Some(first) = self.uids.first_with(&s.maildrop, uid, n) {
            shared_uid(c, &s.maildrop, at, (first, n), uid);
        }
        match s.maildrop.get(n).and_then(|m| m.uid) {
            Some(old) if old != uid => c.report_once_per_exchange(&r::MSG_007, Severity::Violation, at, || {
                format!("Message {n} had the uid \"{}\" earlier and \"{}\" now: the number-to-uid map is fixed for the session.", display(old, 40), display(uid, 40))
            }),
            _ => s.maildrop.set_uid(n, uid),
        }
    }
}

/// UIDL-004: messages `first` and `n` share `uid`; a warning when their sizes differ (they
/// cannot be identical copies).
fn shared_uid(
    c: &mut Checker,
    maildrop: &Maildrop,
    at: Location,
    (first, n): (u32, u32),
    uid: &[u8],
) {
    let size = |m: u32| maildrop.get(m).and_then(|x| x.size);
    let (severity, sizes) = match (size(first), size(n)) {
        (Some(a), Some(b)) if a != b => (Severity::Warning, " although their sizes differ"),
        _ => (Severity::Info, ""),
    };
    c.report(&r::UIDL_004, severity, at, format!(
        "Messages {first} and {n} share the uid \"{}\"{sizes}: uids are unique within a listing (identical copies may share one).",
        display(uid, 40),
    ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{DefaultHasher, Hash, Hasher};

    /// `n` uids a server could pick against a public hash (SipHash with zero keys, as
    /// `DefaultHasher::new()`): each one's home is the first slot of an index sized for `n`.
    fn sharing_a_slot_unkeyed(n: usize) -> Vec<Vec<u8>> {
        let slots = room(n) as u128;
        let home = |uid: &[u8]| {
            let mut h = DefaultHasher::new();
            uid.hash(&mut h);
            (u128::from(h.finish()) * slots) >> 64
        };
        (0u64..)
            .map(|i| format!("u{i}").into_bytes())
            .filter(|u| home(u) == 0)
            .take(n)
            .collect()
    }

    impl UidIndex {
        /// Slots looked at to find `uid` again.
        fn probes(&self, maildrop: &Maildrop, uid: &[u8]) -> usize {
            let mut i = self.home(uid);
            for probes in 1..=self.slots.len() {
                match self.slots.get(i).copied() {
                    Some(m) if m != 0 && maildrop.get(m).and_then(|x| x.uid) == Some(uid) => {
                        return probes;
                    }
                    _ => i = self.next(i),
                }
            }
            usize::MAX
        }
    }

    #[test]
    fn a_server_cannot_pick_uids_that_share_a_slot() {
        let n = 300;
        let uids = sharing_a_slot_unkeyed(n);
        let (mut maildrop, mut index) = (Maildrop::default(), UidIndex::with_room(n as u64));
        for (m, uid) in (1..).zip(&uids) {
            maildrop.set_uid(m, uid);
            assert_eq!(index.first_with(&maildrop, uid, m), None);
        }
        // All in one slot, finding them again takes n(n+1)/2 = 45,150 probes; keyed, a
        // search at 3/4 load takes 2.5 on average.
        let probes: usize = uids.iter().map(|u| index.probes(&maildrop, u)).sum();
        assert!(probes < 8 * n, "{probes} probes for {n} uids");
    }
}
