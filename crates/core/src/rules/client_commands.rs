//! The client's commands (rules.md §3.18: CL-001 … CL-005, CL-010 … CL-014): whether the client
//! waits for the greeting, sends each command in a state that allows it, waits for each reply
//! unless the server offers PIPELINING, writes command lines as RFC 1939 §3 and RFC 2449 §4
//! define them, and ends with QUIT and nothing after it. It judges the client, never the server.
//!
//! Order of arrival is evidence only one way. The engine sees both directions in the order its
//! watcher got them (the proxy, the demo server, a recording): server octets pass the watcher
//! before they reach the client, client octets after they leave it. So a command the watcher
//! got before the greeting or before the previous reply was sent before the client could have
//! seen them (CL-001, CL-005); a client that waited may still look as if it had, never the
//! reverse.
//!
//! A pipelined command is sent before the replies that decide its state: USER, PASS and STAT
//! in one write are lawful with PIPELINING, though STAT leaves before the login is answered.
//! Such a command is judged when its reply comes, in the state the earlier replies left, and
//! one pipelined behind a refused login is forgiven (the client could not know).

use super::area::{Answer, Area, ClientClose, Ctx, Side};
use super::catalog as r;
use super::catalog::Severity;
use crate::command::Keyword;
use crate::event::Location;
use crate::exchange::Exchange;
use crate::framer::Ending;
use crate::response::Status;
use crate::sanitize::display;
use crate::session::Session;
use crate::state::{AuthStep, State};

/// The longest command line, CRLF included (RFC 2449 §4).
const MAX_COMMAND_LINE: usize = 255;

/// CL-001 … CL-005, CL-010 … CL-014.
#[derive(Debug, Default)]
pub(crate) struct ClientCommands {
    /// QUIT was sent and not refused in AUTHORIZATION: any command after it is CL-014.
    quit_sent: bool,
    /// Keywords CL-002 reported: once each, so a client that walks a maildrop before logging
    /// in gets one finding per command kind, not one per message.
    wrong_state: Vec<Keyword>,
    /// Keywords CL-012 reported, once each.
    unadvertised: Vec<Keyword>,
    /// Faults of CL-011 reported, once each.
    syntax: Vec<SyntaxFault>,
}

/// What CL-011 finds wrong with a command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SyntaxFault {
    BareLf,
    Keyword,
    Spacing,
    Unterminated,
}

impl Area for ClientCommands {
    fn side(&self) -> Side {
        Side::Client
    }

    fn on_client_stls_refused(&mut self, cx: &mut Ctx<'_>, at: Location) {
        self.stls_refused_by_proxy(cx, at);
    }

    fn on_command(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let at = ex.client_at();
        if s.greeting.is_none() {
            c.report_once(&r::CL_001, Severity::Warning, at, || format!(
                "The client sent {} before the server's greeting: a client waits for the greeting, then sends its commands (RFC 1939 §3, §4).",
                sent(ex)
            ));
        }
        if self.quit_sent {
            c.report_once(&r::CL_014, Severity::Warning, at, || format!(
                "The client sent {} after QUIT: after QUIT the server answers and closes, so nothing may follow it (RFC 1939 §3, §6).",
                sent(ex)
            ));
        }
        // A command behind an unanswered STLS is CL-006's, a graver fault.
        if ex.ahead_of_reply && !ex.injected && !pipelining_offered(s) {
            let why = if s.any_caps().is_some() {
                "no CAPA since the last change of security layer listed PIPELINING"
            } else {
                "the client took no CAPA, so it cannot know the server offers PIPELINING"
            };
            c.report_once(&r::CL_005, Severity::Warning, at, || format!(
                "The client sent {} while an earlier command was still unanswered, but {why}: without PIPELINING a client waits for each reply (RFC 2449 §6.6, RFC 1939 §3).",
                sent(ex)
            ));
        }
        self.judge_syntax(cx, ex);
        if !ex.pipelined {
            self.judge_state(cx, ex);
        }
        if ex.keyword() == Keyword::Quit {
            self.quit_sent = true;
        }
    }

    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let ex = reply.ex;
        if ex.pipelined && !ex.injected {
            self.judge_state(cx, ex);
        }
        // A refused QUIT in AUTHORIZATION leaves the session open: the client may go on.
        if ex.keyword() == Keyword::Quit
            && reply.status.status == Status::Err
            && cx.session.in_authorization()
        {
            self.quit_sent = false;
        }
    }

    fn on_client_close(&mut self, cx: &mut Ctx<'_>, close: &ClientClose) {
        if let Some((at, octets)) = close.unterminated
            && self.first(SyntaxFault::Unterminated)
        {
            cx.check.report(&r::CL_011, Severity::Warning, at, format!(
                "The client closed the connection in the middle of a command line: {octets} octets without the CRLF that ends every command (RFC 1939 §3)."
            ));
        }
        let (c, s) = (&mut *cx.check, &*cx.session);
        // In AUTHORIZATION there is nothing for QUIT to make permanent; in TRANSACTION the
        // UPDATE it starts is what removes the messages marked deleted.
        if s.state != State::Transaction || self.quit_sent {
            return;
        }
        let marked = s.maildrop.deleted_count();
        if marked > 0 {
            c.report(&r::CL_013, Severity::Warning, close.at, format!(
                "The client closed the connection in TRANSACTION without QUIT, with {marked} message(s) marked deleted: without QUIT there is no UPDATE, so they stay on the server and are downloaded again next time (RFC 1939 §6)."
            ));
        } else {
            c.report(&r::CL_013, Severity::Info, close.at,
                "The client closed the connection in TRANSACTION without QUIT: nothing was marked deleted, so nothing is lost, but QUIT is how a session ends (RFC 1939 §6).");
        }
    }
}

