//! The client around TLS, credentials and capabilities (rules.md §3.18): CL-006 (silence
//! after STLS), CL-007 (capabilities cached across STLS), CL-008 (credentials in the clear),
//! CL-009 (plaintext injected after the STLS `+OK` read as a reply) and CL-017 (leaving mail
//! on a server that expires it). CL-016 needs several connections: [`super::cross`].
//!
//! Every finding here is about the client; the evidence is what it sent, when and in which
//! state, never the text of a line.

use super::area::{Answer, Area, ClientStls, Close, Ctx, Side};
use super::catalog as r;
use super::catalog::Severity;
use crate::capability::Capabilities;
use crate::command::Keyword;
use crate::event::Location;
use crate::exchange::Exchange;
use crate::framer::Line;
use crate::response::StatusLine;
use crate::session::Session;
use crate::state::{AuthStep, Security, State};

/// CL-006, CL-007, CL-008, CL-009, CL-017.
#[derive(Debug, Default)]
pub(crate) struct ClientTls {
    /// The last STLS command, and whether a command behind it was reported (CL-006 speaks
    /// once per STLS: a client that pipelines a whole login behind it did one thing wrong).
    stls: Option<(u32, bool)>,
    /// CL-007: what the client was already told it used from the cached list.
    cached_reported: Vec<String>,
    /// CL-008: the highest severity reported so far (a later, worse case still speaks).
    cleartext: Option<Severity>,
    /// CL-009: what the engine dropped after the STLS `+OK`, and the client's conduct since.
    injection: Injection,
    /// CL-017: QUIT was sent in TRANSACTION, and the session's retrievals were judged.
    quit_sent: bool,
    expiry_judged: bool,
    /// CL-007 through a proxy that upgraded the client's own leg: what the client had been
    /// shown before its TLS (the server's session saw no STLS, so it keeps no pre-TLS list).
    client_leg: Option<ClientLegUpgrade>,
}

/// The client's STLS as a proxy answered it ([`crate::TransportEvent::ClientLegStls`]).
#[derive(Debug, Default)]
struct ClientLegUpgrade {
    /// The AUTHORIZATION list the client had seen before its handshake.
    pre_tls: Option<Capabilities>,
    /// The client took CAPA again inside its TLS: the lists to compare are then the session's.
    capa_after: bool,
}

/// CL-009's watch: plaintext came after the STLS `+OK`; after the handshake, does the client
/// wait for the real reply to each command?
#[derive(Debug, Default)]
struct Injection {
    /// Status-shaped lines (`+…`, `-…`) among the dropped plaintext: replies a vulnerable client
    /// would read as the answers to its next commands.
    replies: u32,
    /// The client's commands inside TLS are being watched.
    watching: bool,
    /// The last command the client sent inside TLS.
    last: Option<Keyword>,
    /// Commands sent inside TLS.
    sent: u32,
}

impl Area for ClientTls {
    fn side(&self) -> Side {
        Side::Client
    }

    fn on_command(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        self.behind_stls(cx, ex);
        self.cached_capability(cx, ex);
        self.injected_reply_taken(cx, ex);
        let k = ex.keyword();
        if let Some(kind) = Credential::of_command(ex) {
            self.cleartext(cx, kind, ex.client_at());
        }
        if k == Keyword::Quit && cx.session.state == State::Transaction {
            self.quit_sent = true;
        }
    }

