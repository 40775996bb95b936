//! Server status lines: `status [SP [resp-code SP] text]` (RFC 1939 §3, RFC 2449 §3, §8).
//!
//! Parsed leniently: `+ok` still counts as positive and `+ERR` as negative, so the state machine
//! follows what a client would most likely do; the checks report the deviation.

use serde::Serialize;

use crate::framer::{Frame, LineFramer};

/// The status indicator of a reply, read leniently: what a client would most likely take it
/// for, whatever the exact bytes (those are in [`StatusLine::indicator`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Status {
    /// Positive: `+OK` in any letter case.
    #[serde(rename = "+OK")]
    Ok,
    /// Negative: `-ERR` in any letter case, or hMailServer's `+ERR`.
    #[serde(rename = "-ERR")]
    Err,
    /// No recognisable indicator at all.
    #[serde(rename = "invalid")]
    Invalid,
}

impl Status {
    /// `+OK`, `-ERR`, or `(no status)` for [`Status::Invalid`].
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "+OK",
            Status::Err => "-ERR",
            Status::Invalid => "(no status)",
        }
    }
}

/// An extended response code, `[level *("/" level)]` (RFC 2449 §3, §8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResponseCode {
    /// What stood between the brackets (or after `[` when no `]` came).
    pub raw: String,
    /// Levels, upper-cased (codes are case-insensitive).
    pub levels: Vec<String>,
    /// The code was closed by `]` and every level is non-empty printable ASCII without `/`
    /// (RFC 2449 §8); rules report one that is not.
    pub well_formed: bool,
}

impl ResponseCode {
    /// The code with levels joined by `/`, upper case: `SYS/TEMP`.
    pub fn name(&self) -> String {
        self.levels.join("/")
    }

    /// True if the code is `code` or a sub-level of it (`SYS/TEMP/X` is `SYS/TEMP`).
    pub fn is(&self, code: &str) -> bool {
        let want: Vec<&str> = code.split('/').collect();
        self.levels.len() >= want.len()
            && self
                .levels
                .iter()
                .zip(&want)
                .all(|(l, w)| l.eq_ignore_ascii_case(w))
    }
}

/// A parsed status line, borrowing from the line.
#[derive(Debug)]
pub struct StatusLine<'a> {
    /// How a client would read the indicator.
    pub status: Status,
    /// The indicator is exactly `+OK` or `-ERR` (GEN-002).
    pub indicator_exact: bool,
    /// The indicator as sent (empty when there was none).
    pub indicator: &'a [u8],
    /// After the indicator came a space or the end of the line (GEN-003).
    pub separator_ok: bool,
    /// The response code, when the text starts with `[` (RFC 2449 §3).
    pub code: Option<ResponseCode>,
    /// The text after the indicator, the space and the response code.
    pub text: &'a [u8],
    /// The text after the indicator and the space, response code included.
    pub full_text: &'a [u8],
}

