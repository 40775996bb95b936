//! SASL AUTH (rules.md §3.5, RFC 5034).

use super::area::{Answer, Area, Ctx};
use super::catalog as r;
use super::catalog::Severity;
use super::checker::text_says_unknown_command;
use super::lines::Lines;
use crate::command::Keyword;
use crate::event::Location;
use crate::exchange::Exchange;
use crate::framer::{Ending, Line};
use crate::response::{Status, StatusLine};
use crate::sanitize::display;
use crate::state::State;

/// SASL AUTH (SASL-*). What it needs of an exchange's progress the engine keeps in
/// [`Exchange::sasl`].
#[derive(Debug, Default)]
pub(crate) struct Sasl;

impl Area for Sasl {
    fn on_command(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let Some(sasl) = &ex.sasl else {
            return;
        };
        if sasl.initial_response && s.advertises("SASL") == Some(false) {
            c.report(&r::SASL_011, Severity::Info, ex.client_at(),
                "The client sent a SASL initial response although the server does not advertise SASL (RFC 5034 §3).");
        }
        if ex.cmd.wire_len > 255 {
            c.report(&r::SASL_011, Severity::Info, ex.client_at(), format!(
                "The AUTH line with its initial response is {} octets; it must stay within 255 (RFC 5034 §4): send the response after the empty challenge instead.",
                ex.cmd.wire_len
            ));
        }
        if sasl.mechanism == "EXTERNAL" && !s.client_cert {
            c.report(&r::SASL_014, Severity::Info, ex.client_at(),
                "AUTH EXTERNAL without a TLS client certificate: EXTERNAL logs in with the identity of the certificate, so there is none to use.");
        }
    }

