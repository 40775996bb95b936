//! The POP3 session states (RFC 1939 §3, §4, §6; RFC 2595 §4; RFC 8314 §3.1; RFC 5034 §4).
//!
//! ```text
//!   connect ──(995)──▶ TlsHandshake ──▶ Greeting ◀──(110)── connect
//!                                          │ +OK greeting
//!                                          ▼
//!            ┌───────────────────── Authorization ◀─────────────┐
//!            │ USER +OK ─▶ UserOk ─ PASS +OK ─┐   STLS +OK ─▶ StlsHandshake
//!            │ AUTH m  ─▶ Sasl ──── +OK ──────┤                  │ TLS done (no greeting)
//!            │ APOP +OK ──────────────────────┤                  └─▶ Authorization
//!            │                                ▼
//!            │ QUIT                     Transaction ── QUIT reply ─▶ Update
//!            ▼                                │ connection lost           │ close
//!          Closed ◀───────────────────────────┴───────────────────────────┘
//! ```
//!
//! The engine follows what the server actually does: if the server answers a TRANSACTION
//! command before any login, the engine moves to TRANSACTION and marks the transition unlawful.

use serde::Serialize;

/// Sub-steps of AUTHORIZATION.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthStep {
    /// Idle: waiting for USER, APOP, AUTH, STLS, CAPA…
    Idle,
    /// `USER` was accepted; PASS should follow.
    UserOk,
    /// A SASL exchange is in progress.
    Sasl,
    /// `+OK` to STLS came; the TLS handshake has not completed yet.
    StlsHandshake,
}

/// Where the session is, as the server's replies put it (see the module's diagram).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "step")]
pub enum State {
    /// Implicit TLS (port 995): the handshake comes before anything else.
    TlsHandshake,
    /// Connected, waiting for the greeting.
    Greeting,
    /// The greeting came: the client identifies itself (RFC 1939 §4).
    Authorization(AuthStep),
    /// Logged in: the maildrop is open and locked (RFC 1939 §5).
    Transaction,
    /// `QUIT` was answered in TRANSACTION: the server removes the deleted messages and
    /// closes (RFC 1939 §6).
    Update,
    /// The connection is closed, by either side or by a failed handshake. Final: the driver
    /// feeds nothing more.
    Closed,
}

impl State {
    /// The name people see, `AUTHORIZATION (USER accepted)` and the like; also the
    /// `Display` form.
    pub fn name(self) -> &'static str {
        match self {
            State::TlsHandshake => "TLS handshake",
            State::Greeting => "greeting",
            State::Authorization(AuthStep::Idle) => "AUTHORIZATION",
            State::Authorization(AuthStep::UserOk) => "AUTHORIZATION (USER accepted)",
            State::Authorization(AuthStep::Sasl) => "AUTHORIZATION (SASL exchange)",
            State::Authorization(AuthStep::StlsHandshake) => "AUTHORIZATION (STLS handshake)",
            State::Transaction => "TRANSACTION",
            State::Update => "UPDATE",
            State::Closed => "closed",
        }
    }

    /// Any step of AUTHORIZATION.
    pub fn is_authorization(self) -> bool {
        matches!(self, State::Authorization(_))
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How the connection is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Security {
    /// Cleartext: passwords sent now can be read on the way.
    #[default]
    Plain,
    /// TLS from the first byte (RFC 8314).
    ImplicitTls,
    /// Upgraded with STLS (RFC 2595).
    Stls,
}

impl Security {
    /// Under TLS, implicit or upgraded.
    pub fn is_tls(self) -> bool {
        self != Security::Plain
    }
}