impl<'a> StatusLine<'a> {
    /// Parses `line`, without its line end. Never fails: a line with no indicator is
    /// [`Status::Invalid`] with everything in `text`.
    ///
    /// ```
    /// use popscope_core::response::{Status, StatusLine};
    ///
    /// let st = StatusLine::parse(b"-ERR [IN-USE] mailbox locked");
    /// assert_eq!(st.status, Status::Err);
    /// assert_eq!(st.code.map(|c| c.name()).as_deref(), Some("IN-USE"));
    /// assert_eq!(st.text, b"mailbox locked");
    /// ```
    pub fn parse(line: &'a [u8]) -> StatusLine<'a> {
        let (status, ind_len) = indicator(line);
        let indicator = &line[..ind_len];
        let indicator_exact = indicator == b"+OK" || indicator == b"-ERR";
        let rest = &line[ind_len..];
        let (separator_ok, full_text) = match rest.first() {
            None => (true, rest),
            Some(b' ') => (true, &rest[1..]),
            Some(_) => (status == Status::Invalid, rest),
        };
        let (code, text) = if status != Status::Invalid && full_text.first() == Some(&b'[') {
            parse_code(full_text)
        } else {
            (None, full_text)
        };
        StatusLine {
            status,
            indicator_exact,
            indicator,
            separator_ok,
            code,
            text,
            full_text,
        }
    }

    /// Whether a line looks like a status line at all (used to spot replies inside listings).
    pub fn looks_like_status(line: &[u8]) -> bool {
        let (status, len) = indicator(line);
        status != Status::Invalid && matches!(line.get(len), None | Some(b' ') | Some(b'\r'))
    }
}

fn indicator(line: &[u8]) -> (Status, usize) {
    let starts = |p: &[u8]| line.len() >= p.len() && line[..p.len()].eq_ignore_ascii_case(p);
    if starts(b"+OK") {
        (Status::Ok, 3)
    } else if starts(b"-ERR") {
        (Status::Err, 4)
    } else if starts(b"+ERR") {
        // hMailServer's `+ERR`: an error in words, a success to a client that tests `+`.
        (Status::Err, 4)
    } else {
        (Status::Invalid, 0)
    }
}

fn parse_code(text: &[u8]) -> (Option<ResponseCode>, &[u8]) {
    let inner_end = memchr::memchr(b']', text);
    let inner = &text[1..inner_end.unwrap_or(text.len())];
    let raw = String::from_utf8_lossy(inner).into_owned();
    let levels: Vec<String> = raw.split('/').map(|l| l.to_ascii_uppercase()).collect();
    let well_formed = inner_end.is_some()
        && levels
            .iter()
            .all(|l| !l.is_empty() && l.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b'/'));
    let after = match inner_end {
        Some(i) => {
            let t = &text[i + 1..];
            t.strip_prefix(b" ").unwrap_or(t)
        }
        None => &[][..],
    };
    (
        Some(ResponseCode {
            raw,
            levels,
            well_formed,
        }),
        after,
    )
}

/// Registered response codes and the replies they are defined for (IANA POP3 registry:
/// RFC 2449 §8.1, RFC 3206 §4-5, RFC 6856 §5).
pub(crate) const REGISTERED_CODES: [&str; 6] = [
    "LOGIN-DELAY",
    "IN-USE",
    "SYS/TEMP",
    "SYS/PERM",
    "AUTH",
    "UTF8",
];

/// Where a reply ends in a stream of server octets read piece by piece, its lines cut by the
/// engine's own framer and read as the engine reads them: a status line, and after `+OK` to
/// a multi-line command (`+ok` too) the lines up to the `.` line. Each piece is looked at once,
/// however the reply is split. For a client of its own that must know when to stop reading
/// (the proxy's upstream STLS).
///
/// ```
/// use popscope_core::response::ReplyEnd;
///
/// let mut end = ReplyEnd::new(1024);
/// assert_eq!(end.end(b"+OK\r\nSTLS\r\n", true), None);
/// assert_eq!(end.end(b"+OK\r\nSTLS\r\n.\r\n-ERR", true), Some(14));
/// ```
#[derive(Debug)]
pub struct ReplyEnd {
    lines: LineFramer,
    max_line: usize,
    /// Octets of the reply framed so far.
    framed: usize,
    /// The status line was `+OK` to a multi-line command: the lines up to `.` follow.
    body: bool,
}

impl ReplyEnd {
    /// Lines longer than `max_line` are cut (the caller bounds what it reads).
    pub fn new(max_line: usize) -> Self {
        ReplyEnd {
            lines: LineFramer::new(max_line),
            max_line,
            framed: 0,
            body: false,
        }
    }

