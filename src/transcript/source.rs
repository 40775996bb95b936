//! Reading a transcript from a file or standard input, and re-checking it as it is read: the
//! text format and JSON Lines alike stream through the engine in bounded memory, whatever the
//! file's size.

use std::io::BufRead;
use std::path::Path;

use crate::transport::TlsDetails;
use popscope_core::Config;

use super::jsonl;
use super::replay::{Replayed, Replayer};
use super::text;

/// Opens `path` for reading (`-` is standard input), buffered.
pub(crate) fn open(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::BufReader::with_capacity(
            1 << 20,
            std::io::stdin(),
        )));
    }
    let f = std::fs::File::open(path)?;
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f)))
}

/// Whether the buffered input is JSON Lines (it looks at the buffer, consuming nothing but
/// leading whitespace beyond a whole buffer's worth), and how many line ends it consumed.
pub(crate) fn is_jsonl(r: &mut dyn BufRead) -> std::io::Result<(bool, usize)> {
    let mut skipped = 0;
    loop {
        let head = r.fill_buf()?;
        if head.is_empty() {
            return Ok((false, skipped));
        }
        match head.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => return Ok((head[i] == b'{', skipped)),
            None => {
                let n = head.len();
                skipped += head.iter().filter(|&&b| b == b'\n').count();
                r.consume(n);
            }
        }
    }
}

/// One session as the engine re-checked it.
pub struct Checked {
    /// The recording's header (JSON Lines), or None for the text format.
    pub(crate) target: Option<String>,
    pub(crate) secrets: Option<String>,
    pub(crate) replayed: Replayed,
    /// The TLS details the recording kept, in order.
    pub(crate) tls: Vec<TlsDetails>,
}

/// What re-checking found: the sessions, and where reading stopped if the file is damaged.
pub(crate) struct Checking {
    pub(crate) sessions: Vec<Checked>,
    /// How many sessions the file holds (all of them are counted, even when one is chosen).
    pub(crate) count: usize,
    pub(crate) damage: Option<String>,
}

impl Checking {
    /// Entries fed across the sessions kept (0: nothing to check).
    pub(crate) fn entries(&self) -> u64 {
        self.sessions.iter().map(|s| s.replayed.entries).sum()
    }

    /// Client and server data entries across the sessions kept (0: at most events such as
    /// `-- tls` or `-- closed`, or a recording's state and finding records: nothing to check).
    pub(crate) fn data(&self) -> u64 {
        self.sessions.iter().map(|s| s.replayed.data).sum()
    }
}

/// Re-checks a transcript as it is read: every session, or only session `only` (from 1) of a
/// JSON Lines file. The client is judged too ([`Config::judge_client`]) in a text transcript
/// and in a recorded session whose header says its client was not popscope. A malformed text line is an error; damage in JSON Lines ends the reading
/// and is reported with what came before it.
pub(crate) fn check(
    mut r: Box<dyn BufRead>,
    config: &Config,
    only: Option<usize>,
) -> Result<Checking, String> {
    let (jsonl, skipped) = is_jsonl(&mut r).map_err(|e| format!("cannot read: {e}"))?;
    // Whom a session's client rules judge: a text transcript's client may be anyone (written
    // by hand, exported, imported); a recording says whether its client was popscope itself,
    // and how the client's own leg was secured.
    if !jsonl {
        let mut rp = Replayer::new(jsonl::ClientSide::ANYONE.configure(config));
        text::stream_from(r, skipped + 1, |e, raw| rp.feed_line(&e, Some(raw)))
            .map_err(|e| e.to_string())?;
        return Ok(Checking {
            sessions: vec![Checked {
                target: None,
                secrets: None,
                replayed: rp.finish(),
                tls: Vec::new(),
            }],
            count: 1,
            damage: None,
        });
    }
    let mut done: Vec<Checked> = Vec::new();
    let mut current: Option<Open> = None;
    let mut count = 0usize;
    let damage = jsonl::stream(r, |item| match item {
        jsonl::Streamed::Header {
            target,
            secrets,
            client,
        } => {
            done.extend(current.take().map(Open::close));
            count += 1;
            if only.is_none_or(|n| n == count) {
                current = Some(Open {
                    target,
                    secrets,
                    tls: Vec::new(),
                    replayer: Replayer::new(client.configure(config)),
                });
            }
        }
        jsonl::Streamed::Entry(e) => {
            if let Some(open) = current.as_mut() {
                open.replayer.feed(&e);
            }
        }
        jsonl::Streamed::Tls(d) => {
            if let Some(open) = current.as_mut() {
                open.tls.push(*d);
            }
        }
    });
    done.extend(current.take().map(Open::close));
    if let Some(n) = only
        && (n == 0 || n > count)
        && damage.is_none()
    {
        return Err(format!(
            "it holds {count} session{}; --session {n} is not one of them",
            if count == 1 { "" } else { "s" }
        ));
    }
    Ok(Checking {
        sessions: done,
        count,
        damage: damage.map(|d| d.to_string()),
    })
}

