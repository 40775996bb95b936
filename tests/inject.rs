//! Testing clients on purpose (rules.md §3.19): each client case changes what the demo server
//! (`serve --quirk CASE`) and the proxy (`proxy --inject CASE`) send to a scripted client, and
//! `serve --check-client` gives a scripted client that falls for the case the case's rule.

#![allow(clippy::unwrap_used)] // helpers of tests: a panic there is a failed test

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::pop_client::{Client, tls_config};
use popscope::server::{self, Running, ServeOptions, TlsMode};
use popscope_core::inject::{Fault, LONG_UID_LEN};

/// The demo server with `case` injected into every connection.
fn serve(rt: &tokio::runtime::Runtime, tls: TlsMode, case: &str) -> Running {
    let fault = Fault::parse(case).unwrap();
    rt.block_on(server::start_with(
        ServeOptions {
            port: 0,
            tls,
            quirk: None,
            user: "demo".into(),
            password: "demo".into(),
        },
        Some(fault),
        None,
    ))
    .unwrap()
}

/// What each case looks like to a client, whether the demo server or the proxy serves it.
impl Client {
    fn sees_no_capa(&mut self) {
        assert_eq!(self.cmd("CAPA"), "-ERR CAPA not available\r\n");
        self.log_in();
        assert!(
            self.cmd("STAT").starts_with("+OK 4 "),
            "the rest is the server's"
        );
    }

    fn sees_slow_replies(&mut self) {
        let sent = Instant::now();
        assert_eq!(self.cmd("NOOP"), "-ERR log in first\r\n");
        let took = sent.elapsed();
        assert!(took >= Duration::from_secs(1), "{took:?}");
    }

    fn sees_cut_retr(&mut self) {
        self.log_in();
        let cut = self.multi("RETR 1");
        assert!(cut.starts_with("+OK") && cut.ends_with("\r\n\r\n"), "{cut}");
        assert_eq!(self.line(), "", "closed after the headers");
    }

    fn sees_long_uids(&mut self) {
        self.log_in();
        let list = self.multi("UIDL");
        let uid = list
            .lines()
            .nth(1)
            .and_then(|l| l.split(' ').nth(1))
            .unwrap();
        assert_eq!(uid.len(), LONG_UID_LEN, "{list}");
        assert_eq!(self.cmd("UIDL 1"), format!("+OK 1 {uid}\r\n"));
    }
}

#[test]
fn strip_stls_removes_stls_from_capa_and_stls_refused_answers_err() {
    let rt = common::runtime();
    let conformant = common::start(&rt, TlsMode::Starttls, None);
    assert!(
        Client::of(&conformant)
            .0
            .multi("CAPA")
            .contains("\r\nSTLS\r\n")
    );
    let stripped = serve(&rt, TlsMode::Starttls, "strip-stls");
    let capa = Client::of(&stripped).0.multi("CAPA");
    assert!(capa.starts_with("+OK") && !capa.contains("STLS"), "{capa}");
    let refused = serve(&rt, TlsMode::Starttls, "stls-refused");
    let (mut c, _) = Client::of(&refused);
    assert!(c.multi("CAPA").contains("\r\nSTLS\r\n"), "still offered");
    assert_eq!(c.cmd("STLS"), "-ERR STLS not available now\r\n");
}

#[test]
fn no_capa_and_in_use_answer_err_and_the_rest_is_the_servers() {
    let rt = common::runtime();
    Client::of(&serve(&rt, TlsMode::None, "no-capa"))
        .0
        .sees_no_capa();
    let server = serve(&rt, TlsMode::None, "in-use");
    let (mut c, _) = Client::of(&server);
    assert_eq!(c.cmd("USER demo"), "+OK\r\n");
    assert!(c.cmd("PASS demo").starts_with("-ERR [IN-USE] "));
}

#[test]
fn pre_auth_refuses_logins_after_tls_but_lets_external_in() {
    let rt = common::runtime();
    let server = serve(&rt, TlsMode::Implicit, "pre-auth");
    let (mut c, _) = Client::with_cert(&server);
    assert_eq!(c.cmd("USER demo"), "-ERR already authenticated\r\n");
    // The session is not in TRANSACTION: the healthy server refuses STAT.
    assert!(c.cmd("STAT").starts_with("-ERR"));
    assert!(
        c.cmd("AUTH EXTERNAL =").starts_with("+OK"),
        "EXTERNAL reaches the server"
    );
    assert!(c.cmd("STAT").starts_with("+OK 4 "));
}

