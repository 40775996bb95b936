//! Bearer-token logins against a real OAuth 2.0 server: the test Dovecot's oauth2 passdb, which
//! asks `tests/dovecot/introspect.py` (RFC 7662) about every token (`scripts/dovecot.sh start`
//! runs both). XOAUTH2 and OAUTHBEARER on STLS and on implicit TLS, both SASL forms, a token too
//! long for the AUTH line, a refused token, an expired JWT, and `check`; after every run no
//! output and no recording holds the token, in clear or in any base64 that carries it.
//! Outside CI, without Dovecot running, these tests say so and pass; in CI they fail.

mod common;

use std::process::Output;

use common::dovecot::{OauthDovecot, oauth_dovecot, unexpected_violations};
use popscope_core::auth::{b64decode, b64encode};

#[derive(Clone, Copy, Debug)]
enum Transport {
    Stls,
    ImplicitTls,
}

const TRANSPORTS: [Transport; 2] = [Transport::Stls, Transport::ImplicitTls];
const MECHANISMS: [&str; 2] = ["oauthbearer", "xoauth2"];

/// What one popscope run left behind: its output and its recording.
struct Run {
    output: Output,
    recording: String,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Everything a person or a program could read afterwards, for failure messages.
    fn all(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- recording\n{}",
            self.output.status.code(),
            self.stdout(),
            self.stderr(),
            self.recording
        )
    }

    /// The recorded `text` of every data record from `dir` ("client" or "server").
    fn said_by(&self, dir: &str) -> Vec<String> {
        common::recording::records(self.recording.as_bytes())
            .into_iter()
            .filter(|r| r["type"] == "data" && r["dir"] == dir)
            .filter_map(|r| r["text"].as_str().map(str::to_owned))
            .collect()
    }

    /// The client's lines, CRLF removed (one data record may hold several pipelined lines).
    fn client_lines(&self) -> Vec<String> {
        self.said_by("client")
            .iter()
            .flat_map(|t| t.split_terminator("\r\n").map(str::to_owned))
            .collect()
    }

    /// The client line after `AUTH MECH` when the response went on its own line.
    fn response_line(&self) -> Option<String> {
        let lines = self.client_lines();
        let at = lines
            .iter()
            .position(|l| l.starts_with("AUTH ") && l.matches(' ').count() == 1)?;
        lines.get(at + 1).cloned()
    }

    fn logged_in(&self) -> bool {
        self.said_by("server")
            .iter()
            .any(|t| t.starts_with("+OK Logged in."))
    }
}

fn url(d: &OauthDovecot, transport: Transport) -> String {
    match transport {
        Transport::Stls => format!("pop3://127.0.0.1:{}", d.dovecot.plain),
        Transport::ImplicitTls => format!("pop3s://127.0.0.1:{}", d.dovecot.tls),
    }
}

fn port(d: &OauthDovecot, transport: Transport) -> u16 {
    let p = match transport {
        Transport::Stls => &d.dovecot.plain,
        Transport::ImplicitTls => &d.dovecot.tls,
    };
    p.parse().unwrap_or_else(|e| panic!("port {p}: {e}"))
}

