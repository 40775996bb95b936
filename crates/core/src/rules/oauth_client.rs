//! The client side of OAuth (rules.md §3.18, CL-015): what a client owes after the server's
//! error challenge. The first client area: it judges the client, never the server.

use super::area::{Area, Ctx, Side};
use super::catalog as r;
use super::catalog::Severity;
use super::oauth::lowered;
use crate::event::Location;
use crate::exchange::Exchange;
use crate::oauth::{Mechanism, MessageKind};

/// CL-015.
#[derive(Debug, Default)]
pub(crate) struct OauthClient;

impl Area for OauthClient {
    fn side(&self) -> Side {
        Side::Client
    }

    fn on_sasl_response(&mut self, cx: &mut Ctx<'_>, ex: &Exchange, at: Location) {
        let Some(sasl) = &ex.sasl else {
            return;
        };
        let (Some(m), Some(line)) = (sasl.oauth, sasl.last_client) else {
            return;
        };
        // In RFC 7628 the only server message after the token message is the error challenge.
        if !line.after_token_message || line.cancel {
            return;
        }
        let Some(sent) = line.oauth.filter(|msg| !msg.is_dummy(m)) else {
            return;
        };
        let what = match sent.kind {
            MessageKind::Token => "another message with a token",
            MessageKind::NoToken => "another message without a token",
            MessageKind::Empty => "an empty line",
            MessageKind::LoneCtrlA | MessageKind::Malformed => "a line that is neither",
        };
        let dummy = match m {
            Mechanism::OauthBearer => "AQ== (a single ^A)",
            Mechanism::XOauth2 => "an empty line (or AQ==)",
        };
        cx.check.report(&r::CL_015, lowered(m, Severity::Violation), at, format!(
            "After the server's error challenge to AUTH {} the client sent {what} instead of the dummy response {dummy} or '*': RFC 7628 §3.2.3 says the client MUST send one of them, so that the server can end the exchange.",
            m.name()
        ));
    }
}
