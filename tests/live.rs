//! popscope against its own demo server over real sockets: every quirk is reported with the
//! right rule, the conformant server is clean on all three transports, and transport mistakes
//! get their one-line explanation and exit code.

use std::process::{Command, Output};
use std::time::Duration;

use popscope::check::{self, WalkOptions, WalkResult};
use popscope::cli::connect::ConnArgs;
use popscope::server::{Running, TlsMode};
use popscope_core::server::{Login, QUIRKS, Quirk, QuirkInfo};
use popscope_core::{Config, Secret, Severity};

mod common;
use common::{findings_of, popscope, popscope_with, runtime, start};
use popscope::session::login::{Credentials, Method};
use popscope::transport::Target;

fn walk_against(
    rt: &tokio::runtime::Runtime,
    s: &Running,
    client_cert: bool,
    method: Method,
    extra: &[&str],
) -> WalkResult {
    let target = Target::parse(&s.url()).unwrap_or_else(|e| panic!("{e}"));
    let scheme = target.scheme.unwrap_or(popscope::transport::Scheme::Pop3);
    let conn = ConnArgs {
        starttls: s.tls == TlsMode::Starttls,
        ca_file: Some(s.certs.ca.clone()),
        client_cert: client_cert.then(|| s.certs.client_cert.clone()),
        client_key: client_cert.then(|| s.certs.client_key.clone()),
        connect_timeout: 5,
        timeout: 5,
        user: Some("demo".into()),
        login: method,
        ..ConnArgs::default()
    };
    let creds = Credentials {
        user: "demo".into(),
        password: Some(Secret::new(b"demo".to_vec())),
        ..Credentials::default()
    };
    rt.block_on(check::walk::run(WalkOptions {
        extra: extra.iter().map(|s| s.to_string()).collect(),
        injection_wait: Duration::from_millis(300),
        ..conn.walk(&target, scheme, Config::default(), Some(creds))
    }))
    .unwrap_or_else(|e| panic!("walk: {e}"))
}

fn ids(r: &WalkResult, sev: Severity) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = r
        .findings
        .iter()
        .filter(|(_, f)| f.severity == sev)
        .map(|(_, f)| f.rule.id)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn the_conformant_demo_server_is_clean_on_every_transport() {
    let rt = runtime();
    for tls in [TlsMode::None, TlsMode::Starttls, TlsMode::Implicit] {
        let s = start(&rt, tls, None);
        let r = walk_against(&rt, &s, false, Method::Auto, &[]);
        assert!(r.logged_in, "{tls:?}: login failed; notes {:?}", r.notes);
        assert!(r.notes.is_empty(), "{tls:?}: {:?}", r.notes);
        assert_eq!(ids(&r, Severity::Violation), Vec::<&str>::new(), "{tls:?}");
        // Plaintext passwords offered without TLS is the only warning, and only without TLS.
        let warnings = ids(&r, Severity::Warning);
        let expected: Vec<&str> = if tls == TlsMode::None {
            vec!["USR-002"]
        } else {
            vec![]
        };
        assert_eq!(warnings, expected, "{tls:?}");
        if tls != TlsMode::None {
            let t = r
                .tls
                .as_ref()
                .unwrap_or_else(|| panic!("{tls:?}: no TLS details"));
            assert!(t.verdict.is_verified());
            assert!(
                t.chain
                    .first()
                    .is_some_and(|c| c.sans.iter().any(|s| s == "DNS:localhost")),
                "{:?}",
                t.chain
            );
        }
    }
}