impl ClientCommands {
    /// The first time `fault` is seen in this session.
    fn first(&mut self, fault: SyntaxFault) -> bool {
        let first = !self.syntax.contains(&fault);
        if first {
            self.syntax.push(fault);
        }
        first
    }

    /// CL-010 and CL-011: the command line as it came on the wire.
    fn judge_syntax(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let at = ex.client_at();
        let len = ex.cmd.wire_len;
        // An AUTH line with its initial response is SASL-011's (a MUST NOT of RFC 5034 §4).
        let initial_response = ex.sasl.as_ref().is_some_and(|x| x.initial_response);
        if len > MAX_COMMAND_LINE && !initial_response {
            cx.check.report_once(&r::CL_010, Severity::Warning, at, || format!(
                "The client sent {} in a line of {len} octets: command lines are at most 255 octets including CRLF (RFC 2449 §4), and a server may refuse or cut a longer one.",
                sent(ex)
            ));
        }
        if ex.line_end == Ending::Lf && self.first(SyntaxFault::BareLf) {
            cx.check.report(&r::CL_011, Severity::Warning, at, format!(
                "The client ended {} with a bare LF: command lines end with CRLF (RFC 1939 §3).",
                sent(ex)
            ));
        }
        let verb = &ex.cmd.verb;
        let keyword_ok = (3..=4).contains(&verb.len()) && verb.iter().all(u8::is_ascii_graphic);
        // The keyword is not quoted: a line that is not a command may be a secret (a SASL
        // response sent before its challenge), and the transcript shows the line masked.
        if !keyword_ok && self.first(SyntaxFault::Keyword) {
            let shape = if verb.iter().all(u8::is_ascii_graphic) {
                "printable"
            } else {
                "with blanks or control characters"
            };
            cx.check.report(&r::CL_011, Severity::Warning, at, format!(
                "The client sent a command line whose keyword is {} octets, {shape}: a keyword is 3 or 4 printable characters, followed by one space before each argument (RFC 1939 §3, RFC 2449 §3).",
                verb.len()
            ));
        }
        if ex.cmd.irregular_spacing && self.first(SyntaxFault::Spacing) {
            cx.check.report(&r::CL_011, Severity::Info, at, format!(
                "The client separated the arguments of {} by other than single spaces (doubled, leading or trailing blanks): RFC 1939 §3 puts exactly one space before each argument.",
                sent(ex)
            ));
        }
    }

