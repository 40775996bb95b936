//! `popscope check` against a live server: no credential in the clear on transports popscope
//! picked, a walk that stops after a timeout instead of going on out of step, a failed RSET
//! that is never followed by QUIT, the whole maildrop walked, and the demo server clean on
//! every transport.

#![allow(clippy::unwrap_used)] // helpers of tests: a panic there is a failed test

use std::io::{BufRead, BufReader, Write};
use std::process::Output;
use std::sync::{Arc, Mutex};

use popscope::server::TlsMode;

mod common;
use common::{popscope, popscope_with, runtime, start};

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The client lines of each recorded connection sent before its TLS handshake (every line, on
/// a connection without TLS), as (connection target, line).
fn before_tls(recording: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut target = String::new();
    let mut tls = false;
    for v in common::recording::records(recording.as_bytes()) {
        match v["type"].as_str() {
            Some("header") => {
                target = v["target"].as_str().unwrap_or_default().to_owned();
                tls = target.starts_with("pop3s://");
            }
            Some("tls") => tls = true,
            Some("data") if v["dir"] == "client" && !tls => {
                for l in v["text"].as_str().unwrap_or_default().lines() {
                    out.push((target.clone(), l.to_owned()));
                }
            }
            _ => {}
        }
    }
    out
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("popscope-check-{}-{name}", std::process::id()))
}

#[test]
fn a_bare_host_check_sends_no_credential_before_tls() {
    let rt = runtime();
    let s = start(&rt, TlsMode::Starttls, None);
    let ca = s.certs.ca.display().to_string();
    let host = format!("127.0.0.1:{}", s.port());
    for login in ["plain", "user", "auto", "login", "cram-md5", "apop"] {
        let file = temp(&format!("bare-{login}.jsonl"));
        let _ = std::fs::remove_file(&file);
        let f = file.display().to_string();
        let o = popscope_with(
            "s3cr3t-Passw0rd",
            &[
                "check",
                &host,
                "--tls-port",
                "1",
                "--user",
                "demo",
                "--password-env",
                "PW",
                "--login",
                login,
                "--ca-file",
                &ca,
                "--record",
                &f,
                "--record-secrets",
                "--injection-wait",
                "0.1",
                "--json",
            ],
        );
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{login}: {}",
            err(&o)
        );
        let rec = std::fs::read_to_string(&file).unwrap_or_default();
        let _ = std::fs::remove_file(&file);
        let plain = before_tls(&rec);
        assert!(plain.iter().any(|(_, l)| l == "CAPA"), "{login}: {rec}");
        for (target, line) in &plain {
            let word = line
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let probe_pass = line == "PASS popscope-probe";
            assert!(
                !["AUTH", "USER", "APOP", "PASS"].contains(&word.as_str()) || probe_pass,
                "{login}: {target} sent {line:?} before TLS"
            );
            assert!(!line.contains("s3cr3t"), "{login}: {target}: {line}");
        }
        // The STLS leg did log in; the plain leg says why it did not.
        let v = common::json(&o);
        let legs = v["transports"].as_array().cloned().unwrap_or_default();
        let plain_leg = legs.iter().find(|t| t["transport"] == "plain");
        let notes = plain_leg
            .map(|t| t["notes"].to_string())
            .unwrap_or_default();
        assert!(
            notes.contains("walked without logging in")
                && notes.contains("--allow-plaintext-login"),
            "{login}: {notes}"
        );
        assert_eq!(
            plain_leg.map(|t| t["logged_in"].clone()),
            Some(false.into())
        );
    }
}

