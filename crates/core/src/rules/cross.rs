//! Rules judged across two sessions with the same server (rules.md §4, probes P14, P18 and
//! P25): GRT-005 (a fresh APOP timestamp on every greeting), UIDL-003 (uids persist), and
//! the OAuth logins of [`Session::oauth`] compared: OAUTH-007 (both AUTH forms work) and
//! OAUTH-006 (unknown key/value pairs are ignored); and, for a client seen over several
//! connections (by the proxy or the demo server), CL-016 (LOGIN-DELAY respected).

use super::catalog as r;
use super::catalog::Severity;
use super::oauth::{TWO_LINES_WHY, lowered};
use crate::event::{Finding, Location, Time};
use crate::oauth::{MAX_COMMAND_LINE, Mechanism};
use crate::sanitize::display;
use crate::session::{OauthAttempt, OauthOutcome, Refusal, Session};

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
        if let (Some(u1), Some(u2)) = (m.uid, later.uid)
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

/// The last login of `mechanism` in `session` that carried a token, got a verdict on it
/// ([`OauthAttempt::verdict`]: `+OK`, or a `-ERR` that refused the login, not one for a
/// locked maildrop or the server's trouble) and passes `keep`.
fn judged_token_login(
    session: &Session,
    mechanism: Mechanism,
    keep: impl Fn(&OauthAttempt) -> bool,
) -> Option<&OauthAttempt> {
    session
        .oauth
        .iter()
        .rev()
        .find(|a| a.mechanism == mechanism && a.carried_token() && a.verdict().is_some() && keep(a))
}

fn finding(rule: &'static r::RuleInfo, severity: Severity, message: String) -> Finding {
    Finding {
        rule,
        severity,
        message,
        suspected: false,
        at: at(),
    }
}

/// OAUTH-007 across two sessions that logged in with the same token: `one_line` with the
/// response on the AUTH line, `two_line` with `AUTH mech`, `+ `, then the response on its
/// own line. A violation (XOAUTH2: a warning) when the two-line form of a mechanism listed
/// in `SASL` is refused while the one-line form worked; info the other way round (the
/// server refuses the initial response); nothing when both agree or either session has no
/// such login with a verdict (a `-ERR [IN-USE]` or `[SYS/…]` refuses no form:
/// [`OauthAttempt::verdict`]). OAUTHBEARER is compared first. The two may
/// be one session (a refused login, then the other form).
pub fn oauth_forms(one_line: &Session, two_line: &Session) -> Option<Finding> {
    [Mechanism::OauthBearer, Mechanism::XOauth2]
        .into_iter()
        .find_map(|m| {
            let one = judged_token_login(one_line, m, |a| a.one_line)?;
            // A two-line AUTH refused before its `+ ` never got to send the token: that is
            // the refusal of the form itself (Microsoft's "two lines" trouble, mirrored).
            let two = judged_token_login(two_line, m, |a| !a.one_line).or_else(|| {
                two_line.oauth.iter().rev().find(|a| {
                    a.mechanism == m
                        && !a.one_line
                        && a.message.is_none()
                        && a.refused_at_once()
                        && a.verdict() == Some(false)
                })
            })?;
            let name = m.name();
            match (one.outcome, two.outcome) {
                (OauthOutcome::Accepted, OauthOutcome::Refused) => {
                    let listed = two_line.any_caps().is_none_or(|caps| caps.has_sasl(name));
                    listed.then(|| finding(&r::OAUTH_007, lowered(m, Severity::Violation), format!(
                        "The two-line form of AUTH {name} (AUTH {name}, '+ ', then the response on its own line) was refused while the same token worked on the AUTH line, so a client with a real token (over 1 KB) cannot log in here: {TWO_LINES_WHY}."
                    )))
                }
                (OauthOutcome::Refused, OauthOutcome::Accepted) => Some(finding(&r::OAUTH_007, Severity::Info, one_line_refused(name, one.auth_line_octets))),
                _ => None,
            }
        })
}

/// OAUTH-007's info: the one-line form refused, the two-line form accepted. Probe P25 sends
/// the one-line form only when it fits in 255 octets; a recording may hold a longer one.
fn one_line_refused(name: &str, auth_line_octets: usize) -> String {
    let octets = crate::plural(auth_line_octets, "octet");
    if auth_line_octets > MAX_COMMAND_LINE {
        format!(
            "AUTH {name} with the token on the AUTH line ({octets}) was refused while the same token worked in the two-line form: the server may cap command lines at 255 octets, and takes the form RFC 5034 §4 requires for long tokens. Clients that put the token on the AUTH line fail here: this is why some servers \"require two lines\"."
        )
    } else {
        format!(
            "AUTH {name} with the token on the AUTH line ({octets}, within the 255 that RFC 5034 §4 allows) was refused while the same token worked in the two-line form: the server refuses the initial response, which RFC 5034 §4 lets a client send on the AUTH line when CAPA lists SASL. Clients that send the token there whenever it fits get -ERR here for a token that works."
        )
    }
}

