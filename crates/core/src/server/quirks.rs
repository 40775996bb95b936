//! Misbehaving profiles of the demo server, for teaching and testing. Each names the rules
//! popscope should report against it.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quirk {
    /// The seeds' case: after a TLS handshake with a client certificate the session is already
    /// in TRANSACTION; USER gets `-ERR already authenticated`, STAT gets `+OK`.
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
    /// LIST sizes are 17 octets larger than what RETR sends.
    WrongListSizes,
    /// RETR sends the message, no terminating `.`, and closes.
    NoTerminatorClose,
    /// Status lines carry terminal escape sequences (clear screen, window title, colours), a
    /// backspace and a bidi override: a debugger must show them, never obey them.
    HostileText,
}

impl Quirk {
    pub const ALL: [Quirk; 11] = [
        Quirk::TlsPreauth,
        Quirk::NoLoginNeeded,
        Quirk::StlsCommandInjection,
        Quirk::StlsResponseInjection,
        Quirk::UnstuffedDots,
        Quirk::BareLf,
        Quirk::LowercaseStatus,
        Quirk::DeletedRetrievable,
        Quirk::WrongListSizes,
        Quirk::NoTerminatorClose,
        Quirk::HostileText,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Quirk::TlsPreauth => "tls-preauth",
            Quirk::NoLoginNeeded => "no-login-needed",
            Quirk::StlsCommandInjection => "stls-command-injection",
            Quirk::StlsResponseInjection => "stls-response-injection",
            Quirk::UnstuffedDots => "unstuffed-dots",
            Quirk::BareLf => "bare-lf",
            Quirk::LowercaseStatus => "lowercase-status",
            Quirk::DeletedRetrievable => "deleted-retrievable",
            Quirk::WrongListSizes => "wrong-list-sizes",
            Quirk::NoTerminatorClose => "no-terminator-close",
            Quirk::HostileText => "hostile-text",
        }
    }

    pub fn parse(name: &str) -> Option<Quirk> {
        Quirk::ALL.into_iter().find(|q| q.name() == name)
    }

    pub fn description(self) -> &'static str {
        match self {
            Quirk::TlsPreauth => {
                "after TLS with a client certificate the session is already in TRANSACTION (USER -ERR, STAT +OK)"
            }
            Quirk::NoLoginNeeded => "TRANSACTION commands succeed before any login",
            Quirk::StlsCommandInjection => {
                "executes plaintext commands pipelined behind STLS after the handshake"
            }
            Quirk::StlsResponseInjection => {
                "sends plaintext after its +OK to STLS, before the handshake"
            }
            Quirk::UnstuffedDots => "does not dot-stuff message lines that start with '.'",
            Quirk::BareLf => "ends every line with LF instead of CRLF",
            Quirk::LowercaseStatus => "answers +ok / -err in lower case",
            Quirk::DeletedRetrievable => "still serves messages marked deleted",
            Quirk::WrongListSizes => "LIST sizes differ from what RETR delivers",
            Quirk::NoTerminatorClose => {
                "RETR sends the message without the terminating '.', then closes"
            }
            Quirk::HostileText => {
                "puts escape sequences, a backspace and a bidi override in its replies"
            }
        }
    }

    /// The rules `popscope check` reports against this profile.
    pub fn expected_rules(self) -> &'static [&'static str] {
        match self {
            Quirk::TlsPreauth => &["ST-009", "ST-001"],
            Quirk::NoLoginNeeded => &["ST-001"],
            Quirk::StlsCommandInjection => &["TLS-004"],
            Quirk::StlsResponseInjection => &["TLS-003"],
            Quirk::UnstuffedDots => &["ML-002"],
            Quirk::BareLf => &["GEN-001"],
            Quirk::LowercaseStatus => &["GEN-002"],
            Quirk::DeletedRetrievable => &["DEL-001"],
            Quirk::WrongListSizes => &["MSG-006"],
            Quirk::NoTerminatorClose => &["ML-001"],
            Quirk::HostileText => &["GEN-005"],
        }
    }
}