#[test]
fn allow_plaintext_login_logs_in_on_the_plain_leg() {
    let rt = runtime();
    let s = start(&rt, TlsMode::Starttls, None);
    let ca = s.certs.ca.display().to_string();
    let file = temp("bare-allowed.jsonl");
    let _ = std::fs::remove_file(&file);
    let f = file.display().to_string();
    let o = popscope(&[
        "check",
        &format!("127.0.0.1:{}", s.port()),
        "--tls-port",
        "1",
        "--user",
        "demo",
        "--password-env",
        "PW",
        "--login",
        "cram-md5",
        "--ca-file",
        &ca,
        "--record",
        &f,
        "--passive",
        "--allow-plaintext-login",
    ]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", err(&o));
    let rec = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    assert!(
        before_tls(&rec).iter().any(|(_, l)| l == "AUTH CRAM-MD5"),
        "{rec}"
    );
}

#[test]
fn an_explicit_plain_url_warns_once_before_the_password_goes_in_the_clear() {
    let rt = runtime();
    let s = start(&rt, TlsMode::Starttls, None);
    let args = |json: bool| {
        let mut a = vec![
            "check".to_owned(),
            s.url(),
            "--user".into(),
            "demo".into(),
            "--password-env".into(),
            "PW".into(),
            "--passive".into(),
        ];
        if json {
            a.push("--json".into());
        }
        a
    };
    let run = |a: Vec<String>| popscope(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let o = run(args(false));
    let e = err(&o);
    let warnings: Vec<&str> = e.lines().filter(|l| l.contains("in the clear")).collect();
    assert_eq!(warnings.len(), 1, "{e}");
    assert!(
        warnings[0].contains("--starttls") && warnings[0].contains("pop3s://"),
        "{e}"
    );
    // The user asked for pop3://: the walk logged in (CRAM-MD5, the demo's one mechanism).
    assert!(String::from_utf8_lossy(&o.stdout).contains("CAPA after login:  CAPA"));
    // With --json the line is in the notes, and stdout is one JSON object.
    let o = run(args(true));
    assert!(!err(&o).contains("in the clear"), "{}", err(&o));
    let v = common::json(&o);
    assert!(v["notes"].to_string().contains("in the clear"), "{v}");
    assert_eq!(v["logged_in"], true);
    // A plain-only server: no STLS to point to, no warning, logged in.
    let plain = start(&rt, TlsMode::None, None);
    let o = popscope(&[
        "check",
        &plain.url(),
        "--user",
        "demo",
        "--password-env",
        "PW",
        "--passive",
        "--json",
    ]);
    let v = common::json(&o);
    assert_eq!(v["logged_in"], true, "{v}");
    assert!(!v["notes"].to_string().contains("in the clear"), "{v}");
    assert!(!err(&o).contains("in the clear"));
}

// ------------------------------------------------------------------ a fake server

type Log = Arc<Mutex<Vec<(usize, String)>>>;

/// A POP3 server on loopback answering every line with `reply(line)` (nothing when it returns
/// an empty vector; QUIT also closes). Every line it reads is logged with its connection index.
fn fake(reply: fn(&str) -> Vec<u8>) -> (u16, Log) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for (i, s) in l.incoming().enumerate() {
            let Ok(s) = s else { return };
            let log = log2.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut w = s;
                let _ = w.write_all(b"+OK fake POP3\r\n");
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    let cmd = line.trim_end().to_owned();
                    line.clear();
                    log.lock().unwrap().push((i, cmd.clone()));
                    if w.write_all(&reply(&cmd)).is_err() {
                        return;
                    }
                    if cmd.eq_ignore_ascii_case("QUIT") {
                        return;
                    }
                }
            });
        }
    });
    (port, log)
}

/// One small message, RETR answered in full.
fn mailbox(cmd: &str) -> Vec<u8> {
    let word = cmd
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let one_arg = cmd.contains(' ');
    let text: &str = match (word.as_str(), one_arg) {
        ("CAPA", _) => "-ERR no CAPA\r\n",
        ("USER" | "PASS" | "NOOP" | "DELE" | "RSET", _) => "+OK\r\n",
        ("STAT", _) => "+OK 1 24\r\n",
        ("LIST", false) => "+OK\r\n1 24\r\n.\r\n",
        ("LIST", true) => "+OK 1 24\r\n",
        ("UIDL", false) => "+OK\r\n1 a\r\n.\r\n",
        ("UIDL", true) => "+OK 1 a\r\n",
        ("TOP", _) => "+OK\r\nSubject: x\r\n\r\n.\r\n",
        ("RETR", _) => "+OK\r\nSubject: x\r\n\r\nbody line\r\n.\r\n",
        ("QUIT", _) => "+OK bye\r\n",
        _ => "-ERR\r\n",
    };
    text.as_bytes().to_vec()
}

fn lines_of(log: &Log) -> Vec<(usize, String)> {
    log.lock().unwrap().clone()
}

