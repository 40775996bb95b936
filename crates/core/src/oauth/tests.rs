use super::*;
use crate::auth::{b64decode, b64encode};

#[test]
fn xoauth2_message_framing() {
    let m = xoauth2_message(b"alice@example.com", b"ya29.tok-en_~+/=").unwrap_or_default();
    assert_eq!(
        &m[..],
        b"user=alice@example.com\x01auth=Bearer ya29.tok-en_~+/=\x01\x01"
    );
    // Google's documented example (the XOAUTH2 protocol page).
    let google = initial_response(
        Mechanism::XOauth2,
        b"someuser@example.com",
        b"",
        0,
        b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
    )
    .unwrap_or_default();
    assert_eq!(
        &google[..],
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
    );
}

#[test]
fn oauthbearer_message_framing() {
    let m = oauthbearer_message(
        b"user@example.com",
        b"server.example.com",
        143,
        b"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
    )
    .unwrap_or_default();
    // RFC 7628 §4.1's example, byte for byte.
    assert_eq!(
        &m[..],
        b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
    );
    let no_user = oauthbearer_message(b"", b"h", 995, b"t").unwrap_or_default();
    assert_eq!(
        &no_user[..],
        b"n,,\x01host=h\x01port=995\x01auth=Bearer t\x01\x01"
    );
    let escaped = oauthbearer_message(b"=,=", b"h", 1, b"t").unwrap_or_default();
    assert!(escaped.starts_with(b"n,a==3D=2C=3D,\x01"));
}

#[test]
fn an_empty_token_asks_for_the_error_challenge() {
    // RFC 7628 §4.3: `auth=` with no value.
    let m = oauthbearer_message(b"user@example.com", b"server.example.com", 143, b"")
        .unwrap_or_default();
    assert_eq!(
        &m[..],
        b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=\x01\x01"
    );
    let x = xoauth2_message(b"u", b"").unwrap_or_default();
    assert_eq!(&x[..], b"user=u\x01auth=\x01\x01");
}

#[test]
fn control_characters_are_refused() {
    for bad in [
        &b"a\x01b"[..],
        b"a\rb",
        b"a\nb",
        b"a\0b",
        b"\x7f",
        b"\x1b[2J",
    ] {
        assert_eq!(
            xoauth2_message(bad, b"t").err(),
            Some(FramingError::ControlInUser)
        );
        assert_eq!(
            xoauth2_message(b"u", bad).err(),
            Some(FramingError::ControlInToken)
        );
        assert_eq!(
            oauthbearer_message(bad, b"h", 1, b"t").err(),
            Some(FramingError::ControlInUser)
        );
        assert_eq!(
            oauthbearer_message(b"u", bad, 1, b"t").err(),
            Some(FramingError::ControlInHost)
        );
        assert_eq!(
            oauthbearer_message(b"u", b"h", 1, bad).err(),
            Some(FramingError::ControlInToken)
        );
    }
    assert_eq!(
        xoauth2_message(b"u", b"two words").err(),
        Some(FramingError::ControlInToken)
    );
    assert_eq!(
        FramingError::ControlInToken.to_string(),
        "the token holds a control character or a space"
    );
    // Non-ASCII user names (UTF-8 or not) are the caller's business: they frame fine.
    assert!(xoauth2_message("jöhn".as_bytes(), b"t").is_ok());
    assert!(oauthbearer_message(b"\xff", b"h", 1, b"t").is_ok());
}

#[test]
fn a_huge_token_round_trips() {
    let token = vec![b'A'; 1 << 20];
    let b64 = initial_response(Mechanism::OauthBearer, b"u", b"h", 995, &token).unwrap_or_default();
    let raw = b64decode(b64.as_bytes()).unwrap_or_default();
    assert_eq!(
        raw.len(),
        (1 << 20) + b"n,a=u,\x01host=h\x01port=995\x01auth=Bearer \x01\x01".len()
    );
    assert_eq!(encoded_len(raw.len()), b64.len());
}

