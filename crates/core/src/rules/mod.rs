//! The checks, one file per area of rules.md §3. Each check is a function that looks at what
//! just happened and the session so far, and reports through a [`Checker`].
//!
//! Two principles of the catalog shape every check: a violation needs structural evidence
//! (what the server accepted, refused, sent or closed), never reply text alone; and a
//! condition about what the server advertises is judged only against a CAPA list seen in the
//! same state and security context.

pub(crate) mod capa;
pub mod catalog;
pub(crate) mod codes;
pub mod cross;
pub(crate) mod greeting;
pub(crate) mod intl;
pub(crate) mod lines;
pub(crate) mod listing;
pub(crate) mod sasl;
pub(crate) mod states;
pub(crate) mod tls;

use std::collections::{HashMap, HashSet};

pub use catalog::{CATALOG, RuleInfo, Scope, Severity, find};

use super::command::Keyword;
use super::event::{Direction, Finding, Location};
use super::response::Status;

/// A command compared across letter case: keyword, arguments, in TRANSACTION.
pub(crate) type CaseKey = (Keyword, Vec<Vec<u8>>, bool);

/// What checks remember between exchanges. Everything here is bounded: small maps keyed by
/// keyword, or per-message entries capped like the maildrop.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// GEN-009: the reply to a command typed in lower case and in upper case, keyed by
    /// (keyword, arguments, in TRANSACTION): (lower-case reply, upper-case reply).
    pub case_results: HashMap<CaseKey, (Option<Status>, Option<Status>)>,
    /// GRT-004: what is wrong with the greeting's timestamp.
    pub bad_timestamp: Option<String>,
    /// CAPA-001: STLS was accepted, CAPA was refused (and where).
    pub stls_worked: bool,
    pub capa_refused: Option<Location>,
    /// CAPA-001: the exchange of the first CAPA answered +OK (CAPA is implemented).
    pub capa_answered: Option<u32>,
    /// LANG-001: LANG answered +OK / -ERR in [AUTHORIZATION, TRANSACTION].
    pub lang_ok: [bool; 2],
    pub lang_refused: [Option<Location>; 2],
    /// ST-003: USER succeeded in the current attempt, and the first other command after it.
    pub user_ok: bool,
    pub after_user: Option<Keyword>,
    /// ST-005: a TRANSACTION command was refused after a login.
    pub trans_refused_after_login: bool,
    /// TOP-001: shapes of messages seen in full (RETR) and in part (TOP).
    pub retr_shapes: HashMap<u32, listing::MessageShape>,
    pub top_shapes: HashMap<u32, Vec<listing::TopShape>>,
    /// DEL-002: messages that were marked deleted before the last RSET.
    pub restored: Vec<u32>,
}

/// At most this many messages keep a shape for TOP-001.
pub(crate) const MAX_SHAPES: usize = 4096;

/// Collects findings while the engine works; the engine hands them to its sink in order.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    pub(crate) found: Vec<Finding>,
    overrides: Vec<(&'static str, Severity)>,
    /// popscope's active probes run in this session ([`super::Config::active_probes`]).
    pub(crate) active_probes: bool,
    /// (rule, exchange) pairs already reported where a rule reports once per exchange.
    per_exchange: HashSet<(&'static str, u32)>,
    /// Rules already reported where a rule reports once per session.
    per_session: HashSet<&'static str>,
}

impl Checker {
    pub(crate) fn new(overrides: Vec<(&'static str, Severity)>, active_probes: bool) -> Self {
        Checker {
            overrides,
            active_probes,
            ..Checker::default()
        }
    }

    /// Report a finding; `severity` is this occurrence's, before configuration overrides.
    pub(crate) fn report(
        &mut self,
        rule: &'static RuleInfo,
        severity: Severity,
        at: Location,
        message: impl Into<String>,
    ) {
        self.push(rule, severity, at, message.into(), false);
    }

    /// Report a finding whose only evidence is reply text: always info, marked suspected.
    pub(crate) fn suspect(
        &mut self,
        rule: &'static RuleInfo,
        at: Location,
        message: impl Into<String>,
    ) {
        self.push(rule, Severity::Info, at, message.into(), true);
    }

    /// Report at most once per exchange (for rules that could fire on every line of a body).
    pub(crate) fn report_once_per_exchange(
        &mut self,
        rule: &'static RuleInfo,
        severity: Severity,
        at: Location,
        message: impl FnOnce() -> String,
    ) {
        if self.per_exchange.insert((rule.id, at.exchange)) {
            self.push(rule, severity, at, message(), false);
        }
    }

    /// Report at most once per session.
    pub(crate) fn report_once(
        &mut self,
        rule: &'static RuleInfo,
        severity: Severity,
        at: Location,
        message: impl FnOnce() -> String,
    ) {
        if self.per_session.insert(rule.id) {
            self.push(rule, severity, at, message(), false);
        }
    }

    fn push(
        &mut self,
        rule: &'static RuleInfo,
        severity: Severity,
        at: Location,
        message: String,
        suspected: bool,
    ) {
        let severity = self
            .overrides
            .iter()
            .find(|(id, _)| *id == rule.id)
            .map_or(severity, |(_, s)| *s);
        self.found.push(Finding {
            rule,
            severity,
            message,
            suspected,
            at,
        });
    }
}

/// A location in the server's stream.
pub(crate) fn server_at(exchange: u32, offset: u64) -> Location {
    Location {
        exchange,
        direction: Some(Direction::Server),
        offset,
    }
}

/// A location in the client's stream.
pub(crate) fn client_at(exchange: u32, offset: u64) -> Location {
    Location {
        exchange,
        direction: Some(Direction::Client),
        offset,
    }
}

/// Reply text suggesting the server took a command for an unknown one. Text is not significant
/// (RFC 1939 §9), so checks that use it only suspect.
pub(crate) fn text_says_unknown_command(text: &[u8]) -> bool {
    contains_any(
        text,
        &[
            "unknown",
            "unrecognized",
            "unrecognised",
            "not implemented",
            "not supported",
            "unsupported",
            "invalid command",
            "bad command",
            "no such command",
        ],
    )
}

/// Case-insensitive search for any of `needles` in `text`.
pub(crate) fn contains_any(text: &[u8], needles: &[&str]) -> bool {
    let lower = text.to_ascii_lowercase();
    needles
        .iter()
        .any(|n| memchr::memmem::find(&lower, n.as_bytes()).is_some())
}
