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
    let file = common::scratch_path(&format!(
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

/// `popscope send SCHEME://127.0.0.1:PORT ARGS…` against a server playing `steps`: its
/// output and how long it took.
fn timed(steps: Vec<Step>, scheme: &str, args: &[&str]) -> (std::process::Output, f64) {
    let port = scripted(steps);
    let url = format!("{scheme}://127.0.0.1:{port}");
    let t = std::time::Instant::now();
    let o = popscope(&[&["send", url.as_str()], args].concat());
    (o, t.elapsed().as_secs_f64())
}

fn say(s: &str) -> Step {
    Step::Send(b(s))
}

/// The greeting, the command read, then `reply`.
fn greeted(reply: Vec<Step>) -> Vec<Step> {
    [vec![say("+OK ready\r\n"), Step::ReadLine], reply].concat()
}

/// One octet every 200 ms.
fn drip(bytes: &[u8]) -> Vec<Step> {
    bytes
        .iter()
        .flat_map(|&c| [Step::Send(vec![c]), Step::Sleep(200)])
        .collect()
}

/// A run that must end with `code` within `secs`, with one stderr line containing each of
/// `expect`.
struct Ends<'a> {
    name: &'a str,
    code: i32,
    secs: f64,
    expect: &'a [&'a str],
}

impl Ends<'_> {
    fn check(&self, (o, took): &(std::process::Output, f64)) {
        let (name, err) = (self.name, String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(self.code), "{name}: {err}");
        assert!(*took < self.secs, "{name}: took {took} s");
        for e in self.expect {
            assert!(err.contains(e), "{name}: {err}");
        }
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
    }
}

/// A deadline covers the whole reply, not each read: a server dripping an octet every 200 ms
/// (a status line, then a body) does not keep `--timeout 1` alive, and the error says what came.
#[test]
fn a_drip_ends_at_the_deadline_and_says_what_arrived() {
    let status = greeted(drip(&b"+OK this status line never ends".repeat(4)));
    let body = greeted(
        [
            vec![say("+OK body\r\n")],
            drip(&b"Subject: slow\r\n".repeat(8)),
        ]
        .concat(),
    );
    let arrived = "octet(s) arrived, starting \"+OK";
    for (name, steps, cmd, what) in [
        ("status", status, "NOOP", "the answer to NOOP"),
        ("body", body, "RETR 1", "the rest of the answer to RETR 1"),
    ] {
        let expect = format!("waiting for {what}: no complete answer within 1 s; ");
        let run = timed(steps, "pop3", &["--timeout", "1", cmd]);
        let expect = [expect.as_str(), arrived];
        Ends {
            name,
            code: 3,
            secs: 4.0,
            expect: &expect,
        }
        .check(&run);
    }
}

/// A CAPA that never ends, sent as fast as it is read, ends at the deadline (a capability
/// list gets no second window); so does a 10 MB greeting without a line end, which is not
/// "nothing from the server" either.
#[test]
fn endless_answers_end_and_say_what_arrived() {
    let capa = greeted(vec![
        say("+OK capabilities\r\n"),
        Step::Repeat(b("X-ENDLESS\r\n"), 1 << 27),
    ]);
    let run = timed(capa, "pop3", &["--timeout", "1", "--json", "CAPA"]);
    let expect = [
        "the rest of the answer to CAPA: no complete answer within 1 s",
        "\"+OK capabilities\\r\\nX-ENDLESS",
    ];
    Ends {
        name: "capa",
        code: 3,
        secs: 6.0,
        expect: &expect,
    }
    .check(&run);

    let greeting = vec![
        say("+OK "),
        Step::Repeat(b("x"), 10 << 20),
        Step::Sleep(8000),
    ];
    let run = timed(greeting, "pop3", &["--timeout", "2", "NOOP"]);
    let expect = [
        "waiting for the greeting: no complete answer within 2 s; 10485764 octet(s) arrived, starting \"+OK xxx",
    ];
    Ends {
        name: "greeting",
        code: 3,
        secs: 6.0,
        expect: &expect,
    }
    .check(&run);
    assert!(!String::from_utf8_lossy(&run.0.stderr).contains("pop3s://"));
}

