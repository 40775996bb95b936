//! Secrets stay secret in every output: finding messages quote commands with their secrets
//! masked, a login in the clear is announced first, and `replay --against --record` records.

mod common;

use common::{Step, popscope, popscope_with, scripted};
use popscope::protocol::{Config, Engine, Event, Time, TransportEvent};

/// The findings' messages of a session: `lines` sent one after another, each answered `+OK`,
/// after a greeting (and, with `after_user`, a `USER demo` answered `+OK`).
fn messages(lines: &[&[u8]], after_user: bool, close_unanswered: bool) -> Vec<String> {
    let mut e = Engine::new(Config::default());
    let mut events = e.feed_server(Time(1), b"+OK ready\r\n");
    let mut t = 2;
    if after_user {
        events.extend(e.feed_client(Time(t), b"USER demo\r\n"));
        events.extend(e.feed_server(Time(t + 1), b"+OK\r\n"));
        t += 2;
    }
    for (i, l) in lines.iter().enumerate() {
        let mut line = l.to_vec();
        line.extend_from_slice(b"\r\n");
        events.extend(e.feed_client(Time(t), &line));
        if close_unanswered && i + 1 == lines.len() {
            events.extend(e.feed_transport(
                Time(t + 1),
                TransportEvent::ServerClosed {
                    close_notify: false,
                },
            ));
        } else {
            events.extend(e.feed_server(Time(t + 1), b"+OK\r\n"));
        }
        t += 2;
    }
    events
        .into_iter()
        .filter_map(|ev| match ev {
            Event::Finding(f) => Some(format!("{} {}", f.rule.id, f.message)),
            _ => None,
        })
        .collect()
}

const LENIENT: [&[u8]; 6] = [
    b" PASS hunter2",
    b"PASS\thunter2",
    b"\tPASS hunter2",
    b" APOP demo c4c9334bac560ecc979e58001b3e22fb",
    b"AUTH\tPLAIN AGRlbW8AaHVudGVyMg==",
    b" AUTH PLAIN AGRlbW8AaHVudGVyMg==",
];

fn leaks(m: &str) -> bool {
    m.contains("hunter2") || m.contains("AGRlbW8AaHVudGVyMg") || m.contains("c4c9334bac")
}

#[test]
fn no_finding_message_quotes_a_secret_sent_with_lenient_spacing() {
    for line in LENIENT {
        for (after_user, close) in [(false, false), (true, false), (false, true), (true, true)] {
            let found = messages(&[line], after_user, close);
            assert!(
                !found.is_empty(),
                "{:?}: no finding at all (the test would prove nothing)",
                String::from_utf8_lossy(line)
            );
            for m in &found {
                assert!(!leaks(m), "{:?} leaks: {m}", String::from_utf8_lossy(line));
            }
        }
    }
}

#[test]
fn st_004_and_gen_006_say_what_was_sent_masked() {
    let found = messages(&[b" PASS hunter2"], true, false);
    let st4 = found.iter().find(|m| m.starts_with("ST-004")).cloned();
    let st4 = st4.unwrap_or_else(|| panic!("no ST-004 in {found:?}"));
    assert!(st4.contains("\" PASS *******\""), "{st4}");
    assert!(!st4.contains("? was"), "{st4}");
    let found = messages(&[b"PASS\thunter2"], false, false);
    let gen6 = found.iter().find(|m| m.starts_with("GEN-006")).cloned();
    let gen6 = gen6.unwrap_or_else(|| panic!("no GEN-006 in {found:?}"));
    assert!(gen6.contains("PASS\\t*******"), "{gen6}");
}

/// A server that greets and answers every one of `n` lines `+OK`, then closes.
fn yes_server(n: usize) -> u16 {
    let mut steps = vec![Step::Send(b"+OK ready\r\n".to_vec())];
    for _ in 0..n {
        steps.push(Step::ReadLine);
        steps.push(Step::Send(b"+OK\r\n".to_vec()));
    }
    steps.push(Step::Close);
    scripted(steps)
}

#[test]
fn send_record_keeps_a_leniently_spaced_password_out_of_stdout_and_the_recording() {
    for line in [" PASS hunter2", "PASS\thunter2"] {
        let d = tempfile::tempdir().unwrap();
        let rec = d.path().join("r.jsonl");
        let port = yes_server(3);
        let url = format!("pop3://127.0.0.1:{port}");
        let o = popscope(&[
            "send",
            &url,
            "USER demo",
            line,
            "--record",
            rec.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stdout.contains("GEN-006") || stdout.contains("ST-004"), "{line:?}: {stdout}");
        assert!(!stdout.contains("hunter2"), "{line:?} stdout: {stdout}");
        assert!(!stderr.contains("hunter2"), "{line:?} stderr: {stderr}");
        let recorded = std::fs::read_to_string(&rec).unwrap();
        assert!(recorded.contains("GEN-006") || recorded.contains("ST-004") || recorded.contains("USER demo"), "{recorded}");
        assert!(!recorded.contains("hunter2"), "{line:?} recording: {recorded}");
    }
}
