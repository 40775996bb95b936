//! Logging in with a bearer token (issue 13): `--login xoauth2|oauthbearer`, `--sasl-form`,
//! the token sources, the error challenge answered and explained, and the token kept out of
//! every output and the recording.

mod common;

use std::process::Output;

use common::{Step, scripted_heard};
use popscope_core::auth::{b64decode, b64encode};

const TOKEN: &str = "ya29.s3cr3t-b3ar3r-t0k3n";

/// A server with CAPA `caps`, then `login` (the steps of the AUTH exchange), then STAT and
/// QUIT answered; and the lines it read.
fn server(caps: &str, login: Vec<Step>) -> (u16, std::sync::mpsc::Receiver<String>) {
    let mut steps = vec![
        Step::Send(b"+OK ready\r\n".to_vec()),
        Step::ReadLine,
        Step::Send(format!("+OK\r\n{caps}.\r\n").into_bytes()),
    ];
    steps.extend(login);
    steps.extend([
        Step::ReadLine,
        Step::Send(b"+OK 0 0\r\n".to_vec()),
        Step::ReadLine,
        Step::Send(b"+OK bye\r\n".to_vec()),
        Step::Close,
    ]);
    scripted_heard(steps)
}

fn accept_one_line() -> Vec<Step> {
    vec![Step::ReadLine, Step::Send(b"+OK welcome\r\n".to_vec())]
}

fn accept_two_line() -> Vec<Step> {
    vec![
        Step::ReadLine,
        Step::Send(b"+ \r\n".to_vec()),
        Step::ReadLine,
        Step::Send(b"+OK welcome\r\n".to_vec()),
    ]
}

/// `popscope send pop3://127.0.0.1:PORT --user demo ARGS… STAT QUIT` with `token` in `TOK`.
fn send(port: u16, token: &str, args: &[&str]) -> Output {
    let url = format!("pop3://127.0.0.1:{port}");
    std::process::Command::new(env!("CARGO_BIN_EXE_popscope"))
        .args(["send", &url, "--user", "demo"])
        .args(args)
        .args(["STAT", "QUIT"])
        .env("TOK", token)
        .env_remove("SSLKEYLOGFILE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run popscope: {e}"))
}

fn heard(rx: &std::sync::mpsc::Receiver<String>) -> Vec<String> {
    rx.try_iter().collect()
}