/// A server that never reads cannot hold a large write: the write has the deadline too.
#[test]
fn a_server_that_never_reads_ends_a_large_script() {
    let script = common::scratch_path(&format!(
        "popscope-hostile-{}-big.script",
        std::process::id()
    ));
    std::fs::write(&script, format!("NOOP {}\n", "x".repeat(16 << 20))).unwrap_or_default();
    let steps = vec![say("+OK ready\r\n"), Step::Sleep(30_000)];
    let run = timed(
        steps,
        "pop3",
        &[
            "--timeout",
            "2",
            "--script",
            script.to_str().unwrap_or_default(),
        ],
    );
    let _ = std::fs::remove_file(&script);
    let expect = [
        "sending: the server took ",
        " of 16777223 octets within 2 s",
    ];
    Ends {
        name: "write",
        code: 3,
        secs: 10.0,
        expect: &expect,
    }
    .check(&run);
}

/// A TLS handshake that drips is a TLS failure (exit 4) that says what arrived.
#[test]
fn a_dripping_tls_handshake_is_a_tls_failure() {
    let steps = drip(b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00".as_slice());
    let run = timed(steps, "pop3s", &["--connect-timeout", "1", "NOOP"]);
    let expect = [
        "TLS handshake: not complete within 1 s (",
        "octet(s) arrived from the server, starting \"\\x16\\x03\\x01",
    ];
    Ends {
        name: "tls",
        code: 4,
        secs: 5.0,
        expect: &expect,
    }
    .check(&run);
}

/// A server that challenges once, accepts the response, and says goodbye.
fn sasl_login() -> Vec<Step> {
    vec![
        say("+OK ready\r\n"),
        Step::ReadLine,
        say("+ \r\n"),
        Step::ReadLine,
        say("+OK logged in\r\n"),
        Step::ReadLine,
        say("+OK bye\r\n"),
    ]
}

/// A `--script` with `AUTH PLAIN` and the payload on the next line: the payload is the SASL
/// response (masked in the output and the recording), not a command sent after a cancel.
#[test]
fn a_script_sasl_payload_is_a_response_and_stays_secret() {
    let payload = "AGRlbW8AaHVudGVyMg=="; // \0demo\0hunter2
    let (out, _, rec, code) = scripted_send(
        sasl_login(),
        "sasl",
        &format!("AUTH PLAIN\n{payload}\nQUIT\n"),
    );
    assert!(!out.contains(payload) && !out.contains("hunter2"), "{out}");
    assert!(
        !rec.contains(payload) && !rec.contains("aHVudGVyMg"),
        "{rec}"
    );
    // It went as the response: no cancel, and the login succeeded.
    assert!(!out.lines().any(|l| l == "C: *"), "{out}");
    assert!(out.contains("S: +OK logged in"), "{out}");
    assert!(out.contains("TRANSACTION"), "{out}");
    assert_eq!(code, 0, "{out}");
    // On the command line too (with a warning: other users can read argv).
    let port = scripted(sasl_login());
    let url = format!("pop3://127.0.0.1:{port}");
    let o = popscope(&["send", &url, "--timeout", "2", "AUTH PLAIN", payload]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !out.contains(payload) && out.contains("S: +OK logged in"),
        "{out}"
    );
    assert!(
        err.contains("warning: a SASL response puts a secret on the command line"),
        "{err}"
    );
}

/// `n` chunks of `line` repeated to about 100 KiB, one every 200 ms.
fn flowing(line: &str, n: usize) -> Vec<Step> {
    let chunk = line.repeat((100 << 10) / line.len());
    (0..n)
        .flat_map(|_| [say(&chunk), Step::Sleep(200)])
        .collect()
}

/// A body that flows well (500 KiB/s) may take longer than --timeout: each window in which
/// 64 KiB arrived is followed by another. A listing gets ten more windows, not more.
#[test]
fn a_flowing_body_outlasts_the_timeout_but_a_listing_is_bounded() {
    let retr = greeted(
        [
            vec![say("+OK message follows\r\n")],
            flowing("a line of the message body\r\n", 15),
            vec![say(".\r\n"), Step::ReadLine, say("+OK bye\r\n")],
        ]
        .concat(),
    );
    let (o, took) = timed(retr, "pop3", &["--timeout", "1", "--json", "RETR 1"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.code().is_some_and(|c| c < 2), "{err}");
    assert!(took > 2.5, "took {took} s");

    let list = greeted([vec![say("+OK listing\r\n")], flowing("1 100\r\n", 80)].concat());
    let run = timed(list, "pop3", &["--timeout", "1", "--json", "LIST"]);
    let expect = ["the rest of the answer to LIST: no complete answer within 11 s"];
    Ends {
        name: "list",
        code: 3,
        secs: 14.0,
        expect: &expect,
    }
    .check(&run);
    assert!(run.1 > 10.0, "took {} s", run.1);
}

/// `send --script FILE --record REC` against `steps`: (stdout, stderr, recording, exit code).
fn scripted_send(steps: Vec<Step>, name: &str, script: &str) -> (String, String, String, i32) {
    let port = scripted(steps);
    let dir = common::scratch_path("");
    let stem = format!("popscope-hostile-{}-{name}", std::process::id());
    let file = dir.join(format!("{stem}.script"));
    let record = dir.join(format!("{stem}.jsonl"));
    std::fs::write(&file, script).unwrap_or_default();
    let url = format!("pop3://127.0.0.1:{port}");
    let o = popscope(&[
        "send",
        &url,
        "--timeout",
        "2",
        "--script",
        &file.display().to_string(),
        "--record",
        &record.display().to_string(),
    ]);
    let rec = std::fs::read_to_string(&record).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&record);
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        rec,
        o.status.code().unwrap_or(-1),
    )
}