/// `popscope check` (the binary) against the demo server with the quirk of `row`, reached as
/// the row says: the rule IDs it reported.
fn check_rules(rt: &tokio::runtime::Runtime, row: &QuirkInfo) -> Vec<String> {
    let tls = TlsMode::from(row.transport);
    let s = start(rt, tls, Some(row.quirk));
    let ca = s.certs.ca.display().to_string();
    let (cert_file, key_file) = (
        s.certs.client_cert.display().to_string(),
        s.certs.client_key.display().to_string(),
    );
    let mut args = vec![
        "check",
        "--ca-file",
        &ca,
        "--user",
        "demo",
        "--password-env",
        "PW",
        "--injection-wait",
        "0.3",
        "--timeout",
        "5",
        "--json",
    ];
    let url = s.url();
    args.insert(1, &url);
    if tls == TlsMode::Starttls {
        args.push("--starttls");
    }
    if row.client_cert {
        args.extend(["--client-cert", &cert_file, "--client-key", &key_file]);
    }
    if row.login == Login::External {
        args.extend(["--login", "external"]);
    }
    if row.login == Login::Token {
        args.extend(["--token-env", "DEMO_TOKEN"]);
    }
    // `check` takes no extra commands; its DELE probe (undone by RSET) does what a DELE
    // among them would show (the README's quirk table says so).
    if row.extra.iter().any(|c| c.starts_with("DELE")) {
        args.push("--allow-delete");
    }
    let o = popscope(&args);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}: {}",
        row.name,
        err_line(&o)
    );
    common::rule_ids(&common::json(&o))
}

/// Over real sockets, the quirks that misbehave where TLS begins; every quirk is paired with
/// the engine in one thread by `crates/core/tests/quirks.rs`.
#[test]
fn every_quirk_at_tls_is_reported_by_check_with_its_rule() {
    let rt = runtime();
    let rows: Vec<&QuirkInfo> = QUIRKS.iter().filter(|r| r.behaviour.at_tls()).collect();
    assert!(rows.len() >= 3, "{rows:?}");
    assert_check_reports_each_rows_rules(&rt, &rows);
}

fn assert_check_reports_each_rows_rules(rt: &tokio::runtime::Runtime, rows: &[&QuirkInfo]) {
    for row in rows {
        let all = check_rules(rt, row);
        for rule in row.expected_rules {
            assert!(
                all.iter().any(|r| r == rule),
                "{}: expected {rule}, got {all:?}",
                row.name
            );
        }
    }
}

/// The OAuth quirks, each reached as its row says (probe P24 under TLS; a token for the rows
/// that need one): `check` reports every rule the row names.
#[test]
fn every_oauth_quirk_is_reported_by_check_with_its_rule() {
    let rt = runtime();
    let rows: Vec<&QuirkInfo> = QUIRKS
        .iter()
        .filter(|r| r.name.starts_with("oauth-"))
        .collect();
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert_check_reports_each_rows_rules(&rt, &rows);
}

/// The control: the conformant demo server, checked with its token under TLS (P24 and P25
/// run), gets no OAuth finding above info.
#[test]
fn a_token_check_of_the_conformant_demo_server_has_no_oauth_warning() {
    let rt = runtime();
    for tls in [TlsMode::Starttls, TlsMode::Implicit] {
        let s = start(&rt, tls, None);
        let ca = s.certs.ca.display().to_string();
        let url = s.url();
        let mut args = vec![
            "check",
            &url,
            "--ca-file",
            &ca,
            "--user",
            "demo",
            "--token-env",
            "DEMO_TOKEN",
            "--json",
        ];
        if tls == TlsMode::Starttls {
            args.push("--starttls");
        }
        let o = popscope(&args);
        assert_eq!(o.status.code(), Some(0), "{tls:?}: {}", err_line(&o));
        let v = common::json(&o);
        let text = v.to_string();
        assert!(text.contains("probe P24: OAUTHBEARER"), "{tls:?}: {text}");
        assert!(
            text.contains("probe P25: OAUTHBEARER with an unknown key"),
            "{tls:?}: {text}"
        );
        let findings = v["findings"].as_array().cloned().unwrap_or_default();
        let loud: Vec<_> = findings
            .iter()
            .filter(|f| f["severity"] != "info")
            .collect();
        assert!(loud.is_empty(), "{tls:?}: {loud:?}");
        assert!(
            !text.contains("demo-token"),
            "{tls:?}: the token is in the report"
        );
    }
}