#[test]
fn capa_differs_after_tls_and_the_stls_reply_carries_injected_plaintext() {
    let rt = common::runtime();
    let server = serve(&rt, TlsMode::Starttls, "capa-differs-after-tls");
    let (mut c, _) = Client::of(&server);
    assert!(
        c.multi("CAPA")
            .contains("\r\nSASL PLAIN LOGIN CRAM-MD5\r\n")
    );
    assert_eq!(c.starttls(), "");
    let after = c.multi("CAPA");
    assert!(after.contains("\r\nSASL CRAM-MD5 EXTERNAL"), "{after}");
    assert!(!after.contains("PLAIN"), "{after}");
    // The server quirk of that name: the plaintext comes with the +OK, in one write.
    let server = common::start(
        &rt,
        TlsMode::Starttls,
        popscope_core::server::Quirk::parse("stls-response-injection"),
    );
    let (mut c, _) = Client::of(&server);
    assert_eq!(
        c.starttls(),
        "+OK injected plaintext after the STLS reply\r\n"
    );
}

#[test]
fn oauth_error_refuses_even_the_good_token_with_the_json_challenge() {
    let rt = common::runtime();
    // user=demo^Aauth=Bearer demo-token^A^A
    let good = "AUTH XOAUTH2 dXNlcj1kZW1vAWF1dGg9QmVhcmVyIGRlbW8tdG9rZW4BAQ==";
    let conformant = common::start(&rt, TlsMode::Implicit, None);
    assert!(Client::of(&conformant).0.cmd(good).starts_with("+OK"));
    let server = serve(&rt, TlsMode::Implicit, "oauth-error");
    let (mut c, _) = Client::of(&server);
    let challenge = c.cmd(good);
    let json =
        popscope_core::auth::b64decode(challenge.trim_start_matches("+ ").trim_end().as_bytes());
    let v: serde_json::Value = serde_json::from_slice(&json.unwrap()).unwrap();
    assert_eq!(v["status"], "401", "{challenge}");
    assert!(c.cmd("").starts_with("-ERR"));
}

#[test]
fn slow_replies_holds_each_reply_back() {
    let rt = common::runtime();
    let server = serve(&rt, TlsMode::None, "slow-replies=1");
    let (mut c, greeting) = Client::of(&server);
    assert!(greeting.starts_with("+OK"), "the greeting is not held");
    c.sees_slow_replies();
}

#[test]
fn drop_mid_retr_closes_in_the_body_and_long_uidl_serves_70_octet_uids() {
    let rt = common::runtime();
    Client::of(&serve(&rt, TlsMode::None, "drop-mid-retr"))
        .0
        .sees_cut_retr();
    Client::of(&serve(&rt, TlsMode::None, "long-uidl"))
        .0
        .sees_long_uids();
}

#[test]
fn login_delay_is_advertised_and_a_second_login_too_soon_is_refused() {
    let rt = common::runtime();
    let server = serve(&rt, TlsMode::None, "login-delay=30");
    let (mut c, _) = Client::of(&server);
    assert!(c.multi("CAPA").contains("\r\nLOGIN-DELAY 30\r\n"));
    c.log_in();
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let (mut again, _) = Client::of(&server);
    assert_eq!(again.cmd("USER demo"), "+OK\r\n");
    let refused = again.cmd("PASS demo");
    assert!(refused.starts_with("-ERR [LOGIN-DELAY] "), "{refused}");
}

/// `popscope serve --port 0 --check-client --json` (with `--once` unless told) and `args`:
/// the port, the CA, the client certificate and key its banner names, its reports.
struct Judging {
    child: Child,
    port: u16,
    certs: [PathBuf; 3],
    reports: BufReader<std::process::ChildStdout>,
}

impl Judging {
    fn start(args: &[&str]) -> Judging {
        Judging::spawn(&[&["--once"], args].concat())
    }

