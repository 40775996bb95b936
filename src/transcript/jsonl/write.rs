//! The recorder: an observer of a session that writes it as JSON Lines, record by record,
//! flushed as it goes, with client secrets masked unless they are to be kept.

use std::io::Write;

use crate::session::{Note, Observer};
use popscope_core::{Direction, Event, Time};

use super::body_cap::BodyCap;
use super::records::{ClientSide, FORMAT, Record, clean_text, secs};

/// Octets kept of one client line: a command is at most 255 (RFC 2449 §4), a SASL response
/// a few KiB; a client that sends a line without end must not fill the disk.
pub(crate) const MAX_CLIENT_LINE: u64 = 64 << 10;

/// An observer that writes the session as JSON Lines.
pub(crate) struct Recorder {
    out: Box<dyn Write + Send>,
    keep_secrets: bool,
    cap: Option<BodyCap>,
    /// Octets of the client line in progress, and how many of them were left out.
    client_line: u64,
    client_cut: u64,
    /// Which client line is a SASL response (masked as one).
    sasl: crate::transcript::sasl::SaslWatch,
    failed: bool,
    /// The record being written, kept to reuse its allocation: a RETR is thousands of records.
    line: Vec<u8>,
}

/// The record before a block of data (format 2): the octets follow it raw, not in a JSON
/// string, so a recording costs no escaping of every line's CR LF to write or to read.
#[derive(serde::Serialize)]
#[serde(tag = "type", rename = "data")]
struct BlockData {
    t: f64,
    dir: Direction,
    octets: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    redacted: bool,
}

/// Octets tested at a time by [`plain_ascii`] and [`no_bare_cr`]: a fixed width, with no
/// early exit inside it, is what lets the compiler test them in vector registers (tested an
/// octet at a time, they were 45% of the CPU samples of `send --record` of a RETR).
const LANES: usize = 64;

/// Whether `bytes` are printable ASCII with CR, LF and TAB: clean text, tested on the octets
/// in bulk (the common case; anything else goes through the test per character).
fn plain_ascii(bytes: &[u8]) -> bool {
    let bad = |b: u8| {
        u8::from(b.wrapping_sub(0x20) > 0x5e)
            & u8::from(b != b'\t')
            & u8::from(b != b'\n')
            & u8::from(b != b'\r')
    };
    let any_bad = |c: &[u8]| c.iter().fold(0, |acc, &b| acc | bad(b)) != 0;
    let mut chunks = bytes.chunks_exact(LANES);
    !chunks.any(any_bad) && !any_bad(chunks.remainder())
}

/// Whether every CR of `bytes` ends a line (is followed by LF): a bare CR shown raw moves
/// the cursor back and lets what follows hide what came before it (a read that ends between
/// CR and LF counts as bare: its record is escaped, which costs only that record).
fn no_bare_cr(bytes: &[u8]) -> bool {
    let Some((&last, _)) = bytes.split_last() else {
        return true;
    };
    // Each octet beside the one after it.
    let (now, next) = (&bytes[..bytes.len() - 1], &bytes[1..]);
    let any_bare = |(a, b): (&[u8], &[u8])| {
        a.iter().zip(b).fold(0, |acc, (&p, &n)| {
            acc | (u8::from(p == b'\r') & u8::from(n != b'\n'))
        }) != 0
    };
    let (mut a, mut b) = (now.chunks_exact(LANES), next.chunks_exact(LANES));
    last != b'\r'
        && !(&mut a).zip(&mut b).any(any_bare)
        && !any_bare((a.remainder(), b.remainder()))
}

/// Whether `bytes` may be written raw, as a block: clean text without a bare CR.
fn raw_safe(bytes: &[u8]) -> bool {
    (plain_ascii(bytes) || clean_text(bytes).is_some()) && no_bare_cr(bytes)
}

impl Recorder {
    /// Writes the header at once.
    pub(crate) fn new(out: Box<dyn Write + Send>, target: &str, keep_secrets: bool) -> Recorder {
        Recorder::with_header(out, target, keep_secrets, ClientSide::default())
    }

    /// A recorder of a session whose client is not popscope (the proxy's), run with
    /// `config`: the header says how the client was judged, and a re-check judges it the same.
    pub(crate) fn judging_client(
        out: Box<dyn Write + Send>,
        target: &str,
        keep_secrets: bool,
        config: &popscope_core::Config,
    ) -> Recorder {
        Recorder::with_header(out, target, keep_secrets, ClientSide::of(config))
    }

