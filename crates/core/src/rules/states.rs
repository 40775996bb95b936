//! State rules (rules.md §3.3 ST-*), command validity (GEN-006, GEN-009, GEN-010), USER and
//! APOP (USR-*, APOP-001). What a close or a timeout says is judged in `closing`.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use super::area::{Answer, Area, Ctx, Unanswered};
use super::catalog as r;
use super::catalog::Severity;
use super::checker::{contains_any, text_says_unknown_command};
use crate::command::{Keyword, Syntax};
use crate::event::Location;
use crate::exchange::Exchange;
use crate::framer::Line;
use crate::redact;
use crate::response::{Status, StatusLine};
use crate::sanitize::display;
use crate::state::{AuthStep, Security, State};

/// GEN-009 remembers at least the last this many distinct commands, and at most twice as many
/// (16 octets each).
const MAX_CASES: usize = 4096;

/// GEN-009: a lower-case form of the command was refused.
const LOWER_REFUSED: u8 = 1;
/// GEN-009: an upper-case form of the command was accepted.
const UPPER_ACCEPTED: u8 = 2;

/// The state rules, and what they remember between exchanges. Bounded: GEN-009 remembers at
/// most 2 × [`MAX_CASES`] commands.
#[derive(Debug, Default)]
pub(crate) struct States {
    /// GEN-009: what the replies to a command said of its letter case ([`LOWER_REFUSED`],
    /// [`UPPER_ACCEPTED`]), keyed by a hash of (keyword, arguments, in TRANSACTION). A hash,
    /// not the command: a session of a million TOPs would otherwise keep a million argument
    /// lists. Two commands share a key once in 2^64, and no client can pick two that do: the
    /// hash is keyed by [`States::case_key`] (a proxied client is a third party).
    case_results: HashMap<u64, u8>,
    /// GEN-009: the commands remembered before `case_results` last filled up: a lookup moves
    /// a command back, so the recent ones survive the next swap.
    case_older: HashMap<u64, u8>,
    /// GEN-009: the secret key of `case_results`' hash, this engine's own.
    case_key: RandomState,
    /// ST-003: USER succeeded in the current attempt.
    user_ok: bool,
    /// ST-003: the first command other than PASS after a successful USER.
    after_user: Option<Keyword>,
    /// ST-005: a TRANSACTION command was refused after a login.
    trans_refused_after_login: bool,
}

impl Area for States {
    fn on_command(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        if s.greeting.is_none() && matches!(s.state, State::Greeting | State::TlsHandshake) {
            c.report(
                &r::GRT_003,
                Severity::Info,
                ex.client_at(),
                "The client spoke before the server's greeting; a client waits for the greeting.",
            );
        }
        if ex.pipelined && s.advertises("PIPELINING") == Some(false) {
            c.report_once(&r::CAPA_009, Severity::Info, ex.client_at(), || {
                "The client pipelines commands but the server did not advertise PIPELINING: the server's behaviour is undefined.".into()
            });
        }
    }

    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let (ex, at, st) = (reply.ex, reply.at, reply.status);
        let k = ex.keyword();
        let ok = st.status == Status::Ok;
        let state = cx.session.state;
        let in_auth = state.is_authorization();

        if matches!(ex.state_at_send, State::Update | State::Closed) {
            cx.check.report_once_per_exchange(&r::ST_007, Severity::Warning, at, || {
                format!("The server answered {} sent after its QUIT reply: after QUIT it closes the connection.", named(ex))
            });
        }

        // Skipping AUTHORIZATION: the seeds' case.
        if k.is_transaction_only() && in_auth && ok {
            skipped_authorization(cx, reply);
        }
        if in_auth
            && !ok
            && matches!(
                k,
                Keyword::User | Keyword::Pass | Keyword::Apop | Keyword::Auth
            )
        {
            already_authenticated_text(cx, reply);
        }

