//! Timers and connection closure (rules.md §3.16, TMO-*): what a close or a timeout says about
//! the server, with the GEN-006, GEN-010, ST-006, ST-007, GRT-003 and CAPA-009 cases a close or
//! a silence reveals.

use super::area::{Area, Close, Ctx, Timeout};
use super::catalog as r;
use super::catalog::Severity;
use super::lines::Lines;
use super::states::{named, quoted};
use crate::command::{Keyword, Syntax};
use crate::event::Location;
use crate::response::Status;
use crate::state::State;

/// RFC 1939 §3: an autologout timer is at least 10 minutes. Two seconds of slack for clocks
/// and round trips.
const AUTOLOGOUT_MIN_SECS: f64 = 600.0 - 2.0;
/// Closes quicker than this after the last command are not a timer firing.
const AUTOLOGOUT_MEASURABLE_SECS: f64 = 1.0;
/// RFC 1939 §3's old limit on one argument: longer ones are a plausible reason for a server
/// to choke (GEN-010).
const OLD_ARGUMENT_LIMIT: usize = 40;

/// Closes, parting lines and timeouts. No state: the session has the activity times.
#[derive(Debug, Default)]
pub(crate) struct Closing;

impl Area for Closing {
    /// One unsolicited line right before the server closed is a parting line, not GEN-008. After
    /// an idle spell it is an autologout farewell (TMO-002, warning); right after activity it is a
    /// policy close (e.g. Dovecot's "Too many bad commands"), noted as info. More lines than one
    /// are unsolicited data (GEN-008).
    fn on_farewell(&mut self, cx: &mut Ctx<'_>, at: Location, lines: u32) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        if lines == 1 && matches!(s.state, State::Authorization(_) | State::Transaction) {
            let idle = s
                .last_server_activity
                .saturating_sub(s.last_client_activity)
                .as_secs_f64();
            if idle >= AUTOLOGOUT_MEASURABLE_SECS {
                c.report(&r::TMO_002, Severity::Warning, at,
                    "The server sent an unsolicited line and closed after an idle spell: on autologout a server closes without sending a reply (RFC 1939 §3).");
            } else {
                c.report(
                    &r::TMO_002,
                    Severity::Info,
                    at,
                    "The server sent a parting line and closed the connection.",
                );
            }
        } else {
            Lines.on_unsolicited(cx, at, lines);
        }
    }

    fn on_server_close(&mut self, cx: &mut Ctx<'_>, close: &Close<'_>) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let at = close.at;
        // A command injected behind STLS is one the server must not answer: a close is fine.
        if let Some(ex) = close.outstanding
            && !close.parted
            && !ex.injected
        {
            let long_arg = ex.cmd.args.iter().any(|a| a.len() > OLD_ARGUMENT_LIMIT)
                || ex
                    .cmd
                    .secret
                    .as_ref()
                    .is_some_and(|x| x.len() > OLD_ARGUMENT_LIMIT);
            if matches!(
                ex.cmd.syntax(),
                Syntax::UnknownKeyword | Syntax::ProbeKeyword
            ) {
                c.report(&r::GEN_006, Severity::Warning, at, format!(
                    "The server closed the connection instead of answering the unknown command \"{}\" with -ERR.",
                    quoted(ex, 30)
                ));
            } else if s.any_caps().is_some() && ex.cmd.wire_len <= 255 && long_arg {
                c.report(&r::GEN_010, Severity::Violation, at, format!(
                    "The server closed the connection on a {}-octet command line: a server that implements CAPA accepts lines up to 255 octets (RFC 2449 §4).",
                    ex.cmd.wire_len
                ));
            } else if ex.cmd.wire_len > 255 {
                c.report(&r::GEN_010, Severity::Warning, at, format!(
                    "The server closed the connection on a {}-octet command line (over 255 octets); -ERR is the better answer.",
                    ex.cmd.wire_len
                ));
            } else if cx.last.is_some_and(|l| l.status == Status::Err) {
                // Servers end a session after repeated errors (Dovecot after its third:
                // "-ERR Too many invalid bad commands."): the next command, sent before the
                // close arrived, was likely never read.
                c.report(&r::TMO_003, Severity::Info, at, format!(
                    "The server closed the connection right after refusing the previous command, with {} unanswered: a server may end a session after repeated errors, and then never reads the next command.",
                    named(ex)
                ));
            } else {
                c.report(
                    &r::TMO_003,
                    Severity::Warning,
                    at,
                    format!(
                        "The server closed the connection while {} was still unanswered.",
                        named(ex)
                    ),
                );
            }
            return;
        }
        let failed_login = cx
            .last
            .is_some_and(|l| l.keyword.is_authentication() && l.status == Status::Err);
        if failed_login && s.state.is_authorization() {
            c.report(
                &r::ST_006,
                Severity::Info,
                at,
                "The server closed the connection after a failed login; RFC 1939 §4 allows that.",
            );
            c.report(
                &r::TMO_003,
                Severity::Info,
                at,
                "Closing after -ERR to an authentication command is allowed (RFC 1939 §4).",
            );
            return;
        }
        let idle = cx.now.saturating_sub(s.last_client_activity).as_secs_f64();
        let idle_state = matches!(s.state, State::Authorization(_) | State::Transaction);
        if idle_state && (AUTOLOGOUT_MEASURABLE_SECS..AUTOLOGOUT_MIN_SECS).contains(&idle) {
            c.report(&r::TMO_001, Severity::Violation, at, format!(
                "The server closed an idle session {idle:.0} s after the client's last command: an autologout timer must be at least 10 minutes (RFC 1939 §3)."
            ));
        }
    }

    fn on_timeout(&mut self, cx: &mut Ctx<'_>, t: &Timeout<'_>) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let (at, queued) = (t.at, t.queued);
        if s.greeting.is_none() && matches!(s.state, State::Greeting | State::TlsHandshake) {
            c.report_once(&r::GRT_003, Severity::Info, at, || {
                "No greeting arrived within the timeout: a server sends its greeting as soon as the connection is up.".into()
            });
            return;
        }
        if cx.last.is_some_and(|l| l.keyword == Keyword::Quit)
            && matches!(s.state, State::Update | State::Closed)
        {
            c.report_once(&r::ST_007, Severity::Warning, at, || {
                "After its QUIT reply the server keeps the connection open: it should close it."
                    .into()
            });
            return;
        }
        if let Some(ex) = t.outstanding
            && ex.pipelined
            && queued > 0
            && s.advertises("PIPELINING") == Some(true)
        {
            c.report_once(&r::CAPA_009, Severity::Violation, at, || {
                format!("The server advertises PIPELINING but left {queued} pipelined command(s) unanswered: pipelined commands are processed one by one, in order (RFC 2449 §6.6).")
            });
        }
    }
}
