//! `check --targets … --record DIR`: one recording per target, each re-checking offline to
//! what the fleet reported for it; safe file names from hostile target lines; a planted link
//! or an existing file refused for its target alone; no password in any file.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::fleet::{check_targets, lines, plain_quirks, private};
use common::{popscope_with, runtime};
use popscope::server::{self, Running, ServeOptions, TlsMode};
use popscope_core::server::Quirk;

/// Not the user name: a password that shows up in a file can only be the password.
const PASSWORD: &str = "Fl33t-s3cr3t-pw";

fn serve(rt: &tokio::runtime::Runtime, tls: TlsMode, quirk: Option<Quirk>) -> Running {
    rt.block_on(server::start(ServeOptions {
        port: 0,
        tls,
        quirk,
        user: "demo".into(),
        password: PASSWORD.into(),
    }))
    .unwrap_or_else(|e| panic!("demo server: {e}"))
}

/// A folder of its own for one test, and the folder its --record DIR goes in.
fn scratch(name: &str) -> PathBuf {
    let d = common::scratch_path(name);
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
    d
}

/// `check --targets FILE --credentials … --json --record DIR EXTRA…`, the demo user logging
/// in everywhere.
fn fleet(at: &Path, targets: &str, dir: &Path, extra: &[&str]) -> std::process::Output {
    let file = private(
        &format!(
            "{}-targets",
            at.file_name().and_then(|n| n.to_str()).unwrap_or("t")
        ),
        targets,
    );
    let creds = private(
        &format!(
            "{}-creds",
            at.file_name().and_then(|n| n.to_str()).unwrap_or("t")
        ),
        "* user demo password-env PW\n",
    );
    let dir = dir.display().to_string();
    check_targets(
        PASSWORD,
        &file,
        &creds,
        &[&["--record", &dir][..], extra].concat(),
    )
}

fn by_line(objects: &[serde_json::Value], line: u64) -> &serde_json::Value {
    objects
        .iter()
        .find(|o| o["line"] == line)
        .unwrap_or_else(|| panic!("no line {line}: {objects:?}"))
}