        // ST-002: login commands in TRANSACTION.
        if state == State::Transaction
            && !cx.session.skipped_login
            && ok
            && matches!(k, Keyword::User | Keyword::Pass | Keyword::Apop)
        {
            cx.check.report(&r::ST_002, Severity::Violation, at, format!(
                "{k} was answered +OK in TRANSACTION: after a login, USER, PASS and APOP get -ERR (RFC 1939 §3)."
            ));
            if self.trans_refused_after_login {
                cx.check.report_once(&r::ST_005, Severity::Violation, at, || {
                    "After its login +OK the server refused TRANSACTION commands and then accepted a login command: it did not enter TRANSACTION as RFC 1939 §4 requires.".into()
                });
            }
        }
        if state == State::Transaction
            && cx.session.logged_in_by.is_some()
            && k.is_transaction_only()
            && !ok
        {
            self.trans_refused_after_login = true;
            if contains_any(
                st.text,
                &[
                    "not authenticated",
                    "not logged in",
                    "login first",
                    "log in first",
                    "authenticate first",
                ],
            ) {
                cx.check.suspect(&r::ST_005, at, format!(
                    "{k} after a successful login got \"-ERR {}\": the text suggests the server does not consider the session logged in (suspected: only +OK/-ERR is significant).",
                    display(st.text, 60)
                ));
            }
        }

        self.user_pass_sequence(cx, reply);

        if k == Keyword::Quit && in_auth && !ok {
            cx.check.report(&r::ST_007, Severity::Violation, at,
                "QUIT in AUTHORIZATION was answered -ERR: it must be +OK, then the server closes (RFC 1939 §4).");
        }

        if ok && line_is_bare(st) && !ex.cmd.expects_multiline() {
            cx.check.report_once(&r::GEN_003, Severity::Info, at, || {
                format!("{} was answered with a bare +OK and no text: legal, but RFC 1957 reports old clients that expected a space and text.", named(ex))
            });
        }
        syntax(cx, reply);
        self.keyword_case(cx, reply);

        if !ok
            && ex.cmd.wire_len <= 255
            && cx.session.any_caps().is_some()
            && contains_any(st.text, &["too long", "line length", "exceeds"])
        {
            cx.check.suspect(&r::GEN_010, at, format!(
                "A {}-octet command line got \"-ERR {}\": a server that implements CAPA accepts lines up to 255 octets (suspected: only the text says so).",
                ex.cmd.wire_len, display(st.text, 60)
            ));
        }

        match k {
            Keyword::User if !ok => {
                if cx.session.advertises("USER") == Some(true) && text_says_unknown_command(st.text)
                {
                    cx.check.report(
                        &r::USR_001,
                        Severity::Warning,
                        at,
                        "USER is advertised in CAPA but was answered like an unknown command.",
                    );
                }
                let other_reason = st.code.as_ref().is_some_and(|code| {
                    code.is("SYS") || code.is("LOGIN-DELAY") || code.is("IN-USE")
                });
                if !other_reason && state == State::Authorization(AuthStep::Idle) {
                    cx.check.report_once(&r::USR_003, Severity::Info, at, || {
                        "USER was refused: if the server answers USER differently for unknown names, it reveals which accounts exist (RFC 1939 §13).".into()
                    });
                }
            }
            Keyword::Apop if ok && cx.session.apop_timestamp.is_none() => {
                cx.check.report(&r::APOP_001, Severity::Warning, at,
                    "APOP was accepted although the greeting carried no timestamp: no digest could have been checked.");
            }
            _ => {}
        }
    }

    fn on_unanswered(&mut self, cx: &mut Ctx<'_>, at: Location, line: &Line<'_>, when: Unanswered) {
        if when != Unanswered::AfterQuit {
            return;
        }
        // ST-007: server data after its QUIT reply.
        cx.check.report_once_per_exchange(&r::ST_007, Severity::Violation, at, || {
            format!(
                "After its QUIT reply the server sent \"{}\": after QUIT it sends nothing more and closes.",
                display(line.content, 60)
            )
        });
    }
}

