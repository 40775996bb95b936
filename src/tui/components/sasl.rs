//! The SASL exchange as the state panel shows it: the mechanism, the AUTH form and each step
//! (AUTH sent, the server's `+ `, the response, an OAuth error challenge, the dummy response,
//! the final reply), followed from the engine's events while the exchange is open; an OAuth
//! exchange stays shown after it until the next AUTH.

use ratatui::text::Line;

use popscope_core::command::Command;
use popscope_core::oauth::Mechanism;

use super::View;

/// One step of a SASL exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The AUTH command went out.
    Auth,
    /// The server asked for more (`+ `).
    Challenge,
    /// The client answered a challenge.
    Response,
    /// An OAuth server's error challenge: the token was refused (RFC 7628 §3.2.2).
    ErrorChallenge,
    /// The dummy response owed after an error challenge (RFC 7628 §3.2.3).
    Dummy,
    /// The client cancelled with `*`.
    Cancel,
    Ok,
    Err,
}

impl Step {
    fn label(self, mechanism: Option<Mechanism>) -> &'static str {
        match self {
            Step::Auth => "AUTH",
            Step::Challenge => "+",
            Step::Response => "response",
            Step::ErrorChallenge => "+ error",
            Step::Dummy if mechanism == Some(Mechanism::XOauth2) => "empty line",
            Step::Dummy => "AQ==",
            Step::Cancel => "*",
            Step::Ok => "+OK",
            Step::Err => "-ERR",
        }
    }
}

/// Steps kept per exchange: a server that keeps challenging must not grow the panel.
const MAX_STEPS: usize = 12;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SaslExchange {
    pub(crate) exchange: u32,
    /// As the AUTH line named it, already shown through the sanitizer.
    mechanism: String,
    /// The mechanism when it is XOAUTH2 or OAUTHBEARER.
    pub(crate) oauth: Option<Mechanism>,
    /// The AUTH line carried the initial response.
    initial_response: bool,
    steps: Vec<Step>,
}

impl SaslExchange {
    /// The exchange an AUTH command starts, or None for an AUTH that starts none (a bare
    /// `AUTH` asks for the list of mechanisms).
    pub(crate) fn started(exchange: u32, command: &Command) -> Option<SaslExchange> {
        let mechanism = command.mechanism()?;
        Some(SaslExchange {
            exchange,
            oauth: Mechanism::parse(&mechanism),
            mechanism: popscope_core::sanitize::display(mechanism.as_bytes(), 24),
            initial_response: command.secret.is_some(),
            steps: vec![Step::Auth],
        })
    }

    fn push(&mut self, step: Step) {
        if self.steps.len() < MAX_STEPS {
            self.steps.push(step);
        }
    }

    fn has(&self, step: Step) -> bool {
        self.steps.contains(&step)
    }

    /// A `+ ` challenge came; true when it is an OAuth error challenge: the token went out (on
    /// the AUTH line, or as a response) and the server still asks for more.
    pub(crate) fn challenged(&mut self) -> bool {
        let error = self.oauth.is_some()
            && (self.initial_response || self.has(Step::Response))
            && !self.has(Step::ErrorChallenge);
        self.push(if error {
            Step::ErrorChallenge
        } else {
            Step::Challenge
        });
        error
    }

    /// The client answered; true when the line is the dummy response after an error
    /// challenge.
    pub(crate) fn answered(&mut self, cancel: bool, dummy: bool) -> bool {
        let owed = self.steps.last() == Some(&Step::ErrorChallenge);
        let step = match (cancel, dummy && owed) {
            (true, _) => Step::Cancel,
            (false, true) => Step::Dummy,
            (false, false) => Step::Response,
        };
        self.push(step);
        step == Step::Dummy
    }

    pub(crate) fn replied(&mut self, ok: bool) {
        self.push(if ok { Step::Ok } else { Step::Err });
    }

    fn done(&self) -> bool {
        matches!(self.steps.last(), Some(Step::Ok | Step::Err))
    }

    /// Two lines for the state panel: the mechanism and form, then the steps. An ended
    /// exchange stays only for XOAUTH2 and OAUTHBEARER, whose steps explain a refused token
    /// (a finished PLAIN says nothing the transcript does not).
    pub(crate) fn lines(&self, v: &View) -> Vec<Line<'static>> {
        if self.done() && self.oauth.is_none() {
            return Vec::new();
        }
        // `--sasl-form`'s words: one-line is the initial response on the AUTH line.
        let form = if self.initial_response {
            "one-line"
        } else {
            "two-line"
        };
        let mut steps: Vec<&str> = self.steps.iter().map(|s| s.label(self.oauth)).collect();
        if !self.done() {
            steps.push("…");
        }
        vec![
            Line::styled(format!("SASL {} {form}", self.mechanism), v.theme.dim),
            Line::styled(steps.join(" → "), v.theme.server),
        ]
    }
}
