//! The checks, one area of rules.md §3 a file. Each area is a struct implementing [`Area`]:
//! the engine calls its hooks at the moments of a session (a command, a reply, a data line, a
//! close, ...), and the area reports through the [`Checker`] in its [`Ctx`] and keeps what it
//! must remember in its own fields. A new rule goes into the area of its catalog prefix; a new
//! area is a file here and a line in [`areas`].
//!
//! Two principles of the catalog shape every check: a violation needs structural evidence
//! (what the server accepted, refused, sent or closed), never reply text alone; and a
//! condition about what the server advertises is judged only against a CAPA list seen in the
//! same state and security context.

pub(crate) mod area;
mod capa;
pub mod catalog;
mod codes;
pub mod cross;
mod framing;
pub(crate) mod greeting;
mod lang;
mod lines;
mod listing;
mod maildrop;
mod message;
pub(crate) mod sasl;
mod states;
mod tls;
mod uidl;
mod utf;

use std::collections::HashSet;

pub use catalog::{CATALOG, RuleInfo, Scope, Severity, find};

pub(crate) use area::{Answer, Area, Close, Ctx, DataLine, Side, Timeout, Unanswered};

use crate::event::{Finding, Location};

/// Every rule area, each owning its state. The engine keeps one and calls a hook on all of
/// them through [`each_area`]; a new area is a field here and a line there.
#[derive(Debug, Default)]
pub(crate) struct Areas {
    pub(crate) lines: lines::Lines,
    pub(crate) codes: codes::Codes,
    pub(crate) states: states::States,
    pub(crate) greeting: greeting::Greeting,
    pub(crate) sasl: sasl::Sasl,
    pub(crate) tls: tls::Tls,
    pub(crate) lang: lang::Lang,
    pub(crate) framing: framing::Framing,
    pub(crate) maildrop: maildrop::Maildrop,
    pub(crate) uidl: uidl::Uidl,
    pub(crate) message: message::Message,
    pub(crate) capa: capa::Capa,
    pub(crate) utf: utf::Utf,
}

/// `each_area!(areas, side, |area| hook)`: runs `hook` with `area` bound to each area of
/// `side` in `areas` (a `&mut Areas`), in hook order. A macro so that every call is static: a
/// data line of a 1 GB RETR costs no indirect call, and hooks an area does not implement
/// compile to nothing.
///
/// The order is part of the output: when two areas report on the same input, the earlier
/// one's finding comes first (`lines` judges a status line's syntax before anything judges
/// what it says; `capa` and `utf` come last, as they did when the engine called them by name).
macro_rules! each_area {
    ($areas:expr, $side:expr, |$area:ident| $hook:expr) => {{
        let areas: &mut $crate::rules::Areas = $areas;
        let side: $crate::rules::Side = $side;
        $crate::rules::each_area!(@call areas, side, $area, $hook,
            lines, codes, states, greeting, sasl, tls, lang, framing, maildrop, uidl, message,
            capa, utf)
    }};
    (@call $areas:ident, $side:ident, $area:ident, $hook:expr, $($field:ident),*) => {{
        $({
            let $area = &mut $areas.$field;
            if $crate::rules::Area::side($area) == $side {
                $hook;
            }
        })*
    }};
}
pub(crate) use each_area;

/// Collects findings while the engine works; the engine hands them to its sink in order.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    pub(crate) found: Vec<Finding>,
    overrides: Vec<(&'static str, Severity)>,
    /// popscope's active probes run in this session ([`crate::Config::active_probes`]).
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