    fn with_header(
        mut out: Box<dyn Write + Send>,
        target: &str,
        keep_secrets: bool,
        client: ClientSide,
    ) -> Recorder {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let header = Record::Header {
            format: FORMAT,
            popscope: env!("CARGO_PKG_VERSION").into(),
            target: target.into(),
            started,
            secrets: if keep_secrets { "kept" } else { "redacted" }.into(),
            judge_client: client.judge,
            client_leg_tls: client.leg_tls,
            client_stls_offer: client.stls_offer,
        };
        let failed = write_record(&mut out, &mut Vec::new(), &header, None).is_err();
        Recorder {
            out,
            keep_secrets,
            cap: None,
            client_line: 0,
            client_cut: 0,
            sasl: Default::default(),
            failed,
            line: Vec::new(),
        }
    }

    /// Keep at most `limit` octets of each message body (a marker says how many were left out).
    pub(crate) fn with_max_body(mut self, limit: Option<u64>) -> Recorder {
        self.cap = limit.map(BodyCap::new);
        self
    }

    /// Writes the server octets whose lines the engine has classified, cutting bodies.
    fn release(&mut self, at: Time, everything: bool) {
        let Some(cap) = self.cap.as_mut() else { return };
        for r in cap
            .release(at, everything)
            .iter()
            .filter(|r| !matches!(r, Record::Data { text: Some(t), .. } if t.is_empty()))
        {
            self.put(r);
        }
    }

    fn put(&mut self, r: &Record) {
        match r {
            Record::Data {
                t,
                dir,
                text: Some(text),
                redacted,
                ..
            } if raw_safe(text.as_bytes()) => self.put_block(*t, *dir, text.as_bytes(), *redacted),
            _ => self.put_serialized(r, None),
        }
    }

    /// A data record of `bytes`: clean text as a block after its record, anything else (an
    /// escape sequence, a NUL, invalid UTF-8, a bare CR) escaped inside the record, so no raw
    /// control octet but a line's CR LF and TAB reaches the file: `cat` or `less` shows it
    /// as it is.
    fn put_data(&mut self, at: Time, dir: Direction, bytes: &[u8], redacted: bool) {
        if raw_safe(bytes) {
            self.put_block(secs(at), dir, bytes, redacted);
        } else {
            self.put_serialized(&Record::data(secs(at), dir, bytes, redacted), None);
        }
    }

    fn put_block(&mut self, t: f64, dir: Direction, bytes: &[u8], redacted: bool) {
        let record = BlockData {
            t,
            dir,
            octets: bytes.len() as u64,
            redacted,
        };
        self.put_serialized(&record, Some(bytes));
    }

    fn put_serialized(&mut self, r: &impl serde::Serialize, block: Option<&[u8]>) {
        if !self.failed && write_record(&mut self.out, &mut self.line, r, block).is_err() {
            // A full disk must not end the session; the record stops where it failed.
            self.failed = true;
        }
    }

    /// Client octets with each line cut to [`MAX_CLIENT_LINE`], and the octets left out of
    /// each line that ended here.
    fn cap_client(&mut self, bytes: &[u8]) -> (Vec<u8>, Vec<u64>) {
        let (mut kept, mut cuts) = (Vec::with_capacity(bytes.len()), Vec::new());
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            let end = if piece.ends_with(b"\r\n") {
                2
            } else {
                usize::from(piece.ends_with(b"\n"))
            };
            let (line, ending) = piece.split_at(piece.len() - end);
            let room = MAX_CLIENT_LINE.saturating_sub(self.client_line);
            let keep = line.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            kept.extend_from_slice(line.get(..keep).unwrap_or_default());
            kept.extend_from_slice(ending);
            self.client_line += line.len() as u64;
            self.client_cut += (line.len() - keep) as u64;
            if end > 0 {
                cuts.extend(Some(self.client_cut).filter(|&c| c > 0));
                (self.client_line, self.client_cut) = (0, 0);
            }
        }
        (kept, cuts)
    }

    /// Says how many octets of client lines were left out (exchange 0: the record is a
    /// client line's, which has no exchange of its own until it ends).
    fn put_cuts(&mut self, at: Time, cuts: &[u64]) {
        for &octets in cuts {
            self.put(&Record::Truncated {
                t: secs(at),
                exchange: 0,
                octets,
            });
        }
    }

    /// Client octets with every secret line masked (lines keep their length).
    fn redact_client(&self, bytes: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(bytes.len());
        let mut changed = false;
        let mut sasl = self.sasl.responding();
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            let (line, end) = match piece.strip_suffix(b"\r\n") {
                Some(l) => (l, &b"\r\n"[..]),
                None => match piece.strip_suffix(b"\n") {
                    Some(l) => (l, &b"\n"[..]),
                    None => (piece, &b""[..]),
                },
            };
            match popscope_core::redact::client_line(line, sasl) {
                Some(r) => {
                    out.extend_from_slice(&r);
                    changed = true;
                }
                None => out.extend_from_slice(line),
            }
            out.extend_from_slice(end);
            // Only the first line after a challenge is a SASL response.
            sasl = None;
        }
        (out, changed)
    }
}