    fn on_sasl_response(&mut self, cx: &mut Ctx<'_>, ex: &Exchange, at: Location) {
        // Without an initial response the secret goes out in the first response line.
        let Some(sasl) = &ex.sasl else { return };
        let first = sasl.challenges == 1 && !sasl.initial_response;
        let cancelled = sasl.last_client.is_some_and(|l| l.cancel);
        if let Some(kind) =
            Credential::of_mechanism(&sasl.mechanism).filter(|_| first && !cancelled)
        {
            self.cleartext(cx, kind, at);
        }
    }

    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        if let Some(up) = self.client_leg.as_mut()
            && reply.ex.keyword() == Keyword::Capa
            && reply.status.status == crate::response::Status::Ok
        {
            up.capa_after = true;
        }
        if reply.ex.keyword() == Keyword::Quit && cx.session.state == State::Transaction {
            self.retrieved_left(cx, reply.ex.client_at());
        }
    }

    fn on_plaintext_before_handshake(&mut self, _cx: &mut Ctx<'_>, _at: Location, line: &Line<'_>) {
        if StatusLine::looks_like_status(line.content) {
            self.injection.replies += 1;
        }
        self.injection.watching = self.injection.replies > 0;
        self.injection.sent = 0;
        self.injection.last = None;
    }

    fn on_client_leg_stls(&mut self, cx: &mut Ctx<'_>, at: Location, stls: &ClientStls) {
        let ClientStls {
            dropped_octets,
            established,
            injected_replies,
            ..
        } = *stls;
        if dropped_octets > 0 {
            cx.check.report(&r::CL_006, Severity::Violation, at, format!(
                "The client sent {} in plaintext behind its STLS, before the reply and the TLS handshake: once a client issues STLS it MUST NOT issue further commands until it has seen the reply and the TLS negotiation is complete (RFC 2595 §4). The proxy that answered the STLS dropped them unexecuted; a server that runs them is open to command injection (TLS-004).",
                crate::plural(dropped_octets, "octet")
            ));
        }
        if established {
            self.client_leg = Some(ClientLegUpgrade {
                pre_tls: cx.session.caps.auth.clone(),
                capa_after: false,
            });
            // What the proxy served behind its +OK is watched as a server's would be.
            self.injection = Injection {
                replies: injected_replies,
                watching: injected_replies > 0,
                ..Injection::default()
            };
        }
    }

    fn on_server_close(&mut self, cx: &mut Ctx<'_>, close: &Close<'_>) {
        // QUIT unanswered: the retrievals are as complete as they will be.
        if self.quit_sent {
            self.retrieved_left(cx, close.at);
        }
    }
}

impl ClientTls {
    /// CL-006: a command after STLS, before its reply (the engine marks it `injected`) or
    /// after the `+OK` and before the handshake (which is where those octets would land).
    fn behind_stls(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let before_reply = ex.injected;
        let before_handshake = cx.session.state == State::Authorization(AuthStep::StlsHandshake);
        if let Some((stls, reported)) = self.stls.as_mut()
            && (before_reply || before_handshake)
            && !*reported
        {
            *reported = true;
            let when = if before_reply {
                format!("before the server had answered STLS (exchange {stls})")
            } else {
                "after the server's +OK to STLS and before the TLS handshake".to_owned()
            };
            cx.check.report(&r::CL_006, Severity::Violation, ex.client_at(), format!(
                "The client sent {} in plaintext {when}: once a client issues STLS it MUST NOT issue further commands until it has seen the reply and the TLS negotiation is complete (RFC 2595 §4). Plaintext sent there is what a man in the middle injects into; a server that runs it is open to command injection (TLS-004).",
                named(ex)
            ));
        }
        if ex.keyword() == Keyword::Stls && !before_reply && !before_handshake {
            self.stls = Some((ex.id, false));
        }
    }

    /// CL-007: after the STLS handshake, a capability only the pre-TLS CAPA listed. Without a
    /// CAPA after TLS there is nothing to compare with: that is CAPA-004 (the capa area).
    fn cached_capability(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let s = &*cx.session;
        // The client's own STLS, when a proxy answered it; else the session's.
        let pre = match &self.client_leg {
            Some(up) if up.capa_after => up.pre_tls.as_ref(),
            Some(_) => None,
            None if s.security == Security::Stls => s.caps.pre_tls.as_ref(),
            None => None,
        };
        let Some(pre) = pre else {
            return;
        };
        let after: Vec<&Capabilities> = [s.caps.auth.as_ref(), s.caps.trans.as_ref()]
            .into_iter()
            .flatten()
            .collect();
        if after.is_empty() {
            return;
        }
        let only_before = |tag: &str| pre.has(tag) && !after.iter().any(|c| c.has(tag));
        let k = ex.keyword();
        let used = match k {
            Keyword::Auth => ex.sasl.as_ref().and_then(|x| {
                let m = x.mechanism.to_ascii_uppercase();
                let before = pre.sasl_mechanisms();
                let listed_before = before.iter().find(|b| **b == m)?;
                (!after.iter().any(|c| c.has_sasl(&m)))
                    .then(|| format!("the SASL mechanism {listed_before} (AUTH {listed_before})"))
            }),
            Keyword::User | Keyword::Top | Keyword::Uidl if only_before(k.as_str()) => {
                Some(format!("{k}"))
            }
            _ => None,
        };
        let pipelined = (ex.pipelined && only_before("PIPELINING"))
            .then(|| format!("PIPELINING ({k} sent before the previous reply)"));
        for what in used.into_iter().chain(pipelined) {
            if self.cached_reported.contains(&what) {
                continue;
            }
            cx.check.report(&r::CL_007, Severity::Violation, ex.client_at(), format!(
                "After STLS the client used {what}, which only the CAPA before TLS listed: the CAPA after TLS does not. RFC 2595 §4: the client MUST discard capability information cached before TLS; a list changed across STLS is how a man in the middle steers a client (§9)."
            ));
            self.cached_reported.push(what);
        }
    }

