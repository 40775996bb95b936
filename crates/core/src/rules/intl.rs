//! UTF8 and LANG (rules.md §3.15, RFC 6856): UTF-001, UTF-002, LANG-001..LANG-004.
//! UTF-003 and UTF-004 concern message data and live in `listing`.

use super::super::command::Keyword;
use super::super::engine::{Body, Exchange};
use super::super::event::Location;
use super::super::response::{Status, StatusLine};
use super::super::session::Session;
use super::super::state::State;
use super::catalog as r;
use super::{Checker, Memory, Severity};
use crate::sanitize::display;

/// `UTF8 USER` is advertised in this context (RFC 6856 §2.2).
fn utf8_user(s: &Session) -> Option<bool> {
    s.current_caps().map(|caps| {
        caps.get("UTF8")
            .is_some_and(|c| c.params.iter().any(|p| p.eq_ignore_ascii_case("USER")))
    })
}

fn credential(ex: &Exchange) -> Option<&[u8]> {
    match ex.keyword() {
        Keyword::User => ex.cmd.arg(0),
        Keyword::Pass => ex.cmd.secret.as_ref().map(|x| x.expose()),
        _ => None,
    }
}

pub(crate) fn on_command(c: &mut Checker, s: &Session, ex: &Exchange) {
    if let Some(cred) = credential(ex)
        && !cred.is_ascii()
        && utf8_user(s) == Some(false)
    {
        c.report(&r::UTF_002, Severity::Info, ex.client_at(), format!(
            "The client sends a non-ASCII {} although the server does not advertise UTF8 USER (RFC 6856 §2.2).",
            if ex.keyword() == Keyword::User { "user name" } else { "password" }
        ));
    }
}

pub(crate) fn on_reply(
    c: &mut Checker,
    s: &Session,
    m: &mut Memory,
    ex: &Exchange,
    at: Location,
    st: &StatusLine<'_>,
) {
    let ok = st.status == Status::Ok;
    let in_trans = s.state == State::Transaction && !s.skipped_login;
    match ex.keyword() {
        Keyword::Utf8 if ok && in_trans => c.report(
            &r::UTF_001,
            Severity::Violation,
            at,
            "UTF8 was accepted in TRANSACTION: it is valid only in AUTHORIZATION (RFC 6856 §2).",
        ),
        Keyword::User | Keyword::Pass if ok && utf8_user(s) == Some(true) => {
            let Some(cred) = credential(ex) else { return };
            let what = if ex.keyword() == Keyword::User {
                "user name"
            } else {
                "password"
            };
            match std::str::from_utf8(cred) {
                Err(_) => c.report(&r::UTF_002, Severity::Violation, at, format!(
                    "A {what} that is not valid UTF-8 was accepted; with UTF8 USER advertised the server must reject it (RFC 6856 §2.2)."
                )),
                Ok(text) if text.chars().any(|ch| ch.is_control()) => c.report(&r::UTF_002, Severity::Warning, at, format!(
                    "A {what} with control characters (prohibited by SASLprep) was accepted (RFC 6856 §2.2)."
                )),
                Ok(_) => {}
            }
        }
        Keyword::Lang => lang_reply(c, s, m, ex, at, st),
        _ => {}
    }
}

fn lang_reply(
    c: &mut Checker,
    s: &Session,
    m: &mut Memory,
    ex: &Exchange,
    at: Location,
    st: &StatusLine<'_>,
) {
    let idx = usize::from(s.state == State::Transaction);
    let names = ["AUTHORIZATION", "TRANSACTION"];
    if st.status == Status::Ok {
        m.lang_ok[idx] = true;
        if let Some(refused_at) = m.lang_refused[1 - idx].take() {
            c.report(&r::LANG_001, Severity::Violation, refused_at, format!(
                "LANG was refused in {} but works in {}: LANG is valid in both (RFC 6856 §3.1).",
                names[1 - idx], names[idx]
            ));
        }
        if let Some(range) = ex.cmd.arg(0) {
            lang_changed(c, at, range, st.full_text);
        }
    } else if st.status == Status::Err {
        if ex.cmd.arg_count() > 0 {
            c.report(
                &r::LANG_003,
                Severity::Info,
                at,
                "LANG was refused: the previous language continues (RFC 6856 §3.2).",
            );
        }
        if s.advertises("LANG") == Some(true) {
            if m.lang_ok[1 - idx] {
                c.report(&r::LANG_001, Severity::Violation, at, format!(
                    "LANG works in {} but was refused in {} although advertised: LANG is valid in both (RFC 6856 §3.1).",
                    names[1 - idx], names[idx]
                ));
            } else {
                m.lang_refused[idx] = Some(at);
            }
        }
    }
}

/// LANG-002: `+OK` SP language-tag SP text, the tag matching the range, the text UTF-8.
fn lang_changed(c: &mut Checker, at: Location, range: &[u8], text: &[u8]) {
    let tag = text.split(|&b| b == b' ').next().unwrap_or_default();
    let range = String::from_utf8_lossy(range).to_ascii_lowercase();
    let tag_s = String::from_utf8_lossy(tag).to_ascii_lowercase();
    let matches = if range == "*" {
        !tag_s.is_empty()
            && tag_s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    } else {
        tag_s == range || tag_s.starts_with(&format!("{range}-"))
    };
    if !matches {
        c.report(&r::LANG_002, Severity::Violation, at, format!(
            "LANG {range} was answered \"+OK {}\": the reply must start with the language tag chosen, matching {range} (RFC 6856 §3.2).",
            display(text, 60)
        ));
    }
    if std::str::from_utf8(text).is_err() {
        c.report(&r::LANG_002, Severity::Violation, at,
            "The reply to LANG is not valid UTF-8: after a language change the text is UTF-8 (RFC 6856 §3.2).");
    }
}

/// One line of a language list: `tag [SP description]`.
pub(crate) fn lang_line(c: &mut Checker, at: Location, content: &[u8]) {
    let tag = content.split(|&b| b == b' ').next().unwrap_or_default();
    if tag.is_empty()
        || !tag
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'*')
    {
        c.report_once_per_exchange(&r::LANG_004, Severity::Warning, at, || {
            format!(
                "The language list line \"{}\" does not start with a language tag (RFC 6856 §3.2).",
                display(content, 60)
            )
        });
    }
}

pub(crate) fn lang_end(c: &mut Checker, body: &Body) {
    if body.lines == 0 {
        super::listing::empty_list(c, body);
    }
}
