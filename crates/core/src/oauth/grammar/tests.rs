//! The strict reading, field by field, and why each malformed message is refused.

use super::*;
use crate::oauth::{oauthbearer_message, xoauth2_message};

fn request(m: Mechanism, message: &[u8]) -> Request<'_> {
    match parse(m, message) {
        Parsed::Request(r) => r,
        other => panic!("{other:?}"),
    }
}

fn malformed(m: Mechanism, message: &[u8]) -> &'static str {
    match parse(m, message) {
        Parsed::Malformed(why) => why,
        other => panic!("{}: {other:?}", String::from_utf8_lossy(message)),
    }
}

#[test]
fn what_popscope_sends_reads_back() {
    let m = oauthbearer_message(b"a,b=c", b"localhost", 995, b"t0k").unwrap();
    assert_eq!(
        request(Mechanism::OauthBearer, &m),
        Request {
            user: Some(Cow::Owned(b"a,b=c".to_vec())),
            host: Some(b"localhost"),
            port: Some(b"995"),
            token: Some(b"t0k"),
            unknown_key: false,
        }
    );
    let m = xoauth2_message(b"demo", b"demo-token").unwrap();
    let r = request(Mechanism::XOauth2, &m);
    assert_eq!(
        (r.user.as_deref(), r.token, r.unknown_key),
        (Some(&b"demo"[..]), Some(&b"demo-token"[..]), false)
    );
    let empty = oauthbearer_message(b"demo", b"h", 1, b"").unwrap();
    assert_eq!(request(Mechanism::OauthBearer, &empty).token, None);
    let empty = xoauth2_message(b"demo", b"").unwrap();
    assert_eq!(request(Mechanism::XOauth2, &empty).token, None);
}

/// The token is borrowed from the message, never copied, and Debug leaves it out.
#[test]
fn the_token_stays_in_the_callers_buffer() {
    let m = xoauth2_message(b"demo", b"s3cret-token").unwrap();
    let r = request(Mechanism::XOauth2, &m);
    let token = r.token.unwrap_or_default();
    assert!(m.as_ptr_range().contains(&token.as_ptr()));
    assert!(matches!(r.user, Some(Cow::Borrowed(_))));
    let shown = format!("{r:?}");
    assert!(
        !shown.contains("s3cret") && shown.contains("token_octets: Some(12)"),
        "{shown}"
    );
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
            unknown_key: true,
        }
    );
    // Each mechanism's own keys: host and port are OAUTHBEARER's, user is XOAUTH2's.
    let x = request(
        Mechanism::XOauth2,
        b"user=u\x01host=h\x01auth=Bearer t\x01\x01",
    );
    assert!(x.unknown_key && x.host.is_none());
    let b = request(
        Mechanism::OauthBearer,
        b"n,a=u,\x01user=v\x01auth=Bearer t\x01\x01",
    );
    assert!(b.unknown_key && b.user.as_deref() == Some(&b"u"[..]));
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
        assert!(layout(bearer, message).is_none());
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
        assert_eq!(parse(m, b"\x01"), Parsed::LoneKvsep);
    }
}

/// The layout puts the message back together octet for octet.
#[test]
fn the_layout_is_the_whole_message() {
    for (m, message) in [
        (
            Mechanism::OauthBearer,
            &b"n,a=u=2C,\x01host=h\x01port=1\x01auth=Bearer t\x01\x01"[..],
        ),
        (Mechanism::XOauth2, b"user=u\x01auth=Bearer t\x01\x01"),
        (Mechanism::OauthBearer, b"y,,\x01auth=\x01\x01"),
    ] {
        let Some(l) = layout(m, message) else {
            panic!("{message:?}")
        };
        let mut again = l.head.to_vec();
        for (key, value) in &l.pairs {
            again.extend_from_slice(key);
            again.push(b'=');
            again.extend_from_slice(value);
            again.push(1);
        }
        again.push(1);
        assert_eq!(again, message);
    }
}
