//! An observer that prints the session as a transcript (the text format, so it can be re-checked)
//! with findings and state changes as comments, and collects the findings.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::session::{Note, Observer};
use crate::transcript::text::escape;
use popscope_core::{Command, Direction, Event, Time, TransportEvent};

/// What the printer gathered, shared with the command that owns it.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    pub(crate) findings: crate::check::FindingLog,
}

pub(crate) type Shared = Arc<Mutex<Gathered>>;

pub(crate) struct Printer {
    out: Option<Box<dyn Write + Send>>,
    /// Which connection of the run this is (probes open several).
    pub(crate) connection: usize,
    partial: Vec<u8>,
    /// Client lines as they went on the wire, each printed (masked) at its engine event: the
    /// printed session shows the octets sent, not the engine's parse of them.
    sent: std::collections::VecDeque<Vec<u8>>,
    sent_partial: Vec<u8>,
    /// The mechanism of the last AUTH sent: its responses are masked as recordings mask them
    /// (an OAuth response keeps `user=`/`a=` and its structure, the token masked).
    sasl_mechanism: Option<String>,
    gathered: Shared,
    label: String,
    /// Octets still to be written; past them the output stops (findings are still gathered).
    left: Option<u64>,
}

/// The printer behind the UI's `:save`: the session as a text transcript into `out`, up to the
/// recording's cap.
pub(crate) fn for_tui(out: Box<dyn Write + Send>) -> Box<dyn Observer> {
    Box::new(
        Printer::new(Some(out), 0, "tui", Shared::default())
            .with_limit(crate::session::task::MAX_RECORDING as u64),
    )
}

impl Printer {
    /// `out` None: collect only.
    pub(crate) fn new(
        out: Option<Box<dyn Write + Send>>,
        connection: usize,
        label: &str,
        gathered: Shared,
    ) -> Self {
        Printer {
            out,
            connection,
            partial: Vec::new(),
            sent: std::collections::VecDeque::new(),
            sent_partial: Vec::new(),
            sasl_mechanism: None,
            gathered,
            label: label.to_owned(),
            left: None,
        }
    }

    /// Writes at most about `limit` octets, then one line that says so: a session with a
    /// 1 GB body is not formatted line by line for a buffer that keeps none of it.
    pub(crate) fn with_limit(mut self, limit: u64) -> Self {
        self.left = Some(limit);
        self
    }

    fn line(&mut self, s: &str) {
        if let Some(o) = self.out.as_mut() {
            let _ = writeln!(o, "{s}");
            self.spend(s.len() + 1);
        }
    }

    /// Keeps the client's complete lines until their Command or SaslResponse event.
    fn client_wire(&mut self, bytes: &[u8]) {
        self.sent_partial.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(nl) = memchr::memchr(b'\n', &self.sent_partial[start..]) {
            let end = start + nl + 1;
            if self.sent.len() < SENT_LINES {
                self.sent.push_back(self.sent_partial[start..end].to_vec());
            }
            start = end;
        }
        self.sent_partial.drain(..start);
        if self.sent_partial.len() > SENT_LINE_MAX {
            // The engine does not take it as a line either (its framer cuts long lines).
            self.sent_partial.clear();
        }
    }

    /// The next line sent, if it is the one `command` was parsed from.
    fn sent_line(&mut self, command: &Command) -> Option<Vec<u8>> {
        let line = self.sent.pop_front()?;
        let content = line
            .strip_suffix(b"\r\n")
            .or_else(|| line.strip_suffix(b"\n"))
            .unwrap_or(&line);
        (Command::parse(content, 0).verb == command.verb).then_some(line)
    }

    fn spend(&mut self, n: usize) {
        let Some(left) = self.left.as_mut() else {
            return;
        };
        *left = left.saturating_sub(n as u64);
        if *left == 0
            && let Some(mut o) = self.out.take()
        {
            let _ = writeln!(
                o,
                "# the text transcript stops here (capped); --record streams a whole session"
            );
            let _ = o.flush();
            self.partial.clear();
        }
    }
}

/// Client lines kept for printing at most (a pipelined batch is rarely longer).
const SENT_LINES: usize = 4096;
/// A longer client line is printed from the engine's parse.
const SENT_LINE_MAX: usize = 64 * 1024;

/// A client line as printed: secrets masked where they stand, every other octet kept.
fn shown_client_line(line: &[u8]) -> String {
    let (content, end) = match line.strip_suffix(b"\r\n") {
        Some(c) => (c, &b"\r\n"[..]),
        None => match line.strip_suffix(b"\n") {
            Some(c) => (c, &b"\n"[..]),
            None => (line, &b""[..]),
        },
    };
    let mut shown =
        popscope_core::redact::client_line(content, None).unwrap_or_else(|| content.to_vec());
    shown.extend_from_slice(end);
    escape(&shown)
}

