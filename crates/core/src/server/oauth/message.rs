//! The demo server's reading of a bearer-token client message, decoded from base64: RFC 7628
//! §3.1 for OAUTHBEARER (a GS2 header, then `^A`-separated `key=value` pairs) and Google's
//! XOAUTH2 (`user=USER ^A auth=Bearer TOKEN ^A ^A`, the same pair syntax without the header).
//! The client side builds these in [`crate::oauth`]; here they are taken apart, strictly
//! enough that a malformed message is told from a refused token.

use crate::oauth::Mechanism;

/// What a client's first OAuth message turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ClientMessage<'a> {
    /// A well-formed message: the server judges its fields.
    Request(Request<'a>),
    /// A lone `^A`: RFC 7628 §3.1's `kvsep` alone, no user and no token; failed at once.
    LoneKvsep,
    /// Not the mechanism's syntax; the reason, for the `-ERR` text.
    Malformed(&'static str),
}

/// The fields of a well-formed message, raw (the user unescaped from GS2).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    /// The GS2 authzid (`a=`) or XOAUTH2's `user=`; None when OAUTHBEARER leaves it out.
    pub(crate) user: Option<Vec<u8>>,
    pub(crate) host: Option<&'a [u8]>,
    pub(crate) port: Option<&'a [u8]>,
    /// The bearer token; None for an empty `auth=`, RFC 7628 §4.3's way to ask for the
    /// server's error challenge (and so its scope) without a token.
    pub(crate) token: Option<&'a [u8]>,
}

/// Reads `message` (the decoded client response) as `mechanism` defines it.
pub(crate) fn parse(mechanism: Mechanism, message: &[u8]) -> ClientMessage<'_> {
    if message == b"\x01" {
        return ClientMessage::LoneKvsep;
    }
    let parsed = match mechanism {
        Mechanism::OauthBearer => gs2_header(message).and_then(|(user, pairs)| {
            let pairs = pairs
                .strip_prefix(b"\x01")
                .ok_or("no ^A after the GS2 header")?;
            request(user, pairs)
        }),
        Mechanism::XOauth2 => request(None, message).and_then(|r| match r.user {
            Some(_) => Ok(r),
            None => Err("no user="),
        }),
    };
    parsed.map_or_else(ClientMessage::Malformed, ClientMessage::Request)
}

/// RFC 5801's `gs2-header = gs2-cbind-flag "," [ gs2-authzid ] ","`: the authzid, unescaped,
/// and what follows the header.
fn gs2_header(message: &[u8]) -> Result<(Option<Vec<u8>>, &[u8]), &'static str> {
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
fn gs2_unescape(name: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(name.len());
    let mut rest = name;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'=' {
            let (escaped, tail) = match tail {
                [b'2', b'C', tail @ ..] => (b',', tail),
                [b'3', b'D', tail @ ..] => (b'=', tail),
                _ => return None,
            };
            out.push(escaped);
            rest = tail;
        } else {
            out.push(b);
            rest = tail;
        }
    }
    Some(out)
}

