//! OAuth 2.0 bearer tokens: SASL OAUTHBEARER (RFC 7628) and XOAUTH2 (rules.md §3.17,
//! OAUTH-001 … OAUTH-005 and the passive part of OAUTH-007). XOAUTH2 is not an RFC: its
//! findings are one level lower ([`lowered`]). The area also keeps [`Session::oauth`], the
//! record of every OAuth login that the check walk and the UI read.

use std::borrow::Cow;

use super::area::{Answer, Area, Ctx};
use super::catalog as r;
use super::catalog::Severity;
use super::checker::Checker;
use crate::event::Location;
use crate::exchange::{Body, BodyKind, Exchange, SaslExchange, server_at};
use crate::framer::Line;
use crate::oauth::challenge::{self, ChallengeDecode, ErrorChallenge};
use crate::oauth::{ClientMessage, MAX_COMMAND_LINE, Mechanism, MessageKind};
use crate::response::Status;
use crate::sanitize::display;
use crate::session::{MAX_OAUTH_ATTEMPTS, OauthAttempt, OauthOutcome, Refusal, Session};
use crate::state::Security;

/// How much of a server-sent value a message shows, in characters.
const SHOWN: usize = 100;

/// Why the two-line form exists, for the findings that meet "Office 365 requires two lines".
pub(crate) const TWO_LINES_WHY: &str = "RFC 5034 §4 says a client MUST NOT make the AUTH line longer than 255 octets, so a real token (often over 1 KB) must go on its own line after the server's '+ ', and the server must accept that form";

/// The severity of an OAuth finding for `mechanism`: as the catalog says for OAUTHBEARER,
/// one level lower for XOAUTH2, which is no standard (rules.md §3.17).
pub(crate) fn lowered(mechanism: Mechanism, severity: Severity) -> Severity {
    match (mechanism, severity) {
        (Mechanism::OauthBearer, s) => s,
        (Mechanism::XOauth2, Severity::Violation) => Severity::Warning,
        (Mechanism::XOauth2, _) => Severity::Info,
    }
}

/// OAUTH-001 … OAUTH-005, OAUTH-007 (passive). What it remembers of an exchange is in
/// [`Session::oauth`].
#[derive(Debug, Default)]
pub(crate) struct Oauth;

impl Area for Oauth {
    fn on_command(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let s = &mut *cx.session;
        let Some(sasl) = &ex.sasl else {
            return;
        };
        let Some(mechanism) = sasl.oauth else {
            return;
        };
        if s.oauth.len() < MAX_OAUTH_ATTEMPTS {
            s.oauth.push(OauthAttempt {
                exchange: ex.id,
                mechanism,
                one_line: sasl.initial_response,
                auth_line_octets: ex.cmd.wire_len,
                tls: s.security.is_tls(),
                message: sasl.token_message,
                error: None,
                error_cut: false,
                outcome: OauthOutcome::Pending,
                refusal: None,
            });
        }
    }

    fn on_sasl_response(&mut self, cx: &mut Ctx<'_>, ex: &Exchange, _at: Location) {
        if let Some(sasl) = &ex.sasl
            && let Some(a) = cx.session.oauth_attempt_mut(ex.id)
        {
            a.message = sasl.token_message;
        }
    }

