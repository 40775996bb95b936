//! Which client line is a SASL response, by the engine's events: the first line after a
//! challenge of the AUTH awaiting its reply. What records and quotes client lines masks that
//! line as [`popscope_core::redact::client_line`] masks a response of its mechanism.

use popscope_core::Event;

/// The SASL exchange of a session as its events tell it.
#[derive(Debug, Default)]
pub(crate) struct SaslWatch {
    /// The mechanism of the AUTH awaiting its reply.
    pending: Option<String>,
    /// The mechanism whose challenge is open: the next client line is its response.
    open: Option<String>,
}

impl SaslWatch {
    /// Follows one event of the engine.
    pub(crate) fn event(&mut self, ev: &Event<'_>) {
        match ev {
            Event::Command { command, .. } => self.pending = command.mechanism(),
            Event::Challenge { .. } => self.open = self.pending.clone(),
            Event::SaslResponse(_) => self.open = None,
            Event::Reply(_) => {
                self.open = None;
                self.pending = None;
            }
            _ => {}
        }
    }

    /// The mechanism of the open challenge: the next client line answers it.
    pub(crate) fn responding(&self) -> Option<&str> {
        self.open.as_deref()
    }
}
