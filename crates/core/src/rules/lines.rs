//! Line syntax and general response rules (rules.md §3.1: GEN-001..GEN-005, GEN-008).

use super::area::{Answer, Area, Ctx};
use super::catalog as r;
use super::catalog::Severity;
use crate::command::Keyword;
use crate::event::Location;
use crate::exchange::BodyKind;
use crate::framer::{Ending, Line};
use crate::response::{Status, StatusLine};
use crate::sanitize::display;

/// RFC 1939 §3: a response's first line is at most 512 octets including CRLF.
pub(crate) const MAX_STATUS_LINE: u64 = 512;

/// GEN-001..GEN-005 and GEN-008: how every server line is written. No state.
#[derive(Debug, Default)]
pub(crate) struct Lines;

impl Area for Lines {
    fn on_greeting(
        &mut self,
        cx: &mut Ctx<'_>,
        at: Location,
        line: &Line<'_>,
        st: &StatusLine<'_>,
    ) {
        self.status_line(cx, at, line, st, false);
    }

    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let ex = reply.ex;
        let new_language = ex.keyword() == Keyword::Lang
            && ex.cmd.arg_count() > 0
            && reply.status.status == Status::Ok;
        self.status_line(cx, reply.at, reply.line, reply.status, new_language);
    }

    /// GEN-001 for a line ending in a bare LF (also called by `sasl` for a challenge).
    fn on_bare_lf(&mut self, cx: &mut Ctx<'_>, at: Location, in_body: bool) {
        let msg = || {
            format!(
                "A {} ends in a bare LF; every line of a POP3 response ends in CRLF.",
                if in_body { "data line" } else { "status line" }
            )
        };
        // Once per session: a server that ends lines in bare LF does it everywhere.
        cx.check
            .report_once(&r::GEN_001, Severity::Violation, at, msg);
    }

    /// A line grew past popscope's cap before its line end.
    fn on_overflow(&mut self, cx: &mut Ctx<'_>, at: Location, body: Option<BodyKind>) {
        let c = &mut *cx.check;
        match body {
            None => c.report(&r::GEN_004, Severity::Violation, at,
                "A status line runs on past popscope's line cap without a line end (the limit is 512 octets); popscope keeps its start and counts the rest."),
            Some(BodyKind::Capa) => c.report(&r::CAPA_002, Severity::Violation, at,
                "A CAPA line runs on past popscope's line cap without a line end (the limit is 512 octets)."),
            Some(_) => c.report_once_per_exchange(&r::GEN_001, Severity::Warning, at, || {
                "A data line runs on past popscope's line cap without CRLF; popscope keeps its start, counts the rest and keeps going.".into()
            }),
        }
    }

    /// GEN-008: server lines that answer no command (also called by `closing` when more than
    /// one line came before the close).
    fn on_unsolicited(&mut self, cx: &mut Ctx<'_>, at: Location, lines: u32) {
        cx.check.report_once_per_exchange(&r::GEN_008, Severity::Violation, at, || {
            format!(
                "The server sent {lines} line{} that answer{} no command: after each command comes exactly one response, and nothing unsolicited.",
                if lines == 1 { "" } else { "s" },
                if lines == 1 { "s" } else { "" }
            )
        });
    }
}

impl Lines {
    /// Checks every status line: greeting, replies, final SASL replies. `new_language` is set
    /// for the `+OK` to `LANG range`, whose text is already in the new language (RFC 6856 §3.3).
    fn status_line(
        &mut self,
        cx: &mut Ctx<'_>,
        at: Location,
        line: &Line<'_>,
        st: &StatusLine<'_>,
        new_language: bool,
    ) {
        if line.ending == Ending::Lf {
            self.on_bare_lf(cx, at, false);
        }
        let c = &mut *cx.check;
        if memchr::memchr(b'\r', line.content).is_some() {
            c.report(&r::GEN_001, Severity::Violation, at, format!(
                "A status line contains a bare CR (\"{}\"): every line ends in CRLF and CR appears nowhere else.",
                display(line.content, 80)
            ));
        }
        if st.status != Status::Invalid && !st.indicator_exact {
            // A server that gets the case wrong gets it wrong every time: say it once.
            c.report_once(&r::GEN_002, Severity::Violation, at, || format!(
                "The server answered \"{}\": the status indicator must be exactly +OK or -ERR in upper case; clients that compare exactly (or only test for '+') misread it.",
                display(st.indicator, 8)
            ));
        } else if st.status == Status::Invalid && at.exchange != 0 {
            c.report(
                &r::GEN_002,
                Severity::Violation,
                at,
                format!(
                    "The reply \"{}\" starts with neither +OK nor -ERR.",
                    display(line.content, 60)
                ),
            );
        }
        if !st.separator_ok {
            c.report(
                &r::GEN_003,
                Severity::Violation,
                at,
                format!(
                    "\"{}\": after {} comes the end of the line or one space, then text.",
                    display(line.content, 40),
                    st.status.as_str()
                ),
            );
        }
        let total = line.wire_len + if line.ending == Ending::CrLf { 2 } else { 1 };
        if total > MAX_STATUS_LINE {
            c.report(
                &r::GEN_004,
                Severity::Violation,
                at,
                format!("The status line is {total} octets long; the limit is 512 including CRLF."),
            );
        }
        status_text(cx, at, st.full_text, new_language);
    }
}

/// GEN-005: printable ASCII status text; UTF-8 only after UTF8 or LANG.
fn status_text(cx: &mut Ctx<'_>, at: Location, text: &[u8], new_language: bool) {
    let (c, s) = (&mut *cx.check, &*cx.session);
    if let Some(&b) = text.iter().find(|&&b| b < 0x20 || b == 0x7f) {
        c.report(&r::GEN_005, Severity::Violation, at, format!(
            "The status text contains the control character 0x{b:02x}; status text is printable ASCII."
        ));
        return;
    }
    if text.is_ascii() || s.utf8_text_allowed() || new_language {
        return;
    }
    let utf8_advertised = s.any_caps().is_some_and(|caps| caps.has("UTF8"));
    let (severity, why) = if utf8_advertised {
        (
            Severity::Violation,
            "the server advertises UTF8, so it implements RFC 6856 and must keep status text ASCII until UTF8 or LANG succeeds",
        )
    } else {
        (
            Severity::Warning,
            "non-ASCII status text before UTF8 or LANG is undefined; clients may show garbage",
        )
    };
    c.report(
        &r::GEN_005,
        severity,
        at,
        format!(
            "The status text \"{}\" is not ASCII: {why}.",
            display(text, 60)
        ),
    );
}