impl States {
    /// ST-003 and ST-004: PASS right after USER, and only PASS or QUIT after USER.
    fn user_pass_sequence(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let c = &mut *cx.check;
        let state = cx.session.state;
        let (ex, at) = (reply.ex, reply.at);
        let ok = reply.status.status == Status::Ok;
        let k = ex.keyword();
        if !state.is_authorization() {
            return;
        }
        let user_ok_step = state == State::Authorization(AuthStep::UserOk);
        if user_ok_step && !matches!(k, Keyword::Pass | Keyword::Quit) {
            self.after_user.get_or_insert(k);
            if ok {
                let severity = if matches!(k, Keyword::User | Keyword::Apop) {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                c.report(&r::ST_004, severity, at, format!(
                        "{} was accepted right after USER +OK: after a successful USER the client may send only PASS or QUIT (RFC 1939 §7).",
                        named(ex)
                    ));
            }
        }
        if k == Keyword::Pass && ok && !user_ok_step {
            match (self.user_ok, self.after_user) {
                    (true, Some(between)) => {
                        let severity = if matches!(between, Keyword::User | Keyword::Apop) { Severity::Warning } else { Severity::Info };
                        c.report(&r::ST_003, severity, at, format!(
                            "PASS was accepted although {between} came between USER and PASS: PASS is valid only immediately after a successful USER (RFC 1939 §7)."
                        ));
                    }
                    _ => c.report(&r::ST_003, Severity::Violation, at,
                        "PASS was accepted with no successful USER before it: the server authenticated without a user name (RFC 1939 §7)."),
                }
        }
        match k {
            Keyword::User if ok => {
                self.user_ok = true;
                self.after_user = None;
            }
            Keyword::User | Keyword::Pass | Keyword::Apop | Keyword::Auth if !ok => {
                self.user_ok = false;
                self.after_user = None;
            }
            Keyword::Pass | Keyword::Apop | Keyword::Auth => self.user_ok = false,
            _ => {}
        }
    }

    /// GEN-009: a keyword in lower case is refused while the upper-case form is accepted.
    fn keyword_case(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let c = &mut *cx.check;
        let (ex, at) = (reply.ex, reply.at);
        let status = reply.status.status;
        let in_trans = cx.session.state == State::Transaction;
        let k = ex.keyword();
        let comparable = matches!(
            k,
            Keyword::Stat
                | Keyword::List
                | Keyword::Uidl
                | Keyword::Noop
                | Keyword::Capa
                | Keyword::Retr
                | Keyword::Top
                | Keyword::Lang
        );
        if !comparable || status == Status::Invalid {
            return;
        }
        let key = self.case_key.hash_one((k, &ex.cmd.args, in_trans));
        // The latest reply to each form counts: a lower-case form accepted later clears its
        // refusal, as an upper-case form refused later clears its acceptance.
        let (bit, set) = if ex.cmd.verb_is_lowercase() {
            (LOWER_REFUSED, status == Status::Err)
        } else {
            (UPPER_ACCEPTED, status == Status::Ok)
        };
        let mut seen = self
            .case_results
            .get(&key)
            .copied()
            .or_else(|| self.case_older.remove(&key))
            .unwrap_or(0);
        if set {
            seen |= bit;
        } else {
            seen &= !bit;
        }
        if seen == 0 || seen == LOWER_REFUSED | UPPER_ACCEPTED {
            self.case_results.remove(&key);
        } else {
            self.case_results.insert(key, seen);
            if self.case_results.len() >= MAX_CASES {
                self.case_older = std::mem::take(&mut self.case_results);
            }
        }
        if seen == LOWER_REFUSED | UPPER_ACCEPTED {
            c.report(&r::GEN_009, Severity::Violation, at, format!(
                    "{k} works in upper case but was refused in lower case: command keywords are case-insensitive (RFC 1939 §3)."
                ));
        }
    }
}

/// How a message names the command of `ex`: its keyword, or, when no keyword could be read
/// (` PASS x`, `PASS\tx`, a made-up verb), the line as sent, quoted, with any secret masked
/// where a lenient server would read one ([`redact::shown`]): a finding never quotes a
/// password, a digest or SASL data.
pub(crate) fn named(ex: &Exchange) -> String {
    match ex.keyword() {
        Keyword::Other => format!("\"{}\"", quoted(ex, 60)),
        k => k.to_string(),
    }
}

/// The command line of `ex` as a message may quote it: secrets masked, then sanitized.
pub(crate) fn quoted(ex: &Exchange, max: usize) -> String {
    display(&redact::shown(&ex.cmd), max)
}

fn line_is_bare(st: &StatusLine<'_>) -> bool {
    st.indicator_exact && st.full_text.is_empty() && st.code.is_none()
}

/// ST-001 with the more specific ST-006, ST-009 and ST-010 named first.
fn skipped_authorization(cx: &mut Ctx<'_>, reply: &Answer<'_>) {
    let (c, s) = (&mut *cx.check, &*cx.session);
    let (ex, at) = (reply.ex, reply.at);
    let k = ex.keyword();
    let cert = if s.client_cert {
        " The client presented a certificate; that does not log it in: SASL EXTERNAL (AUTH EXTERNAL) is the standard way to use a client certificate (RFC 8314 §4.2)."
    } else {
        ""
    };
    match s.security {
        Security::ImplicitTls => c.report_once(&r::ST_009, Severity::Violation, at, || {
            format!("After the implicit-TLS handshake the server behaves as already logged in ({k} got +OK with no login): RFC 8314 §3.1 and RFC 1939 §3 say the session starts in AUTHORIZATION even if a client certificate was supplied.{cert}")
        }),
        Security::Stls => c.report_once(&r::ST_010, Severity::Violation, at, || {
            format!("After the STLS handshake the server behaves as already logged in ({k} got +OK with no login): RFC 2595 §4 and RFC 1939 §3 say the session stays in AUTHORIZATION after STLS, even with a client certificate.{cert}")
        }),
        Security::Plain => {}
    }
    if s.auth_failed {
        c.report(&r::ST_006, Severity::Violation, at, format!(
            "{k} got +OK after a failed login: after -ERR to an authentication command the session stays in AUTHORIZATION (RFC 1939 §4)."
        ));
    }
    c.report(&r::ST_001, Severity::Violation, at, format!(
        "{k} was answered +OK before any login: in AUTHORIZATION the server must answer TRANSACTION commands with -ERR (RFC 1939 §3, §5)."
    ));
}

/// ST-009/ST-010, suspected: a login command refused with text saying the session is already
/// authenticated. Confirmed only if a TRANSACTION command then succeeds.
fn already_authenticated_text(cx: &mut Ctx<'_>, reply: &Answer<'_>) {
    let (c, s) = (&mut *cx.check, &*cx.session);
    let (ex, at, st) = (reply.ex, reply.at, reply.status);
    let rule = match s.security {
        Security::ImplicitTls => &r::ST_009,
        Security::Stls => &r::ST_010,
        Security::Plain => return,
    };
    if contains_any(
        st.text,
        &[
            "already authenticated",
            "already logged",
            "wrong state",
            "already in transaction",
            "not in authorization",
            "already authorized",
        ],
    ) {
        c.suspect(rule, at, format!(
            "{} after the TLS handshake got \"-ERR {}\": the text suggests the server skipped AUTHORIZATION (suspected until a TRANSACTION command succeeds without login; try STAT).",
            ex.keyword(),
            display(st.text, 60)
        ));
    }
}

/// GEN-006: unknown or malformed commands get -ERR.
fn syntax(cx: &mut Ctx<'_>, reply: &Answer<'_>) {
    let c = &mut *cx.check;
    let (ex, at) = (reply.ex, reply.at);
    let ok = reply.status.status == Status::Ok;
    if !ok {
        return;
    }
    let shown = quoted(ex, 60);
    match ex.cmd.syntax() {
        Syntax::ProbeKeyword if c.active_probes => c.report(&r::GEN_006, Severity::Violation, at, format!(
            "The made-up command \"{shown}\" was answered +OK: unknown commands get -ERR (RFC 1939 §3)."
        )),
        // Seen passively, popscope cannot tell its probe from a command the client meant:
        // any unknown keyword answered +OK is a warning (rules.md GEN-006).
        Syntax::ProbeKeyword |
        Syntax::UnknownKeyword => c.report(&r::GEN_006, Severity::Warning, at, format!(
            "The unknown command \"{shown}\" was answered +OK: unknown commands get -ERR unless the server implements them as an extension."
        )),
        Syntax::MissingArgument | Syntax::MalformedArgument => c.report(&r::GEN_006, Severity::Violation, at, format!(
            "\"{shown}\" has missing or malformed arguments but was answered +OK: syntactically invalid commands get -ERR (RFC 1939 §3)."
        )),
        Syntax::ExtraArgument => c.report(&r::GEN_006, Severity::Warning, at, format!(
            "\"{shown}\" carries arguments the command does not take, and was answered +OK; strictly it gets -ERR."
        )),
        Syntax::Fine | Syntax::BadMessageNumber | Syntax::BadLineCount => {}
    }
}

#[cfg(test)]
mod tests {
    use super::MAX_CASES;
    use crate::rules::tests::{LOGIN, findings};