    /// CL-008: a credential sent with no TLS. `kind` says what it was.
    fn cleartext(&mut self, cx: &mut Ctx<'_>, kind: Credential, at: Location) {
        let s = &*cx.session;
        if cx.check.client_leg_is_tls(s.security.is_tls()) {
            return;
        }
        // What the client was shown: a proxy that keeps STLS from it says so.
        let stls_offered = cx.check.client_stls_offer.unwrap_or_else(|| {
            [s.caps.auth.as_ref(), s.caps.trans.as_ref()]
                .into_iter()
                .flatten()
                .any(|c| c.has("STLS"))
        });
        let (severity, why) = match kind {
            Credential::Bearer(m) => (
                Severity::Violation,
                format!(
                    "a bearer token ({m}) on an unencrypted connection: TLS MUST be used for it (RFC 7628 §3; RFC 6750 §5.3), and anyone on the path can log in with it until it expires"
                ),
            ),
            Credential::Password(what) if s.stls_refused => (
                Severity::Warning,
                format!(
                    "a password ({what}) in plaintext after STLS was refused: that is what a STARTTLS-stripping attacker wants (RFC 2595 §9); a client must be able to refuse clear-text logins (§2.3)"
                ),
            ),
            Credential::Password(what) if stls_offered => (
                Severity::Warning,
                format!(
                    "a password ({what}) in plaintext although the server's CAPA offered STLS: RFC 2595 §2.3 and RFC 8314 §4.1 want TLS first"
                ),
            ),
            Credential::Password(what) => (
                Severity::Info,
                format!(
                    "a password ({what}) in plaintext: the server offered no STLS, so the client could only refuse (RFC 2595 §2.3) or use TLS on port 995 (RFC 8314)"
                ),
            ),
            Credential::Digest(what) => (
                Severity::Info,
                format!(
                    "{what} on an unencrypted connection: the password itself does not travel, but the exchange can be attacked offline and the session is readable"
                ),
            ),
        };
        if self.cleartext.is_some_and(|done| done >= severity) {
            return;
        }
        self.cleartext = Some(severity);
        cx.check
            .report(&r::CL_008, severity, at, format!("The client sent {why}."));
    }

    /// CL-009: after plaintext was injected behind the STLS `+OK`, the client sends a command
    /// inside TLS before the reply to its previous one, as if the injected line had answered
    /// it. A client that may pipeline (a CAPA of the session listed PIPELINING) proves nothing.
    fn injected_reply_taken(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let w = &mut self.injection;
        let s = &*cx.session;
        // Inside the TLS that followed the +OK: the session's, or the client's own leg's.
        let upgraded = s.security == Security::Stls || self.client_leg.is_some();
        if !w.watching || !upgraded {
            return;
        }
        w.sent += 1;
        let previous = w.last.replace(ex.keyword());
        if !ex.pipelined {
            // The client waited for a reply to its first command inside TLS: lock-step.
            if w.sent > 1 {
                w.watching = false;
            }
            return;
        }
        w.watching = false;
        let may_pipeline = [
            s.caps.pre_tls.as_ref(),
            s.caps.auth.as_ref(),
            s.caps.trans.as_ref(),
        ]
        .into_iter()
        .flatten()
        .any(|c| c.has("PIPELINING"));
        if may_pipeline {
            return;
        }
        let previous =
            previous.map_or_else(|| "its previous command".to_owned(), |k| k.to_string());
        let how = if previous == "AUTH" {
            "as if a SASL challenge or the end of the exchange had already come"
        } else {
            "as if the reply had already come"
        };
        let injected = crate::plural(w.replies, "reply-shaped line");
        cx.check.report(&r::CL_009, Severity::Violation, ex.client_at(), format!(
            "The client sent {} inside TLS before the server had answered {previous}, {how}, and no CAPA listed PIPELINING: what it read as that reply can only be the plaintext the server sent after its +OK to STLS ({injected}, TLS-003), which is not part of the session and must be discarded (RFC 2595 §4). A client that keeps it takes forged replies (STARTTLS response injection; Mutt's CVE-2020-14954).",
            named(ex)
        ));
    }