/// Item 15's variants: the lines after a bare `AUTH mech` stay secret however the AUTH is
/// typed (` AUTH`, `AUTH\t`), on every challenge (AUTH LOGIN's user, then password), and when
/// the server refuses the AUTH before any challenge the response meant for it is not sent as
/// a command: one line says it was skipped.
#[test]
fn script_sasl_responses_stay_secret_when_refused_spaced_or_second() {
    let payload = "AGRlbW8AaHVudGVyMg=="; // \0demo\0hunter2
    let clear = |out: &str, err: &str, rec: &str| {
        for text in [out, err, rec] {
            assert!(
                !text.contains(payload)
                    && !text.contains("aHVudGVyMg")
                    && !text.contains("hunter2"),
                "{text}"
            );
        }
    };
    // (b) a leading blank or a tab in the AUTH line, after a `+` challenge.
    for (name, auth) in [("lead", " AUTH PLAIN"), ("tab", "AUTH\tPLAIN")] {
        let (out, err, rec, code) =
            scripted_send(sasl_login(), name, &format!("{auth}\n{payload}\nQUIT\n"));
        clear(&out, &err, &rec);
        assert!(out.contains("S: +OK logged in"), "{name}: {out}");
        assert!(out.contains("SASL response, redacted"), "{name}: {out}");
        assert_eq!(code, 0, "{name}: {out}{err}");
    }
    // (c) AUTH LOGIN: both lines are responses (user, then password).
    let user = "ZGVtbw=="; // demo
    let pass = "aHVudGVyMg=="; // hunter2
    let login = vec![
        say("+OK ready\r\n"),
        Step::ReadLine,
        say("+ VXNlcm5hbWU6\r\n"),
        Step::ReadLine,
        say("+ UGFzc3dvcmQ6\r\n"),
        Step::ReadLine,
        say("+OK logged in\r\n"),
        Step::ReadLine,
        say("+OK bye\r\n"),
    ];
    let (out, err, rec, code) = scripted_send(
        login,
        "login",
        &format!("auth login\n{user}\n{pass}\nQUIT\n"),
    );
    clear(&out, &err, &rec);
    assert!(!out.contains(user) && !rec.contains(user), "{out}{rec}");
    assert_eq!(out.matches("SASL response, redacted").count(), 2, "{out}");
    assert!(out.contains("S: +OK logged in"), "{out}");
    assert_eq!(code, 0, "{out}{err}");
    // (a) the bare AUTH refused (a server without SASL PLAIN): the payload is not sent.
    let refused = vec![
        say("+OK ready\r\n"),
        Step::ReadLine,
        say("-ERR unknown mechanism\r\n"),
        Step::ReadLine,
        say("+OK bye\r\n"),
    ];
    let (out, err, rec, _) = scripted_send(
        refused,
        "refused",
        &format!("AUTH PLAIN\n{payload}\nQUIT\n"),
    );
    clear(&out, &err, &rec);
    let said = format!("{out}{err}");
    assert_eq!(
        said.lines().filter(|l| l.contains("not sent")).count(),
        1,
        "{out}{err}"
    );
    let sent: Vec<&str> = out.lines().filter(|l| l.starts_with("C: ")).collect();
    assert_eq!(sent, ["C: AUTH PLAIN", "C: QUIT"], "{out}");
    assert!(out.contains("S: +OK bye"), "{out}");
    assert!(err.contains(&"*".repeat(payload.len())), "{err}");
    // AUTH LOGIN refused after the user name: the password line is not sent either.
    let after_user = vec![
        say("+OK ready\r\n"),
        Step::ReadLine,
        say("+ VXNlcm5hbWU6\r\n"),
        Step::ReadLine,
        say("-ERR no such user\r\n"),
        Step::ReadLine,
        say("+OK bye\r\n"),
    ];
    let (out, err, rec, _) = scripted_send(
        after_user,
        "after-user",
        &format!("AUTH LOGIN\n{user}\n{pass}\nQUIT\n"),
    );
    clear(&out, &err, &rec);
    assert!(!out.contains(pass) && !rec.contains(pass), "{out}{rec}");
    let sent: Vec<&str> = out.lines().filter(|l| l.starts_with("C: ")).collect();
    assert_eq!(sent.len(), 3, "{out}");
    assert_eq!(sent.last(), Some(&"C: QUIT"), "{out}");
    assert!(err.contains("not sent: 1 line"), "{err}");
    // AUTH LOGIN accepted after the user name (or at once): the password line is left over and
    // is not sent either.
    for (name, steps, lines) in [
        (
            "accepted-after-user",
            vec![
                say("+OK ready\r\n"),
                Step::ReadLine,
                say("+ VXNlcm5hbWU6\r\n"),
                Step::ReadLine,
                say("+OK welcome\r\n"),
                Step::ReadLine,
                say("+OK bye\r\n"),
            ],
            format!("AUTH LOGIN\n{user}\n{pass}\nQUIT\n"),
        ),
        (
            "accepted-at-once",
            vec![
                say("+OK ready\r\n"),
                Step::ReadLine,
                say("+OK welcome\r\n"),
                Step::ReadLine,
                say("+OK bye\r\n"),
            ],
            format!("AUTH LOGIN\n{pass}\nQUIT\n"),
        ),
    ] {
        let (out, err, rec, _) = scripted_send(steps, name, &lines);
        clear(&out, &err, &rec);
        assert!(
            !out.contains(pass) && !rec.contains(pass),
            "{name}: {out}{rec}"
        );
        let sent: Vec<&str> = out.lines().filter(|l| l.starts_with("C: ")).collect();
        assert_eq!(sent.last(), Some(&"C: QUIT"), "{name}: {out}");
        assert!(err.contains("not sent: 1 line"), "{name}: {err}");
    }
}

/// A server that makes a finding of every line: `send` keeps the first 10,000 findings and
/// counts the rest, and its summary counts them all (400,000 UIDL lines sharing a uid held
/// 156 MB).
#[test]
fn a_flood_of_findings_is_counted_past_the_first_ten_thousand() {
    let mut listing = String::from("+OK\r\n");
    for n in 1..=10_050 {
        listing.push_str(&format!("{n} same\r\n"));
    }
    listing.push_str(".\r\n");
    let (o, _) = timed(greeted(vec![say(&listing)]), "pop3", &["--json", "UIDL"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    let kept = v["findings"].as_array().map_or(0, Vec::len);
    let left_out = v["findings_left_out"].as_u64().unwrap_or(0);
    let summary = &v["summary"];
    let all: u64 = ["violation", "warning", "info"]
        .iter()
        .map(|k| summary[k].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(kept, 10_000, "{summary}");
    assert!(left_out >= 49, "{left_out}");
    assert_eq!(all, kept as u64 + left_out, "{summary}");
}
