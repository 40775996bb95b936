//! The TUI's state. It is fed session updates and key presses and returns actions for the
//! session; what it needs done on this machine (history, a theme file) it queues as
//! [`Effect`]s that the loop carries out ([`super::effects`]). It does no I/O, so tests drive
//! it directly and render it into a test backend.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::session::Note;
use crate::session::task::{FORWARD_BODY_LINES, Summary, Update};
use crate::transport::TlsDetails;
use popscope_core::command::{Command, Keyword, suggested_keywords};
use popscope_core::redact;
use popscope_core::{Event, Finding, State, Tally, Time, TransportEvent};

use super::commands::{self, Cmd};
use super::keys::{self, Act, Binding, Scope};
use super::theme::Theme;
use super::transcript::{Fold, Row, RowId, RowKind, Transcript};
use popscope_core::sanitize::display;

/// Longest text kept for one row; the rest is cut with `…`.
const ROW_TEXT: usize = 4096;
/// Lines a page key scrolls the help.
const HELP_PAGE: isize = 10;
/// Said when a finding's row was dropped past the transcript's cap.
pub const DROPPED_ROW: &str =
    "this finding's exchange was among the oldest rows, dropped: the transcript starts later";
/// The tag of the row that counts a flood's unsolicited lines.
const HIDDEN: &str = "flood";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    CommandLine,
    Transcript,
    Findings,
    Session,
}

impl Focus {
    pub fn scope(self) -> Scope {
        match self {
            Focus::CommandLine => Scope::CommandLine,
            Focus::Transcript => Scope::Transcript,
            Focus::Findings => Scope::Findings,
            Focus::Session => Scope::Session,
        }
    }
    fn next(self) -> Focus {
        match self {
            Focus::CommandLine => Focus::Transcript,
            Focus::Transcript => Focus::Findings,
            Focus::Findings => Focus::Session,
            Focus::Session => Focus::CommandLine,
        }
    }
    fn prev(self) -> Focus {
        match self {
            Focus::CommandLine => Focus::Session,
            Focus::Transcript => Focus::CommandLine,
            Focus::Findings => Focus::Transcript,
            Focus::Session => Focus::Findings,
        }
    }
}

/// What the runtime should do after a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Send(Vec<u8>),
    /// A line typed while an AUTH was pending: a SASL response, never sent as a command.
    SaslLine(Vec<u8>),
    StartTls,
    Save(PathBuf),
    /// `:save! FILE`: replace an existing file.
    SaveReplace(PathBuf),
    Reconnect,
    Quit,
}

