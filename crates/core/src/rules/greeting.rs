//! The greeting (rules.md §3.2: GRT-001, GRT-002, GRT-004, GRT-006).

use super::area::{Answer, Area, Ctx, Unanswered};
use super::catalog as r;
use super::catalog::Severity;
use crate::command::Keyword;
use crate::event::Location;
use crate::framer::Line;
use crate::response::{Status, StatusLine};
use crate::sanitize::display;

/// The greeting's rules, and what they remember of it.
#[derive(Debug, Default)]
pub(crate) struct Greeting {
    /// GRT-004: what is wrong with the greeting's timestamp; a violation once APOP works.
    bad_timestamp: Option<String>,
}

impl Area for Greeting {
    /// GRT-002, GRT-006, GRT-004; remembers what is wrong with the timestamp.
    fn on_greeting(
        &mut self,
        cx: &mut Ctx<'_>,
        at: Location,
        _line: &Line<'_>,
        st: &StatusLine<'_>,
    ) {
        let c = &mut *cx.check;
        match st.status {
            Status::Ok => {}
            Status::Err if st.indicator_exact => c.report(&r::GRT_002, Severity::Warning, at,
                "The greeting is -ERR: the server refuses service (expect it to close); a greeting is a positive response."),
            _ => c.report(&r::GRT_002, Severity::Violation, at, format!(
                "The first line \"{}\" is not a +OK greeting.",
                display(st.indicator, 20)
            )),
        }
        if let Some(code) = &st.code
            && st.status == Status::Ok
            && code.well_formed
            && let Some(reg) = super::codes::registered(code)
            && reg != "UTF8"
        {
            c.report(
                &r::GRT_006,
                Severity::Warning,
                at,
                format!(
                    "The greeting carries [{}], a code defined for -ERR replies only.",
                    code.name()
                ),
            );
        }
        self.bad_timestamp = timestamp_problem(st.full_text);
        if let Some(problem) = &self.bad_timestamp {
            c.report(&r::GRT_004, Severity::Warning, at, format!(
                "The greeting's APOP timestamp is malformed: {problem}. It must be one RFC 822 msg-id such as <1896.697170952@dbc.mtview.ca.us>; clients will try APOP with it."
            ));
        }
    }

    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        if reply.ex.keyword() == Keyword::Apop
            && reply.status.status == Status::Ok
            && let Some(problem) = &self.bad_timestamp
        {
            cx.check.report_once(&r::GRT_004, Severity::Violation, reply.at, || {
                format!("The server implements APOP (it accepted APOP) but its greeting timestamp is malformed: {problem}.")
            });
        }
    }

    fn on_unanswered(&mut self, cx: &mut Ctx<'_>, at: Location, line: &Line<'_>, when: Unanswered) {
        if when != Unanswered::BeforeFirstCommand {
            return;
        }
        // GRT-001: lines after the greeting before the client's first command.
        cx.check.report_once_per_exchange(&r::GRT_001, Severity::Violation, at, || {
            format!(
                "After its greeting the server sent \"{}\" before any command: the greeting is one line and nothing follows it.",
                display(line.content, 60)
            )
        });
    }
}

/// The `<…>` timestamp of a greeting, when there is exactly one well-formed candidate.
pub(crate) fn apop_timestamp(text: &[u8]) -> Option<Vec<u8>> {
    let start = memchr::memchr(b'<', text)?;
    let end = start + memchr::memchr(b'>', &text[start..])?;
    Some(text[start..=end].to_vec())
}

fn timestamp_problem(text: &[u8]) -> Option<String> {
    let opens = memchr::memchr_iter(b'<', text).count();
    let closes = memchr::memchr_iter(b'>', text).count();
    if opens == 0 && closes == 0 {
        return None;
    }
    if opens != closes {
        return Some("its angle brackets are unbalanced".into());
    }
    if opens > 1 {
        return Some(format!("it holds {opens} <…> groups; there must be one"));
    }
    let ts = apop_timestamp(text)?;
    let inner = &ts[1..ts.len() - 1];
    if inner.contains(&b' ') {
        return Some(format!("{} contains a space", display(&ts, 60)));
    }
    match memchr::memchr(b'@', inner) {
        None => Some(format!("{} has no '@'", display(&ts, 60))),
        Some(0) => Some(format!("{} has nothing before the '@'", display(&ts, 60))),
        Some(i) if i + 1 == inner.len() => {
            Some(format!("{} has no domain after the '@'", display(&ts, 60)))
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(
            timestamp_problem(b"POP3 server ready <1896.697170952@dbc.mtview.ca.us>"),
            None
        );
        assert_eq!(timestamp_problem(b"ready"), None);
        assert!(timestamp_problem(b"ready <mailserver.mydomain.com>").is_some());
        assert!(timestamp_problem(b"ready <a@b> <c@d>").is_some());
        assert!(timestamp_problem(b"ready <a@b").is_some());
        assert!(timestamp_problem(b"ready <a b@c>").is_some());
    }
}
