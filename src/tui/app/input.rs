//! The App's command line: what a submitted line means (a command, a SASL response, a search,
//! a `:` command), confirmation, history without secrets, and completion.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use popscope_core::command::{Command, Keyword, suggested_keywords};
use popscope_core::redact;
use popscope_core::sanitize::display;

use super::{Action, App, Effect, Focus, Link, Overlay};
use crate::tui::commands::{self, Cmd};
use crate::tui::components::Component;
use crate::tui::keys::Act;

impl App {
    pub(super) fn line_key(&mut self, k: KeyEvent, act: Option<Act>) -> Vec<Action> {
        match act {
            Some(Act::Quit) => return vec![Action::Quit],
            Some(act @ (Act::PageUp | Act::PageDown)) => {
                self.transcript.act(act);
            }
            Some(Act::Leave) => {
                // Esc drops what was typed (and a completion half done): nothing typed before
                // it can go to the server later by surprise.
                self.line.searching = false;
                // It may be a secret half typed: wiped, not just dropped.
                drop(zeroize::Zeroizing::new(self.line.take()));
                self.cancel_token_prompt();
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
            Some(Act::HistoryPrev) if !self.line.searching => self.line.history_step(true),
            Some(Act::HistoryNext) if !self.line.searching => self.line.history_step(false),
            Some(act) if is_editing(act) => {
                self.line.act(act);
            }
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
            self.transcript.search = Some(text);
            self.focus = Focus::Transcript;
            self.search_step(true);
            return Vec::new();
        }
        if self.token_prompt_open() {
            return self.token_typed(text);
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
        self.summary.sasl_open || self.auth_pending.is_some() || self.token_prompt_open()
    }

    /// The prompt before a secret being typed, or None when the line is not one.
    pub(crate) fn secret_prompt(&self) -> Option<&'static str> {
        if self.token_prompt_open() {
            Some("token › ")
        } else if self.secret_mode() {
            Some("SASL › ")
        } else {
            None
        }
    }

    /// Sends a command line, kept in history without its secret.
    pub(super) fn send_line(&mut self, text: String) -> Vec<Action> {
        self.remember(&text);
        if redact::typed_keyword(&text) == Keyword::Auth {
            self.auth_pending = Some(None);
            // A token typed into the line is not one popscope can read claims from.
            self.token_said = None;
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
    pub(crate) fn take_effects(&mut self) -> Vec<Effect> {
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
            Cmd::Auth => return self.auth_command(arg),
        }
        Vec::new()
    }

    pub(super) fn open_help(&mut self) {
        self.help.scroll = 0;
        self.overlay = Some(Overlay::Help);
    }

    /// Candidates for what is typed: app commands after ':', command keywords valid now and
    /// advertised, message numbers known from LIST.
    pub fn candidates(&self) -> Vec<String> {
        let text = &self.line.text;
        if let Some(rest) = text.strip_prefix(':') {
            if let Some(arg) = rest.strip_prefix("auth ") {
                return super::oauth::candidates(arg);
            }
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
        // `:auth ` completed from `:au` goes on to its argument.
        let finished = self.line.completions.len() == 1
            && self.line.completions.first() == Some(&self.line.text);
        if self.line.completions.is_empty() || finished {
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
        self.line.shown(self.secret_mode())
    }
}

/// The line editor's own actions (its scope of the table).
fn is_editing(act: Act) -> bool {
    matches!(
        act,
        Act::ClearLine
            | Act::DeleteWord
            | Act::DeleteBack
            | Act::DeleteForward
            | Act::CursorLeft
            | Act::CursorRight
            | Act::LineStart
            | Act::LineEnd
    )
}