#[test]
fn check_finds_no_violation_in_the_default_demo_server_on_any_transport() {
    let rt = runtime();
    let stls = start(&rt, TlsMode::Starttls, None);
    let implicit = start(&rt, TlsMode::Implicit, None);
    let (stls_ca, tls_ca) = (
        stls.certs.ca.display().to_string(),
        implicit.certs.ca.display().to_string(),
    );
    let host = format!("127.0.0.1:{}", stls.port());
    let tls_port = implicit.port().to_string();
    let (stls_url, tls_url) = (stls.url(), implicit.url());
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("plain", vec![&stls_url, "--ca-file", &stls_ca]),
        ("STLS", vec![&stls_url, "--starttls", "--ca-file", &stls_ca]),
        ("pop3s", vec![&tls_url, "--ca-file", &tls_ca]),
        // The two demo servers have CAs of their own: the bare host trusts the STLS one.
        (
            "bare host",
            vec![&host, "--tls-port", &tls_port, "--ca-file", &stls_ca],
        ),
    ];
    for (name, extra) in cases {
        let mut args = vec!["check"];
        args.extend(extra);
        args.extend([
            "--user",
            "demo",
            "--password-env",
            "PW",
            "--injection-wait",
            "0.2",
        ]);
        args.push("--json");
        let o = popscope(&args);
        let v = common::json(&o);
        assert_eq!(o.status.code(), Some(0), "{name}: {} {v:#}", err_line(&o));
        assert_eq!(v["summary"]["violation"], 0, "{name}: {v:#}");
        let logged_in = if name == "bare host" {
            v["transports"].as_array().is_some_and(|t| {
                t.iter()
                    .any(|t| t["transport"] == "stls" && t["logged_in"] == true)
            })
        } else {
            v["logged_in"] == true
        };
        assert!(logged_in, "{name}: {v:#}");
    }
}