    fn on_challenge(&mut self, cx: &mut Ctx<'_>, ex: &Exchange, at: Location, line: &Line<'_>) {
        let Some(sasl) = &ex.sasl else {
            return;
        };
        let (Some(m), Some(message)) = (sasl.oauth, sasl.token_message) else {
            return;
        };
        let (c, s) = (&mut *cx.check, &mut *cx.session);
        if let Some(last) = sasl.last_client.filter(|l| l.after_token_message) {
            if let Some(dummy) = sasl.latest_dummy() {
                // A server that challenges forever gets one finding, not one a round.
                c.report_once_per_exchange(&r::OAUTH_004, lowered(m, Severity::Violation), at, || format!(
                    "After the client's dummy response ({}) the server sent another challenge: the exchange is over, and the server must fail it with -ERR (RFC 7628 §3.2.3).",
                    dummy_as(dummy)
                ));
                return;
            }
            if last.cancel {
                // SASL-003 reports a challenge after '*'.
                return;
            }
        }
        let Some(attempt) = s.oauth_attempt_mut(ex.id) else {
            return;
        };
        if attempt.error.is_some() {
            return;
        }
        let payload = line.content.get(2..).unwrap_or_default();
        let decoded = challenge::decode(payload);
        let cut = line.wire_len > line.content.len() as u64;
        if cut {
            judge_cut_challenge(c, m, at, line);
        } else {
            judge_error_challenge(c, m, at, message.is_login(), &decoded, payload);
        }
        attempt.error = Some(decoded);
        attempt.error_cut = cut;
    }

    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let (ex, at, st) = (reply.ex, reply.at, reply.status);
        let Some(sasl) = &ex.sasl else {
            return;
        };
        let Some(m) = sasl.oauth else {
            return;
        };
        let (c, s) = (&mut *cx.check, &mut *cx.session);
        let ok = st.status == Status::Ok;
        // The session is still as it was before this reply: a refusal after a login is for
        // the state, whatever the token.
        let before_login = s.in_authorization() && !s.sasl_done;
        let attempt = s.oauth_attempt_mut(ex.id).map(|a| {
            if ok {
                a.outcome = OauthOutcome::Accepted;
            } else {
                a.outcome = OauthOutcome::Refused;
                a.refusal = Some(Refusal::of(st.code.as_ref(), before_login));
            }
            a.clone()
        });
        let name = m.name();
        if ok {
            if s.security == Security::Plain {
                c.report(&r::OAUTH_002, lowered(m, Severity::Warning), at, format!(
                    "The server accepted AUTH {name} on an unencrypted connection: the bearer token went over the wire in the clear, and anyone who saw it can use it until it expires (RFC 7628 §3: TLS MUST be used; RFC 6750 §5.3)."
                ));
            }
            if let Some(dummy) = sasl.latest_dummy() {
                c.report_once_per_exchange(&r::OAUTH_004, lowered(m, Severity::Violation), at, || format!(
                    "The server answered +OK to the client's dummy response ({}), which carries no token: after it the server must fail the exchange with -ERR (RFC 7628 §3.2.3).",
                    dummy_as(dummy)
                ));
            }
        } else if st.status == Status::Err
            && let Some(attempt) = attempt
        {
            refused(c, s, ex, sasl, &attempt, at);
        }
    }

    fn on_body_end(&mut self, cx: &mut Ctx<'_>, body: &Body, complete: bool) {
        if body.kind != BodyKind::Capa || !complete {
            return;
        }
        let (c, s) = (&mut *cx.check, &*cx.session);
        if s.security != Security::Plain || !s.in_authorization() {
            return;
        }
        // The capa area comes first in the area list and has just recorded this listing.
        let Some(caps) = &s.caps.auth else {
            return;
        };
        let offered: Vec<Mechanism> = [Mechanism::OauthBearer, Mechanism::XOauth2]
            .into_iter()
            .filter(|m| caps.has_sasl(m.name()))
            .collect();
        let Some(&strongest) = offered.first() else {
            return;
        };
        let names: Vec<&str> = offered.iter().map(|m| m.name()).collect();
        let at = server_at(body.ex.id, body.reply_offset);
        // Only the plaintext AUTHORIZATION list can offer it in the clear: once is enough.
        c.report_once(&r::OAUTH_001, lowered(strongest, Severity::Warning), at, || format!(
            "On an unencrypted connection CAPA offers SASL {}: a bearer token sent without TLS can be replayed by anyone who sees it (RFC 7628 §3: TLS MUST be used for OAUTHBEARER; RFC 6750 §5.3 for any bearer token). Offer it only after STLS, or on port 995.",
            names.join(", ")
        ));
    }
}

/// The dummy response as the client sent it, for a message.
fn dummy_as(dummy: ClientMessage) -> &'static str {
    match dummy.kind {
        MessageKind::Empty => "an empty line",
        _ => "AQ==, a lone ^A",
    }
}

