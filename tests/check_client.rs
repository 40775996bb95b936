//! `popscope serve --check-client` as a client author runs it in CI: the demo server judges the
//! client that connects, prints a report per connection, and with `--once` exits 1 only when
//! the client broke a rule at violation severity.

#![allow(clippy::unwrap_used)] // helpers of tests: a panic there is a failed test

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;
use common::serve::Banner;

/// A running `popscope serve --port 0 --check-client …`, with the port its banner names.
struct Serve {
    child: Child,
    port: u16,
    /// The CA certificate the banner names (for TLS clients).
    ca: String,
    /// Where the reports come: stdout, past the banner when that is on stdout too.
    reports: BufReader<Box<dyn Read + Send>>,
}

/// How a `--once` run ended.
struct Ended {
    code: Option<i32>,
    stdout: String,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_popscope"))
            .args(["serve", "--port", "0", "--check-client"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        // Under --json the banner is on stderr, so that stdout is the reports alone.
        let json = args.contains(&"--json");
        let (mut banner, reports) = if json {
            let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
            (BufReader::new(stderr), Some(BufReader::new(stdout)))
        } else {
            (BufReader::new(stdout), None)
        };
        let read = Banner::read(&mut banner);
        Serve {
            port: read.port(),
            ca: read.ca.unwrap_or_default(),
            reports: reports.unwrap_or(banner),
            child,
        }
    }

    /// Reads the reports until the process ends (a `--once` run, or a stopped one).
    fn finish(mut self) -> Ended {
        let (done, ended) = std::sync::mpsc::channel();
        let mut reports = std::mem::replace(
            &mut self.reports,
            BufReader::new(Box::new(std::io::empty())),
        );
        std::thread::spawn(move || {
            let mut stdout = String::new();
            let _ = reports.read_to_string(&mut stdout);
            let _ = done.send(stdout);
        });
        let stdout = ended
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("serve did not exit after its connection"));
        let code = self.child.wait().unwrap().code();
        Ended { code, stdout }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scripted client: sends each write, reads what the server says until it goes quiet.
fn client(port: u16, writes: &[&[u8]]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let mut heard = Vec::new();
    let mut read = |s: &mut TcpStream| {
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            heard.extend_from_slice(&buf[..n]);
        }
    };
    read(&mut s);
    for w in writes {
        s.write_all(w).unwrap();
        read(&mut s);
    }
    drop(s);
    String::from_utf8_lossy(&heard).into_owned()
}

fn report(o: &Ended) -> serde_json::Value {
    let out = &o.stdout;
    let mut lines = out.lines();
    let v =
        serde_json::from_str(lines.next().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(lines.next(), None, "one report for one connection: {out}");
    v
}

fn findings(v: &serde_json::Value) -> Vec<(String, String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s("rule"), s("side"), s("severity"))
        })
        .collect()
}

fn client_violations(v: &serde_json::Value) -> Vec<String> {
    findings(v)
        .into_iter()
        .filter(|(_, side, sev)| side == "client" && sev == "violation")
        .map(|(rule, ..)| rule)
        .collect()
}

#[test]
fn stls_and_user_in_one_write_is_cl006_and_exits_1() {
    let serve = Serve::start(&["--once", "--json"]);
    let heard = client(serve.port, &[b"STLS\r\nUSER demo\r\n"]);
    assert!(heard.contains("+OK"), "{heard}");
    let o = serve.finish();
    assert_eq!(o.code, Some(1), "{}", o.stdout);
    let v = report(&o);
    assert_eq!(client_violations(&v), ["CL-006"], "{v}");
    assert_eq!(v["connection"], 1);
    assert!(
        v["client"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{v}"
    );
    assert_eq!(v["summary"]["violation"], 1, "{v}");
}

#[test]
fn a_bearer_token_in_the_clear_is_cl008_and_exits_1() {
    let serve = Serve::start(&["--tls", "none", "--once", "--json"]);
    // user=demo^Aauth=Bearer demo-token^A^A
    let auth = b"AUTH XOAUTH2 dXNlcj1kZW1vAWF1dGg9QmVhcmVyIGRlbW8tdG9rZW4BAQ==\r\n";
    client(serve.port, &[auth, b"QUIT\r\n"]);
    let o = serve.finish();
    let v = report(&o);
    assert_eq!(client_violations(&v), ["CL-008"], "{v}");
    assert_eq!(o.code, Some(1), "{v}");
}

#[test]
fn a_clean_session_in_the_clear_exits_0_with_cl008_as_info() {
    let serve = Serve::start(&["--tls", "none", "--once", "--json"]);
    let heard = client(
        serve.port,
        &[
            b"CAPA\r\n",
            b"USER demo\r\n",
            b"PASS demo\r\n",
            b"STAT\r\n",
            b"QUIT\r\n",
        ],
    );
    // The greeting and five replies.
    assert_eq!(heard.matches("+OK").count(), 6, "{heard}");
    let o = serve.finish();
    let v = report(&o);
    assert_eq!(o.code, Some(0), "{v}");
    assert!(client_violations(&v).is_empty(), "{v}");
    // No TLS was on offer: the password in the clear is noted, not blamed.
    assert!(
        findings(&v).contains(&("CL-008".into(), "client".into(), "info".into())),
        "{v}"
    );
    assert_eq!(v["final_state"], "closed", "{v}");
}

/// curl fetches message 1 from `serve --tls TLS --check-client --once --json` at `scheme`
/// (with `extra` flags); returns the report, after checking the exit code and the message.
fn curl_fetch(tls: &str, scheme: &str, extra: &[&str]) -> Option<serde_json::Value> {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipped: no curl");
        return None;
    }
    let serve = Serve::start(&["--tls", tls, "--once", "--json"]);
    let fetched = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert", &serve.ca])
        .args(["--user", "demo:demo"])
        .args(extra)
        .arg(format!("{scheme}://127.0.0.1:{}/1", serve.port))
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&fetched.stdout);
    assert!(
        fetched.status.success() && body.contains("Subject: Welcome to popscope"),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let o = serve.finish();
    let v = report(&o);
    assert_eq!(o.code, Some(0), "{v}");
    Some(v)
}

