//! What a client's XOAUTH2 or OAUTHBEARER message holds, read from the base64 line it sent:
//! the dummy response, a request for the error challenge (an empty `auth=`), a token, or
//! something else, as [`super::grammar`] reads it. Only the shape is kept, never the token.
//!
//! The shape survives redaction: a recording keeps `user=`, the GS2 header, every key, the
//! `Bearer ` scheme, an empty `auth=` and the dummy `AQ==`, and masks the token with as many
//! `*`; a message the grammar refuses is masked whole, and so stays malformed
//! ([`crate::redact`]). A redacted recording reads exactly like the live session.

use serde::Serialize;
use zeroize::Zeroizing;

use super::Mechanism;
use super::grammar::{self, Parsed};

/// The kind of an OAuth client message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageKind {
    /// An empty line, or `=` (an empty initial response, RFC 5034 §4): XOAUTH2's dummy
    /// response.
    Empty,
    /// A lone `^A`, base64 `AQ==`: OAUTHBEARER's dummy response (RFC 7628 §3.2.3).
    LoneCtrlA,
    /// The mechanism's framing with an empty `auth=`: a request for the server's error
    /// challenge, and so its scope, without a token (RFC 7628 §4.3).
    NoToken,
    /// The mechanism's framing with a bearer token.
    Token,
    /// Anything else: not base64, or not the mechanism's framing.
    Malformed,
}

/// What one client message of an OAuth exchange held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ClientMessage {
    /// Its kind.
    pub kind: MessageKind,
    /// It carried a key/value pair the mechanism does not define (`xpopscope=probe`): the
    /// server must ignore it (RFC 7628 §3.1, OAUTH-006).
    pub unknown_key: bool,
}

impl ClientMessage {
    /// Reads one line of `mechanism` as the client sent it (base64, without its line end).
    /// The kind is the strict grammar's ([`super::grammar`]), the demo server's: a message
    /// that grammar refuses is Malformed, however close to a token it comes, since a server
    /// may refuse it at once without an error challenge.
    pub fn read(mechanism: Mechanism, line: &[u8]) -> ClientMessage {
        let plain = |kind| ClientMessage {
            kind,
            unknown_key: false,
        };
        if line.is_empty() || line == b"=" {
            return plain(MessageKind::Empty);
        }
        let Some(raw) = crate::auth::b64decode(line).map(Zeroizing::new) else {
            return plain(MessageKind::Malformed);
        };
        match grammar::parse(mechanism, &raw) {
            Parsed::LoneKvsep => plain(MessageKind::LoneCtrlA),
            Parsed::Malformed(_) => plain(MessageKind::Malformed),
            Parsed::Request(r) => ClientMessage {
                kind: match r.token {
                    Some(_) => MessageKind::Token,
                    None => MessageKind::NoToken,
                },
                unknown_key: r.unknown_key,
            },
        }
    }

    /// Whether this is the dummy response a client owes after an error challenge. For
    /// OAUTHBEARER a lone `^A` (RFC 7628 §3.2.3); for XOAUTH2 the empty line Google's
    /// protocol page asks for, or the `^A` of RFC 7628 that servers such as Dovecot take too.
    pub fn is_dummy(self, mechanism: Mechanism) -> bool {
        match mechanism {
            Mechanism::OauthBearer => self.kind == MessageKind::LoneCtrlA,
            Mechanism::XOauth2 => matches!(self.kind, MessageKind::LoneCtrlA | MessageKind::Empty),
        }
    }

