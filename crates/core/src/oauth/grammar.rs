//! The grammar of a bearer-token client message, decoded from base64, read strictly: RFC
//! 7628 §3.1 for OAUTHBEARER (a GS2 header, then `^A`-separated `key=value` pairs and a final
//! `^A`) and Google's XOAUTH2 (`user=USER ^A auth=Bearer TOKEN ^A ^A`, the same pair syntax
//! without the header). [`crate::oauth`] builds these messages; this is the one place that
//! takes them apart: the demo server judges the fields, the engine reads the message's kind
//! from it ([`super::message`]) and redaction masks the values it holds ([`crate::redact`]).
//!
//! The reading borrows from the message: the token is never copied, so it is wiped with the
//! buffer the caller holds it in.

use std::borrow::Cow;
use std::fmt;

use super::Mechanism;

/// What a client's OAuth message is.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A well-formed message.
    Request(Request<'a>),
    /// A lone `^A`: RFC 7628 §3.1's `kvsep` alone, no user and no token (the dummy response
    /// owed after an error challenge, §3.2.3).
    LoneKvsep,
    /// Not the mechanism's syntax; why, in a few words.
    Malformed(&'static str),
}

/// The fields of a well-formed message, raw (the user unescaped from GS2).
#[derive(PartialEq, Eq)]
pub struct Request<'a> {
    /// The GS2 authzid (`a=`) or XOAUTH2's `user=`; None when OAUTHBEARER leaves it out.
    pub user: Option<Cow<'a, [u8]>>,
    /// OAUTHBEARER's `host=`.
    pub host: Option<&'a [u8]>,
    /// OAUTHBEARER's `port=`, as sent.
    pub port: Option<&'a [u8]>,
    /// The bearer token; None for an empty `auth=`, RFC 7628 §4.3's way to ask for the
    /// server's error challenge (and so its scope) without a token.
    pub token: Option<&'a [u8]>,
    /// A key the mechanism does not define was sent (`xpopscope=probe`): a server must ignore
    /// it (RFC 7628 §3.1, OAUTH-006).
    pub unknown_key: bool,
}

/// Debug shows the token's length, never the token.
impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |v: Option<&[u8]>| v.map(|v| String::from_utf8_lossy(v).into_owned());
        f.debug_struct("Request")
            .field("user", &text(self.user.as_deref()))
            .field("host", &text(self.host))
            .field("port", &text(self.port))
            .field("token_octets", &self.token.map(<[u8]>::len))
            .field("unknown_key", &self.unknown_key)
            .finish()
    }
}

/// A well-formed message taken apart: it is `head`, then `key=value^A` for each pair, then
/// the final `^A`.
pub(crate) struct Layout<'a> {
    /// OAUTHBEARER's GS2 header with the `^A` after it; empty for XOAUTH2.
    pub(crate) head: &'a [u8],
    /// Every `key=value` pair, in order.
    pub(crate) pairs: Vec<Pair<'a>>,
}

/// One `key=value` pair: the key and the value.
pub(crate) type Pair<'a> = (&'a [u8], &'a [u8]);

/// The user a message names, unescaped when it had to be.
type User<'a> = Option<Cow<'a, [u8]>>;

/// Reads `message` (the decoded client response) as `mechanism` defines it.
pub fn parse(mechanism: Mechanism, message: &[u8]) -> Parsed<'_> {
    if message == b"\x01" {
        return Parsed::LoneKvsep;
    }
    split(mechanism, message)
        .and_then(|(user, layout)| request(mechanism, user, &layout))
        .map_or_else(Parsed::Malformed, Parsed::Request)
}

/// [`parse`]'s first step, which redaction shares: the GS2 authzid (OAUTHBEARER) and the
/// message's layout, every pair checked against `kvpair` but not yet read.
pub(crate) fn layout(mechanism: Mechanism, message: &[u8]) -> Option<Layout<'_>> {
    split(mechanism, message)
        .and_then(|(user, layout)| request(mechanism, user, &layout).map(|_| layout))
        .ok()
}

fn split(mechanism: Mechanism, message: &[u8]) -> Result<(User<'_>, Layout<'_>), &'static str> {
    let (user, pairs) = match mechanism {
        Mechanism::OauthBearer => {
            let (user, rest) = gs2_header(message)?;
            let pairs = rest
                .strip_prefix(b"\x01")
                .ok_or("no ^A after the GS2 header")?;
            (user, pairs)
        }
        Mechanism::XOauth2 => (None, message),
    };
    let head = &message[..message.len() - pairs.len()];
    let pairs = kvpairs(pairs)?;
    Ok((user, Layout { head, pairs }))
}

