//! Login computations both sides need: APOP digests (RFC 1939 §7), CRAM-MD5 (RFC 2195) and
//! SASL PLAIN (RFC 4616). Pure functions: no I/O.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `MD5(timestamp || secret)` in lower-case hex: the APOP digest, `timestamp` being the
/// greeting's `<…>` with its angle brackets.
///
/// ```
/// // RFC 1939 §7's example.
/// let digest = popscope_core::auth::apop_digest(b"<1896.697170952@dbc.mtview.ca.us>", b"tanstaaf");
/// assert_eq!(digest, "c4c9334bac560ecc979e58001b3e22fb");
/// ```
pub fn apop_digest(timestamp: &[u8], secret: &[u8]) -> String {
    let mut h = Md5::new();
    h.update(timestamp);
    h.update(secret);
    hex(&h.finalize())
}

/// HMAC-MD5 (RFC 2104) of `challenge` keyed with `secret`, in lower-case hex.
pub(crate) fn hmac_md5_hex(secret: &[u8], challenge: &[u8]) -> String {
    let mut key = [0u8; 64];
    if secret.len() > 64 {
        key[..16].copy_from_slice(&Md5::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let mut inner = Md5::new();
    inner.update(key.map(|b| b ^ 0x36));
    inner.update(challenge);
    let mut outer = Md5::new();
    outer.update(key.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    hex(&outer.finalize())
}

/// The CRAM-MD5 client response to a (decoded) challenge: base64 of `user SP hmac`.
pub fn cram_md5_response(user: &[u8], secret: &[u8], challenge: &[u8]) -> String {
    let mut r = user.to_vec();
    r.push(b' ');
    r.extend_from_slice(hmac_md5_hex(secret, challenge).as_bytes());
    STANDARD.encode(r)
}

/// SASL PLAIN: base64 of `authzid NUL authcid NUL password`.
pub fn plain_response(authzid: &[u8], user: &[u8], secret: &[u8]) -> String {
    let mut r = authzid.to_vec();
    r.push(0);
    r.extend_from_slice(user);
    r.push(0);
    r.extend_from_slice(secret);
    STANDARD.encode(r)
}

/// Splits a decoded PLAIN message into (authzid, authcid, password).
pub(crate) fn parse_plain(decoded: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let mut parts = decoded.splitn(3, |&b| b == 0);
    Some((parts.next()?, parts.next()?, parts.next()?))
}

/// Standard base64 with padding, as SASL uses it (RFC 4648 §4).
pub fn b64encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard padded base64; `None` if `text` is not that.
pub fn b64decode(text: &[u8]) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_1939_apop_example() {
        assert_eq!(
            apop_digest(b"<1896.697170952@dbc.mtview.ca.us>", b"tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn rfc_2195_cram_md5_example() {
        let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
        assert_eq!(
            hmac_md5_hex(b"tanstaaftanstaaf", challenge),
            "b913a602c7eda7a495b4e6e7334d3890"
        );
        assert_eq!(
            cram_md5_response(b"tim", b"tanstaaftanstaaf", challenge),
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
        );
    }

    #[test]
    fn plain_round_trip() {
        let r = plain_response(b"", b"alice", b"secret");
        let d = b64decode(r.as_bytes()).unwrap_or_default();
        assert_eq!(
            parse_plain(&d),
            Some((&b""[..], &b"alice"[..], &b"secret"[..]))
        );
    }
}
