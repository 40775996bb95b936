//! The demo server's XOAUTH2 and OAUTHBEARER: the token `ServerConfig::token` for the one user
//! logs in, by either AUTH form; anything else well-formed gets the error challenge of RFC 7628
//! §3.2.2 and, after the client's dummy response, `-ERR`. Offered under TLS only (RFC 7628 §3),
//! unless a quirk says otherwise.

use super::quirks::TokenRefusal;
use super::{Output, Sasl, ServerSession};
use crate::command::parse_decimal;
use crate::oauth::Mechanism;
use crate::oauth::grammar::{self, Parsed, Request};

/// OAUTHBEARER's error challenge: RFC 7628 §3.2.2's members, the discovery URL https
/// (OAUTH-005).
pub(crate) const OAUTHBEARER_ERROR: &[u8] = br#"{"status":"invalid_token","scope":"pop","openid-configuration":"https://localhost/.well-known/openid-configuration"}"#;

/// XOAUTH2's error challenge, as Google's protocol page shows it.
pub(crate) const XOAUTH2_ERROR: &[u8] = br#"{"status":"401","schemes":"bearer","scope":"pop"}"#;

/// The `oauth-bad-error` quirk's challenge: words where JSON belongs.
const TEXT_ERROR: &[u8] = b"invalid token: ask for the scope pop";

const FAILED: &str = "[AUTH] authentication failed";

/// The names a client may give for this loopback-only server in OAUTHBEARER's `host=`.
fn is_loopback_name(host: &[u8]) -> bool {
    [&b"127.0.0.1"[..], b"localhost", b"::1", b"[::1]"]
        .iter()
        .any(|name| host.eq_ignore_ascii_case(name))
}

impl ServerSession {
    /// Whether CAPA offers XOAUTH2 and OAUTHBEARER, and AUTH takes them, now.
    pub(super) fn tokens_offered(&self) -> bool {
        self.tls || self.wire.tokens_in_clear
    }

    /// `AUTH XOAUTH2` or `AUTH OAUTHBEARER`, with the initial response `ir` if it was on the
    /// line.
    pub(super) fn auth_token(&mut self, mechanism: Mechanism, ir: Option<&[u8]>) -> Vec<Output> {
        if !self.tokens_offered() {
            return self
                .err("[AUTH] a bearer token is accepted over TLS only (RFC 7628 section 3)");
        }
        match ir {
            Some(r) => self.sasl_step(Sasl::Token(mechanism), r),
            None if self.wire.token_on_own_line => self.challenge(Sasl::Token(mechanism), b""),
            None => self.err("initial response required"),
        }
    }

    /// The client's message (decoded): in, the error challenge, or `-ERR`.
    pub(super) fn token_message(&mut self, mechanism: Mechanism, data: &[u8]) -> Vec<Output> {
        match grammar::parse(mechanism, data) {
            Parsed::Request(r) if self.admits(&r) => self.logged_in(),
            Parsed::Request(_) => self.refuse_token(mechanism),
            Parsed::LoneKvsep => self.err(FAILED),
            Parsed::Malformed(why) => {
                self.err(&format!("invalid {} message: {why}", mechanism.name()))
            }
        }
    }

    /// The demo user (when named) with the demo token; `host` and `port`, when sent, this
    /// server (RFC 7628 §3.2: they "MUST be validated by the server").
    fn admits(&self, r: &Request<'_>) -> bool {
        let user = r
            .user
            .as_deref()
            .is_none_or(|u| u == self.cfg.user.as_bytes());
        let host = r.host.is_none_or(is_loopback_name);
        let port = r.port.is_none_or(|p| {
            self.cfg
                .port
                .is_none_or(|own| parse_decimal(p) == Some(u64::from(own)))
        });
        user && host && port && r.token == Some(self.cfg.token.as_bytes())
    }

    fn refuse_token(&mut self, mechanism: Mechanism) -> Vec<Output> {
        let challenge = match (self.wire.token_refusal, mechanism) {
            (TokenRefusal::ErrAtOnce, _) => return self.err(FAILED),
            (TokenRefusal::TextChallenge, _) => TEXT_ERROR,
            (TokenRefusal::JsonChallenge, Mechanism::OauthBearer) => OAUTHBEARER_ERROR,
            (TokenRefusal::JsonChallenge, Mechanism::XOauth2) => XOAUTH2_ERROR,
        };
        self.challenge(Sasl::TokenRefused, challenge)
    }

    /// The line after the error challenge: the dummy response, `*`, or anything else, the
    /// exchange fails (RFC 7628 §3.2.3).
    pub(super) fn after_error_challenge(&mut self, line: &[u8]) -> Vec<Output> {
        if self.wire.ok_after_dummy && crate::oauth::is_dummy_response(line) {
            self.logged_in()
        } else {
            self.err(FAILED)
        }
    }
}

#[cfg(test)]
mod tests;
