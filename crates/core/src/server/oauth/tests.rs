//! What the demo server sends, byte for byte, in every XOAUTH2 and OAUTHBEARER exchange, and
//! what each OAuth quirk changes.

use super::*;
use crate::auth::b64encode;
use crate::oauth::challenge::{ChallengeDecode, decode};
use crate::oauth::{oauthbearer_message, xoauth2_message};
use crate::server::Quirk;
use crate::server::tests::{PORT, server};

/// A session that has done STLS and the handshake.
fn under_tls(quirk: Option<Quirk>) -> ServerSession {
    let mut s = server(quirk, true);
    assert_eq!(s.receive(b"STLS\r\n").last(), Some(&Output::StartTls));
    assert_eq!(s.on_tls(None), []);
    s
}

/// What the server answers `line`. Every octet is ASCII: status text before UTF8 or LANG must
/// be (GEN-005).
fn say(s: &mut ServerSession, line: &str) -> String {
    let outputs = s.receive(format!("{line}\r\n").as_bytes());
    outputs
        .iter()
        .map(|o| match o {
            Output::Send(b) if b.is_ascii() => String::from_utf8_lossy(b).into_owned(),
            other => panic!("{line}: {other:?}"),
        })
        .collect()
}

/// The reply a correct login gets (the same as USER/PASS's).
fn welcome() -> String {
    let mut s = server(None, false);
    say(&mut s, "USER demo");
    let reply = say(&mut s, "PASS demo");
    assert!(
        reply.starts_with("+OK maildrop has 4 messages ("),
        "{reply}"
    );
    reply
}

fn bearer(user: &str, host: &str, port: u16, token: &str) -> String {
    b64encode(
        &oauthbearer_message(user.as_bytes(), host.as_bytes(), port, token.as_bytes()).unwrap(),
    )
}

fn xoauth2(user: &str, token: &str) -> String {
    b64encode(&xoauth2_message(user.as_bytes(), token.as_bytes()).unwrap())
}

fn challenge_line(json: &[u8]) -> String {
    format!("+ {}\r\n", b64encode(json))
}

const FAILED_LINE: &str = "-ERR [AUTH] authentication failed\r\n";

#[test]
fn tokens_are_offered_under_tls_only() {
    let mut s = server(None, true);
    let capa = say(&mut s, "CAPA");
    assert!(capa.contains("\r\nSASL CRAM-MD5\r\n"), "{capa}");
    assert_eq!(
        say(
            &mut s,
            &format!("AUTH XOAUTH2 {}", xoauth2("demo", "demo-token"))
        ),
        "-ERR [AUTH] a bearer token is accepted over TLS only (RFC 7628 section 3)\r\n"
    );
    assert_eq!(
        say(&mut s, "AUTH OAUTHBEARER"),
        "-ERR [AUTH] a bearer token is accepted over TLS only (RFC 7628 section 3)\r\n"
    );
    // A plain server without STLS offers PLAIN, but never a bearer token.
    let mut plain = server(None, false);
    assert!(say(&mut plain, "CAPA").contains("\r\nSASL PLAIN LOGIN CRAM-MD5\r\n"));
    assert!(say(&mut plain, "AUTH OAUTHBEARER").starts_with("-ERR [AUTH] a bearer token"));

    let mut s = under_tls(None);
    let capa = say(&mut s, "CAPA");
    assert!(
        capa.contains("\r\nSASL PLAIN LOGIN CRAM-MD5 EXTERNAL XOAUTH2 OAUTHBEARER\r\n"),
        "{capa}"
    );
    assert_eq!(
        say(&mut s, "AUTH"),
        "+OK\r\nCRAM-MD5\r\nPLAIN\r\nLOGIN\r\nXOAUTH2\r\nOAUTHBEARER\r\n.\r\n"
    );
}

#[test]
fn the_demo_token_logs_in_on_the_auth_line() {
    for line in [
        format!(
            "AUTH OAUTHBEARER {}",
            bearer("demo", "127.0.0.1", PORT, "demo-token")
        ),
        format!(
            "AUTH oauthbearer {}",
            bearer("demo", "localhost", PORT, "demo-token")
        ),
        format!("AUTH XOAUTH2 {}", xoauth2("demo", "demo-token")),
        // No authzid, no host, no port: the token alone says who it is (RFC 7628 §3.1).
        format!(
            "AUTH OAUTHBEARER {}",
            b64encode(b"n,,\x01auth=Bearer demo-token\x01\x01")
        ),
    ] {
        let mut s = under_tls(None);
        assert_eq!(say(&mut s, &line), welcome(), "{line}");
        assert!(say(&mut s, "STAT").starts_with("+OK 4 "));
    }
}