/// Writes `r` as one line, and `block` after it with its closing line feed when the record
/// has one, serialized into `line` (cleared first): one write, flushed, so a reader (or a
/// crash) never sees a record without its block.
fn write_record(
    out: &mut Box<dyn Write + Send>,
    line: &mut Vec<u8>,
    r: &impl serde::Serialize,
    block: Option<&[u8]>,
) -> std::io::Result<()> {
    line.clear();
    serde_json::to_writer(&mut *line, r).map_err(std::io::Error::other)?;
    line.push(b'\n');
    if let Some(block) = block {
        line.extend_from_slice(block);
        line.push(b'\n');
    }
    out.write_all(line)?;
    out.flush()
}

impl Observer for Recorder {
    fn wire(&mut self, at: Time, dir: Direction, bytes: &[u8]) {
        if dir == Direction::Server
            && let Some(cap) = self.cap.as_mut()
        {
            cap.hold(bytes);
            return;
        }
        if dir == Direction::Client {
            let (kept, cuts) = self.cap_client(bytes);
            if !kept.is_empty() {
                let (b, redacted) = if self.keep_secrets {
                    (kept, false)
                } else {
                    self.redact_client(&kept)
                };
                self.put_data(at, dir, &b, redacted);
            }
            self.put_cuts(at, &cuts);
        } else {
            self.put_data(at, dir, bytes, false);
        }
    }

    fn settled(&mut self, at: Time) {
        self.release(at, false);
    }

    fn note(&mut self, at: Time, note: &Note) {
        if matches!(note, Note::Transport(_)) {
            // A close or a timeout: what is pending will not be classified any further.
            self.release(at, true);
            let cut = std::mem::take(&mut self.client_cut);
            self.put_cuts(at, &[cut][..usize::from(cut > 0)]);
        }
        match note {
            // A warning is the tool's own word, not part of the session: not recorded.
            Note::Connected { .. } | Note::Warning(_) => {}
            Note::Tls(d) => self.put(&Record::Tls {
                t: secs(at),
                details: d.clone(),
            }),
            Note::Transport(ev) => self.put(&Record::Transport {
                t: secs(at),
                event: *ev,
            }),
        }
    }