    /// CL-002, CL-003, CL-004 and CL-012: the command against the state it meets.
    fn judge_state(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let k = ex.keyword();
        let at = ex.client_at();
        let after_refused_login = ex.pipelined
            && cx.last.is_some_and(|l| {
                l.status == Status::Err
                    && matches!(
                        l.keyword,
                        Keyword::User | Keyword::Pass | Keyword::Apop | Keyword::Auth
                    )
            });
        let refused_user = cx
            .last
            .is_some_and(|l| l.keyword == Keyword::User && l.status == Status::Err);
        let (c, s) = (&mut *cx.check, &*cx.session);
        let logged_out = matches!(s.state, State::Greeting | State::Authorization(_));
        if logged_out && k.is_transaction_only() && !after_refused_login {
            if c.client_cert_over_tls(s.security.is_tls(), s.client_cert) {
                c.report_once(&r::CL_003, Severity::Warning, at, || format!(
                    "After TLS with a client certificate the client sent {k} without logging in, as if the certificate had logged it in: no standard has such a mode. It must log in first, with AUTH EXTERNAL to use the certificate (RFC 8314 §3.1, §4.2; RFC 2595 §4; RFC 1939 §3). This is the specific form of CL-002."
                ));
            } else if self.first_wrong_state(k) {
                let when = match s.state {
                    State::Greeting => "before the greeting".to_owned(),
                    state => format!("in {}", state.name()),
                };
                c.report(&r::CL_002, Severity::Warning, at, format!(
                    "The client sent {k} {when}, before any successful login: it is a TRANSACTION command (RFC 1939 §3, §5), which the server must refuse (ST-001)."
                ));
            }
        }
        let login_step = matches!(
            k,
            Keyword::User | Keyword::Pass | Keyword::Apop | Keyword::Auth | Keyword::Stls
        );
        // After a server skipped AUTHORIZATION (ST-001), logging in is the client's right move.
        if s.state == State::Transaction
            && login_step
            && !s.skipped_login
            && self.first_wrong_state(k)
        {
            c.report(&r::CL_002, Severity::Warning, at, format!(
                "The client sent {k} after it had logged in: it is valid only in AUTHORIZATION (RFC 1939 §7, RFC 2595 §4, RFC 5034 §4), so the server must refuse it (ST-002)."
            ));
        }
        if k == Keyword::Pass
            && matches!(s.state, State::Authorization(step) if step != AuthStep::UserOk)
            && !after_refused_login
        {
            let when = if refused_user {
                "after its USER was refused"
            } else {
                "with no accepted USER right before it"
            };
            c.report(&r::CL_004, Severity::Warning, at, format!(
                "The client sent PASS {when}: PASS is valid only right after a USER that got +OK (RFC 1939 §7)."
            ));
        }
        self.judge_capability(cx, ex);
    }

    /// CL-012: a command of an optional capability that the CAPA of this state and security
    /// context did not list.
    fn judge_capability(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let s = &*cx.session;
        let Some(caps) = s.current_caps() else {
            return;
        };
        let k = ex.keyword();
        let mechanism = ex
            .sasl
            .as_ref()
            .map(|x| display(x.mechanism.as_bytes(), 40));
        let missing = match k {
            Keyword::Top | Keyword::Uidl | Keyword::User | Keyword::Utf8 | Keyword::Lang => {
                (!caps.has(k.as_str())).then(|| k.as_str().to_owned())
            }
            // Under TLS no list names STLS (CAPA-005): a second STLS is TLS-006's matter.
            Keyword::Stls if !s.security.is_tls() => (!caps.has("STLS")).then(|| "STLS".into()),
            Keyword::Auth => ex
                .sasl
                .as_ref()
                .filter(|x| !caps.has_sasl(&x.mechanism))
                .and(mechanism.as_ref())
                .map(|m| format!("SASL {m}")),
            _ => None,
        };
        let Some(missing) = missing else {
            return;
        };
        let sent = match mechanism {
            Some(m) => format!("AUTH {m}"),
            None => sent(ex),
        };
        let list = "the server's CAPA list";
        self.unadvertised_used(cx, k, ex.client_at(), &sent, &missing, list);
    }

    /// CL-012 for an STLS a proxy refused itself: judged by the list the client was shown
    /// (the proxy's offer, when it decides), after a CAPA, on a leg not yet TLS.
    fn stls_refused_by_proxy(&mut self, cx: &mut Ctx<'_>, at: Location) {
        let s = &*cx.session;
        // The server never saw this STLS, so judge_state never met it: after a login it is
        // CL-002 as any STLS there would be.
        if s.state == State::Transaction && !s.skipped_login {
            if self.first_wrong_state(Keyword::Stls) {
                cx.check.report(&r::CL_002, Severity::Warning, at, "The client sent STLS after it had logged in (the proxy refused it; the server never saw it): STLS is valid only in AUTHORIZATION (RFC 2595 §4), so a server must refuse it (ST-002).".to_owned());
            }
            return;
        }
        if cx.check.client_leg_is_tls(s.security.is_tls()) {
            return;
        }
        let Some(caps) = s.current_caps() else {
            return;
        };
        if cx
            .check
            .client_stls_offer
            .unwrap_or_else(|| caps.has("STLS"))
        {
            return;
        }
        let list = "the CAPA list the proxy showed it";
        self.unadvertised_used(cx, Keyword::Stls, at, "STLS", "STLS", list);
    }

