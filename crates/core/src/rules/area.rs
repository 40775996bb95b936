//! The interface between the engine and the rules: the engine calls every [`Area`]'s hooks, in
//! the order of [`super::each_area`], at the moments named below; an area looks, reports through
//! [`Ctx::check`] and keeps what it must remember in its own struct.
//!
//! Every hook has a no-op default, so an area implements only the moments it judges. Findings
//! come out in the order the hooks report them: the order of the area list is part of the
//! output (tests and snapshots compare it).

use crate::event::{Location, Time, TlsFailure};
use crate::exchange::{Body, BodyKind, Completed, Exchange};
use crate::framer::Line;
use crate::response::StatusLine;
use crate::session::Session;

use super::checker::Checker;

/// Which peer an area judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// The server's behaviour (rules.md §3.1-§3.17): every area but the client ones.
    Server,
    /// The client's behaviour (rules.md §3.18, CL-*). Judged after the server's areas for the
    /// same input, and only where the client is not popscope ([`crate::Config::judge_client`],
    /// read through `Checker::judges_client`): a transcript from a file, the proxy, the demo
    /// server's clients. popscope's own sessions break some of these rules on purpose.
    Client,
}

/// What every hook gets: the session so far, where findings go, the time of the input and
/// the last finished exchange.
pub(crate) struct Ctx<'a> {
    /// Findings go here; the engine hands them on in the order they came.
    pub check: &'a mut Checker,
    /// The session as the engine knows it before this input changes it. Hooks that record
    /// what a listing or a capability list says (maildrop entries, capabilities) write here.
    pub session: &'a mut Session,
    /// When the input happened.
    pub now: Time,
    /// The last exchange that was answered completely.
    pub last: Option<Completed>,
}

/// A status line that answered a command (not the greeting, not a SASL challenge).
pub(crate) struct Answer<'a> {
    /// The command answered.
    pub ex: &'a Exchange,
    /// Where the status line starts.
    pub at: Location,
    /// The status line as framed.
    pub line: &'a Line<'a>,
    /// The status line parsed.
    pub status: &'a StatusLine<'a>,
}

/// One data line of a multi-line reply.
pub(crate) struct DataLine<'a> {
    /// Where the line starts.
    pub at: Location,
    /// The line as framed (its octet count and line end).
    pub line: &'a Line<'a>,
    /// The line with dot-stuffing removed.
    pub content: &'a [u8],
}

/// Data lines taken whole from the bytes read ([`crate::framer::plain_lines`]): each ends
/// in CRLF, holds no other CR, no NUL and no octet over 0x7f, does not start with `.` (so
/// nothing was unstuffed) and is within the line cap. No line-level rule (GEN-001 bare
/// LF or CR, ML-002, UTF-003, the cap) can fire on them.
pub(crate) struct PlainLines<'a> {
    /// The exchange whose body they are.
    pub exchange: u32,
    /// The lines as on the wire, back to back, each with its CRLF.
    pub bytes: &'a [u8],
    /// Stream offset of `bytes[0]`.
    pub offset: u64,
    /// Index in `bytes` of each line's LF.
    pub ends: &'a [u32],
}

impl PlainLines<'_> {
    /// How many lines.
    pub fn count(&self) -> u64 {
        self.ends.len() as u64
    }

    /// Each line as the engine would have framed it alone. Nothing in the loop can panic, so
    /// for an area whose `on_body_line` ignores this kind of body it compiles to nothing.
    #[inline(always)]
    pub fn each(&self, mut f: impl FnMut(&DataLine<'_>)) {
        let mut start = 0usize;
        for &end in self.ends {
            let end = end as usize;
            let Some(content) = self.bytes.get(start..end.saturating_sub(1)) else {
                return;
            };
            let offset = self.offset + start as u64;
            let line = Line {
                content,
                ending: crate::framer::Ending::CrLf,
                offset,
                wire_len: content.len() as u64,
            };
            f(&DataLine {
                at: crate::exchange::server_at(self.exchange, offset),
                line: &line,
                content,
            });
            start = end + 1;
        }
    }
}

/// A server line that answers no command, by what came before it. Lines that fit none of
/// these are held until the next event tells what they were ([`Area::on_unsolicited`],
/// [`Area::on_farewell`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unanswered {
    /// After the greeting, before the client's first command.
    BeforeFirstCommand,
    /// After the reply to QUIT.
    AfterQuit,
    /// After the STLS handshake, before the client's first command inside TLS.
    AfterHandshake,
}

