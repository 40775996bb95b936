//! A recording as format 1: pure JSON Lines, every octet inside a JSON string, for tools that
//! read a line as one JSON value (`jq`). Every record is kept: format 2's blocks become `text`
//! (or `b64`) records, the header says format 1, and everything else is copied as it was.

use std::io::Write;

use super::read::{Damage, Walked, walk};
use super::records::Record;

/// Writes the sessions of `r` (only session `only`, from 1, when given) to `out` as format 1.
/// Returns how many sessions the file holds and the damage reading stopped at, if any;
/// everything before the damage is written.
pub(crate) fn write(
    r: impl std::io::BufRead,
    out: &mut dyn Write,
    only: Option<usize>,
) -> std::io::Result<(usize, Option<Damage>)> {
    let mut count = 0usize;
    let mut failed: Option<std::io::Error> = None;
    let mut line = Vec::new();
    let damage = walk(r, |w| {
        if failed.is_some() {
            return;
        }
        if matches!(w, Walked::Header(_)) {
            count += 1;
        }
        if only.is_some_and(|n| n != count) {
            return;
        }
        line.clear();
        let serialized = match w {
            Walked::Header(mut header) => {
                if let Record::Header { format, .. } = &mut header {
                    *format = 1;
                }
                serde_json::to_writer(&mut line, &header)
            }
            Walked::Data {
                t,
                dir,
                bytes,
                redacted,
                ..
            } => serde_json::to_writer(&mut line, &Record::data(t, dir, &bytes, redacted)),
            Walked::Other { raw, .. } => {
                line.extend_from_slice(raw.strip_suffix(b"\n").unwrap_or(raw));
                Ok(())
            }
        };
        line.push(b'\n');
        if let Err(e) = serialized
            .map_err(std::io::Error::other)
            .and_then(|()| out.write_all(&line))
        {
            failed = Some(e);
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok((count, damage)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::task::Recording;
    use popscope_core::{Direction, Time};

    #[test]
    fn a_format_2_recording_becomes_json_lines_that_read_back_to_the_same_sessions() {
        let out = Recording::default();
        {
            use crate::session::{Note, Observer};
            let mut r = super::super::Recorder::new(Box::new(out.clone()), "pop3://t", false);
            r.wire(Time(1), Direction::Server, b"+OK ready\r\n");
            r.wire(Time(2), Direction::Client, b"PASS secret\r\n");
            r.wire(Time(3), Direction::Server, b"\x1b[2J+OK \xff\r\n");
            r.note(
                Time(4),
                &Note::Transport(popscope_core::TransportEvent::ServerClosed {
                    close_notify: false,
                }),
            );
        }
        let two = out.contents();
        let mut one = Vec::new();
        let (count, damage) = write(&two[..], &mut one, None).unwrap();
        assert_eq!((count, damage), (1, None));
        for l in one.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            assert!(v.get("octets").is_none(), "{v}");
        }
        let text = String::from_utf8(one.clone()).unwrap();
        assert!(
            text.starts_with("{\"type\":\"header\",\"format\":1,"),
            "{text}"
        );
        assert!(
            text.contains("\"text\":\"PASS ******\\r\\n\",\"redacted\":true"),
            "{text}"
        );
        let (a, _) = super::super::read(&two);
        let (b, _) = super::super::read(&one);
        let items = |s: &[super::super::Session]| {
            s.iter()
                .flat_map(|s| s.entries.iter().map(|e| (e.at, e.item.clone())))
                .collect::<Vec<_>>()
        };
        assert_eq!(items(&a), items(&b));
        assert_eq!(items(&a).len(), 4);
    }

    #[test]
    fn one_session_is_picked_and_damage_keeps_what_came_before() {
        let header = |n: u32| {
            format!(
                "{{\"type\":\"header\",\"format\":{n},\"popscope\":\"x\",\"target\":\"t{n}\",\"started\":0,\"secrets\":\"redacted\"}}\n"
            )
        };
        let file = format!(
            "{}{{\"type\":\"data\",\"t\":0.1,\"dir\":\"server\",\"octets\":5}}\n+OK\r\n\n{}{{\"type\":\"finding\",\"t\":0.1,\"rule\":\"NEW-1\",\"severity\":\"info\",\"message\":\"m\",\"exchange\":0}}\n{{\"type\":\"da",
            header(2),
            header(1)
        );
        let mut second = Vec::new();
        let (count, damage) = write(file.as_bytes(), &mut second, Some(2)).unwrap();
        assert_eq!(count, 2);
        assert_eq!(damage.map(|d| d.line), Some(7));
        let text = String::from_utf8(second).unwrap();
        assert!(
            text.contains("\"target\":\"t1\"") && !text.contains("t2"),
            "{text}"
        );
        assert!(
            text.contains("NEW-1"),
            "a record this popscope cannot read is kept: {text}"
        );
    }
}
