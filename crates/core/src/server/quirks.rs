//! Misbehaving profiles of the demo server, for teaching and testing, as data: one [`QuirkInfo`]
//! row per [`Quirk`] in [`QUIRKS`] holds everything known about it — what it does to the wire
//! ([`Behaviour`], which [`ServerSession`](super::ServerSession) obeys), the rules popscope
//! should report against it, and how the demo and the tests reach it (transport, login, extra
//! commands, hint). A new quirk is a variant, a row, and (when no existing [`Behaviour`] field
//! says it) one new field with its switch in the server.

/// A misbehaving profile; its row is [`Quirk::info`]. The variants are in [`QUIRKS`]' order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quirk {
    /// The seeds' case: preauthenticated by the client certificate.
    TlsPreauth,
    /// TRANSACTION commands work before any login.
    NoLoginNeeded,
    /// Plaintext pipelined behind STLS is executed after the handshake.
    StlsCommandInjection,
    /// Plaintext follows the STLS `+OK` before the handshake.
    StlsResponseInjection,
    /// Lines starting with `.` are sent without the extra dot.
    UnstuffedDots,
    /// Lines end in LF only.
    BareLf,
    /// `+ok` / `-err` in lower case.
    LowercaseStatus,
    /// RETR, TOP and LIST still serve messages marked deleted.
    DeletedRetrievable,
    /// LIST sizes are larger than what RETR sends.
    WrongListSizes,
    /// RETR sends the message, no terminating `.`, and closes.
    NoTerminatorClose,
    /// Status lines carry terminal escape sequences.
    HostileText,
    /// XOAUTH2 and OAUTHBEARER offered, and a token accepted, without TLS.
    OauthPlaintext,
    /// The error challenge for a refused token is not JSON.
    OauthBadError,
    /// The dummy response after the error challenge is answered `+OK`.
    OauthOkAfterDummy,
    /// A refused token gets `-ERR` at once, without the error challenge.
    OauthNoError,
    /// `AUTH XOAUTH2` / `AUTH OAUTHBEARER` without an initial response is refused.
    OauthOneLineOnly,
}

/// How the demo server talks on the wire: RFC 1939 as written, but for the fields a quirk's row
/// changes to make it misbehave. Read by the server only; outside the crate it is opaque.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Behaviour {
    /// The end of every line the server sends: CRLF, or a bare LF (GEN-001).
    pub(crate) line_end: &'static [u8],
    /// Status indicators in lower case, `+ok` / `-err` (GEN-002).
    pub(crate) lowercase_status: bool,
    /// Data lines starting with `.` get the extra dot (RFC 1939 §3; ML-002 when not).
    pub(crate) dot_stuffing: bool,
    /// The greeting's text instead of the usual one; the APOP timestamp follows it.
    pub(crate) greeting: Option<&'static str>,
    /// TRANSACTION commands need a login (ST-001 when not).
    pub(crate) login_required: bool,
    /// A TLS handshake with a verified client certificate logs that certificate's CN in, and
    /// login commands then get `-ERR already authenticated` (ST-009).
    pub(crate) preauth_by_client_cert: bool,
    /// Plaintext lines that came behind STLS are executed after the handshake (TLS-004)
    /// instead of dropped.
    pub(crate) runs_plaintext_after_stls: bool,
    /// Plaintext sent after the `+OK` to STLS, before the handshake (TLS-003).
    pub(crate) after_stls_reply: Option<&'static [u8]>,
    /// Messages marked deleted can still be listed and retrieved (DEL-001).
    pub(crate) serves_deleted: bool,
    /// Octets added to every size LIST gives (MSG-006 when not 0).
    pub(crate) list_size_excess: usize,
    /// RETR ends its data with the `.` line; when not, the server closes after the data (ML-001).
    pub(crate) retr_terminated: bool,
    /// XOAUTH2 and OAUTHBEARER are offered and a token accepted without TLS (OAUTH-001,
    /// OAUTH-002); the conformant server offers them under TLS only, as RFC 7628 §3 has the
    /// client use TLS "to protect the bearer token".
    pub(crate) tokens_in_clear: bool,
    /// What a refused token (or an empty `auth=`) gets (OAUTH-003).
    pub(crate) token_refusal: TokenRefusal,
    /// The dummy response owed after the error challenge (`AQ==`, or an empty line) is
    /// answered `+OK` and opens the maildrop (OAUTH-004) instead of `-ERR`.
    pub(crate) ok_after_dummy: bool,
    /// A bearer-token AUTH without an initial response gets `+ ` and reads the response on
    /// the next line (RFC 5034 §4); when not, it is refused (OAUTH-007).
    pub(crate) token_on_own_line: bool,
}