    fn on_challenge(&mut self, cx: &mut Ctx<'_>, ex: &Exchange, at: Location, line: &Line<'_>) {
        let Some(sasl) = &ex.sasl else {
            return;
        };
        if line.ending == Ending::Lf {
            Lines.on_bare_lf(cx, at, false);
        }
        let (c, s) = (&mut *cx.check, &*cx.session);
        let content = line.content;
        let payload = content.strip_prefix(b"+ ");
        // A line past the engine's cap lost its end: judge the part that came (OAUTH-003
        // says more for bearer tokens; GEN-004 reports the length).
        let cut = line.wire_len > content.len() as u64;
        match payload {
            Some(p) if is_base64(p) => {}
            Some(p) if cut && is_base64_start(p) => {}
            _ => c.report(&r::SASL_002, Severity::Violation, at, format!(
                "The SASL challenge \"{}\" is not '+', one space and base64: it must hold nothing else (RFC 5034 §4).",
                display(content, 60)
            )),
        }
        if s.state == State::Transaction || s.sasl_done {
            c.report_once_per_exchange(&r::SASL_001, Severity::Violation, at, || {
                "The server started a SASL exchange after the client had logged in: AUTH is valid only in AUTHORIZATION and never again after a successful AUTH.".into()
            });
        }
        // A server that challenges forever gets one finding for the exchange, not one a round.
        if let Some(last) = sasl.last_client {
            if last.cancel {
                c.report_once_per_exchange(&r::SASL_003, Severity::Violation, at, || {
                    "The client cancelled with '*' but the server sent another challenge: it must answer -ERR.".into()
                });
            } else if !last.valid_base64 {
                c.report_once_per_exchange(&r::SASL_004, Severity::Violation, at, || {
                    "The client's response was not valid base64 but the server sent another challenge: it must reject it with -ERR.".into()
                });
            }
        }
        if sasl.challenges == 0 {
            let mech = sasl.mechanism.as_str();
            let shown = display(mech.as_bytes(), 40);
            if sasl.initial_response && NO_INITIAL_RESPONSE.contains(&mech) {
                c.report(&r::SASL_005, Severity::Violation, at, format!(
                    "{shown} cannot take an initial response, yet the server continued the exchange: it must answer -ERR."
                ));
            }
            if !sasl.initial_response
                && is_client_first(mech)
                && payload.is_some_and(|p| !p.is_empty())
            {
                c.report(&r::SASL_006, Severity::Violation, at, format!(
                    "{shown} is client-first and no initial response was sent, so the first challenge must be empty (exactly \"+ \"), not \"{}\".",
                    display(content, 40)
                ));
            }
            if cannot_be_real(mech) {
                c.report(&r::SASL_007, Severity::Violation, at, format!(
                    "\"{shown}\" cannot be a real SASL mechanism, yet the server sent a challenge: unsupported mechanisms get -ERR."
                ));
            }
        }
    }

    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let (ex, at, st) = (reply.ex, reply.at, reply.status);
        if ex.keyword() != Keyword::Auth {
            return;
        }
        let Some(sasl) = &ex.sasl else {
            if st.status != Status::Invalid {
                c.report_once(&r::SASL_012, Severity::Info, at, || {
                    format!(
                        "A bare AUTH (no mechanism) is not defined by RFC 5034; this server answers it with {} (old-style mechanism discovery).",
                        if st.status == Status::Ok { "a mechanism list" } else { "-ERR" }
                    )
                });
            }
            return;
        };
        let mech = sasl.mechanism.as_str();
        let shown = display(mech.as_bytes(), 40);
        if st.status == Status::Ok {
            if (s.state == State::Transaction && !s.skipped_login) || s.sasl_done {
                c.report(&r::SASL_001, Severity::Violation, at,
                    "AUTH succeeded after the client had already logged in: AUTH is valid only in AUTHORIZATION, and never again after a successful AUTH (RFC 5034 §4).");
            }
            match sasl.last_client {
                Some(last) if last.cancel => c.report(&r::SASL_003, Severity::Violation, at,
                    "The client cancelled the exchange with '*' but the server answered +OK: a cancel gets -ERR."),
                Some(last) if !last.valid_base64 => c.report(&r::SASL_004, Severity::Violation, at,
                    "The client's SASL response was not valid base64 but the server answered +OK: it must reject it."),
                _ => {}
            }
            if sasl.challenges == 0 && sasl.initial_response && NO_INITIAL_RESPONSE.contains(&mech)
            {
                c.report(
                    &r::SASL_005,
                    Severity::Violation,
                    at,
                    format!(
                        "{shown} cannot take an initial response, yet the server accepted one."
                    ),
                );
            }
            if cannot_be_real(mech) {
                c.report(
                    &r::SASL_007,
                    Severity::Violation,
                    at,
                    format!("\"{shown}\" cannot be a real SASL mechanism, yet AUTH succeeded."),
                );
            } else if s.current_caps().is_some_and(|caps| !caps.has_sasl(mech)) {
                c.report(&r::SASL_007, Severity::Info, at, format!(
                    "{shown} was accepted although CAPA does not list it (RFC 2595 §9 lets a server hide PLAIN before TLS)."
                ));
            }
            let t = st.text;
            if t.len() >= 8 && !t.contains(&b' ') && is_base64(t) {
                c.report(&r::SASL_008, Severity::Info, at, format!(
                    "The text after +OK (\"{}\") looks like SASL data: POP3 has no success data; final server data must come as a '+ ' challenge first.",
                    display(t, 40)
                ));
            }
            if SECURITY_LAYER.contains(&mech) {
                c.report(&r::SASL_013, Severity::Info, at, format!(
                    "{shown} can negotiate a security layer; if it did, everything after this CRLF is wrapped and popscope cannot decode it."
                ));
            }
            if mech == "EXTERNAL" {
                c.report(&r::SASL_014, Severity::Info, at, if s.client_cert {
                    "Logged in with SASL EXTERNAL, the identity of the TLS client certificate: the standard way to use a certificate (RFC 8314 §4.2)."
                } else {
                    "SASL EXTERNAL succeeded without a TLS client certificate: the server took the identity from elsewhere."
                });
            }
        } else {
            if s.current_caps().is_some_and(|caps| caps.has_sasl(mech))
                && text_says_unknown_command(st.text)
                && sasl.challenges == 0
            {
                c.report(
                    &r::SASL_007,
                    Severity::Warning,
                    at,
                    format!(
                        "{shown} is listed in the SASL capability but was refused as unsupported."
                    ),
                );
            }
            if sasl.last_client.is_some() && text_says_unknown_command(st.text) {
                c.report(&r::SASL_009, Severity::Info, at, format!(
                    "The exchange ended with \"-ERR {}\": the text suggests the server read the client's SASL response as a command.",
                    display(st.text, 60)
                ));
            }
            if mech == "EXTERNAL" && s.client_cert {
                c.report(&r::SASL_014, Severity::Info, at,
                    "SASL EXTERNAL failed although a client certificate was presented: the server did not accept its identity.");
            }
        }
    }
}