/// (rule, severity, exchange) of every finding of a report: a fleet's object (its walk's
/// connections) or a re-check (its sessions, one per recorded connection).
fn findings(v: &serde_json::Value) -> Vec<(String, String, u64)> {
    let mut all: Vec<(String, String, u64)> = Vec::new();
    let parts = v["sessions"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![v.clone()]);
    for part in &parts {
        all.extend(common::findings_of(part));
    }
    all.sort();
    all
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

#[test]
fn each_target_gets_a_recording_that_rechecks_to_its_findings() {
    let rt = runtime();
    let quirk = plain_quirks(1)[0];
    let servers = [
        serve(&rt, TlsMode::Starttls, None),
        serve(&rt, TlsMode::Starttls, Some(quirk.quirk)),
        serve(&rt, TlsMode::Starttls, None),
    ];
    let text: String = servers.iter().map(|s| format!("{}\n", s.url())).collect();
    let at = scratch("three");
    let dir = at.join("recordings/nested");
    let o = fleet(&at, &text, &dir, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "the quirk's violation: {err}");
    let (objects, _) = lines(&o);
    assert_eq!(objects.len(), 3);
    assert_eq!(mode(&dir), 0o700, "DIR created private, with its parents");
    let expected: Vec<String> = (1..=3)
        .map(|n| format!("{n}-127.0.0.1-{}-pop3.jsonl", servers[n - 1].port()))
        .collect();
    assert_eq!(files_in(&dir), expected);
    for (n, name) in expected.iter().enumerate() {
        let v = by_line(&objects, n as u64 + 1);
        let path = dir.join(name);
        assert_eq!(v["recording"], path.display().to_string(), "{v}");
        assert_eq!(mode(&path), 0o600, "{name}");
        let again = common::json(&popscope_with(
            PASSWORD,
            &[
                "check",
                "--transcript",
                &path.display().to_string(),
                "--json",
            ],
        ));
        assert!(!findings(v).is_empty(), "{v}");
        assert_eq!(
            findings(v),
            findings(&again),
            "line {}: {v:#}\n{again:#}",
            n + 1
        );
        let recorded = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(recorded.contains("\"secrets\":\"redacted\""), "{name}");
    }
    // The quirk's rules are in its target's recording, not in the clean ones'.
    let quirky = common::rule_ids(by_line(&objects, 2));
    for rule in quirk.expected_rules {
        assert!(quirky.iter().any(|r| r == rule), "{rule}: {quirky:?}");
    }
    // Again into the same folder: every file is there, so every target says so.
    let o = fleet(&at, &text, &dir, &[]);
    assert_eq!(o.status.code(), Some(2));
    for v in lines(&o).0 {
        assert!(v["recording"].is_null(), "{v}");
        assert!(v["notes"].to_string().contains("--force"), "{v}");
        assert!(v["error"].is_null(), "checked all the same: {v}");
    }
}

#[test]
fn no_recording_holds_the_password_unless_record_secrets() {
    let rt = runtime();
    // No STLS: the password goes over the wire (USER/PASS), so a file could hold it.
    let servers = [
        serve(&rt, TlsMode::None, None),
        serve(&rt, TlsMode::None, None),
    ];
    let text: String = servers.iter().map(|s| format!("{}\n", s.url())).collect();
    let at = scratch("secrets");
    let dir = at.join("rec");
    let leaks = |dir: &Path| -> Vec<bool> {
        files_in(dir)
            .iter()
            .map(|n| {
                let bytes = std::fs::read(dir.join(n)).unwrap_or_default();
                bytes
                    .windows(PASSWORD.len())
                    .any(|w| w == PASSWORD.as_bytes())
            })
            .collect()
    };
    let o = fleet(&at, &text, &dir, &["--login", "user", "--passive"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(lines(&o).0.iter().all(|v| v["logged_in"] == true));
    assert_eq!(leaks(&dir), [false, false]);
    // The control: the same run with --record-secrets keeps it in every file.
    let o = fleet(
        &at,
        &text,
        &dir,
        &[
            "--login",
            "user",
            "--passive",
            "--force",
            "--record-secrets",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(leaks(&dir), [true, true]);
}

#[test]
fn hostile_target_names_make_safe_file_names_in_the_folder() {
    let rt = runtime();
    let s = serve(&rt, TlsMode::Starttls, None);
    let long = "x".repeat(200);
    let text = format!(
        "pop3://[::1]:{p}\npop3://..:{p}\npop3s://{long}.invalid:{p}\n127.0.0.1:{p}\n",
        p = s.port()
    );
    let at = scratch("hostile");
    let dir = at.join("rec");
    let o = fleet(&at, &text, &dir, &["--passive", "--tls-port", "1"]);
    let (objects, _) = lines(&o);
    assert_eq!(objects.len(), 4, "{}", String::from_utf8_lossy(&o.stderr));
    let names = files_in(&dir);
    assert_eq!(names.len(), 4, "{names:?}");
    for name in &names {
        assert!(name.len() <= 100, "{name}");
        assert!(!name.contains(".."), "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
            "{name}"
        );
    }
    let p = s.port();
    assert!(
        names.contains(&format!("1-__1-{p}-pop3.jsonl")),
        "{names:?}"
    );
    assert!(names.contains(&format!("2-.-{p}-pop3.jsonl")), "{names:?}");
    assert!(
        names.contains(&format!("4-127.0.0.1-{p}-host.jsonl")),
        "{names:?}"
    );
    // Nothing was written beside the folder.
    assert_eq!(
        files_in(&at)
            .iter()
            .filter(|n| !n.ends_with("-targets") && !n.ends_with("-creds"))
            .collect::<Vec<_>>(),
        ["rec"]
    );
    // The IPv6 literal's target was checked and recorded like any other (where the machine
    // has an IPv6 loopback for the demo server to listen on too).
    let v6 = by_line(&objects, 1);
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        assert!(v6["error"].is_null(), "{v6}");
        let path = dir.join(format!("1-__1-{p}-pop3.jsonl"));
        assert_eq!(v6["recording"], path.display().to_string());
        assert!(std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) > 0);
    }
}

#[test]
fn a_planted_link_is_refused_for_its_target_alone() {
    let rt = runtime();
    let s = serve(&rt, TlsMode::Starttls, None);
    let at = scratch("planted");
    let dir = at.join("rec");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let victim = at.join("victim");
    std::fs::write(&victim, "untouched").unwrap_or_else(|e| panic!("{e}"));
    let p = s.port();
    std::os::unix::fs::symlink(&victim, dir.join(format!("2-127.0.0.1-{p}-pop3.jsonl")))
        .unwrap_or_else(|e| panic!("{e}"));
    let text = format!("{u}\n{u}\n{u}\n", u = s.url());
    for extra in [&[][..], &["--force"][..]] {
        let o = fleet(&at, &text, &dir, extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        let (objects, _) = lines(&o);
        let linked = by_line(&objects, 2);
        assert!(linked["recording"].is_null(), "{linked}");
        assert!(
            linked["notes"].to_string().contains("symbolic link"),
            "{linked}"
        );
        assert!(linked["error"].is_null(), "checked all the same: {linked}");
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap_or_default(),
            "untouched"
        );
        if extra.is_empty() {
            for line in [1, 3] {
                let v = by_line(&objects, line);
                assert!(v["recording"].is_string(), "{v}");
                assert!(!v["notes"].to_string().contains("--record"), "{v}");
            }
        }
    }
    // Text lines show no notes: the refusal is one line on stderr, naming the target.
    let targets = private("planted-text-targets", &text);
    let dir_arg = dir.display().to_string();
    let o = popscope_with(
        PASSWORD,
        &[
            "check",
            "--targets",
            &targets,
            "--passive",
            "--record",
            &dir_arg,
            "--force",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("popscope: {}: --record: ", s.url()))
            && err.contains("symbolic link"),
        "{err}"
    );
    // A --record DIR that is a link is refused before anything is checked.
    let link = at.join("link");
    std::os::unix::fs::symlink(&dir, &link).unwrap_or_else(|e| panic!("{e}"));
    let o = fleet(&at, &text, &link, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--record") && err.contains("symbolic link"),
        "{err}"
    );
}

/// A server that greets, then reads and never answers: a check of it can only end at the
/// deadline.
fn greets_then_stalls() -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        for mut s in l.incoming().take(4).flatten() {
            std::thread::spawn(move || {
                let _ = s.write_all(b"+OK stalling greeting\r\n");
                let mut sink = [0u8; 512];
                while s.read(&mut sink).is_ok_and(|n| n > 0) {}
            });
        }
    });
    port
}