/// How the demo server refuses a bearer token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenRefusal {
    /// RFC 7628 §3.2.2: a `+ ` challenge of base64 JSON (`status`, `scope`, and for
    /// OAUTHBEARER `openid-configuration`), then `-ERR` to the client's dummy response.
    JsonChallenge,
    /// A `+ ` challenge whose base64 holds words, not JSON, then `-ERR`.
    TextChallenge,
    /// `-ERR` at once: the client learns neither the status nor the scope.
    ErrAtOnce,
}

impl Behaviour {
    /// The conformant server.
    pub(crate) const CONFORMANT: Behaviour = Behaviour {
        line_end: b"\r\n",
        lowercase_status: false,
        dot_stuffing: true,
        greeting: None,
        login_required: true,
        preauth_by_client_cert: false,
        runs_plaintext_after_stls: false,
        after_stls_reply: None,
        serves_deleted: false,
        list_size_excess: 0,
        retr_terminated: true,
        tokens_in_clear: false,
        token_refusal: TokenRefusal::JsonChallenge,
        ok_after_dummy: false,
        token_on_own_line: true,
    };

    /// Whether it misbehaves where TLS begins (the STLS upgrade, a client certificate): the
    /// part the sans-IO pairing only describes, so `tests/live.rs` shows these over real TLS.
    pub fn at_tls(&self) -> bool {
        self.preauth_by_client_cert
            || self.runs_plaintext_after_stls
            || self.after_stls_reply.is_some()
    }
}

/// The transport a quirk is shown on (the conformant demo uses STLS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain POP3 without STLS.
    Plain,
    /// Plain POP3 offering STLS (RFC 2595); the client upgrades before logging in.
    Starttls,
    /// TLS from the first octet (RFC 8314).
    Implicit,
}

impl Transport {
    /// How reports name the transport: "plain", "STLS", "implicit TLS".
    pub fn label(self) -> &'static str {
        match self {
            Transport::Plain => "plain",
            Transport::Starttls => "STLS",
            Transport::Implicit => "implicit TLS",
        }
    }
}

/// How the client logs in to show a quirk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Login {
    /// The demo user's password, by whatever the server offers (`--login auto`).
    Password,
    /// SASL EXTERNAL with the demo's client certificate.
    External,
    /// The demo's bearer token (`demo-token`, e.g. `--token-env`) by OAUTHBEARER, or XOAUTH2,
    /// as CAPA offers (`--login auto` with a token); `check`'s probe P25 sends it on the AUTH
    /// line and on its own line. The quirks that show without a token (probe P24, the empty
    /// `auth=`, runs whenever CAPA offers OAuth under TLS) log in with the password.
    Token,
}

/// Everything about one quirk. The demo, `serve --list-quirks`, the README's table test and the
/// tests (paired in one thread in `crates/core/tests`, over sockets in `tests/live.rs`) read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuirkInfo {
    /// The quirk this row describes.
    pub quirk: Quirk,
    /// The name on the command line (`--quirk NAME`).
    pub name: &'static str,
    /// One line for `serve --list-quirks`.
    pub description: &'static str,
    /// The rules `popscope check` (and the paired test) report against this profile: each of
    /// them must fire.
    pub expected_rules: &'static [&'static str],
    /// What the server does differently.
    pub behaviour: Behaviour,
    /// The transport the demo and the tests use to show it.
    pub transport: Transport,
    /// The client presents the demo's client certificate in the handshake.
    pub client_cert: bool,
    /// How the client logs in.
    pub login: Login,
    /// Commands after the walk that make it visible (a DELE is undone by the walk's RSET).
    pub extra: &'static [&'static str],
    /// Shown only by probe P8 (plaintext pipelined behind STLS): the demo runs its probes.
    pub injection_probe: bool,
    /// What the demo's UI suggests trying, when the usual hint does not show the quirk.
    pub hint: Option<&'static str>,
}

/// The plaintext `stls-response-injection` sends after its `+OK` to STLS: the server quirk
/// and the client case of that name (`crate::inject`) send the same line.
pub const INJECTED_AFTER_STLS: &[u8] = b"+OK injected plaintext after the STLS reply\r\n";