/// Mechanisms whose client speaks first: without an initial response the server's first
/// challenge is empty (RFC 5034 §4).
const CLIENT_FIRST: [&str; 7] = [
    "PLAIN",
    "EXTERNAL",
    "GSSAPI",
    "OAUTHBEARER",
    "XOAUTH2",
    "ANONYMOUS",
    "SCRAM-",
];
/// Mechanisms that cannot take an initial response.
const NO_INITIAL_RESPONSE: [&str; 2] = ["CRAM-MD5", "DIGEST-MD5"];
/// Mechanisms that can negotiate a security layer (SASL-013).
const SECURITY_LAYER: [&str; 2] = ["GSSAPI", "DIGEST-MD5"];
/// popscope's made-up mechanism name for probe P15.
pub(crate) const PROBE_MECHANISM: &str = "NOSUCHMECH";

fn is_client_first(mech: &str) -> bool {
    CLIENT_FIRST.iter().any(|m| {
        if m.ends_with('-') {
            mech.starts_with(m)
        } else {
            mech == *m
        }
    })
}

/// A SASL mechanism name: 1-20 of A-Z 0-9 - _ (RFC 4422 §3.1). Anything else, and popscope's
/// probe name, cannot be a real mechanism.
fn cannot_be_real(mech: &str) -> bool {
    mech == PROBE_MECHANISM
        || mech.is_empty()
        || mech.len() > 20
        || !mech
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Base64 as RFC 5034 §4 uses it: the alphabet, `=` padding only at the end, whole quanta.
pub(crate) fn is_base64(s: &[u8]) -> bool {
    s.len().is_multiple_of(4) && is_base64_start(s)
}

/// The first part of a line whose end popscope did not keep (longer than the engine's cap)
/// can begin base64: the alphabet, at most two `=` at the end.
pub(crate) fn is_base64_start(s: &[u8]) -> bool {
    let pad = s.iter().rev().take_while(|&&b| b == b'=').count();
    pad <= 2
        && s[..s.len() - pad]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// A server line in a SASL exchange that is a challenge (`+ …`) rather than a status line.
pub(crate) fn is_continuation(content: &[u8]) -> bool {
    content.first() == Some(&b'+') && !StatusLine::looks_like_status(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert!(is_base64(b""));
        assert!(is_base64(b"AGFsaWNlAHNlY3JldA=="));
        assert!(!is_base64(b"abc=def="));
        assert!(!is_base64(b"!!!!"));
        assert!(!is_base64(b"abc"));
        assert!(!is_base64(b"a==="));
    }

    #[test]
    fn continuation_is_not_a_status() {
        assert!(is_continuation(b"+ "));
        assert!(is_continuation(b"+"));
        assert!(is_continuation(b"+ VXNlcm5hbWU6"));
        assert!(!is_continuation(b"+OK"));
        assert!(!is_continuation(b"+OK logged in"));
        assert!(!is_continuation(b"-ERR no"));
    }

    #[test]
    fn mechanism_names() {
        assert!(is_client_first("SCRAM-SHA-256"));
        assert!(!is_client_first("LOGIN"));
        assert!(cannot_be_real("NOSUCHMECH"));
        assert!(cannot_be_real("bad mech"));
        assert!(!cannot_be_real("CRAM-MD5"));
    }
}