#[test]
fn login_external_needs_no_user_name() {
    let rt = runtime();
    let s = start(&rt, TlsMode::Implicit, None);
    let (ca, cert, key) = (
        s.certs.ca.display().to_string(),
        s.certs.client_cert.display().to_string(),
        s.certs.client_key.display().to_string(),
    );
    let o = popscope(&[
        "send",
        &s.url(),
        "--ca-file",
        &ca,
        "--client-cert",
        &cert,
        "--client-key",
        &key,
        "--login",
        "external",
        "STAT",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", err_line(&o));
    assert!(out.contains("C: AUTH EXTERNAL ="), "{out}");
    assert!(out.contains("S: +OK 4 "), "{out}");
}

#[test]
fn login_auto_follows_capa_not_the_apop_timestamp() {
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    // The greeting carries an APOP timestamp; send asks CAPA before a login (as the UI does)
    // and picks what it offers, never APOP.
    let o = common::send_as_demo(&s.url(), &["STAT"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", err_line(&o));
    let capa = out.find("C: CAPA");
    let login = out.find("C: AUTH PLAIN");
    assert!(
        matches!((capa, login), (Some(c), Some(l)) if c < l) && !out.contains("C: APOP"),
        "{out}"
    );
    assert!(out.contains("S: +OK 4 "), "{out}");
}

#[test]
fn a_dns_failure_says_nothing_about_stls() {
    let o = popscope(&["check", "nosuchhost.invalid"]);
    assert_eq!(o.status.code(), Some(3), "{}", err_line(&o));
    assert!(err_line(&o).contains("cannot resolve"), "{}", err_line(&o));
    assert!(!err_line(&o).contains("STLS"), "{}", err_line(&o));
}

#[test]
fn the_seeds_case_names_st_009_and_the_certificate() {
    let rt = runtime();
    let row = Quirk::TlsPreauth.info();
    let s = start(&rt, row.transport.into(), Some(row.quirk));
    let r = walk_against(&rt, &s, row.client_cert, row.login.into(), row.extra);
    let st009 = r
        .findings
        .iter()
        .find(|(_, f)| f.rule.id == "ST-009" && f.severity == Severity::Violation);
    let msg = st009.map(|(_, f)| f.message.clone()).unwrap_or_default();
    assert!(
        msg.contains("client certificate") && msg.contains("SASL EXTERNAL"),
        "{msg}"
    );
    assert!(r.tls.as_ref().is_some_and(|t| t.client_cert_sent));
}

// ------------------------------------------------------------------ the binary

fn err_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim_end().to_owned()
}

#[test]
fn starttls_never_falls_back_to_plaintext_before_credentials() {
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    let o = popscope(&[
        "send",
        &s.url(),
        "--starttls",
        "--user",
        "demo",
        "--password-env",
        "DEMO_PW",
        "STAT",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", err_line(&o));
    assert!(
        err_line(&o).contains("does not offer STLS")
            && err_line(&o).contains("before sending any credential")
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let client: Vec<&str> = out.lines().filter(|l| l.starts_with("C: ")).collect();
    assert_eq!(client, vec!["C: CAPA"], "{out}");
}

#[test]
fn tls_failures_are_explained_in_one_line_with_exit_code_4() {
    let rt = runtime();
    let tls = start(&rt, TlsMode::Implicit, None);
    let plain = start(&rt, TlsMode::None, None);
    let ca = tls.certs.ca.display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["send".into(), tls.url(), "NOOP".into()],
            "unknown issuer",
        ),
        (
            vec![
                "send".into(),
                tls.url(),
                "--ca-file".into(),
                ca.clone(),
                "--sni".into(),
                "mail.example.net".into(),
                "NOOP".into(),
            ],
            "name mismatch: the certificate is for DNS:localhost, IP:127.0.0.1, IP:::1",
        ),
        (
            vec![
                "send".into(),
                plain.url().replace("pop3://", "pop3s://"),
                "NOOP".into(),
            ],
            "this port speaks plain POP3",
        ),
    ];
    for (args, needle) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = popscope(&a);
        assert_eq!(o.status.code(), Some(4), "{a:?}: {}", err_line(&o));
        assert!(err_line(&o).contains(needle), "{a:?}: {}", err_line(&o));
        assert_eq!(err_line(&o).lines().count(), 1);
    }
    // --insecure goes on, and says so.
    let o = popscope(&["send", &tls.url(), "--insecure", "NOOP"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("NOT VERIFIED") && out.contains("unknown issuer"),
        "{out}"
    );
}

#[test]
fn connection_failures_have_exit_code_3() {
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    let port = s.port();
    drop(s);
    std::thread::sleep(Duration::from_millis(100));
    let o = popscope(&["send", &format!("pop3://127.0.0.1:{port}"), "NOOP"]);
    assert_eq!(o.status.code(), Some(3), "{}", err_line(&o));
    assert!(err_line(&o).contains("refused"), "{}", err_line(&o));
    // A TLS port reached with pop3://: no greeting, and a hint.
    let tls = start(&rt, TlsMode::Implicit, None);
    let o = popscope(&[
        "send",
        &tls.url().replace("pop3s://", "pop3://"),
        "--timeout",
        "1",
        "NOOP",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", err_line(&o));
    assert!(err_line(&o).contains("use pop3s://"), "{}", err_line(&o));
}

#[test]
fn check_json_against_a_live_server_has_target_transport_tls_and_capabilities() {
    let rt = runtime();
    let row = Quirk::StlsResponseInjection.info();
    let s = start(&rt, row.transport.into(), Some(row.quirk));
    let ca = s.certs.ca.display().to_string();
    let o = popscope(&[
        "check",
        &s.url(),
        "--starttls",
        "--ca-file",
        &ca,
        "--json",
        "--injection-wait",
        "0.2",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", err_line(&o));
    let v = common::json(&o);
    for key in [
        "target",
        "transport",
        "tls",
        "capabilities",
        "summary",
        "findings",
    ] {
        assert!(!v[key].is_null(), "{key} missing: {v}");
    }
    assert_eq!(v["tls"]["verdict"], "verified");
    assert!(
        v["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["rule"] == "TLS-003")),
        "{v}"
    );
}

#[test]
fn secrets_never_reach_the_output() {
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    for method in ["user", "plain", "login", "cram-md5"] {
        let o = popscope_with(
            "s3cr3t-Passw0rd",
            &[
                "send",
                &s.url(),
                "--user",
                "demo",
                "--password-env",
                "PW",
                "--login",
                method,
                "STAT",
            ],
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!all.contains("s3cr3t-Passw0rd"), "{method}: {all}");
        // base64 of the PLAIN and LOGIN forms must not leak either.
        for leak in ["czNjcjN0LVBhc3N3MHJk", "AGRlbW8AczNjcjN0LVBhc3N3MHJk"] {
            assert!(!all.contains(leak), "{method}: {all}");
        }
    }
}

#[test]
fn a_secret_on_the_command_line_is_warned_about_and_not_echoed() {
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    let o = popscope(&["send", &s.url(), "USER demo", "PASS demo-secret", "STAT"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: 'PASS' puts a secret on the command line"),
        "{err}"
    );
    assert!(!err.contains("demo-secret"), "{err}");
    // The same login through the environment: no warning.
    let o = common::send_as_demo(&s.url(), &["STAT"]);
    assert!(String::from_utf8_lossy(&o.stderr).is_empty());
}

#[test]
fn ipv6_literals_work() {
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    if !s.addrs.iter().any(|a| a.is_ipv6()) {
        eprintln!("no ::1 on this machine: skipped");
        return;
    }
    let o = popscope(&["send", &format!("pop3://[::1]:{}", s.port()), "NOOP"]);
    assert_eq!(o.status.code(), Some(0), "{}", err_line(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("# connection 0: send [::1]:"));
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let o = popscope(&["completions", "bash"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("--starttls"));
    let o = popscope(&["man"]);
    let man = String::from_utf8_lossy(&o.stdout);
    assert!(
        man.contains(".TH popscope") && man.contains("check"),
        "{}",
        &man[..man.len().min(200)]
    );
}

// ------------------------------------------------------------------ recording

#[test]
fn recordings_keep_no_secret_and_recheck_to_the_same_findings() {
    let rt = runtime();
    let s = start(&rt, TlsMode::None, Some(Quirk::WrongListSizes));
    let dir = common::scratch_path(&format!("popscope-rec-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let password = "s3cr3t-Passw0rd";
    // The demo's own password is "demo"; these logins fail after sending the secret, which is
    // what must not be recorded. One login that works checks the re-check.
    for method in ["user", "plain", "login", "cram-md5"] {
        let file = dir.join(format!("{method}.jsonl"));
        let f = file.display().to_string();
        let o = popscope_with(
            password,
            &[
                "send",
                &s.url(),
                "--user",
                "demo",
                "--password-env",
                "PW",
                "--login",
                method,
                "--record",
                &f,
                "NOOP",
            ],
        );
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{method}: {}",
            err_line(&o)
        );
        let rec = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(rec.contains("\"redacted\":true"), "{method}: {rec}");
        for leak in [
            password,
            "czNjcjN0LVBhc3N3MHJk",
            "AGRlbW8AczNjcjN0LVBhc3N3MHJk",
        ] {
            assert!(!rec.contains(leak), "{method} leaked {leak}: {rec}");
        }
    }
    let file = dir.join("ok.jsonl").display().to_string();
    let live = common::send_as_demo(
        &s.url(),
        &[
            "--login", "user", "--record", &file, "--json", "LIST", "RETR 1", "TOP 1 0",
        ],
    );
    let live = common::json(&live);
    let again = common::recheck(&file);
    assert!(
        findings_of(&live).iter().any(|(r, _, _)| r == "MSG-006"),
        "{live:#}"
    );
    assert_eq!(
        findings_of(&live),
        findings_of(&again),
        "live {live:#}\nre-check {again:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn record_secrets_keeps_them_and_says_so() {
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    let file = common::scratch_path(&format!("popscope-keep-{}.jsonl", std::process::id()));
    let f = file.display().to_string();
    let o = common::send_as_demo(
        &s.url(),
        &[
            "--login",
            "user",
            "--record",
            &f,
            "--record-secrets",
            "NOOP",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err_line(&o));
    let rec = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        rec.lines()
            .next()
            .is_some_and(|h| h.contains("\"secrets\":\"kept\"")),
        "{rec}"
    );
    assert!(rec.contains("PASS demo"), "{rec}");
    let _ = std::fs::remove_file(&file);
}

#[test]
fn a_damaged_recording_is_checked_up_to_the_damage() {
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    let file = common::scratch_path(&format!("popscope-cut-{}.jsonl", std::process::id()));
    let f = file.display().to_string();
    let o = common::send_as_demo(&s.url(), &["--record", &f, "STAT"]);
    assert_eq!(o.status.code(), Some(0));
    let mut rec = std::fs::read_to_string(&file).unwrap_or_default();
    let lines = rec.lines().count();
    rec.push_str("{\"type\":\"data\",\"t\":9.9,\"dir\":\"ser");
    let _ = std::fs::write(&file, rec);
    let o = popscope(&["check", "--transcript", &f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err_line(&o).contains(&format!("line {}", lines + 1)),
        "{}",
        err_line(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("states: greeting → AUTHORIZATION"),
        "the part before the damage is reported"
    );
    let _ = std::fs::remove_file(&file);
}

#[test]
fn max_body_cuts_recorded_bodies_but_not_the_checks() {
    let rt = runtime();
    let s = start(&rt, TlsMode::None, Some(Quirk::WrongListSizes));
    let file = common::scratch_path(&format!("popscope-maxbody-{}.jsonl", std::process::id()));
    let f = file.display().to_string();
    let o = common::send_as_demo(
        &s.url(),
        &[
            "--record",
            &f,
            "--max-body",
            "1000",
            "--json",
            "LIST",
            "RETR 4",
            "RETR 1",
        ],
    );
    let live = common::json(&o);
    // The live checks saw the whole 1 MB body: LIST and RETR disagree by exactly 17 octets.
    assert!(
        live["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["rule"] == "MSG-006"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("1000037") && m.contains("1000020"))),
        "{live:#}"
    );
    let rec = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(rec.len() < 20_000, "{} octets recorded", rec.len());
    let marker = rec
        .lines()
        .find(|l| l.contains("\"type\":\"truncated\""))
        .unwrap_or_default();
    // USER and PASS (auto login without CAPA), LIST, then RETR 4 is exchange 4.
    assert!(marker.contains("\"exchange\":4"), "{marker}");
    // RETR 1 (278 octets) is kept whole, terminator included.
    assert!(rec.contains("Step through the session by hand"));
    let _ = std::fs::remove_file(&file);
}

#[test]
fn a_server_that_only_speaks_old_tls_is_explained() {
    if Command::new("openssl").arg("version").output().is_err() {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but openssl is missing"
        );
        return;
    }
    // The demo's certificate, served by OpenSSL limited to TLS 1.1.
    let rt = runtime();
    let s = start(&rt, TlsMode::Implicit, None);
    let certs = common::scratch_path(&format!("popscope-oldtls-{}", std::process::id()));
    let o = popscope(&["serve", "--write-certs", &certs.display().to_string()]);
    assert_eq!(o.status.code(), Some(0));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        l.local_addr().map(|a| a.port()).unwrap_or(0)
    };
    let mut server = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-accept",
            &port.to_string(),
            "-tls1_1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
        ])
        .args([
            "-cert",
            &certs.join("server.pem").display().to_string(),
            "-key",
            &certs.join("server-key.pem").display().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(500));
    let o = popscope(&[
        "send",
        &format!("pop3s://127.0.0.1:{port}"),
        "--ca-file",
        &certs.join("ca.pem").display().to_string(),
        "NOOP",
    ]);
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&certs);
    drop(s);
    assert_eq!(o.status.code(), Some(4), "{}", err_line(&o));
    assert!(
        err_line(&o).contains("does not speak TLS 1.2 or 1.3"),
        "{}",
        err_line(&o)
    );
}

/// P25 sends a token again only when the walk's login with it worked; a user name the OAuth
/// framing cannot carry skips P24 with a note, and the probes after it still run.
#[test]
fn the_oauth_probes_do_not_resend_a_refused_token_or_stop_the_walk() {
    let rt = runtime();
    let s = start(&rt, TlsMode::Implicit, None);
    let ca = s.certs.ca.display().to_string();
    let url = s.url();
    let run = |user: &str, extra: &[&str]| {
        let mut args = vec![
            "check",
            url.as_str(),
            "--ca-file",
            ca.as_str(),
            "--user",
            user,
        ];
        args.extend(extra);
        args.push("--json");
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_popscope"))
            .args(&args)
            .env("PW", "demo")
            .env("BAD", "not-the-token")
            .output()
            .unwrap_or_else(|e| panic!("cannot run popscope: {e}"));
        common::json(&o)
    };
    let refused = run("demo", &["--token-env", "BAD"]);
    let text = refused.to_string();
    assert!(text.contains("probe P25 skipped"), "{text}");
    assert!(!text.contains("probe P25: OAUTHBEARER"), "{text}");
    assert!(text.contains("probe P24: OAUTHBEARER"), "{text}");

    let odd = run("al\u{1}ice", &["--password-env", "PW"]);
    let text = odd.to_string();
    assert!(
        text.contains("probe P24: OAUTHBEARER without a token: not sent"),
        "{text}"
    );
    assert!(text.contains("probe P14/P18"), "{text}");
    assert!(!text.contains("a probe stopped"), "{text}");
}