/// A row with the defaults most quirks share: STLS, password login, nothing extra.
const ROW: QuirkInfo = QuirkInfo {
    quirk: Quirk::TlsPreauth,
    name: "",
    description: "",
    expected_rules: &[],
    behaviour: Behaviour::CONFORMANT,
    transport: Transport::Starttls,
    client_cert: false,
    login: Login::Password,
    extra: &[],
    injection_probe: false,
    hint: None,
};

const B: Behaviour = Behaviour::CONFORMANT;

/// Every quirk, in the order of [`Quirk`]'s variants (checked at compile time).
pub const QUIRKS: &[QuirkInfo] = &[
    QuirkInfo {
        quirk: Quirk::TlsPreauth,
        name: "tls-preauth",
        description: "after TLS with a client certificate the session is already in TRANSACTION (USER -ERR, STAT +OK)",
        expected_rules: &["ST-009", "ST-001"],
        behaviour: Behaviour {
            preauth_by_client_cert: true,
            ..B
        },
        transport: Transport::Implicit,
        client_cert: true,
        login: Login::External,
        hint: Some("TLS with a client certificate is up; try USER demo, then STAT"),
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::NoLoginNeeded,
        name: "no-login-needed",
        description: "TRANSACTION commands succeed before any login",
        expected_rules: &["ST-001"],
        behaviour: Behaviour {
            login_required: false,
            ..B
        },
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::StlsCommandInjection,
        name: "stls-command-injection",
        description: "executes plaintext commands pipelined behind STLS after the handshake",
        expected_rules: &["TLS-004"],
        behaviour: Behaviour {
            runs_plaintext_after_stls: true,
            ..B
        },
        injection_probe: true,
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::StlsResponseInjection,
        name: "stls-response-injection",
        description: "sends plaintext after its +OK to STLS, before the handshake",
        expected_rules: &["TLS-003"],
        behaviour: Behaviour {
            after_stls_reply: Some(INJECTED_AFTER_STLS),
            ..B
        },
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::UnstuffedDots,
        name: "unstuffed-dots",
        description: "does not dot-stuff message lines that start with '.'",
        expected_rules: &["ML-002"],
        behaviour: Behaviour {
            dot_stuffing: false,
            ..B
        },
        extra: &["RETR 2"],
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::BareLf,
        name: "bare-lf",
        description: "ends every line with LF instead of CRLF",
        expected_rules: &["GEN-001"],
        behaviour: Behaviour {
            line_end: b"\n",
            ..B
        },
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::LowercaseStatus,
        name: "lowercase-status",
        description: "answers +ok / -err in lower case",
        expected_rules: &["GEN-002"],
        behaviour: Behaviour {
            lowercase_status: true,
            ..B
        },
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::DeletedRetrievable,
        name: "deleted-retrievable",
        description: "still serves messages marked deleted",
        expected_rules: &["DEL-001"],
        behaviour: Behaviour {
            serves_deleted: true,
            ..B
        },
        extra: &["DELE 1", "RETR 1"],
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::WrongListSizes,
        name: "wrong-list-sizes",
        description: "LIST sizes differ from what RETR delivers",
        expected_rules: &["MSG-006"],
        behaviour: Behaviour {
            list_size_excess: 17,
            ..B
        },
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::NoTerminatorClose,
        name: "no-terminator-close",
        description: "RETR sends the message without the terminating '.', then closes",
        expected_rules: &["ML-001"],
        behaviour: Behaviour {
            retr_terminated: false,
            ..B
        },
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::HostileText,
        name: "hostile-text",
        description: "puts escape sequences, a backspace and a bidi override in its replies",
        expected_rules: &["GEN-005"],
        behaviour: Behaviour {
            // Clear screen, home, window title, red, reset, two backspaces, a bidi override:
            // a debugger must show them, never obey them.
            greeting: Some(
                "\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b[31mready\x1b[0m\x08\x08 \u{202E}gnp.exe",
            ),
            ..B
        },
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::OauthPlaintext,
        name: "oauth-plaintext",
        description: "offers XOAUTH2 and OAUTHBEARER without TLS and accepts a bearer token in the clear",
        expected_rules: &["OAUTH-001", "OAUTH-002"],
        behaviour: Behaviour {
            tokens_in_clear: true,
            ..B
        },
        transport: Transport::Plain,
        login: Login::Token,
        hint: Some(
            "no TLS, yet CAPA offers XOAUTH2: AUTH XOAUTH2 dXNlcj1kZW1vAWF1dGg9QmVhcmVyIGRlbW8tdG9rZW4BAQ== (user demo, token demo-token) logs in",
        ),
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::OauthBadError,
        name: "oauth-bad-error",
        description: "refuses a bearer token with an error challenge that is not JSON",
        expected_rules: &["OAUTH-003"],
        behaviour: Behaviour {
            token_refusal: TokenRefusal::TextChallenge,
            ..B
        },
        hint: Some(P24_HINT),
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::OauthOkAfterDummy,
        name: "oauth-ok-after-dummy",
        description: "answers +OK (and opens the maildrop) to the dummy response after its error challenge",
        expected_rules: &["OAUTH-004"],
        behaviour: Behaviour {
            ok_after_dummy: true,
            ..B
        },
        hint: Some(P24_HINT),
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::OauthNoError,
        name: "oauth-no-error",
        description: "refuses a bearer token with -ERR at once, without the error challenge",
        expected_rules: &["OAUTH-003"],
        behaviour: Behaviour {
            token_refusal: TokenRefusal::ErrAtOnce,
            ..B
        },
        hint: Some(P24_HINT),
        ..ROW
    },
    QuirkInfo {
        quirk: Quirk::OauthOneLineOnly,
        name: "oauth-one-line-only",
        description: "refuses XOAUTH2 and OAUTHBEARER without an initial response (the two-line form)",
        expected_rules: &["OAUTH-007"],
        behaviour: Behaviour {
            token_on_own_line: false,
            ..B
        },
        login: Login::Token,
        hint: Some(
            ":starttls, then AUTH XOAUTH2 (the two-line form) is refused; AUTH XOAUTH2 dXNlcj1kZW1vAWF1dGg9QmVhcmVyIGRlbW8tdG9rZW4BAQ== (token demo-token) on one line logs in",
        ),
        ..ROW
    },
];