/// I/O the App asks of the loop, taken with [`App::take_effects`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Append a line, already without secrets, to the history file.
    AppendHistory(String),
    /// `:theme NAME`: load a theme (a built-in name or a path) and show it.
    LoadTheme(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlay {
    Help,
    Finding(usize),
    /// A command that RFC 1939 does not allow now, or a DELE: send only when confirmed.
    Confirm {
        line: String,
        why: String,
    },
}

impl Overlay {
    /// Where its keys are in the table.
    pub fn scope(&self) -> Scope {
        match self {
            Overlay::Help => Scope::HelpView,
            Overlay::Finding(_) => Scope::FindingView,
            Overlay::Confirm { .. } => Scope::Confirm,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Link {
    #[default]
    Connecting,
    Up,
    Closed(String),
    Failed(String),
}

/// The command line: text, cursor (in chars), history and completion.
#[derive(Clone, Debug, Default)]
pub struct LineEdit {
    pub text: String,
    pub cursor: usize,
    pub history: Vec<String>,
    pub history_pos: Option<usize>,
    pub completions: Vec<String>,
    pub completion_pos: usize,
    /// The line is a search (`/`), not a command.
    pub searching: bool,
}

impl LineEdit {
    fn byte_at(&self, char_pos: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_pos)
            .map_or(self.text.len(), |(i, _)| i)
    }
    fn insert(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
        self.completions.clear();
    }
    fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
        self.completions.clear();
    }
    fn delete(&mut self) {
        if self.cursor < self.text.chars().count() {
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
        self.completions.clear();
    }
    /// Drops the word before the cursor, and the spaces after it.
    fn delete_word(&mut self) {
        let chars: Vec<char> = self.text.chars().collect();
        let mut start = self.cursor.min(chars.len());
        while start > 0 && chars[start - 1] == ' ' {
            start -= 1;
        }
        while start > 0 && chars[start - 1] != ' ' {
            start -= 1;
        }
        let (from, to) = (self.byte_at(start), self.byte_at(self.cursor));
        self.text.replace_range(from..to, "");
        self.cursor = start;
        self.completions.clear();
    }
    /// Replaces the text; a completion cycle ends with it.
    pub fn set(&mut self, s: String) {
        self.cursor = s.chars().count();
        self.text = s;
        self.completions.clear();
    }
    fn take(&mut self) -> String {
        self.cursor = 0;
        self.history_pos = None;
        self.completions.clear();
        std::mem::take(&mut self.text)
    }
}

pub struct App {
    pub target: String,
    pub transcript: Transcript,
    /// Each finding with the row it is shown on (an id: rows move when the oldest go).
    pub findings: Vec<(Finding, RowId)>,
    pub counts: Tally,
    pub state: State,
    /// States the session has been in, in order, and whether each entry was lawful.
    pub path: Vec<(State, bool)>,
    /// The session began with a TLS handshake (port 995): the diagram shows that step.
    pub implicit_tls: bool,
    pub last_reason: String,
    pub tls: Option<TlsDetails>,
    pub summary: Summary,
    pub link: Link,
    pub focus: Focus,
    /// Transcript cursor (row index) and whether the view follows new rows.
    pub cursor: usize,
    pub follow: bool,
    pub selected_finding: usize,
    pub overlay: Option<Overlay>,
    pub message: Option<(String, bool)>,
    pub line: LineEdit,
    pub search: Option<String>,
    pub theme: Theme,
    pub keys: Vec<Binding>,
    /// Wall-clock seconds since midnight at session start, for timestamps.
    pub clock_base: f64,
    /// The next Command row is one the user confirmed although the RFC does not allow it.
    deliberate_next: bool,
    command_times: Vec<(u32, Time)>,
    effects: Vec<Effect>,
    /// Ask before sending DELE (config.toml: `confirm_dele = false` turns it off).
    pub confirm_dele: bool,
    pub dirty: bool,
    /// First screen line of the Session panel shown (it scrolls when focused).
    pub session_scroll: usize,
    /// The most the Session panel can scroll, as last drawn (layout, not state).
    pub session_max_scroll: std::cell::Cell<usize>,
    /// First line of the help shown, and the most it can scroll as last drawn.
    pub help_scroll: usize,
    pub help_max_scroll: std::cell::Cell<usize>,
    /// An AUTH was sent and has no final reply yet (with its exchange once seen): every line
    /// typed meanwhile is a SASL response, a secret.
    auth_pending: Option<Option<u32>>,
    /// `+OK` to UTF8 in this connection (RFC 6856 §2.1: no STLS after it), and the UTF8
    /// exchange awaiting its reply.
    utf8_mode: bool,
    utf8_exchange: Option<u32>,
    /// Connections seen, and the microseconds added to the times of the current one, so the
    /// transcript's clock runs on across `:reconnect` (each connection counts from zero).
    connections: u32,
    time_shift: u64,
    /// Wall-clock seconds since midnight when `:reconnect` was asked (set by the runtime).
    pub reconnect_wall: Option<f64>,
}

impl App {
    pub fn new(target: String, theme: Theme, keys: Vec<Binding>) -> App {
        App {
            target,
            transcript: Transcript::default(),
            findings: Vec::new(),
            counts: Tally::default(),
            state: State::Greeting,
            path: vec![(State::Greeting, true)],
            implicit_tls: false,
            last_reason: "connecting".into(),
            tls: None,
            summary: Summary::default(),
            link: Link::Connecting,
            focus: Focus::CommandLine,
            cursor: 0,
            follow: true,
            selected_finding: 0,
            overlay: None,
            message: None,
            line: LineEdit::default(),
            search: None,
            theme,
            keys,
            clock_base: 0.0,
            deliberate_next: false,
            command_times: Vec::new(),
            effects: Vec::new(),
            confirm_dele: true,
            dirty: true,
            session_scroll: 0,
            session_max_scroll: std::cell::Cell::new(0),
            help_scroll: 0,
            help_max_scroll: std::cell::Cell::new(0),
            auth_pending: None,
            utf8_mode: false,
            utf8_exchange: None,
            connections: 0,
            time_shift: 0,
            reconnect_wall: None,
        }
    }

    // ------------------------------------------------------------------ session updates

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
                match self.transcript.last_mut() {
                    Some(r) if r.tag == Some(HIDDEN) && r.exchange == exchange => r.text = text,
                    _ => {
                        let mut row = Row::new(at, RowKind::Note, text, exchange);
                        row.tag = Some(HIDDEN);
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
        if self.follow {
            self.cursor = self.transcript.len().saturating_sub(1);
        }
    }

    fn push(&mut self, row: Row) -> RowId {
        let dropped = self.transcript.dropped();
        let id = self.transcript.push(row);
        // The cursor stays on its row when rows before it go.
        let cut = self.transcript.dropped() - dropped;
        self.cursor = self
            .cursor
            .saturating_sub(usize::try_from(cut).unwrap_or(usize::MAX));
        id
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
            self.implicit_tls = false;
            self.state = State::Greeting;
            self.path = vec![(State::Greeting, true)];
            self.command_times.clear();
            self.auth_pending = None;
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
                self.link = Link::Closed("closed by popscope".into());
                "popscope closed the connection".into()
            }
            Note::Transport(TransportEvent::Timeout) => "no reply before the timeout".into(),
            Note::Transport(TransportEvent::TlsFailed { reason }) => {
                format!("TLS handshake failed: {reason:?}")
            }
            Note::Transport(TransportEvent::TlsEstablished { .. }) => return,
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
                // ` PASS x` is a login to a lenient server: masked although the engine
                // reads no PASS in it.
                let text = redact::shown(&command);
                let mut row = Row::new(
                    at,
                    RowKind::Client,
                    display(text.as_bytes(), ROW_TEXT),
                    exchange,
                );
                if std::mem::take(&mut self.deliberate_next) {
                    row.tag = Some("deliberate");
                }
                self.push(row);
            }
            Event::SaslResponse {
                exchange,
                cancel,
                octets,
                ..
            } => {
                let text = if cancel {
                    "*".to_owned()
                } else {
                    format!(
                        "[SASL response, {}, redacted]",
                        popscope_core::plural(octets, "octet")
                    )
                };
                self.push(Row::new(at, RowKind::Client, text, exchange));
            }
            Event::Reply(r) => {
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
            Event::BodyEnd {
                exchange,
                lines,
                octets,
                complete,
            } => {
                if let Some(f) = self.fold_of(exchange) {
                    f.total_lines = lines;
                    f.octets = octets;
                    f.complete = complete;
                    f.done = true;
                }
            }
            Event::Unsolicited { exchange, line } => {
                let mut row = Row::new(at, RowKind::Server, display(&line, ROW_TEXT), exchange);
                row.tag = Some("unsolicited");
                self.push(row);
            }
            Event::Discarded { line } => {
                let mut row = Row::new(
                    at,
                    RowKind::Server,
                    display(&line, ROW_TEXT),
                    self.summary_exchange(),
                );
                row.tag = Some("plaintext before TLS, discarded");
                self.push(row);
            }
            Event::StateChange(t) => {
                self.implicit_tls |= t.from == State::TlsHandshake;
                self.state = t.to;
                self.path.push((t.to, t.lawful));
                if self.path.len() > 64 {
                    self.path.remove(1);
                }
                self.last_reason = t.reason.clone();
                let mut row = Row::new(
                    at,
                    RowKind::Transition,
                    format!("→ {}: {}", t.to.name(), t.reason),
                    t.exchange,
                );
                if !t.lawful {
                    row.tag = Some("unlawful");
                }
                self.push(row);
            }
            Event::Finding(f) => self.finding(*f),
        }
    }

    fn fold_of(&mut self, exchange: u32) -> Option<&mut Fold> {
        let i = self.transcript.find_back(exchange, RowKind::Server)?;
        self.transcript.get_mut(i)?.fold.as_deref_mut()
    }

    fn finding(&mut self, f: Finding) {
        let row = self
            .transcript
            .find_back(f.at.exchange, RowKind::Server)
            .or_else(|| self.transcript.find_back(f.at.exchange, RowKind::Client))
            .unwrap_or(self.transcript.len().saturating_sub(1));
        let id = self.transcript.id_at(row);
        if let Some(r) = self.transcript.get_mut(row) {
            r.severity = r.severity.max(Some(f.severity));
            if !r.rules.contains(&f.rule.id) {
                r.rules.push(f.rule.id);
            }
        }
        self.counts.add(f.severity);
        self.findings.push((f, id));
    }

    // ------------------------------------------------------------------ keys

    pub fn key(&mut self, k: KeyEvent) -> Vec<Action> {
        self.dirty = true;
        let name = keys::name(&k);
        if let Some(ov) = self.overlay.clone() {
            let act = keys::lookup(&self.keys, ov.scope(), &name);
            return self.overlay_act(ov, act);
        }
        let act = keys::lookup(&self.keys, self.focus.scope(), &name);
        if self.focus == Focus::CommandLine {
            let act = act.or_else(|| keys::lookup_in(&self.keys, Scope::Editor, &name));
            return self.line_key(k, act);
        }
        let Some(act) = act else { return Vec::new() };
        self.panel_act(act)
    }

    /// An overlay takes every key: its own, and the global quit; the panels under it get none.
    fn overlay_act(&mut self, ov: Overlay, act: Option<Act>) -> Vec<Action> {
        match (ov, act) {
            (_, Some(Act::Quit)) => return vec![Action::Quit],
            (Overlay::Confirm { line, .. }, Some(Act::Yes)) => {
                self.overlay = None;
                self.deliberate_next = true;
                return self.send_line(line);
            }
            (Overlay::Confirm { line, .. }, Some(Act::No)) => {
                self.overlay = None;
                self.line.set(line);
            }
            (Overlay::Help | Overlay::Finding(_), Some(Act::Close)) => self.overlay = None,
            (Overlay::Help, Some(Act::Up)) => self.help_scroll_by(-1),
            (Overlay::Help, Some(Act::Down)) => self.help_scroll_by(1),
            (Overlay::Help, Some(Act::PageUp)) => self.help_scroll_by(-HELP_PAGE),
            (Overlay::Help, Some(Act::PageDown)) => self.help_scroll_by(HELP_PAGE),
            _ => {}
        }
        Vec::new()
    }

    fn help_scroll_by(&mut self, by: isize) {
        let max = self.help_max_scroll.get();
        self.help_scroll = self.help_scroll.saturating_add_signed(by).min(max);
    }

    fn panel_act(&mut self, act: Act) -> Vec<Action> {
        match act {
            Act::Quit => return vec![Action::Quit],
            Act::Help => self.open_help(),
            Act::FocusNext => self.focus = self.focus.next(),
            Act::FocusPrev => self.focus = self.focus.prev(),
            Act::FocusLine => {
                self.focus = Focus::CommandLine;
                self.line.searching = false;
            }
            Act::AppCommand => {
                self.focus = Focus::CommandLine;
                self.line.searching = false;
                self.line.history_pos = None;
                self.line.set(":".into());
            }
            Act::Leave => self.focus = Focus::Transcript,
            Act::PageUp => self.move_cursor(-20),
            Act::PageDown => self.move_cursor(20),
            Act::Up if self.focus == Focus::Findings => {
                self.selected_finding = self.selected_finding.saturating_sub(1)
            }
            Act::Down if self.focus == Focus::Findings => {
                self.selected_finding =
                    (self.selected_finding + 1).min(self.findings.len().saturating_sub(1))
            }
            Act::Up if self.focus == Focus::Session => {
                self.session_scroll = self.session_scroll.saturating_sub(1)
            }
            Act::Down if self.focus == Focus::Session => {
                self.session_scroll = (self.session_scroll + 1).min(self.session_max_scroll.get())
            }
            Act::Up => self.move_cursor(-1),
            Act::Down => self.move_cursor(1),
            Act::Top => {
                self.follow = false;
                self.cursor = 0;
            }
            Act::Bottom => {
                self.follow = true;
                self.cursor = self.transcript.len().saturating_sub(1);
            }
            Act::Open if self.focus == Focus::Findings => {
                if let Some((_, id)) = self.findings.get(self.selected_finding) {
                    match self.transcript.index_of(*id) {
                        Some(i) => self.cursor = i,
                        None => {
                            // Its row went with the oldest ones: the nearest row kept, said.
                            self.cursor = 0;
                            self.message = Some((DROPPED_ROW.into(), true));
                        }
                    }
                    self.follow = false;
                    self.overlay = Some(Overlay::Finding(self.selected_finding));
                }
            }
            Act::Open => {
                if let Some(f) = self
                    .transcript
                    .get_mut(self.cursor)
                    .and_then(|r| r.fold.as_deref_mut())
                {
                    f.expanded = !f.expanded;
                }
            }
            Act::Search => {
                self.focus = Focus::CommandLine;
                self.line.searching = true;
                self.line.set(String::new());
            }
            Act::SearchNext => self.search_step(true),
            Act::SearchPrev => self.search_step(false),
            // The line editor's, the overlays' and replay's: not a panel's.
            _ => {}
        }
        Vec::new()
    }

    fn move_cursor(&mut self, by: isize) {
        let last = self.transcript.len().saturating_sub(1);
        let c = (self.cursor as isize + by).clamp(0, last as isize) as usize;
        self.cursor = c;
        self.follow = c == last && by > 0;
    }

    fn search_step(&mut self, forward: bool) {
        let Some(q) = self.search.clone().filter(|q| !q.is_empty()) else {
            return;
        };
        let q = q.to_lowercase();
        let n = self.transcript.len();
        for step in 1..=n {
            let i = if forward {
                (self.cursor + step) % n
            } else {
                (self.cursor + n - step % n) % n
            };
            if self
                .transcript
                .get(i)
                .is_some_and(|r| r.text.to_lowercase().contains(&q))
            {
                self.cursor = i;
                self.follow = false;
                return;
            }
        }
        self.message = Some((format!("'{q}' not found"), true));
    }

    fn line_key(&mut self, k: KeyEvent, act: Option<Act>) -> Vec<Action> {
        match act {
            Some(Act::Quit) => return vec![Action::Quit],
            Some(Act::PageUp) => self.move_cursor(-20),
            Some(Act::PageDown) => self.move_cursor(20),
            Some(Act::Leave) => {
                // Esc drops what was typed (and a completion half done): nothing typed before
                // it can go to the server later by surprise.
                self.line.searching = false;
                self.line.take();
                self.focus = Focus::Transcript;
            }
            Some(Act::FocusPrev) => {
                self.line.searching = false;
                self.focus = self.focus.prev();
            }
            Some(Act::Submit) => return self.submit(),
            // Tab on an empty line goes on to the panels, as it came in.
            Some(Act::Complete) if self.line.text.is_empty() => {
                self.line.searching = false;
                self.focus = self.focus.next();
            }
            Some(Act::Complete) if !self.line.searching => self.complete(),
            Some(Act::HistoryPrev) if !self.line.searching => self.history(true),
            Some(Act::HistoryNext) if !self.line.searching => self.history(false),
            Some(Act::ClearLine) => {
                self.line.take();
            }
            Some(Act::DeleteWord) => self.line.delete_word(),
            Some(Act::DeleteBack) => self.line.backspace(),
            Some(Act::DeleteForward) => self.line.delete(),
            Some(Act::CursorLeft) => self.line.cursor = self.line.cursor.saturating_sub(1),
            Some(Act::CursorRight) => {
                self.line.cursor = (self.line.cursor + 1).min(self.line.text.chars().count())
            }
            Some(Act::LineStart) => self.line.cursor = 0,
            Some(Act::LineEnd) => self.line.cursor = self.line.text.chars().count(),
            // Text: any other printable key is typed.
            _ => match k.code {
                KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                    self.line.insert(c)
                }
                _ => {}
            },
        }
        Vec::new()
    }

    fn submit(&mut self) -> Vec<Action> {
        let text = self.line.take();
        if self.line.searching {
            self.line.searching = false;
            self.search = Some(text);
            self.focus = Focus::Transcript;
            self.search_step(true);
            return Vec::new();
        }
        if let Some(cmd) = text.strip_prefix(':') {
            return self.app_command(cmd.trim());
        }
        if self.secret_mode() {
            // A SASL response is a secret: never kept in history, sent only as a response.
            return vec![Action::SaslLine(text.into_bytes())];
        }
        if text.is_empty() {
            return Vec::new();
        }
        let cmd = Command::parse(text.as_bytes(), text.len() + 2);
        let known_state = matches!(self.link, Link::Up);
        let why = if cmd.keyword == Keyword::Dele && self.confirm_dele {
            Some(format!(
                "DELE {} marks the message deleted; QUIT then removes it from the server.",
                display(cmd.arg(0).unwrap_or_default(), 20)
            ))
        } else if known_state && cmd.keyword != Keyword::Other && !cmd.keyword.valid_in(self.state)
        {
            Some(format!(
                "{} is not valid in {} (RFC 1939 §3: the server must answer -ERR).",
                cmd.keyword,
                self.state.name()
            ))
        } else {
            None
        };
        if let Some(why) = why {
            self.overlay = Some(Overlay::Confirm { line: text, why });
            return Vec::new();
        }
        self.send_line(text)
    }

    /// Every line typed now is a SASL response: a challenge is open, or an AUTH was sent and
    /// its challenge or final reply has not come yet.
    pub fn secret_mode(&self) -> bool {
        self.summary.sasl_open || self.auth_pending.is_some()
    }

    /// Sends a command line, kept in history without its secret.
    fn send_line(&mut self, text: String) -> Vec<Action> {
        self.remember(&text);
        if redact::typed_keyword(&text) == Keyword::Auth {
            self.auth_pending = Some(None);
        }
        vec![Action::Send(text.into_bytes())]
    }

    /// Keeps a command in history, without secrets: PASS, APOP and AUTH lose their arguments.
    fn remember(&mut self, text: &str) {
        let kept = redact::history_form(text);
        if self.line.history.last() != Some(&kept) {
            self.line.history.push(kept.clone());
            if self.line.history.len() > 1000 {
                self.line.history.remove(0);
            }
            self.effects.push(Effect::AppendHistory(kept));
        }
    }

    /// What the loop is to do on this machine, in the order asked.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    fn app_command(&mut self, cmd: &str) -> Vec<Action> {
        let (name, arg) = cmd
            .split_once(' ')
            .map_or((cmd, ""), |(a, b)| (a, b.trim()));
        let Some(command) = commands::find(name) else {
            self.message = Some((
                format!("unknown command :{name} ({})", commands::usages()),
                true,
            ));
            return Vec::new();
        };
        match command.cmd {
            Cmd::Quit => return vec![Action::Quit],
            Cmd::Help => self.open_help(),
            Cmd::StartTls => return vec![Action::StartTls],
            Cmd::Reconnect => return vec![Action::Reconnect],
            Cmd::Save | Cmd::SaveReplace if arg.is_empty() => {
                self.message = Some(("usage: :save FILE (:save! FILE replaces it)".into(), true))
            }
            Cmd::Save => return vec![Action::Save(PathBuf::from(arg))],
            Cmd::SaveReplace => return vec![Action::SaveReplace(PathBuf::from(arg))],
            Cmd::Theme => self.effects.push(Effect::LoadTheme(arg.to_owned())),
        }
        Vec::new()
    }

    fn open_help(&mut self) {
        self.help_scroll = 0;
        self.overlay = Some(Overlay::Help);
    }

    fn history(&mut self, back: bool) {
        let h = &self.line.history;
        if h.is_empty() {
            return;
        }
        let pos = match (self.line.history_pos, back) {
            (None, true) => Some(h.len() - 1),
            (None, false) => None,
            (Some(p), true) => Some(p.saturating_sub(1)),
            (Some(p), false) if p + 1 < h.len() => Some(p + 1),
            (Some(_), false) => None,
        };
        let text = pos.and_then(|p| h.get(p)).cloned().unwrap_or_default();
        self.line.history_pos = pos;
        self.line.set(text);
    }

    /// Candidates for what is typed: app commands after ':', command keywords valid now and
    /// advertised, message numbers known from LIST.
    pub fn candidates(&self) -> Vec<String> {
        let text = &self.line.text;
        if let Some(rest) = text.strip_prefix(':') {
            return commands::COMMANDS
                .iter()
                .filter(|c| c.completes && c.name.starts_with(rest))
                .filter(|c| c.cmd != Cmd::StartTls || (self.tls.is_none() && !self.utf8_mode))
                .map(|c| c.completion())
                .collect();
        }
        match text.split_once(' ') {
            None => {
                let up = text.to_ascii_uppercase();
                // Optional commands need an advertisement: this context's CAPA, else the
                // latest one seen (a list read before STLS still says what the server has).
                let caps = self.summary.current_caps.as_ref().or_else(|| {
                    let c = &self.summary.caps;
                    c.trans.as_ref().or(c.auth.as_ref()).or(c.pre_tls.as_ref())
                });
                suggested_keywords(self.state, caps)
                    .into_iter()
                    // No STLS once TLS is up (RFC 2595 §4, TLS-006) or after UTF8 (RFC 6856
                    // §2.1, TLS-008); no second UTF8.
                    .filter(|k| match k {
                        Keyword::Stls => self.tls.is_none() && !self.utf8_mode,
                        Keyword::Utf8 => !self.utf8_mode,
                        _ => true,
                    })
                    .map(|k| k.as_str().to_owned())
                    .filter(|k| k.starts_with(&up))
                    .collect()
            }
            Some((verb, arg))
                if !arg.contains(' ') && Keyword::parse(verb.as_bytes()).takes_message_number() =>
            {
                self.summary
                    .messages
                    .iter()
                    .map(|n| n.to_string())
                    .filter(|n| n.starts_with(arg))
                    .take(200)
                    .map(|n| format!("{verb} {n}"))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    fn complete(&mut self) {
        if self.line.completions.is_empty() {
            self.line.completions = self.candidates();
            self.line.completion_pos = 0;
        } else {
            self.line.completion_pos = (self.line.completion_pos + 1) % self.line.completions.len();
        }
        if let Some(c) = self.line.completions.get(self.line.completion_pos).cloned() {
            let done = c.ends_with(' ') || c.starts_with(':');
            let c = if done || self.line.completions.len() > 1 {
                c
            } else {
                format!("{c} ")
            };
            let keep = std::mem::take(&mut self.line.completions);
            let pos = self.line.completion_pos;
            self.line.set(c);
            self.line.completions = keep;
            self.line.completion_pos = pos;
        }
    }

    /// What the command line shows: secrets masked while typed.
    pub fn masked_input(&self) -> String {
        let t = &self.line.text;
        if self.line.searching {
            return t.clone();
        }
        if self.secret_mode() {
            return "*".repeat(t.chars().count());
        }
        redact::typed_form(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEvent;
    use popscope_core::Severity;
    use popscope_core::command::Command;

    fn ask(app: &mut App, line: &str, exchange: u32) {
        let command = Command::parse(line.as_bytes(), line.len() + 2);
        app.apply(Update::Event(
            Time(u64::from(exchange)),
            Event::Command {
                exchange,
                command: Box::new(command),
            },
        ));
    }

    /// Findings used to keep a row index: once the oldest rows went past the cap, opening an
    /// early finding put the cursor on whatever row had moved into that index.
    #[test]
    fn an_early_finding_whose_row_was_dropped_says_so_instead_of_jumping_elsewhere() {
        let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
        let mut app = App::new("x".into(), theme, keys::defaults());
        app.transcript = Transcript::with_cap(20);
        ask(&mut app, "NOOP", 1);
        let rule = popscope_core::rules::CATALOG[0];
        let finding = |exchange: u32, message: &str| Finding {
            rule,
            severity: Severity::Warning,
            message: message.into(),
            suspected: false,
            at: popscope_core::Location {
                exchange,
                ..Default::default()
            },
        };
        app.apply(Update::Event(
            Time(1),
            Event::Finding(Box::new(finding(1, "the early one"))),
        ));
        let late = finding(40, "a late one");
        for ex in 2..=40 {
            ask(&mut app, &format!("STAT {ex}"), ex);
        }
        app.apply(Update::Event(Time(41), Event::Finding(Box::new(late))));
        assert!(app.transcript.dropped() > 0);
        app.focus = Focus::Findings;
        app.key(KeyEvent::from(KeyCode::Enter));
        assert_eq!(app.overlay, Some(Overlay::Finding(0)));
        assert_eq!(app.cursor, 0, "the first row kept");
        assert_eq!(app.message, Some((DROPPED_ROW.into(), true)));
        // The late finding's row is still there: the cursor goes to it.
        app.overlay = None;
        app.message = None;
        app.key(KeyEvent::from(KeyCode::Down));
        app.key(KeyEvent::from(KeyCode::Enter));
        let row = app.transcript.get(app.cursor).map(|r| r.text.clone());
        assert_eq!(row.as_deref(), Some("STAT 40"));
        assert_eq!(app.message, None);
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    #[test]
    fn keys_toml_rebinds_an_overlay_key_and_a_line_editor_key() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("keys.toml");
        std::fs::write(
            &file,
            "\"help-screen.close\" = [\"x\"]\n\"line-editor.clear-line\" = [\"ctrl-k\"]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let table = keys::load(Some(&file)).unwrap_or_else(|e| panic!("{e}"));
        let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
        let mut app = App::new("x".into(), theme, table);
        app.focus = Focus::Transcript;
        app.key(KeyEvent::from(KeyCode::Char('?')));
        app.key(KeyEvent::from(KeyCode::Esc));
        assert_eq!(app.overlay, Some(Overlay::Help), "Esc no longer closes");
        app.key(KeyEvent::from(KeyCode::Char('x')));
        assert_eq!(app.overlay, None);
        app.key(KeyEvent::from(KeyCode::Char('i')));
        for c in "NOOP".chars() {
            app.key(KeyEvent::from(KeyCode::Char(c)));
        }
        app.key(ctrl('u'));
        assert_eq!(app.line.text, "NOOP", "ctrl-u no longer clears");
        app.key(ctrl('k'));
        assert_eq!(app.line.text, "");
    }

    #[test]
    fn ctrl_w_drops_the_word_before_the_cursor() {
        let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
        let mut app = App::new("x".into(), theme, keys::defaults());
        app.line.set("RETR 12  ".into());
        app.key(ctrl('w'));
        assert_eq!((app.line.text.as_str(), app.line.cursor), ("RETR ", 5));
        app.key(KeyEvent::from(KeyCode::Left));
        app.key(ctrl('w'));
        assert_eq!((app.line.text.as_str(), app.line.cursor), (" ", 0));
    }
}