/// The server closed the connection.
pub(crate) struct Close<'a> {
    /// Where the server stream ended.
    pub at: Location,
    /// The oldest unanswered command.
    pub outstanding: Option<&'a Exchange>,
    /// The server sent a parting line before closing ([`Area::on_farewell`] judged it).
    pub parted: bool,
    /// Under TLS, the close came with a close_notify alert.
    pub close_notify: bool,
}

/// The client closed the connection (in a watched session: the mail client hung up; in
/// popscope's own: popscope did).
pub(crate) struct ClientClose {
    /// Where the client stream ended.
    pub at: Location,
    /// A line the client began and never ended: where it starts and its octets so far.
    pub unterminated: Option<(Location, u64)>,
}

/// The driver's wait for the server ran out, outside a multi-line reply.
pub(crate) struct Timeout<'a> {
    /// Where the server stream stands.
    pub at: Location,
    /// The oldest unanswered command.
    pub outstanding: Option<&'a Exchange>,
    /// Commands still unanswered.
    pub queued: usize,
}

/// One area of the catalog: the rules of a rules.md section, with the state they need between
/// exchanges. Each hook is called at one moment of the session, on every area in list order;
/// the defaults do nothing.
pub(crate) trait Area: std::fmt::Debug {
    /// Which peer this area judges: the server, unless the area says otherwise (the client
    /// areas of rules.md §3.18 do).
    fn side(&self) -> Side {
        Side::Server
    }

