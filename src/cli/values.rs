//! How the library's choices are spelled on the command line: clap's `ValueEnum` for them lives
//! here, so session/ and server/ do not depend on clap.

use clap::ValueEnum;
use clap::builder::PossibleValue;

use crate::server::TlsMode;
use crate::session::login::Method;

impl ValueEnum for Method {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            Method::Auto,
            Method::User,
            Method::Apop,
            Method::Plain,
            Method::Login,
            Method::CramMd5,
            Method::External,
            Method::XOauth2,
            Method::OauthBearer,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Method::Auto => PossibleValue::new("auto").help(
                "EXTERNAL with a client certificate, else (with a token) OAUTHBEARER, else XOAUTH2, else PLAIN, else USER/PASS, else CRAM-MD5, as CAPA offers; USER/PASS without CAPA; never APOP",
            ),
            Method::User => PossibleValue::new("user")
                .help("USER then PASS (RFC 1939 §7): the password in clear, unless inside TLS"),
            Method::Apop => PossibleValue::new("apop").help(
                "APOP with an MD5 digest of the greeting's timestamp and the password (RFC 1939 §7)",
            ),
            Method::Plain => PossibleValue::new("plain")
                .help("AUTH PLAIN with the user and password as the initial response (RFC 4616)"),
            Method::Login => PossibleValue::new("login")
                .help("AUTH LOGIN: the user, then the password, each answering a challenge"),
            Method::CramMd5 => PossibleValue::new("cram-md5").help(
                "AUTH CRAM-MD5: an HMAC-MD5 of the server's challenge keyed with the password (RFC 2195)",
            ),
            Method::External => PossibleValue::new("external").help(
                "AUTH EXTERNAL: the TLS client certificate is the credential (RFC 4422 App. A); no password",
            ),
            Method::XOauth2 => PossibleValue::new("xoauth2").help(
                "AUTH XOAUTH2: the user and an OAuth 2.0 bearer token (--token-env, --token-file, --token-command)",
            ),
            Method::OauthBearer => PossibleValue::new("oauthbearer").help(
                "AUTH OAUTHBEARER (RFC 7628): the user, host, port and an OAuth 2.0 bearer token",
            ),
        })
    }
}

impl ValueEnum for TlsMode {
    fn value_variants<'a>() -> &'a [Self] {
        &[TlsMode::None, TlsMode::Starttls, TlsMode::Implicit]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            TlsMode::None => PossibleValue::new("none").help("Plain POP3, no STLS"),
            TlsMode::Starttls => {
                PossibleValue::new("starttls").help("Plain POP3 with STLS (RFC 2595)")
            }
            TlsMode::Implicit => {
                PossibleValue::new("implicit").help("TLS from the first byte (RFC 8314)")
            }
        })
    }
}
