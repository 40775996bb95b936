//! OAuth 2.0 bearer-token login for POP3: the client messages of XOAUTH2 (Google's and
//! Microsoft's mechanism, not an RFC) and OAUTHBEARER (RFC 7628), the choice between the two
//! AUTH forms (RFC 5034 §4), the dummy response owed after an error challenge, the error
//! challenge itself ([`challenge`]) and what an unverified JWT says about a token ([`jwt`]).
//!
//! Pure functions: no I/O and no clock (the caller passes the time where one is needed).
//! Messages are raw octets; SASL puts them on the wire in base64 ([`crate::auth::b64encode`]).

pub mod challenge;
pub mod grammar;
pub mod jwt;
pub mod message;

use zeroize::Zeroizing;

pub use challenge::{ChallengeDecode, ErrorChallenge};
pub use jwt::{Claims, Expiry, ScopeFit};
pub use message::{ClientMessage, MessageKind};

/// The two bearer-token SASL mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Mechanism {
    /// `XOAUTH2`: `user=` NAME `^A` `auth=Bearer ` TOKEN `^A^A`.
    #[serde(rename = "XOAUTH2")]
    XOauth2,
    /// `OAUTHBEARER` (RFC 7628): a GS2 header, then `^A`-separated key/value pairs.
    #[serde(rename = "OAUTHBEARER")]
    OauthBearer,
}

impl Mechanism {
    /// The mechanism's name as CAPA `SASL` and `AUTH` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::XOauth2 => "XOAUTH2",
            Mechanism::OauthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism a SASL name denotes (case-insensitive), or None for any other name.
    pub fn parse(name: &str) -> Option<Mechanism> {
        [Mechanism::XOauth2, Mechanism::OauthBearer]
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// What the client sends after an error challenge so that the server can fail the
    /// exchange, as raw octets. RFC 7628 §3.2.3: for OAUTHBEARER "the client MUST then send
    /// either an additional client response consisting of a single %x01 (control A) character
    /// to the server in order to allow the server to finish the exchange or a SASL abort
    /// message"; base64 `AQ==`. Google's XOAUTH2 protocol page asks for an empty response
    /// to the error challenge instead: an empty line (Dovecot accepts both).
    pub fn dummy_response(self) -> &'static [u8] {
        match self {
            Mechanism::XOauth2 => b"",
            Mechanism::OauthBearer => b"\x01",
        }
    }

    /// [`Mechanism::dummy_response`] as the line to send: `AQ==` or the empty string.
    pub fn dummy_line(self) -> &'static str {
        match self {
            Mechanism::XOauth2 => "",
            Mechanism::OauthBearer => "AQ==",
        }
    }
}

/// A field that cannot go into an OAuth client message as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// The user name holds a control character (`^A`, CR, LF, NUL, ...): it would end a field
    /// or the line.
    ControlInUser,
    /// The token holds a control character or a space: a bearer token is a `b64token`
    /// (RFC 6750 §2.1) and a `^A`, CR or LF in it would break the framing.
    ControlInToken,
    /// The host holds a control character.
    ControlInHost,
}

impl std::fmt::Display for FramingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self {
            FramingError::ControlInUser => "the user name holds a control character",
            FramingError::ControlInToken => "the token holds a control character or a space",
            FramingError::ControlInHost => "the host name holds a control character",
        };
        f.write_str(what)
    }
}

impl std::error::Error for FramingError {}

fn has_control(field: &[u8]) -> bool {
    field.iter().any(|&b| b < 0x20 || b == 0x7f)
}

fn check(field: &[u8], error: FramingError) -> Result<(), FramingError> {
    if has_control(field) {
        Err(error)
    } else {
        Ok(())
    }
}

fn check_token(token: &[u8]) -> Result<(), FramingError> {
    if has_control(token) || token.contains(&b' ') {
        Err(FramingError::ControlInToken)
    } else {
        Ok(())
    }
}

/// `auth=Bearer TOKEN`, or a bare `auth=` for an empty token: RFC 7628 §4.3's way of asking
/// the server for its error challenge (and so its scope) without a token.
fn push_auth(message: &mut Vec<u8>, token: &[u8]) {
    message.extend_from_slice(b"auth=");
    if !token.is_empty() {
        message.extend_from_slice(b"Bearer ");
        message.extend_from_slice(token);
    }
}