/// What the demo's UI suggests for the quirks probe P24 shows: the request for the error
/// challenge (`user=demo`, an empty `auth=`), then XOAUTH2's dummy response.
const P24_HINT: &str = ":starttls, then AUTH XOAUTH2 dXNlcj1kZW1vAWF1dGg9AQE= (user demo, an empty auth=) asks for the error challenge; answer it with an empty line";

// `Quirk::info` indexes QUIRKS by the variant: the table must follow the enum's order.
const _: () = {
    let mut i = 0;
    while i < QUIRKS.len() {
        assert!(
            QUIRKS[i].quirk as usize == i,
            "QUIRKS is out of Quirk's order"
        );
        i += 1;
    }
    assert!(
        QUIRKS.len() == Quirk::OauthOneLineOnly as usize + 1,
        "a quirk has no row"
    );
};

impl Quirk {
    /// Every quirk, in table order.
    pub const ALL: [Quirk; QUIRKS.len()] = {
        let mut all = [Quirk::TlsPreauth; QUIRKS.len()];
        let mut i = 0;
        while i < QUIRKS.len() {
            all[i] = QUIRKS[i].quirk;
            i += 1;
        }
        all
    };

    /// This quirk's row.
    pub fn info(self) -> &'static QuirkInfo {
        &QUIRKS[self as usize]
    }

    /// The name on the command line (`--quirk NAME`).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The quirk called `name`, if there is one.
    pub fn parse(name: &str) -> Option<Quirk> {
        QUIRKS.iter().find(|r| r.name == name).map(|r| r.quirk)
    }

    /// One line for `serve --list-quirks`.
    pub fn description(self) -> &'static str {
        self.info().description
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_are_unique() {
        for q in Quirk::ALL {
            assert_eq!(Quirk::parse(q.name()), Some(q));
            assert_eq!(q.info().quirk, q);
        }
        assert_eq!(Quirk::parse("nope"), None);
    }

    #[test]
    fn every_quirk_changes_the_behaviour_and_names_a_rule() {
        for r in QUIRKS {
            assert_ne!(r.behaviour, Behaviour::CONFORMANT, "{}", r.name);
            assert!(!r.expected_rules.is_empty(), "{}", r.name);
            assert!(!r.description.is_empty(), "{}", r.name);
        }
    }
}
