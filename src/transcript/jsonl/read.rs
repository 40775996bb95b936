//! Reading a recording back: every session into memory, or record by record in bounded
//! memory, stopping at the first damaged line and saying where.

use serde::Deserialize;

use crate::transcript::text::{Entry, Item};
use crate::transport::TlsDetails;
use popscope_core::{Direction, Time};

use super::records::{ClientSide, READABLE, Record};

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
    octets: Option<u64>,
    #[serde(default)]
    redacted: bool,
}

impl DataRecord<'_> {
    fn read(raw: &[u8]) -> Option<DataRecord<'_>> {
        serde_json::from_slice::<DataRecord>(raw)
            .ok()
            .filter(|d| d.kind == "data")
    }
}

/// The head of a data block exactly as the recorder writes it,
/// `{"type":"data","t":T,"dir":"D","octets":N}` (with `,"redacted":true` before the brace if
/// so), read without a JSON parser: a recording of many small records is mostly these heads,
/// and serde's field matching was the largest part of reading them. `t` goes through
/// serde_json's own number parser, so it reads the same; any other spelling of the head (other
/// field order, spaces, `"redacted":false`, an escaped key) is left to [`DataRecord`].
fn block_head(raw: &[u8]) -> Option<(f64, Direction, u64, bool)> {
    let rest = raw.strip_prefix(br#"{"type":"data","t":"#)?;
    let (t, rest) = rest.split_at(memchr::memchr(b',', rest)?);
    let t: f64 = serde_json::from_slice(t).ok()?;
    let (dir, rest) = match rest.strip_prefix(br#","dir":"server","octets":"#) {
        Some(rest) => (Direction::Server, rest),
        None => (
            Direction::Client,
            rest.strip_prefix(br#","dir":"client","octets":"#)?,
        ),
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (n, rest) = rest.split_at(digits);
    if n.is_empty() || (n.len() > 1 && n[0] == b'0') {
        return None;
    }
    let octets: u64 = std::str::from_utf8(n).ok()?.parse().ok()?;
    let (redacted, rest) = match rest.strip_prefix(br#","redacted":true"#) {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    matches!(rest, b"}\n" | b"}").then_some((t, dir, octets, redacted))
}

/// How a data record holds its octets: exactly one of text, base64 and (format 2) a block.
struct Held {
    text: Option<String>,
    b64: Option<String>,
    octets: Option<u64>,
}

/// The octets a data record holds. A block is read from `r`, after the record: `octets` raw
/// octets, then the line feed that closes it; `lines` counts the file's lines it spans.
fn data_octets(
    held: Held,
    format: u32,
    r: &mut impl std::io::BufRead,
    lines: &mut usize,
) -> Result<Vec<u8>, String> {
    match held {
        Held {
            text: Some(t),
            b64: None,
            octets: None,
        } => Ok(t.into_bytes()),
        Held {
            text: None,
            b64: Some(b),
            octets: None,
        } => popscope_core::auth::b64decode(b.as_bytes())
            .ok_or_else(|| "b64 is not valid base64".into()),
        Held {
            text: None,
            b64: None,
            octets: Some(n),
        } if format >= 2 => read_block(r, n, lines),
        Held {
            text: None,
            b64: None,
            octets: Some(_),
        } => Err(format!("a data block in a format {format} session")),
        _ => Err("a data record holds exactly one of text, b64 and octets".into()),
    }
}

/// The `n` octets of a block and its closing line feed.
fn read_block(r: &mut impl std::io::BufRead, n: u64, lines: &mut usize) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    if n > MAX_RECORD as u64 {
        return Err("a data block longer than 64 MiB".into());
    }
    let mut block = Vec::with_capacity(n as usize);
    let mut end = [0u8];
    let read = r
        .by_ref()
        .take(n)
        .read_to_end(&mut block)
        .and_then(|_| r.read(&mut end));
    match read {
        Err(e) => Err(format!("cannot read: {e}")),
        Ok(_) if (block.len() as u64) < n => Err(format!(
            "the data block ends after {} of its {n} octets",
            block.len()
        )),
        Ok(1) if end[0] == b'\n' => {
            *lines += memchr::memchr_iter(b'\n', &block).count() + 1;
            Ok(block)
        }
        Ok(_) => Err(format!(
            "a data block of {n} octets is not followed by a line feed"
        )),
    }
}

/// A record as [`walk`] hands it out.
pub(crate) enum Walked<'a> {
    /// A header of a format this popscope reads.
    Header(Record),
    /// The octets of a data record, however it held them.
    Data {
        line: usize,
        t: f64,
        dir: Direction,
        bytes: Vec<u8>,
        redacted: bool,
    },
    /// Any other record, as read (`record` is None for a `state` or `finding` record whose
    /// names this popscope does not know).
    Other {
        line: usize,
        raw: &'a [u8],
        record: Option<Record>,
    },
}

/// Walks a recording record by record, in bounded memory; stops at the first damaged line.
pub(crate) fn walk<R: std::io::BufRead>(
    mut r: R,
    mut on: impl FnMut(Walked<'_>),
) -> Option<Damage> {
    use std::io::{BufRead as _, Read as _};
    let mut raw = Vec::new();
    let mut line = 0usize;
    // The format of the session being read; 0 before its header.
    let mut format = 0u32;
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
        let (t, dir, held, redacted) = if let Some((t, dir, octets, redacted)) = block_head(&raw) {
            let held = Held {
                text: None,
                b64: None,
                octets: Some(octets),
            };
            (t, dir, held, redacted)
        } else if let Some(d) = DataRecord::read(&raw) {
            let held = Held {
                text: d.text,
                b64: d.b64,
                octets: d.octets,
            };
            (d.t, d.dir, held, d.redacted)
        } else {
            let record: Record = match serde_json::from_slice(&raw) {
                Ok(r) => r,
                Err(_) if format != 0 && derived_only(&raw) => {
                    on(Walked::Other {
                        line,
                        raw: &raw,
                        record: None,
                    });
                    continue;
                }
                Err(_) if derived_only(&raw) => {
                    return damage("the first record must be the header".into());
                }
                Err(e) => {
                    return damage(format!(
                        "not a transcript record ({e}); everything before it was read"
                    ));
                }
            };
            match record {
                Record::Header { format: named, .. } => {
                    if !READABLE.contains(&named) {
                        return damage(format!(
                            "transcript format {named}; this popscope reads formats 1 and 2"
                        ));
                    }
                    format = named;
                    on(Walked::Header(record));
                    continue;
                }
                Record::Data {
                    t,
                    dir,
                    text,
                    b64,
                    octets,
                    redacted,
                } => (t, dir, Held { text, b64, octets }, redacted),
                record if format != 0 => {
                    on(Walked::Other {
                        line,
                        raw: &raw,
                        record: Some(record),
                    });
                    continue;
                }
                _ => return damage("the first record must be the header".into()),
            }
        };
        if format == 0 {
            return damage("the first record must be the header".into());
        }
        let at = line;
        match data_octets(held, format, &mut r, &mut line) {
            Ok(bytes) => on(Walked::Data {
                line: at,
                t,
                dir,
                bytes,
                redacted,
            }),
            Err(message) => return Some(Damage { line: at, message }),
        }
    }
    if format == 0 {
        return Some(Damage {
            line: 1,
            message: "no header: not a popscope transcript".into(),
        });
    }
    None
}

/// Reads record by record, in bounded memory; stops at the first damaged line.
pub(crate) fn stream<R: std::io::BufRead>(r: R, mut on: impl FnMut(Streamed)) -> Option<Damage> {
    let time = |t: f64| Some(Time((t.max(0.0) * 1e6) as u64));
    walk(r, |w| match w {
        Walked::Header(Record::Header {
            target,
            secrets,
            judge_client,
            client_leg_tls,
            client_stls_offer,
            ..
        }) => on(Streamed::Header {
            target: shown(&target, 200),
            secrets: shown(&secrets, 20),
            client: ClientSide {
                judge: judge_client,
                leg_tls: client_leg_tls,
                stls_offer: client_stls_offer,
            },
        }),
        Walked::Header(_) => {}
        Walked::Data {
            line,
            t,
            dir,
            bytes,
            ..
        } => on(Streamed::Entry(Entry {
            line,
            item: match dir {
                Direction::Client => Item::Client(bytes),
                Direction::Server => Item::Server(bytes),
            },
            at: time(t),
        })),
        Walked::Other {
            record: Some(Record::Tls { details, .. }),
            ..
        } => on(Streamed::Tls(Box::new(shown_tls(&details)))),
        Walked::Other {
            line,
            record: Some(Record::Transport { t, event }),
            ..
        } => on(Streamed::Entry(Entry {
            line,
            item: Item::Transport(event),
            at: time(t),
        })),
        Walked::Other { .. } => {}
    })
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

    #[test]
    fn a_block_head_reads_as_serde_reads_it() {
        let serde = |raw: &[u8]| DataRecord::read(raw).map(|d| (d.t, d.dir, d.octets, d.redacted));
        for raw in [
            &br#"{"type":"data","t":0.0001,"dir":"server","octets":11}"#[..],
            br#"{"type":"data","t":1795478400.123456,"dir":"client","octets":0,"redacted":true}"#,
            br#"{"type":"data","t":1e3,"dir":"server","octets":18446744073709551615}"#,
            br#"{"type":"data","t":-0.5,"dir":"client","octets":7}"#,
            br#"{"type":"data","t":3,"dir":"server","octets":7}"#,
        ] {
            for end in [&b""[..], b"\n"] {
                let line = [raw, end].concat();
                let fast = block_head(&line).map(|(t, d, n, r)| (t, d, Some(n), r));
                assert_eq!(fast, serde(&line), "{}", String::from_utf8_lossy(&line));
                assert!(fast.is_some(), "{}", String::from_utf8_lossy(&line));
            }
        }
        // Spelled otherwise: left to serde, which reads or refuses them.
        for raw in [
            &br#"{"type":"data","t":1,"dir":"server","octets":07}"#[..],
            br#"{"type":"data","t":1,"dir":"server","octets":18446744073709551616}"#,
            br#"{"type":"data","t":1,"dir":"server","octets":5,"redacted":false}"#,
            br#"{"type":"data","t":1,"dir":"server","octets":5} "#,
            br#"{"type":"data","t":1,"dir":"server","octets":5,"text":"x"}"#,
            br#"{"type":"data","t":1,"dir":"Server","octets":5}"#,
            br#"{"type":"data","t":1.,"dir":"server","octets":5}"#,
            br#"{"type":"data", "t":1,"dir":"server","octets":5}"#,
            br#"{"type":"data","t":1,"dir":"server","octets":-5}"#,
        ] {
            assert_eq!(block_head(raw), None, "{}", String::from_utf8_lossy(raw));
        }
    }

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
                    "a data record holds exactly one of text, b64 and octets".to_owned()
                ))
            );
        }
        let (_, damage) = read(format!("{DATA}{HEADER}").as_bytes());
        assert_eq!(
            damage.map(|d| d.message),
            Some("the first record must be the header".to_owned())
        );
    }

    const HEADER2: &str = "{\"type\":\"header\",\"format\":2,\"popscope\":\"x\",\"target\":\"t\",\"started\":0,\"secrets\":\"redacted\"}\n";

    fn block(dir: &str, octets: &str) -> String {
        format!(
            "{{\"type\":\"data\",\"t\":0.1,\"dir\":\"{dir}\",\"octets\":{}}}\n{octets}\n",
            octets.len()
        )
    }

    #[test]
    fn a_format_2_block_reads_as_its_octets_and_lines_count_as_an_editor_counts_them() {
        let body = "+OK 3 lines\r\na\r\n{\"type\":\"header\"}\r\n.\r\n";
        let file = format!(
            "{HEADER2}{}{}{DATA}{{\"type\":\"da",
            block("server", body),
            block("client", "")
        );
        let (sessions, damage) = read(file.as_bytes());
        let items: Vec<_> = sessions[0]
            .entries
            .iter()
            .map(|e| (e.line, &e.item))
            .collect();
        assert_eq!(
            items,
            [
                (2, &Item::Server(body.as_bytes().to_vec())),
                (8, &Item::Client(Vec::new())),
                (10, &Item::Server(b"+OK\r\n".to_vec())),
            ]
        );
        let damaged_at = file
            .lines()
            .position(|l| l == "{\"type\":\"da")
            .map(|i| i + 1);
        assert_eq!(damage.map(|d| d.line), damaged_at);
    }

    #[test]
    fn a_damaged_block_is_damage_at_its_record_and_keeps_what_came_before() {
        let whole = block("server", "+OK\r\n");
        let cases = [
            (
                whole[..whole.len() - 3].to_owned(),
                "the data block ends after 3 of its 5 octets",
            ),
            (
                whole.replace("+OK\r\n\n", "+OK\r\nX"),
                "a data block of 5 octets is not followed by a line feed",
            ),
            (
                whole.replace("+OK\r\n\n", "+OK\r\n"),
                "a data block of 5 octets is not followed by a line feed",
            ),
            (
                whole.replace("\"octets\":5", "\"octets\":99999999999"),
                "a data block longer than 64 MiB",
            ),
            (
                whole.replace("\"octets\":5", "\"octets\":5,\"text\":\"x\""),
                "a data record holds exactly one of text, b64 and octets",
            ),
        ];
        for (bad, message) in cases {
            let (sessions, damage) =
                read(format!("{HEADER2}{}{bad}", block("server", "+OK\r\n")).as_bytes());
            assert_eq!(sessions[0].entries.len(), 1, "{bad:?}");
            assert_eq!(
                damage.map(|d| (d.line, d.message)),
                Some((5, message.to_owned())),
                "{bad:?}"
            );
        }
        // A format 1 session has no blocks: one there is damage, not octets read as records.
        let (_, damage) = read(format!("{HEADER}{whole}").as_bytes());
        assert_eq!(
            damage.map(|d| (d.line, d.message)),
            Some((2, "a data block in a format 1 session".to_owned()))
        );
        let three = HEADER2.replace("\"format\":2", "\"format\":3");
        let (_, damage) = read(three.as_bytes());
        assert_eq!(
            damage.map(|d| d.message),
            Some("transcript format 3; this popscope reads formats 1 and 2".to_owned())
        );
    }

    #[test]
    fn format_1_and_format_2_sessions_read_side_by_side_in_one_file() {
        let file = format!("{HEADER}{DATA}{HEADER2}{}", block("server", "+OK\r\n"));
        let (sessions, damage) = read(file.as_bytes());
        assert_eq!(damage, None);
        let items: Vec<_> = sessions.iter().map(|s| s.entries[0].item.clone()).collect();
        assert_eq!(
            items,
            [
                Item::Server(b"+OK\r\n".to_vec()),
                Item::Server(b"+OK\r\n".to_vec())
            ]
        );
    }
}