/// `timeout 60 popscope check pop3://127.0.0.1:PORT --passive --user demo --login user ARGS`.
fn check_fake(port: u16, args: &[&str]) -> Output {
    let url = format!("pop3://127.0.0.1:{port}");
    std::process::Command::new("timeout")
        .args(["60", env!("CARGO_BIN_EXE_popscope"), "check", &url])
        .args(["--passive", "--user", "demo", "--password-env", "PW"])
        .args(["--login", "user", "--json"])
        .args(args)
        .env("PW", "demo")
        .output()
        .unwrap()
}

#[test]
fn after_a_timeout_the_walk_stops_instead_of_reading_replies_out_of_step() {
    // RETR gets a single-line +OK: the client waits for a body that never comes.
    fn short_retr(cmd: &str) -> Vec<u8> {
        if cmd.starts_with("RETR") {
            return b"+OK\r\n".to_vec();
        }
        mailbox(cmd)
    }
    let (port, log) = fake(short_retr);
    let o = check_fake(port, &["--timeout", "1"]);
    // `timeout` exits 124 when it had to stop the run.
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v = common::json(&o);
    assert!(
        v["notes"]
            .to_string()
            .contains("no complete reply to RETR within 1 s"),
        "{v}"
    );
    let lines = lines_of(&log);
    let retr = lines.iter().position(|(_, l)| l == "RETR 1");
    assert!(retr.is_some(), "{lines:?}");
    let after: Vec<&String> = lines[retr.unwrap_or(0) + 1..]
        .iter()
        .map(|(_, l)| l)
        .collect();
    assert!(after.is_empty(), "sent after the timeout: {after:?}");
}

/// A server whose CAPA never ends: the walk's main connection cannot be walked, so the run
/// fails (exit 3, one line saying what arrived) after printing the report; with --json the
/// report carries the error, as `send --json` does. (Before: exit 0, "0 violations".)
#[test]
fn a_walk_whose_first_replies_never_complete_exits_3_with_the_report() {
    fn endless_capa(cmd: &str) -> Vec<u8> {
        if cmd.eq_ignore_ascii_case("CAPA") {
            return b"+OK capability list follows\r\nUSER\r\n".to_vec();
        }
        mailbox(cmd)
    }
    let (port, _) = fake(endless_capa);
    let url = format!("pop3://127.0.0.1:{port}");
    let o = popscope(&["check", &url, "--timeout", "1"]);
    let e = err(&o);
    assert_eq!(o.status.code(), Some(3), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(
        e.contains("CAPA") && e.contains("arrived") && e.contains("capability list"),
        "{e}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("popscope check") && out.contains("no complete reply to CAPA"),
        "{out}"
    );

    let (port, _) = fake(endless_capa);
    let url = format!("pop3://127.0.0.1:{port}");
    let o = popscope(&["check", &url, "--timeout", "1", "--json"]);
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    let v = common::json(&o);
    assert_eq!(v["error"]["exit"], 3, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("CAPA") && m.contains("arrived")),
        "{v}"
    );
    assert!(
        v["notes"].to_string().contains("no complete reply to CAPA"),
        "{v}"
    );
}