/// OAUTH-006 across two sessions with the same token: `plain` logged in with the usual
/// message, `with_extra_key` added an unknown key/value pair (`xpopscope=probe`). Info when
/// the login that worked fails once the pair is added: the server must ignore keys it does
/// not know (RFC 7628 §3.1); nothing otherwise.
pub fn oauth_extra_keys(plain: &Session, with_extra_key: &Session) -> Option<Finding> {
    [Mechanism::OauthBearer, Mechanism::XOauth2]
        .into_iter()
        .find_map(|m| {
            let worked = judged_token_login(plain, m, |a| !a.extra_key())?;
            let extra = judged_token_login(with_extra_key, m, OauthAttempt::extra_key)?;
            let refused = worked.verdict() == Some(true) && extra.verdict() == Some(false);
            refused.then(|| finding(&r::OAUTH_006, lowered(m, Severity::Info), format!(
                "AUTH {} worked, and failed with the same token once the response carried an unknown key/value pair: a server must ignore keys it does not know (RFC 7628 §3.1), or clients that send more (newer RFCs, other vendors) cannot log in.",
                m.name()
            )))
        })
}

/// CL-016: a client logged in sooner after its last login than the LOGIN-DELAY the server
/// advertised. For the proxy and the demo server, which see one client over several
/// connections: call it for each connection that tried to log in (`later`) with the last
/// earlier connection of the same client (same address and user) whose login succeeded
/// (`earlier`). Each session's times are on its own connection's clock, so
/// `later_opened_after` says how long after `earlier`'s connection opened `later`'s did.
///
/// The delay is the one `earlier` was told (its TRANSACTION list, which may be the user's own
/// value, else its AUTHORIZATION list), else what `later`'s AUTHORIZATION list says. A warning
/// when the server then refused the login with `[LOGIN-DELAY]`; info when it let it in (the
/// server need not enforce it, RFC 2449 §6.5); nothing when the client waited long enough,
/// or no delay was advertised, or either session has no such login.
pub fn login_delay(
    earlier: &Session,
    later: &Session,
    later_opened_after: Time,
) -> Option<Finding> {
    let last = earlier.accepted_login?;
    let again = later.first_login?;
    let delay = [
        earlier.caps.trans.as_ref(),
        earlier.caps.auth.as_ref(),
        earlier.caps.pre_tls.as_ref(),
        later.caps.auth.as_ref(),
        later.caps.pre_tls.as_ref(),
    ]
    .into_iter()
    .flatten()
    .find_map(|c| c.get("LOGIN-DELAY")?.params.first()?.parse::<u64>().ok())?;
    let since =
        Time(later_opened_after.0.saturating_add(again.answered.0)).saturating_sub(last.answered);
    let waited = since.as_secs_f64();
    if waited >= delay as f64 {
        return None;
    }
    let delay_s = crate::plural(delay, "second");
    let (severity, outcome) = if again.refusal == Some(Refusal::LoginDelay) {
        (
            Severity::Warning,
            "; the server refused it with [LOGIN-DELAY] (§8.1.1), so the client failed for nothing",
        )
    } else {
        (Severity::Info, "; the server let it in, but need not")
    };
    Some(finding(
        &r::CL_016,
        severity,
        format!(
            "The client logged in again {waited:.1} s after its last login, though the server advertised LOGIN-DELAY {delay} ({delay_s}): RFC 2449 §6.5 says a client SHOULD use it as the shortest interval between logins{outcome}."
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::b64encode;
    use crate::{Config, Engine, Time, TransportEvent};

    const BEARER: &str = "OAUTHBEARER";
    const XOAUTH2: &str = "XOAUTH2";

    /// A session under TLS whose CAPA lists both mechanisms, then one login of `mech`
    /// with the response `raw` (on the AUTH line when `one_line`), answered `ok` or refused
    /// after Dovecot's error challenge and the dummy response.
    fn login(mech: &str, one_line: bool, raw: &[u8], ok: bool) -> Session {
        let end: &[(bool, &str)] = if ok {
            &[(false, "+OK Logged in.")]
        } else {
            &[
                (false, "+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0="),
                (true, "AQ=="),
                (false, "-ERR [AUTH] Authentication failed."),
            ]
        };
        login_ending(mech, one_line, raw, end)
    }

    /// As [`login`], the exchange ended by `end` (client lines marked `true`).
    fn login_ending(mech: &str, one_line: bool, raw: &[u8], end: &[(bool, &str)]) -> Session {
        let mut e = Engine::new(Config {
            implicit_tls: true,
            ..Config::default()
        });
        let tls = TransportEvent::TlsEstablished {
            cert_requested: false,
            client_cert: false,
        };
        e.feed_transport(Time(0), tls);
        let response = b64encode(raw);
        let mut lines: Vec<(bool, String)> = vec![
            (false, "+OK Dovecot (Debian) ready.".into()),
            (true, "CAPA".into()),
            (false, "+OK".into()),
            (false, "SASL PLAIN XOAUTH2 OAUTHBEARER".into()),
            (false, ".".into()),
        ];
        if one_line {
            lines.push((true, format!("AUTH {mech} {response}")));
        } else {
            lines.push((true, format!("AUTH {mech}")));
            lines.push((false, "+ ".into()));
            lines.push((true, response));
        }
        lines.extend(end.iter().map(|&(client, l)| (client, l.to_owned())));
        feed(e, lines)
    }

    /// The session after `lines` (client lines marked `true`) on an engine under TLS.
    fn feed(mut e: Engine, lines: Vec<(bool, String)>) -> Session {
        for (i, (client, l)) in lines.into_iter().enumerate() {
            let now = Time(i as u64 + 1);
            let bytes = format!("{l}\r\n");
            if client {
                e.feed_client(now, bytes.as_bytes());
            } else {
                e.feed_server(now, bytes.as_bytes());
            }
        }
        e.session().clone()
    }

    fn message(mech: &str, extra: bool) -> Vec<u8> {
        let extra = if extra { "xpopscope=probe\x01" } else { "" };
        match mech {
            XOAUTH2 => format!("user=testuser\x01{extra}auth=Bearer goodtoken\x01\x01"),
            _ => format!("n,a=testuser,\x01host=127.0.0.1\x01port=995\x01{extra}auth=Bearer goodtoken\x01\x01"),
        }
        .into_bytes()
    }

    fn rule_and_level(f: Option<Finding>) -> Option<(&'static str, Severity)> {
        f.map(|f| (f.rule.id, f.severity))
    }

    #[test]
    fn the_two_line_form_refused_is_a_violation() {
        for (mech, level) in [(BEARER, Severity::Violation), (XOAUTH2, Severity::Warning)] {
            let one = login(mech, true, &message(mech, false), true);
            let two = login(mech, false, &message(mech, false), false);
            assert_eq!(one.oauth.len(), 1);
            assert!(one.oauth[0].one_line && !two.oauth[0].one_line);
            let f = oauth_forms(&one, &two);
            assert_eq!(
                rule_and_level(f.clone()),
                Some(("OAUTH-007", level)),
                "{mech}"
            );
            assert!(f.is_some_and(|f| f.message.contains("255 octets")));
        }
    }

    #[test]
    fn a_two_line_auth_refused_before_its_challenge_is_the_form_refused() {
        for (mech, level) in [(BEARER, Severity::Violation), (XOAUTH2, Severity::Warning)] {
            let one = login(mech, true, &message(mech, false), true);
            let mut e = Engine::new(Config {
                implicit_tls: true,
                ..Config::default()
            });
            e.feed_transport(
                Time(0),
                TransportEvent::TlsEstablished {
                    cert_requested: false,
                    client_cert: false,
                },
            );
            let two = feed(
                e,
                vec![
                    (false, "+OK ready".into()),
                    (true, "CAPA".into()),
                    (false, "+OK".into()),
                    (false, format!("SASL {mech}")),
                    (false, ".".into()),
                    (true, format!("AUTH {mech}")),
                    (
                        false,
                        "-ERR [AUTH] send the response on the AUTH line".into(),
                    ),
                ],
            );
            assert_eq!(
                rule_and_level(oauth_forms(&one, &two)),
                Some(("OAUTH-007", level)),
                "{mech}: {:?}",
                two.oauth
            );
            // Refused at once on one line too: both forms refused alike, nothing to say.
            let one_refused = login(mech, true, &message(mech, false), false);
            assert_eq!(oauth_forms(&one_refused, &two), None, "{mech}");
        }
    }

    #[test]
    fn the_one_line_form_refused_is_info_and_agreement_is_silent() {
        let m = message(BEARER, false);
        let (one_ok, one_no) = (
            login(BEARER, true, &m, true),
            login(BEARER, true, &m, false),
        );
        let (two_ok, two_no) = (
            login(BEARER, false, &m, true),
            login(BEARER, false, &m, false),
        );
        assert_eq!(
            rule_and_level(oauth_forms(&one_no, &two_ok)),
            Some(("OAUTH-007", Severity::Info))
        );
        assert_eq!(oauth_forms(&one_ok, &two_ok), None);
        assert_eq!(oauth_forms(&one_no, &two_no), None);
        // The sessions swapped: no one-line login in the first, so nothing to compare.
        assert_eq!(oauth_forms(&two_ok, &one_no), None);
        // Another mechanism in the second session: nothing to compare either.
        let x = login(XOAUTH2, false, &message(XOAUTH2, false), false);
        assert_eq!(oauth_forms(&one_ok, &x), None);
    }

    #[test]
    fn an_unknown_key_that_breaks_the_login_is_info() {
        for mech in [BEARER, XOAUTH2] {
            let plain = login(mech, true, &message(mech, false), true);
            let extra_refused = login(mech, true, &message(mech, true), false);
            let extra_ok = login(mech, true, &message(mech, true), true);
            assert!(extra_refused.oauth[0].extra_key() && !plain.oauth[0].extra_key());
            assert_eq!(
                rule_and_level(oauth_extra_keys(&plain, &extra_refused)),
                Some(("OAUTH-006", Severity::Info)),
                "{mech}"
            );
            assert_eq!(oauth_extra_keys(&plain, &extra_ok), None);
            // A login that never worked says nothing about the extra key.
            let plain_refused = login(mech, true, &message(mech, false), false);
            assert_eq!(oauth_extra_keys(&plain_refused, &extra_refused), None);
            // The extra-key session must carry the extra key.
            assert_eq!(oauth_extra_keys(&plain, &plain_refused), None);
        }
    }

    /// `-ERR [IN-USE]` (the credentials were fine, RFC 2449 §8.1.2) and `[SYS/…]` (the
    /// server's trouble) refuse neither the form nor the key: nothing to compare.
    #[test]
    fn a_refusal_for_a_locked_maildrop_or_the_servers_trouble_is_no_verdict() {
        for answer in [
            "-ERR [IN-USE] Mailbox is locked",
            "-ERR [SYS/TEMP] Try again later",
            "-ERR [SYS/PERM] Backend down",
        ] {
            for mech in [BEARER, XOAUTH2] {
                let end = [(false, answer)];
                let one_ok = login(mech, true, &message(mech, false), true);
                let two_locked = login_ending(mech, false, &message(mech, false), &end);
                assert_eq!(two_locked.oauth[0].verdict(), None, "{answer}");
                assert_eq!(oauth_forms(&one_ok, &two_locked), None, "{mech} {answer}");
                let one_locked = login_ending(mech, true, &message(mech, false), &end);
                let two_ok = login(mech, false, &message(mech, false), true);
                assert_eq!(oauth_forms(&one_locked, &two_ok), None, "{mech} {answer}");
                let extra_locked = login_ending(mech, true, &message(mech, true), &end);
                assert_eq!(oauth_extra_keys(&one_ok, &extra_locked), None, "{answer}");
            }
        }
        // A refusal of the login itself is still compared, code or not.
        for answer in ["-ERR [AUTH] Invalid token", "-ERR Authentication failed"] {
            let one_ok = login(BEARER, true, &message(BEARER, false), true);
            let two_no = login_ending(BEARER, false, &message(BEARER, false), &[(false, answer)]);
            assert_eq!(two_no.oauth[0].verdict(), Some(false));
            assert_eq!(
                rule_and_level(oauth_forms(&one_ok, &two_no)),
                Some(("OAUTH-007", Severity::Violation)),
                "{answer}"
            );
        }
    }

    /// Probe P25 sends the one-line form only within 255 octets: a refusal then is of the
    /// initial response, not of a long line; a recording may hold a longer one.
    #[test]
    fn the_one_line_form_refused_is_explained_by_its_length() {
        let short = message(BEARER, false);
        let long = {
            let mut m = message(XOAUTH2, false);
            let at = m.len() - 2;
            m.splice(at..at, std::iter::repeat_n(b'x', 300));
            m
        };
        for (raw, mech, says, not) in [
            (&short, BEARER, "within the 255", "may cap"),
            (
                &long,
                XOAUTH2,
                "may cap command lines at 255",
                "within the 255",
            ),
        ] {
            let one_no = login(mech, true, raw, false);
            let two_ok = login(mech, false, raw, true);
            let Some(f) = oauth_forms(&one_no, &two_ok) else {
                panic!("{mech}: {:?}", one_no.oauth);
            };
            assert_eq!(f.severity, Severity::Info);
            let octets = one_no.oauth[0].auth_line_octets;
            assert!(
                f.message.contains(&format!("({octets} octets")),
                "{}",
                f.message
            );
            assert!(
                f.message.contains(says) && !f.message.contains(not),
                "{}",
                f.message
            );
        }
    }

    #[test]
    fn the_record_says_how_each_login_went() {
        let refused = login(BEARER, false, &message(BEARER, false), false);
        let a = &refused.oauth[0];
        assert_eq!(a.mechanism, Mechanism::OauthBearer);
        assert!(a.tls && a.carried_token() && !a.refused_at_once());
        assert_eq!(a.outcome, OauthOutcome::Refused);
        let Some(crate::oauth::ChallengeDecode::Object(e)) = &a.error else {
            panic!("{a:?}");
        };
        assert_eq!(e.status.as_deref(), Some("invalid_token"));
        let ok = login(XOAUTH2, true, &message(XOAUTH2, false), true);
        assert_eq!(ok.oauth[0].outcome, OauthOutcome::Accepted);
        assert_eq!(ok.oauth[0].error, None);
    }

    /// A plaintext session: CAPA answered with `capa` (none if empty), then USER and PASS,
    /// PASS answered `pass`. One line a millisecond.
    fn logs_in(capa: &str, pass: &str) -> Session {
        let mut t = String::from("S: +OK ready\n");
        if !capa.is_empty() {
            t.push_str(&format!("C: CAPA\nS: +OK\nS: {capa}\nS: .\n"));
        }
        t.push_str(&format!("C: USER a\nS: +OK\nC: PASS b\nS: {pass}\n"));
        crate::rules::tests::findings(&t).1
    }

    fn secs(n: u64) -> Time {
        Time(n * 1_000_000)
    }

    #[test]
    fn a_login_refused_for_coming_too_soon_is_a_warning() {
        let earlier = logs_in("LOGIN-DELAY 300", "+OK");
        let later = logs_in("LOGIN-DELAY 300", "-ERR [LOGIN-DELAY] wait");
        let f = login_delay(&earlier, &later, secs(60));
        assert_eq!(
            rule_and_level(f.clone()),
            Some(("CL-016", Severity::Warning))
        );
        let m = f.map(|f| f.message).unwrap_or_default();
        assert!(
            m.contains("60.0 s after") && m.contains("LOGIN-DELAY 300"),
            "{m}"
        );
        // The later connection was told the delay too: the earlier one need not have been.
        let untold = logs_in("", "+OK");
        assert_eq!(
            rule_and_level(login_delay(&untold, &later, secs(60))),
            Some(("CL-016", Severity::Warning))
        );
    }

    #[test]
    fn a_login_let_in_too_soon_is_info_and_waiting_is_silent() {
        let earlier = logs_in("LOGIN-DELAY 300", "+OK");
        let later = logs_in("LOGIN-DELAY 300", "+OK");
        assert_eq!(
            rule_and_level(login_delay(&earlier, &later, secs(60))),
            Some(("CL-016", Severity::Info))
        );
        assert_eq!(login_delay(&earlier, &later, secs(300)), None);
        // Open at once (a client with two connections): the second login still counts.
        assert!(login_delay(&earlier, &later, Time(0)).is_some());
    }

    #[test]
    fn no_delay_advertised_or_no_earlier_login_is_silent() {
        let plain = logs_in("TOP", "+OK");
        assert_eq!(
            login_delay(&plain, &logs_in("TOP", "-ERR [LOGIN-DELAY] x"), secs(1)),
            None
        );
        let refused = logs_in("LOGIN-DELAY 300", "-ERR [AUTH] no");
        let later = logs_in("LOGIN-DELAY 300", "+OK");
        assert_eq!(login_delay(&refused, &later, secs(1)), None);
        // The earlier session's TRANSACTION value is the user's: 0 lets the client in at once.
        let mut own = logs_in("LOGIN-DELAY 300", "+OK");
        let mut trans = crate::capability::Capabilities::default();
        trans.push_line(b"LOGIN-DELAY 0");
        own.caps.trans = Some(trans);
        assert_eq!(login_delay(&own, &later, secs(1)), None);
    }
}