    /// CL-017: the session ends with messages retrieved and not deleted, on a server whose
    /// EXPIRE says how long it keeps them.
    fn retrieved_left(&mut self, cx: &mut Ctx<'_>, at: Location) {
        if std::mem::replace(&mut self.expiry_judged, true) {
            return;
        }
        let s = &*cx.session;
        let Some(days) = expire_days(s) else { return };
        // Counted, not collected: a maildrop may track two million messages.
        let mut left = s
            .maildrop
            .iter()
            .filter(|(_, m)| m.retr_octets.is_some() && !m.deleted)
            .map(|(n, _)| n);
        let Some(first) = left.next() else { return };
        let count = 1 + left.count();
        let which = if count == 1 {
            format!("message {first}")
        } else {
            format!("{} (the first: {first})", crate::plural(count, "message"))
        };
        let (severity, message) = if days == 0 {
            (
                Severity::Warning,
                format!(
                    "The client retrieved {which} and ended the session without DELE, on a server that advertised EXPIRE 0: the client is not permitted to leave mail on the server (RFC 2449 §6.7), which may delete every retrieved message at UPDATE. A client set to leave mail on the server will not find it next time."
                ),
            )
        } else {
            (
                Severity::Info,
                format!(
                    "The client retrieved {which} and left it on a server that advertised EXPIRE {days}: the server may delete mail {} after it was retrieved (RFC 2449 §6.7); a client that keeps mail on the server longer will lose it.",
                    crate::plural(days, "day")
                ),
            )
        };
        cx.check.report(&r::CL_017, severity, at, message);
    }
}