    fn spawn(args: &[&str]) -> Judging {
        let mut child = Command::new(env!("CARGO_BIN_EXE_popscope"))
            .args(["serve", "--port", "0", "--check-client", "--json"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let banner = BufReader::new(child.stderr.take().unwrap());
        let (mut port, mut certs) = (0, [PathBuf::new(), PathBuf::new(), PathBuf::new()]);
        for line in banner.lines().map_while(Result::ok) {
            let word = |prefix: &str, n: usize| {
                line.strip_prefix(prefix)
                    .and_then(|r| r.split_whitespace().nth(n))
                    .map(PathBuf::from)
            };
            if let Some(p) = line.strip_prefix("listening on 127.0.0.1:") {
                port = p.split(' ').next().and_then(|p| p.parse().ok()).unwrap();
            }
            certs[0] = word("CA certificate: ", 0).unwrap_or(certs[0].clone());
            certs[1] = word("client certificate: ", 0).unwrap_or(certs[1].clone());
            certs[2] = word("client certificate: ", 2).unwrap_or(certs[2].clone());
            if line.starts_with("Ctrl-C") {
                break;
            }
        }
        let reports = BufReader::new(child.stdout.take().unwrap());
        Judging {
            child,
            port,
            certs,
            reports,
        }
    }

    fn client(&self, implicit: bool, cert: bool) -> (Client, String) {
        let [ca, c, k] = &self.certs;
        let tls = tls_config(ca, cert.then_some((c.as_path(), k.as_path())));
        Client::to(self.port, implicit, tls)
    }

    /// The client rules the next connection broke, as (rule, severity).
    fn report(&mut self) -> Vec<(String, String)> {
        let mut line = String::new();
        self.reports.read_line(&mut line).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["side"] == "client")
            .map(|f| {
                let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
                (s("rule"), s("severity"))
            })
            .collect()
    }

    /// The one connection's client rules, and the exit code of the `--once` run.
    fn verdict(mut self) -> (Vec<(String, String)>, Option<i32>) {
        let rules = self.report();
        (rules, self.child.wait().unwrap().code())
    }
}

impl Drop for Judging {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn has(rules: &[(String, String)], rule: &str, severity: &str) -> bool {
    rules.iter().any(|(r, s)| r == rule && s == severity)
}

/// One `--once` connection to `serve --check-client --json` with `args`, the client (TLS
/// from the first octet when `implicit`, presenting the demo's certificate when `cert`)
/// playing `script`: its client rules and the exit code.
fn judged(
    args: &[&str],
    implicit: bool,
    cert: bool,
    script: impl FnOnce(&mut Client),
) -> (Vec<(String, String)>, Option<i32>) {
    let serve = Judging::start(args);
    let (mut c, _) = serve.client(implicit, cert);
    script(&mut c);
    c.cmd("QUIT");
    serve.verdict()
}

/// The client sends its password in the clear though it was shown STLS and STLS failed:
/// CL-008, a warning (the EAST stripping case). With the STLS line stripped, it was shown no
/// TLS at all: CL-008 as info.
#[test]
fn a_client_that_logs_in_in_the_clear_after_stls_fails_is_cl_008() {
    let (rules, _) = judged(&["--quirk", "stls-refused"], false, false, |c| {
        c.multi("CAPA");
        assert!(c.cmd("STLS").starts_with("-ERR"));
        c.cmd("USER demo");
        c.cmd("PASS demo");
    });
    assert!(has(&rules, "CL-008", "warning"), "{rules:?}");
    let (rules, _) = judged(&["--quirk", "strip-stls"], false, false, |c| {
        assert!(!c.multi("CAPA").contains("STLS"));
        c.cmd("USER demo");
        c.cmd("PASS demo");
    });
    assert!(has(&rules, "CL-008", "info"), "{rules:?}");
}

/// A client that takes the injected `+OK` for its USER's reply sends PASS before the real
/// one: CL-009, and `--once` exits 1.
#[test]
fn a_client_that_takes_the_injected_ok_is_cl_009() {
    let (rules, code) = judged(&["--quirk", "stls-response-injection"], false, false, |c| {
        let injected = c.starttls();
        assert!(injected.starts_with("+OK injected"), "{injected}");
        c.write(b"USER demo\r\nPASS demo\r\n");
        c.line();
        c.line();
    });
    assert!(has(&rules, "CL-009", "violation"), "{rules:?}");
    assert_eq!(code, Some(1));
}

/// After TLS with a certificate, told `already authenticated`, the client assumes
/// TRANSACTION: CL-003.
#[test]
fn a_client_that_assumes_it_is_logged_in_is_cl_003() {
    let args = ["--tls", "implicit", "--quirk", "pre-auth"];
    let (rules, _) = judged(&args, true, true, |c| {
        assert_eq!(c.cmd("USER demo"), "-ERR already authenticated\r\n");
        c.cmd("STAT");
    });
    assert!(has(&rules, "CL-003", "warning"), "{rules:?}");
}

/// A mechanism only the pre-TLS CAPA listed, used after TLS: CL-007.
#[test]
fn a_client_that_keeps_the_pre_tls_mechanisms_is_cl_007() {
    let (rules, code) = judged(&["--quirk", "capa-differs-after-tls"], false, false, |c| {
        c.multi("CAPA");
        c.starttls();
        c.multi("CAPA");
        // demo / demo by PLAIN, which the post-TLS list no longer names.
        c.cmd("AUTH PLAIN AGRlbW8AZGVtbw==");
    });
    assert!(has(&rules, "CL-007", "violation"), "{rules:?}");
    assert_eq!(code, Some(1));
}

/// After the error challenge the client sends its token again instead of the dummy
/// response: CL-015.
#[test]
fn a_client_that_answers_the_error_challenge_wrongly_is_cl_015() {
    let args = ["--tls", "implicit", "--quirk", "oauth-error"];
    let (rules, code) = judged(&args, true, false, |c| {
        // n,,^Aauth=Bearer demo-token^A^A
        let message = "biwsAWF1dGg9QmVhcmVyIGRlbW8tdG9rZW4BAQ==";
        let challenge = c.cmd(&format!("AUTH OAUTHBEARER {message}"));
        assert!(challenge.starts_with("+ "), "{challenge}");
        c.cmd(message);
    });
    assert!(has(&rules, "CL-015", "violation"), "{rules:?}");
    assert_eq!(code, Some(1));
}

/// The connection dropped in RETR; on its next connection the client deletes the message it
/// never got whole, and leaves without QUIT: CL-013. (The engine sees one connection at a
/// time: the DELE of an incomplete RETR itself is not a rule.)
#[test]
fn a_client_that_deletes_after_a_cut_retr_and_leaves_is_cl_013() {
    let mut serve = Judging::spawn(&["--tls", "none", "--quirk", "drop-mid-retr"]);
    let (mut c, _) = serve.client(false, false);
    c.log_in();
    let cut = c.multi("RETR 1");
    assert!(!cut.ends_with(".\r\n"), "{cut}");
    drop(c);
    let first = serve.report();
    assert!(!first.iter().any(|(r, _)| r == "CL-013"), "{first:?}");
    let (mut c, _) = serve.client(false, false);
    c.log_in();
    assert!(c.cmd("DELE 1").starts_with("+OK"));
    drop(c);
    let second = serve.report();
    assert!(has(&second, "CL-013", "warning"), "{second:?}");
}

/// Told LOGIN-DELAY 30, the client logs in again at once: refused, and CL-016 as a warning.
/// Where no delay was advertised, two logins in a row are no finding.
#[test]
fn a_client_that_logs_in_again_too_soon_is_cl_016() {
    for (args, fires) in [
        (&["--tls", "none", "--quirk", "login-delay=30"][..], true),
        (&["--tls", "none"][..], false),
    ] {
        let mut serve = Judging::spawn(args);
        for _ in 0..2 {
            let (mut c, _) = serve.client(false, false);
            c.multi("CAPA");
            c.cmd("USER demo");
            c.cmd("PASS demo");
            c.cmd("QUIT");
        }
        let first = serve.report();
        assert!(!first.iter().any(|(r, _)| r == "CL-016"), "{first:?}");
        let second = serve.report();
        assert_eq!(
            has(&second, "CL-016", "warning"),
            fires,
            "{args:?}: {second:?}"
        );
    }
}

/// A client that waits for each reply and quits after a plain walk breaks no rule under a
/// case that only changes what it is served.
#[test]
fn a_careful_client_under_long_uidl_breaks_no_client_rule() {
    let (rules, code) = judged(
        &["--tls", "none", "--quirk", "long-uidl"],
        false,
        false,
        |c| {
            c.multi("CAPA");
            c.log_in();
            assert!(c.multi("UIDL").lines().nth(1).unwrap().len() > LONG_UID_LEN);
        },
    );
    assert!(
        rules.iter().all(|(r, s)| r == "CL-008" && s == "info"),
        "{rules:?}"
    );
    assert_eq!(code, Some(0));
}

/// `popscope proxy --headless --json --inject CASE` in front of `upstream`, and its port.
struct Proxy {
    proxy: common::proxy::Spawned,
    port: u16,
}

impl Proxy {
    fn start(upstream: &Running, case: &str) -> Proxy {
        Proxy::start_with(upstream, case, &["--listen", "pop3://127.0.0.1:0"])
    }

