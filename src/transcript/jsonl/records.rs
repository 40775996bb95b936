//! The records of a recording, one JSON object a line: their fields, and the names by which
//! states, rules and severities are spelled in them.

use serde::{Deserialize, Serialize};

use crate::transport::TlsDetails;
use popscope_core::{Direction, RuleInfo, Severity, State, Time, TransportEvent};

/// The format a recorder writes: 2, whose clean data follows its record as a block of raw
/// octets. Format 1 held every octet inside a JSON string.
pub(crate) const FORMAT: u32 = 2;

/// The formats a reader reads; it refuses a session of any other.
pub(crate) const READABLE: [u32; 2] = [1, 2];

/// How the recording session's engine judged the client, from its header: a re-check
/// configures its engine the same, so the client rules find what they found live (a login
/// inside the proxy's TLS toward the client is no CL-008, even when the upstream was plain).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientSide {
    /// `Config::judge_client`: the client was not popscope.
    pub judge: bool,
    pub(crate) leg_tls: Option<bool>,
    pub(crate) stls_offer: Option<bool>,
}

impl ClientSide {
    /// A text transcript's client may be anyone (written by hand, exported, imported).
    pub(crate) const ANYONE: ClientSide = ClientSide {
        judge: true,
        leg_tls: None,
        stls_offer: None,
    };

    /// What a recorder of a session run with `config` writes in its header.
    pub(crate) fn of(config: &popscope_core::Config) -> ClientSide {
        ClientSide {
            judge: config.judge_client,
            leg_tls: config.client_leg_tls,
            stls_offer: config.client_stls_offer,
        }
    }

    /// `config`, judging the client as the recording did (and as `config` already asks).
    pub(crate) fn configure(self, config: &popscope_core::Config) -> popscope_core::Config {
        popscope_core::Config {
            judge_client: config.judge_client || self.judge,
            client_leg_tls: self.leg_tls.or(config.client_leg_tls),
            client_stls_offer: self.stls_offer.or(config.client_stls_offer),
            ..config.clone()
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(crate) enum Record {
    Header {
        format: u32,
        popscope: String,
        target: String,
        /// Seconds since the Unix epoch when the session started.
        started: f64,
        /// "redacted" (the default) or "kept" (--record-secrets).
        secrets: String,
        /// The client is not popscope (a proxied mail client, a client of the demo server): a
        /// re-check judges it too (`Config::judge_client`). Absent in popscope's own sessions
        /// (`send`, `check`, the UI), whose client breaks some client rules on purpose, so
        /// that their recordings re-check to the findings of the live run.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        judge_client: bool,
        /// `Config::client_leg_tls` of the recording engine: the proxy's client leg may be
        /// secured otherwise than the upstream's (absent: one connection).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_leg_tls: Option<bool>,
        /// `Config::client_stls_offer` of the recording engine (absent: the server's CAPA).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_stls_offer: Option<bool>,
    },
    Data {
        t: f64,
        dir: Direction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        b64: Option<String>,
        /// Format 2: the octets are not in the record but follow it, this many of them raw,
        /// then a line feed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        octets: Option<u64>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        redacted: bool,
    },
    Transport {
        t: f64,
        event: TransportEvent,
    },
    Tls {
        t: f64,
        details: Box<TlsDetails>,
    },
    State {
        t: f64,
        #[serde(with = "by_name::state")]
        from: State,
        #[serde(with = "by_name::state")]
        to: State,
        reason: String,
        lawful: bool,
    },
    /// `--max-body`: this many octets of the body of `exchange` were left out of the recording
    /// (the engine of the recording session saw them all).
    Truncated {
        t: f64,
        exchange: u32,
        octets: u64,
    },
    Finding {
        t: f64,
        #[serde(with = "by_name::rule")]
        rule: &'static RuleInfo,
        #[serde(with = "by_name::severity")]
        severity: Severity,
        message: String,
        exchange: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        suspected: bool,
    },
}

/// State, rule and severity fields hold the names people read (`AUTHORIZATION (USER
/// accepted)`, `ST-001`, `violation`), exactly as they did when they were strings.
mod by_name {
    use popscope_core::rules::CATALOG;
    use popscope_core::{AuthStep, RuleInfo, Severity, State};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// The value among `all` whose name is the string read.
    fn find<'de, D: Deserializer<'de>, T: Copy>(
        d: D,
        all: impl IntoIterator<Item = T>,
        name: impl Fn(T) -> &'static str,
        what: &str,
    ) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        all.into_iter()
            .find(|v| name(*v) == s)
            .ok_or_else(|| D::Error::custom(format!("unknown {what}")))
    }

    /// A `#[serde(with = "by_name::<module>")]` module for a `Copy` type: the name of a value
    /// out, the value among `all` with the name read in.
    macro_rules! by_name {
        ($module:ident: $ty:ty, $all:expr, $name:expr) => {
            pub(crate) mod $module {
                use super::*;

                pub(crate) fn serialize<S: Serializer>(v: &$ty, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_str(($name)(*v))
                }

                pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
                    d: D,
                ) -> Result<$ty, D::Error> {
                    find(d, $all, $name, stringify!($module))
                }
            }
        };
    }

    /// Every state the engine names. One it does not know is not damage: the reader skips
    /// the record (see `derived_only`).
    const STATES: [State; 9] = [
        State::TlsHandshake,
        State::Greeting,
        State::Authorization(AuthStep::Idle),
        State::Authorization(AuthStep::UserOk),
        State::Authorization(AuthStep::Sasl),
        State::Authorization(AuthStep::StlsHandshake),
        State::Transaction,
        State::Update,
        State::Closed,
    ];

    const SEVERITIES: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Violation];

