//! What a client's XOAUTH2 or OAUTHBEARER message holds, read from the base64 line it sent:
//! the dummy response, a request for the error challenge (an empty `auth=`), a token, or
//! something else. Only the shape is kept, never the token.
//!
//! The shape survives redaction: a recording keeps `user=`, the GS2 header, every key, the
//! `Bearer ` scheme, an empty `auth=` and the dummy `AQ==` ([`crate::redact`]), and masks the
//! token with as many `*`, so a redacted recording reads exactly like the live session.

use serde::Serialize;
use zeroize::Zeroizing;

use super::Mechanism;

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
        if raw[..] == b"\x01"[..] {
            return plain(MessageKind::LoneCtrlA);
        }
        read_fields(mechanism, &raw).unwrap_or(plain(MessageKind::Malformed))
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

/// The `^A`-separated fields after the first: XOAUTH2's `user=` or OAUTHBEARER's GS2 header.
/// None when the first field or a key/value pair is not the mechanism's.
fn read_fields(mechanism: Mechanism, raw: &[u8]) -> Option<ClientMessage> {
    let mut fields = raw.split(|&b| b == 1);
    let first = fields.next()?;
    let first_ok = match mechanism {
        Mechanism::XOauth2 => first.starts_with(b"user="),
        Mechanism::OauthBearer => is_gs2_header(first),
    };
    if !first_ok {
        return None;
    }
    let known: &[&[u8]] = match mechanism {
        Mechanism::XOauth2 => &[b"auth"],
        Mechanism::OauthBearer => &[b"auth", b"host", b"port"],
    };
    let mut auth = None;
    let mut unknown_key = false;
    // The terminating `^A^A` leaves empty fields at the end; they carry nothing.
    for field in fields.filter(|f| !f.is_empty()) {
        let eq = field.iter().position(|&b| b == b'=')?;
        let (key, value) = (&field[..eq], &field[eq + 1..]);
        if key == b"auth" {
            auth = Some(value);
        } else if !known.contains(&key) {
            unknown_key = true;
        }
    }
    let token = strip_scheme(auth?);
    let kind = if token.trim_ascii().is_empty() {
        MessageKind::NoToken
    } else {
        MessageKind::Token
    };
    Some(ClientMessage { kind, unknown_key })
}

/// `Bearer TOKEN` without its scheme (case-insensitive, RFC 6750 §2.1).
fn strip_scheme(value: &[u8]) -> &[u8] {
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => &value[7..],
        _ => value,
    }
}

/// RFC 7628 §3.1's `gs2-header`, loosely: a channel-binding flag (`n`, `y` or `p=…`), and a
/// comma at the end.
fn is_gs2_header(field: &[u8]) -> bool {
    let flag_ok = field.starts_with(b"n,") || field.starts_with(b"y,") || field.starts_with(b"p=");
    flag_ok && field.ends_with(b",") && field.iter().filter(|&&b| b == b',').count() == 2
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

    #[test]
    fn a_redacted_message_reads_like_the_original() {
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