    /// `--listen pop3s://`, showing clients the demo server's own certificate.
    fn start_tls(upstream: &Running, case: &str) -> Proxy {
        let file = |name: &str| upstream.certs.dir.join(name).display().to_string();
        let (cert, key) = (file("server.pem"), file("server-key.pem"));
        let listen = [
            "--listen",
            "pop3s://127.0.0.1:0",
            "--cert",
            &cert,
            "--key",
            &key,
        ];
        Proxy::start_with(upstream, case, &listen)
    }

    fn start_with(upstream: &Running, case: &str, listen: &[&str]) -> Proxy {
        let url = upstream.url();
        let mut args = listen.to_vec();
        args.extend(["--upstream", &url, "--headless", "--json", "--timeout", "5"]);
        args.extend(["--inject", case]);
        let proxy = common::proxy::Spawned::new(&args, &[]);
        let port = proxy.port;
        Proxy { proxy, port }
    }

    fn client(&self, upstream: &Running) -> (Client, String) {
        Client::to(self.port, false, tls_config(&upstream.certs.ca, None))
    }

    /// The rules of the next connection's report, as (rule, side).
    fn report(&self) -> Vec<(String, String)> {
        let line = self
            .proxy
            .lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
                (s("rule"), s("side"))
            })
            .collect()
    }
}