    by_name!(state: State, STATES, State::name);
    by_name!(severity: Severity, SEVERITIES, Severity::as_str);
    by_name!(rule: &'static RuleInfo, CATALOG.iter().copied(), |r: &'static RuleInfo| r.id);
}

/// `bytes` as text that may be shown raw: UTF-8 without control characters other than CR, LF
/// and TAB and without invisible or reordering characters.
pub(super) fn clean_text(bytes: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(bytes).ok()?;
    s.chars()
        .all(|c| {
            (!c.is_control() || matches!(c, '\r' | '\n' | '\t'))
                && !popscope_core::sanitize::is_invisible_or_reordering(c)
        })
        .then_some(s)
}

impl Record {
    pub(crate) fn data(t: f64, dir: Direction, bytes: &[u8], redacted: bool) -> Record {
        match clean_text(bytes) {
            Some(s) => Record::Data {
                t,
                dir,
                text: Some(s.to_owned()),
                b64: None,
                octets: None,
                redacted,
            },
            None => Record::Data {
                t,
                dir,
                text: None,
                b64: Some(popscope_core::auth::b64encode(bytes)),
                octets: None,
                redacted,
            },
        }
    }
}

/// A record's time: seconds since the session started.
pub(super) fn secs(t: Time) -> f64 {
    t.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::super::read;
    use super::*;

    #[test]
    fn data_is_text_when_clean_and_base64_otherwise() {
        assert!(matches!(
            Record::data(0.0, Direction::Server, b"+OK ready\r\n", false),
            Record::Data { text: Some(_), .. }
        ));
        assert!(matches!(
            Record::data(0.0, Direction::Server, b"+OK \x1b[2J\r\n", false),
            Record::Data { b64: Some(_), .. }
        ));
        assert!(matches!(
            Record::data(0.0, Direction::Server, b"\xff\r\n", false),
            Record::Data { b64: Some(_), .. }
        ));
    }

    /// Recordings made by popscope before its records were typed (`popscope serve` and
    /// `popscope send --record`, STLS with --insecure and implicit TLS verified).
    const RECORDED: [&str; 2] = ["starttls-hostile.jsonl", "implicit-deleted.jsonl"];

    fn recorded(name: &str) -> String {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings");
        std::fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn recordings_made_before_the_records_were_typed_read_and_write_back_byte_for_byte() {
        for name in RECORDED {
            let file = recorded(name);
            let mut kinds = std::collections::BTreeSet::new();
            for line in file.lines() {
                let r: Record =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
                kinds.insert(line.split('"').nth(3).unwrap_or_default().to_owned());
                assert_eq!(serde_json::to_string(&r).unwrap(), line, "{name}");
            }
            for kind in ["header", "data", "tls", "transport", "state", "finding"] {
                assert!(
                    kinds.contains(kind),
                    "{name} holds no {kind} record: {kinds:?}"
                );
            }
            let (sessions, damage) = read(file.as_bytes());
            assert!(damage.is_none(), "{name}: {damage:?}");
            assert_eq!(sessions.len(), 1);
        }
    }

    #[test]
    fn the_verdicts_of_recorded_handshakes_read_as_what_they_said() {
        use crate::transport::tls::Verdict;
        let (hostile, _) = read(recorded(RECORDED[0]).as_bytes());
        let (implicit, _) = read(recorded(RECORDED[1]).as_bytes());
        assert!(
            matches!(&hostile[0].tls[0].verdict, Verdict::Failed(why) if why.starts_with("unknown issuer"))
        );
        assert!(hostile[0].tls[0].insecure);
        assert_eq!(implicit[0].tls[0].verdict, Verdict::Verified);
    }
}