    fn event(&mut self, at: Time, ev: &Event<'_>) {
        if let Some(cap) = self.cap.as_mut() {
            cap.classify(ev);
        }
        self.sasl.event(ev);
        match ev {
            Event::StateChange(t) => self.put(&Record::State {
                t: secs(at),
                from: t.from,
                to: t.to,
                reason: t.reason.clone(),
                lawful: t.lawful,
            }),
            Event::Finding(f) => self.put(&Record::Finding {
                t: secs(at),
                rule: f.rule,
                severity: f.severity,
                message: f.message.clone(),
                exchange: f.at.exchange,
                suspected: f.suspected,
            }),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use popscope_core::{Config, Engine};

    use super::super::read;

    proptest::proptest! {
        /// The tests in vector-width chunks say what a test of each octet says, wherever the
        /// odd octet falls (a chunk's edge, the remainder, the last octet).
        #[test]
        fn the_chunked_tests_agree_with_a_test_of_each_octet(
            fill in proptest::sample::select(vec![b'a', b'\r', b'\n', b'\t', 0x7f, 0x1f, 0xc3]),
            odd in proptest::sample::select(vec![b'\r', b'\n', 0, 0x7f, 0x80, b' ', b'~']),
            len in 0usize..200,
            at in 0usize..200,
        ) {
            let mut bytes = vec![fill; len];
            if let Some(b) = bytes.get_mut(at) {
                *b = odd;
            }
            let printable = |b: &u8| (0x20..0x7f).contains(b) || matches!(b, b'\r' | b'\n' | b'\t');
            proptest::prop_assert_eq!(plain_ascii(&bytes), bytes.iter().all(printable));
            let bare = (0..bytes.len()).any(|i| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
            proptest::prop_assert_eq!(no_bare_cr(&bytes), !bare);
        }
    }

    /// Drives an engine and the recorder the way a live session does.
    fn feed(e: &mut Engine, r: &mut Recorder, dir: Direction, bytes: &[u8]) {
        let at = Time(1);
        r.wire(at, dir, bytes);
        let mut sink = |ev: Event<'_>| r.event(at, &ev);
        match dir {
            Direction::Server => e.handle_server(at, bytes, &mut sink),
            Direction::Client => e.handle_client(at, bytes, &mut sink),
        }
        r.settled(at);
    }

    /// A recorder keeping 4096 octets per body, writing into memory, after the greeting.
    fn capped() -> (crate::session::task::Recording, Recorder, Engine) {
        let out = crate::session::task::Recording::default();
        let mut r = Recorder::new(Box::new(out.clone()), "t", false).with_max_body(Some(4096));
        let mut e = Engine::new(Config::default());
        feed(&mut e, &mut r, Direction::Server, b"+OK ready\r\n");
        (out, r, e)
    }

    #[test]
    fn clean_data_is_a_raw_block_anything_else_base64_and_both_read_back_exactly() {
        let mut cases: Vec<Vec<u8>> = [
            &b"+OK 2 octets\r\nabc\r\n.\r\n"[..],
            b"tab\there \"quoted\" back\\slash\n",
            b"",
            b"\x1b[31mred\r\n",
            b"del \x7f",
            b"nul \0",
            "gr\u{fc}\u{df}e\r\n".as_bytes(),
            "zero\u{200b}width".as_bytes(),
            "bidi \u{202e}txt".as_bytes(),
            b"\xff\xfe invalid",
            b"{\"type\":\"header\",\"format\":2}\n",
            b"no line end",
            b"bare\rcr\r\n",
            b"ends in cr\r",
        ]
        .iter()
        .map(|c| c.to_vec())
        .collect();
        cases.push((0u8..=255).collect());
        cases.extend((0u8..=255).map(|b| vec![b'a', b, b'\r', b'\n']));
        for (i, bytes) in cases.iter().enumerate() {
            for (dir, redacted) in [(Direction::Server, false), (Direction::Client, true)] {
                let out = crate::session::task::Recording::default();
                let mut r = Recorder::new(Box::new(out.clone()), "t", false);
                let header = out.contents().len();
                let at = Time(1_234_567 + i as u64);
                r.put_data(at, dir, bytes, redacted);
                let file = out.contents();
                let written = &file[header..];
                let as_block = written.starts_with(b"{\"type\":\"data\"")
                    && written.windows(9).any(|w| w == b"\"octets\":");
                let bare_cr = bytes
                    .iter()
                    .enumerate()
                    .any(|(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
                assert_eq!(
                    as_block,
                    super::super::records::clean_text(bytes).is_some() && !bare_cr,
                    "{bytes:?}"
                );
                // What reaches the file raw is safe to show: no control octet but TAB, LF and
                // a CR that ends a line.
                let shown = String::from_utf8_lossy(written).replace("\r\n", "\n");
                assert!(
                    shown
                        .chars()
                        .all(|c| !c.is_control() || matches!(c, '\n' | '\t')),
                    "{bytes:?}"
                );
                let (sessions, damage) = read(&file);
                assert_eq!(damage, None, "{bytes:?}");
                let item = &sessions[0].entries[0].item;
                let want = match dir {
                    Direction::Server => crate::transcript::Item::Server(bytes.clone()),
                    Direction::Client => crate::transcript::Item::Client(bytes.clone()),
                };
                assert_eq!(item, &want, "{bytes:?}");
            }
        }
    }

    #[test]
    fn a_recording_of_a_client_popscope_did_not_write_says_so_in_its_header() {
        let header = |judging: bool| {
            let out = crate::session::task::Recording::default();
            let target = "pop3://127.0.0.1:110";
            let proxied = Config {
                judge_client: true,
                client_leg_tls: Some(true),
                ..Config::default()
            };
            let _r = if judging {
                Recorder::judging_client(Box::new(out.clone()), target, false, &proxied)
            } else {
                Recorder::new(Box::new(out.clone()), target, false)
            };
            let first = out.contents();
            let line = first.split(|&b| b == b'\n').next().unwrap_or_default();
            serde_json::from_slice::<serde_json::Value>(line).unwrap()
        };
        assert_eq!(header(true)["judge_client"], true);
        assert_eq!(header(true)["client_leg_tls"], true);
        assert_ne!(header(false)["judge_client"], true);
        assert!(header(false).get("client_leg_tls").is_none());
    }

    #[test]
    fn a_client_line_without_end_is_cut_and_the_cut_said() {
        let out = crate::session::task::Recording::default();
        let mut r = Recorder::new(Box::new(out.clone()), "t", false);
        let mut e = Engine::new(Config {
            judge_client: true,
            ..Config::default()
        });
        feed(&mut e, &mut r, Direction::Server, b"+OK ready\r\n");
        let chunk = vec![b'x'; 64 << 10];
        for _ in 0..256 {
            feed(&mut e, &mut r, Direction::Client, &chunk);
        }
        feed(&mut e, &mut r, Direction::Client, b"\r\nNOOP\r\n");
        let written = out.contents();
        // 16 MiB went by: one line's limit of it was kept, the rest counted, and the
        // next command is whole.
        assert!(written.len() < 200 << 10, "{} octets", written.len());
        let text = String::from_utf8_lossy(&written);
        let left_out = (256u64 << 16) - MAX_CLIENT_LINE;
        assert!(
            text.contains(&format!("\"octets\":{left_out}")),
            "no cut said"
        );
        assert!(
            text.contains("\"octets\":8}\n\r\nNOOP\r\n\n"),
            "{}",
            &text[text.len() - 400..]
        );
        let (sessions, damage) = read(&written);
        assert!(damage.is_none(), "{damage:?}");
        assert_eq!(sessions.len(), 1);
    }

    #[test]
    fn max_body_caps_a_flood_after_quit_too() {
        let (out, mut r, mut e) = capped();
        feed(&mut e, &mut r, Direction::Client, b"QUIT\r\n");
        feed(&mut e, &mut r, Direction::Server, b"+OK bye\r\n");
        for _ in 0..100 {
            feed(
                &mut e,
                &mut r,
                Direction::Server,
                &b"flood\r\n".repeat(1000),
            );
        }
        let closed = popscope_core::TransportEvent::ServerClosed {
            close_notify: false,
        };
        r.note(Time(2), &Note::Transport(closed));
        let written = out.contents();
        let text = String::from_utf8_lossy(&written);
        assert!(
            written.len() < 32 << 10,
            "{} octets recorded",
            written.len()
        );
        assert!(text.contains("+OK bye"), "{text}");
        // 700,000 octets of flood: 585 lines of 7 fit the 4096 kept, the rest is counted.
        assert!(
            text.contains("\"truncated\"") && text.contains("\"octets\":695905"),
            "{text}"
        );
    }

    #[test]
    fn max_body_keeps_an_endless_line_bounded_and_marks_the_cut() {
        let (out, mut r, mut e) = capped();
        feed(&mut e, &mut r, Direction::Client, b"USER a\r\nPASS b\r\n");
        feed(&mut e, &mut r, Direction::Server, b"+OK\r\n+OK\r\n");
        feed(&mut e, &mut r, Direction::Client, b"RETR 1\r\n");
        feed(&mut e, &mut r, Direction::Server, b"+OK\r\n");
        let chunk = vec![b'x'; 16 << 10];
        let mut most_pending = 0;
        for _ in 0..1024 {
            feed(&mut e, &mut r, Direction::Server, &chunk);
            most_pending = most_pending.max(r.cap.as_ref().map_or(0, BodyCap::held));
        }
        feed(&mut e, &mut r, Direction::Server, b"\r\n.\r\n");
        // 16 MiB of one line went by; at most a flush threshold of it was ever held.
        assert!(
            most_pending <= super::super::body_cap::PARTIAL_LINE_FLUSH + chunk.len(),
            "{most_pending}"
        );
        let written = out.contents();
        assert!(
            written.len() < 64 << 10,
            "{} octets recorded",
            written.len()
        );
        let (sessions, damage) = read(&written);
        assert!(damage.is_none());
        let server: Vec<u8> = sessions
            .iter()
            .flat_map(|s| s.entries.iter())
            .filter_map(|e| match &e.item {
                crate::transcript::Item::Server(x) => Some(x.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert!(server.ends_with(b"\r\n.\r\n"));
        let text = String::from_utf8_lossy(&written);
        assert!(text.contains("\"truncated\""), "{text}");
    }
}