/// The base64 text after `AUTH MECH ` or of a response line, decoded.
fn decoded(b64: &str) -> String {
    String::from_utf8(b64decode(b64.as_bytes()).unwrap_or_else(|| panic!("not base64: {b64}")))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Neither the token nor any base64 that carries it is in `o`'s output or the `recording`.
fn assert_secret(o: &Output, recording: Option<&std::path::Path>, token: &str, lines: &[String]) {
    let mut forms = vec![token.to_owned(), b64encode(token.as_bytes())];
    forms.extend(lines.iter().filter_map(|l| {
        let last = l.rsplit(' ').next()?;
        (last.len() > 8 && decoded_opt(last).is_some_and(|d| d.contains(token)))
            .then(|| last.to_owned())
    }));
    assert!(
        forms.len() >= 3,
        "the wire carried no base64 of the token: {lines:?}"
    );
    let mut outputs = vec![
        ("stdout", String::from_utf8_lossy(&o.stdout).into_owned()),
        ("stderr", String::from_utf8_lossy(&o.stderr).into_owned()),
    ];
    if let Some(r) = recording {
        let text = std::fs::read_to_string(r).unwrap_or_else(|e| panic!("no recording: {e}"));
        assert!(text.contains("AUTH "), "{text}");
        outputs.push(("recording", text));
    }
    for (name, text) in &outputs {
        for form in &forms {
            assert!(!text.contains(form.as_str()), "{name} holds {form}: {text}");
        }
    }
}

fn decoded_opt(b64: &str) -> Option<String> {
    String::from_utf8(b64decode(b64.as_bytes())?).ok()
}

#[test]
fn xoauth2_one_line_sends_user_and_token_on_the_auth_line_and_keeps_the_token_secret() {
    let (port, rx) = server("SASL XOAUTH2\r\n", accept_one_line());
    let d = tempfile::tempdir().unwrap();
    let rec = d.path().join("r.jsonl");
    let o = send(
        port,
        TOKEN,
        &[
            "--login",
            "xoauth2",
            "--token-env",
            "TOK",
            "--record",
            rec.to_str().unwrap(),
        ],
    );
    let lines = heard(&rx);
    let ir = lines[1]
        .strip_prefix("AUTH XOAUTH2 ")
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(
        decoded(ir),
        format!("user=demo\x01auth=Bearer {TOKEN}\x01\x01")
    );
    assert_eq!(lines[2], "STAT", "{lines:?}");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_secret(&o, Some(&rec), TOKEN, &lines);
}

#[test]
fn oauthbearer_two_line_waits_for_the_continuation_then_sends_host_and_port() {
    let (port, rx) = server("SASL OAUTHBEARER\r\n", accept_two_line());
    let o = send(
        port,
        TOKEN,
        &[
            "--login",
            "oauthbearer",
            "--sasl-form",
            "two-line",
            "--token-env",
            "TOK",
            "--json",
        ],
    );
    let lines = heard(&rx);
    assert_eq!(lines[1], "AUTH OAUTHBEARER", "{lines:?}");
    assert_eq!(
        decoded(&lines[2]),
        format!("n,a=demo,\x01host=127.0.0.1\x01port={port}\x01auth=Bearer {TOKEN}\x01\x01")
    );
    assert_eq!(lines[3], "STAT", "{lines:?}");
    assert_secret(&o, None, TOKEN, &lines);
}

#[test]
fn auto_with_a_token_chooses_oauthbearer_over_xoauth2_and_plain() {
    let (port, rx) = server(
        "USER\r\nSASL PLAIN XOAUTH2 OAUTHBEARER\r\n",
        accept_one_line(),
    );
    let o = send(port, TOKEN, &["--token-env", "TOK"]);
    let lines = heard(&rx);
    assert!(lines[1].starts_with("AUTH OAUTHBEARER "), "{lines:?}");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn auto_with_only_xoauth2_offered_chooses_it() {
    let (port, rx) = server("SASL PLAIN XOAUTH2\r\n", accept_one_line());
    send(port, TOKEN, &["--token-env", "TOK"]);
    assert!(heard(&rx)[1].starts_with("AUTH XOAUTH2 "));
}

#[test]
fn a_1200_octet_token_goes_on_its_own_line_under_auto() {
    let token = "a".repeat(1200);
    let (port, rx) = server("SASL XOAUTH2\r\n", accept_two_line());
    let o = send(port, &token, &["--login", "xoauth2", "--token-env", "TOK"]);
    let lines = heard(&rx);
    assert_eq!(lines[1], "AUTH XOAUTH2", "{lines:?}");
    assert_eq!(
        decoded(&lines[2]),
        format!("user=demo\x01auth=Bearer {token}\x01\x01")
    );
    assert_secret(&o, None, &token, &lines);
}

/// A JWT (unsigned: nothing verifies it) with these claims.
fn jwt(claims: &str) -> String {
    let url = |s: &str| {
        b64encode(s.as_bytes())
            .trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_")
    };
    format!(
        "{}.{}.c2ln",
        url(r#"{"alg":"RS256","typ":"JWT"}"#),
        url(claims)
    )
}

fn refuse_with_challenge(challenge: &str) -> Vec<Step> {
    vec![
        Step::ReadLine,
        Step::Send(format!("+ {}\r\n", b64encode(challenge.as_bytes())).into_bytes()),
        Step::ReadLine,
        Step::Send(b"-ERR authentication failed\r\n".to_vec()),
    ]
}

#[test]
fn an_error_challenge_gets_the_dummy_response_and_is_explained_with_the_jwt_claims() {
    let token = jwt(
        r#"{"exp":1000000000,"scp":"IMAP.AccessAsUser.All","aud":"https://outlook.office.com"}"#,
    );
    let scope = "https://outlook.office.com/POP.AccessAsUser.All";
    let challenge = format!(r#"{{"status":"invalid_token","scope":"{scope}"}}"#);
    let (port, rx) = server("SASL OAUTHBEARER\r\n", refuse_with_challenge(&challenge));
    let d = tempfile::tempdir().unwrap();
    let rec = d.path().join("r.jsonl");
    let o = send(
        port,
        &token,
        &[
            "--login",
            "oauthbearer",
            "--sasl-form",
            "one-line",
            "--token-env",
            "TOK",
            "--record",
            rec.to_str().unwrap(),
        ],
    );
    let lines = heard(&rx);
    // The JWT makes the AUTH line longer than 255 octets: sent anyway, as asked.
    assert!(lines[1].starts_with("AUTH OAUTHBEARER "), "{lines:?}");
    assert!(lines[1].len() > 253, "{lines:?}");
    assert_eq!(lines[2], "AQ==", "{lines:?}");
    // The dummy response carries no secret: the transcript shows it as sent.
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.lines().any(|l| l == "C: AQ=="), "{stdout}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("refused the token"))
        .collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(said[0].contains("status invalid_token"), "{stderr}");
    assert!(
        said[0].contains(&format!("the server wants scope {scope}")),
        "{stderr}"
    );
    assert!(said[0].contains("expired"), "{stderr}");
    assert!(
        said[0].contains("IMAP.AccessAsUser.All, not POP"),
        "{stderr}"
    );
    // A refused login fails the run (README: Exit codes), and says why only once.
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("was refused: the commands"), "{stderr}");
    assert_secret(&o, Some(&rec), &token, &lines);
}

#[test]
fn an_xoauth2_error_challenge_gets_an_empty_line_and_the_json_report_says_why() {
    let challenge = r#"{"status":"401","schemes":"bearer","scope":"mail"}"#;
    let (port, rx) = server("SASL XOAUTH2\r\n", refuse_with_challenge(challenge));
    let o = send(
        port,
        TOKEN,
        &["--login", "xoauth2", "--token-env", "TOK", "--json"],
    );
    let lines = heard(&rx);
    assert_eq!(lines[2], "", "{lines:?}");
    let notes = common::json(&o)["notes"].to_string();
    assert!(
        notes.contains("status 401") && notes.contains("scope mail"),
        "{notes}"
    );
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(1));
    assert_secret(&o, None, TOKEN, &lines);
}

#[test]
fn the_token_comes_from_a_file_or_a_command() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("token");
    std::fs::write(&file, format!("{TOKEN}\nnot this line\n")).unwrap();
    let script = d.path().join("helper.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho {TOKEN}\necho second line\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Run by sh, not exec'd: a script just written can fail to exec with ETXTBSY while
    // another test thread forks (it holds the write descriptor until its exec).
    let helper = format!("sh {}", script.display());
    for args in [
        ["--token-file", file.to_str().unwrap()],
        ["--token-command", helper.as_str()],
    ] {
        let (port, rx) = server("SASL XOAUTH2\r\n", accept_one_line());
        let mut all = vec!["--login", "xoauth2"];
        all.extend(args);
        let o = send(port, "unused", &all);
        let lines = heard(&rx);
        let ir = lines
            .get(1)
            .and_then(|l| l.strip_prefix("AUTH XOAUTH2 "))
            .unwrap_or_else(|| {
                panic!(
                    "{args:?}: {lines:?} {:?} {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr)
                )
            });
        assert_eq!(
            decoded(ir),
            format!("user=demo\x01auth=Bearer {TOKEN}\x01\x01"),
            "{args:?}"
        );
        assert_secret(&o, None, TOKEN, &lines);
    }
}

#[test]
fn a_failing_token_command_is_one_line_naming_it_and_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let script = d.path().join("broken-helper");
    std::fs::write(&script, format!("#!/bin/sh\necho {TOKEN}\nexit 3\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let cmd = format!("sh {} --account work", script.display());
    for command in [cmd.as_str(), "/nonexistent/token-helper"] {
        // No server: the token is read before any connection.
        let o = send(
            1,
            TOKEN,
            &["--login", "xoauth2", "--token-command", command],
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("--token-command '{command}'")),
            "{stderr}"
        );
        assert!(!stderr.contains(TOKEN) && o.stdout.is_empty(), "{stderr}");
    }
}

#[test]
fn a_token_login_needs_a_token_and_a_user() {
    let o = send(1, TOKEN, &["--login", "oauthbearer"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("a token is needed"));
    let o = common::popscope(&["send", "pop3://127.0.0.1:1", "--token-env", "PW", "STAT"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("a token needs --user"));
}

#[test]
fn check_explains_a_refused_token_in_its_notes() {
    let challenge = r#"{"status":"invalid_token","scope":"mail"}"#;
    let mut steps = vec![
        Step::Send(b"+OK ready\r\n".to_vec()),
        Step::ReadLine,
        Step::Send(b"+OK\r\nSASL OAUTHBEARER\r\n.\r\n".to_vec()),
    ];
    steps.extend(refuse_with_challenge(challenge));
    steps.extend([
        Step::ReadLine,
        Step::Send(b"+OK bye\r\n".to_vec()),
        Step::Close,
    ]);
    let (port, rx) = scripted_heard(steps);
    let url = format!("pop3://127.0.0.1:{port}");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_popscope"))
        .args([
            "check",
            &url,
            "--user",
            "demo",
            "--token-env",
            "TOK",
            "--passive",
            "--json",
        ])
        .env("TOK", TOKEN)
        .output()
        .unwrap_or_else(|e| panic!("cannot run popscope: {e}"));
    let lines = heard(&rx);
    assert_eq!(lines[2], "AQ==", "{lines:?}");
    assert_eq!(o.status.code(), Some(1), "a refused login fails the check");
    let v = common::json(&o);
    let text = v.to_string();
    assert!(
        text.contains("AUTH OAUTHBEARER refused the token: status invalid_token: the token was refused; the server wants scope mail"),
        "{text}"
    );
    assert_secret(&o, None, TOKEN, &lines);
}

#[test]
fn a_token_in_the_clear_to_a_server_offering_stls_is_announced() {
    let (port, rx) = server("STLS\r\nSASL XOAUTH2\r\n", accept_one_line());
    let o = send(port, TOKEN, &["--login", "xoauth2", "--token-env", "TOK"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("without TLS although the server offers STLS: the bearer token goes over the network in the clear"),
        "{stderr}"
    );
    assert_secret(&o, None, TOKEN, &heard(&rx));
}

#[test]
fn a_token_refused_at_once_and_a_refused_password_fail_the_run_with_one_line() {
    let refuse = || vec![Step::ReadLine, Step::Send(b"-ERR [AUTH] no\r\n".to_vec())];
    let (port, rx) = server("SASL XOAUTH2\r\n", refuse());
    let o = send(port, TOKEN, &["--login", "xoauth2", "--token-env", "TOK"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the login as demo was refused"), "{stderr}");
    assert_secret(&o, None, TOKEN, &heard(&rx));

    // The same for a password: USER +OK, PASS -ERR.
    let (port, _rx) = server(
        "USER\r\n",
        vec![
            Step::ReadLine,
            Step::Send(b"+OK\r\n".to_vec()),
            Step::ReadLine,
            Step::Send(b"-ERR [AUTH] wrong\r\n".to_vec()),
        ],
    );
    let url = format!("pop3://127.0.0.1:{port}");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_popscope"))
        .args(["send", &url, "--user", "demo", "--password-env", "PW"])
        .args(["STAT", "QUIT"])
        .env("PW", "hunter2")
        .output()
        .unwrap_or_else(|e| panic!("cannot run popscope: {e}"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("was refused"), "{stderr}");

    // A login that works exits 0 (the control).
    let (port, _rx) = server("SASL XOAUTH2\r\n", accept_one_line());
    let o = send(port, TOKEN, &["--login", "xoauth2", "--token-env", "TOK"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_bundle_and_the_text_export_mask_the_token_even_from_a_recording_with_secrets() {
    let (port, rx) = server("SASL OAUTHBEARER\r\n", accept_two_line());
    let d = tempfile::tempdir().unwrap();
    let rec = d.path().join("r.jsonl");
    let o = send(
        port,
        TOKEN,
        &[
            "--login",
            "oauthbearer",
            "--sasl-form",
            "two-line",
            "--token-env",
            "TOK",
            "--record",
            rec.to_str().unwrap(),
            "--record-secrets",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines = heard(&rx);
    // The control: asked to, the recording keeps the secret, as sent.
    let kept = std::fs::read_to_string(&rec).unwrap();
    assert!(kept.contains(&lines[2]), "{kept}");
    for to in ["bundle", "text"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_popscope"))
            .args(["export", rec.to_str().unwrap(), "--to", to])
            .output()
            .unwrap_or_else(|e| panic!("cannot run popscope: {e}"));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{to}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if to == "bundle" {
            assert_secret(&out, None, TOKEN, &lines);
        } else {
            // The text export keeps what the recording kept: asked for with --record-secrets.
            assert!(String::from_utf8_lossy(&out.stdout).contains(&lines[2]));
        }
    }
}

#[test]
fn the_printed_two_line_response_is_masked_as_the_recording_masks_it() {
    let (port, rx) = server("SASL OAUTHBEARER\r\n", accept_two_line());
    let o = send(
        port,
        TOKEN,
        &[
            "--login",
            "oauthbearer",
            "--sasl-form",
            "two-line",
            "--token-env",
            "TOK",
        ],
    );
    let lines = heard(&rx);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let printed = stdout
        .lines()
        .skip_while(|l| !l.contains("the next line is a SASL response"))
        .nth(1)
        .and_then(|l| l.strip_prefix("C: "))
        .unwrap_or_else(|| panic!("no masked response: {stdout}"));
    // The same length as sent, still base64, the user and the structure kept.
    assert_eq!(printed.len(), lines[2].len(), "{stdout}");
    let shown = decoded(printed);
    assert!(
        shown.starts_with("n,a=demo,\x01host=127.0.0.1\x01"),
        "{shown:?}"
    );
    assert!(shown.contains("auth=Bearer *"), "{shown:?}");
    assert_secret(&o, None, TOKEN, &lines);
}

/// `check --transcript` quotes the line each finding points at: a client line is quoted as a
/// recording would keep it, whatever the input file holds (here a hand-written transcript
/// with the token in clear, whose client breaks CL-015, SASL-011 and CL-008).
#[test]
fn check_transcript_quotes_client_lines_without_their_token() {
    let token = "s3cr3t".repeat(50);
    let message = b64encode(format!("user=a\x01auth=Bearer {token}\x01\x01").as_bytes());
    let trace = format!(
        "S: +OK ready\nC: CAPA\nS: +OK\nS: SASL XOAUTH2\nS: .\nC: AUTH XOAUTH2 {message}\nS: + eyJzdGF0dXMiOiI0MDEifQ==\nC: {message}\nS: -ERR no\n"
    );
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("t.trace");
    std::fs::write(&file, trace).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_popscope"))
        .args(["check", "--transcript", file.to_str().unwrap()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run popscope: {e}"));
    let stdout = String::from_utf8_lossy(&o.stdout);
    // The control: the findings quote a client line (CL-008: the token went out without TLS).
    assert!(
        stdout.contains("CL-015") && stdout.contains("SASL-011") && stdout.contains("CL-008"),
        "{stdout}"
    );
    // The client's findings come in a section of their own, after the server's.
    let client = stdout
        .find("The client (")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(stdout[client..].contains("CL-015") && !stdout[..client].contains("CL-015"));
    assert!(stdout[..client].contains("OAUTH-003"), "{stdout}");
    assert_eq!(stdout.matches("> C: ").count(), 3, "{stdout}");
    let lines = vec![format!("AUTH XOAUTH2 {message}"), message.clone()];
    assert_secret(&o, None, &token, &lines);
    // A quote is cut at 100 characters: no 40 of the token's base64 may show either. The
    // token starts at octet 21 of the message (`user=a^Aauth=Bearer `), base64 character 28.
    let token_b64 = &message[28..68];
    assert!(!stdout.contains(token_b64), "{stdout}");
    // The quoted AUTH line keeps what is not the token.
    assert!(
        stdout.contains("> C: AUTH XOAUTH2 dXNlcj1hAWF1dGg9QmVhcmVy"),
        "{stdout}"
    );
}

/// A server that challenges whatever the client sends: the dummy response, then `*`, and
/// then the connection is closed (before: every later command went out as a SASL response).
#[test]
fn a_server_that_challenges_after_the_cancel_is_left() {
    let challenge = b"+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n".to_vec();
    let mut login = Vec::new();
    for _ in 0..10 {
        login.extend([Step::ReadLine, Step::Send(challenge.clone())]);
    }
    let (port, rx) = server("SASL OAUTHBEARER\r\n", login);
    let o = send(
        port,
        TOKEN,
        &["--login", "oauthbearer", "--token-env", "TOK"],
    );
    let lines = heard(&rx);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(lines.len(), 4, "CAPA, AUTH, AQ==, * and no more: {lines:?}");
    assert_eq!(lines[2], "AQ==", "{lines:?}");
    assert_eq!(lines[3], "*", "{lines:?}");
    assert!(stderr.contains("answered the SASL cancel"), "{stderr}");
    assert_eq!(o.status.code(), Some(1), "{stderr}");
}

#[test]
fn auto_never_sends_the_token_to_a_server_that_offers_no_bearer_mechanism() {
    let (port, rx) = server("SASL PLAIN\r\n", accept_one_line());
    let o = send(port, TOKEN, &["--token-env", "TOK"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("offers neither OAUTHBEARER nor XOAUTH2 (CAPA: SASL PLAIN)"),
        "{stderr}"
    );
    let lines = heard(&rx);
    assert!(lines.iter().all(|l| !l.starts_with("AUTH")), "{lines:?}");
    // The control: offered, it is sent.
    let (port, rx) = server("SASL PLAIN XOAUTH2\r\n", accept_one_line());
    let o = send(port, TOKEN, &["--token-env", "TOK"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(heard(&rx)[1].starts_with("AUTH XOAUTH2 "));
}

#[test]
fn a_token_in_the_clear_is_said_even_without_stls_on_offer() {
    let (port, _rx) = server("SASL OAUTHBEARER\r\n", accept_one_line());
    let o = send(
        port,
        TOKEN,
        &["--login", "oauthbearer", "--token-env", "TOK"],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the bearer token goes over the network in the clear"),
        "{stderr}"
    );
}

#[test]
fn a_login_let_in_after_the_dummy_response_is_not_called_refused() {
    let challenge = b"+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n".to_vec();
    let (port, _rx) = server(
        "SASL OAUTHBEARER\r\n",
        vec![
            Step::ReadLine,
            Step::Send(challenge),
            Step::ReadLine,
            Step::Send(b"+OK welcome after all\r\n".to_vec()),
        ],
    );
    let o = send(
        port,
        TOKEN,
        &["--login", "oauthbearer", "--token-env", "TOK"],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(!stderr.contains("refused the token"), "{stderr}");
    assert!(stdout.contains("OAUTH-004"), "{stdout}");
}

/// A helper that leaves a process behind holding its output pipes, and says things on
/// stderr: popscope takes the first line and goes on at once, and shows what the helper said
/// escaped and without the token.
#[test]
fn a_token_helper_that_lingers_or_talks_does_not_hang_or_leak() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let script = d.path().join("helper.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf 'got \\033]0;owned\\007 {TOKEN}\\n' >&2\necho {TOKEN}\nsleep 60 &\nexit 0\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let (port, rx) = server("SASL XOAUTH2\r\n", accept_one_line());
    let started = std::time::Instant::now();
    let o = send(
        port,
        "unused",
        &[
            "--login",
            "xoauth2",
            "--token-command",
            &format!("sh {}", script.display()),
        ],
    );
    // Not a speed goal: before, the background `sleep` held the pipe and popscope with it.
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("says: got"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );
    assert_secret(&o, None, TOKEN, &heard(&rx));
}

/// Every finding in JSON says whose behaviour it judges: CL-015 the client's, OAUTH-003 the
/// server's.
#[test]
fn json_findings_say_which_side_they_judge() {
    let trace = "S: +OK ready\nC: CAPA\nS: +OK\nS: SASL XOAUTH2\nS: .\nC: AUTH XOAUTH2 dXNlcj1hAWF1dGg9QmVhcmVyIHQBAQ==\nS: + eyJzdGF0dXMiOiI0MDEifQ==\nC: dXNlcj1hAWF1dGg9QmVhcmVyIHQBAQ==\nS: -ERR no\n";
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("t.trace");
    std::fs::write(&file, trace).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_popscope"))
        .args(["check", "--transcript", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run popscope: {e}"));
    let v = common::json(&o);
    let sides: Vec<(String, String)> = v["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| (f["rule"].to_string(), f["side"].to_string()))
        .collect();
    assert!(
        sides.contains(&("\"CL-015\"".into(), "\"client\"".into())),
        "{sides:?}"
    );
    assert!(
        sides.contains(&("\"OAUTH-003\"".into(), "\"server\"".into())),
        "{sides:?}"
    );
    assert!(
        sides
            .iter()
            .all(|(_, s)| s == "\"client\"" || s == "\"server\""),
        "{sides:?}"
    );
}