/// The XOAUTH2 client message, raw: `user=USER ^A auth=Bearer TOKEN ^A ^A`. An empty token
/// gives a bare `auth=` (a request for the error challenge). Errors if a field holds a
/// control character that would break the framing. The result holds the token: it is wiped
/// when dropped.
///
/// ```
/// let m = popscope_core::oauth::xoauth2_message(b"demo", b"demo-token").unwrap();
/// assert_eq!(&m[..], b"user=demo\x01auth=Bearer demo-token\x01\x01");
/// ```
pub fn xoauth2_message(user: &[u8], token: &[u8]) -> Result<Zeroizing<Vec<u8>>, FramingError> {
    check(user, FramingError::ControlInUser)?;
    check_token(token)?;
    let mut m = Zeroizing::new(Vec::with_capacity(user.len() + token.len() + 22));
    m.extend_from_slice(b"user=");
    m.extend_from_slice(user);
    m.push(1);
    push_auth(&mut m, token);
    m.extend_from_slice(b"\x01\x01");
    Ok(m)
}

/// The GS2 authzid of RFC 5801 §4: `,` becomes `=2C` and `=` becomes `=3D`.
fn gs2_escape(user: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(user.len());
    for &b in user {
        match b {
            b',' => out.extend_from_slice(b"=2C"),
            b'=' => out.extend_from_slice(b"=3D"),
            b => out.push(b),
        }
    }
    out
}

/// The OAUTHBEARER initial client response of RFC 7628 §3.1, raw: the GS2 header `n,a=USER,`
/// (the user escaped as RFC 5801 §4 requires; `n,,` when `user` is empty), then
/// `^A host=HOST ^A port=PORT ^A auth=Bearer TOKEN ^A ^A`. An empty token gives a bare
/// `auth=` (RFC 7628 §4.3: how a client asks for the server's scope). Errors if a field
/// holds a control character. The result holds the token: it is wiped when dropped.
///
/// ```
/// let m = popscope_core::oauth::oauthbearer_message(b"a,b=c", b"pop.example", 995, b"t0k").unwrap();
/// assert_eq!(&m[..], b"n,a=a=2Cb=3Dc,\x01host=pop.example\x01port=995\x01auth=Bearer t0k\x01\x01");
/// ```
pub fn oauthbearer_message(
    user: &[u8],
    host: &[u8],
    port: u16,
    token: &[u8],
) -> Result<Zeroizing<Vec<u8>>, FramingError> {
    check(user, FramingError::ControlInUser)?;
    check(host, FramingError::ControlInHost)?;
    check_token(token)?;
    let mut m = Zeroizing::new(Vec::with_capacity(
        user.len() * 3 + host.len() + token.len() + 40,
    ));
    m.extend_from_slice(b"n,");
    if !user.is_empty() {
        m.extend_from_slice(b"a=");
        m.extend_from_slice(&gs2_escape(user));
    }
    m.extend_from_slice(b",\x01host=");
    m.extend_from_slice(host);
    m.extend_from_slice(b"\x01port=");
    m.extend_from_slice(port.to_string().as_bytes());
    m.push(1);
    push_auth(&mut m, token);
    m.extend_from_slice(b"\x01\x01");
    Ok(m)
}

/// [`xoauth2_message`] or [`oauthbearer_message`] in base64, ready for the AUTH line or the
/// response line. `host` and `port` are used by OAUTHBEARER only. Wiped when dropped.
pub fn initial_response(
    mechanism: Mechanism,
    user: &[u8],
    host: &[u8],
    port: u16,
    token: &[u8],
) -> Result<Zeroizing<String>, FramingError> {
    let raw = match mechanism {
        Mechanism::XOauth2 => xoauth2_message(user, token)?,
        Mechanism::OauthBearer => oauthbearer_message(user, host, port, token)?,
    };
    Ok(Zeroizing::new(crate::auth::b64encode(&raw)))
}

/// The longest command line a POP3 server with CAPA must accept, **CRLF included**: RFC 2449
/// §4, "The maximum length of a command is increased from 47 characters (4 character command,
/// single space, 40 character argument, CRLF) to 255 octets, including the terminating CRLF."
pub const MAX_COMMAND_LINE: usize = 255;

