//! Hostile and broken servers, scripted byte by byte: popscope never panics, explains what the
//! server did, and records every octet it received.

mod common;
use common::{Step, popscope, scripted};

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

struct Case {
    name: &'static str,
    steps: Vec<Step>,
    commands: &'static [&'static str],
    /// A rule that must be reported (empty: none required).
    rule: &'static str,
    /// Text the one-line error must contain, when the session cannot go on.
    error: &'static str,
    /// Octets that must be in the recording.
    recorded: &'static str,
}

fn run(case: &Case) {
    let port = scripted(case.steps.clone());
    let file = std::env::temp_dir().join(format!(
        "popscope-hostile-{}-{}.jsonl",
        std::process::id(),
        case.name
    ));
    let f = file.display().to_string();
    let url = format!("pop3://127.0.0.1:{port}");
    let mut args = vec![
        "send",
        url.as_str(),
        "--timeout",
        "2",
        "--record",
        f.as_str(),
        "--json",
    ];
    args.extend_from_slice(case.commands);
    let o = popscope(&args);
    let name = case.name;
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_ne!(
        o.status.code(),
        Some(101),
        "{name}: popscope panicked: {err}"
    );
    assert!(!err.contains("panicked"), "{name}: {err}");
    if !case.error.is_empty() {
        assert!(err.contains(case.error), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        // --json still says what was found before the failure, and the failure itself.
        let v = common::json(&o);
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(case.error)),
            "{name}: {v}"
        );
    }
    if !case.rule.is_empty() {
        let v = common::json(&o);
        let rules = common::rule_ids(&v);
        assert!(
            rules.iter().any(|r| r == case.rule),
            "{name}: expected {}, got {rules:?}",
            case.rule
        );
    }
    if !case.recorded.is_empty() {
        let (sessions, _) =
            popscope::transcript::jsonl::read(&std::fs::read(&file).unwrap_or_default());
        let server: Vec<u8> = sessions
            .iter()
            .flat_map(|s| s.entries.iter())
            .filter_map(|e| {
                if let popscope::transcript::Item::Server(x) = &e.item {
                    Some(x.clone())
                } else {
                    None
                }
            })
            .flatten()
            .collect();
        let needle = case.recorded.as_bytes();
        assert!(
            server.windows(needle.len()).any(|w| w == needle),
            "{name}: the recording lacks {:?}",
            case.recorded
        );
    }
    let _ = std::fs::remove_file(&file);
}

#[test]
fn hostile_servers() {
    let greeting = || Step::Send(b("+OK ready\r\n"));
    let cases = vec![
        Case {
            name: "bytes-before-greeting",
            steps: vec![
                Step::Send(b("\x16\x03\x01garbage\r\n+OK ready\r\n")),
                Step::ReadLine,
                Step::Send(b("+OK\r\n")),
                Step::ReadLine,
                Step::Send(b("+OK bye\r\n")),
            ],
            commands: &["NOOP"],
            rule: "GRT-002",
            error: "",
            recorded: "\x16\x03\x01garbage",
        },
        Case {
            name: "no-greeting",
            steps: vec![Step::Sleep(4000)],
            commands: &["NOOP"],
            rule: "",
            error: "waiting for the greeting",
            recorded: "",
        },
        Case {
            name: "greeting-then-silence",
            steps: vec![greeting(), Step::ReadLine, Step::Sleep(5000)],
            commands: &["NOOP"],
            rule: "",
            error: "waiting for the answer to NOOP: nothing from the server within 2 s",
            recorded: "+OK ready",
        },
        Case {
            name: "nul-and-invalid-utf8-in-status",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send(b"+OK \x00\xff\xfe\r\n".to_vec()),
                Step::ReadLine,
                Step::Send(b("+OK bye\r\n")),
            ],
            commands: &["NOOP"],
            rule: "GEN-005",
            error: "",
            recorded: "+OK \u{0}",
        },
        Case {
            name: "unsolicited-between-replies",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send(b("+OK\r\n+OK surprise\r\n")),
                Step::ReadLine,
                Step::Send(b("+OK 0 0\r\n")),
                Step::ReadLine,
                Step::Send(b("+OK bye\r\n")),
            ],
            commands: &["NOOP", "STAT"],
            rule: "GEN-008",
            error: "",
            recorded: "surprise",
        },
        Case {
            name: "flood-after-quit",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send([b"+OK bye\r\n".to_vec(), b"x\r\n".repeat(200_000)].concat()),
            ],
            commands: &["QUIT"],
            rule: "ST-007",
            error: "",
            recorded: "+OK bye",
        },
        Case {
            name: "endless-line-in-a-body",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send([b"+OK\r\n".to_vec(), vec![b'x'; 8 << 20]].concat()),
            ],
            commands: &["RETR 1"],
            rule: "ML-001",
            error: "",
            recorded: "xxxxxxxx",
        },
        Case {
            name: "close-mid-body",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send(b("+OK 100 octets\r\nSubject: cut\r\n\r\nhalf a mess")),
                Step::Close,
            ],
            commands: &["RETR 1"],
            rule: "ML-001",
            error: "",
            recorded: "half a mess",
        },
        Case {
            name: "reset-mid-body",
            steps: vec![
                greeting(),
                // RETR 1 is left unread, so the close below is a reset.
                Step::Sleep(300),
                Step::Send(b("+OK\r\nSubject: cut\r\n\r\npartial bo")),
                Step::Sleep(200),
                Step::Reset,
            ],
            commands: &["RETR 1"],
            rule: "ML-001",
            error: "",
            recorded: "partial bo",
        },
        Case {
            name: "escape-sequences",
            steps: vec![
                Step::Send(b("+OK \x1b[2J\x1b]0;pwned\x07 ready\r\n")),
                Step::ReadLine,
                Step::Send(b("+OK bye\r\n")),
            ],
            commands: &["QUIT"],
            rule: "GEN-005",
            error: "",
            recorded: "\x1b]0;pwned",
        },
    ];
    for c in &cases {
        run(c);
    }
}

#[test]
fn escapes_never_reach_the_printed_transcript_raw() {
    let port = scripted(vec![
        Step::Send(b("+OK \x1b[2J\x1b]0;pwned\x07\u{202E} ready\r\n")),
        Step::ReadLine,
        Step::Send(b("+OK bye\r\n")),
    ]);
    let o = popscope(&["send", &format!("pop3://127.0.0.1:{port}"), "QUIT"]);
    assert!(
        !o.stdout.contains(&0x1b) && !o.stdout.contains(&0x07),
        "raw control octets in the output"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("\\x1b[2J") && out.contains("\\x1b]0;pwned\\x07"),
        "{out}"
    );
    assert!(
        !out.contains('\u{202E}'),
        "a bidi override reached the output"
    );
}