/// `popscope COMMAND URL --ca-file CA --user USER --token-env T ARGS… --record FILE` with
/// `token` in `T`, on `transport`; then no output may hold the token, nor the recording unless
/// ARGS asked it to keep secrets (`--record-secrets`).
fn popscope(
    d: &OauthDovecot,
    command: &str,
    transport: Transport,
    token: &str,
    args: &[&str],
) -> Run {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("session.jsonl");
    let url = url(d, transport);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_popscope"));
    cmd.args([command, &url, "--ca-file", &d.dovecot.ca, "--user", &d.user])
        .args(["--token-env", "T", "--record"])
        .arg(&file)
        .args(args)
        .env("T", token)
        .env_remove("SSLKEYLOGFILE");
    if matches!(transport, Transport::Stls) {
        cmd.arg("--starttls");
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run popscope: {e}"));
    let recording = std::fs::read_to_string(&file).unwrap_or_default();
    let run = Run { output, recording };
    let kept = args.contains(&"--record-secrets");
    assert_no_token(&run, !kept, d, transport, token);
    run
}

/// `popscope send … --login MECH ARGS… STAT QUIT`.
fn send(d: &OauthDovecot, transport: Transport, mech: &str, token: &str, args: &[&str]) -> Run {
    let mut all = vec!["--login", mech];
    all.extend_from_slice(args);
    all.extend(["STAT", "QUIT"]);
    popscope(d, "send", transport, token, &all)
}

/// Every base64 text that can appear inside a base64 stream carrying `token`: one per
/// alignment of the token in the stream (the octets before it shift it by 0, 1 or 2 octets
/// within a 3-octet group), each the encoding of the token's whole groups at that alignment.
fn base64_cores(token: &[u8]) -> Vec<String> {
    (0..3)
        .map(|skip| {
            let rest = &token[skip..];
            b64encode(&rest[..rest.len() / 3 * 3])
        })
        .collect()
}

/// The forms the token may take in an output: itself, each SASL message that carries it as
/// base64 (as on the wire to `transport`), and any base64 that carries it at all.
fn token_forms(d: &OauthDovecot, transport: Transport, token: &str) -> Vec<String> {
    use popscope_core::oauth::{Mechanism, initial_response};
    let mut forms = vec![token.to_owned()];
    for mechanism in [Mechanism::XOauth2, Mechanism::OauthBearer] {
        let message = initial_response(
            mechanism,
            d.user.as_bytes(),
            b"127.0.0.1",
            port(d, transport),
            token.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        forms.push(message.to_string());
    }
    forms.extend(base64_cores(token.as_bytes()));
    forms
}

/// None of [`token_forms`] is in the run's stdout, stderr or (if `in_recording`) recording.
fn assert_no_token(
    run: &Run,
    in_recording: bool,
    d: &OauthDovecot,
    transport: Transport,
    token: &str,
) {
    let forms = token_forms(d, transport, token);
    let mut outputs = vec![("stdout", run.stdout()), ("stderr", run.stderr())];
    if in_recording {
        outputs.push(("recording", run.recording.clone()));
    }
    for (name, text) in outputs {
        for form in &forms {
            assert!(
                !text.contains(form.as_str()),
                "{name} holds the token (as {form}):\n{}",
                run.all()
            );
        }
    }
}

fn decoded(b64: &str) -> String {
    let octets = b64decode(b64.as_bytes()).unwrap_or_else(|| panic!("not base64: {b64}"));
    String::from_utf8_lossy(&octets).into_owned()
}

/// Who the SASL message names, as the recording keeps it (the token masked, the rest kept).
fn names_the_user(message: &str, mech: &str, user: &str) -> bool {
    let who = match mech {
        "xoauth2" => format!("user={user}\x01"),
        _ => format!("n,a={user},"),
    };
    decoded(message).starts_with(&who)
}

#[test]
fn a_good_token_logs_in_with_either_mechanism_in_either_form_on_stls_and_pop3s() {
    let Some(d) = oauth_dovecot() else { return };
    for transport in TRANSPORTS {
        for mech in MECHANISMS {
            let auth = format!("AUTH {}", mech.to_ascii_uppercase());
            for form in ["auto", "one-line", "two-line"] {
                let run = send(&d, transport, mech, &d.token, &["--sasl-form", form]);
                let what = format!("{transport:?} {mech} {form}");
                assert_eq!(run.output.status.code(), Some(0), "{what}\n{}", run.all());
                assert!(run.logged_in(), "{what}\n{}", run.all());
                assert!(
                    run.said_by("server")
                        .iter()
                        .any(|t| t.starts_with("+OK 4 ")),
                    "STAT: {what}\n{}",
                    run.all()
                );
                let lines = run.client_lines();
                let message = if form == "two-line" {
                    assert!(lines.contains(&auth), "{what}: {lines:?}");
                    run.response_line()
                } else {
                    lines
                        .iter()
                        .find_map(|l| l.strip_prefix(&format!("{auth} ")).map(str::to_owned))
                };
                let message = message.unwrap_or_else(|| panic!("{what}: no response: {lines:?}"));
                assert!(
                    names_the_user(&message, mech, &d.user),
                    "{what}: {}",
                    decoded(&message)
                );
            }
        }
    }
}

#[test]
fn a_token_over_1200_octets_goes_on_its_own_line_under_auto_and_logs_in() {
    let Some(d) = oauth_dovecot() else { return };
    assert!(d.long_token.len() > 1200, "{}", d.long_token.len());
    for transport in TRANSPORTS {
        for mech in MECHANISMS {
            // The transcript on STLS, the JSON report on pop3s: neither may hold the token.
            let json: &[&str] = match transport {
                Transport::Stls => &[],
                Transport::ImplicitTls => &["--json"],
            };
            let run = send(&d, transport, mech, &d.long_token, json);
            let what = format!("{transport:?} {mech}");
            assert_eq!(run.output.status.code(), Some(0), "{what}\n{}", run.all());
            assert!(run.logged_in(), "{what}\n{}", run.all());
            let lines = run.client_lines();
            assert!(
                lines.contains(&format!("AUTH {}", mech.to_ascii_uppercase())),
                "{what}: {lines:?}"
            );
            let response = run
                .response_line()
                .unwrap_or_else(|| panic!("{what}: {lines:?}"));
            assert!(
                response.len() > 1600 && names_the_user(&response, mech, &d.user),
                "{what}: {response}"
            );
        }
    }
}

#[test]
fn a_refused_token_is_explained_answered_with_the_dummy_response_and_fails_the_run() {
    let Some(d) = oauth_dovecot() else { return };
    let bad = "badtoken-the-introspection-endpoint-never-issued-this-one";
    // What Dovecot 2.3 says of a refused token, and the dummy response RFC 7628 §3.2.3 owes it.
    let cases = [
        (
            "xoauth2",
            "+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=\r\n",
            "",
            "AUTH XOAUTH2 refused the token: status 401: the token was refused; the server wants scope mail",
        ),
        (
            "oauthbearer",
            "+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n",
            "AQ==",
            "AUTH OAUTHBEARER refused the token: status invalid_token: the token was refused",
        ),
    ];
    for transport in TRANSPORTS {
        for (mech, challenge, dummy, explained) in cases {
            let run = send(&d, transport, mech, bad, &[]);
            let what = format!("{transport:?} {mech}");
            let server = run.said_by("server");
            assert!(
                server.iter().any(|t| t == challenge),
                "{what}\n{}",
                run.all()
            );
            let lines = run.client_lines();
            let auth = lines
                .iter()
                .position(|l| l.starts_with("AUTH "))
                .unwrap_or_else(|| panic!("{what}: {lines:?}"));
            assert_eq!(
                lines.get(auth + 1).map(String::as_str),
                Some(dummy),
                "{what}: {lines:?}"
            );
            assert!(
                server
                    .iter()
                    .any(|t| t.starts_with("-ERR [AUTH] Authentication failed.")),
                "{what}\n{}",
                run.all()
            );
            let stderr = run.stderr();
            assert!(
                stderr.lines().any(|l| l.ends_with(explained)),
                "{what}\n{}",
                run.all()
            );
            assert!(
                run.stdout()
                    .lines()
                    .any(|l| l.trim_end() == format!("C: {dummy}").trim_end()),
                "the dummy response is shown as sent: {what}\n{}",
                run.all()
            );
            assert!(!run.logged_in(), "{what}\n{}", run.all());
            assert_eq!(run.output.status.code(), Some(1), "{what}\n{}", run.all());
        }
    }
}

#[test]
fn an_expired_jwt_is_refused_and_the_explanation_says_it_expired() {
    let Some(d) = oauth_dovecot() else { return };
    for transport in TRANSPORTS {
        for mech in MECHANISMS {
            let run = send(&d, transport, mech, &d.expired_jwt, &["--json"]);
            let what = format!("{transport:?} {mech}");
            assert!(!run.logged_in(), "{what}\n{}", run.all());
            let notes = common::json(&run.output)["notes"].to_string();
            let refusal = format!("AUTH {} refused the token", mech.to_ascii_uppercase());
            assert!(notes.contains(&refusal), "{what}: {notes}");
            // scripts/dovecot.sh made it expire 5 minutes before Dovecot started.
            assert!(
                notes.contains("the token (a JWT, not verified): expired ")
                    && (notes.contains(" min ago") || notes.contains(" h ago")),
                "{what}: {notes}"
            );
            assert!(
                notes.contains("audience pop3://127.0.0.1"),
                "{what}: {notes}"
            );
        }
    }
}

#[test]
fn check_explains_an_expired_jwt_in_its_notes() {
    let Some(d) = oauth_dovecot() else { return };
    let args = ["--json", "--passive"];
    let run = popscope(&d, "check", Transport::ImplicitTls, &d.expired_jwt, &args);
    let v = common::json(&run.output);
    assert!(v["logged_in"] == false, "{}", run.all());
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("AUTH OAUTHBEARER refused the token: status invalid_token")
            && notes.contains("the token (a JWT, not verified): expired "),
        "{notes}"
    );
}

/// What is made from a recording afterwards (the text transcript, the evidence bundle, an
/// offline re-check) holds no more of the token than the recording did.
#[test]
fn exports_of_a_token_session_hold_no_token() {
    let Some(d) = oauth_dovecot() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (mech, token) in [("xoauth2", &d.token), ("oauthbearer", &d.long_token)] {
        let run = send(&d, Transport::Stls, mech, token, &[]);
        assert!(run.logged_in(), "{}", run.all());
        let file = dir.path().join(format!("{mech}.jsonl"));
        std::fs::write(&file, &run.recording).unwrap_or_else(|e| panic!("{e}"));
        let f = file.display().to_string();
        for args in [
            vec!["export", f.as_str(), "--to", "text"],
            vec!["export", f.as_str(), "--to", "bundle"],
            vec!["check", "--transcript", f.as_str(), "--json"],
        ] {
            let output = common::popscope(&args);
            assert!(!output.stdout.is_empty(), "{args:?}");
            let made = Run {
                output,
                recording: String::new(),
            };
            assert_no_token(&made, false, &d, Transport::Stls, token);
        }
    }
}

#[test]
fn check_logs_in_with_a_token_and_finds_only_dovecots_known_deviations() {
    let Some(d) = oauth_dovecot() else { return };
    for transport in TRANSPORTS {
        for mech in MECHANISMS {
            let args = ["--login", mech, "--json", "--injection-wait", "0.3"];
            let run = popscope(&d, "check", transport, &d.token, &args);
            let what = format!("{transport:?} {mech}");
            let v = common::json(&run.output);
            assert!(v["logged_in"] == true, "{what}\n{}", run.all());
            assert_eq!(v["tls"]["verdict"], "verified", "{what}");
            let unexpected = unexpected_violations(&v);
            assert!(unexpected.is_empty(), "{what}: {unexpected:?}\n{v:#}");
            assert!(run.logged_in(), "{what}\n{}", run.all());
        }
    }
}

#[test]
fn the_base64_cores_find_the_token_at_every_alignment() {
    let token = b"goodtoken-abcdefghij";
    for prefix in ["", "u", "us", "user=testuser\x01auth=Bearer "] {
        let stream = b64encode(&[prefix.as_bytes(), token, b"\x01\x01"].concat());
        assert!(
            base64_cores(token).iter().any(|c| stream.contains(c)),
            "{prefix:?}: {stream}"
        );
    }
    let other = b64encode(b"user=testuser\x01auth=Bearer goodtoken-abcXefghij\x01\x01");
    assert!(!base64_cores(token).iter().any(|c| other.contains(c)));
}

/// The search for the token is not blind: a recording made with `--record-secrets` holds the
/// very message Dovecot accepted, in the forms every other test looks for (and stdout and
/// stderr still hold none of them).
#[test]
fn a_recording_that_keeps_secrets_holds_the_forms_the_other_tests_look_for() {
    let Some(d) = oauth_dovecot() else { return };
    for transport in TRANSPORTS {
        for mech in MECHANISMS {
            let run = popscope(
                &d,
                "send",
                transport,
                &d.token,
                &["--login", mech, "--record-secrets", "STAT", "QUIT"],
            );
            let what = format!("{transport:?} {mech}");
            assert!(run.logged_in(), "{what}\n{}", run.all());
            let forms = token_forms(&d, transport, &d.token);
            let message = if mech == "xoauth2" {
                &forms[1]
            } else {
                &forms[2]
            };
            assert!(
                run.client_lines()
                    .contains(&format!("AUTH {} {message}", mech.to_ascii_uppercase())),
                "{what}\n{}",
                run.all()
            );
            assert!(
                forms[3..]
                    .iter()
                    .any(|core| run.recording.contains(core.as_str())),
                "{what}"
            );
        }
    }
}