/// A JSON Lines session being re-checked: its header, and the engine so far.
struct Open {
    target: String,
    secrets: String,
    tls: Vec<TlsDetails>,
    replayer: Replayer,
}

impl Open {
    fn close(self) -> Checked {
        Checked {
            target: Some(self.target),
            secrets: Some(self.secrets),
            replayed: self.replayer.finish(),
            tls: self.tls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::text::{Entry, Item};

    #[test]
    fn leading_blank_lines_keep_the_line_numbers() {
        // A buffer smaller than the blank lines before the first entry: they are consumed
        // while sniffing, and the lines are still counted.
        let src: &[u8] = b"\n\n\n\n\n\n\nS: +OK\nC: RETR 0\nS: +OK\nS: .\n";
        let r = Box::new(std::io::BufReader::with_capacity(4, src));
        let c = check(r, &Config::default(), None).unwrap_or_else(|e| panic!("{e}"));
        // The server's findings (the client's RETR before a login is CL-002's, at line 9).
        let lines: Vec<usize> = c.sessions[0]
            .replayed
            .findings
            .iter()
            .filter(|f| !f.finding.rule.judges_client())
            .map(|f| f.line)
            .collect();
        assert!(
            !lines.is_empty() && lines.iter().all(|&l| l == 10),
            "{lines:?}"
        );
        let r = Box::new(std::io::BufReader::with_capacity(
            4,
            &b" \n\n{\"type\":"[..],
        ));
        assert!(check(r, &Config::default(), None).is_ok_and(|c| c.damage.is_some()));
    }

    /// The client rules of each session, re-checked from `src`.
    fn client_rules(src: &[u8]) -> Vec<Vec<&'static str>> {
        let r = Box::new(std::io::Cursor::new(src.to_vec()));
        let c = check(r, &Config::default(), None).unwrap_or_else(|e| panic!("{e}"));
        c.sessions
            .iter()
            .map(|s| {
                let f = s.replayed.findings.iter().map(|f| f.finding.rule);
                f.filter(|r| r.judges_client()).map(|r| r.id).collect()
            })
            .collect()
    }

    #[test]
    fn a_recording_of_popscopes_own_client_rechecks_without_judging_it() {
        let data = |t: f64, dir: &str, text: &str| {
            format!("{{\"type\":\"data\",\"t\":{t},\"dir\":\"{dir}\",\"text\":\"{text}\\r\\n\"}}\n")
        };
        let session = |extra: &str| {
            let mut s = format!(
                "{{\"type\":\"header\",\"format\":1,\"popscope\":\"0.1.0\",\"target\":\"pop3://x\",\"started\":0.0,\"secrets\":\"redacted\"{extra}}}\n"
            );
            for (t, dir, text) in [
                (0.1, "server", "+OK ready"),
                (0.2, "client", "USER a"),
                (0.3, "server", "+OK"),
                (0.4, "client", "PASS x"),
                (0.5, "server", "+OK"),
            ] {
                s.push_str(&data(t, dir, text));
            }
            s
        };
        let own = session("");
        let proxied = session(",\"judge_client\":true");
        let both = format!("{own}{proxied}");
        assert_eq!(client_rules(both.as_bytes()), [vec![], vec!["CL-008"]]);
        // A text transcript's client may be anyone.
        let text = b"S: +OK ready\nC: USER a\nS: +OK\nC: PASS x\nS: +OK\n";
        assert_eq!(client_rules(text), [vec!["CL-008"]]);
    }

    /// A session of many exchanges and records of every size (a listing of thousands of
    /// messages, a long body with findings in it, a bare LF, an 8-bit header), as entries.
    fn large_session() -> Vec<Entry> {
        let mut server: Vec<Vec<u8>> = vec![b"+OK ready\r\n".to_vec()];
        let mut script: Vec<(bool, Vec<u8>)> = Vec::new();
        let mut say = |client: bool, b: &[u8]| script.push((client, b.to_vec()));
        say(false, &server.remove(0));
        for (c, r) in [("USER a", "+OK"), ("PASS b", "+OK")] {
            say(true, format!("{c}\r\n").as_bytes());
            say(false, format!("{r}\r\n").as_bytes());
        }
        let n = 3000;
        say(true, b"LIST\r\n");
        say(false, b"+OK\r\n");
        for i in 1..=n {
            say(false, format!("{i} {}\r\n", 100 + i % 7).as_bytes());
        }
        say(false, b".\r\n");
        say(true, b"UIDL\r\n");
        let mut uidl = b"+OK\r\n".to_vec();
        for i in 1..=n {
            // A duplicate UID and one over 70 octets, in one record of many lines.
            let uid = match i {
                7 => "u6".to_owned(),
                9 => "x".repeat(80),
                _ => format!("u{i}"),
            };
            uidl.extend_from_slice(format!("{i} {uid}\r\n").as_bytes());
        }
        uidl.extend_from_slice(b".\r\n");
        say(false, &uidl);
        say(true, b"RETR 1\r\n");
        say(false, b"+OK 10 octets\r\n");
        let mut body = Vec::new();
        for i in 0..20_000 {
            body.extend_from_slice(match i % 997 {
                0 => &b"Subject: caf\xc3\xa9\r\n"[..],
                1 => b"a bare LF\n",
                2 => b".unstuffed dot\r\n",
                _ => b"Lorem ipsum dolor sit amet, consectetur adipiscing elit\r\n",
            });
            // Records cut anywhere, as reads are.
            if body.len() > 3000 + i % 5000 {
                say(false, &std::mem::take(&mut body));
            }
        }
        body.extend_from_slice(b".\r\n");
        say(false, &body);
        for i in 1..=200 {
            say(true, format!("TOP {i} 0\r\n").as_bytes());
            say(false, b"+OK\r\nSubject: s\r\n\r\n.\r\n");
        }
        say(true, b"QUIT\r\n");
        say(false, b"+OK bye\r\n");
        script
            .into_iter()
            .enumerate()
            .map(|(i, (client, bytes))| Entry {
                line: i + 2,
                item: if client {
                    Item::Client(bytes)
                } else {
                    Item::Server(bytes)
                },
                at: Some(popscope_core::Time(((i as f64 * 0.0007) * 1e6) as u64)),
            })
            .collect()
    }

    /// What a comparison of findings looks at: all of a finding but where in the file it is.
    fn findings(r: &Replayed) -> Vec<String> {
        r.findings
            .iter()
            .map(|f| {
                let f = &f.finding;
                format!("{} {:?} {} {:?}", f.rule.id, f.severity, f.message, f.at)
            })
            .collect()
    }

    #[test]
    fn a_large_recording_streamed_finds_what_the_session_in_memory_finds() {
        let entries = large_session();
        let mut jsonl = String::from(
            "{\"type\":\"header\",\"format\":1,\"popscope\":\"0.1.0\",\"target\":\"pop3://x\",\"started\":0.0,\"secrets\":\"redacted\"}\n",
        );
        for (i, e) in entries.iter().enumerate() {
            let (dir, bytes) = match &e.item {
                Item::Client(b) => ("client", b),
                Item::Server(b) => ("server", b),
                _ => unreachable!(),
            };
            let t = i as f64 * 0.0007;
            // Text when it is UTF-8, base64 otherwise, as a recording holds them.
            let v = match std::str::from_utf8(bytes) {
                Ok(s) if i % 2 == 0 => serde_json::json!({"type":"data","t":t,"dir":dir,"text":s}),
                _ => serde_json::json!({"type":"data","t":t,"dir":dir,
                    "b64": popscope_core::auth::b64encode(bytes)}),
            };
            jsonl.push_str(&format!("{v}\n"));
            if i % 500 == 0 {
                jsonl.push_str("{\"type\":\"state\",\"t\":0.1,\"from\":\"GREETING\",\"to\":\"NOWHERE\",\"reason\":\"x\",\"lawful\":true}\n");
            }
        }
        let live = super::super::replay::replay(&entries, Config::default());
        assert!(findings(&live).len() >= 4, "{:?}", findings(&live));
        let read = |bytes: Vec<u8>| {
            let r = Box::new(std::io::BufReader::with_capacity(
                1 << 12,
                std::io::Cursor::new(bytes),
            ));
            check(r, &Config::default(), None).unwrap_or_else(|e| panic!("{e}"))
        };
        let c = read(jsonl.into_bytes());
        assert_eq!(c.damage, None);
        assert_eq!(findings(&c.sessions[0].replayed), findings(&live));
        assert_eq!(c.sessions[0].replayed.entries, entries.len() as u64);
        // Its text export, re-checked, judges the client too: compared with the same engine.
        let untimed: Vec<Entry> = entries
            .iter()
            .map(|e| Entry {
                at: None,
                ..e.clone()
            })
            .collect();
        let text = super::super::export::to_text(&untimed);
        let judged = jsonl::ClientSide::ANYONE.configure(&Config::default());
        let lines: Vec<Entry> = text::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let live = super::super::replay::replay(&lines, judged);
        let c = read(text.into_bytes());
        assert_eq!(findings(&c.sessions[0].replayed), findings(&live));
        assert!(findings(&live).len() >= 4);
    }
}
