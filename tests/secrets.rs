//! Secrets stay secret in every output: finding messages quote commands with their secrets
//! masked, a login in the clear is announced first, and `replay --against --record` records.

mod common;

use common::{Step, popscope, scripted};
use popscope_core::{Config, Engine, Event, Time, TransportEvent};

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
        assert!(
            stdout.contains("GEN-006") || stdout.contains("ST-004"),
            "{line:?}: {stdout}"
        );
        assert!(!stdout.contains("hunter2"), "{line:?} stdout: {stdout}");
        assert!(!stderr.contains("hunter2"), "{line:?} stderr: {stderr}");
        let recorded = std::fs::read_to_string(&rec).unwrap();
        assert!(
            recorded.contains("GEN-006")
                || recorded.contains("ST-004")
                || recorded.contains("USER demo"),
            "{recorded}"
        );
        assert!(
            !recorded.contains("hunter2"),
            "{line:?} recording: {recorded}"
        );
    }
}

const WARNING: &str = "without TLS although the server offers STLS";

/// A server whose CAPA lists `caps` (STLS or not), and that takes USER/PASS (or AUTH PLAIN)
/// and answers everything after `+OK`; `lines` lines after the greeting, then it closes.
fn login_server(caps: &str, lines: usize) -> u16 {
    let mut steps = vec![
        Step::Send(b"+OK ready\r\n".to_vec()),
        Step::ReadLine,
        Step::Send(format!("+OK\r\n{caps}.\r\n").into_bytes()),
    ];
    for _ in 0..lines {
        steps.push(Step::ReadLine);
        steps.push(Step::Send(b"+OK 0 0\r\n".to_vec()));
    }
    steps.push(Step::Close);
    scripted(steps)
}

const WITH_STLS: &str = "USER\r\nSTLS\r\n";
const PLAIN_ONLY: &str = "USER\r\n";