    fn gen_009(trace: &str) -> usize {
        findings(trace)
            .0
            .iter()
            .filter(|f| f.rule.id == "GEN-009")
            .count()
    }

    /// An upper-case TOP of message `i`, accepted.
    fn top(i: usize) -> String {
        format!("C: TOP {i} 0\nS: +OK\nS: Subject: {i}\nS: \nS: .\n")
    }

    /// `n` upper-case TOPs of distinct messages, each accepted, after a login.
    fn tops(n: usize) -> String {
        LOGIN.to_owned() + &(1..=n).map(top).collect::<String>()
    }

    #[test]
    fn the_recent_commands_are_remembered() {
        let n = 2 * MAX_CASES + 1;
        for (msg, fires) in [(n, 1), (n - MAX_CASES + 1, 1), (1, 0)] {
            let mut t = tops(n);
            t.push_str(&format!("C: top {msg} 0\nS: -ERR no\n"));
            assert_eq!(gen_009(&t), fires, "top {msg} of {n}");
        }
    }

    #[test]
    fn a_command_used_again_is_kept_across_the_swap() {
        let mut t = tops(MAX_CASES) + &top(1);
        t.extend((MAX_CASES + 1..2 * MAX_CASES).map(top));
        t.push_str("C: top 1 0\nS: -ERR no\n");
        assert_eq!(gen_009(&t), 1);
    }

    /// Two commands whose unkeyed hashes (`DefaultHasher::new()`, SipHash with zero keys)
    /// collide, found by a birthday search: a conformant server that refuses the second (there
    /// is no message 0) was blamed for GEN-009 while the key was public.
    #[test]
    fn a_client_cannot_pick_two_commands_that_share_a_key() {
        let t = LOGIN.to_owned()
            + "C: TOP 1 9086982423546482901\nS: +OK\nS: Subject: x\nS: \nS: body\nS: .\n\
               C: top 0 3485542592763889548\nS: -ERR no such message\n";
        assert_eq!(gen_009(&t), 0);
    }

    #[test]
    fn the_arguments_are_part_of_the_command() {
        let mut t = tops(2);
        t.push_str("C: top 3 0\nS: -ERR no such message\n");
        assert_eq!(gen_009(&t), 0);
    }
}