#[test]
fn curl_fetching_a_message_over_implicit_tls_exits_0_without_a_violation() {
    let Some(v) = curl_fetch("implicit", "pop3s", &[]) else {
        return;
    };
    assert!(client_violations(&v).is_empty(), "{v}");
    assert_eq!(v["summary"]["violation"], 0, "{v}");
}

#[test]
fn curl_fetching_a_message_behind_stls_exits_0_without_a_violation() {
    let Some(v) = curl_fetch("starttls", "pop3", &["--ssl-reqd"]) else {
        return;
    };
    assert!(client_violations(&v).is_empty(), "{v}");
    // The judge saw the upgrade: the login went under TLS, so no credentials in the clear.
    assert!(findings(&v).iter().all(|(r, ..)| r != "CL-008"), "{v}");
    assert_eq!(v["final_state"], "closed", "{v}");
}

#[test]
fn without_once_it_judges_each_connection_until_stopped() {
    let serve = Serve::start(&["--tls", "none", "--json"]);
    client(serve.port, &[b"QUIT\r\n"]);
    client(serve.port, &[b"STAT\r\n", b"QUIT\r\n"]);
    std::thread::sleep(Duration::from_millis(300));
    let pid = serve.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let o = serve.finish();
    assert_eq!(o.code, Some(0));
    let out = &o.stdout;
    let reports: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 2, "{out}");
    assert_eq!(reports[0]["connection"], 1);
    assert!(
        findings(&reports[0]).iter().all(|(r, ..)| r != "CL-002"),
        "{out}"
    );
    // STAT before a login: a command in the wrong state (a warning, not a violation).
    assert!(
        findings(&reports[1]).contains(&("CL-002".into(), "client".into(), "warning".into())),
        "{out}"
    );
}

#[test]
fn without_json_each_finding_is_a_line_marked_by_side() {
    let serve = Serve::start(&["--once"]);
    client(serve.port, &[b"STLS\r\nUSER demo\r\n"]);
    let o = serve.finish();
    assert_eq!(o.code, Some(1), "{}", o.stdout);
    let mut lines = o.stdout.lines();
    let head = lines.next().unwrap_or_default();
    assert!(
        head.starts_with("connection 1 from 127.0.0.1:"),
        "{}",
        o.stdout
    );
    assert!(
        lines.any(|l| l.contains("CL-006") && l.contains(" client ")),
        "{}",
        o.stdout
    );
}

#[test]
fn once_and_json_need_check_client() {
    for flag in ["--once", "--json"] {
        let o = Command::new(env!("CARGO_BIN_EXE_popscope"))
            .args(["serve", "--port", "0", flag])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{flag}");
    }
}

#[test]
fn a_failed_handshake_still_reports_the_connection() {
    let serve = Serve::start(&["--tls", "implicit", "--once", "--json"]);
    // Plaintext to a TLS port: the handshake fails, the client gave up, and no rule is broken.
    client(serve.port, &[b"CAPA\r\n"]);
    let o = serve.finish();
    let v = report(&o);
    assert_eq!(o.code, Some(0), "{v}");
    assert_eq!(v["final_state"], "closed", "{v}");
}

/// The case for CI: fetchmail's clean run behind STLS (`sslcertck`: the CA checked),
/// every message delivered, no client violation.
#[test]
fn fetchmail_behind_stls_exits_0_without_a_violation() {
    if Command::new("fetchmail").arg("--version").output().is_err() {
        eprintln!("skipped: no fetchmail");
        return;
    }
    let serve = Serve::start(&["--once", "--json"]);
    let home = tempfile::tempdir().unwrap();
    let mail = home.path().join("mail");
    let rc = home.path().join("fetchmailrc");
    // `localhost`, the certificate's name (fetchmail checks the name, not the address).
    std::fs::write(
        &rc,
        format!(
            "poll localhost protocol pop3 port {}\n  user demo password demo sslproto tls1.2+ \
             sslcertfile {} sslcertck keep mda \"cat >> {}\"\n",
            serve.port,
            serve.ca,
            mail.display()
        ),
    )
    .unwrap();
    // fetchmail refuses a run-control file others can read.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let fetched = Command::new("fetchmail")
        .args(["--nodetach", "--nosyslog", "-f"])
        .arg(&rc)
        .env("FETCHMAILHOME", home.path())
        .env("HOME", home.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&fetched.stderr).into_owned()
        + &String::from_utf8_lossy(&fetched.stdout);
    let o = serve.finish();
    let v = report(&o);
    let delivered = std::fs::read_to_string(&mail).unwrap_or_default();
    assert_eq!(
        delivered.matches("\nSubject: ").count() + usize::from(delivered.starts_with("Subject: ")),
        popscope_core::server::maildrop::sample().len(),
        "{said}"
    );
    assert_eq!(o.code, Some(0), "{v}");
    assert!(client_violations(&v).is_empty(), "{v}");
}
