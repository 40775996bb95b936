//! Recorded sessions as JSON Lines (format 1): a header, then one record per event, written
//! and flushed as the session goes, so a crash or a kill loses nothing already received.
//!
//! ```text
//! {"type":"header","format":1,"popscope":"0.1.0","target":"pop3://…","started":1795478400.12,"secrets":"redacted"}
//! {"type":"data","t":0.0012,"dir":"server","text":"+OK ready\r\n"}
//! {"type":"data","t":0.0030,"dir":"client","text":"PASS ******\r\n","redacted":true}
//! {"type":"data","t":0.0051,"dir":"server","b64":"K09LIMOkDQo="}
//! {"type":"tls","t":0.0400,"details":{…}}
//! {"type":"transport","t":0.0400,"event":{"event":"tls-established","cert_requested":false,"client_cert":false}}
//! {"type":"state","t":0.0510,"from":"AUTHORIZATION","to":"TRANSACTION","reason":"…","lawful":true}
//! {"type":"finding","t":0.0520,"rule":"ST-001","severity":"violation","message":"…","exchange":3}
//! ```
//! `data` holds the exact octets of one read or write: `text` when they are UTF-8 without
//! control characters other than CR, LF and TAB and without invisible or reordering characters
//! (bidi overrides, U+2028, tags: JSON does not escape them, `cat` would show them raw), `b64`
//! otherwise. `state` and `finding`
//! records say what the engine of the recording popscope derived; a re-check ignores them and
//! runs today's engine on the data. A file may hold several sessions, each from its header.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::session::{Note, Observer};
use crate::transport::TlsDetails;
use popscope_core::{Direction, Event, RuleInfo, Severity, State, Time, TransportEvent};

use super::text::{Entry, Item};

pub(crate) const FORMAT: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(crate) enum Record {
    Header {
        format: u32,
        popscope: String,
        target: String,
        /// Seconds since the Unix epoch when the session started.
        started: f64,
        /// "redacted" (the default) or "kept" (--record-secrets).
        secrets: String,
    },
    Data {
        t: f64,
        dir: Direction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        b64: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        redacted: bool,
    },
    Transport {
        t: f64,
        event: TransportEvent,
    },
    Tls {
        t: f64,
        details: Box<TlsDetails>,
    },
    State {
        t: f64,
        #[serde(with = "by_name::state")]
        from: State,
        #[serde(with = "by_name::state")]
        to: State,
        reason: String,
        lawful: bool,
    },
    /// `--max-body`: this many octets of the body of `exchange` were left out of the recording
    /// (the engine of the recording session saw them all).
    Truncated {
        t: f64,
        exchange: u32,
        octets: u64,
    },
    Finding {
        t: f64,
        #[serde(with = "by_name::rule")]
        rule: &'static RuleInfo,
        #[serde(with = "by_name::severity")]
        severity: Severity,
        message: String,
        exchange: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        suspected: bool,
    },
}

