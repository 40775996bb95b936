//! The App fed by the session: each update becomes rows, findings and state.

use crate::session::Note;
use crate::session::task::{FORWARD_BODY_LINES, Update};
use popscope_core::command::Keyword;
use popscope_core::redact;
use popscope_core::sanitize::display;
use popscope_core::{Event, Finding, State, Time, TransportEvent};

use super::{App, Link};
use crate::tui::components::sasl::SaslExchange;
use crate::tui::transcript::{Row, RowId, RowKind, Tag};
use popscope_core::command::Command;
use popscope_core::event::SaslResponse;
use popscope_core::oauth::Mechanism;

/// Longest text kept for one row; the rest is cut with `…`.
const ROW_TEXT: usize = 4096;

impl App {
    pub fn apply(&mut self, update: Update) {
        self.dirty = true;
        match update {
            Update::Note(at, note) => {
                if matches!(note, Note::Connected { .. }) {
                    self.new_connection();
                }
                self.note(self.shifted(at), note)
            }
            Update::Event(at, ev) => self.event(self.shifted(at), ev),
            Update::SaslResponse {
                at,
                response,
                shown,
            } => self.sasl_response(self.shifted(at), response, shown),
            Update::Token(said) => self.token_said = said,
            Update::Snapshot(s) => {
                if let Some(st) = s.state {
                    self.state = st;
                }
                if s.closed && matches!(self.link, Link::Up | Link::Connecting) {
                    self.link = Link::Closed("closed".into());
                }
                if s.closed {
                    self.auth_pending = None;
                }
                self.summary = *s;
            }
            Update::Failed(e) => {
                self.auth_pending = None;
                if matches!(self.link, Link::Connecting) {
                    self.link = Link::Failed(e.clone());
                }
                self.message = Some((e, true));
            }
            Update::Saved(Ok(p)) => self.message = Some((format!("saved {}", p.display()), false)),
            Update::Saved(Err(e)) => self.message = Some((e, true)),
            Update::Hidden {
                at,
                exchange,
                lines,
                octets,
            } => {
                let at = self.shifted(at);
                let text = format!(
                    "… {} more unsolicited {} ({}): counted, not shown",
                    lines,
                    if lines == 1 { "line" } else { "lines" },
                    popscope_core::plural(octets, "octet")
                );
                match self.transcript.rows.last_mut() {
                    Some(r) if r.tag == Some(Tag::Flood) && r.exchange == exchange => r.text = text,
                    _ => {
                        let mut row = Row::new(at, RowKind::Note, text, exchange);
                        row.tag = Some(Tag::Flood);
                        self.push(row);
                    }
                }
            }
            Update::Progress {
                exchange,
                lines,
                octets,
            } => {
                if let Some(f) = self.fold_of(exchange)
                    && !f.done
                {
                    f.total_lines = lines;
                    f.octets = octets;
                }
            }
        }
        if self.transcript.follow {
            self.transcript.follow_end();
        }
    }

    fn push(&mut self, row: Row) -> RowId {
        self.transcript.push(row)
    }

    fn shifted(&self, at: Time) -> Time {
        Time(at.0.saturating_add(self.time_shift))
    }

    /// A connection starts (the first, or after `:reconnect`): its times count from zero, so
    /// they are moved past everything shown so far (to the wall-clock moment of the
    /// reconnect when known); what the last connection knew is forgotten.
    fn new_connection(&mut self) {
        self.connections += 1;
        if self.connections > 1 {
            let last = (0..self.transcript.len())
                .rev()
                .take(64)
                .filter_map(|i| self.transcript.get(i))
                .map(|r| r.time.0)
                .max()
                .unwrap_or(0);
            let wall = self.reconnect_wall.take().map_or(0, |w| {
                let secs = (w - self.clock_base).rem_euclid(86_400.0);
                (secs * 1e6) as u64
            });
            self.time_shift = last.max(wall);
            self.tls = None;
            self.state = State::Greeting;
            self.state_panel.path = vec![(State::Greeting, true)];
            self.state_panel.implicit_tls = false;
            self.command_times.clear();
            self.auth_pending = None;
            self.state_panel.sasl = None;
            self.utf8_mode = false;
            self.utf8_exchange = None;
        }
    }

