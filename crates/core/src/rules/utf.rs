//! UTF8 (rules.md §3.15, RFC 6856 §2): UTF-001, UTF-002. UTF-003 and UTF-004 concern message
//! data and live in `message`.

use super::area::{Answer, Area, Ctx};
use super::catalog as r;
use super::catalog::Severity;
use crate::command::Keyword;
use crate::exchange::Exchange;
use crate::response::Status;
use crate::session::Session;
use crate::state::State;

/// UTF8 mode and UTF-8 credentials. No state.
#[derive(Debug, Default)]
pub(crate) struct Utf;

impl Area for Utf {
    fn on_command(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let (c, s) = (&mut *cx.check, &*cx.session);
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

    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let (ex, at, st) = (reply.ex, reply.at, reply.status);
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
            _ => {}
        }
    }
}

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