#[test]
fn proxy_inject_changes_what_the_client_gets_from_a_healthy_upstream() {
    let rt = common::runtime();
    let upstream = common::start(&rt, TlsMode::None, None);

    let direct = Client::of(&upstream).0.multi("CAPA");
    assert!(direct.starts_with("+OK"), "{direct}");
    let proxy = Proxy::start(&upstream, "no-capa");
    let (mut c, greeting) = proxy.client(&upstream);
    assert!(greeting.starts_with("+OK"), "{greeting}");
    c.sees_no_capa();
    Proxy::start(&upstream, "long-uidl")
        .client(&upstream)
        .0
        .sees_long_uids();
    let proxy = Proxy::start(&upstream, "drop-mid-retr");
    proxy.client(&upstream).0.sees_cut_retr();
    // The engine judged what the client saw: a RETR body the server cut short.
    let seen = proxy.report();
    assert!(
        seen.contains(&("ML-001".into(), "server".into())),
        "{seen:?}"
    );

    let proxy = Proxy::start(&upstream, "slow-replies=1");
    proxy.client(&upstream).0.sees_slow_replies();
}

/// The client's leg is TLS from its first octet (`--listen pop3s://`): pre-auth refuses a
/// login at once, though the upstream leg is plain.
#[test]
fn proxy_inject_pre_auth_on_a_tls_client_leg() {
    let rt = common::runtime();
    let upstream = common::start(&rt, TlsMode::None, None);
    let proxy = Proxy::start_tls(&upstream, "pre-auth");
    let (mut c, greeting) = Client::to(proxy.port, true, tls_config(&upstream.certs.ca, None));
    assert!(greeting.starts_with("+OK"), "{greeting}");
    assert_eq!(c.cmd("USER demo"), "-ERR already authenticated\r\n");
    assert!(
        c.cmd("STAT").starts_with("-ERR"),
        "the upstream logged no one in"
    );
    // On a plain client leg the case does nothing.
    let proxy = Proxy::start(&upstream, "pre-auth");
    assert_eq!(proxy.client(&upstream).0.cmd("USER demo"), "+OK\r\n");
}

/// Through the proxy the engine judges the client by what the injector served it: a client
/// that answers oauth-error's challenge with its token again is CL-015 in the report.
#[test]
fn proxy_inject_oauth_error_reports_a_wrong_answer_as_cl_015() {
    let rt = common::runtime();
    let upstream = common::start(&rt, TlsMode::None, None);
    let proxy = Proxy::start_tls(&upstream, "oauth-error");
    let (mut c, _) = Client::to(proxy.port, true, tls_config(&upstream.certs.ca, None));
    // n,,^Aauth=Bearer demo-token^A^A
    let message = "biwsAWF1dGg9QmVhcmVyIGRlbW8tdG9rZW4BAQ==";
    let challenge = c.cmd(&format!("AUTH OAUTHBEARER {message}"));
    assert!(challenge.starts_with("+ "), "{challenge}");
    assert!(c.cmd(message).starts_with("-ERR"));
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let seen = proxy.report();
    assert!(
        seen.contains(&("CL-015".into(), "client".into())),
        "{seen:?}"
    );
}