    /// The client sent a command (`ex`), before the server answers it.
    fn on_command(&mut self, _cx: &mut Ctx<'_>, _ex: &Exchange) {}

    /// The server's greeting arrived.
    fn on_greeting(
        &mut self,
        _cx: &mut Ctx<'_>,
        _at: Location,
        _line: &Line<'_>,
        _st: &StatusLine<'_>,
    ) {
    }

    /// A status line answered a command. The session is as it was before the reply changes it.
    fn on_reply(&mut self, _cx: &mut Ctx<'_>, _reply: &Answer<'_>) {}

    /// The engine applied the reply's effect on the state; areas record what the reply said
    /// (maildrop sizes, uids, deletions). No findings here.
    fn after_reply(&mut self, _cx: &mut Ctx<'_>, _ex: &Exchange, _st: &StatusLine<'_>) {}

    /// A multi-line reply starts after `st`: areas that read this kind of body reset what
    /// they keep of one.
    fn on_body_start(&mut self, _cx: &mut Ctx<'_>, _body: &Body, _st: &StatusLine<'_>) {}

    /// A data line of a multi-line reply. Called for every line of every body, so an area
    /// first checks `body.kind` and returns at once for bodies it does not read.
    fn on_body_line(&mut self, _cx: &mut Ctx<'_>, _body: &Body, _line: &DataLine<'_>) {}

    /// Data lines of a RETR or TOP taken in one go because none is unusual ([`PlainLines`]):
    /// the engine has counted them into the body. The default hands each line to
    /// [`on_body_line`](Area::on_body_line), so an area that reads data lines sees every one;
    /// an area overrides this only to do in bulk what it would do for each.
    fn on_plain_lines(&mut self, cx: &mut Ctx<'_>, body: &Body, lines: &PlainLines<'_>) {
        lines.each(|line| self.on_body_line(cx, body, line));
    }

    /// A multi-line reply ended: with its terminator (`complete`), or cut short by a status
    /// line inside a listing or by the close.
    fn on_body_end(&mut self, _cx: &mut Ctx<'_>, _body: &Body, _complete: bool) {}

    /// A data line started with a single `.` (dot-stuffing missing).
    fn on_unstuffed_dot(&mut self, _cx: &mut Ctx<'_>, _at: Location, _content: &[u8]) {}

    /// A server line ended in LF without CR (`in_body`: a data line or the terminator).
    fn on_bare_lf(&mut self, _cx: &mut Ctx<'_>, _at: Location, _in_body: bool) {}

    /// A server line grew past the line cap before its end; `body` is the reply it was in.
    fn on_overflow(&mut self, _cx: &mut Ctx<'_>, _at: Location, _body: Option<BodyKind>) {}

    /// A status-shaped line arrived inside a listing at `offset`; the listing ends there
    /// (incomplete) and the line is read as the next reply.
    fn on_status_in_listing(&mut self, _cx: &mut Ctx<'_>, _body: &Body, _offset: u64) {}

    /// A `.` line arrived where a status line belongs, in exchange `exchange`.
    fn on_stray_terminator(&mut self, _cx: &mut Ctx<'_>, _exchange: u32, _line: &Line<'_>) {}

    /// A server line that answers no command, at a moment that tells what it is.
    fn on_unanswered(
        &mut self,
        _cx: &mut Ctx<'_>,
        _at: Location,
        _line: &Line<'_>,
        _when: Unanswered,
    ) {
    }

    /// `lines` held server lines answered no command and did not end the session.
    fn on_unsolicited(&mut self, _cx: &mut Ctx<'_>, _at: Location, _lines: u32) {}

    /// `lines` held server lines came right before the server closed.
    fn on_farewell(&mut self, _cx: &mut Ctx<'_>, _at: Location, _lines: u32) {}

    /// The client answered a SASL challenge of `ex` with a line starting at `at`; what the
    /// line was is `ex.sasl`'s `last_client`.
    fn on_sasl_response(&mut self, _cx: &mut Ctx<'_>, _ex: &Exchange, _at: Location) {}

    /// A SASL challenge (`+ …`) arrived in the AUTH exchange `ex`.
    fn on_challenge(&mut self, _cx: &mut Ctx<'_>, _ex: &Exchange, _at: Location, _line: &Line<'_>) {
    }

    /// After `+OK` to STLS, the server sent a plaintext line before the handshake (dropped).
    fn on_plaintext_before_handshake(
        &mut self,
        _cx: &mut Ctx<'_>,
        _at: Location,
        _line: &Line<'_>,
    ) {
    }

    /// A proxy answered the client's STLS itself and ran the handshake with the client
    /// ([`crate::TransportEvent::ClientLegStls`]); the server's leg is as it was.
    fn on_client_leg_stls(&mut self, _cx: &mut Ctx<'_>, _at: Location, _stls: &ClientStls) {}

    /// A proxy refused the client's STLS itself ([`crate::TransportEvent::ClientStlsRefused`]):
    /// `at` is where the line stood in the client's stream; the server never saw it.
    fn on_client_stls_refused(&mut self, _cx: &mut Ctx<'_>, _at: Location) {}

    /// A TLS handshake completed where none was agreed (no STLS accepted, no implicit TLS).
    fn on_unexpected_handshake(&mut self, _cx: &mut Ctx<'_>, _at: Location) {}

    /// The TLS handshake failed; also called with [`TlsFailure::PlaintextFromServer`] when a
    /// plaintext greeting arrives where the implicit-TLS handshake belongs.
    fn on_tls_failure(&mut self, _cx: &mut Ctx<'_>, _at: Location, _reason: TlsFailure) {}

    /// The server closed in the middle of a multi-line reply (called before its
    /// [`Area::on_body_end`]).
    fn on_close_in_body(&mut self, _cx: &mut Ctx<'_>, _body: &Body, _at: Location) {}

    /// The server closed the connection.
    fn on_server_close(&mut self, _cx: &mut Ctx<'_>, _close: &Close<'_>) {}

    /// The client closed the connection; the session is as the client left it.
    fn on_client_close(&mut self, _cx: &mut Ctx<'_>, _close: &ClientClose) {}

    /// The wait ran out inside a multi-line reply.
    fn on_timeout_in_body(&mut self, _cx: &mut Ctx<'_>, _body: &Body, _at: Location) {}

    /// The wait ran out outside a multi-line reply.
    fn on_timeout(&mut self, _cx: &mut Ctx<'_>, _timeout: &Timeout<'_>) {}
}

/// The client's STLS as a proxy accepted it ([`crate::TransportEvent::ClientLegStls`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientStls {
    /// Octets the client sent behind its STLS, dropped by the proxy (CL-006).
    pub(crate) dropped_octets: u32,
    /// The handshake with the client completed.
    pub(crate) established: bool,
    /// The client presented a certificate in it (CL-003).
    pub(crate) client_cert: bool,
    /// Reply-shaped lines the proxy sent behind its `+OK` (CL-009).
    pub(crate) injected_replies: u32,
}
