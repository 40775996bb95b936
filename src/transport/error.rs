//! Transport failures, each explained in one line a person understands.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot resolve {host}: {reason}")]
    Dns { host: String, reason: String },
    #[error("connection refused by {addr}: nothing listens there")]
    Refused { addr: String },
    #[error("no connection to {addr} within {secs} s (host down, or a firewall drops the packets)")]
    ConnectTimeout { addr: String, secs: u64 },
    #[error("{what}: nothing from the server within {secs} s{hint}")]
    ReadTimeout {
        what: String,
        secs: u64,
        hint: String,
    },
    #[error(
        "{what}: no complete answer within {secs} s; {received} octet(s) arrived, starting \"{start}\"{hint}"
    )]
    Incomplete {
        what: String,
        secs: u64,
        received: u64,
        /// The first octets, sanitized and cut.
        start: String,
        hint: String,
    },
    #[error(
        "sending: the server took {sent} of {total} octets within {secs} s and no more (it does not read what is sent)"
    )]
    WriteTimeout { secs: u64, sent: u64, total: u64 },
    #[error("TLS handshake: not complete within {secs} s ({received})")]
    TlsTimeout { secs: u64, received: String },
    #[error("the connection was reset by the server{context}")]
    Reset { context: String },
    #[error("the server closed the connection {context}")]
    Closed { context: String },
    #[error(
        "this port speaks plain POP3 (the server sent \"{first}\" instead of a TLS handshake): use pop3:// or --starttls"
    )]
    PlaintextOnTlsPort { first: String },
    #[error(
        "the server does not speak TLS 1.2 or 1.3 (rustls does not implement TLS 1.0/1.1): {detail}"
    )]
    OldTls { detail: String },
    #[error("TLS certificate verification failed: {0} (--insecure skips verification)")]
    Certificate(String),
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    #[error("the TLS session broke off: {0}")]
    TlsSession(String),
    #[error("--starttls: {0}; stopped before sending any credential")]
    StartTls(String),
    #[error("{0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

impl TransportError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        match source.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                TransportError::Reset {
                    context: format!(" ({})", context.into()),
                }
            }
            _ => TransportError::Io {
                context: context.into(),
                source,
            },
        }
    }

    /// A wait that ended before the answer was whole: what arrived, if anything, is said
    /// (the count and a sanitized start), so a drip or an endless line is not mistaken for
    /// silence.
    pub(crate) fn late(
        what: impl Into<String>,
        secs: u64,
        received: u64,
        start: &[u8],
        hint: impl Into<String>,
    ) -> Self {
        let (what, hint) = (what.into(), hint.into());
        if received == 0 {
            TransportError::ReadTimeout { what, secs, hint }
        } else {
            TransportError::Incomplete {
                what,
                secs,
                received,
                start: popscope_core::sanitize::display(start, 40),
                hint,
            }
        }
    }

    /// What a failed handshake means to the engine: plaintext from the server, our refusal
    /// of its certificate, or the server's alert.
    pub(crate) fn tls_failure(&self) -> popscope_core::TlsFailure {
        use popscope_core::TlsFailure;
        match self {
            TransportError::PlaintextOnTlsPort { .. } => TlsFailure::PlaintextFromServer,
            TransportError::Certificate(_) => TlsFailure::ClientAborted,
            _ => TlsFailure::ServerAlert,
        }
    }

    /// What kind of failure this is: the CLI gives each kind its exit code
    /// (`cli::exit::of_failure`).
    pub(crate) fn kind(&self) -> FailureKind {
        match self {
            TransportError::Config(_) => FailureKind::Config,
            TransportError::PlaintextOnTlsPort { .. }
            | TransportError::OldTls { .. }
            | TransportError::Certificate(_)
            | TransportError::Tls(_)
            | TransportError::TlsSession(_)
            | TransportError::TlsTimeout { .. }
            | TransportError::StartTls(_) => FailureKind::Tls,
            _ => FailureKind::Connection,
        }
    }
}

/// The kinds of [`TransportError`] a user acts on differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// A mistake in what was asked (an unreadable CA file, a bad client key).
    Config,
    /// No conversation: refused, reset, DNS failure, a timeout, a close.
    Connection,
    /// TLS failed: the handshake, the certificate, plaintext on a TLS port, STLS missing or
    /// refused with --starttls.
    Tls,
}
