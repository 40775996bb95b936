//! Reading a recording back: every session into memory, or record by record in bounded
//! memory, stopping at the first damaged line and saying where.

use serde::Deserialize;

use crate::transcript::text::{Entry, Item};
use crate::transport::TlsDetails;
use popscope_core::{Direction, Time};

use super::records::{ClientSide, FORMAT, Record};

/// One recorded session: its header and what to replay.
#[derive(Debug, Default)]
pub struct Session {
    pub target: String,
    pub secrets: String,
    pub entries: Vec<Entry>,
    pub(crate) tls: Vec<TlsDetails>,
    /// How the header says the client was judged (a proxied mail client is).
    pub client: ClientSide,
}

/// What reading stopped at, if the file is damaged: everything before it was read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct Damage {
    pub line: usize,
    pub(crate) message: String,
}

/// Whether the bytes look like a JSON Lines transcript (rather than the text format).
pub(crate) fn looks_like(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// A string read from a recording, as it may be shown: popscope records display text (made
/// by `popscope_core::sanitize::display` when the session ran), kept as it is so it is not escaped
/// twice; anything else (a hand-edited recording holding ESC, BEL, U+202E, a line break, or
/// an overlong value) goes through `display` here, once, before any output sees it.
pub(crate) fn shown(s: &str, max: usize) -> String {
    let clean = !s
        .chars()
        .any(|c| c.is_control() || popscope_core::sanitize::is_invisible_or_reordering(c))
        && s.chars().count() <= max;
    if clean {
        s.to_owned()
    } else {
        popscope_core::sanitize::display(s.as_bytes(), max)
    }
}

/// Every text field of recorded TLS details made safe with [`shown`] (the limits are those
/// of the live side: 512 characters for a name, 255 for a subjectAltName).
pub(crate) fn shown_tls(d: &TlsDetails) -> TlsDetails {
    let f = |s: &str| shown(s, 200);
    TlsDetails {
        version: f(&d.version),
        cipher: f(&d.cipher),
        group: d.group.as_deref().map(f),
        alpn: d.alpn.as_deref().map(f),
        chain: d
            .chain
            .iter()
            .map(|c| crate::transport::tls::CertInfo {
                subject: shown(&c.subject, 512),
                issuer: shown(&c.issuer, 512),
                sans: c.sans.iter().map(|n| shown(n, 255)).collect(),
                not_before: f(&c.not_before),
                not_after: f(&c.not_after),
                sha256: f(&c.sha256),
                ..c.clone()
            })
            .collect(),
        verdict: d.verdict.map_reason(|why| shown(why, 512)),
        ..d.clone()
    }
}

/// What the streaming reader hands out, in file order.
pub(crate) enum Streamed {
    /// A new session begins.
    Header {
        target: String,
        secrets: String,
        /// How the header says the client was judged.
        client: ClientSide,
    },
    Entry(Entry),
    Tls(Box<TlsDetails>),
}

/// One JSON line may be at most this long (a data record of a 64 KiB read is about 90 KB);
/// longer is damage, so a hostile file cannot exhaust memory.
const MAX_RECORD: usize = 64 << 20;

/// Whether a line a reader could not read is a well-formed `state` or `finding` record whose
/// state, rule or severity names this popscope does not know: what the recording's own
/// popscope derived (a newer one, say), which a re-check ignores anyway, so it is skipped
/// rather than taken for damage. A missing field or a field of the wrong type is damage.
fn derived_only(raw: &[u8]) -> bool {
    #[derive(Deserialize)]
    #[serde(tag = "type", rename_all = "lowercase")]
    #[allow(dead_code)] // the fields are read only to check their types
    enum Derived {
        State {
            t: f64,
            from: String,
            to: String,
            reason: String,
            lawful: bool,
        },
        Finding {
            t: f64,
            rule: String,
            severity: String,
            message: String,
            exchange: u32,
            #[serde(default)]
            suspected: bool,
        },
    }
    serde_json::from_slice::<Derived>(raw).is_ok()
}

/// A `data` record, read without serde's buffering of an internally tagged enum (which
/// copies every field of every line into a tree of values first): the fields of
/// `Record::Data`, so a line it reads reads the same as a `Record`; any other line (another
/// type, a field of the wrong type, a duplicate) is left to `Record` and its messages.
#[derive(Deserialize)]
struct DataRecord<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    t: f64,
    dir: Direction,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    b64: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // read only to check its type, as `Record` does
    redacted: bool,
}