    /// The message carried a token or asked for the error challenge: a real login attempt,
    /// which a server that refuses it answers with an error challenge (OAUTH-003).
    pub fn is_login(self) -> bool {
        matches!(self.kind, MessageKind::Token | MessageKind::NoToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::b64encode;
    use crate::oauth::initial_response;

    fn kind(m: Mechanism, raw: &[u8]) -> ClientMessage {
        ClientMessage::read(m, b64encode(raw).as_bytes())
    }

    #[test]
    fn the_messages_popscope_sends_are_read_back() {
        for m in [Mechanism::XOauth2, Mechanism::OauthBearer] {
            let token = initial_response(m, b"alice@example.com", b"pop.example", 995, b"ya29.a0")
                .map(|r| r.to_string())
                .unwrap_or_default();
            let read = ClientMessage::read(m, token.as_bytes());
            assert_eq!(read.kind, MessageKind::Token, "{m:?}");
            assert!(!read.unknown_key && read.is_login());
            let ask = initial_response(m, b"alice", b"pop.example", 995, b"")
                .map(|r| r.to_string())
                .unwrap_or_default();
            assert_eq!(
                ClientMessage::read(m, ask.as_bytes()).kind,
                MessageKind::NoToken
            );
            let dummy = ClientMessage::read(m, m.dummy_line().as_bytes());
            assert!(dummy.is_dummy(m) && !dummy.is_login(), "{m:?}");
        }
    }

    #[test]
    fn dummies_per_mechanism() {
        let empty = ClientMessage::read(Mechanism::OauthBearer, b"");
        assert_eq!(empty.kind, MessageKind::Empty);
        assert!(!empty.is_dummy(Mechanism::OauthBearer));
        assert!(empty.is_dummy(Mechanism::XOauth2));
        let ctrl_a = ClientMessage::read(Mechanism::XOauth2, b"AQ==");
        assert!(ctrl_a.is_dummy(Mechanism::XOauth2) && ctrl_a.is_dummy(Mechanism::OauthBearer));
        assert_eq!(
            ClientMessage::read(Mechanism::XOauth2, b"=").kind,
            MessageKind::Empty
        );
    }

    #[test]
    fn unknown_keys_and_malformed_messages() {
        let extra = kind(
            Mechanism::OauthBearer,
            b"n,a=u,\x01host=h\x01port=995\x01xpopscope=probe\x01auth=Bearer t\x01\x01",
        );
        assert_eq!(extra.kind, MessageKind::Token);
        assert!(extra.unknown_key);
        let x = kind(
            Mechanism::XOauth2,
            b"user=u\x01xpopscope=probe\x01auth=Bearer t\x01\x01",
        );
        assert!(x.unknown_key);
        for (m, raw) in [
            (Mechanism::XOauth2, &b"auth=Bearer t\x01\x01"[..]),
            (Mechanism::XOauth2, b"user=u\x01Bearer t\x01\x01"),
            (Mechanism::OauthBearer, b"user=u\x01auth=Bearer t\x01\x01"),
            (Mechanism::OauthBearer, b"n,a=u,\x01host=h\x01\x01"),
            (Mechanism::OauthBearer, b"\x01\x01"),
        ] {
            assert_eq!(kind(m, raw).kind, MessageKind::Malformed, "{raw:?}");
        }
        assert_eq!(
            ClientMessage::read(Mechanism::XOauth2, b"not base64!").kind,
            MessageKind::Malformed
        );
    }

    /// What the lenient reading once took for a token, the grammar refuses: a server may
    /// refuse it at once, and OAUTH-003 (an error challenge owed after a token) must not then
    /// blame it. What curl 7.88, mpop 1.4.18 and fetchmail 6.5 send stays a token.
    #[test]
    fn what_the_grammar_refuses_is_malformed_and_real_clients_send_tokens() {
        use Mechanism::{OauthBearer as B, XOauth2 as X};
        use MessageKind::{Malformed, Token};
        for (m, raw, want) in [
            (
                B,
                &b"n,a=u,\x01x-popscope=probe\x01auth=Bearer t\x01\x01"[..],
                Malformed,
            ),
            (X, b"user=u\x01key2=v\x01auth=Bearer t\x01\x01", Malformed),
            (X, b"user=u\x01auth=Bearer t\x01", Malformed),
            (X, b"user=u\x01auth=Bearer t", Malformed),
            (B, b"n,,\x01auth=Bearer t\x00\x01\x01", Malformed),
            (B, b"n,,\x01auth=Bearer a b\x01\x01", Malformed),
            (B, b"n,,\x01auth=Token t\x01\x01", Malformed),
            (B, b"p=tls-unique,,\x01auth=Bearer t\x01\x01", Malformed),
            (B, b"n,a=a=b,\x01auth=Bearer t\x01\x01", Malformed),
            // curl and mpop; fetchmail (no host, no port); XOAUTH2 as all three send it.
            (
                B,
                b"n,a=demo,\x01host=127.0.0.1\x01port=1110\x01auth=Bearer t\x01\x01",
                Token,
            ),
            (B, b"n,a=demo,\x01auth=Bearer t\x01\x01", Token),
            (X, b"user=demo\x01auth=Bearer t\x01\x01", Token),
        ] {
            let read = kind(m, raw);
            assert_eq!(read.kind, want, "{raw:?}");
            assert_eq!(read.is_login(), want == Token);
            assert!(!read.unknown_key);
        }
    }

    #[test]
    fn bearer_and_blanks_is_no_token() {
        for (m, raw) in [
            (
                Mechanism::OauthBearer,
                &b"n,,\x01auth=Bearer   \x01\x01"[..],
            ),
            (Mechanism::XOauth2, b"user=u\x01auth=Bearer \x01\x01"),
        ] {
            assert_eq!(kind(m, raw).kind, MessageKind::Malformed, "{raw:?}");
        }
    }

    #[test]
    fn a_redacted_message_reads_like_the_original() {
        let t = "ya29.secret";
        for (m, raw) in [
            (
                Mechanism::OauthBearer,
                format!("n,,\x01xkey=v\x01auth=Bearer {t}\x01\x01"),
            ),
            (
                Mechanism::OauthBearer,
                format!("n,,\x01x-key=v\x01auth=Bearer {t}\x01\x01"),
            ),
            (
                Mechanism::OauthBearer,
                format!("n,,\x01auth=Bearer {t}\x7f\x01\x01"),
            ),
            (
                Mechanism::OauthBearer,
                format!("n,,\x01auth=Bearer {t} x\x01\x01"),
            ),
            (
                Mechanism::OauthBearer,
                format!("n,,\x01auth=bearer   {t}\x01\x01"),
            ),
            (Mechanism::XOauth2, format!("user=u\x01auth=Bearer {t}\x01")),
            (
                Mechanism::XOauth2,
                "user=u\x01auth=Bearer \x01\x01".to_owned(),
            ),
            (Mechanism::XOauth2, "\x01\x01".to_owned()),
            // The scheme and blanks, no token: once "an empty auth=" live and "a token"
            // redacted.
            (
                Mechanism::OauthBearer,
                "n,,\x01auth=Bearer   \x01\x01".to_owned(),
            ),
            (
                Mechanism::XOauth2,
                "user=u\x01auth=Bearer    \x01\x01".to_owned(),
            ),
        ] {
            let line = b64encode(raw.as_bytes());
            let red = crate::redact::client_line(line.as_bytes(), Some(m.name()))
                .unwrap_or_else(|| line.clone().into_bytes());
            let decoded = crate::auth::b64decode(&red).unwrap_or_default();
            assert!(!String::from_utf8_lossy(&decoded).contains(t), "{raw:?}");
            assert_eq!(
                ClientMessage::read(m, &red),
                ClientMessage::read(m, line.as_bytes()),
                "{raw:?}"
            );
        }
        for m in [Mechanism::XOauth2, Mechanism::OauthBearer] {
            for token in [&b"ya29.secret-token"[..], b""] {
                let line = initial_response(m, b"bob", b"h", 110, token)
                    .map(|r| r.to_string())
                    .unwrap_or_default();
                let red = crate::redact::client_line(line.as_bytes(), Some(m.name()))
                    .unwrap_or_else(|| line.clone().into_bytes());
                assert_eq!(
                    ClientMessage::read(m, &red),
                    ClientMessage::read(m, line.as_bytes()),
                    "{m:?} {token:?}"
                );
            }
        }
    }
}
