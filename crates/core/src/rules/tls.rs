//! STLS (rules.md §3.13, RFC 2595) and implicit TLS (§3.14, RFC 8314), with GRT-007.

use super::area::{Answer, Area, Close, Ctx, Unanswered};
use super::catalog as r;
use super::catalog::Severity;
use crate::command::Keyword;
use crate::event::{Location, TlsFailure};
use crate::exchange::Exchange;
use crate::framer::Line;
use crate::response::Status;
use crate::sanitize::display;
use crate::state::{AuthStep, Security, State};

/// STLS and implicit TLS (TLS-*, ITLS-001, ITLS-006, GRT-007), with the STLS half of CAPA-001.
#[derive(Debug, Default)]
pub(crate) struct Tls {
    /// STLS was answered +OK in this session.
    stls_worked: bool,
    /// CAPA-001: where CAPA was refused before STLS worked; a violation once it does.
    capa_refused: Option<Location>,
}

impl Area for Tls {
    fn on_command(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        // TLS-007's client note (a password in plaintext after STLS was refused) is CL-008's
        // warning: the client_tls area reports it.
        let k = ex.keyword();
        if k == Keyword::Stls && s.utf8_mode {
            c.report(&r::TLS_008, Severity::Info, ex.client_at(),
                "The client sends STLS after UTF8 succeeded; RFC 6856 §2.1 forbids it, so the server may refuse it.");
        }
    }

    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let (ex, at, st) = (reply.ex, reply.at, reply.status);
        // The capa area reports the refusal itself; this one remembers it for a later STLS.
        if ex.keyword() == Keyword::Capa && st.status == Status::Err && !self.stls_worked {
            self.capa_refused = Some(at);
        }
        if ex.injected && s.security == Security::Stls {
            c.report_once_per_exchange(&r::TLS_004, Severity::Violation, at, || {
                format!(
                    "After the TLS handshake the server answered {}, which the client had sent in plaintext right behind STLS: the server executed injected plaintext (STARTTLS command injection, CVE-2011-0411 class). Octets after STLS's CRLF belong to the TLS handshake (RFC 2595 §4).",
                    ex.keyword()
                )
            });
        }
        if ex.keyword() != Keyword::Stls {
            return;
        }
        let ok = st.status == Status::Ok;
        if ok {
            self.stls_worked = true;
            if s.state == State::Transaction && !s.skipped_login {
                c.report(&r::TLS_001, Severity::Violation, at,
                    "STLS was accepted in TRANSACTION: STLS is valid only in AUTHORIZATION (RFC 2595 §4).");
            }
            if s.security.is_tls() {
                c.report(&r::TLS_006, Severity::Info, at,
                    "STLS was accepted although TLS is already active; -ERR is the expected answer (RFC 2595 §4).");
            }
            if let Some(capa_at) = self.capa_refused {
                c.report(&r::CAPA_001, Severity::Violation, capa_at,
                    "The server implements STLS but refused CAPA: a server that implements STLS must implement CAPA (RFC 2595 §4).");
                self.capa_refused = None;
            }
            if !s.security.is_tls() && s.advertises("STLS") == Some(false) {
                c.report(&r::TLS_002, Severity::Warning, at,
                    "STLS works but the server's CAPA does not list it: clients that look for STLS will stay in plaintext.");
            }
        } else if !s.security.is_tls()
            && s.state.is_authorization()
            && s.advertises("STLS") == Some(true)
        {
            c.report(&r::TLS_002, Severity::Warning, at, format!(
                "STLS is advertised but was refused (\"{}\"): a server should not advertise STLS when it is likely to fail (RFC 8314 §4).",
                display(st.full_text, 60)
            ));
        }
    }

    /// TLS-003: plaintext octets after the STLS +OK, before the handshake. They are dropped.
    fn on_plaintext_before_handshake(&mut self, cx: &mut Ctx<'_>, at: Location, line: &Line<'_>) {
        cx.check.report_once_per_exchange(&r::TLS_003, Severity::Violation, at, || {
            format!(
                "After its +OK to STLS the server sent plaintext (\"{}\") before the TLS handshake: the handshake begins right after that CRLF (RFC 2595 §4). popscope drops these octets; a client that keeps them can be fed forged responses (response injection).",
                display(line.content, 60)
            )
        });
    }

    fn on_unanswered(&mut self, cx: &mut Ctx<'_>, at: Location, line: &Line<'_>, when: Unanswered) {
        if when != Unanswered::AfterHandshake {
            return;
        }
        // GRT-007: server data after the STLS handshake before any command inside TLS.
        cx.check.report_once_per_exchange(&r::GRT_007, Severity::Violation, at, || {
            format!(
                "After the STLS handshake the server sent \"{}\" before the client said anything: no new greeting follows STLS; the next server data is the reply to the client's next command.",
                display(line.content, 60)
            )
        });
    }

    /// TLS-007: a handshake where none was agreed (STLS was refused or never accepted).
    fn on_unexpected_handshake(&mut self, cx: &mut Ctx<'_>, at: Location) {
        let why = if cx.session.stls_refused {
            "STLS was answered -ERR, so no handshake follows and the session continues in plaintext (RFC 2595 §4)"
        } else {
            "no STLS was accepted"
        };
        cx.check.report(
            &r::TLS_007,
            Severity::Violation,
            at,
            format!("A TLS handshake started although {why}."),
        );
    }

    fn on_tls_failure(&mut self, cx: &mut Ctx<'_>, at: Location, reason: TlsFailure) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        match reason {
            TlsFailure::PlaintextFromServer => {
                // ITLS-001: a plaintext line where the implicit-TLS handshake should be.
                c.report_once(&r::ITLS_001, Severity::Violation, at, || {
                    "The server sent plaintext where the TLS handshake should start: this port speaks plain POP3 (use pop3:// or --starttls), or the server is misconfigured (RFC 8314 §3.1).".into()
                })
            }
            TlsFailure::ServerAlert => {
                let advertised = s
                    .caps
                    .auth
                    .as_ref()
                    .or(s.caps.pre_tls.as_ref())
                    .is_some_and(|caps| caps.has("STLS"));
                if s.state == State::Authorization(AuthStep::StlsHandshake) && advertised {
                    c.report(&r::TLS_002, Severity::Warning, at,
                        "STLS is advertised but the server aborted the TLS handshake: it should not advertise STLS when it is likely to fail (RFC 8314 §4).");
                }
            }
            TlsFailure::ClientAborted => {}
        }
    }

    /// ITLS-006: under TLS, the server closed without close_notify.
    fn on_server_close(&mut self, cx: &mut Ctx<'_>, close: &Close<'_>) {
        if cx.session.security.is_tls() && !close.close_notify {
            cx.check.report(&r::ITLS_006, Severity::Warning, close.at,
                "The server closed the TCP connection without a TLS close_notify alert: a truncation attack looks the same (RFC 8314 §3.4).");
        }
    }
}