impl DataRecord<'_> {
    fn read(raw: &[u8]) -> Option<DataRecord<'_>> {
        serde_json::from_slice::<DataRecord>(raw)
            .ok()
            .filter(|d| d.kind == "data")
    }
}

/// The entry a data record holds: its octets as text or base64, exactly one of them.
fn data_entry(
    t: f64,
    dir: Direction,
    text: Option<String>,
    b64: Option<String>,
) -> Result<(f64, Item), &'static str> {
    let bytes = match (text, b64) {
        (Some(t), None) => t.into_bytes(),
        (None, Some(b)) => {
            popscope_core::auth::b64decode(b.as_bytes()).ok_or("b64 is not valid base64")?
        }
        _ => return Err("a data record holds exactly one of text and b64"),
    };
    Ok((
        t,
        match dir {
            Direction::Client => Item::Client(bytes),
            Direction::Server => Item::Server(bytes),
        },
    ))
}

/// Reads record by record, in bounded memory; stops at the first damaged line.
pub(crate) fn stream<R: std::io::BufRead>(
    mut r: R,
    mut on: impl FnMut(Streamed),
) -> Option<Damage> {
    use std::io::{BufRead as _, Read as _};
    let mut raw = Vec::new();
    let mut line = 0usize;
    let mut in_session = false;
    loop {
        raw.clear();
        line += 1;
        let damage = |message: String| Some(Damage { line, message });
        let n = match (&mut r)
            .take(MAX_RECORD as u64 + 1)
            .read_until(b'\n', &mut raw)
        {
            Ok(n) => n,
            Err(e) => return damage(format!("cannot read: {e}")),
        };
        if n == 0 {
            break;
        }
        if raw.len() > MAX_RECORD {
            return damage("a record longer than 64 MiB".into());
        }
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // The bulk of a recording is data records: read them straight into their fields.
        if let Some(data) = DataRecord::read(&raw) {
            if !in_session {
                return damage("the first record must be the header".into());
            }
            match data_entry(data.t, data.dir, data.text, data.b64) {
                Ok((t, item)) => {
                    on(Streamed::Entry(Entry {
                        line,
                        item,
                        at: Some(Time((t.max(0.0) * 1e6) as u64)),
                    }));
                    continue;
                }
                Err(message) => return damage(message.into()),
            }
        }
        let record: Record = match serde_json::from_slice(&raw) {
            Ok(r) => r,
            Err(_) if in_session && derived_only(&raw) => continue,
            Err(_) if derived_only(&raw) => {
                return damage("the first record must be the header".into());
            }
            Err(e) => {
                return damage(format!(
                    "not a transcript record ({e}); everything before it was read"
                ));
            }
        };
        if let Record::Header {
            format,
            target,
            secrets,
            judge_client,
            client_leg_tls,
            client_stls_offer,
            ..
        } = record
        {
            if format != FORMAT {
                return damage(format!(
                    "transcript format {format}; this popscope reads format {FORMAT}"
                ));
            }
            in_session = true;
            on(Streamed::Header {
                target: shown(&target, 200),
                secrets: shown(&secrets, 20),
                client: ClientSide {
                    judge: judge_client,
                    leg_tls: client_leg_tls,
                    stls_offer: client_stls_offer,
                },
            });
            continue;
        }
        if !in_session {
            return damage("the first record must be the header".into());
        }
        let (t, item) = match record {
            Record::Header { .. }
            | Record::State { .. }
            | Record::Finding { .. }
            | Record::Truncated { .. } => continue,
            Record::Tls { details, .. } => {
                on(Streamed::Tls(Box::new(shown_tls(&details))));
                continue;
            }
            Record::Transport { t, event } => (t, Item::Transport(event)),
            Record::Data {
                t, dir, text, b64, ..
            } => match data_entry(t, dir, text, b64) {
                Ok(entry) => entry,
                Err(message) => return damage(message.into()),
            },
        };
        on(Streamed::Entry(Entry {
            line,
            item,
            at: Some(Time((t.max(0.0) * 1e6) as u64)),
        }));
    }
    if !in_session {
        return Some(Damage {
            line: 1,
            message: "no header: not a popscope transcript".into(),
        });
    }
    None
}

