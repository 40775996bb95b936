//! LANG (rules.md §3.15, RFC 6856 §3): LANG-001..LANG-004.

use super::area::{Answer, Area, Ctx, DataLine, PlainLines};
use super::catalog as r;
use super::catalog::Severity;
use super::checker::Checker;
use crate::command::Keyword;
use crate::event::Location;
use crate::exchange::{Body, BodyKind};
use crate::response::Status;
use crate::sanitize::display;
use crate::state::State;

/// LANG replies and language lists, and where LANG worked or failed.
#[derive(Debug, Default)]
pub(crate) struct Lang {
    /// LANG-001: LANG answered +OK in [AUTHORIZATION, TRANSACTION].
    lang_ok: [bool; 2],
    /// LANG-001: where LANG was refused in [AUTHORIZATION, TRANSACTION].
    lang_refused: [Option<Location>; 2],
}

impl Area for Lang {
    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let (ex, at, st) = (reply.ex, reply.at, reply.status);
        if ex.keyword() != Keyword::Lang {
            return;
        }
        let idx = usize::from(s.state == State::Transaction);
        let names = ["AUTHORIZATION", "TRANSACTION"];
        if st.status == Status::Ok {
            self.lang_ok[idx] = true;
            if let Some(refused_at) = self.lang_refused[1 - idx].take() {
                c.report(&r::LANG_001, Severity::Violation, refused_at, format!(
                    "LANG was refused in {} but works in {}: LANG is valid in both (RFC 6856 §3.1).",
                    names[1 - idx], names[idx]
                ));
            }
            if let Some(range) = ex.cmd.arg(0) {
                lang_changed(c, at, range, st.full_text);
            }
        } else if st.status == Status::Err {
            if ex.cmd.arg_count() > 0 {
                c.report(
                    &r::LANG_003,
                    Severity::Info,
                    at,
                    "LANG was refused: the previous language continues (RFC 6856 §3.2).",
                );
            }
            if s.advertises("LANG") == Some(true) {
                if self.lang_ok[1 - idx] {
                    c.report(&r::LANG_001, Severity::Violation, at, format!(
                        "LANG works in {} but was refused in {} although advertised: LANG is valid in both (RFC 6856 §3.1).",
                        names[1 - idx], names[idx]
                    ));
                } else {
                    self.lang_refused[idx] = Some(at);
                }
            }
        }
    }

    #[inline(always)] // runs on every data line of every body: the kind test inlines
    fn on_body_line(&mut self, cx: &mut Ctx<'_>, body: &Body, line: &DataLine<'_>) {
        if body.kind == BodyKind::Lang {
            lang_line(cx, line);
        }
    }

    // The kind test once for the lines, not once a line: the compiler does not hoist it.
    fn on_plain_lines(&mut self, cx: &mut Ctx<'_>, body: &Body, lines: &PlainLines<'_>) {
        if body.kind == BodyKind::Lang {
            lines.each(|line| lang_line(cx, line));
        }
    }
}

/// LANG-002: `+OK` SP language-tag SP text, the tag matching the range, the text UTF-8.
fn lang_changed(c: &mut Checker, at: Location, range: &[u8], text: &[u8]) {
    let tag = text.split(|&b| b == b' ').next().unwrap_or_default();
    let range = String::from_utf8_lossy(range).to_ascii_lowercase();
    let tag_s = String::from_utf8_lossy(tag).to_ascii_lowercase();
    let matches = if range == "*" {
        !tag_s.is_empty()
            && tag_s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    } else {
        tag_s == range || tag_s.starts_with(&format!("{range}-"))
    };
    if !matches {
        c.report(&r::LANG_002, Severity::Violation, at, format!(
            "LANG {range} was answered \"+OK {}\": the reply must start with the language tag chosen, matching {range} (RFC 6856 §3.2).",
            display(text, 60)
        ));
    }
    if std::str::from_utf8(text).is_err() {
        c.report(&r::LANG_002, Severity::Violation, at,
            "The reply to LANG is not valid UTF-8: after a language change the text is UTF-8 (RFC 6856 §3.2).");
    }
}

/// One line of a language list: `tag [SP description]`.
fn lang_line(cx: &mut Ctx<'_>, line: &DataLine<'_>) {
    let (at, content) = (line.at, line.content);
    let tag = content.split(|&b| b == b' ').next().unwrap_or_default();
    if tag.is_empty()
        || !tag
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'*')
    {
        cx.check.report_once_per_exchange(&r::LANG_004, Severity::Warning, at, || {
            format!(
                "The language list line \"{}\" does not start with a language tag (RFC 6856 §3.2).",
                display(content, 60)
            )
        });
    }
}
