//! The server's side of the injector: its replies read line by line, in the order of the
//! commands awaiting them, and changed as the case says on their way to the client. A body
//! streams through: nothing holds a whole reply.

use super::lines::Piece;
use super::{Action, Case, Injector, LONG_UID_LEN, Pending, Reading, send};
use crate::command::Keyword;
use crate::server::quirks::INJECTED_AFTER_STLS;

/// The SASL mechanisms `capa-differs-after-tls` lists before TLS only.
const PRE_TLS_ONLY: [&str; 2] = ["PLAIN", "LOGIN"];

impl Injector {
    /// Octets from the server, split anywhere: what the client gets, in order. After
    /// [`Action::Close`], nothing.
    pub fn handle_server(&mut self, bytes: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        let mut lines = std::mem::take(&mut self.server_lines);
        lines.cut(bytes, |piece| {
            match piece {
                Piece::Line(line) => self.server_line_in(line, &mut out),
                // A healthy server sends no line this long: it goes through untouched.
                Piece::Through(octets) => send(&mut out, octets),
            }
            !self.closed
        });
        self.server_lines = lines;
        out
    }

    /// One server line, its line end included.
    fn server_line_in(&mut self, line: &[u8], out: &mut Vec<Action>) {
        match self.reading {
            Reading::Status => self.status_line(line, out),
            Reading::Body { keyword, sasl_seen } => {
                let content = trim_end(line);
                if content == b"." {
                    self.body_end(keyword, sasl_seen, line, out);
                } else {
                    self.body_line(keyword, content, line, out);
                }
            }
        }
    }

    fn status_line(&mut self, line: &[u8], out: &mut Vec<Action>) {
        let Some(Pending::Server(awaited)) = self.queue.front().cloned() else {
            // Nothing asked for it: it goes through as it came.
            send(out, line);
            return;
        };
        if self.fault.case == Case::SlowReplies && !awaited.greeting && self.fault.seconds > 0 {
            out.push(Action::Pause(self.fault.seconds));
        }
        let ok = line.len() >= 3 && line[..3].eq_ignore_ascii_case(b"+OK");
        let continuation = self.sasl_open && !ok && line.first() == Some(&b'+');
        if awaited.multiline && ok {
            send(out, line);
            self.reading = Reading::Body {
                keyword: awaited.keyword,
                sasl_seen: false,
            };
            return;
        }
        self.queue.pop_front();
        if continuation {
            // The exchange goes on: the client's next line is its response.
            send(out, line);
            self.flush_local(out);
            return;
        }
        if awaited.login {
            self.sasl_open = false;
        }
        self.logged_in |= awaited.login && ok;
        match (self.fault.case, awaited.keyword) {
            (Case::StlsResponseInjection, Keyword::Stls) if ok => {
                send(out, line);
                send(out, INJECTED_AFTER_STLS);
            }
            (Case::LongUidl, Keyword::Uidl) if ok => {
                // `+OK n uid`
                send(out, &long_uid_line(line, 2));
            }
            _ => send(out, line),
        }
        if awaited.keyword == Keyword::Stls && ok {
            // What the client sent behind STLS is plaintext the server drops: no reply
            // comes for it, and none of the injector's own either.
            self.queue.clear();
            return;
        }
        self.flush_local(out);
    }

    fn body_line(&mut self, keyword: Keyword, content: &[u8], line: &[u8], out: &mut Vec<Action>) {
        let before_tls = !self.client_tls;
        match (self.fault.case, keyword) {
            (Case::StripStls, Keyword::Capa) if content.eq_ignore_ascii_case(b"STLS") => {}
            (Case::LoginDelay, Keyword::Capa) if starts_with_word(content, b"LOGIN-DELAY") => {}
            (Case::CapaDiffersAfterTls, Keyword::Capa) if starts_with_word(content, b"SASL") => {
                self.reading = Reading::Body {
                    keyword,
                    sasl_seen: true,
                };
                send(out, &sasl_line(content, before_tls));
            }
            (Case::LongUidl, Keyword::Uidl) => send(out, &long_uid_line(line, 1)),
            (Case::DropMidRetr, Keyword::Retr) => {
                send(out, line);
                if content.is_empty() {
                    // The headers are out, the body is not: the connection drops here.
                    self.close(out);
                }
            }
            _ => send(out, line),
        }
    }

