//! Multi-line replies and dot-stuffing (rules.md §3.8): ML-001..ML-005, and LANG-004 for a
//! language list that never came.

use super::area::{Area, Ctx};
use super::catalog as r;
use super::catalog::Severity;
use crate::event::Location;
use crate::exchange::{Body, BodyKind, server_at};
use crate::framer::Line;
use crate::plural;
use crate::sanitize::display;

/// How multi-line replies begin and end. No state: the engine keeps the body in progress.
#[derive(Debug, Default)]
pub(crate) struct Framing;

impl Area for Framing {
    /// ML-003: a `.` line where a status line belongs.
    fn on_stray_terminator(&mut self, cx: &mut Ctx<'_>, exchange: u32, line: &Line<'_>) {
        let at = server_at(exchange, line.offset);
        let msg = match cx.last {
            Some(l) if !l.multiline && l.id > 0 => format!(
                "The single-line reply to {} was followed by data ending in a '.' line: every -ERR, and +OK to STAT, LIST n, UIDL n, DELE, NOOP, RSET and the login commands, is one line (RFC 1939 §3).",
                l.keyword
            ),
            _ => "A '.' line arrived where a status line belongs: a single-line reply carried data, or a listing was terminated twice.".to_owned(),
        };
        cx.check.report(&r::ML_003, Severity::Violation, at, msg);
    }

    /// A status line inside a listing: the listing never came (ML-004) or never ended (ML-001).
    fn on_status_in_listing(&mut self, cx: &mut Ctx<'_>, body: &Body, offset: u64) {
        let c = &mut *cx.check;
        let at = server_at(body.ex.id, offset);
        let k = body.ex.keyword();
        if body.lines == 0 && body.kind == BodyKind::Lang {
            c.report(&r::LANG_004, Severity::Warning, at,
                "LANG without argument was answered +OK with no language list; a positive reply is usually a list ending in '.' (RFC 6856 §3.2).");
        } else if body.lines == 0 {
            c.report(&r::ML_004, Severity::Violation, at, format!(
                "+OK to {k} was not followed by a listing: the next line is a status line. +OK to {k} is multi-line and ends with '.'; a client waiting for the '.' hangs."
            ));
        } else {
            c.report(&r::ML_001, Severity::Violation, at, format!(
                "A status line appeared inside the {k} listing after {} line(s): the listing never got its terminating '.'.",
                body.lines
            ));
        }
    }

    /// ML-002: a data line starting with a single `.`.
    fn on_unstuffed_dot(&mut self, cx: &mut Ctx<'_>, at: Location, content: &[u8]) {
        cx.check.report_once_per_exchange(&r::ML_002, Severity::Violation, at, || {
            format!(
                "The data line \"{}\" starts with a single '.': lines starting with '.' are sent with one more '.' (dot-stuffing, RFC 1939 §3). A message line that is just '.' ends the reply early.",
                display(content, 40)
            )
        });
    }

    /// ML-001: the close cut a multi-line reply short.
    fn on_close_in_body(&mut self, cx: &mut Ctx<'_>, body: &Body, at: Location) {
        cx.check.report(&r::ML_001, Severity::Violation, at, format!(
            "The connection closed in the middle of the {} reply ({}, no terminating '.'): a multi-line reply ends with a line holding only '.'.",
            body.ex.keyword(),
            plural(body.lines, "line")
        ));
    }

    /// LANG-004, ML-004 or ML-001: the wait ran out inside a multi-line reply.
    fn on_timeout_in_body(&mut self, cx: &mut Ctx<'_>, body: &Body, at: Location) {
        let c = &mut *cx.check;
        let k = body.ex.keyword();
        if body.lines == 0 && body.kind == BodyKind::Lang {
            c.report_once_per_exchange(&r::LANG_004, Severity::Warning, at, || {
                "LANG without argument was answered +OK and no language list followed before the timeout.".into()
            });
        } else if body.lines == 0 && body.kind.is_listing() {
            c.report_once_per_exchange(&r::ML_004, Severity::Warning, at, || {
                format!("+OK to {k} and then nothing before the timeout: the reply looks single-line, but +OK to {k} is multi-line.")
            });
        } else {
            c.report_once_per_exchange(&r::ML_001, Severity::Warning, at, || {
                format!(
                    "The {k} reply had not ended when the wait ran out ({} so far, no '.'): the server went quiet, or kept sending without ending it.",
                    plural(body.lines, "line")
                )
            });
        }
    }

    fn on_body_end(&mut self, cx: &mut Ctx<'_>, body: &Body, complete: bool) {
        // A language list is judged empty even when a status line cut it short (LANG-004
        // came first).
        let judged = match body.kind {
            BodyKind::List | BodyKind::Uidl => complete,
            BodyKind::Lang => true,
            _ => false,
        };
        if !judged || body.lines != 0 {
            return;
        }
        // ML-005: an empty listing.
        let at = server_at(body.ex.id, body.reply_offset);
        cx.check.report_once(&r::ML_005, Severity::Info, at, || {
            format!(
                "The {} listing is empty: +OK followed directly by '.', the correct form.",
                body.ex.keyword()
            )
        });
    }
}
