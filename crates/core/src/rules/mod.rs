//! The rules: the catalog ([`catalog`], [`CATALOG`], [`find`]), the rules judged across two
//! sessions ([`cross`]), and the checks the engine runs on every session, which are internal.
//!
//! The checks live one area of rules.md §3 a file (`capa.rs` for CAPA-*, `maildrop.rs` for
//! MSG-* and DEL-*, ...). Each area is a struct implementing the crate's `Area` trait: the
//! engine calls its hooks at the moments of a session (a command, a reply, a data line, a
//! close, ...); the area reports through the `Checker` in the hook's `Ctx` and keeps what it
//! must remember in its own fields. A new rule goes into the area of its ID's prefix and
//! touches that file only; a new area is a file here, a field of `Areas` and a name in
//! `each_area!`. An area that judges the client (the `CL-` rules of rules.md §3.18:
//! `oauth_client.rs`, `client_commands.rs`, `client_tls.rs`) says so in `Area::side`; the
//! engine runs it after the server's areas, and only when [`crate::Config::judge_client`]
//! asks (`Checker::judges_client`, the one switch).
//!
//! Two principles of the catalog shape every check: a violation needs structural evidence
//! (what the server accepted, refused, sent or closed), never reply text alone; and a
//! condition about what the server advertises is judged only against a CAPA list seen in the
//! same state and security context.

pub(crate) mod area;
mod capa;
mod capa_list;
pub mod catalog;
mod checker;
mod client_commands;
mod client_tls;
mod closing;
mod codes;
pub mod cross;
mod framing;
pub(crate) mod greeting;
mod lang;
mod lines;
mod listing;
mod maildrop;
mod message;
mod oauth;
mod oauth_client;
pub(crate) mod sasl;
mod states;
mod tls;
mod uidl;
mod utf;

pub use catalog::{CATALOG, RuleInfo, Scope, Severity, find};

pub(crate) use area::{
    Answer, Area, ClientClose, ClientStls, Close, Ctx, DataLine, PlainLines, Side, Timeout,
    Unanswered,
};
pub(crate) use checker::Checker;

/// Every rule area, each owning its state. The engine keeps one and calls a hook on all of
/// them through [`each_area`]; a new area is a field here and a line there.
#[derive(Debug, Default)]
pub(crate) struct Areas {
    pub(crate) lines: lines::Lines,
    pub(crate) codes: codes::Codes,
    pub(crate) states: states::States,
    pub(crate) closing: closing::Closing,
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
    pub(crate) oauth: oauth::Oauth,
    pub(crate) oauth_client: oauth_client::OauthClient,
    pub(crate) client_commands: client_commands::ClientCommands,
    pub(crate) client_tls: client_tls::ClientTls,
}