    fn body_end(&mut self, keyword: Keyword, sasl_seen: bool, line: &[u8], out: &mut Vec<Action>) {
        match (self.fault.case, keyword) {
            (Case::DropMidRetr, Keyword::Retr) => {
                // A message without a blank line: the terminator is never sent.
                self.close(out);
                return;
            }
            (Case::LoginDelay, Keyword::Capa) => send(
                out,
                format!("LOGIN-DELAY {}\r\n", self.fault.seconds).as_bytes(),
            ),
            (Case::CapaDiffersAfterTls, Keyword::Capa) if !sasl_seen && !self.client_tls => {
                send(out, &sasl_line(b"SASL", true))
            }
            _ => {}
        }
        send(out, line);
        self.reading = Reading::Status;
        self.queue.pop_front();
        self.flush_local(out);
    }

    fn close(&mut self, out: &mut Vec<Action>) {
        out.push(Action::Close);
        self.closed = true;
        self.queue.clear();
    }
}

/// `line` without its line end.
fn trim_end(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn starts_with_word(content: &[u8], word: &[u8]) -> bool {
    content.len() >= word.len()
        && content[..word.len()].eq_ignore_ascii_case(word)
        && content.get(word.len()).is_none_or(|&b| b == b' ')
}

/// CAPA's SASL line for `capa-differs-after-tls`: before TLS with PLAIN and LOGIN added, after
/// TLS with them removed.
fn sasl_line(content: &[u8], before_tls: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(content);
    let mut words = text.split(' ');
    let tag = words.next().unwrap_or("SASL");
    let mut mechs: Vec<&str> = words
        .filter(|m| !m.is_empty() && !PRE_TLS_ONLY.iter().any(|p| p.eq_ignore_ascii_case(m)))
        .collect();
    if before_tls {
        mechs.splice(0..0, PRE_TLS_ONLY);
    }
    let mut line = tag.as_bytes().to_vec();
    for m in mechs {
        line.push(b' ');
        line.extend_from_slice(m.as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// A UIDL line with its UID (word `at`, from 0) made [`LONG_UID_LEN`] octets long: the UID,
/// a `.`, then filler without a `.`, so that different UIDs stay different and each stays the
/// same on every listing. A UID already that long is kept.
fn long_uid_line(line: &[u8], at: usize) -> Vec<u8> {
    let content = trim_end(line);
    let words: Vec<&[u8]> = content.split(|&b| b == b' ').collect();
    let Some(uid) = words.get(at) else {
        return line.to_vec();
    };
    let long = long_uid(uid);
    let mut out = Vec::with_capacity(content.len() + LONG_UID_LEN + 2);
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(if i == at { &long } else { w });
    }
    out.extend_from_slice(&line[content.len()..]);
    out
}

/// `uid` padded to [`LONG_UID_LEN`] octets of 0x21-0x7E.
pub(super) fn long_uid(uid: &[u8]) -> Vec<u8> {
    if uid.len() + 1 >= LONG_UID_LEN {
        return uid.to_vec();
    }
    // FNV-1a of the UID picks the filler, so that it looks like no other UID's.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in uid {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut long = uid.to_vec();
    long.push(b'.');
    let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    while long.len() < LONG_UID_LEN {
        h = h.rotate_left(7).wrapping_mul(0x0100_0000_01b3) ^ (long.len() as u64);
        long.push(alphabet[(h % alphabet.len() as u64) as usize]);
    }
    long
}