#[test]
fn the_demo_token_logs_in_on_its_own_line_after_an_empty_challenge() {
    for (mechanism, response) in [
        ("OAUTHBEARER", bearer("demo", "::1", PORT, "demo-token")),
        ("XOAUTH2", xoauth2("demo", "demo-token")),
    ] {
        let mut s = under_tls(None);
        assert_eq!(say(&mut s, &format!("AUTH {mechanism}")), "+ \r\n");
        assert_eq!(say(&mut s, &response), welcome(), "{mechanism}");
    }
}

/// RFC 7628 §3.2.2 for OAUTHBEARER; the XOAUTH2 form Google documents.
#[test]
fn the_error_challenges_are_the_rfcs_json() {
    let ChallengeDecode::Object(e) = decode(b64encode(OAUTHBEARER_ERROR).as_bytes()) else {
        panic!("not a JSON object")
    };
    assert_eq!(
        e.explain(),
        "status invalid_token: the token was refused; the server wants scope pop; discovery document at https://localhost/.well-known/openid-configuration"
    );
    let ChallengeDecode::Object(e) = decode(b64encode(XOAUTH2_ERROR).as_bytes()) else {
        panic!("not a JSON object")
    };
    assert_eq!(
        (
            e.status.as_deref(),
            e.schemes.as_deref(),
            e.scope.as_deref()
        ),
        (Some("401"), Some("bearer"), Some("pop"))
    );
}

#[test]
fn a_refused_token_gets_the_error_challenge_then_err_to_the_dummy() {
    let refused = [
        ("wrong token", bearer("demo", "127.0.0.1", PORT, "stale")),
        (
            "wrong user",
            bearer("root", "127.0.0.1", PORT, "demo-token"),
        ),
        (
            "wrong host",
            bearer("demo", "pop.example", PORT, "demo-token"),
        ),
        ("wrong port", bearer("demo", "127.0.0.1", 995, "demo-token")),
        ("empty auth=", bearer("demo", "127.0.0.1", PORT, "")),
    ];
    for (why, response) in refused {
        for dummy in ["AQ==", "*"] {
            let mut s = under_tls(None);
            assert_eq!(
                say(&mut s, &format!("AUTH OAUTHBEARER {response}")),
                challenge_line(OAUTHBEARER_ERROR),
                "{why}"
            );
            assert_eq!(say(&mut s, dummy), FAILED_LINE, "{why}, then {dummy}");
            // Back in AUTHORIZATION: the right token now logs in, on its own line.
            assert_eq!(say(&mut s, "AUTH OAUTHBEARER"), "+ \r\n");
            let good = bearer("demo", "127.0.0.1", PORT, "demo-token");
            assert_eq!(say(&mut s, &good), welcome(), "{why}");
        }
    }
    for response in [
        xoauth2("demo", "stale"),
        xoauth2("root", "demo-token"),
        xoauth2("demo", ""),
    ] {
        let mut s = under_tls(None);
        assert_eq!(say(&mut s, "AUTH XOAUTH2"), "+ \r\n");
        assert_eq!(say(&mut s, &response), challenge_line(XOAUTH2_ERROR));
        assert_eq!(say(&mut s, ""), FAILED_LINE);
        assert!(say(&mut s, "STAT").starts_with("-ERR"));
    }
}

#[test]
fn a_malformed_message_or_a_lone_kvsep_gets_err_at_once() {
    for (response, reply) in [
        ("!!!!", "-ERR invalid base64\r\n"),
        ("AQ==", FAILED_LINE),
        ("=", "-ERR invalid OAUTHBEARER message: no GS2 header\r\n"),
        (
            &b64encode(b"n,a=demo,\x01host=127.0.0.1\x01\x01"),
            "-ERR invalid OAUTHBEARER message: no auth=\r\n",
        ),
        (
            &b64encode(b"q,a=demo,\x01auth=Bearer demo-token\x01\x01"),
            "-ERR invalid OAUTHBEARER message: the GS2 header starts with neither n nor y\r\n",
        ),
    ] {
        let mut s = under_tls(None);
        assert_eq!(say(&mut s, &format!("AUTH OAUTHBEARER {response}")), reply);
        let mut s = under_tls(None);
        assert_eq!(say(&mut s, "AUTH OAUTHBEARER"), "+ \r\n");
        assert_eq!(say(&mut s, response), reply, "two-line {response}");
        assert!(say(&mut s, "NOOP").starts_with("-ERR log in first"));
    }
    let mut s = under_tls(None);
    assert_eq!(
        say(
            &mut s,
            &format!(
                "AUTH XOAUTH2 {}",
                b64encode(b"auth=Bearer demo-token\x01\x01")
            )
        ),
        "-ERR invalid XOAUTH2 message: no user=\r\n"
    );
}

