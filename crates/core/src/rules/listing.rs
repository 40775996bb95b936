//! The line grammar scan and unique-id listings share (`msg SP value`, RFC 1939 §5, §7), and
//! MSG-004, which judges the message numbers of both. The areas that use them: `maildrop`
//! (STAT, LIST) and `uidl`.

use super::area::Ctx;
use super::catalog as r;
use super::catalog::{RuleInfo, Severity};
use super::checker::Checker;
use crate::command::parse_decimal;
use crate::event::Location;
use crate::plural;
use crate::sanitize::display;
use crate::session::{Bits, MAX_TRACKED_MESSAGES};

/// Message numbers seen in one listing, one bit each up to the tracked limit.
#[derive(Debug, Default)]
pub(crate) struct NumberSet {
    bits: Bits,
}

impl NumberSet {
    /// Adds `n`; false if it was there already. Numbers beyond the limit are not kept
    /// (and never reported as repeated).
    pub(crate) fn insert(&mut self, n: u32) -> bool {
        let i = n as usize;
        if i / 64 > MAX_TRACKED_MESSAGES / 64 {
            return true;
        }
        if self.bits.get(i) {
            return false;
        }
        self.bits.set(i, true);
        true
    }

    pub(crate) fn contains(&self, n: u32) -> bool {
        self.bits.get(n as usize)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.bits.iter().map(|i| i as u32)
    }

    /// MSG-004 for message `n` on a line of the `what` listing: listed once, not deleted, within
    /// the maildrop as opened. `self` holds the numbers listed so far.
    pub(crate) fn listed(&mut self, cx: &mut Ctx<'_>, at: Location, n: u32, what: &str) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        if !self.insert(n) {
            c.report_once_per_exchange(&r::MSG_004, Severity::Violation, at, || {
                format!(
                    "Message {n} appears twice in the {what} listing: each message is listed once."
                )
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
}

/// Why a `msg SP value` line does not parse.
#[derive(Debug, PartialEq)]
pub(crate) enum PairProblem {
    LeadingSpace,
    DoubleSpace,
    MissingSecond,
    /// Looks like a number but is not plain decimal (GEN-011).
    NotDecimal(String),
    NotNumeric(String),
}

/// A `msg SP value [SP rest]` line, split.
pub(crate) type Pair<'a> = (u32, &'a [u8], Option<&'a [u8]>);

/// Splits `first SP second [SP rest]`; `first` must be a message number.
pub(crate) fn split_pair(text: &[u8]) -> Result<Pair<'_>, PairProblem> {
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

/// A plain decimal number, or why the token is not one.
pub(crate) fn number_token(tok: &[u8]) -> Result<u64, PairProblem> {
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

/// Reports why a listing line of `what` does not parse: GEN-011 for a number that is not
/// plain decimal, else `rule`.
pub(crate) fn pair_problem(
    c: &mut Checker,
    rule: &'static RuleInfo,
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

/// Splits `count SP octets [SP rest]` (STAT); the flag says whether a rest followed.
pub(crate) fn split_pair_u64(text: &[u8]) -> Result<(u64, u64, bool), PairProblem> {
    if text.first() == Some(&b' ') {
        return Err(PairProblem::LeadingSpace);
    }
    let mut parts = text.splitn(3, |&b| b == b' ');
    let a = number_token(parts.next().unwrap_or_default())?;
    let b = number_token(parts.next().ok_or(PairProblem::MissingSecond)?)?;
    Ok((a, b, parts.next().is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