impl Observer for Printer {
    /// Output is buffered (stdout would flush at every line) and flushed once per read.
    fn settled(&mut self, _at: Time) {
        if let Some(o) = self.out.as_mut() {
            let _ = o.flush();
        }
    }

    fn wire(&mut self, _at: Time, dir: Direction, bytes: &[u8]) {
        if self.out.is_none() {
            return;
        }
        // Client lines are printed at the engine's Command events (secrets redacted).
        if dir == Direction::Client {
            self.client_wire(bytes);
            return;
        }
        self.partial.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(nl) = memchr::memchr(b'\n', &self.partial[start..]) {
            let end = start + nl + 1;
            let raw = &self.partial[start..end];
            match (raw.strip_suffix(b"\r\n"), self.out.as_mut()) {
                // Plain printable ASCII ending in CRLF is written as it is: nothing to escape.
                (Some(text), Some(o))
                    if text
                        .iter()
                        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\') =>
                {
                    let _ = o.write_all(b"S: ");
                    let _ = o.write_all(text);
                    let _ = o.write_all(b"\n");
                    let n = text.len() + 4;
                    self.spend(n);
                }
                _ => {
                    let shown = escape(raw);
                    self.line(&format!("S: {shown}"));
                }
            }
            if self.out.is_none() {
                // The limit was reached (and what was pending dropped).
                return;
            }
            start = end;
        }
        self.partial.drain(..start);
        if self.partial.len() > 4096 {
            let rest = std::mem::take(&mut self.partial);
            let shown = escape(&rest);
            self.line(&format!("S: {shown}"));
        }
    }

    fn note(&mut self, _at: Time, note: &Note) {
        match note {
            Note::Connected { addr } => {
                let label = self.label.clone();
                self.line(&format!("# connection {}: {label} {addr}", self.connection));
            }
            Note::Tls(d) => {
                let flags = match (d.cert_requested, d.client_cert_sent) {
                    (_, true) => " client-cert",
                    (true, false) => " cert-requested",
                    _ => "",
                };
                self.line(&format!("# {}", d.summary()));
                self.line(&format!("-- tls{flags}"));
            }
            Note::Transport(TransportEvent::ServerClosed { close_notify }) => {
                if !self.partial.is_empty() {
                    let rest = std::mem::take(&mut self.partial);
                    let shown = escape(&rest);
                    self.line(&format!("S: {shown}"));
                }
                self.line(if *close_notify {
                    "-- closed"
                } else {
                    "-- closed no-close-notify"
                });
            }
            Note::Transport(TransportEvent::Timeout) => self.line("-- timeout"),
            Note::Transport(TransportEvent::ClientClosed) => self.line("-- client-closed"),
            Note::Transport(TransportEvent::TlsFailed { reason }) => {
                let r = serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                self.line(&format!(
                    "-- tls-failed {}",
                    r.replace("plaintext-from-server", "plaintext")
                        .replace("server-alert", "alert")
                        .replace("client-aborted", "client")
                ));
            }
            Note::Transport(TransportEvent::TlsEstablished { .. }) => {}
            Note::Transport(
                ev @ (TransportEvent::ClientLegStls { .. }
                | TransportEvent::ClientLegTls { .. }
                | TransportEvent::ClientStlsRefused),
            ) => {
                if let Some(line) = crate::transcript::export::client_leg_directive(ev) {
                    self.line(&line);
                }
            }
            // Said by the command itself (stderr, or a JSON report's notes): not transcript.
            Note::Warning(_) => {}
        }
    }