/// Session `n` (from 1) of a recording, with the damage found reading it, if any.
pub(crate) fn session(bytes: &[u8], n: usize) -> Result<(Session, Option<Damage>), String> {
    let (mut sessions, damage) = read(bytes);
    let count = sessions.len();
    if n == 0 || n > count {
        return Err(format!(
            "it holds {count} session(s); --session {n} is not one of them"
        ));
    }
    Ok((sessions.swap_remove(n - 1), damage))
}

/// Reads every session into memory; stops at the first damaged line and says where.
pub fn read(bytes: &[u8]) -> (Vec<Session>, Option<Damage>) {
    let mut sessions: Vec<Session> = Vec::new();
    let damage = stream(bytes, |s| match s {
        Streamed::Header {
            target,
            secrets,
            client,
        } => sessions.push(Session {
            target,
            secrets,
            client,
            ..Session::default()
        }),
        Streamed::Entry(e) => {
            if let Some(s) = sessions.last_mut() {
                s.entries.push(e);
            }
        }
        Streamed::Tls(d) => {
            if let Some(s) = sessions.last_mut() {
                s.tls.push(*d);
            }
        }
    });
    (sessions, damage)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "{\"type\":\"header\",\"format\":1,\"popscope\":\"x\",\"target\":\"t\",\"started\":0,\"secrets\":\"redacted\"}\n";
    const DATA: &str = "{\"type\":\"data\",\"t\":0.1,\"dir\":\"server\",\"text\":\"+OK\\r\\n\"}\n";

    #[test]
    fn a_state_or_finding_this_version_does_not_know_is_skipped_not_damage() {
        let unknown = [
            "{\"type\":\"finding\",\"t\":0.1,\"rule\":\"NEW-999\",\"severity\":\"info\",\"message\":\"m\",\"exchange\":0}\n",
            "{\"type\":\"finding\",\"t\":0.1,\"rule\":\"ST-001\",\"severity\":\"fatal\",\"message\":\"m\",\"exchange\":0}\n",
            "{\"type\":\"state\",\"t\":0.1,\"from\":\"greeting\",\"to\":\"LIMBO\",\"reason\":\"r\",\"lawful\":true}\n",
        ];
        for u in unknown {
            let (sessions, damage) = read(format!("{HEADER}{u}{DATA}").as_bytes());
            assert!(damage.is_none(), "{u}: {damage:?}");
            assert_eq!(sessions[0].entries.len(), 1, "{u}");
            let (_, damage) = read(format!("{u}{HEADER}").as_bytes());
            assert_eq!(
                damage.map(|d| d.message),
                Some("the first record must be the header".to_owned())
            );
        }
    }

    #[test]
    fn a_malformed_state_or_finding_is_damage_not_skipped() {
        let malformed = [
            "{\"type\":\"state\",\"t\":0.1,\"from\":\"greeting\",\"to\":\"closed\",\"reason\":\"r\",\"lawful\":\"yes\"}\n",
            "{\"type\":\"state\",\"t\":0.1,\"from\":\"greeting\",\"to\":\"closed\",\"reason\":\"r\"}\n",
            "{\"type\":\"finding\",\"t\":\"0.1\",\"rule\":\"ST-001\",\"severity\":\"info\",\"message\":\"m\",\"exchange\":0}\n",
            "{\"type\":\"finding\",\"t\":0.1,\"rule\":\"ST-001\",\"severity\":\"info\",\"message\":\"m\",\"exchange\":-1}\n",
            "{\"type\":\"finding\",\"t\":0.1,\"rule\":7,\"severity\":\"info\",\"message\":\"m\",\"exchange\":0}\n",
        ];
        for m in malformed {
            let (sessions, damage) = read(format!("{HEADER}{DATA}{m}{DATA}").as_bytes());
            let damage = damage.unwrap_or_else(|| panic!("{m}: read as if whole"));
            assert_eq!(damage.line, 3, "{m}");
            assert!(
                damage.message.starts_with("not a transcript record"),
                "{m}: {}",
                damage.message
            );
            assert_eq!(
                sessions[0].entries.len(),
                1,
                "{m}: what came before is kept"
            );
        }
    }

    #[test]
    fn a_header_that_says_judge_client_is_kept_with_its_session() {
        let proxied = HEADER.replace("\"redacted\"}", "\"redacted\",\"judge_client\":true}");
        let both = format!("{HEADER}{DATA}{proxied}{DATA}");
        let (sessions, damage) = read(both.as_bytes());
        assert_eq!(damage, None);
        let judged: Vec<bool> = sessions.iter().map(|s| s.client.judge).collect();
        assert_eq!(judged, [false, true]);
    }

    #[test]
    fn damage_keeps_what_came_before() {
        let file = format!("{HEADER}{DATA}{{\"type\":\"da");
        let (sessions, damage) = read(file.as_bytes());
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].entries.len(), 1);
        assert_eq!(damage.map(|d| d.line), Some(3));
    }

    #[test]
    fn a_data_record_read_directly_reads_as_the_record_it_is() {
        // The direct reader takes a line only when `Record` reads it to the same data; every
        // other line (another type, a wrong or duplicate field) is left to `Record`.
        let lines = [
            DATA,
            "{\"dir\":\"client\",\"t\":2,\"type\":\"data\",\"b64\":\"K09LDQo=\",\"redacted\":true,\"new\":[1]}",
            "{\"type\":\"data\",\"t\":0.1,\"dir\":\"server\",\"text\":\"a\",\"b64\":\"YQ==\"}",
            "{\"type\":\"data\",\"t\":0.1,\"dir\":\"server\"}",
            "{\"type\":\"data\",\"t\":0.1,\"dir\":\"server\",\"text\":null}",
            "{\"type\":\"data\",\"t\":0.1,\"dir\":\"up\",\"text\":\"a\"}",
            "{\"type\":\"data\",\"t\":\"0.1\",\"dir\":\"server\",\"text\":\"a\"}",
            "{\"type\":\"data\",\"t\":0.1,\"t\":0.2,\"dir\":\"server\",\"text\":\"a\"}",
            "{\"type\":\"data\",\"type\":\"data\",\"t\":0.1,\"dir\":\"server\",\"text\":\"a\"}",
            "{\"type\":\"data\",\"t\":0.1,\"dir\":\"server\",\"text\":\"a\",\"redacted\":1}",
            "{\"type\":\"d\\u0061ta\",\"t\":0.1,\"dir\":\"server\",\"text\":\"a\"}",
            "{\"type\":\"transport\",\"t\":0.1,\"event\":{\"event\":\"timeout\"}}",
            "{\"type\":\"data\",\"t\":0.1,\"dir\":\"server\",\"text\":\"a\"",
        ];
        let mut direct = 0;
        for line in lines {
            let Some(d) = DataRecord::read(line.as_bytes()) else {
                continue;
            };
            direct += 1;
            match serde_json::from_slice::<Record>(line.as_bytes()) {
                Ok(Record::Data {
                    t, dir, text, b64, ..
                }) => assert_eq!((t, dir, text, b64), (d.t, d.dir, d.text, d.b64), "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
        assert_eq!(direct, 5);
        // And whole files read the same as before: the damage of a data record included.
        for line in &lines[2..5] {
            let (_, damage) = read(format!("{HEADER}{line}\n").as_bytes());
            assert_eq!(
                damage.map(|d| (d.line, d.message)),
                Some((
                    2,
                    "a data record holds exactly one of text and b64".to_owned()
                ))
            );
        }
        let (_, damage) = read(format!("{DATA}{HEADER}").as_bytes());
        assert_eq!(
            damage.map(|d| d.message),
            Some("the first record must be the header".to_owned())
        );
    }
}