/// `*kvpair kvsep` with `kvpair = key "=" value kvsep` (RFC 7628 §3.1): `host`, `port`,
/// `auth` and (XOAUTH2's) `user` are read, any other key is ignored as §3.1 requires.
fn request(user: Option<Vec<u8>>, pairs: &[u8]) -> Result<Request<'_>, &'static str> {
    let mut request = Request {
        user,
        host: None,
        port: None,
        token: None,
    };
    let mut auth = None;
    let mut rest = pairs;
    loop {
        match rest {
            [] => return Err("no final ^A"),
            [1] => break,
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
        match key {
            b"auth" => auth = Some(value),
            b"host" => request.host = Some(value),
            b"port" => request.port = Some(value),
            b"user" => request.user = Some(value.to_vec()),
            _ => {}
        }
    }
    request.token = bearer(auth.ok_or("no auth=")?)?;
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
mod tests {
    use super::*;
    use crate::oauth::{oauthbearer_message, xoauth2_message};

    fn request(m: Mechanism, message: &[u8]) -> Request<'_> {
        match parse(m, message) {
            ClientMessage::Request(r) => r,
            other => panic!("{other:?}"),
        }
    }

    fn malformed(m: Mechanism, message: &[u8]) -> &'static str {
        match parse(m, message) {
            ClientMessage::Malformed(why) => why,
            other => panic!("{}: {other:?}", String::from_utf8_lossy(message)),
        }
    }

    #[test]
    fn what_popscope_sends_reads_back() {
        let m = oauthbearer_message(b"a,b=c", b"localhost", 995, b"t0k").unwrap();
        assert_eq!(
            request(Mechanism::OauthBearer, &m),
            Request {
                user: Some(b"a,b=c".to_vec()),
                host: Some(b"localhost"),
                port: Some(b"995"),
                token: Some(b"t0k"),
            }
        );
        let m = xoauth2_message(b"demo", b"demo-token").unwrap();
        let r = request(Mechanism::XOauth2, &m);
        assert_eq!(
            (r.user, r.token),
            (Some(b"demo".to_vec()), Some(&b"demo-token"[..]))
        );
        let empty = oauthbearer_message(b"demo", b"h", 1, b"").unwrap();
        assert_eq!(request(Mechanism::OauthBearer, &empty).token, None);
        let empty = xoauth2_message(b"demo", b"").unwrap();
        assert_eq!(request(Mechanism::XOauth2, &empty).token, None);
    }

    /// RFC 7628 §3.1: "unknown key/value pairs ... MUST be ignored by the server"; no authzid
    /// and no host or port is well-formed; the scheme is case-insensitive.
    #[test]
    fn unknown_keys_are_ignored_and_the_optional_fields_may_be_left_out() {
        let r = request(
            Mechanism::OauthBearer,
            b"y,,\x01mthd=GET\x01auth=bearer   t\x01\x01",
        );
        assert_eq!(
            r,
            Request {
                user: None,
                host: None,
                port: None,
                token: Some(b"t"),
            }
        );
    }

    #[test]
    fn malformed_messages_say_why() {
        let bearer = Mechanism::OauthBearer;
        for (message, why) in [
            (
                &b"n,a=demo,auth=Bearer t\x01\x01"[..],
                "no ^A after the GS2 header",
            ),
            (b"n,a=demo\x01auth=Bearer t\x01\x01", "no GS2 header"),
            (
                b"p=tls-unique,,\x01auth=Bearer t\x01\x01",
                "channel binding is not supported",
            ),
            (
                b"x,,\x01auth=Bearer t\x01\x01",
                "the GS2 header starts with neither n nor y",
            ),
            (
                b"n,u=demo,\x01auth=Bearer t\x01\x01",
                "the GS2 authzid is not a=",
            ),
            (b"n,a=de=mo,\x01auth=Bearer t\x01\x01", "a bad escape in a="),
            (b"n,a=,\x01auth=Bearer t\x01\x01", "an empty a="),
            (b"n,,\x01host=h\x01\x01", "no auth="),
            (b"n,,\x01auth=Bearer t\x01", "no final ^A"),
            (b"n,,\x01auth=Bearer t", "a key=value pair without its ^A"),
            (b"n,,\x01auth\x01\x01", "a pair without ="),
            (
                b"n,,\x01x-y=1\x01auth=Bearer t\x01\x01",
                "a key that is not letters",
            ),
            (
                b"n,,\x01auth=Bearer t\x00\x01\x01",
                "a control character in a value",
            ),
            (
                b"n,,\x01auth=Basic dXNlcg==\x01\x01",
                "auth= is not Bearer TOKEN",
            ),
            (b"n,,\x01auth=Bearer \x01\x01", "auth= is not Bearer TOKEN"),
            (
                b"n,,\x01auth=Bearer a b\x01\x01",
                "auth= is not Bearer TOKEN",
            ),
            (
                b"n,,\x01auth=Bearertok\x01\x01",
                "auth= is not Bearer TOKEN",
            ),
        ] {
            assert_eq!(
                malformed(bearer, message),
                why,
                "{}",
                String::from_utf8_lossy(message)
            );
        }
        assert_eq!(
            malformed(Mechanism::XOauth2, b"auth=Bearer t\x01\x01"),
            "no user="
        );
        // XOAUTH2 has no GS2 header: OAUTHBEARER's message is not one.
        assert_eq!(
            malformed(Mechanism::XOauth2, b"n,a=demo,\x01auth=Bearer t\x01\x01"),
            "a key that is not letters"
        );
    }

    #[test]
    fn a_lone_kvsep_is_neither_a_request_nor_malformed() {
        for m in [Mechanism::OauthBearer, Mechanism::XOauth2] {
            assert_eq!(parse(m, b"\x01"), ClientMessage::LoneKvsep);
        }
    }
}
