//! The `popscope` binary as a user runs it: exit codes, the JSON shape, one-line errors.

use std::path::Path;
use std::process::Output;

mod common;
use common::popscope;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_reports_the_seed_case_and_exits_1() {
    let o = popscope(&[
        "check",
        "--transcript",
        "tests/fixtures/rules/st-009.fire.trace",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("ST-009") && out.contains("RFC 8314 §3.1"),
        "{out}"
    );
    assert!(
        out.contains("> S: +OK 2 320"),
        "the offending line is quoted: {out}"
    );
}

#[test]
fn check_json_has_the_documented_shape() {
    let o = popscope(&[
        "check",
        "--json",
        "--transcript",
        "tests/fixtures/rules/st-009.fire.trace",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v = common::json(&o);
    let findings = v["findings"].as_array().cloned().unwrap_or_default();
    assert!(!findings.is_empty(), "{v}");
    for f in &findings {
        for key in ["rule", "severity", "rfc", "message", "exchange"] {
            assert!(!f[key].is_null(), "finding lacks {key}: {f}");
        }
    }
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "ST-009" && f["severity"] == "violation")
    );
    assert_eq!(v["summary"]["violation"], 2);
    assert!(v["summary"]["warning"].is_number() && v["summary"]["info"].is_number());
}

#[test]
fn a_clean_session_exits_0() {
    let o = popscope(&[
        "check",
        "--transcript",
        "tests/fixtures/sessions/rfc1939-apop.trace",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn severity_overrides_change_the_exit_code() {
    let o = popscope(&[
        "check",
        "--transcript",
        "tests/fixtures/rules/msg-006.fire.trace",
        "--severity",
        "MSG-006=violation",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = popscope(&[
        "check",
        "--transcript",
        "tests/fixtures/rules/msg-006.fire.trace",
    ]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn bad_input_gets_one_line_naming_the_problem_and_exit_2() {
    let dir = common::scratch_path(&format!("popscope-cli-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let bad = dir.join("bad.trace");
    let _ = std::fs::write(&bad, "S: +OK ready\nC: USER a\nwhat is this\n");
    let bad_path = bad.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["check", "--transcript", bad_path.as_str()], "line 3"),
        (
            vec!["check", "--transcript", "/nonexistent/x.trace"],
            "cannot read",
        ),
        (
            vec![
                "check",
                "--transcript",
                "tests/fixtures/sessions/rfc1939-apop.trace",
                "--severity",
                "NOPE-1=info",
            ],
            "no rule",
        ),
    ];
    for (args, needle) in cases {
        let o = popscope(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(o.stdout.is_empty());
    }
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}

#[test]
fn rules_lists_the_whole_catalog() {
    let o = popscope(&["rules", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v = common::json(&o);
    let rules = v.as_array().cloned().unwrap_or_default();
    assert_eq!(rules.len(), 141);
    assert!(rules.iter().any(|r| r["id"] == "ST-009"
        && r["severity"] == "violation"
        && r["scope"] == "passive-and-probe"));
    assert!(
        rules
            .iter()
            .any(|r| r["id"] == "UIDL-003" && r["scope"] == "cross-session")
    );
    let text = stdout(&popscope(&["rules"]));
    assert!(text.contains("TLS-004") && text.contains("command injection"));
    for id in [
        "OAUTH-001",
        "OAUTH-002",
        "OAUTH-003",
        "OAUTH-004",
        "OAUTH-005",
        "OAUTH-006",
        "OAUTH-007",
        "CL-001",
        "CL-002",
        "CL-003",
        "CL-004",
        "CL-005",
        "CL-010",
        "CL-011",
        "CL-012",
        "CL-013",
        "CL-014",
        "CL-006",
        "CL-007",
        "CL-008",
        "CL-009",
        "CL-015",
        "CL-016",
        "CL-017",
    ] {
        assert!(text.contains(id), "{id} not listed");
    }
}

#[test]
fn rules_are_listed_by_the_side_they_judge() {
    let all = common::json(&popscope(&["rules", "--json"]));
    let all = all.as_array().cloned().unwrap_or_default();
    let side = |s: &str| {
        let v = common::json(&popscope(&["rules", "--side", s, "--json"]));
        v.as_array().cloned().unwrap_or_default()
    };
    let (server, client) = (side("server"), side("client"));
    assert_eq!(server.len() + client.len(), all.len());
    assert!(
        client
            .iter()
            .all(|r| r["side"] == "client"
                && r["id"].as_str().is_some_and(|id| id.starts_with("CL-")))
    );
    assert!(server.iter().all(|r| r["side"] == "server"));
    assert!(client.iter().any(|r| r["id"] == "CL-015"));
    // The text lists the client's rules in a section of their own, after the server's.
    let text = stdout(&popscope(&["rules"]));
    let heading = text
        .find("The client's rules")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(text[heading..].contains("CL-015") && !text[..heading].contains("CL-015"));
}

#[test]
fn rules_explains_one_rule() {
    let o = popscope(&["rules", "oauth-003"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(
        text.starts_with("OAUTH-003  A refused token gets an error challenge"),
        "{text}"
    );
    assert!(
        text.contains("violation") && text.contains("provoked by P24"),
        "{text}"
    );
    assert!(
        text.contains("source    RFC 7628 §3, §3.2.2, §3.2.3"),
        "{text}"
    );
    let client = stdout(&popscope(&["rules", "CL-015"]));
    assert!(client.contains("judges    the client"), "{client}");
    let v = common::json(&popscope(&["rules", "OAUTH-007", "--json"]));
    assert_eq!(v["id"], "OAUTH-007");
    assert_eq!(v["see"], "P25");
    let unknown = popscope(&["rules", "OAUTH-999"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no rule 'OAUTH-999'"));
}

#[test]
fn a_broken_theme_file_names_the_file_and_the_key() {
    let dir = common::scratch_path(&format!("popscope-theme-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let bad = dir.join("mine.toml");
    let _ = std::fs::write(
        &bad,
        "name = \"mine\"\n[styles]\nviolation = { fg = \"ultraviolet\" }\n",
    );
    let bad_path = bad.display().to_string();
    let o = popscope(&["--theme", &bad_path, "pop3://127.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("mine.toml")
            && err.contains("styles.violation")
            && err.contains("ultraviolet"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let o = popscope(&["--theme", "no-such-theme", "pop3://127.0.0.1:1"]);
    assert!(
        stderr(&o).contains("dark, light, high-contrast"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_ui_refuses_to_start_without_a_terminal() {
    let o = popscope(&["pop3://127.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("needs a terminal"), "{}", stderr(&o));
}

#[test]
fn replay_headless_follows_the_exit_code_contract() {
    let fire = popscope(&[
        "replay",
        "--headless",
        "tests/fixtures/rules/st-009.fire.trace",
    ]);
    assert_eq!(fire.status.code(), Some(1), "{}", stderr(&fire));
    assert!(stdout(&fire).contains("ST-009"));
    let silent = popscope(&[
        "replay",
        "--headless",
        "tests/fixtures/rules/st-009.silent.trace",
    ]);
    assert_eq!(silent.status.code(), Some(0), "{}", stdout(&silent));
}

#[test]
fn replay_record_without_against_is_refused_not_ignored() {
    let out = common::scratch_path("replay-record.jsonl");
    let o = popscope(&[
        "replay",
        "tests/fixtures/rules/st-009.fire.trace",
        "--headless",
        "--record",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("--against"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn a_credential_with_a_line_end_is_refused_before_anything_is_sent() {
    // A CR/LF in a password or user name would end its line and send the rest as a command
    // (`PASS x\r\nDELE 1`). The URL is never reached: nothing listens there.
    let cases: [(&[&str], &str); 3] = [
        (&["--user", "demo", "--password-env", "PW"], "x\r\nDELE 1"),
        (&["--user", "demo", "--password-env", "PW"], "x\ry"),
        (
            &["--user", "demo\r\nDELE 2", "--password-env", "PW"],
            "fine",
        ),
    ];
    for (args, pw) in cases {
        let mut all = vec!["send", "pop3://127.0.0.1:9", "STAT"];
        all.extend_from_slice(args);
        let o = common::popscope_with(pw, &all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("CR, LF or NUL"), "{err}");
        assert!(!err.contains("DELE 1") && !err.contains("x\ry"), "{err}");
    }
}

#[test]
fn an_idle_past_a_year_is_bad_input_and_many_long_ones_do_not_overflow_the_clock() {
    let dir = common::scratch_path("idle");
    std::fs::create_dir_all(&dir).unwrap();
    let huge = dir.join("huge.trace");
    std::fs::write(&huge, "S: +OK hi\n-- idle 1e300\nC: QUIT\nS: +OK bye\n").unwrap();
    let o = popscope(&["check", "--transcript", huge.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    let many = dir.join("many.trace");
    let idles = "-- idle 31622400\n".repeat(600_000);
    std::fs::write(&many, format!("S: +OK hi\n{idles}C: QUIT\nS: +OK bye\n")).unwrap();
    for cmd in [
        &["check", "--transcript"][..],
        &["replay", "--headless"][..],
    ] {
        let mut args = cmd.to_vec();
        args.push(many.to_str().unwrap());
        let o = popscope(&args);
        assert_ne!(o.status.code(), Some(101), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
}

#[test]
fn a_server_that_closes_at_capa_gets_no_login_written_into_the_dead_connection() {
    use common::Step;
    let port = common::scripted(vec![
        Step::Send(b"-ERR go away\r\n".to_vec()),
        Step::ReadLine,
        Step::Close,
    ]);
    let url = format!("pop3://127.0.0.1:{port}");
    let o = common::popscope_with(
        "hunter2",
        &[
            "send",
            &url,
            "--user",
            "demo",
            "--password-env",
            "PW",
            "STAT",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("closed the connection before the login"),
        "{err}"
    );
    assert!(
        !stdout(&o).contains("C: USER") && !stdout(&o).contains("C: AUTH"),
        "{}",
        stdout(&o)
    );
}