#[test]
fn oauth_plaintext_offers_and_accepts_a_token_without_tls() {
    let mut s = server(Some(Quirk::OauthPlaintext), false);
    assert!(say(&mut s, "CAPA").contains("\r\nSASL PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER\r\n"));
    assert_eq!(
        say(
            &mut s,
            &format!("AUTH XOAUTH2 {}", xoauth2("demo", "demo-token"))
        ),
        welcome()
    );
}

#[test]
fn oauth_bad_error_sends_words_where_json_belongs() {
    let mut s = under_tls(Some(Quirk::OauthBadError));
    let challenge = say(&mut s, &format!("AUTH XOAUTH2 {}", xoauth2("demo", "")));
    assert_eq!(challenge, challenge_line(TEXT_ERROR));
    let b64 = challenge.trim_end().trim_start_matches("+ ");
    assert_eq!(decode(b64.as_bytes()), ChallengeDecode::NotJson);
    assert_eq!(say(&mut s, ""), FAILED_LINE);
}

#[test]
fn oauth_ok_after_dummy_opens_the_maildrop_to_the_dummy_response() {
    for (mechanism, request, dummy) in [
        ("OAUTHBEARER", bearer("demo", "127.0.0.1", PORT, ""), "AQ=="),
        ("XOAUTH2", xoauth2("demo", "stale"), ""),
    ] {
        let mut s = under_tls(Some(Quirk::OauthOkAfterDummy));
        assert!(say(&mut s, &format!("AUTH {mechanism} {request}")).starts_with("+ eyJ"));
        assert_eq!(say(&mut s, dummy), welcome(), "{mechanism}");
        assert!(say(&mut s, "STAT").starts_with("+OK 4 "));
    }
    // A cancel is still a failure.
    let mut s = under_tls(Some(Quirk::OauthOkAfterDummy));
    say(&mut s, &format!("AUTH XOAUTH2 {}", xoauth2("demo", "")));
    assert_eq!(say(&mut s, "*"), FAILED_LINE);
}

#[test]
fn oauth_no_error_refuses_at_once() {
    for request in [xoauth2("demo", "stale"), xoauth2("demo", "")] {
        let mut s = under_tls(Some(Quirk::OauthNoError));
        assert_eq!(say(&mut s, &format!("AUTH XOAUTH2 {request}")), FAILED_LINE);
        assert!(say(&mut s, "NOOP").starts_with("-ERR log in first"));
    }
    let mut s = under_tls(Some(Quirk::OauthNoError));
    assert_eq!(
        say(
            &mut s,
            &format!("AUTH XOAUTH2 {}", xoauth2("demo", "demo-token"))
        ),
        welcome()
    );
}

#[test]
fn oauth_one_line_only_refuses_the_two_line_form() {
    for mechanism in ["XOAUTH2", "OAUTHBEARER"] {
        let mut s = under_tls(Some(Quirk::OauthOneLineOnly));
        assert_eq!(
            say(&mut s, &format!("AUTH {mechanism}")),
            "-ERR initial response required\r\n"
        );
        // What a client would send on the next line is then a command, and unknown.
        assert_eq!(
            say(&mut s, &xoauth2("demo", "demo-token")),
            "-ERR invalid arguments\r\n"
        );
        assert_eq!(
            say(
                &mut s,
                &format!("AUTH XOAUTH2 {}", xoauth2("demo", "demo-token"))
            ),
            welcome()
        );
    }
}

/// The messages real clients send, decoded from their logs against the demo (curl 7.88.1,
/// mpop 1.4.18) and, for the fetchmail that Debian 12 lacks, from fetchmail 6.5's oauth2.c
/// (`n,a=%s,\1auth=Bearer %s\1\1`: no host, no port): each logs in.
#[test]
fn what_real_clients_send_logs_in() {
    let curl_and_mpop =
        format!("n,a=demo,\x01host=127.0.0.1\x01port={PORT}\x01auth=Bearer demo-token\x01\x01");
    for (mechanism, message) in [
        ("OAUTHBEARER", curl_and_mpop.as_bytes()),
        (
            "OAUTHBEARER",
            b"n,a=demo,\x01auth=Bearer demo-token\x01\x01",
        ),
        ("XOAUTH2", b"user=demo\x01auth=Bearer demo-token\x01\x01"),
    ] {
        let mut s = under_tls(None);
        let line = format!("AUTH {mechanism} {}", b64encode(message));
        assert_eq!(
            say(&mut s, &line),
            welcome(),
            "{}",
            String::from_utf8_lossy(message)
        );
    }
}
