//! Rules judged across two sessions with the same server (rules.md §4, probes P14 and P18):
//! GRT-005 (a fresh APOP timestamp on every greeting) and UIDL-003 (uids persist).

use super::catalog as r;
use super::catalog::Severity;
use crate::event::{Finding, Location};
use crate::sanitize::display;
use crate::session::Session;

fn at() -> Location {
    Location::default()
}

/// GRT-005: two greetings carried the same APOP timestamp.
pub fn repeated_timestamp(
    first: &Session,
    second: &Session,
    apop_implemented: bool,
) -> Option<Finding> {
    let (a, b) = (
        first.apop_timestamp.as_ref()?,
        second.apop_timestamp.as_ref()?,
    );
    (a == b).then(|| Finding {
        rule: &r::GRT_005,
        severity: if apop_implemented { Severity::Violation } else { Severity::Warning },
        message: format!(
            "Two connections got the same APOP timestamp {}: it must differ on every greeting, or an APOP login can be replayed (RFC 1939 §7).",
            display(a, 60)
        ),
        suspected: false,
        at: at(),
    })
}

/// UIDL-003: a message of the same number and size has another uid in a later session. Only
/// meaningful when nothing was deleted in between (the caller knows).
pub fn uids_persist(first: &Session, second: &Session) -> Vec<Finding> {
    let mut out = Vec::new();
    for (n, m) in first.maildrop.iter() {
        let Some(later) = second.maildrop.get(n) else {
            continue;
        };
        let same_message = m.size.is_some() && m.size == later.size;
        if let (Some(u1), Some(u2)) = (&m.uid, &later.uid)
            && same_message
            && u1 != u2
        {
            out.push(Finding {
                rule: &r::UIDL_003,
                severity: Severity::Violation,
                message: format!(
                    "Message {n} ({}) had uid \"{}\" and has \"{}\" in the next session: a uid persists across sessions (RFC 1939 §7).",
                    crate::plural(m.size.unwrap_or(0), "octet"),
                    display(u1, 40),
                    display(u2, 40)
                ),
                suspected: false,
                at: at(),
            });
            if out.len() >= 5 {
                break;
            }
        }
    }
    out
}