#[test]
fn send_says_before_a_cleartext_login_that_the_password_goes_in_the_clear() {
    let url = format!("pop3://127.0.0.1:{}", login_server(WITH_STLS, 4));
    let o = common::send_as_demo(&url, &["STAT"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains(WARNING), "stderr: {stderr}");
    assert!(stderr.contains("--starttls or pop3s://"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("C: PASS"), "{stdout}");
    assert!(!stdout.contains(WARNING), "{stdout}");
}

#[test]
fn send_json_puts_the_cleartext_warning_in_notes_and_keeps_stderr_quiet() {
    let url = format!("pop3://127.0.0.1:{}", login_server(WITH_STLS, 4));
    let o = common::send_as_demo(&url, &["STAT", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    let notes = v["notes"].as_array().cloned().unwrap_or_default();
    assert_eq!(notes.len(), 1, "{v}");
    assert!(
        notes[0].as_str().unwrap_or_default().contains(WARNING),
        "{v}"
    );
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_plain_only_server_gets_no_cleartext_warning() {
    let url = format!("pop3://127.0.0.1:{}", login_server(PLAIN_ONLY, 4));
    let o = common::send_as_demo(&url, &["STAT"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains(WARNING), "{stderr}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("C: PASS"));
    let url = format!("pop3://127.0.0.1:{}", login_server(PLAIN_ONLY, 4));
    let o = common::send_as_demo(&url, &["STAT", "--json"]);
    assert!(
        common::json(&o)["notes"].is_null(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

fn recording(dir: &std::path::Path) -> std::path::PathBuf {
    let f = dir.join("old.trace");
    std::fs::write(
        &f,
        "S: +OK ready\nC: STAT\nS: +OK 0 0\nC: QUIT\nS: +OK bye\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    f
}

#[test]
fn replay_against_warns_before_a_cleartext_login() {
    let d = tempfile::tempdir().unwrap();
    let f = recording(d.path());
    let url = format!("pop3://127.0.0.1:{}", login_server(WITH_STLS, 4));
    let o = popscope(&[
        "replay",
        f.to_str().unwrap(),
        "--against",
        &url,
        "--user",
        "demo",
        "--password-env",
        "PW",
        "--headless",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(WARNING),
        "stderr: {stderr}\nstdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn replay_against_records_the_new_session() {
    let d = tempfile::tempdir().unwrap();
    let f = recording(d.path());
    let rec = d.path().join("new.jsonl");
    let url = format!("pop3://127.0.0.1:{}", login_server(PLAIN_ONLY, 4));
    let o = popscope(&[
        "replay",
        f.to_str().unwrap(),
        "--against",
        &url,
        "--user",
        "demo",
        "--password-env",
        "PW",
        "--headless",
        "--record",
        rec.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&rec).unwrap_or_else(|e| panic!("no recording: {e}\n{out}"));
    assert!(text.contains("STAT"), "{text}");
    assert!(text.contains("USER demo"), "{text}");
    assert!(
        !text.contains("PASS demo"),
        "the password is redacted: {text}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&rec).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The recording re-checks offline.
    let v = common::recheck(rec.to_str().unwrap());
    assert!(v["findings"].is_array(), "{v}");

    // A symbolic link is refused before anything is sent; a full disk is exit 2 at the end.
    let victim = d.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let link = d.path().join("link.jsonl");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let url = format!("pop3://127.0.0.1:{}", yes_server(2));
    let o = popscope(&[
        "replay",
        f.to_str().unwrap(),
        "--against",
        &url,
        "--headless",
        "--record",
        link.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let url = format!("pop3://127.0.0.1:{}", yes_server(2));
    let o = popscope(&[
        "replay",
        f.to_str().unwrap(),
        "--against",
        &url,
        "--headless",
        "--record",
        "/dev/full",
        "--force",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--record"), "{stderr}");
}

/// What a session observer saw, in order: notes as `note: …`, client octets as `C: …`.
#[derive(Clone, Default)]
struct Seen(std::sync::Arc<std::sync::Mutex<Vec<Sighting>>>);

/// One thing an observer saw: a line to order by, and the note itself when it was one.
type Sighting = (String, Option<popscope::session::Note>);

impl popscope::session::Observer for Seen {
    fn wire(&mut self, _at: Time, dir: popscope_core::Direction, bytes: &[u8]) {
        if dir == popscope_core::Direction::Client {
            let line = format!("C: {}", String::from_utf8_lossy(bytes).trim_end());
            if let Ok(mut v) = self.0.lock() {
                v.push((line, None));
            }
        }
    }
    fn note(&mut self, _at: Time, note: &popscope::session::Note) {
        if let popscope::session::Note::Warning(t) = note
            && let Ok(mut v) = self.0.lock()
        {
            v.push((format!("note: {t}"), Some(note.clone())));
        }
    }
}

/// The UI's login path (CAPA, then login::login, as src/session/task.rs `start` runs it):
/// the warning reaches the observer before the credential goes, and the UI shows it in the
/// transcript.
#[test]
fn the_ui_login_path_warns_before_auth_plain_in_the_clear() {
    use popscope::cli::connect::ConnArgs;
    use popscope::session::login::{self, Credentials, Method};
    let port = login_server("SASL PLAIN\r\nSTLS\r\n", 2);
    let target = popscope::transport::Target::parse(&format!("pop3://127.0.0.1:{port}")).unwrap();
    let opts = ConnArgs {
        connect_timeout: 5,
        timeout: 5,
        ..ConnArgs::default()
    }
    .options(
        &target,
        popscope::transport::Scheme::Pop3,
        Config::default(),
    );
    let seen = Seen::default();
    let rt = common::runtime();
    rt.block_on(async {
        let (mut c, _) = popscope::session::Connection::open(&opts, Box::new(seen.clone()))
            .await
            .unwrap();
        popscope::session::secure::prepare(&mut c, false, true)
            .await
            .unwrap();
        let creds = Credentials {
            user: "demo".into(),
            password: Some(popscope_core::Secret::new(b"hunter2".to_vec())),
            ..Credentials::default()
        };
        login::login(&mut c, Method::Auto, &creds).await.unwrap();
        c.close().await;
    });
    let seen = seen.0.lock().unwrap().clone();
    let order: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
    let warned = order
        .iter()
        .position(|s| s.starts_with("note:") && s.contains(WARNING));
    let auth = order.iter().position(|s| s.starts_with("C: AUTH PLAIN"));
    assert!(
        matches!((warned, auth), (Some(w), Some(a)) if w < a),
        "{order:#?}"
    );
    // The UI shows the note in its transcript.
    use popscope::session::task::Update;
    use popscope::tui::{Theme, keys};
    let theme = Theme::load("dark").unwrap();
    let mut app = popscope::tui::app::App::new(
        target.url(popscope::transport::Scheme::Pop3),
        theme,
        keys::defaults(),
    );
    let note = seen.iter().find_map(|(_, n)| n.clone()).unwrap();
    app.apply(Update::Note(Time(5), note));
    let shown: Vec<String> = (0..app.transcript.len())
        .filter_map(|i| app.transcript.get(i))
        .map(|r| r.text.clone())
        .collect();
    assert!(
        shown
            .iter()
            .any(|t| t.starts_with("warning: logging in on pop3://127.0.0.1")),
        "{shown:?}"
    );
}

#[test]
fn send_sends_no_credential_after_an_unanswered_capa() {
    let port = scripted(vec![
        Step::Send(b"+OK ready\r\n".to_vec()),
        Step::ReadLine,
        Step::Sleep(3000),
        Step::Close,
    ]);
    let url = format!("pop3://127.0.0.1:{port}");
    let o = common::send_as_demo(&url, &["--timeout", "1", "STAT"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(out.contains("C: CAPA") && !out.contains("C: USER"), "{out}");
    assert!(err.contains("CAPA before the login"), "{err}");
    assert_ne!(o.status.code(), Some(0));
}