/// `each_area!(areas, side, |area| hook)`: runs `hook` with `area` bound to each area of
/// `side` in `areas` (a `&mut Areas`), in hook order. A macro so that every call is static: a
/// data line of a 1 GB RETR costs no indirect call, and hooks an area does not implement
/// compile to nothing.
///
/// The order is part of the output: when two areas report on the same input, the earlier
/// one's finding comes first (`lines` judges a status line's syntax before anything judges
/// what it says; `capa` and `utf` come after the older areas, as they did when the engine
/// called them by name; `oauth` after `capa`, whose CAPA listing it reads).
macro_rules! each_area {
    ($areas:expr, $side:expr, |$area:ident| $hook:expr) => {{
        let areas: &mut $crate::rules::Areas = $areas;
        let side: $crate::rules::Side = $side;
        $crate::rules::each_area!(@call areas, side, $area, $hook,
            lines, codes, states, closing, greeting, sasl, tls, lang, framing, maildrop, uidl, message,
            capa, utf, oauth, oauth_client, client_commands, client_tls)
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

#[cfg(test)]
mod tests {
    use crate::{Config, Engine, Event, Finding, Session, Time, TransportEvent};

    /// A greeting and a login by USER and PASS, as a trace for [`findings`] to go on from.
    pub(super) const LOGIN: &str = "S: +OK ready\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\n";

    /// The server rule IDs an engine reports for a session written as `S: `, `C: ` and `-- tls`
    /// lines (the client areas run after all of them, so they cannot change this order).
    fn rule_ids(trace: &str) -> Vec<&'static str> {
        findings(trace)
            .0
            .iter()
            .filter(|f| !f.rule.judges_client())
            .map(|f| f.rule.id)
            .collect()
    }

    /// The findings an engine reports for a session written as `S: `, `C: `, `-- tls` and
    /// `-- closed` lines, and the session at the end.
    pub(super) fn findings(trace: &str) -> (Vec<Finding>, Session) {
        findings_with(trace, Config::default())
    }

    /// [`findings`] with the client judged too ([`Config::judge_client`]), as in a transcript
    /// re-checked from a file.
    pub(super) fn client_findings(trace: &str) -> (Vec<Finding>, Session) {
        let config = Config {
            judge_client: true,
            ..Config::default()
        };
        findings_with(trace, config)
    }

    pub(super) fn findings_with(trace: &str, config: Config) -> (Vec<Finding>, Session) {
        let mut engine = Engine::new(config);
        let mut found = Vec::new();
        let mut sink = |e: Event<'_>| {
            if let Event::Finding(f) = e {
                found.push(*f);
            }
        };
        for (i, line) in trace.lines().enumerate() {
            let now = Time(i as u64 * 1000);
            if let Some(l) = line.strip_prefix("S: ") {
                engine.handle_server(now, format!("{l}\r\n").as_bytes(), &mut sink);
            } else if let Some(l) = line.strip_prefix("C: ") {
                engine.handle_client(now, format!("{l}\r\n").as_bytes(), &mut sink);
            } else if line == "-- tls" {
                let tls = TransportEvent::TlsEstablished {
                    cert_requested: false,
                    client_cert: false,
                };
                engine.handle_transport(now, tls, &mut sink);
            } else if let Some(rest) = line.strip_prefix("-- client-stls ") {
                // A proxy answered the client's STLS: N octets dropped behind it, then
                // `cert` (the client showed one), `injected=K` (reply lines served behind it).
                let mut words = rest.split(' ');
                let dropped_octets = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                let extras: Vec<&str> = words.collect();
                let ev = TransportEvent::ClientLegStls {
                    dropped_octets,
                    established: true,
                    client_cert: extras.contains(&"cert"),
                    injected_replies: extras
                        .iter()
                        .find_map(|w| w.strip_prefix("injected=")?.parse().ok())
                        .unwrap_or(0),
                };
                engine.handle_transport(now, ev, &mut sink);
            } else if let Some(rest) = line.strip_prefix("-- client-tls") {
                let ev = TransportEvent::ClientLegTls {
                    client_cert: rest == " cert",
                };
                engine.handle_transport(now, ev, &mut sink);
            } else if line == "-- client-stls-refused" {
                engine.handle_transport(now, TransportEvent::ClientStlsRefused, &mut sink);
            } else if line == "-- closed" {
                let closed = TransportEvent::ServerClosed { close_notify: true };
                engine.handle_transport(now, closed, &mut sink);
            }
        }
        (found, engine.session().clone())
    }

    /// Where two areas report on the same input, the order of `each_area!` decides which
    /// finding comes first; these pin the cases where it matters.
    #[test]
    fn areas_report_in_list_order() {
        // One command: capa (CAPA-004) before utf (UTF-002).
        let stls_in_transaction = "S: +OK ready\nC: CAPA\nS: +OK\nS: USER\nS: .\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\nC: CAPA\nS: +OK\nS: USER\nS: .\nC: STLS\nS: +OK\n-- tls\nC: USER \u{fc}\nS: +OK\n";
        assert_eq!(
            rule_ids(stls_in_transaction),
            [
                "USR-002", "GEN-003", "TLS-001", "TLS-002", "CAPA-004", "UTF-002", "ST-002"
            ]
        );
        // One STLS reply: tls reports the earlier CAPA refusal (CAPA-001) before TLS-002.
        let capa_refused = "S: +OK ready\nC: CAPA\nS: +OK\nS: USER\nS: .\nC: CAPA\nS: -ERR no\nC: STLS\nS: +OK\n-- tls\nC: CAPA\nS: -ERR\n";
        assert_eq!(
            rule_ids(capa_refused),
            [
                "USR-002", "CAPA-001", "GEN-003", "CAPA-001", "TLS-002", "CAPA-001"
            ]
        );
        // One APOP reply: greeting (GRT-004) before tls (TLS-004).
        let injected_apop = "S: +OK ready <bad>\nC: STLS\nC: APOP a 0123456789abcdef0123456789abcdef\nS: +OK\n-- tls\nS: +OK\n";
        assert_eq!(
            rule_ids(injected_apop),
            ["GRT-004", "GEN-003", "GRT-004", "TLS-004"]
        );
    }
}