/// State, rule and severity fields hold the names people read (`AUTHORIZATION (USER
/// accepted)`, `ST-001`, `violation`), exactly as they did when they were strings.
mod by_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// The value among `all` whose name is the string read.
    fn find<'de, D: Deserializer<'de>, T: Copy>(
        d: D,
        all: impl IntoIterator<Item = T>,
        name: impl Fn(T) -> &'static str,
        what: &str,
    ) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        all.into_iter()
            .find(|v| name(*v) == s)
            .ok_or_else(|| D::Error::custom(format!("unknown {what}")))
    }

    pub(crate) mod state {
        use popscope_core::{AuthStep, State};

        /// Every state the engine names. One it does not know is not damage: the reader skips
        /// the record (see `derived_only`).
        const ALL: [State; 9] = [
            State::TlsHandshake,
            State::Greeting,
            State::Authorization(AuthStep::Idle),
            State::Authorization(AuthStep::UserOk),
            State::Authorization(AuthStep::Sasl),
            State::Authorization(AuthStep::StlsHandshake),
            State::Transaction,
            State::Update,
            State::Closed,
        ];

        pub(crate) fn serialize<S: super::Serializer>(v: &State, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(v.name())
        }

        pub(crate) fn deserialize<'de, D: super::Deserializer<'de>>(
            d: D,
        ) -> Result<State, D::Error> {
            super::find(d, ALL, State::name, "state")
        }
    }

    pub(crate) mod severity {
        use popscope_core::Severity;

        const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Violation];

        pub(crate) fn serialize<S: super::Serializer>(
            v: &Severity,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.serialize_str(v.as_str())
        }

        pub(crate) fn deserialize<'de, D: super::Deserializer<'de>>(
            d: D,
        ) -> Result<Severity, D::Error> {
            super::find(d, ALL, Severity::as_str, "severity")
        }
    }

    pub(crate) mod rule {
        use popscope_core::RuleInfo;
        use popscope_core::rules::CATALOG;

        pub(crate) fn serialize<S: super::Serializer>(
            v: &&'static RuleInfo,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.serialize_str(v.id)
        }

        pub(crate) fn deserialize<'de, D: super::Deserializer<'de>>(
            d: D,
        ) -> Result<&'static RuleInfo, D::Error> {
            super::find(d, CATALOG.iter().copied(), |r| r.id, "rule")
        }
    }
}

/// Whether a line a reader could not read is a `state` or `finding` record: what the
/// recording's own popscope derived (perhaps a newer one, with a state or a rule this one does
/// not know), which a re-check ignores anyway, so it is skipped rather than taken for damage.
fn derived_only(raw: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_slice::<Kind>(raw)
        .is_ok_and(|k| matches!(k.kind.as_str(), "state" | "finding"))
}

fn clean_text(bytes: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(bytes).ok()?;
    s.chars()
        .all(|c| {
            (!c.is_control() || matches!(c, '\r' | '\n' | '\t'))
                && !popscope_core::sanitize::is_invisible_or_reordering(c)
        })
        .then_some(s)
}

impl Record {
    pub(crate) fn data(t: f64, dir: Direction, bytes: &[u8], redacted: bool) -> Record {
        match clean_text(bytes) {
            Some(s) => Record::Data {
                t,
                dir,
                text: Some(s.to_owned()),
                b64: None,
                redacted,
            },
            None => Record::Data {
                t,
                dir,
                text: None,
                b64: Some(popscope_core::auth::b64encode(bytes)),
                redacted,
            },
        }
    }
}

/// Which event a received line turned out to be (for `--max-body`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineKind {
    /// A status line, challenge, discarded line or a body's terminator: always kept (and the
    /// end of a capped run).
    Kept,
    /// A data line of the body of this exchange, or an unsolicited line after it (a flood
    /// after QUIT is capped like a body).
    Body(u32),
}

/// `--max-body` state: server octets wait until the engine has said what each line was.
#[derive(Default)]
struct BodyCap {
    limit: u64,
    pending: Vec<u8>,
    /// `pending[..scanned]` holds no line end beyond the lines already released: a line that
    /// arrives in a thousand reads is scanned once, not a thousand times.
    scanned: usize,
    /// The engine is inside the data block of this exchange: a partial line at the end of
    /// `pending` is body.
    in_body: Option<u32>,
    kinds: std::collections::VecDeque<LineKind>,
    /// Octets kept and dropped of the current body (or run of unsolicited lines).
    kept: u64,
    dropped: u64,
    /// The exchange the dropped octets belong to.
    dropped_in: u32,
}

impl BodyCap {
    /// Keeps `line` if the budget allows, else counts it as left out.
    fn take(&mut self, line: &[u8], exchange: u32, kept: &mut Vec<u8>) {
        if self.kept + line.len() as u64 <= self.limit {
            self.kept += line.len() as u64;
            kept.extend_from_slice(line);
        } else {
            self.dropped += line.len() as u64;
            self.dropped_in = exchange;
        }
    }