    fn note(&mut self, at: Time, note: Note) {
        let text = match note {
            Note::Connected { addr } => {
                self.link = Link::Up;
                format!("connected to {addr}")
            }
            Note::Tls(d) => {
                let t = d.summary();
                self.tls = Some(*d);
                t
            }
            Note::Transport(TransportEvent::ServerClosed { close_notify }) => {
                self.link = Link::Closed("the server closed the connection".into());
                if close_notify || self.tls.is_none() {
                    "the server closed the connection".into()
                } else {
                    "the server closed the connection (no TLS close_notify)".into()
                }
            }
            Note::Transport(TransportEvent::ClientClosed) => {
                let who = if self.relayed {
                    "the client"
                } else {
                    "popscope"
                };
                self.link = Link::Closed(format!("closed by {who}"));
                format!("{who} closed the connection")
            }
            Note::Transport(TransportEvent::Timeout) => "no reply before the timeout".into(),
            Note::Transport(TransportEvent::TlsFailed { reason }) => {
                format!("TLS handshake failed: {reason:?}")
            }
            Note::Transport(TransportEvent::TlsEstablished { .. }) => return,
            Note::Transport(TransportEvent::ClientLegTls { client_cert }) => {
                if client_cert {
                    "TLS with the client; it presented a certificate (not verified)".into()
                } else {
                    "TLS with the client".into()
                }
            }
            Note::Transport(TransportEvent::ClientStlsRefused) => {
                "the proxy refused the client's STLS (the server never saw it)".into()
            }
            Note::Transport(TransportEvent::ClientLegStls { established, .. }) => {
                if established {
                    "the proxy answered the client's STLS: the client's leg is TLS now".into()
                } else {
                    "the proxy answered the client's STLS; the client's handshake failed".into()
                }
            }
            Note::Warning(text) => format!("warning: {text}"),
        };
        let ex = self.summary_exchange();
        self.push(Row::new(at, RowKind::Note, text, ex));
    }

    fn summary_exchange(&self) -> u32 {
        self.command_times.last().map_or(0, |(e, _)| *e)
    }

    fn event(&mut self, at: Time, ev: Event<'static>) {
        match ev {
            Event::Command { exchange, command } => {
                self.command_times.push((exchange, at));
                if self.command_times.len() > 64 {
                    self.command_times.remove(0);
                }
                match command.keyword {
                    Keyword::Auth if self.auth_pending.is_some() => {
                        self.auth_pending = Some(Some(exchange))
                    }
                    Keyword::Utf8 => self.utf8_exchange = Some(exchange),
                    _ => {}
                }
                if command.keyword == Keyword::Auth {
                    self.state_panel.sasl = SaslExchange::started(exchange, &command);
                }
                // Shown already: a second display would double each escape's backslash.
                let mut row = Row::new(at, RowKind::Client, shown_command(&command), exchange);
                if std::mem::take(&mut self.deliberate_next) {
                    row.tag = Some(Tag::Deliberate);
                }
                self.push(row);
            }
            Event::SaslResponse(response) => self.sasl_response(at, response, None),
            Event::Reply(r) => {
                if let Some(sasl) = self.sasl_of(r.exchange) {
                    sasl.replied(r.status == popscope_core::response::Status::Ok);
                }
                if self.auth_pending == Some(Some(r.exchange)) {
                    self.auth_pending = None;
                }
                if self.utf8_exchange == Some(r.exchange) {
                    self.utf8_exchange = None;
                    self.utf8_mode |= r.status == popscope_core::response::Status::Ok;
                }
                let mut row = Row::new(at, RowKind::Server, display(&r.raw, ROW_TEXT), r.exchange);
                row.latency_us = self
                    .command_times
                    .iter()
                    .rev()
                    .find(|(e, _)| *e == r.exchange)
                    .map(|(_, t)| at.0.saturating_sub(t.0));
                if r.multiline {
                    row.fold = Some(Box::default());
                }
                self.push(row);
            }
            Event::Challenge { exchange, payload } => {
                let mut text = String::from("+ ");
                text.push_str(&display(&payload, ROW_TEXT));
                self.push(Row::new(at, RowKind::Server, text, exchange));
                let error = self.sasl_of(exchange).is_some_and(|s| s.challenged());
                if error {
                    self.annotate_error_challenge(at, exchange, &payload);
                }
            }
            Event::BodyLine { exchange, line } => {
                if let Some(f) = self.fold_of(exchange) {
                    f.total_lines += 1;
                    f.octets += line.len() as u64 + 2;
                    if f.lines.len() < FORWARD_BODY_LINES {
                        f.lines.push(display(&line, ROW_TEXT));
                    }
                }
            }
            Event::BodyEnd(end) => {
                if let Some(f) = self.fold_of(end.exchange) {
                    f.total_lines = end.lines;
                    f.octets = end.octets;
                    f.complete = end.complete;
                    f.done = true;
                }
            }
            Event::Unsolicited { exchange, line } => {
                let mut row = Row::new(at, RowKind::Server, display(&line, ROW_TEXT), exchange);
                row.tag = Some(Tag::Unsolicited);
                self.push(row);
            }
            Event::Discarded { line } => {
                let mut row = Row::new(
                    at,
                    RowKind::Server,
                    display(&line, ROW_TEXT),
                    self.summary_exchange(),
                );
                row.tag = Some(Tag::DiscardedBeforeTls);
                self.push(row);
            }
            Event::StateChange(t) => {
                self.state_panel.entered(&t);
                self.state = t.to;
                let mut row = Row::new(
                    at,
                    RowKind::Transition,
                    format!("→ {}: {}", t.to.name(), t.reason),
                    t.exchange,
                );
                if !t.lawful {
                    row.tag = Some(Tag::Unlawful);
                }
                self.push(row);
            }
            Event::Finding(f) => self.finding(*f),
        }
    }