    /// CL-012, once per keyword: `sent` used `missing`, which `list` did not name.
    fn unadvertised_used(
        &mut self,
        cx: &mut Ctx<'_>,
        k: Keyword,
        at: Location,
        sent: &str,
        missing: &str,
        list: &str,
    ) {
        if self.unadvertised.contains(&k) {
            return;
        }
        self.unadvertised.push(k);
        cx.check.report(&r::CL_012, Severity::Info, at, format!(
            "The client sent {sent} though {list} for {} in this security context does not list {missing}: CAPA is advisory, so the server may still implement it, but a client should not count on it (RFC 2449 §5, §6).",
            cx.session.state.name()
        ));
    }

    /// The first time CL-002 meets keyword `k` in this session.
    fn first_wrong_state(&mut self, k: Keyword) -> bool {
        let first = !self.wrong_state.contains(&k);
        if first {
            self.wrong_state.push(k);
        }
        first
    }
}

/// What the client sent, as a message names it: the keyword, never the line. A line that is no
/// known command is not quoted: it may be a SASL response sent before its challenge, a secret.
fn sent(ex: &Exchange) -> String {
    match ex.keyword() {
        Keyword::Other => "a line that is no known command".into(),
        k => k.to_string(),
    }
}

/// A CAPA list of the current security context offers PIPELINING: one taken in AUTHORIZATION
/// covers TRANSACTION too (RFC 2449 §5, §6.6: PIPELINING is announced in both states).
fn pipelining_offered(s: &Session) -> bool {
    [&s.caps.auth, &s.caps.trans]
        .into_iter()
        .flatten()
        .any(|c| c.has("PIPELINING"))
}

#[cfg(test)]
mod tests {
    use crate::Direction;
    use crate::rules::tests::client_findings as findings;

