//! An observer that prints the session as a transcript (the text format, so it can be re-checked)
//! with findings and state changes as comments, and collects the findings.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::protocol::{Direction, Event, Finding, Severity, Time, TransportEvent};
use crate::session::{Note, Observer};
use crate::transcript::text::escape;

/// What the printer gathered, shared with the command that owns it.
#[derive(Debug, Default)]
pub struct Gathered {
    pub findings: Vec<(usize, Finding)>,
}

pub type Shared = Arc<Mutex<Gathered>>;

pub struct Printer {
    out: Option<Box<dyn Write + Send>>,
    /// Which connection of the run this is (probes open several).
    pub connection: usize,
    partial: Vec<u8>,
    gathered: Shared,
    label: String,
}

impl Printer {
    /// `out` None: collect only.
    pub fn new(
        out: Option<Box<dyn Write + Send>>,
        connection: usize,
        label: &str,
        gathered: Shared,
    ) -> Self {
        Printer {
            out,
            connection,
            partial: Vec::new(),
            gathered,
            label: label.to_owned(),
        }
    }

    fn line(&mut self, s: &str) {
        if let Some(o) = self.out.as_mut() {
            let _ = writeln!(o, "{s}");
        }
    }
}

fn marker(s: Severity) -> &'static str {
    match s {
        Severity::Violation => "✖",
        Severity::Warning => "⚠",
        Severity::Info => "ℹ",
    }
}

impl Observer for Printer {
    /// Output is buffered (stdout would flush at every line) and flushed once per read.
    fn settled(&mut self, _at: Time) {
        if let Some(o) = self.out.as_mut() {
            let _ = o.flush();
        }
    }

    fn wire(&mut self, _at: Time, dir: Direction, bytes: &[u8]) {
        // Client lines are printed from the engine's Command events (secrets redacted).
        if dir != Direction::Server || self.out.is_none() {
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
                }
                _ => {
                    let shown = escape(raw);
                    self.line(&format!("S: {shown}"));
                }
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
        }
    }

    fn event(&mut self, _at: Time, ev: &Event<'_>) {
        match ev {
            Event::Command { command, .. } => {
                // Masked so that it replays like the original (a digest stays hex, base64 stays base64).
                let mut shown = crate::protocol::redact::command_line(command);
                shown.extend_from_slice(b"\r\n");
                self.line(&format!("C: {}", escape(&shown)));
            }
            Event::SaslResponse {
                cancel,
                octets,
                valid_base64,
                ..
            } => {
                // A placeholder of the same length and validity replays the same way.
                let fill = if *valid_base64 { "A" } else { "!" };
                let shown = if *cancel {
                    "*".to_owned()
                } else {
                    fill.repeat(*octets)
                };
                self.line(
                    "# the next line is a SASL response, redacted (same length and validity)",
                );
                self.line(&format!("C: {shown}"));
            }
            Event::StateChange(t) => {
                let mark = if t.lawful { "" } else { " (unlawful)" };
                self.line(&format!("#   → {}{mark}: {}", t.to.name(), t.reason));
            }
            Event::Finding(f) => {
                self.line(&format!(
                    "#   {} {} {} ({}): {}{}",
                    marker(f.severity),
                    f.rule.id,
                    f.severity.as_str(),
                    f.rule.rfc,
                    f.message,
                    if f.suspected { " [suspected]" } else { "" }
                ));
                if let Ok(mut g) = self.gathered.lock() {
                    g.findings.push((self.connection, (**f).clone()));
                }
            }
            _ => {}
        }
    }
}