    /// The SASL exchange the state panel follows, if it is `exchange`.
    fn sasl_of(&mut self, exchange: u32) -> Option<&mut SaslExchange> {
        self.state_panel
            .sasl
            .as_mut()
            .filter(|s| s.exchange == exchange)
    }

    /// A response line: shown as the session allows (`shown`: a dummy as sent, an OAuth line
    /// redacted as recordings are), else as a placeholder; the dummy owed after an error
    /// challenge is said.
    fn sasl_response(&mut self, at: Time, response: SaslResponse, shown: Option<String>) {
        let dummy = shown
            .as_deref()
            .is_some_and(|s| popscope_core::oauth::is_dummy_response(s.as_bytes()));
        let text = match shown {
            _ if response.cancel => "*".to_owned(),
            Some(s) if s.is_empty() => "(empty line)".to_owned(),
            Some(s) => s,
            None => format!(
                "[SASL response, {}, redacted]",
                popscope_core::plural(response.octets, "octet")
            ),
        };
        self.push(Row::new(at, RowKind::Client, text, response.exchange));
        let owed = self
            .sasl_of(response.exchange)
            .and_then(|s| s.answered(response.cancel, dummy).then_some(s.oauth));
        let why = match owed {
            Some(Some(Mechanism::XOauth2)) => "an empty line, as XOAUTH2 asks",
            Some(_) => "AQ==, as RFC 7628 §3.2.3 asks",
            None => return,
        };
        let text = format!(
            "the error challenge is answered with the dummy response, {why}: the server now fails the exchange"
        );
        self.push(Row::new(at, RowKind::Note, text, response.exchange));
    }

    /// Under an OAuth error challenge: what it means for a person, and what the token sent
    /// says about itself when popscope knows (a JWT it sent).
    fn annotate_error_challenge(&mut self, at: Time, exchange: u32, payload: &[u8]) {
        let decoded = popscope_core::oauth::challenge::decode(payload);
        let said = crate::session::login::challenge_said(&decoded);
        self.push(Row::new(at, RowKind::Annotation, said, exchange));
        if let Some(token) = self.token_said.clone() {
            self.push(Row::new(at, RowKind::Annotation, token, exchange));
        }
    }

    fn fold_of(&mut self, exchange: u32) -> Option<&mut crate::tui::transcript::Fold> {
        self.transcript.fold_of(exchange)
    }

    fn finding(&mut self, f: Finding) {
        let row = self
            .transcript
            .rows
            .find_back(f.at.exchange, RowKind::Server)
            .or_else(|| {
                self.transcript
                    .rows
                    .find_back(f.at.exchange, RowKind::Client)
            })
            .unwrap_or(self.transcript.len().saturating_sub(1));
        let id = self.transcript.rows.id_at(row);
        if let Some(r) = self.transcript.rows.get_mut(row) {
            r.severity = r.severity.max(Some(f.severity));
            if !r.rules.contains(&f.rule.id) {
                r.rules.push(f.rule.id);
            }
        }
        self.counts.add(f.severity);
        self.findings.list.push((f, id));
    }
}

/// A command as the transcript shows it: an OAuth initial response as recordings redact it
/// (the user and framing kept, the token masked); any other secret masked whole, and ` PASS x`
/// too, a login to a lenient server although the engine reads no PASS in it.
fn shown_command(command: &Command) -> String {
    let oauth = command
        .mechanism()
        .is_some_and(|m| popscope_core::oauth::Mechanism::parse(&m).is_some());
    if oauth && command.secret.is_some() {
        return display(&redact::command_line(command), ROW_TEXT);
    }
    display(&redact::shown(command), ROW_TEXT)
}