/// What a credential sent in the clear exposes (CL-008).
#[derive(Clone, Copy, Debug)]
enum Credential {
    /// A password itself: PASS, AUTH PLAIN, AUTH LOGIN.
    Password(&'static str),
    /// A bearer token: AUTH XOAUTH2, AUTH OAUTHBEARER.
    Bearer(&'static str),
    /// A digest of the password: APOP, AUTH CRAM-MD5.
    Digest(&'static str),
}

impl Credential {
    /// The credential a command line itself carries: PASS, APOP, or AUTH with an initial
    /// response (without one it is in the first response line: [`Area::on_sasl_response`]).
    fn of_command(ex: &Exchange) -> Option<Credential> {
        match ex.keyword() {
            Keyword::Pass => Some(Credential::Password("PASS")),
            Keyword::Apop => Some(Credential::Digest("APOP")),
            Keyword::Auth => ex
                .sasl
                .as_ref()
                .filter(|x| x.initial_response)
                .and_then(|x| Credential::of_mechanism(&x.mechanism)),
            _ => None,
        }
    }

    fn of_mechanism(mechanism: &str) -> Option<Credential> {
        Some(match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => Credential::Password("AUTH PLAIN"),
            "LOGIN" => Credential::Password("AUTH LOGIN"),
            "XOAUTH2" => Credential::Bearer("AUTH XOAUTH2"),
            "OAUTHBEARER" => Credential::Bearer("AUTH OAUTHBEARER"),
            "CRAM-MD5" => Credential::Digest("AUTH CRAM-MD5"),
            _ => return None,
        })
    }
}

/// The command by its keyword; never the line itself, which may hold a secret.
fn named(ex: &Exchange) -> String {
    match ex.keyword() {
        Keyword::Other => "a command popscope does not know".to_owned(),
        k => k.to_string(),
    }
}

/// The EXPIRE days that apply to this session's mail: the TRANSACTION list's when it says (the
/// value may change after login, RFC 2449 §6.7), else the AUTHORIZATION list's. None for
/// `NEVER`, no EXPIRE, or an argument that is no number (CAPA-008 reports that).
fn expire_days(s: &Session) -> Option<u64> {
    let caps = [
        s.caps.trans.as_ref(),
        s.caps.auth.as_ref(),
        s.caps.pre_tls.as_ref(),
    ];
    let expire = caps.into_iter().flatten().find_map(|c| c.get("EXPIRE"))?;
    expire.params.first()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::super::tests::client_findings;
    use crate::Severity;

    fn ids(trace: &str) -> Vec<(&'static str, Severity)> {
        client_findings(trace)
            .0
            .iter()
            .filter(|f| f.rule.judges_client())
            .map(|f| (f.rule.id, f.severity))
            .collect()
    }

    #[test]
    fn a_pipelined_login_behind_stls_is_one_finding() {
        let t = "S: +OK ready\nC: STLS\nC: USER a\nC: PASS b\nS: +OK\n-- tls\n";
        let got = ids(t);
        assert_eq!(
            got.iter().filter(|(id, _)| *id == "CL-006").count(),
            1,
            "{got:?}"
        );
    }

    #[test]
    fn a_command_after_the_stls_ok_before_the_handshake_is_cl_006() {
        let f = client_findings("S: +OK ready\nC: STLS\nS: +OK\nC: CAPA\n-- tls\n").0;
        let cl = f.iter().find(|f| f.rule.id == "CL-006");
        assert!(
            cl.is_some_and(|f| f.message.contains("after the server's +OK")),
            "{f:?}"
        );
    }

    #[test]
    fn a_password_in_the_clear_is_judged_by_the_stls_offer_the_client_saw() {
        let t = "S: +OK ready\nC: CAPA\nS: +OK\nS: STLS\nS: USER\nS: .\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\n";
        let cl_008 = |config: crate::Config| -> Vec<Severity> {
            crate::rules::tests::findings_with(t, config)
                .0
                .iter()
                .filter(|f| f.rule.id == "CL-008")
                .map(|f| f.severity)
                .collect()
        };
        let judged = crate::Config {
            judge_client: true,
            ..crate::Config::default()
        };
        assert_eq!(cl_008(judged.clone()), [Severity::Warning]);
        // Through a proxy that kept STLS from the client: no STLS was on offer to it.
        let hidden = crate::Config {
            client_stls_offer: Some(false),
            ..judged.clone()
        };
        assert_eq!(cl_008(hidden), [Severity::Info]);
        // A proxy that offers STLS itself showed the client an STLS the server's CAPA lacks.
        let without_stls = t.replace("S: STLS\n", "");
        let offered = crate::Config {
            client_stls_offer: Some(true),
            ..judged.clone()
        };
        let severities = |t: &str, config| -> Vec<Severity> {
            crate::rules::tests::findings_with(t, config)
                .0
                .iter()
                .filter(|f| f.rule.id == "CL-008")
                .map(|f| f.severity)
                .collect()
        };
        assert_eq!(severities(&without_stls, judged), [Severity::Info]);
        assert_eq!(severities(&without_stls, offered), [Severity::Warning]);
    }

    #[test]
    fn a_password_is_judged_by_the_client_leg_when_a_proxy_names_it() {
        let cl_008 = |t: &str, client_leg_tls: Option<bool>| -> Vec<Severity> {
            let config = crate::Config {
                judge_client: true,
                client_leg_tls,
                ..crate::Config::default()
            };
            crate::rules::tests::findings_with(t, config)
                .0
                .iter()
                .filter(|f| f.rule.id == "CL-008")
                .map(|f| f.severity)
                .collect()
        };
        let plain = "S: +OK ready\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\n";
        assert_eq!(cl_008(plain, None), [Severity::Info]);
        // TLS toward the client, the upstream plain: the password was not in the clear.
        assert_eq!(cl_008(plain, Some(true)), []);
        // After STLS upstream, a client whose own leg is plain still sent it in the clear.
        let upgraded =
            "S: +OK ready\nC: STLS\nS: +OK\n-- tls\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\n";
        assert_eq!(cl_008(upgraded, None), []);
        assert_eq!(cl_008(upgraded, Some(false)), [Severity::Info]);
    }

    /// A proxy in front of a plain server answers the client's STLS itself: the engine sees
    /// no STLS from the server's side, only the event.
    fn through_a_proxy(t: &str) -> Vec<(&'static str, Severity)> {
        let config = crate::Config {
            judge_client: true,
            client_leg_tls: Some(false),
            client_stls_offer: Some(true),
            ..crate::Config::default()
        };
        crate::rules::tests::findings_with(t, config)
            .0
            .iter()
            .filter(|f| f.rule.judges_client())
            .map(|f| (f.rule.id, f.severity))
            .collect()
    }

    #[test]
    fn the_client_leg_is_plain_then_tls_after_the_proxy_upgraded_it() {
        let login = "C: USER a\nS: +OK\nC: PASS b\nS: +OK\n";
        let before = format!("S: +OK ready\n{login}-- client-stls 0\n");
        assert_eq!(through_a_proxy(&before), [("CL-008", Severity::Warning)]);
        let after = format!("S: +OK ready\n-- client-stls 0\n{login}");
        assert_eq!(through_a_proxy(&after), []);
    }

    #[test]
    fn octets_a_proxy_dropped_behind_the_client_stls_are_cl_006() {
        let dropped = through_a_proxy("S: +OK ready\n-- client-stls 8\n");
        assert_eq!(dropped, [("CL-006", Severity::Violation)]);
        assert_eq!(through_a_proxy("S: +OK ready\n-- client-stls 0\n"), []);
    }

    #[test]
    fn a_reply_the_proxy_injected_behind_its_stls_ok_taken_by_the_client_is_cl_009() {
        let session = |stls: &str, inside: &str| format!("S: +OK ready\n{stls}\n{inside}");
        let cl_009 = |t: &str| {
            through_a_proxy(t)
                .into_iter()
                .filter(|(id, _)| *id == "CL-009")
                .collect::<Vec<_>>()
        };
        // USER, the injected +OK read as its reply, PASS at once.
        let taken = "C: USER a\nC: PASS b\nS: +OK\nS: +OK in\n";
        let lock_step = "C: USER a\nS: +OK\nC: PASS b\nS: +OK in\n";
        let injected = "-- client-stls 0 injected=1";
        assert_eq!(
            cl_009(&session(injected, taken)),
            [("CL-009", Severity::Violation)]
        );
        assert_eq!(through_a_proxy(&session(injected, lock_step)), []);
        // Nothing injected: a pipelining client is CL-005's matter, not CL-009's.
        assert_eq!(cl_009(&session("-- client-stls 0", taken)), []);
    }

    #[test]
    fn capabilities_cached_across_the_client_stls_a_proxy_answered_are_cl_007() {
        let session = |after_tls: &str| {
            format!(
                "S: +OK ready\nC: CAPA\nS: +OK\nS: USER\nS: .\n-- client-stls 0\nC: CAPA\nS: +OK\nS: {after_tls}\nS: .\nC: USER a\nS: +OK\n"
            )
        };
        let cl_007 = |t: &str| {
            through_a_proxy(t)
                .iter()
                .filter(|(id, _)| *id == "CL-007")
                .count()
        };
        assert_eq!(cl_007(&session("SASL PLAIN")), 1);
        assert_eq!(cl_007(&session("USER")), 0);
        // Without a CAPA inside TLS there is nothing to compare with (CAPA-004's case).
        let no_capa =
            "S: +OK ready\nC: CAPA\nS: +OK\nS: USER\nS: .\n-- client-stls 0\nC: USER a\nS: +OK\n";
        assert_eq!(cl_007(no_capa), 0);
    }

    #[test]
    fn a_refused_stls_then_a_refused_password_is_one_warning() {
        let t = "S: +OK ready\nC: STLS\nS: -ERR\nC: USER a\nS: +OK\nC: PASS x\nS: -ERR\nC: USER a\nS: +OK\nC: PASS y\nS: -ERR\n";
        assert_eq!(ids(t), [("CL-008", Severity::Warning)]);
    }

    #[test]
    fn a_worse_credential_later_still_speaks() {
        let t = "S: +OK ready\nC: APOP a 0123456789abcdef0123456789abcdef\nS: -ERR\nC: AUTH XOAUTH2 dXNlcj1hAWF1dGg9QmVhcmVyIHQBAQ==\nS: -ERR\n";
        assert_eq!(
            ids(t),
            [("CL-008", Severity::Info), ("CL-008", Severity::Violation)]
        );
    }

    #[test]
    fn a_sasl_password_without_initial_response_is_seen_in_the_response_line() {
        let t = "S: +OK ready\nC: AUTH PLAIN\nS: + \nC: AGEAYg==\nS: -ERR\nC: AUTH PLAIN\nS: + \nC: *\nS: -ERR\n";
        let f = client_findings(t).0;
        let cl: Vec<_> = f.iter().filter(|f| f.rule.id == "CL-008").collect();
        assert_eq!(cl.len(), 1, "{f:?}");
        // The finding points at the response line (exchange 1), not at the AUTH line.
        assert_eq!(cl[0].at.exchange, 1);
        // A cancelled exchange sends nothing: alone, it is silent.
        let cancelled = "S: +OK ready\nC: AUTH PLAIN\nS: + \nC: *\nS: -ERR\n";
        assert_eq!(ids(cancelled), []);
    }

    fn fires(trace: &str, rule: &str) -> bool {
        ids(trace).iter().any(|(id, _)| *id == rule)
    }

    #[test]
    fn pipelining_a_server_allows_is_not_injection() {
        let injected = |capa: &str| {
            format!(
                "S: +OK ready\nC: CAPA\nS: +OK\nS: {capa}\nS: STLS\nS: .\nC: STLS\nS: +OK\nS: +OK injected\n-- tls\nC: CAPA\nC: NOOP\nS: +OK\nS: .\nS: +OK\n"
            )
        };
        assert!(fires(&injected("TOP"), "CL-009"));
        assert!(!fires(&injected("PIPELINING"), "CL-009"));
    }

    #[test]
    fn a_pipelined_dele_before_quit_is_not_leaving_mail() {
        let session = |dele: &str| {
            format!(
                "S: +OK ready\nC: CAPA\nS: +OK\nS: EXPIRE 0\nS: .\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\nC: RETR 1\nS: +OK\nS: x\nS: .\n{dele}C: QUIT\nS: +OK\nS: +OK\n"
            )
        };
        assert!(fires(&session("C: NOOP\n"), "CL-017"));
        assert!(!fires(&session("C: DELE 1\n"), "CL-017"));
    }

    #[test]
    fn leaving_mail_counts_every_message_kept() {
        let t = "S: +OK ready\nC: CAPA\nS: +OK\nS: EXPIRE 0\nS: .\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\nC: RETR 2\nS: +OK\nS: x\nS: .\nC: RETR 3\nS: +OK\nS: y\nS: .\nC: RETR 4\nS: +OK\nS: z\nS: .\nC: DELE 3\nS: +OK\nC: QUIT\n-- closed\n";
        let f = client_findings(t).0;
        let cl: Vec<_> = f.iter().filter(|f| f.rule.id == "CL-017").collect();
        assert_eq!(cl.len(), 1, "{f:?}");
        assert!(
            cl[0]
                .message
                .contains("retrieved 2 messages (the first: 2)"),
            "{}",
            cl[0].message
        );
    }

    #[test]
    fn client_areas_are_off_unless_asked_and_under_probes() {
        use crate::{Config, Engine, Time};
        let run = |config: Config| {
            let mut e = Engine::new(config);
            let mut v = e.feed_server(Time(0), b"+OK ready\r\n");
            v.extend(e.feed_client(Time(1), b"STLS\r\nCAPA\r\n"));
            v.iter()
                .filter_map(|ev| match ev {
                    crate::Event::Finding(f) => Some(f.rule.id),
                    _ => None,
                })
                .filter(|id| id.starts_with("CL-"))
                .count()
        };
        assert_eq!(run(Config::default()), 0);
        let judging = Config {
            judge_client: true,
            ..Config::default()
        };
        assert_eq!(run(judging.clone()), 1);
        let probing = Config {
            active_probes: true,
            ..judging
        };
        assert_eq!(run(probing), 0);
    }
}