/// OAUTH-003 and OAUTH-005 for the challenge that followed the client's token message.
/// `login`: that message carried a token or asked for the error (not a lone `^A`).
fn judge_error_challenge(
    c: &mut Checker,
    m: Mechanism,
    at: Location,
    login: bool,
    decoded: &ChallengeDecode,
    payload: &[u8],
) {
    let name = m.name();
    let problem: Cow<'static, str> = match decoded {
        ChallengeDecode::NotBase64 => "is not base64".into(),
        // Not a syntax error the server made (serde_json stops there), but a value no client
        // needs to read.
        ChallengeDecode::NotJson if challenge::nested_too_deep(payload) => format!(
            "is base64 of JSON nested more than {} levels deep, deeper than popscope reads (an error result is one object of strings, and a client's JSON parser may stop sooner)",
            challenge::MAX_JSON_DEPTH
        ).into(),
        ChallengeDecode::NotJson => "is base64 but not JSON".into(),
        ChallengeDecode::NotObject => "is JSON but not an object".into(),
        ChallengeDecode::Object(e) if e.status.is_none() => "has no \"status\" member".into(),
        ChallengeDecode::Object(e) => {
            error_contents(c, m, at, e);
            let meaning = e.explain();
            c.report_once_per_exchange(&r::OAUTH_003, Severity::Info, at, || {
                if login {
                    format!("The server refused AUTH {name} with its error challenge: {meaning}.")
                } else {
                    format!("The server's error challenge to AUTH {name}: {meaning}.")
                }
            });
            return;
        }
    };
    c.report(&r::OAUTH_003, lowered(m, Severity::Violation), at, format!(
        "After the client's message to AUTH {name} the server sent the challenge \"{}\", which {problem}: a refused token gets an error challenge that is base64 of a JSON object with \"status\" (RFC 7628 §3.2.2), so the client can tell why.",
        display(payload, 60)
    ));
}

/// OAUTH-003 for a challenge longer than the engine's line cap. What popscope kept may
/// already show that it is not base64: a violation, as for any challenge. If the kept part
/// is base64 so far, the challenge cannot be judged: info, saying why, since a verdict on
/// octets never read would be a guess.
fn judge_cut_challenge(c: &mut Checker, m: Mechanism, at: Location, line: &Line<'_>) {
    let name = m.name();
    let kept = line.content.len();
    let sent = crate::plural(line.wire_len, "octet");
    let payload = line.content.get(2..).unwrap_or_default();
    if super::sasl::is_base64_start(payload.trim_ascii()) {
        c.report(&r::OAUTH_003, Severity::Info, at, format!(
            "The server's challenge to AUTH {name} is {sent} long, cut at the {kept} octets popscope keeps of a line: popscope cannot tell whether it is an error challenge (base64 of a JSON object with \"status\", RFC 7628 §3.2.2), and a client that caps line lengths cannot either."
        ));
        return;
    }
    c.report(&r::OAUTH_003, lowered(m, Severity::Violation), at, format!(
        "The server's challenge to AUTH {name} is {sent} long, cut at the {kept} octets popscope keeps of a line, and what arrived, \"{}\", is not base64 already: a refused token gets an error challenge that is base64 of a JSON object with \"status\" (RFC 7628 §3.2.2), so the client can tell why.",
        display(payload, 60)
    ));
}

/// OAUTH-005: what a well-formed error challenge holds.
fn error_contents(c: &mut Checker, m: Mechanism, at: Location, e: &ErrorChallenge) {
    if let Some(url) = &e.openid_configuration
        && !is_https_url(url)
    {
        c.report(&r::OAUTH_005, lowered(m, Severity::Warning), at, format!(
            "The error challenge's openid-configuration \"{}\" is not an https URL: a client fetches the discovery document from it, and must be able to trust what it gets (RFC 7628 §3.2.2).",
            display(url.as_bytes(), SHOWN)
        ));
    }
    if let Some(scope) = &e.scope
        && scope.trim().contains(' ')
    {
        c.report(&r::OAUTH_005, Severity::Info, at, format!(
            "The error challenge's scope \"{}\" is a space-separated list: RFC 7628 §3.2.2 recommends a single scope.",
            display(scope.as_bytes(), SHOWN)
        ));
    }
}

/// `https://` and a host.
fn is_https_url(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
        && url.len() > 8
}