/// The STLS cases through the proxy, which answers the client's STLS itself
/// (`--offer-stls`): each changes what the client sees around it, over a plain upstream.
#[test]
fn proxy_inject_the_stls_cases_with_offer_stls() {
    let rt = common::runtime();
    let upstream = common::start(&rt, TlsMode::None, None);
    let file = |name: &str| upstream.certs.dir.join(name).display().to_string();
    let (cert, key) = (file("server.pem"), file("server-key.pem"));
    let offering = |case: &str| {
        let listen = ["--listen", "pop3://127.0.0.1:0", "--offer-stls"];
        Proxy::start_with(
            &upstream,
            case,
            &[&listen[..], &["--cert", &cert, "--key", &key]].concat(),
        )
    };
    // The control: a case that is not about STLS leaves the proxy's offer and its +OK alone.
    let proxy = offering("long-uidl");
    let (mut c, _) = proxy.client(&upstream);
    let before = c.multi("CAPA");
    assert!(before.contains("\r\nSTLS\r\n"), "{before}");
    assert_eq!(c.starttls(), "", "nothing after the +OK");
    assert_eq!(c.multi("CAPA"), before.replace("STLS\r\n", ""));

    let proxy = offering("strip-stls");
    let capa = proxy.client(&upstream).0.multi("CAPA");
    assert!(capa.starts_with("+OK") && !capa.contains("STLS"), "{capa}");

    let proxy = offering("stls-refused");
    let (mut c, _) = proxy.client(&upstream);
    assert!(c.multi("CAPA").contains("\r\nSTLS\r\n"), "still offered");
    assert!(c.cmd("STLS").starts_with("-ERR"));

    let proxy = offering("stls-response-injection");
    let (mut c, _) = proxy.client(&upstream);
    assert_eq!(
        c.starttls(),
        "+OK injected plaintext after the STLS reply\r\n"
    );
    assert!(
        c.cmd("NOOP").starts_with("-ERR"),
        "the session goes on inside TLS"
    );

    let proxy = offering("capa-differs-after-tls");
    let (mut c, _) = proxy.client(&upstream);
    let sasl = |capa: &str| {
        let line = capa
            .lines()
            .find(|l| l.starts_with("SASL"))
            .unwrap_or_default();
        line.split(' ')
            .skip(1)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let plain = sasl(&c.multi("CAPA"));
    c.starttls();
    let inside = sasl(&c.multi("CAPA"));
    assert!(plain.len() > inside.len(), "{plain:?} / {inside:?}");
    assert!(
        inside.iter().all(|m| plain.contains(m)),
        "{plain:?} / {inside:?}"
    );
}

/// login-delay through the proxy: the proxy remembers each client's last login, refuses the
/// next one too soon, and judges it (CL-016) across the two connections.
#[test]
fn proxy_inject_login_delay_refuses_a_second_login_too_soon_and_reports_cl_016() {
    let rt = common::runtime();
    let upstream = common::start(&rt, TlsMode::None, None);
    for (case, refused) in [("login-delay=30", true), ("long-uidl", false)] {
        let proxy = Proxy::start(&upstream, case);
        let mut answers = Vec::new();
        for _ in 0..2 {
            let (mut c, _) = proxy.client(&upstream);
            c.multi("CAPA");
            c.cmd("USER demo");
            answers.push(c.cmd("PASS demo"));
            c.cmd("QUIT");
        }
        assert!(answers[0].starts_with("+OK"), "{case}: {answers:?}");
        assert_eq!(
            answers[1].starts_with("-ERR [LOGIN-DELAY] "),
            refused,
            "{case}: {answers:?}"
        );
        let first = proxy.report();
        assert!(!first.iter().any(|(r, _)| r == "CL-016"), "{first:?}");
        let second = proxy.report();
        let cl016 = second.contains(&("CL-016".into(), "client".into()));
        assert_eq!(cl016, refused, "{case}: {second:?}");
    }
}