    /// The client findings of this area's rules (the traces are plaintext logins, where
    /// client_tls.rs reports CL-008 too).
    fn client_ids(trace: &str) -> Vec<&'static str> {
        findings(trace)
            .0
            .iter()
            .filter(|f| f.rule.judges_client() && f.rule.id != "CL-008")
            .map(|f| f.rule.id)
            .collect()
    }

    /// The client rules of `trace` through a proxy: the client's own leg TLS from the start
    /// (`leg_tls`), and shown STLS by the proxy when `offer`.
    fn through_a_proxy(trace: &str, leg_tls: bool, offer: bool) -> Vec<&'static str> {
        let config = crate::Config {
            judge_client: true,
            client_leg_tls: Some(leg_tls),
            client_stls_offer: Some(offer),
            ..crate::Config::default()
        };
        crate::rules::tests::findings_with(trace, config)
            .0
            .iter()
            .filter(|f| f.rule.judges_client())
            .map(|f| f.rule.id)
            .collect()
    }

    #[test]
    fn stat_after_the_proxys_tls_with_a_client_certificate_is_cl_003() {
        let stat = |tls: &str| format!("S: +OK ready\n{tls}C: STAT\nS: -ERR log in first\n");
        assert_eq!(
            through_a_proxy(&stat("-- client-tls cert\n"), true, false),
            ["CL-003"]
        );
        // Without a certificate it is the general case.
        assert_eq!(
            through_a_proxy(&stat("-- client-tls\n"), true, false),
            ["CL-002"]
        );
        // After the client's own STLS with a certificate, too.
        let upgraded = stat("-- client-stls 0 cert\n");
        assert_eq!(through_a_proxy(&upgraded, false, true), ["CL-003"]);
        // The server's handshake with a certificate (popscope's own) is not the client's leg.
        let upstream = "S: +OK ready\nC: STLS\nS: +OK\n-- tls\nC: STAT\nS: -ERR\n";
        assert_eq!(through_a_proxy(upstream, false, true), ["CL-002"]);
        // Logging in first is what it should do.
        let login = "S: +OK ready\n-- client-tls cert\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\nC: STAT\nS: +OK 0 0\n";
        assert_eq!(through_a_proxy(login, true, false), Vec::<&str>::new());
    }

    #[test]
    fn an_stls_the_proxy_refused_after_a_capa_without_it_is_cl_012() {
        let capa = "S: +OK ready\nC: CAPA\nS: +OK\nS: USER\nS: .\n";
        let refused = format!("{capa}-- client-stls-refused\n");
        assert_eq!(through_a_proxy(&refused, false, false), ["CL-012"]);
        // Shown STLS (the proxy offers it, and refuses it on purpose): the client did right.
        assert_eq!(through_a_proxy(&refused, false, true), Vec::<&str>::new());
        // Without a CAPA nothing told it either way; on a TLS leg STLS is out of place.
        let no_capa = "S: +OK ready\n-- client-stls-refused\n";
        assert_eq!(through_a_proxy(no_capa, false, false), Vec::<&str>::new());
        assert_eq!(through_a_proxy(&refused, true, false), Vec::<&str>::new());
    }

    #[test]
    fn an_stls_the_proxy_refused_after_the_login_is_cl_002_once() {
        // A TLS client leg: the login in the clear (CL-008) is not what this is about.
        let login = "S: +OK ready\nC: USER a\nS: +OK\nC: PASS b\nS: +OK in\n";
        let once = format!("{login}-- client-stls-refused\n");
        assert_eq!(through_a_proxy(&once, true, true), ["CL-002"]);
        let twice = format!("{once}-- client-stls-refused\n");
        assert_eq!(through_a_proxy(&twice, true, true), ["CL-002"]);
        // The control: the same refusal before the login is no wrong state.
        let before = "S: +OK ready\nC: USER a\nS: +OK\n-- client-stls-refused\n";
        assert_eq!(through_a_proxy(before, true, true), Vec::<&str>::new());
    }

    #[test]
    fn a_command_pipelined_behind_a_refused_login_is_forgiven_one_sent_after_it_is_not() {
        let login =
            "S: +OK ready\nC: CAPA\nS: +OK\nS: USER\nS: PIPELINING\nS: .\nC: USER a\nS: +OK\n";
        let pipelined = format!("{login}C: PASS wrong\nC: STAT\nS: -ERR [AUTH] no\nS: -ERR\n");
        assert_eq!(client_ids(&pipelined), Vec::<&str>::new());
        let after = format!("{login}C: PASS wrong\nS: -ERR [AUTH] no\nC: STAT\nS: -ERR\n");
        assert_eq!(client_ids(&after), ["CL-002"]);
    }

    #[test]
    fn a_pipelined_command_is_judged_in_the_state_the_earlier_replies_left() {
        // Without PIPELINING: CL-005, but not CL-002 (STAT met TRANSACTION) nor CL-004 (PASS
        // met the accepted USER).
        let t = "S: +OK ready\nC: USER a\nC: PASS b\nC: STAT\nS: +OK\nS: +OK in\nS: +OK 0 0\n";
        assert_eq!(client_ids(t), ["CL-005"]);
    }

    /// Only a command behind an STLS still unanswered is the injection's (CL-006): once the
    /// STLS got its reply, commands pipelined without PIPELINING are CL-005 again.
    #[test]
    fn a_command_behind_an_answered_stls_is_plain_pipelining() {
        let capa = "S: +OK\nS: TOP\nS: .\n";
        let refused =
            format!("S: +OK ready\nC: STLS\nS: -ERR not now\nC: CAPA\nC: CAPA\n{capa}{capa}");
        assert_eq!(client_ids(&refused), ["CL-005"]);
        let behind = &format!("S: +OK ready\nC: STLS\nC: CAPA\nS: -ERR not now\n{capa}");
        assert!(
            !client_ids(behind).contains(&"CL-005"),
            "{:?}",
            client_ids(behind)
        );
    }

    #[test]
    fn no_client_finding_quotes_a_secret() {
        // The SASL response sent before its challenge is read as a command line; a password
        // of 300 octets makes the PASS line too long.
        let password = "p".repeat(300);
        let t = format!(
            "S: +OK ready\nC: AUTH PLAIN\nC: AGFsaWNlAHNlY3JldA==\nS: + \nS: -ERR\nC: USER a\nS: +OK\nC: PASS {password}\nS: -ERR\n"
        );
        let (found, _) = findings(&t);
        let client: Vec<_> = found.iter().filter(|f| f.rule.judges_client()).collect();
        let ids: Vec<&str> = client.iter().map(|f| f.rule.id).collect();
        // CL-008 (client_tls.rs): the password went without TLS; it must not quote it either.
        assert_eq!(ids, ["CL-005", "CL-011", "CL-010", "CL-008"]);
        for f in client {
            assert!(
                !f.message.contains("AGFsaWNl") && !f.message.contains("ppp"),
                "{}",
                f.message
            );
        }
    }

    #[test]
    fn client_findings_point_into_the_client_stream() {
        let t = "C: STAT\nS: +OK ready\nS: -ERR\nC: USER a\nS: -ERR\nC: PASS b\nS: -ERR\nC: QUIT\nS: +OK\nC: NOOP\n";
        let (found, _) = findings(t);
        let client: Vec<_> = found.iter().filter(|f| f.rule.judges_client()).collect();
        let ids: Vec<&str> = client.iter().map(|f| f.rule.id).collect();
        assert_eq!(ids, ["CL-001", "CL-002", "CL-004", "CL-008", "CL-014"]);
        assert!(
            client
                .iter()
                .all(|f| f.at.direction == Some(Direction::Client)),
            "{client:?}"
        );
    }
}
