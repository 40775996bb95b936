//! What one CAPA list says on its own (rules.md §3.6): tags that are misspelled, arguments
//! that do not parse, informational tags. Judging a list against the session (the state, TLS,
//! the list before) is `capa`'s.

use super::catalog as r;
use super::catalog::Severity;
use super::checker::Checker;
use crate::capability::Capabilities;
use crate::event::Location;

/// CAPA-012: IMPLEMENTATION and private (X…) capabilities, noted.
pub(crate) fn informational(c: &mut Checker, at: Location, caps: &Capabilities) {
    if let Some(imp) = caps.get("IMPLEMENTATION") {
        c.report_once(&r::CAPA_012, Severity::Info, at, || {
            format!(
                "IMPLEMENTATION {}: informational only; clients must not change behaviour on it.",
                imp.params.join(" ")
            )
        });
    }
    let private: Vec<&str> = caps.tags().filter(|t| t.starts_with('X')).collect();
    if !private.is_empty() {
        c.report_once_per_exchange(&r::CAPA_012, Severity::Info, at, || {
            format!("Private capabilities (X…): {}.", private.join(", "))
        });
    }
}

/// The capabilities of RFC 2449 §6, 2595, 3206, 6856.
const KNOWN_TAGS: [&str; 13] = [
    "TOP",
    "USER",
    "SASL",
    "RESP-CODES",
    "LOGIN-DELAY",
    "PIPELINING",
    "EXPIRE",
    "UIDL",
    "IMPLEMENTATION",
    "STLS",
    "AUTH-RESP-CODE",
    "UTF8",
    "LANG",
];

/// Known tags that take parameters: a tag glued to its parameter (`EXPIRENEVER`) is one of these.
const TAGS_WITH_PARAMS: [&str; 5] = ["EXPIRE", "LOGIN-DELAY", "SASL", "IMPLEMENTATION", "UTF8"];

/// What an unknown, non-private tag probably meant: a known tag glued to its parameter, or a
/// known tag with one letter wrong, missing or extra.
fn meant(tag: &str) -> Option<String> {
    if KNOWN_TAGS.contains(&tag) || tag.starts_with('X') {
        return None;
    }
    for known in TAGS_WITH_PARAMS {
        if let Some(param) = tag.strip_prefix(known)
            && !param.is_empty()
            && param.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Some(format!("{known} {param}"));
        }
    }
    KNOWN_TAGS
        .iter()
        .find(|k| k.len() >= 4 && one_edit_apart(tag.as_bytes(), k.as_bytes()))
        .map(|k| (*k).to_owned())
}

/// `a` and `b` differ by one substitution, insertion or deletion.
fn one_edit_apart(a: &[u8], b: &[u8]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 || a == b {
        return false;
    }
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        short[prefix + 1..] == long[prefix + 1..]
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}

/// CAPA-002 (info): a tag that is a known capability misspelled, e.g. GNU Mailutils 3.15's
/// `EXPIRENEVER` for `EXPIRE NEVER`. Clients look for the right form and miss it.
pub(crate) fn misspelled(c: &mut Checker, at: Location, caps: &Capabilities) {
    let found: Vec<String> = caps
        .tags()
        .filter_map(|t| meant(t).map(|m| format!("{t} (meant: {m})")))
        .collect();
    if !found.is_empty() {
        c.report(&r::CAPA_002, Severity::Info, at, format!(
            "CAPA lists {}: no such capability; a tag is separated from its parameters by a space and clients look for the registered name (RFC 2449 §5, §6).",
            found.join(", ")
        ));
    }
}

/// CAPA-007, CAPA-008, CAPA-013: arguments of LOGIN-DELAY, EXPIRE, UTF8 and LANG.
pub(crate) fn arguments(c: &mut Checker, at: Location, caps: &Capabilities) {
    if let Some(ld) = caps.get("LOGIN-DELAY")
        && !ld
            .params
            .first()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty())
    {
        c.report(
            &r::CAPA_007,
            Severity::Violation,
            at,
            format!(
                "LOGIN-DELAY takes an integer number of seconds, not \"{}\" (RFC 2449 §6.5).",
                ld.params.join(" ")
            ),
        );
    }
    if let Some(ex) = caps.get("EXPIRE") {
        let first = ex.params.first().map(String::as_str).unwrap_or("");
        if !(first.eq_ignore_ascii_case("NEVER")
            || (!first.is_empty() && first.bytes().all(|b| b.is_ascii_digit())))
        {
            c.report(
                &r::CAPA_008,
                Severity::Violation,
                at,
                format!(
                    "EXPIRE takes an integer number of days or NEVER, not \"{}\" (RFC 2449 §6.7).",
                    ex.params.join(" ")
                ),
            );
        }
    }
    if let Some(u) = caps.get("UTF8")
        && !(u.params.is_empty()
            || (u.params.len() == 1 && u.params[0].eq_ignore_ascii_case("USER")))
    {
        c.report(
            &r::CAPA_013,
            Severity::Warning,
            at,
            format!(
                "UTF8 takes no argument or USER, not \"{}\" (RFC 6856 §2).",
                u.params.join(" ")
            ),
        );
    }
    if caps.get("LANG").is_some_and(|l| !l.params.is_empty()) {
        c.report(
            &r::CAPA_013,
            Severity::Warning,
            at,
            "LANG takes no argument in CAPA (RFC 6856 §3).",
        );
    }
}
