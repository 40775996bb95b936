//! Where findings go while the engine works: the [`Checker`], and the helpers checks share to
//! read reply text (which only ever makes a finding suspected).

use std::collections::HashSet;

use super::catalog::{RuleInfo, Severity};
use crate::event::{Finding, Location};

/// Collects findings while the engine works; the engine hands them to its sink in order.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    pub(crate) found: Vec<Finding>,
    overrides: Vec<(&'static str, Severity)>,
    /// popscope's active probes run in this session ([`crate::Config::active_probes`]).
    pub(crate) active_probes: bool,
    /// The client areas run ([`crate::Config::judge_client`]); read through
    /// [`Checker::judges_client`].
    judge_client: bool,
    /// [`crate::Config::client_stls_offer`].
    pub(crate) client_stls_offer: Option<bool>,
    /// [`crate::Config::client_leg_tls`], until a proxy says the client's leg was upgraded:
    /// read through [`Checker::client_leg_is_tls`].
    client_leg_tls: Option<bool>,
    /// A proxy said the client presented a certificate on its own leg's TLS.
    client_leg_cert: bool,
    /// (rule, exchange) pairs already reported where a rule reports once per exchange.
    per_exchange: HashSet<(&'static str, u32)>,
    /// Rules already reported where a rule reports once per session.
    per_session: HashSet<&'static str>,
}

impl Checker {
    pub(crate) fn new(
        overrides: Vec<(&'static str, Severity)>,
        active_probes: bool,
        judge_client: bool,
    ) -> Self {
        Checker {
            overrides,
            active_probes,
            judge_client,
            ..Checker::default()
        }
    }

    /// The same checker, told what the client was shown of STLS when a proxy decides it.
    pub(crate) fn with_client_stls_offer(mut self, offer: Option<bool>) -> Self {
        self.client_stls_offer = offer;
        self
    }

    /// A proxy completed TLS with the client ([`crate::TransportEvent::ClientLegStls`],
    /// [`crate::TransportEvent::ClientLegTls`]); `client_cert`: the client presented one.
    pub(crate) fn client_leg_upgraded(&mut self, client_cert: bool) {
        self.client_leg_tls = Some(true);
        self.client_leg_cert |= client_cert;
    }

    /// The same checker, told whether the client's own leg is TLS (a proxy's client leg).
    pub(crate) fn with_client_leg_tls(mut self, tls: Option<bool>) -> Self {
        self.client_leg_tls = tls;
        self
    }

    /// Whether what the client sends is encrypted on its way: its own leg when a proxy said
    /// so, else the session's (`session_tls`).
    pub(crate) fn client_leg_is_tls(&self, session_tls: bool) -> bool {
        self.client_leg_tls.unwrap_or(session_tls)
    }

    /// Whether the client presented a certificate over TLS: on its own leg when a proxy said
    /// so, else in the session's handshake (`session_tls`, `session_cert`).
    pub(crate) fn client_cert_over_tls(&self, session_tls: bool, session_cert: bool) -> bool {
        match self.client_leg_tls {
            Some(leg_tls) => leg_tls && self.client_leg_cert,
            None => session_tls && session_cert,
        }
    }

    /// Whether the client areas (rules.md §3.18) judge this session: the one switch they obey.
    /// Never while popscope's own probes are the client: they misbehave on purpose.
    pub(crate) fn judges_client(&self) -> bool {
        self.judge_client && !self.active_probes
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