    /// `buf` holds the reply from its first octet on, with what was given before still in it:
    /// the reply's length once it is whole (then the next call starts a new reply).
    pub fn end(&mut self, buf: &[u8], multiline: bool) -> Option<usize> {
        let body = &mut self.body;
        let mut ended = false;
        let used = self
            .lines
            .push_until(buf.get(self.framed..)?, |frame| match frame {
                Frame::Line(line) => {
                    ended = if *body {
                        line.content == b"."
                    } else {
                        !multiline || StatusLine::parse(line.content).status != Status::Ok
                    };
                    *body = !ended;
                    !ended
                }
                Frame::Overflow { .. } => true,
            });
        self.framed += used;
        ended.then(|| {
            let end = self.framed;
            *self = ReplyEnd::new(self.max_line);
            end
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(buf: &[u8], multiline: bool) -> Option<usize> {
        ReplyEnd::new(1024).end(buf, multiline)
    }

    #[test]
    fn a_reply_ends_at_its_line_or_its_terminator() {
        assert_eq!(whole(b"+OK hi\r\nmore", false), Some(8));
        assert_eq!(whole(b"+OK\r\nSTLS\r\n", true), None);
        assert_eq!(whole(b"+OK\r\nSTLS\r\n.\r\n+OK", true), Some(14));
        assert_eq!(whole(b"-ERR no\r\n", true), Some(9));
        assert_eq!(whole(b"+OK", false), None);
        assert_eq!(whole(b"+ok\r\nSTLS\r\n.\r\n", true), Some(14));
        assert_eq!(whole(b"+ok\r\nSTLS\r\n", true), None);
        assert_eq!(whole(b"-err no\r\n", true), Some(9));
        // The terminator as the engine reads it: a "." line with nothing after the dot.
        assert_eq!(whole(b"+OK\r\n. \r\nSTLS\r\n.\n", true), Some(17));
    }

    /// Read an octet at a time, a reply ends where it ends read whole.
    #[test]
    fn a_reply_read_in_pieces_ends_where_it_ends_whole() {
        let replies: &[&[u8]] = &[
            b"+OK\r\nSTLS\r\nUSER\r\n.\r\n",
            b"-ERR no\r\n",
            b"+OK Begin TLS\r\n",
        ];
        let all = replies.concat();
        let (mut reply, mut at, mut ends) = (ReplyEnd::new(1024), 0, Vec::new());
        for n in 1..=all.len() {
            if let Some(end) = reply.end(&all[at..n], ends.is_empty()) {
                at += end;
                ends.push(at);
            }
        }
        assert_eq!(ends, [20, 29, 44]);
    }

    #[test]
    fn parses_code_and_text() {
        let s = StatusLine::parse(b"-ERR [SYS/TEMP] try later");
        assert_eq!(s.status, Status::Err);
        assert!(s.indicator_exact && s.separator_ok);
        let code = s.code.as_ref().map(|c| (c.name(), c.well_formed));
        assert_eq!(code, Some(("SYS/TEMP".into(), true)));
        assert_eq!(s.text, b"try later");
        assert!(
            s.code
                .as_ref()
                .is_some_and(|c| c.is("sys/temp") && c.is("SYS"))
        );
    }

    #[test]
    fn lenient_indicators_are_flagged() {
        let s = StatusLine::parse(b"+ok fine");
        assert_eq!((s.status, s.indicator_exact), (Status::Ok, false));
        let s = StatusLine::parse(b"+ERR Server error");
        assert_eq!((s.status, s.indicator_exact), (Status::Err, false));
        let s = StatusLine::parse(b"+OKmaildrop");
        assert!(!s.separator_ok);
        assert_eq!(StatusLine::parse(b"* OK").status, Status::Invalid);
        let s = StatusLine::parse(b"+OK");
        assert!(s.separator_ok && s.text.is_empty());
    }

    #[test]
    fn malformed_codes() {
        let s = StatusLine::parse(b"-ERR [SYS TEMP] busy");
        assert!(s.code.is_some_and(|c| !c.well_formed));
        let s = StatusLine::parse(b"-ERR [AUTH");
        assert!(s.code.is_some_and(|c| !c.well_formed));
    }
}