/// Where the client puts its initial response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SaslForm {
    /// One line when it fits (see [`SaslForm::resolve`]), two otherwise.
    #[default]
    Auto,
    /// `AUTH MECH <base64>`: the response on the AUTH line.
    OneLine,
    /// `AUTH MECH`, the server's `+ `, then the response on its own line.
    TwoLine,
}

impl SaslForm {
    /// The form a command-line spelling names: `auto`, `one-line` or `two-line`.
    pub fn parse(text: &str) -> Option<SaslForm> {
        match text {
            "auto" => Some(SaslForm::Auto),
            "one-line" => Some(SaslForm::OneLine),
            "two-line" => Some(SaslForm::TwoLine),
            _ => None,
        }
    }

    /// The spelling [`SaslForm::parse`] reads.
    pub fn as_str(self) -> &'static str {
        match self {
            SaslForm::Auto => "auto",
            SaslForm::OneLine => "one-line",
            SaslForm::TwoLine => "two-line",
        }
    }

    /// The form to use for `mechanism` and an initial response of `encoded_len` base64
    /// octets: `OneLine` and `TwoLine` stay as asked; `Auto` becomes `OneLine` when
    /// [`fits_on_auth_line`], else `TwoLine`. Never returns `Auto`.
    pub fn resolve(self, mechanism: &str, encoded_len: usize) -> SaslForm {
        match self {
            SaslForm::Auto if fits_on_auth_line(mechanism, encoded_len) => SaslForm::OneLine,
            SaslForm::Auto => SaslForm::TwoLine,
            form => form,
        }
    }
}

/// The length on the wire of `AUTH MECHANISM RESPONSE` CRLF with a response of `encoded_len`
/// base64 octets (saturating: a huge length does not wrap).
pub fn auth_line_len(mechanism: &str, encoded_len: usize) -> usize {
    "AUTH  \r\n"
        .len()
        .saturating_add(mechanism.len())
        .saturating_add(encoded_len)
}

/// Whether a SASL response line (without its line end) is one of the dummy responses a client
/// owes after an OAuth error challenge (RFC 7628 §3.2.3): `AQ==` or an empty line. They carry
/// no secret, so a transcript may show them as sent.
///
/// ```
/// assert!(popscope_core::oauth::is_dummy_response(b"AQ=="));
/// assert!(popscope_core::oauth::is_dummy_response(b""));
/// assert!(!popscope_core::oauth::is_dummy_response(b"dXNlcj1h"));
/// ```
pub fn is_dummy_response(line: &[u8]) -> bool {
    line.is_empty() || line == Mechanism::OauthBearer.dummy_line().as_bytes()
}

/// Whether an initial response of `encoded_len` base64 octets may go on the AUTH line.
/// RFC 5034 §4 (its eighth paragraph): "the AUTH command is still subject to the line length limitations defined
/// in \[POP3-EXT\]. If use of the initial response argument would cause the AUTH command to
/// exceed this length, the client MUST NOT use the initial response parameter (and instead
/// proceed as defined in Section 5.1 of \[SASL\])"; that length is [`MAX_COMMAND_LINE`], 255
/// octets with the CRLF (RFC 2449 §4). So the whole `AUTH MECH <base64>\r\n` must be at
/// most 255 octets: with `XOAUTH2` a response of up to 240 base64 octets fits (curl's
/// `8 + strlen(mech) + len <= 255` is the same sum).
///
/// ```
/// use popscope_core::oauth::fits_on_auth_line;
/// assert!(fits_on_auth_line("XOAUTH2", 240));
/// assert!(!fits_on_auth_line("XOAUTH2", 241));
/// ```
pub fn fits_on_auth_line(mechanism: &str, encoded_len: usize) -> bool {
    auth_line_len(mechanism, encoded_len) <= MAX_COMMAND_LINE
}

/// The base64 length of `raw_len` octets, padded (RFC 4648 §4), saturating.
pub fn encoded_len(raw_len: usize) -> usize {
    raw_len.div_ceil(3).saturating_mul(4)
}

#[cfg(test)]
mod tests;
