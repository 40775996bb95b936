//! Extended response codes (rules.md §3.7 RC-001..RC-004, and CAPA-010, CAPA-011).

use super::area::{Answer, Area, Ctx};
use super::catalog as r;
use super::catalog::Severity;
use crate::command::Keyword;
use crate::response::{REGISTERED_CODES, ResponseCode, Status};
use crate::sanitize::display;

/// Response codes on replies (RC-*, CAPA-010, CAPA-011). No state.
#[derive(Debug, Default)]
pub(crate) struct Codes;

impl Area for Codes {
    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let (ex, at, st) = (reply.ex, reply.at, reply.status);
        let k = ex.keyword();
        let Some(code) = &st.code else {
            auth_code_missing(cx, reply);
            return;
        };
        let (c, s) = (&mut *cx.check, &*cx.session);
        let resp_codes = s.advertises("RESP-CODES");
        if !code.well_formed {
            if resp_codes == Some(true) {
                c.report(&r::RC_001, Severity::Violation, at, format!(
                    "The reply starts a response code \"[{}\" that does not parse: the server advertises RESP-CODES, so text starting with '[' must be [level/level].",
                    display(code.raw.as_bytes(), 60)
                ));
            }
            return;
        }
        let name = code.name();
        let is_auth_code = code.is("AUTH");
        if resp_codes == Some(false) {
            let auth_resp = s.advertises("AUTH-RESP-CODE") == Some(true);
            if !(is_auth_code && auth_resp) {
                c.report(&r::CAPA_010, Severity::Warning, at, format!(
                    "The reply carries the response code [{name}] but the server did not advertise RESP-CODES: clients cannot tell a code from text."
                ));
            }
        }
        if is_auth_code
            && s.advertises("AUTH-RESP-CODE") == Some(false)
            && resp_codes != Some(false)
        {
            c.report(
                &r::CAPA_011,
                Severity::Warning,
                at,
                "The server sends [AUTH] without advertising AUTH-RESP-CODE (RFC 3206 §6).",
            );
        }
        match registered(code) {
            Some(reg) => {
                if code.is("SYS") && code.levels.len() == 1 {
                    c.report(&r::RC_002, Severity::Warning, at,
                        "[SYS] needs a second level: [SYS/TEMP] or [SYS/PERM] (RFC 3206 §4).");
                }
                if st.status == Status::Ok {
                    c.report(&r::RC_002, Severity::Warning, at, format!(
                        "[{name}] is defined for -ERR replies only, but came with +OK."
                    ));
                } else if let Some(cmds) = defined_for(reg)
                    && !cmds.contains(&k)
                {
                    c.report(&r::RC_002, Severity::Warning, at, format!(
                        "[{name}] is not defined for a reply to {k}."
                    ));
                }
                if reg == "IN-USE" && st.status == Status::Err {
                    c.report(&r::RC_004, Severity::Info, at,
                        "[IN-USE]: the credentials were accepted but the maildrop is locked by another session; the session stays in AUTHORIZATION.");
                }
                if k == Keyword::User && st.status == Status::Err && (reg == "AUTH" || reg == "LOGIN-DELAY") {
                    c.report(&r::RC_003, Severity::Info, at, format!(
                        "[{name}] on a USER reply can reveal whether the user exists (RFC 3206 §5); a probe with a random name tells whether the reply depends on the name."
                    ));
                }
            }
            None if code.is("SYS") => c.report(&r::RC_002, Severity::Warning, at,
                "[SYS] needs a second level: [SYS/TEMP] or [SYS/PERM] (RFC 3206 §4)."),
            None => c.report(&r::RC_004, Severity::Info, at, format!(
                "[{name}] is not a registered response code; clients will treat it as an unknown code."
            )),
        }
    }
}

/// Where each registered code may appear (RFC 2449 §8.1, RFC 3206, RFC 6856 §5): only on -ERR,
/// and only in replies to these commands (`None`: any command).
fn defined_for(code: &str) -> Option<&'static [Keyword]> {
    match code {
        "LOGIN-DELAY" => Some(&[Keyword::User, Keyword::Pass, Keyword::Apop, Keyword::Auth]),
        "IN-USE" => Some(&[Keyword::Pass, Keyword::Apop, Keyword::Auth]),
        "AUTH" => Some(&[Keyword::User, Keyword::Pass, Keyword::Apop, Keyword::Auth]),
        "UTF8" => Some(&[Keyword::List, Keyword::Top, Keyword::Retr]),
        _ => None,
    }
}

/// The registered code this code is (or is a sub-level of).
pub(crate) fn registered(code: &ResponseCode) -> Option<&'static str> {
    REGISTERED_CODES.iter().copied().find(|reg| code.is(reg))
}

/// CAPA-011: with AUTH-RESP-CODE advertised, a credentials failure carries `[AUTH]`.
fn auth_code_missing(cx: &mut Ctx<'_>, reply: &Answer<'_>) {
    let (c, s) = (&mut *cx.check, &*cx.session);
    let (ex, at, st) = (reply.ex, reply.at, reply.status);
    let k = ex.keyword();
    // Out of sequence (e.g. a login command after login) is not a credentials failure.
    if st.status != Status::Err
        || !s.in_authorization()
        || s.advertises("AUTH-RESP-CODE") != Some(true)
    {
        return;
    }
    let in_sequence = match k {
        Keyword::Pass => s.in_user_ok(),
        Keyword::Apop => true,
        Keyword::Auth => ex.sasl.as_ref().is_some_and(|x| {
            let cancelled_or_bad = x.last_client.is_some_and(|l| l.cancel || !l.valid_base64);
            let known = s
                .current_caps()
                .is_some_and(|caps| caps.has_sasl(&x.mechanism));
            !cancelled_or_bad && known
        }),
        _ => false,
    };
    if in_sequence {
        c.report(&r::CAPA_011, Severity::Warning, at, format!(
            "{k} failed with no response code although the server advertises AUTH-RESP-CODE: a credentials failure carries [AUTH] (RFC 3206 §5)."
        ));
    }
}