#[test]
fn a_target_past_its_deadline_or_refused_still_names_its_synced_recording() {
    let stalled = greets_then_stalls();
    let dead = common::fleet::dead_port();
    let text = format!("pop3://127.0.0.1:{stalled}\npop3://127.0.0.1:{dead}\n");
    let at = scratch("deadline");
    let dir = at.join("rec");
    let o = fleet(&at, &text, &dir, &["--target-timeout", "1"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (objects, summary) = lines(&o);
    assert_eq!(summary["failed"], 2);
    let late = by_line(&objects, 1);
    assert!(
        late["error"]["message"]
            .to_string()
            .contains("--target-timeout"),
        "{late}"
    );
    let path = dir.join(format!("1-127.0.0.1-{stalled}-pop3.jsonl"));
    assert_eq!(late["recording"], path.display().to_string(), "{late}");
    // What came before the deadline is in the file, and it reads back.
    let recorded = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(recorded.contains("stalling greeting"), "{recorded}");
    let again = popscope_with(
        PASSWORD,
        &[
            "check",
            "--transcript",
            &path.display().to_string(),
            "--json",
        ],
    );
    assert_ne!(
        again.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let refused = by_line(&objects, 2);
    assert!(refused["error"].is_object(), "{refused}");
    let path = dir.join(format!("2-127.0.0.1-{dead}-pop3.jsonl"));
    assert_eq!(
        refused["recording"],
        path.display().to_string(),
        "{refused}"
    );
}

#[test]
fn force_replaces_a_junit_file_without_record_and_alone_is_refused() {
    let dead = common::fleet::dead_port();
    let at = scratch("force");
    let junit = at.join("report.xml");
    std::fs::write(&junit, "old").unwrap_or_else(|e| panic!("{e}"));
    let file = private("force-targets", &format!("pop3://127.0.0.1:{dead}\n"));
    let j = junit.display().to_string();
    let o = popscope_with(
        PASSWORD,
        &[
            "check",
            "--targets",
            &file,
            "--json",
            "--junit",
            &j,
            "--force",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    assert!(xml.contains("<testsuites"), "{xml}");
    // The control: without --force the file there is refused.
    let o = popscope_with(PASSWORD, &["check", "--targets", &file, "--junit", &j]);
    assert_eq!(o.status.code(), Some(2));
    // --force with nothing to replace is a usage error, before anything connects.
    for args in [
        vec!["check", "--targets", &file, "--force"],
        vec!["send", "pop3://127.0.0.1:1", "NOOP", "--force"],
    ] {
        let o = popscope_with(PASSWORD, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("--force replaces"), "{args:?}: {err}");
    }
}

/// How many client lines of a recording's sessions carry a credential (a PASS other than the
/// probes' made-up one, an AUTH PLAIN response), in the clear and over TLS; and whether any DELE
/// was sent.
fn credentials_sent(path: &Path) -> (usize, usize, bool) {
    let file = path.display().to_string();
    let exported = popscope_with(PASSWORD, &["export", &file, "--to", "text"]);
    let text = String::from_utf8_lossy(&exported.stdout);
    let (mut tls, mut after_plain, mut dele) = (false, false, false);
    let (mut in_clear, mut over_tls) = (0, 0);
    for line in text.lines() {
        if line.starts_with("# ") {
            tls = false;
        } else if line.starts_with("-- tls") && !line.starts_with("-- tls-failed") {
            tls = true;
        } else if let Some(sent) = line.strip_prefix("C: ") {
            let upper = sent.to_ascii_uppercase();
            dele |= upper.starts_with("DELE");
            // `AUTH PLAIN` alone: its response is the next client line.
            let secret = (upper.starts_with("PASS ") && !sent.ends_with("popscope-probe"))
                || upper.starts_with("AUTH PLAIN ")
                || (after_plain && !sent.is_empty() && sent != "*");
            after_plain = upper == "AUTH PLAIN";
            if secret {
                *(if tls { &mut over_tls } else { &mut in_clear }) += 1;
            }
        }
    }
    (in_clear, over_tls, dele)
}

#[test]
fn a_fleets_probes_send_no_password_in_the_clear_and_no_dele() {
    // Its plain leg offers SASL PLAIN and LOGIN before TLS: a login there would be in the clear.
    let server = common::serve::Served::start(&["--quirk", "capa-differs-after-tls"]);
    // A bare host: every transport it offers, the plain leg among them.
    let text = format!("127.0.0.1:{}\n", server.port);
    let at = scratch("clear");
    let path = |dir: &Path| dir.join(format!("1-127.0.0.1-{}-host.jsonl", server.port));
    let targets = private("clear-targets", &text);
    let creds = private("clear-creds", "* user demo password-env PW\n");
    // The demo's own password: the logins succeed, so the walk goes on to where DELE would be.
    let fleet = |dir: &Path, extra: &[&str]| {
        let dir = dir.display().to_string();
        check_targets(
            "demo",
            &targets,
            &creds,
            &[&["--record", &dir][..], extra].concat(),
        )
    };
    let dir = at.join("rec");
    let args = ["--record-secrets", "--ca-file", &server.ca];
    let o = fleet(&dir, &args);
    assert_ne!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (in_clear, over_tls, dele) = credentials_sent(&path(&dir));
    assert_eq!(in_clear, 0, "a credential in the clear");
    assert!(over_tls > 0, "the logins over TLS are in the recording");
    assert!(!dele, "DELE without --allow-delete");
    // The control: asked to, it does log in on the plain leg and send DELE, and both are seen.
    let dir = at.join("allowed");
    let allowed = ["--allow-plaintext-login", "--allow-delete"];
    let o = fleet(&dir, &[&args[..], &allowed].concat());
    assert_ne!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (in_clear, _, dele) = credentials_sent(&path(&dir));
    assert!(
        in_clear > 0 && dele,
        "the plain-leg login or the DELE not seen"
    );
}