    fn event(&mut self, _at: Time, ev: &Event<'_>) {
        match ev {
            Event::Command { command, .. } => {
                self.sasl_mechanism = (command.keyword == popscope_core::Keyword::Auth)
                    .then(|| command.arg(0))
                    .flatten()
                    .map(|m| String::from_utf8_lossy(m).to_ascii_uppercase());
                // Masked so that it replays like the original (a digest stays hex, base64 stays base64).
                let shown = match self.sent_line(command) {
                    Some(line) => shown_client_line(&line),
                    None => {
                        let mut shown = popscope_core::redact::command_line(command);
                        shown.extend_from_slice(b"\r\n");
                        escape(&shown)
                    }
                };
                self.line(&format!("C: {shown}"));
            }
            Event::SaslResponse(response) => {
                // Its octets are not printed: the line is a secret, unless it is one of the
                // dummy responses owed after an OAuth error challenge (RFC 7628 §3.2.3), which
                // carry nothing and show what the client did.
                let sent = self.sent.pop_front();
                let content = sent
                    .as_deref()
                    .map(|l| l.strip_suffix(b"\n").unwrap_or(l))
                    .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                    .filter(|l| l.len() == response.octets);
                let dummy = content.filter(|l| popscope_core::oauth::is_dummy_response(l));
                // The recordings' mask: the same length and validity, so it replays the same
                // way, and an OAuth response keeps what is not the token.
                let masked = content
                    .zip(self.sasl_mechanism.as_deref())
                    .and_then(|(line, mech)| popscope_core::redact::client_line(line, Some(mech)));
                let fill = if response.valid_base64 { "A" } else { "!" };
                let shown = if response.cancel {
                    "*".to_owned()
                } else if let Some(d) = dummy {
                    String::from_utf8_lossy(d).into_owned()
                } else if let Some(mut m) = masked {
                    m.extend_from_slice(b"\r\n");
                    escape(&m)
                } else {
                    fill.repeat(response.octets)
                };
                if dummy.is_none() {
                    self.line(
                        "# the next line is a SASL response, redacted (same length and validity)",
                    );
                }
                self.line(&format!("C: {shown}"));
            }
            Event::StateChange(t) => {
                let mark = if t.lawful { "" } else { " (unlawful)" };
                self.line(&format!("#   → {}{mark}: {}", t.to.name(), t.reason));
            }
            Event::Finding(f) => {
                self.line(&format!(
                    "#   {} {} {} ({}): {}{}",
                    f.severity.marker(),
                    f.rule.id,
                    f.severity.as_str(),
                    f.rule.rfc,
                    f.message,
                    if f.suspected { " [suspected]" } else { "" }
                ));
                if let Ok(mut g) = self.gathered.lock() {
                    g.findings.push(self.connection, f);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use popscope_core::{Config, Engine};

    /// The printed client lines are the octets sent (blanks kept), secrets masked where they
    /// stand with the line's length kept.
    #[test]
    fn client_lines_are_printed_as_sent_with_secrets_masked_in_place() {
        let out = crate::session::task::Recording::default();
        let mut p = Printer::new(Some(Box::new(out.clone())), 0, "t", Shared::default());
        let mut e = Engine::new(Config::default());
        let at = Time(1);
        p.wire(at, Direction::Server, b"+OK ready <1.2@x>\r\n");
        e.handle_server(at, b"+OK ready <1.2@x>\r\n", &mut |ev: Event<'_>| {
            p.event(at, &ev)
        });
        let digest = "c4c9334bac560ecc979e58001b3e22fb";
        let sent = format!("NOOP   a  b\r\nAPOP  demo  {digest}\r\n PASS x  y\r\nUSER\tme\r\n");
        p.wire(at, Direction::Client, sent.as_bytes());
        e.handle_client(at, sent.as_bytes(), &mut |ev: Event<'_>| p.event(at, &ev));
        let text = String::from_utf8_lossy(&out.contents()).into_owned();
        let printed: Vec<&str> = text.lines().filter(|l| l.starts_with("C: ")).collect();
        let masked = "0".repeat(digest.len());
        assert_eq!(
            printed,
            [
                "C: NOOP   a  b",
                &format!("C: APOP  demo  {masked}"),
                "C:  PASS ****",
                "C: USER\\tme",
            ],
            "{text}"
        );
        assert!(!text.contains(digest) && !text.contains("x  y"), "{text}");
    }

    #[test]
    fn a_limited_printer_stops_writing_but_keeps_gathering_findings() {
        let out = crate::session::task::Recording::default();
        let gathered = Shared::default();
        let mut p =
            Printer::new(Some(Box::new(out.clone())), 0, "t", gathered.clone()).with_limit(10_000);
        let mut e = Engine::new(Config::default());
        let at = Time(1);
        let feed = |p: &mut Printer, e: &mut Engine, bytes: &[u8]| {
            p.wire(at, Direction::Server, bytes);
            e.handle_server(at, bytes, &mut |ev: Event<'_>| p.event(at, &ev));
        };
        feed(&mut p, &mut e, b"+OK ready\r\n");
        for _ in 0..100 {
            feed(&mut p, &mut e, &b"* unsolicited junk line\r\n".repeat(100));
        }
        // A command answered in lower case, long after the limit: still a finding.
        e.handle_client(at, b"NOOP\r\n", &mut |ev: Event<'_>| p.event(at, &ev));
        feed(&mut p, &mut e, b"+ok late\r\n");
        let written = out.contents().len();
        assert!(written < 10_200, "{written} octets written");
        let text = String::from_utf8_lossy(&out.contents()).into_owned();
        assert!(
            text.ends_with("--record streams a whole session\n"),
            "{text}"
        );
        let rules: Vec<&str> = gathered
            .lock()
            .map(|g| g.findings.kept.iter().map(|(_, f)| f.rule.id).collect())
            .unwrap_or_default();
        assert!(rules.contains(&"GEN-002"), "{rules:?}");
    }
}