/// RFC 5801's `gs2-header = gs2-cbind-flag "," [ gs2-authzid ] ","`: the authzid, unescaped,
/// and what follows the header.
fn gs2_header(message: &[u8]) -> Result<(User<'_>, &[u8]), &'static str> {
    let mut fields = message.splitn(3, |&b| b == b',');
    let (Some(flag), Some(authzid), Some(rest)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err("no GS2 header");
    };
    match flag {
        b"n" | b"y" => {}
        [b'p', b'=', ..] => return Err("channel binding is not supported"),
        _ => return Err("the GS2 header starts with neither n nor y"),
    }
    let user = match authzid {
        [] => None,
        [b'a', b'='] => return Err("an empty a="),
        [b'a', b'=', name @ ..] => Some(gs2_unescape(name).ok_or("a bad escape in a=")?),
        _ => return Err("the GS2 authzid is not a="),
    };
    Ok((user, rest))
}

/// The authzid of RFC 5801 §4: `=2C` is `,` and `=3D` is `=`; any other `=` is malformed.
fn gs2_unescape(name: &[u8]) -> Option<Cow<'_, [u8]>> {
    if !name.contains(&b'=') {
        return Some(Cow::Borrowed(name));
    }
    let mut out = Vec::with_capacity(name.len());
    let mut rest = name;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'=' {
            out.push(b);
            continue;
        }
        let (escaped, tail) = match rest {
            [b'2', b'C', tail @ ..] => (b',', tail),
            [b'3', b'D', tail @ ..] => (b'=', tail),
            _ => return None,
        };
        out.push(escaped);
        rest = tail;
    }
    Some(Cow::Owned(out))
}

/// `*kvpair kvsep` with `kvpair = key "=" value kvsep`, `key = 1*(ALPHA)` and a value
/// without control characters but HTAB, CR and LF (RFC 7628 §3.1).
fn kvpairs(pairs: &[u8]) -> Result<Vec<Pair<'_>>, &'static str> {
    let mut out = Vec::new();
    let mut rest = pairs;
    loop {
        match rest {
            [] => return Err("no final ^A"),
            [1] => return Ok(out),
            _ => {}
        }
        let end = rest
            .iter()
            .position(|&b| b == 1)
            .ok_or("a key=value pair without its ^A")?;
        let (pair, tail) = (&rest[..end], &rest[end + 1..]);
        rest = tail;
        let eq = pair
            .iter()
            .position(|&b| b == b'=')
            .ok_or("a pair without =")?;
        let (key, value) = (&pair[..eq], &pair[eq + 1..]);
        if key.is_empty() || !key.iter().all(u8::is_ascii_alphabetic) {
            return Err("a key that is not letters");
        }
        if value
            .iter()
            .any(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7f)
        {
            return Err("a control character in a value");
        }
        out.push((key, value));
    }
}

/// The fields of `layout`: `host`, `port`, `auth` and (XOAUTH2's) `user` are read, any other
/// key is noted and ignored, as RFC 7628 §3.1 requires.
fn request<'a>(
    mechanism: Mechanism,
    user: User<'a>,
    layout: &Layout<'a>,
) -> Result<Request<'a>, &'static str> {
    let mut request = Request {
        user,
        host: None,
        port: None,
        token: None,
        unknown_key: false,
    };
    let mut auth = None;
    for &(key, value) in &layout.pairs {
        match (key, mechanism) {
            (b"auth", _) => auth = Some(value),
            (b"host", Mechanism::OauthBearer) => request.host = Some(value),
            (b"port", Mechanism::OauthBearer) => request.port = Some(value),
            (b"user", Mechanism::XOauth2) => request.user = Some(Cow::Borrowed(value)),
            _ => request.unknown_key = true,
        }
    }
    request.token = bearer(auth.ok_or("no auth=")?)?;
    if mechanism == Mechanism::XOauth2 && request.user.is_none() {
        return Err("no user=");
    }
    Ok(request)
}

/// RFC 7628 §3.1's `auth-value = "Bearer" 1*SP b64token` (the scheme case-insensitive, RFC
/// 6750 §2.1), or empty.
fn bearer(value: &[u8]) -> Result<Option<&[u8]>, &'static str> {
    if value.is_empty() {
        return Ok(None);
    }
    let scheme = value.get(..6).filter(|s| s.eq_ignore_ascii_case(b"Bearer"));
    let rest = scheme
        .and_then(|_| value.get(6..))
        .filter(|r| r.first() == Some(&b' '))
        .ok_or("auth= is not Bearer TOKEN")?;
    let token = rest.trim_ascii_start();
    if token.is_empty() || token.contains(&b' ') {
        return Err("auth= is not Bearer TOKEN");
    }
    Ok(Some(token))
}

#[cfg(test)]
mod tests;
