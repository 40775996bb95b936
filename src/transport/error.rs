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
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
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

    /// Distinct exit codes: 3 connection failures, 4 TLS failures, 2 configuration mistakes.
    pub fn exit_code(&self) -> u8 {
        match self {
            TransportError::Config(_) => 2,
            TransportError::PlaintextOnTlsPort { .. }
            | TransportError::OldTls { .. }
            | TransportError::Certificate(_)
            | TransportError::Tls(_)
            | TransportError::TlsSession(_)
            | TransportError::StartTls(_) => 4,
            _ => 3,
        }
    }
}