    /// Ends a capped run: what was kept, then the marker for what was not.
    fn close_run(&mut self, at: Time, kept: &mut Vec<u8>, records: &mut Vec<Record>) {
        if self.dropped > 0 {
            records.push(Record::data(
                secs(at),
                Direction::Server,
                &std::mem::take(kept),
                false,
            ));
            records.push(Record::Truncated {
                t: secs(at),
                exchange: self.dropped_in,
                octets: self.dropped,
            });
        }
        self.kept = 0;
        self.dropped = 0;
    }
}

/// Past this many octets without a line end, `--max-body` releases a partial line.
const PARTIAL_LINE_FLUSH: usize = 64 << 10;

/// An observer that writes the session as JSON Lines.
pub(crate) struct Recorder {
    out: Box<dyn Write + Send>,
    keep_secrets: bool,
    cap: Option<BodyCap>,
    /// The mechanism of the SASL exchange whose challenge is open.
    sasl: Option<String>,
    pending_mechanism: Option<String>,
    failed: bool,
}

impl Recorder {
    /// Writes the header at once.
    pub(crate) fn new(
        mut out: Box<dyn Write + Send>,
        target: &str,
        keep_secrets: bool,
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
        };
        let failed = write_record(&mut out, &header).is_err();
        Recorder {
            out,
            keep_secrets,
            cap: None,
            sasl: None,
            pending_mechanism: None,
            failed,
        }
    }

    /// Keep at most `limit` octets of each message body (a marker says how many were left out).
    pub(crate) fn with_max_body(mut self, limit: Option<u64>) -> Recorder {
        self.cap = limit.map(|limit| BodyCap {
            limit,
            ..BodyCap::default()
        });
        self
    }

    /// Writes the server octets whose lines the engine has classified, cutting bodies.
    fn release(&mut self, at: Time, everything: bool) {
        let Some(cap) = self.cap.as_mut() else { return };
        let mut kept = Vec::new();
        let mut records: Vec<Record> = Vec::new();
        let mut pending = std::mem::take(&mut cap.pending);
        let mut consumed = 0;
        while let Some(nl) = memchr::memchr(b'\n', &pending[cap.scanned.max(consumed)..]) {
            let end = cap.scanned.max(consumed) + nl + 1;
            let line = &pending[consumed..end];
            consumed = end;
            match cap.kinds.pop_front().unwrap_or(LineKind::Kept) {
                LineKind::Body(exchange) => cap.take(line, exchange, &mut kept),
                LineKind::Kept => {
                    cap.close_run(at, &mut kept, &mut records);
                    kept.extend_from_slice(line);
                }
            }
        }
        pending.drain(..consumed);
        cap.scanned = pending.len();
        // At a close, or when a line has no end in sight, its start is released now (capped
        // like the rest of the body), so memory stays bounded however long the line runs.
        if everything || pending.len() > PARTIAL_LINE_FLUSH {
            match cap.in_body {
                Some(exchange) => cap.take(&pending, exchange, &mut kept),
                None => kept.extend_from_slice(&pending),
            }
            pending.clear();
            cap.scanned = 0;
        }
        if everything {
            cap.close_run(at, &mut kept, &mut records);
        }
        cap.pending = pending;
        if !kept.is_empty() {
            records.push(Record::data(secs(at), Direction::Server, &kept, false));
        }
        for r in records
            .iter()
            .filter(|r| !matches!(r, Record::Data { text: Some(t), .. } if t.is_empty()))
        {
            self.put(r);
        }
    }

    fn put(&mut self, r: &Record) {
        if !self.failed && write_record(&mut self.out, r).is_err() {
            // A full disk must not end the session; the record stops where it failed.
            self.failed = true;
        }
    }

    /// Client octets with every secret line masked (lines keep their length).
    fn redact_client(&self, bytes: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(bytes.len());
        let mut changed = false;
        let mut sasl = self.sasl.clone();
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            let (line, end) = match piece.strip_suffix(b"\r\n") {
                Some(l) => (l, &b"\r\n"[..]),
                None => match piece.strip_suffix(b"\n") {
                    Some(l) => (l, &b"\n"[..]),
                    None => (piece, &b""[..]),
                },
            };
            match popscope_core::redact::client_line(line, sasl.as_deref()) {
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

fn write_record(out: &mut Box<dyn Write + Send>, r: &Record) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

fn secs(t: Time) -> f64 {
    t.as_secs_f64()
}

impl Observer for Recorder {
    fn wire(&mut self, at: Time, dir: Direction, bytes: &[u8]) {
        if dir == Direction::Server
            && let Some(cap) = self.cap.as_mut()
        {
            cap.pending.extend_from_slice(bytes);
            return;
        }
        if dir == Direction::Client && !self.keep_secrets {
            let (b, redacted) = self.redact_client(bytes);
            self.put(&Record::data(secs(at), dir, &b, redacted));
        } else {
            self.put(&Record::data(secs(at), dir, bytes, false));
        }
    }

    fn settled(&mut self, at: Time) {
        self.release(at, false);
    }

    fn note(&mut self, at: Time, note: &Note) {
        if matches!(note, Note::Transport(_)) {
            // A close or a timeout: what is pending will not be classified any further.
            self.release(at, true);
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
            match ev {
                Event::Reply(r) => {
                    cap.kinds.push_back(LineKind::Kept);
                    cap.in_body = r.multiline.then_some(r.exchange);
                }
                Event::Unsolicited { exchange, .. } => {
                    cap.kinds.push_back(LineKind::Body(*exchange))
                }
                Event::Challenge { .. } | Event::Discarded { .. } => {
                    cap.kinds.push_back(LineKind::Kept)
                }
                Event::BodyLine { exchange, .. } => cap.kinds.push_back(LineKind::Body(*exchange)),
                Event::BodyEnd { complete, .. } => {
                    // Only a complete body has a terminator line.
                    if *complete {
                        cap.kinds.push_back(LineKind::Kept);
                    }
                    cap.in_body = None;
                }
                _ => {}
            }
        }
        match ev {
            Event::Command { command, .. } => self.pending_mechanism = command.mechanism(),
            Event::Challenge { .. } => self.sasl = self.pending_mechanism.clone(),
            Event::SaslResponse { .. } => self.sasl = None,
            Event::Reply(_) => {
                self.sasl = None;
                self.pending_mechanism = None;
            }
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

/// A shared, append-only file for `--record`: every connection of a run writes its session
/// (header first) into it. The first write error is kept: the recorders stop writing at it
/// (the session goes on), and [`RecordFile::finish`] reports it at the end of the run.
#[derive(Clone)]
pub(crate) struct RecordFile(std::sync::Arc<std::sync::Mutex<RecordState>>);

struct RecordState {
    file: std::fs::File,
    path: std::path::PathBuf,
    /// The first write error, sticky: nothing more is written after it.
    error: Option<std::io::Error>,
    /// The error was told while the run went on ([`RecordFile::take_failure`]).
    told: bool,
}

impl RecordFile {
    /// Creates `path` private (0600), never through a symbolic link; an existing file is
    /// refused unless `replace` (--force). The error is one line naming the file.
    pub(crate) fn create(path: &std::path::Path, replace: bool) -> Result<RecordFile, String> {
        use crate::private_file::{self, Existing};
        let how = if replace {
            Existing::Replace
        } else {
            Existing::Refuse
        };
        let file = private_file::open(path, how).map_err(|e| private_file::explain(path, &e))?;
        Ok(RecordFile(std::sync::Arc::new(std::sync::Mutex::new(
            RecordState {
                file,
                path: path.to_path_buf(),
                error: None,
                told: false,
            },
        ))))
    }

    /// Ends the recording: the first write error of the run if there was one, else the file
    /// flushed to disk (a regular file's `fsync`; a device has none). One line on failure.
    pub(crate) fn finish(&self) -> Result<(), String> {
        let mut st = self
            .0
            .lock()
            .map_err(|_| "the record file's lock was poisoned".to_owned())?;
        let st = &mut *st;
        if st.error.is_none() {
            let synced = st.file.flush().and_then(|()| match st.file.metadata() {
                Ok(m) if m.is_file() => st.file.sync_all(),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            });
            st.error = synced.err();
        }
        match st.failure() {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// The first write error, once: the first call after it happened returns it (one line
    /// naming the file), every other call None. For a UI to say it while the session goes on;
    /// [`RecordFile::finish`] still reports it at the end.
    pub(crate) fn take_failure(&self) -> Option<String> {
        let mut st = self.0.lock().ok()?;
        if st.told {
            return None;
        }
        let e = st.failure()?;
        st.told = true;
        Some(e)
    }

    /// An observer that tells `tell` the first write error as soon as a write failed (it
    /// looks after every read and write of the session): put it after the recorders.
    pub(crate) fn watcher(
        &self,
        tell: Box<dyn FnMut(Time, String) + Send>,
    ) -> Box<dyn crate::session::Observer> {
        Box::new(Watcher {
            file: self.clone(),
            tell,
        })
    }

    /// A recorder that keeps at most `max_body` octets of each message body.
    pub(crate) fn recorder_with(
        &self,
        target: &str,
        keep_secrets: bool,
        max_body: Option<u64>,
    ) -> Box<dyn crate::session::Observer> {
        Box::new(
            Recorder::new(Box::new(self.clone()), target, keep_secrets).with_max_body(max_body),
        )
    }
}

impl RecordState {
    fn failure(&self) -> Option<String> {
        let e = self.error.as_ref()?;
        Some(format!(
            "{}; the recording is incomplete",
            crate::private_file::explain(&self.path, e)
        ))
    }
}

/// See [`RecordFile::watcher`].
struct Watcher {
    file: RecordFile,
    tell: Box<dyn FnMut(Time, String) + Send>,
}

impl crate::session::Observer for Watcher {
    fn settled(&mut self, at: Time) {
        if let Some(e) = self.file.take_failure() {
            (self.tell)(at, e);
        }
    }
}

impl std::io::Write for RecordFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut st = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("record file lock poisoned"))?;
        if let Some(e) = &st.error {
            return Err(std::io::Error::new(e.kind(), e.to_string()));
        }
        match st.file.write_all(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                let again = std::io::Error::new(e.kind(), e.to_string());
                st.error = Some(e);
                Err(again)
            }
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let mut st = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("record file lock poisoned"))?;
        if let Some(e) = &st.error {
            return Err(std::io::Error::new(e.kind(), e.to_string()));
        }
        let r = st.file.flush();
        if let Err(e) = r {
            let again = std::io::Error::new(e.kind(), e.to_string());
            st.error = Some(e);
            return Err(again);
        }
        Ok(())
    }
}

/// One recorded session: its header and what to replay.
#[derive(Debug, Default)]
pub struct Session {
    pub target: String,
    pub secrets: String,
    pub entries: Vec<Entry>,
    pub(crate) tls: Vec<TlsDetails>,
}

/// What reading stopped at, if the file is damaged: everything before it was read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct Damage {
    pub line: usize,
    pub(crate) message: String,
}

/// Whether the bytes look like a JSON Lines transcript (rather than the text format).
pub(crate) fn looks_like(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// A string read from a recording, as it may be shown: popscope records display text (made
/// by `popscope_core::sanitize::display` when the session ran), kept as it is so it is not escaped
/// twice; anything else (a hand-edited recording holding ESC, BEL, U+202E, a line break, or
/// an overlong value) goes through `display` here, once, before any output sees it.
pub(crate) fn shown(s: &str, max: usize) -> String {
    let clean = !s
        .chars()
        .any(|c| c.is_control() || popscope_core::sanitize::is_invisible_or_reordering(c))
        && s.chars().count() <= max;
    if clean {
        s.to_owned()
    } else {
        popscope_core::sanitize::display(s.as_bytes(), max)
    }
}

/// Every text field of recorded TLS details made safe with [`shown`] (the limits are those
/// of the live side: 512 characters for a name, 255 for a subjectAltName).
pub(crate) fn shown_tls(d: &TlsDetails) -> TlsDetails {
    let f = |s: &str| shown(s, 200);
    TlsDetails {
        version: f(&d.version),
        cipher: f(&d.cipher),
        group: d.group.as_deref().map(f),
        alpn: d.alpn.as_deref().map(f),
        chain: d
            .chain
            .iter()
            .map(|c| crate::transport::tls::CertInfo {
                subject: shown(&c.subject, 512),
                issuer: shown(&c.issuer, 512),
                sans: c.sans.iter().map(|n| shown(n, 255)).collect(),
                not_before: f(&c.not_before),
                not_after: f(&c.not_after),
                sha256: f(&c.sha256),
                ..c.clone()
            })
            .collect(),
        verdict: d.verdict.map_reason(|why| shown(why, 512)),
        ..d.clone()
    }
}

/// What the streaming reader hands out, in file order.
pub(crate) enum Streamed {
    /// A new session begins.
    Header {
        target: String,
        secrets: String,
    },
    Entry(Entry),
    Tls(Box<TlsDetails>),
}

/// One JSON line may be at most this long (a data record of a 64 KiB read is about 90 KB);
/// longer is damage, so a hostile file cannot exhaust memory.
const MAX_RECORD: usize = 64 << 20;

/// Reads record by record, in bounded memory; stops at the first damaged line.
pub(crate) fn stream<R: std::io::BufRead>(
    mut r: R,
    mut on: impl FnMut(Streamed),
) -> Option<Damage> {
    use std::io::{BufRead as _, Read as _};
    let mut raw = Vec::new();
    let mut line = 0usize;
    let mut in_session = false;
    loop {
        raw.clear();
        line += 1;
        let damage = |message: String| Some(Damage { line, message });
        let n = match (&mut r)
            .take(MAX_RECORD as u64 + 1)
            .read_until(b'\n', &mut raw)
        {
            Ok(n) => n,
            Err(e) => return damage(format!("cannot read: {e}")),
        };
        if n == 0 {
            break;
        }
        if raw.len() > MAX_RECORD {
            return damage("a record longer than 64 MiB".into());
        }
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record: Record = match serde_json::from_slice(&raw) {
            Ok(r) => r,
            Err(_) if in_session && derived_only(&raw) => continue,
            Err(_) if derived_only(&raw) => {
                return damage("the first record must be the header".into());
            }
            Err(e) => {
                return damage(format!(
                    "not a transcript record ({e}); everything before it was read"
                ));
            }
        };
        if let Record::Header {
            format,
            target,
            secrets,
            ..
        } = record
        {
            if format != FORMAT {
                return damage(format!(
                    "transcript format {format}; this popscope reads format {FORMAT}"
                ));
            }
            in_session = true;
            on(Streamed::Header {
                target: shown(&target, 200),
                secrets: shown(&secrets, 20),
            });
            continue;
        }
        if !in_session {
            return damage("the first record must be the header".into());
        }
        let at = |t: f64| Some(Time((t.max(0.0) * 1e6) as u64));
        match record {
            Record::Header { .. }
            | Record::State { .. }
            | Record::Finding { .. }
            | Record::Truncated { .. } => {}
            Record::Data {
                t, dir, text, b64, ..
            } => {
                let bytes = match (text, b64) {
                    (Some(t), None) => t.into_bytes(),
                    (None, Some(b)) => match popscope_core::auth::b64decode(b.as_bytes()) {
                        Some(v) => v,
                        None => return damage("b64 is not valid base64".into()),
                    },
                    _ => return damage("a data record holds exactly one of text and b64".into()),
                };
                let item = match dir {
                    Direction::Client => Item::Client(bytes),
                    Direction::Server => Item::Server(bytes),
                };
                on(Streamed::Entry(Entry {
                    line,
                    item,
                    at: at(t),
                }));
            }
            Record::Transport { t, event } => on(Streamed::Entry(Entry {
                line,
                item: Item::Transport(event),
                at: at(t),
            })),
            Record::Tls { details, .. } => on(Streamed::Tls(Box::new(shown_tls(&details)))),
        }
    }
    if !in_session {
        return Some(Damage {
            line: 1,
            message: "no header: not a popscope transcript".into(),
        });
    }
    None
}

/// Session `n` (from 1) of a recording, with the damage found reading it, if any.
pub(crate) fn session(bytes: &[u8], n: usize) -> Result<(Session, Option<Damage>), String> {
    let (mut sessions, damage) = read(bytes);
    let count = sessions.len();
    if n == 0 || n > count {
        return Err(format!(
            "it holds {count} session(s); --session {n} is not one of them"
        ));
    }
    Ok((sessions.swap_remove(n - 1), damage))
}

/// Reads every session into memory; stops at the first damaged line and says where.
pub fn read(bytes: &[u8]) -> (Vec<Session>, Option<Damage>) {
    let mut sessions: Vec<Session> = Vec::new();
    let damage = stream(bytes, |s| match s {
        Streamed::Header { target, secrets } => sessions.push(Session {
            target,
            secrets,
            ..Session::default()
        }),
        Streamed::Entry(e) => {
            if let Some(s) = sessions.last_mut() {
                s.entries.push(e);
            }
        }
        Streamed::Tls(d) => {
            if let Some(s) = sessions.last_mut() {
                s.tls.push(*d);
            }
        }
    });
    (sessions, damage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use popscope_core::{Config, Engine};

    #[test]
    fn the_watcher_tells_the_first_write_error_once_and_finish_still_fails() {
        let file = RecordFile::create(std::path::Path::new("/dev/full"), true).unwrap();
        let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = told.clone();
        let mut w = file.watcher(Box::new(move |_, e| seen.lock().unwrap().push(e)));
        w.settled(Time(1));
        assert!(told.lock().unwrap().is_empty(), "nothing failed yet");
        let _rec = file.recorder_with("pop3://x", false, None);
        w.settled(Time(2));
        w.settled(Time(3));
        let told = told.lock().unwrap().clone();
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(told[0].contains("/dev/full"), "{told:?}");
        assert!(file.finish().is_err());
    }

    /// A Write that keeps what it is given, shared with the test.
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
            most_pending = most_pending.max(r.cap.as_ref().map_or(0, |c| c.pending.len()));
        }
        feed(&mut e, &mut r, Direction::Server, b"\r\n.\r\n");
        // 16 MiB of one line went by; at most a flush threshold of it was ever held.
        assert!(
            most_pending <= PARTIAL_LINE_FLUSH + chunk.len(),
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

    #[test]
    fn data_is_text_when_clean_and_base64_otherwise() {
        assert!(matches!(
            Record::data(0.0, Direction::Server, b"+OK ready\r\n", false),
            Record::Data { text: Some(_), .. }
        ));
        assert!(matches!(
            Record::data(0.0, Direction::Server, b"+OK \x1b[2J\r\n", false),
            Record::Data { b64: Some(_), .. }
        ));
        assert!(matches!(
            Record::data(0.0, Direction::Server, b"\xff\r\n", false),
            Record::Data { b64: Some(_), .. }
        ));
    }

    /// Recordings made by popscope before its records were typed (`popscope serve` and
    /// `popscope send --record`, STLS with --insecure and implicit TLS verified).
    const RECORDED: [&str; 2] = ["starttls-hostile.jsonl", "implicit-deleted.jsonl"];

    fn recorded(name: &str) -> String {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings");
        std::fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn recordings_made_before_the_records_were_typed_read_and_write_back_byte_for_byte() {
        for name in RECORDED {
            let file = recorded(name);
            let mut kinds = std::collections::BTreeSet::new();
            for line in file.lines() {
                let r: Record =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
                kinds.insert(line.split('"').nth(3).unwrap_or_default().to_owned());
                assert_eq!(serde_json::to_string(&r).unwrap(), line, "{name}");
            }
            for kind in ["header", "data", "tls", "transport", "state", "finding"] {
                assert!(
                    kinds.contains(kind),
                    "{name} holds no {kind} record: {kinds:?}"
                );
            }
            let (sessions, damage) = read(file.as_bytes());
            assert!(damage.is_none(), "{name}: {damage:?}");
            assert_eq!(sessions.len(), 1);
        }
    }

    #[test]
    fn the_verdicts_of_recorded_handshakes_read_as_what_they_said() {
        use crate::transport::tls::Verdict;
        let (hostile, _) = read(recorded(RECORDED[0]).as_bytes());
        let (implicit, _) = read(recorded(RECORDED[1]).as_bytes());
        assert!(
            matches!(&hostile[0].tls[0].verdict, Verdict::Failed(why) if why.starts_with("unknown issuer"))
        );
        assert!(hostile[0].tls[0].insecure);
        assert_eq!(implicit[0].tls[0].verdict, Verdict::Verified);
    }

    #[test]
    fn a_state_or_finding_this_version_does_not_know_is_skipped_not_damage() {
        let header = "{\"type\":\"header\",\"format\":1,\"popscope\":\"x\",\"target\":\"t\",\"started\":0,\"secrets\":\"redacted\"}\n";
        let data = "{\"type\":\"data\",\"t\":0.1,\"dir\":\"server\",\"text\":\"+OK\\r\\n\"}\n";
        let unknown = [
            "{\"type\":\"finding\",\"t\":0.1,\"rule\":\"NEW-999\",\"severity\":\"info\",\"message\":\"m\",\"exchange\":0}\n",
            "{\"type\":\"finding\",\"t\":0.1,\"rule\":\"ST-001\",\"severity\":\"fatal\",\"message\":\"m\",\"exchange\":0}\n",
            "{\"type\":\"state\",\"t\":0.1,\"from\":\"greeting\",\"to\":\"LIMBO\",\"reason\":\"r\",\"lawful\":true}\n",
        ];
        for u in unknown {
            let (sessions, damage) = read(format!("{header}{u}{data}").as_bytes());
            assert!(damage.is_none(), "{u}: {damage:?}");
            assert_eq!(sessions[0].entries.len(), 1, "{u}");
            let (_, damage) = read(format!("{u}{header}").as_bytes());
            assert_eq!(
                damage.map(|d| d.message),
                Some("the first record must be the header".to_owned())
            );
        }
    }

    #[test]
    fn damage_keeps_what_came_before() {
        let file = b"{\"type\":\"header\",\"format\":1,\"popscope\":\"x\",\"target\":\"t\",\"started\":0,\"secrets\":\"redacted\"}\n{\"type\":\"data\",\"t\":0.1,\"dir\":\"server\",\"text\":\"+OK\\r\\n\"}\n{\"type\":\"da";
        let (sessions, damage) = read(file);
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].entries.len(), 1);
        assert_eq!(damage.map(|d| d.line), Some(3));
    }
}