#[test]
fn mechanism_names_and_dummies() {
    assert_eq!(Mechanism::parse("xoauth2"), Some(Mechanism::XOauth2));
    assert_eq!(
        Mechanism::parse("OAuthBearer"),
        Some(Mechanism::OauthBearer)
    );
    assert_eq!(Mechanism::parse("PLAIN"), None);
    assert_eq!(Mechanism::OauthBearer.dummy_line(), "AQ==");
    assert_eq!(b64encode(Mechanism::OauthBearer.dummy_response()), "AQ==");
    assert_eq!(Mechanism::XOauth2.dummy_line(), "");
    assert_eq!(b64encode(Mechanism::XOauth2.dummy_response()), "");
}

#[test]
fn the_255_octet_limit_counts_the_crlf() {
    // "AUTH OAUTHBEARER " is 17 octets, CRLF 2: 236 base64 octets make exactly 255.
    assert_eq!(auth_line_len("OAUTHBEARER", 236), 255);
    assert!(fits_on_auth_line("OAUTHBEARER", 236));
    assert!(!fits_on_auth_line("OAUTHBEARER", 237));
    assert_eq!(
        SaslForm::Auto.resolve("OAUTHBEARER", 236),
        SaslForm::OneLine
    );
    assert_eq!(
        SaslForm::Auto.resolve("OAUTHBEARER", 237),
        SaslForm::TwoLine
    );
    // A real Microsoft token is over 1 KB: two lines.
    assert_eq!(
        SaslForm::Auto.resolve("XOAUTH2", encoded_len(1500)),
        SaslForm::TwoLine
    );
    assert_eq!(
        SaslForm::OneLine.resolve("XOAUTH2", 5000),
        SaslForm::OneLine
    );
    assert_eq!(SaslForm::TwoLine.resolve("XOAUTH2", 4), SaslForm::TwoLine);
    assert_eq!(auth_line_len("X", usize::MAX), usize::MAX);
    assert!(!fits_on_auth_line("X", usize::MAX));
    assert_eq!(encoded_len(usize::MAX), usize::MAX);
    assert_eq!(encoded_len(0), 0);
    assert_eq!(encoded_len(1), 4);
    assert_eq!(encoded_len(3), 4);
    assert_eq!(encoded_len(4), 8);
}

#[test]
fn sasl_form_spellings() {
    for f in [SaslForm::Auto, SaslForm::OneLine, SaslForm::TwoLine] {
        assert_eq!(SaslForm::parse(f.as_str()), Some(f));
    }
    assert_eq!(SaslForm::parse("two_line"), None);
    assert_eq!(SaslForm::default(), SaslForm::Auto);
}

use proptest::prelude::*;

proptest! {
    /// Any printable user and token frame into a message that splits back into them.
    #[test]
    fn messages_split_back(user in "[ -~]{0,60}", token in "[!-~]{0,300}", port in any::<u16>()) {
        let m = oauthbearer_message(user.as_bytes(), b"h", port, token.as_bytes()).unwrap_or_default();
        let fields: Vec<&[u8]> = m.split(|&b| b == 1).collect();
        prop_assert_eq!(fields.len(), 6);
        let port_field = format!("port={port}");
        prop_assert_eq!(fields[2], port_field.as_bytes());
        let gs2 = fields[0];
        prop_assert_eq!(gs2.iter().filter(|&&b| b == b',').count(), 2);
        let x = xoauth2_message(user.as_bytes(), token.as_bytes()).unwrap_or_default();
        prop_assert_eq!(x.split(|&b| b == 1).count(), 4);
        let b64 = initial_response(Mechanism::XOauth2, user.as_bytes(), b"", 0, token.as_bytes()).unwrap_or_default();
        prop_assert_eq!(encoded_len(x.len()), b64.len());
    }
}