#[test]
fn a_failed_rset_after_dele_closes_without_quit() {
    fn rset_fails(cmd: &str) -> Vec<u8> {
        if cmd == "RSET" {
            return b"-ERR RSET is broken\r\n".to_vec();
        }
        mailbox(cmd)
    }
    let (port, log) = fake(rset_fails);
    let o = check_fake(port, &["--allow-delete", "--timeout", "5"]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", err(&o));
    let lines = lines_of(&log);
    assert!(lines.iter().any(|(_, l)| l == "DELE 1"), "{lines:?}");
    let rset = lines.iter().position(|(_, l)| l == "RSET");
    assert!(rset.is_some(), "{lines:?}");
    let after: Vec<&String> = lines[rset.unwrap_or(0) + 1..]
        .iter()
        .map(|(_, l)| l)
        .collect();
    assert!(
        !after.iter().any(|l| *l == "QUIT"),
        "QUIT after a failed RSET: {after:?}"
    );
    let v = common::json(&o);
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("RSET after DELE was answered \\\"-ERR RSET is broken\\\"")
            && notes.contains("without QUIT"),
        "{v}"
    );
    // A RSET that works is followed by QUIT as before.
    let (port, log) = fake(mailbox);
    let o = check_fake(port, &["--allow-delete", "--timeout", "5"]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", err(&o));
    assert_eq!(lines_of(&log).last().map(|(_, l)| l.as_str()), Some("QUIT"));
}

#[test]
fn the_walk_looks_at_every_message() {
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    let file = temp("every.jsonl");
    let _ = std::fs::remove_file(&file);
    let f = file.display().to_string();
    let o = popscope(&[
        "check",
        &s.url(),
        "--user",
        "demo",
        "--password-env",
        "PW",
        "--passive",
        "--record",
        &f,
        "--max-body",
        "100",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let rec = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    let sent: Vec<String> = before_tls(&rec).into_iter().map(|(_, l)| l).collect();
    for n in 1..=4 {
        for cmd in [
            format!("LIST {n}"),
            format!("UIDL {n}"),
            format!("RETR {n}"),
        ] {
            assert!(sent.contains(&cmd), "{cmd} missing: {sent:?}");
        }
    }
    // --no-retr: headers only.
    let o = popscope(&[
        "check",
        &s.url(),
        "--user",
        "demo",
        "--password-env",
        "PW",
        "--passive",
        "--no-retr",
        "--show-sessions",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("C: TOP 4 0") && !out.contains("C: RETR"),
        "{out}"
    );
}

#[test]
fn every_numeric_option_rejects_nan_negative_infinite_and_huge_values_in_one_line() {
    let huge = "99999999999999999999999";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["check", "pop3://x", "--injection-wait"],
            "--injection-wait",
        ),
        (vec!["check", "pop3://x", "--timeout"], "--timeout"),
        (
            vec!["check", "pop3://x", "--connect-timeout"],
            "--connect-timeout",
        ),
        (vec!["check", "x", "--tls-port"], "--tls-port"),
        (
            vec!["send", "pop3://x", "--record", "f", "--max-body"],
            "--max-body",
        ),
        (vec!["serve", "--port"], "--port"),
        (vec!["import", "f", "--from", "pcap", "--port"], "--port"),
        (vec!["export", "f", "--session"], "--session"),
        (vec!["replay", "f", "--session"], "--session"),
        (vec!["pop3://x", "--timeout"], "--timeout"),
    ];
    for (args, option) in cases {
        for bad in ["NaN", "-1", "inf", "-inf", huge, "1e400", "abc"] {
            let mut a = args.clone();
            a.push(bad);
            let o = popscope(&a);
            let e = err(&o);
            assert_eq!(o.status.code(), Some(2), "{a:?}: {e}");
            assert_eq!(e.lines().count(), 1, "{a:?}: {e}");
            assert!(
                e.starts_with("popscope: invalid value")
                    && e.contains(option)
                    && e.contains("give "),
                "{a:?}: {e}"
            );
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_process_holding_a_password_cannot_dump_core() {
    // A silent server keeps `send` waiting for the greeting, password in hand.
    let port = common::silent(1);
    let url = format!("pop3://127.0.0.1:{port}");
    // The shell raises the soft limit as far as the hard one allows; popscope must lower both.
    let mut child = std::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -S -c unlimited 2>/dev/null; exec \"$0\" \"$@\"",
        ])
        .arg(env!("CARGO_BIN_EXE_popscope"))
        .args([
            "send",
            &url,
            "--user",
            "demo",
            "--password-env",
            "PW",
            "--timeout",
            "5",
            "NOOP",
        ])
        .env("PW", "s3cr3t")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let limits = format!("/proc/{}/limits", child.id());
    let mut core = String::new();
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let text = std::fs::read_to_string(&limits).unwrap_or_default();
        core = text
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if core == "Max core file size 0 0 bytes" {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(core, "Max core file size 0 0 bytes");
}

#[test]
fn quirk_completion_offers_the_quirk_names_not_file_names() {
    let o = popscope(&["completions", "bash"]);
    let bash = String::from_utf8_lossy(&o.stdout);
    let mut seen = 0;
    let lines: Vec<&str> = bash.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.trim() == "--quirk)" {
            seen += 1;
            let next = lines.get(i + 1).copied().unwrap_or_default();
            assert!(
                next.contains("compgen -W") && next.contains("unstuffed-dots"),
                "{next}"
            );
            assert!(!next.contains("compgen -f"), "{next}");
        }
    }
    assert_eq!(seen, 2, "serve and demo");
    let o = popscope(&["serve", "--quirk", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(err(&o).lines().count(), 1, "{}", err(&o));
    assert!(err(&o).contains("unstuffed-dots"), "{}", err(&o));
}

/// A plain-only host in practice: CAPA offers STLS and CRAM-MD5, STLS is refused, and the
/// CRAM-MD5 response (any single word) is accepted.
fn stls_refused(cmd: &str) -> Vec<u8> {
    let word = cmd
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    match word.as_str() {
        "CAPA" => b"+OK\r\nUSER\r\nSTLS\r\nSASL CRAM-MD5\r\n.\r\n".to_vec(),
        "STLS" => b"-ERR TLS is broken today\r\n".to_vec(),
        "AUTH" => b"+ PDEyMzQ1QGhvc3Q+\r\n".to_vec(),
        _ if !cmd.contains(' ') && cmd.len() > 20 => b"+OK welcome\r\n".to_vec(),
        _ => mailbox(cmd),
    }
}

fn check_bare(port: u16, args: &[&str]) -> Output {
    let host = format!("127.0.0.1:{port}");
    std::process::Command::new("timeout")
        .args(["60", env!("CARGO_BIN_EXE_popscope"), "check", &host])
        .args(["--tls-port", "1", "--passive", "--timeout", "5"])
        .args(["--user", "demo", "--password-env", "PW"])
        .args(args)
        .env("PW", "demo")
        .output()
        .unwrap()
}

#[test]
fn a_bare_host_json_lists_every_leg_and_the_comparison_when_one_answers() {
    let (port, _log) = fake(stls_refused);
    let o = check_bare(port, &["--json"]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", err(&o));
    let v = common::json(&o);
    let legs: Vec<(String, serde_json::Value)> = v["transports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["transport"].as_str().unwrap_or("?").to_owned(),
                t["error"].clone(),
            )
        })
        .collect();
    let names: Vec<&str> = legs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["plain", "stls", "implicit-tls"], "{v:#}");
    assert!(legs[0].1.is_null(), "{v:#}");
    assert!(
        legs[1].1.as_str().unwrap_or_default().contains("STLS"),
        "{v:#}"
    );
    assert!(
        legs[2].1.as_str().unwrap_or_default().contains("refused"),
        "{v:#}"
    );
    let cmp = v["comparison"].to_string();
    assert!(cmp.contains("STLS is offered on the plain port"), "{v:#}");
    // A host offering nothing but plain POP3: still the host report, with its one leg.
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    let o = popscope(&[
        "check",
        &format!("127.0.0.1:{}", s.port()),
        "--tls-port",
        "1",
        "--passive",
        "--json",
    ]);
    let v = common::json(&o);
    let names: Vec<&str> = v["transports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["transport"].as_str())
        .collect();
    assert_eq!(names, vec!["plain", "implicit-tls"], "{v:#}");
    let cmp = v["comparison"].to_string();
    assert!(cmp.contains("STLS is NOT offered"), "{v:#}");
    // Named as offered: the mechanisms that send the password itself, and only those.
    assert!(
        cmp.contains("cleartext passwords are offered before TLS (USER, SASL PLAIN, SASL LOGIN)"),
        "{v:#}"
    );
}

#[test]
fn a_bare_host_text_says_why_the_plain_leg_did_not_log_in_and_which_login_was_accepted() {
    let (port, _log) = fake(stls_refused);
    let o = check_bare(port, &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("(no login, on purpose: the host offers TLS") && !out.contains("give --user"),
        "{out}"
    );
    // Allowed: CRAM-MD5 is no cleartext password; USER/PASS is.
    let o = check_bare(port, &["--allow-plaintext-login", "--login", "cram-md5"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(
            "a login with AUTH CRAM-MD5 was accepted before TLS (not a cleartext password"
        ),
        "{out}"
    );
    assert!(!out.contains("cleartext login"), "{out}");
    let o = check_bare(port, &["--allow-plaintext-login", "--login", "user"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("a cleartext login (USER/PASS) was accepted before TLS"),
        "{out}"
    );
}
