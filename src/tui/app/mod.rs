//! The TUI's state. It is fed session updates and key presses and returns actions for the
//! session; what it needs done on this machine (history, a theme file) it queues as
//! [`Effect`]s that the loop carries out ([`super::effects`]). It does no I/O, so tests drive
//! it directly and render it into a test backend.

mod input;
mod oauth;
mod updates;

use std::path::PathBuf;

use crossterm::event::KeyEvent;

use crate::session::login::Credentials;
use crate::session::task::{OAuthLogin, Summary};
use crate::transport::TlsDetails;
use popscope_core::oauth::{Mechanism, SaslForm};
use popscope_core::{State, Tally, Time};

use super::components::findings::FindingsPanel;
use super::components::help::HelpView;
use super::components::session::SessionPanel;
use super::components::state::StatePanel;
use super::components::transcript::TranscriptPanel;
use super::components::{Component, Internal};
use super::keys::{self, Act, Binding, Scope};
use super::theme::Theme;

pub(crate) use super::components::editor::LineEdit;

/// Said when a finding's row was dropped past the transcript's cap.
pub(crate) const DROPPED_ROW: &str =
    "this finding's exchange was among the oldest rows, dropped: the transcript starts later";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    CommandLine,
    Transcript,
    Findings,
    Session,
}

impl Focus {
    pub(crate) fn scope(self) -> Scope {
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
    /// `:auth`: log in with a bearer token.
    OAuth(OAuthLogin),
    Save(PathBuf),
    /// `:save! FILE`: replace an existing file.
    SaveReplace(PathBuf),
    Reconnect,
    Quit,
}

/// I/O the App asks of the loop, taken with [`App::take_effects`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
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
    pub(crate) fn scope(&self) -> Scope {
        match self {
            Overlay::Help => Scope::HelpView,
            Overlay::Finding(_) => Scope::FindingView,
            Overlay::Confirm { .. } => Scope::Confirm,
        }
    }
}

/// What the command line gave for a login, as far as `:auth` must know (never the secrets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Configured {
    /// `--user`: the name that goes into the OAuth response.
    pub user: bool,
    /// A token from `--token-env`, `--token-file` or `--token-command`.
    pub token: bool,
}

impl Configured {
    pub(crate) fn of(creds: Option<&Credentials>) -> Configured {
        creds.map_or(Configured::default(), |c| Configured {
            user: !c.user.is_empty(),
            token: c.token.is_some(),
        })
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

pub struct App {
    pub target: String,
    pub transcript: TranscriptPanel,
    pub findings: FindingsPanel,
    pub counts: Tally,
    pub state: State,
    pub(crate) state_panel: StatePanel,
    pub(crate) tls: Option<TlsDetails>,
    pub(crate) summary: Summary,
    pub link: Link,
    pub focus: Focus,
    pub overlay: Option<Overlay>,
    pub message: Option<(String, bool)>,
    pub line: LineEdit,
    pub session: SessionPanel,
    pub help: HelpView,
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
    pub(crate) dirty: bool,
    /// An AUTH was sent and has no final reply yet (with its exchange once seen): every line
    /// typed meanwhile is a SASL response, a secret.
    auth_pending: Option<Option<u32>>,
    /// What the command line configured for `:auth`.
    pub configured: Configured,
    /// `:auth` without a configured token: the line now takes the token, masked.
    token_prompt: Option<(Mechanism, Option<SaslForm>)>,
    /// What the token of the login under way says about itself (a JWT), for the annotation
    /// under an error challenge.
    token_said: Option<String>,
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
    /// A client's session relayed by `popscope proxy`: the client, not popscope, closes it.
    pub(crate) relayed: bool,
}

impl App {
    pub fn new(target: String, theme: Theme, keys: Vec<Binding>) -> App {
        App {
            target,
            transcript: TranscriptPanel::default(),
            findings: FindingsPanel::default(),
            counts: Tally::default(),
            state: State::Greeting,
            state_panel: StatePanel::default(),
            tls: None,
            summary: Summary::default(),
            link: Link::Connecting,
            focus: Focus::CommandLine,
            overlay: None,
            message: None,
            line: LineEdit::default(),
            session: SessionPanel::default(),
            help: HelpView::default(),
            theme,
            keys,
            clock_base: 0.0,
            deliberate_next: false,
            command_times: Vec::new(),
            effects: Vec::new(),
            confirm_dele: true,
            dirty: true,
            auth_pending: None,
            configured: Configured::default(),
            token_prompt: None,
            token_said: None,
            utf8_mode: false,
            utf8_exchange: None,
            connections: 0,
            time_shift: 0,
            reconnect_wall: None,
            relayed: false,
        }
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
            (Overlay::Help, Some(act)) => {
                self.help.act(act);
            }
            _ => {}
        }
        Vec::new()
    }

    /// The focused panel (the command line is routed apart: typing is not a panel's).
    fn panel(&mut self) -> Option<&mut dyn Component> {
        match self.focus {
            Focus::Transcript => Some(&mut self.transcript),
            Focus::Findings => Some(&mut self.findings),
            Focus::Session => Some(&mut self.session),
            Focus::CommandLine => None,
        }
    }

    /// Keys every panel shares, then the focused panel's own.
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
            // Global: the page keys scroll the transcript from anywhere.
            Act::PageUp | Act::PageDown => {
                self.transcript.act(act);
            }
            Act::Search => {
                self.focus = Focus::CommandLine;
                self.line.searching = true;
                self.line.set(String::new());
            }
            Act::SearchNext | Act::SearchPrev => self.search_step(act == Act::SearchNext),
            _ => {
                let asked = self.panel().and_then(|p| p.act(act));
                if let Some(internal) = asked {
                    self.internal(internal);
                }
            }
        }
        Vec::new()
    }

    fn search_step(&mut self, forward: bool) {
        if let Some(said) = self.transcript.search_step(forward) {
            self.message = Some((said, true));
        }
    }

    /// What a component asked of the rest of the app.
    fn internal(&mut self, internal: Internal) {
        match internal {
            Internal::OpenFinding { index, row } => {
                if !self.transcript.go_to(row) {
                    // Its row went with the oldest ones: the nearest row kept, said.
                    self.message = Some((DROPPED_ROW.into(), true));
                }
                self.overlay = Some(Overlay::Finding(index));
            }
        }
    }
}

#[cfg(test)]
mod tests;