/// `-ERR` to an OAuth AUTH: OAUTH-003 (no error challenge) and OAUTH-007 (a form refused).
fn refused(
    c: &mut Checker,
    s: &Session,
    ex: &Exchange,
    sasl: &SaslExchange,
    attempt: &OauthAttempt,
    at: Location,
) {
    let m = attempt.mechanism;
    let name = m.name();
    if attempt.refusal != Some(Refusal::Login) {
        // A locked maildrop, the server's trouble or an AUTH after a login: the -ERR is right
        // whatever the token and the form (ST-002 and SASL-001 judge the state).
        return;
    }
    let at_once = attempt.error.is_none();
    let line = ex.cmd.wire_len;
    if sasl.initial_response && line > MAX_COMMAND_LINE {
        if sasl.challenges == 0 {
            c.report(&r::OAUTH_007, Severity::Info, at, format!(
                "The AUTH {name} line with its initial response is {line} octets and was refused at once; the server may cap command lines at 255 octets. This is the \"Office 365 requires two lines\" mystery: {TWO_LINES_WHY}."
            ));
        }
        // A line refused for its length says nothing about the token.
        return;
    }
    if !sasl.initial_response
        && sasl.challenges == 0
        && s.current_caps().is_some_and(|caps| caps.has_sasl(name))
    {
        c.report(&r::OAUTH_007, Severity::Info, at, format!(
            "AUTH {name} without an initial response was refused at once, with no '+ ' to ask for the response, although CAPA lists {name}: the server takes only the one-line form. {TWO_LINES_WHY}."
        ));
        return;
    }
    // Refusing a mechanism it does not offer is right (SASL-007 judges a listed one).
    let offered = s.current_caps().is_none_or(|caps| caps.has_sasl(name));
    if at_once && offered && attempt.message.is_some_and(|msg| msg.is_login()) {
        let what = if attempt.carried_token() {
            "a token"
        } else {
            "an empty auth= (a request for the error challenge)"
        };
        c.report(&r::OAUTH_003, lowered(m, Severity::Warning), at, format!(
            "AUTH {name} with {what} got -ERR at once, without an error challenge: the client learns nothing (no status, no scope, no discovery URL). RFC 7628 §3.2.3: the error comes as a '+ ' challenge, then -ERR after the client's dummy response."
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{client_findings, findings};

    fn count(trace: &str, id: &str) -> usize {
        findings(trace).0.iter().filter(|f| f.rule.id == id).count()
    }

    #[test]
    fn oauth_in_the_clear_is_reported_once_a_session() {
        let capa = "C: CAPA\nS: +OK\nS: SASL XOAUTH2 OAUTHBEARER\nS: .\n";
        let twice = format!("S: +OK ready\n{capa}{capa}");
        assert_eq!(count(&twice, "OAUTH-001"), 1);
        let (f, _) = findings(&twice);
        assert!(
            f.iter()
                .any(|f| f.rule.id == "OAUTH-001" && f.severity == Severity::Warning)
        );
        let no_oauth = "S: +OK ready\nC: CAPA\nS: +OK\nS: SASL PLAIN\nS: .\n";
        assert_eq!(count(no_oauth, "OAUTH-001"), 0);
    }

    #[test]
    fn the_record_of_logins_is_bounded() {
        let mut t = String::from("S: +OK ready\n");
        for _ in 0..MAX_OAUTH_ATTEMPTS + 10 {
            t.push_str("C: AUTH OAUTHBEARER AQ==\nS: -ERR\n");
        }
        let (_, session) = findings(&t);
        assert_eq!(session.oauth.len(), MAX_OAUTH_ATTEMPTS);
        assert!(session.oauth.iter().all(|a| a.refused_at_once() && !a.tls));
    }

    #[test]
    fn the_decoded_error_is_one_info_finding_per_exchange() {
        // The client sends its token again after the error challenge (CL-015), and the
        // server repeats the challenge: the error is explained once.
        let token = crate::auth::b64encode(b"n,,\x01auth=Bearer t\x01\x01");
        let err = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=";
        let t = format!(
            "S: +OK ready\nC: STLS\nS: +OK\n-- tls\nC: AUTH OAUTHBEARER {token}\nS: + {err}\nC: {token}\nS: + {err}\nC: AQ==\nS: -ERR\n"
        );
        let (mut f, session) = client_findings(&t);
        f.retain(|f| f.rule.id.starts_with("OAUTH-") || f.rule.id.starts_with("CL-"));
        let ids: Vec<_> = f.iter().map(|f| (f.rule.id, f.severity)).collect();
        assert_eq!(
            ids,
            [
                ("OAUTH-003", Severity::Info),
                ("CL-015", Severity::Violation)
            ]
        );
        assert!(
            f[0].message
                .contains("status invalid_token: the token was refused")
        );
        assert!(f[1].rule.judges_client() && !f[0].rule.judges_client());
        assert_eq!(session.oauth[0].outcome, OauthOutcome::Refused);
    }

    /// Under TLS, CAPA listing both mechanisms, an OAUTHBEARER login with a token on the
    /// AUTH line; `rest` follows.
    fn bearer_login_then(rest: &str) -> String {
        let token = crate::auth::b64encode(b"n,,\x01auth=Bearer t\x01\x01");
        format!(
            "S: +OK ready\nC: STLS\nS: +OK\n-- tls\nC: CAPA\nS: +OK\nS: SASL OAUTHBEARER XOAUTH2\nS: .\nC: AUTH OAUTHBEARER {token}\n{rest}"
        )
    }

    const ERROR_CHALLENGE: &str = "S: + eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\n";

    /// A hostile server that challenges every dummy response again gets one OAUTH-004 for the
    /// exchange, not one a round; after '*' SASL-003 speaks and OAUTH-004 keeps quiet.
    #[test]
    fn oauth_004_is_once_an_exchange_and_only_for_the_dummy() {
        let rounds = |client: &str| {
            let round = format!("C: {client}\n{ERROR_CHALLENGE}");
            bearer_login_then(&format!(
                "{ERROR_CHALLENGE}{}C: {client}\nS: +OK\n",
                round.repeat(50)
            ))
        };
        let dummy = rounds("AQ==");
        assert_eq!(count(&dummy, "OAUTH-004"), 1);
        let (f, _) = findings(&dummy);
        let f = f.iter().find(|f| f.rule.id == "OAUTH-004");
        assert!(f.is_some_and(|f| f.message.contains("dummy response (AQ==, a lone ^A)")));
        let cancel = rounds("*");
        assert_eq!(count(&cancel, "OAUTH-004"), 0);
        // One for the challenges after '*', one for the +OK that ends them.
        assert_eq!(count(&cancel, "SASL-003"), 2);
    }

    /// A challenge longer than the engine's line cap (64 KiB) is judged by what arrived.
    #[test]
    fn a_challenge_cut_at_the_line_cap_is_reported_as_cut() {
        let huge = "A".repeat(1_600_000);
        let t = bearer_login_then(&format!("S: + {huge}\nC: AQ==\nS: -ERR\n"));
        let (f, session) = findings(&t);
        let oauth: Vec<_> = f.iter().filter(|f| f.rule.id == "OAUTH-003").collect();
        assert_eq!(oauth.len(), 1, "{oauth:?}");
        assert_eq!(oauth[0].severity, Severity::Info);
        assert!(
            oauth[0]
                .message
                .contains("is 1600002 octets long, cut at the 65536 octets"),
            "{}",
            oauth[0].message
        );
        assert!(!f.iter().any(|f| f.rule.id == "SASL-002"), "{f:?}");
        assert!(f.iter().any(|f| f.rule.id == "GEN-004"));
        assert!(session.oauth[0].error_cut && !session.oauth[0].refused_at_once());
        // What arrived is not base64 already: still a violation, and said to be cut.
        let t = bearer_login_then(&format!("S: + not base64! {huge}\nC: AQ==\nS: -ERR\n"));
        let (f, _) = findings(&t);
        let v = f.iter().find(|f| f.rule.id == "OAUTH-003");
        assert!(v.is_some_and(|v| v.severity == Severity::Violation
            && v.message.contains("cut at the 65536 octets")
            && v.message.contains("is not base64 already")));
        assert!(f.iter().any(|f| f.rule.id == "SASL-002"));
    }

    #[test]
    fn json_nested_too_deep_is_not_called_bad_json() {
        let deep = crate::auth::b64encode(format!("{{\"status\":{}", "[".repeat(5000)).as_bytes());
        let t = bearer_login_then(&format!("S: + {deep}\nC: AQ==\nS: -ERR\n"));
        let (f, _) = findings(&t);
        let v = f.iter().find(|f| f.rule.id == "OAUTH-003");
        assert!(
            v.is_some_and(|v| v.severity == Severity::Violation
                && v.message.contains("nested more than 100 levels deep")
                && !v.message.contains("not JSON")),
            "{v:?}"
        );
        let flat = crate::auth::b64encode(b"{\"status\"");
        let t = bearer_login_then(&format!("S: + {flat}\nC: AQ==\nS: -ERR\n"));
        let (f, _) = findings(&t);
        assert!(
            f.iter()
                .any(|f| f.rule.id == "OAUTH-003" && f.message.contains("is base64 but not JSON"))
        );
    }

    #[test]
    fn xoauth2_is_one_level_lower() {
        let x = Mechanism::XOauth2;
        assert_eq!(lowered(x, Severity::Violation), Severity::Warning);
        assert_eq!(lowered(x, Severity::Warning), Severity::Info);
        assert_eq!(lowered(x, Severity::Info), Severity::Info);
        assert_eq!(
            lowered(Mechanism::OauthBearer, Severity::Violation),
            Severity::Violation
        );
    }

    #[test]
    fn discovery_urls() {
        assert!(is_https_url(
            "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
        ));
        assert!(is_https_url("HTTPS://a"));
        assert!(!is_https_url(
            "http://login.example/.well-known/openid-configuration"
        ));
        assert!(!is_https_url("https://"));
        assert!(!is_https_url("login.example"));
    }
}
