//! `popscope proxy` as a user runs it: the demo server upstream (plain and pop3s), curl and a
//! scripted client through the proxy, one JSON report per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use popscope::server::{Running, TlsMode};
use popscope_core::server::Quirk;

/// A running `popscope proxy --headless --json`, its reports read as they come.
struct Proxy {
    proxy: common::proxy::Spawned,
    port: u16,
    /// What it said on stderr before it listened (warnings).
    said: Vec<String>,
}

impl Proxy {
    fn start(upstream: &str, extra: &[&str]) -> Proxy {
        Proxy::spawn(upstream, &[&["--json"], extra].concat())
    }

    /// Without --json: the readable lines, one by one.
    fn start_text(upstream: &str) -> Proxy {
        Proxy::spawn(upstream, &[])
    }

    fn spawn(upstream: &str, extra: &[&str]) -> Proxy {
        Proxy::spawn_on("pop3://127.0.0.1:0", upstream, extra)
    }

    fn spawn_on(listen: &str, upstream: &str, extra: &[&str]) -> Proxy {
        Proxy::spawn_env(listen, upstream, extra, &[])
    }

    fn spawn_env(listen: &str, upstream: &str, extra: &[&str], env: &[(&str, &str)]) -> Proxy {
        let mut args = vec!["--listen", listen, "--upstream", upstream, "--headless"];
        if !extra.contains(&"--timeout") {
            args.extend(["--timeout", "5"]);
        }
        args.extend(extra);
        let proxy = common::proxy::Spawned::new(&args, env);
        let (port, said) = (proxy.port, proxy.said.clone());
        Proxy { proxy, port, said }
    }

    /// `--listen pop3s://` in front of `server`, with --json, showing clients the demo
    /// server's own certificate (localhost, signed by its CA).
    fn tls_listen(server: &Running, extra: &[&str]) -> Proxy {
        let file = |name: &str| server.certs.dir.join(name).display().to_string();
        let (cert, key) = (file("server.pem"), file("server-key.pem"));
        let args = [&["--json", "--cert", &cert, "--key", &key], extra].concat();
        Proxy::spawn_on("pop3s://127.0.0.1:0", &server.url(), &args)
    }

    fn url(&self) -> String {
        format!("pop3://127.0.0.1:{}", self.port)
    }

    fn line(&self) -> String {
        self.proxy
            .lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("no report: {e}"))
    }

    /// The next connection's report.
    fn report(&self) -> serde_json::Value {
        let line = self.line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// SIGTERM, and the exit code.
    fn stop(mut self) -> Option<i32> {
        let pid = i32::try_from(self.proxy.child.id()).unwrap_or_else(|e| panic!("{e}"));
        // SAFETY: kill(2) on our own child's id.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        self.proxy.child.wait().ok().and_then(|s| s.code())
    }
}

fn demo(tls: TlsMode, quirk: Option<Quirk>) -> (tokio::runtime::Runtime, Running) {
    let rt = common::runtime();
    let server = common::start(&rt, tls, quirk);
    (rt, server)
}

fn curl(url: &str, extra: &[&str]) -> Vec<u8> {
    let o = Command::new("curl")
        .args(["-s", "--max-time", "20", url, "--user", "demo:demo"])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("cannot run curl: {e}"));
    assert!(o.status.success(), "curl {url}: {o:?}");
    o.stdout
}

/// A client connection, and a reader of it.
fn connect(port: u16) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("{e}"));
    let r = BufReader::new(s.try_clone().unwrap_or_else(|e| panic!("{e}")));
    (s, r)
}

/// Plays `lines` as a client, each after the reply to the one before (the greeting first),
/// and returns everything the server side said.
fn session(port: u16, lines: &[&str]) -> Vec<u8> {
    let (mut s, mut r) = connect(port);
    let mut heard = Vec::new();
    read_reply(&mut r, &mut heard, false);
    for line in lines {
        s.write_all(format!("{line}\r\n").as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let multi =
            ["RETR", "CAPA", "UIDL", "LIST"].contains(&line.trim()) || line.starts_with("RETR ");
        read_reply(&mut r, &mut heard, multi);
    }
    let _ = r.read_to_end(&mut heard);
    heard
}

fn read_reply(r: &mut impl BufRead, heard: &mut Vec<u8>, multi: bool) {
    let mut first = Vec::new();
    r.read_until(b'\n', &mut first)
        .unwrap_or_else(|e| panic!("{e}"));
    heard.extend_from_slice(&first);
    if !(multi && first.starts_with(b"+OK")) {
        return;
    }
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            return;
        }
        heard.extend_from_slice(&line);
        if line == b".\r\n" {
            return;
        }
    }
}

/// Everything after the greeting (its APOP timestamp differs between connections).
fn after_greeting(heard: &[u8]) -> &[u8] {
    let end = heard.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
    &heard[end..]
}

fn sides_are_named(report: &serde_json::Value) {
    for f in report["findings"].as_array().into_iter().flatten() {
        let rule = f["rule"].as_str().unwrap_or_default();
        let side = if rule.starts_with("CL-") {
            "client"
        } else {
            "server"
        };
        assert_eq!(f["side"], side, "{f}");
    }
}

#[test]
fn curl_gets_the_message_through_the_proxy_byte_for_byte_and_one_report_comes() {
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = Proxy::start(&server.url(), &[]);
    let direct = curl(&format!("{}/1", server.url()), &[]);
    let proxied = curl(&format!("{}/1", proxy.url()), &[]);
    assert!(direct.len() > 100, "{}", String::from_utf8_lossy(&direct));
    assert_eq!(proxied, direct);
    let report = proxy.report();
    assert_eq!(report["connection"], 1, "{report}");
    assert_eq!(report["upstream"], server.url(), "{report}");
    assert!(
        report["client"]
            .as_str()
            .is_some_and(|c| c.starts_with("127.0.0.1:")),
        "{report}"
    );
    assert_eq!(report["final_state"], "closed", "{report}");
    assert!(report["error"].is_null(), "{report}");
    for key in ["violation", "warning", "info"] {
        assert!(report["summary"][key].is_u64(), "{report}");
    }
    // The plain demo server offers USER and PLAIN in the clear: a server-side finding.
    assert!(
        common::rule_ids(&report).contains(&"USR-002".to_owned()),
        "{report}"
    );
    sides_are_named(&report);
    assert_eq!(proxy.stop(), Some(0));
}

#[test]
fn a_pop3s_upstream_is_verified_and_relayed_to_a_plain_client() {
    let (_rt, server) = demo(TlsMode::Implicit, None);
    let ca = server.certs.ca.display().to_string();
    let proxy = Proxy::start(&server.url(), &["--ca-file", &ca]);
    let direct = curl(&format!("{}/1", server.url()), &["--cacert", &ca]);
    let proxied = curl(&format!("{}/1", proxy.url()), &[]);
    assert!(direct.len() > 100);
    assert_eq!(proxied, direct);
    let report = proxy.report();
    assert!(report["error"].is_null(), "{report}");
    assert_eq!(report["final_state"], "closed", "{report}");
    let tls = report["upstream_tls"].as_str().unwrap_or_default();
    assert!(
        tls.starts_with("TLS") && tls.contains("verified") && !tls.contains("NOT"),
        "{report}"
    );
    sides_are_named(&report);
    // The upstream leg is TLS, the client's is not: its login was in the clear there.
    let cl008 = findings_of(&report, "CL-008");
    assert_eq!(cl008.len(), 1, "{report}");
    assert_eq!(cl008[0]["side"], "client", "{report}");
}

#[test]
fn insecure_relays_an_unverified_upstream_and_says_so() {
    let (_rt, server) = demo(TlsMode::Implicit, None);
    let proxy = Proxy::start(&server.url(), &["--insecure"]);
    let proxied = curl(&format!("{}/1", proxy.url()), &[]);
    assert!(String::from_utf8_lossy(&proxied).contains("Subject: Welcome to popscope"));
    let report = proxy.report();
    let tls = report["upstream_tls"].as_str().unwrap_or_default();
    assert!(tls.contains("NOT VERIFIED"), "{report}");
    assert!(
        proxy
            .said
            .iter()
            .any(|l| l.contains("--insecure") && l.contains("NOT VERIFIED")),
        "{:?}",
        proxy.said
    );
}

#[test]
fn listening_beyond_loopback_is_warned_about_and_loopback_is_not() {
    let proxy = Proxy::spawn_on("pop3://0.0.0.0:0", "pop3://127.0.0.1:1", &[]);
    assert_eq!(proxy.said.len(), 1, "{:?}", proxy.said);
    assert!(
        proxy.said[0].starts_with("popscope: warning: listening on 0.0.0.0:"),
        "{:?}",
        proxy.said
    );
    drop(proxy);
    let proxy = Proxy::spawn_on("pop3://localhost:0", "pop3://127.0.0.1:1", &[]);
    assert!(proxy.said.is_empty(), "{:?}", proxy.said);
}

#[test]
fn without_json_each_connection_is_a_line_and_its_findings() {
    let (_rt, server) = demo(TlsMode::None, Some(Quirk::NoLoginNeeded));
    let proxy = Proxy::start_text(&server.url());
    session(proxy.port, &["STAT", "QUIT"]);
    let head = proxy.line();
    assert!(
        head.starts_with("connection 1 from 127.0.0.1:")
            && head.contains(&format!("to {}:", server.url()))
            && head.contains("violation"),
        "{head}"
    );
    let mut lines = Vec::new();
    while let Ok(l) = proxy.proxy.lines.recv_timeout(Duration::from_millis(300)) {
        lines.push(l);
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ST-001") && l.contains("server")),
        "{lines:?}"
    );
}

#[test]
fn an_upstream_certificate_that_does_not_verify_refuses_the_client_in_one_line() {
    let (_rt, server) = demo(TlsMode::Implicit, None);
    let proxy = Proxy::start(&server.url(), &[]);
    let heard = session(proxy.port, &[]);
    let text = String::from_utf8_lossy(&heard);
    assert!(
        text.starts_with("-ERR popscope proxy: the server cannot be reached"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    let report = proxy.report();
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("certificate")),
        "{report}"
    );
}

#[test]
fn a_scripted_client_gets_what_the_server_sends() {
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = Proxy::start(&server.url(), &[]);
    let script = [
        "USER demo",
        "PASS demo",
        "STAT",
        "LIST",
        "UIDL",
        "RETR 2",
        "QUIT",
    ];
    let direct = session(server.port(), &script);
    let proxied = session(proxy.port, &script);
    assert_eq!(after_greeting(&proxied), after_greeting(&direct));
    assert!(String::from_utf8_lossy(&proxied).contains("signing off"));
    let report = proxy.report();
    assert_eq!(report["final_state"], "closed", "{report}");
}

#[test]
fn two_clients_at_once_are_two_sessions() {
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = Proxy::start(&server.url(), &[]);
    let (mut a, mut ra) = connect(proxy.port);
    let (mut b, mut rb) = connect(proxy.port);
    let (mut heard_a, mut heard_b) = (Vec::new(), Vec::new());
    read_reply(&mut ra, &mut heard_a, false);
    read_reply(&mut rb, &mut heard_b, false);
    // Interleaved: each step of A, then the same of B, both open all along.
    for (line, multi) in [("USER demo", false), ("PASS demo", false), ("RETR 1", true)] {
        a.write_all(format!("{line}\r\n").as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        b.write_all(format!("{line}\r\n").as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        read_reply(&mut ra, &mut heard_a, multi);
        read_reply(&mut rb, &mut heard_b, multi);
    }
    for (s, r, heard) in [
        (&mut a, &mut ra, &mut heard_a),
        (&mut b, &mut rb, &mut heard_b),
    ] {
        s.write_all(b"QUIT\r\n").unwrap_or_else(|e| panic!("{e}"));
        let _ = r.read_to_end(heard);
    }
    assert_eq!(after_greeting(&heard_a), after_greeting(&heard_b));
    assert!(String::from_utf8_lossy(&heard_a).contains("Subject: Welcome to popscope"));
    let reports = [proxy.report(), proxy.report()];
    let mut numbers: Vec<u64> = reports
        .iter()
        .filter_map(|r| r["connection"].as_u64())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2]);
    assert_ne!(reports[0]["client"], reports[1]["client"]);
    for r in &reports {
        assert_eq!(r["final_state"], "closed", "{r}");
    }
}

#[test]
fn stat_before_login_is_judged_on_both_sides() {
    // The client breaks CL-002 whatever the server does; a server that answers +OK breaks
    // ST-001 as well.
    let (_rt, server) = demo(TlsMode::Starttls, Some(Quirk::NoLoginNeeded));
    let proxy = Proxy::start(&server.url(), &[]);
    session(proxy.port, &["STAT", "QUIT"]);
    let report = proxy.report();
    let of = |rule: &str| -> Vec<serde_json::Value> {
        report["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["rule"] == rule)
            .cloned()
            .collect()
    };
    let (st001, cl002) = (of("ST-001"), of("CL-002"));
    assert_eq!(st001.len(), 1, "{report}");
    assert_eq!(st001[0]["side"], "server");
    assert_eq!(cl002.len(), 1, "{report}");
    assert_eq!(cl002[0]["side"], "client");
    sides_are_named(&report);
    // A conformant server gives no ST-001 for the same client; the client's CL-002 stays.
    let (_rt2, clean) = demo(TlsMode::Starttls, None);
    let proxy = Proxy::start(&clean.url(), &[]);
    session(proxy.port, &["STAT", "QUIT"]);
    let ids = common::rule_ids(&proxy.report());
    assert!(!ids.contains(&"ST-001".to_owned()), "{ids:?}");
    assert!(ids.contains(&"CL-002".to_owned()), "{ids:?}");
    // And a client that logs in first is not blamed (a plain server: the STLS one refuses
    // passwords in the clear, and this proxy keeps STLS from the client).
    let (_rt3, plain) = demo(TlsMode::None, None);
    let proxy = Proxy::start(&plain.url(), &[]);
    session(proxy.port, &["USER demo", "PASS demo", "STAT", "QUIT"]);
    let ids = common::rule_ids(&proxy.report());
    assert!(!ids.contains(&"CL-002".to_owned()), "{ids:?}");
}

#[test]
fn stls_is_kept_from_the_client_and_answered_by_the_proxy() {
    let (_rt, server) = demo(TlsMode::Starttls, None);
    let direct = String::from_utf8_lossy(&session(server.port(), &["CAPA", "QUIT"])).into_owned();
    assert!(direct.contains("\r\nSTLS\r\n"), "{direct}");
    let proxy = Proxy::start(&server.url(), &[]);
    let heard = session(proxy.port, &["CAPA", "STLS", "NOOP", "QUIT"]);
    let text = String::from_utf8_lossy(&heard);
    assert!(!text.contains("\r\nSTLS\r\n"), "{text}");
    assert!(
        text.contains("\r\nSASL "),
        "the rest of CAPA is there: {text}"
    );
    assert!(
        text.contains("-ERR STLS is not offered through this popscope proxy\r\n"),
        "{text}"
    );
    let report = proxy.report();
    let notes = report["notes"].to_string();
    assert!(notes.contains("STLS 1 time"), "{report}");
}

#[test]
fn record_keeps_each_connection_as_its_own_session_with_secrets_redacted() {
    let (_rt, server) = demo(TlsMode::None, None);
    let file = common::scratch_path("proxy-record.jsonl");
    let path = file.display().to_string();
    let proxy = Proxy::start(&server.url(), &["--record", &path]);
    curl(&format!("{}/1", proxy.url()), &[]);
    session(proxy.port, &["USER demo", "PASS demo", "QUIT"]);
    proxy.report();
    proxy.report();
    assert_eq!(proxy.stop(), Some(0));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text.matches("\"type\":\"header\"").count(), 2, "{text}");
    assert!(!text.contains("PASS demo"), "{text}");
    let recheck = common::popscope(&["check", "--transcript", &path, "--json"]);
    assert!(recheck.status.code().is_some_and(|c| c < 2), "{recheck:?}");
    // A re-check judges the proxied client too, as the proxy did: the header says the
    // client is not popscope.
    let again = common::scratch_path("proxy-record-client.jsonl");
    let again_path = again.display().to_string();
    let proxy = Proxy::start(&server.url(), &["--record", &again_path]);
    session(proxy.port, &["STAT", "QUIT"]);
    assert!(common::rule_ids(&proxy.report()).contains(&"CL-002".to_owned()));
    assert_eq!(proxy.stop(), Some(0));
    let rechecked = common::recheck(&again_path);
    let cl002 = findings_of(&rechecked, "CL-002");
    assert_eq!(cl002.len(), 1, "{rechecked}");
    assert_eq!(cl002[0]["side"], "client", "{rechecked}");
}

#[test]
fn a_stop_ends_live_connections_with_their_reports() {
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = Proxy::start(&server.url(), &[]);
    let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap_or_else(|e| panic!("{e}"));
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut greeting = [0u8; 3];
    s.read_exact(&mut greeting)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&greeting, b"+OK");
    let pid = i32::try_from(proxy.proxy.child.id()).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: kill(2) on our own child's id.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let report = proxy.report();
    assert_eq!(report["error"], "the proxy was stopped", "{report}");
    assert_eq!(proxy.stop(), Some(0));
}

/// The proxy's resident memory, from /proc.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A server for any number of connections: a greeting, then 140 MB of body for RETR and
/// a goodbye for QUIT. Returns its port.
fn flooding_server() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        for conn in l.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap_or_else(|e| panic!("{e}"));
                let mut r = BufReader::new(conn);
                let _ = w.write_all(b"+OK ready\r\n");
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    if line.starts_with("RETR") {
                        let _ = w.write_all(b"+OK 140000000 octets\r\n");
                        let block = b"a line of text\r\n".repeat(4096);
                        for _ in 0..2200 {
                            if w.write_all(&block).is_err() {
                                return;
                            }
                        }
                    } else if line.starts_with("QUIT") {
                        let _ = w.write_all(b"+OK bye\r\n");
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    port
}

#[test]
fn a_client_that_stops_reading_ends_only_its_connection_with_memory_bounded() {
    let flood = flooding_server();
    let proxy = Proxy::start(&format!("pop3://127.0.0.1:{flood}"), &["--timeout", "3"]);
    let mut stalled =
        TcpStream::connect(("127.0.0.1", proxy.port)).unwrap_or_else(|e| panic!("{e}"));
    let mut greeting = [0u8; 11];
    stalled
        .read_exact(&mut greeting)
        .unwrap_or_else(|e| panic!("{e}"));
    stalled
        .write_all(b"RETR 1\r\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(500));
    // Meanwhile another client's session goes on as if nothing happened.
    let other = session(proxy.port, &["QUIT"]);
    assert!(String::from_utf8_lossy(&other).ends_with("+OK bye\r\n"));
    let first = proxy.report();
    assert!(first["error"].is_null(), "{first}");
    let rss = rss_kib(proxy.proxy.child.id());
    eprintln!("proxy resident: {rss} KiB while a client stalled on a 140 MB RETR");
    let stalled_report = proxy.report();
    assert_eq!(
        stalled_report["error"], "the client read nothing for 3 s",
        "{stalled_report}"
    );
    assert!(
        rss > 0 && rss < 64 << 10,
        "{rss} KiB resident while a client stalled"
    );
    drop(stalled);
}

#[test]
fn a_server_silent_past_the_timeout_is_judged_and_one_in_time_is_not() {
    use common::Step;
    let silent = common::silent(1);
    let proxy = Proxy::start(&format!("pop3://127.0.0.1:{silent}"), &["--timeout", "1"]);
    let s = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(1600));
    drop(s);
    let report = proxy.report();
    assert!(
        common::rule_ids(&report).contains(&"GRT-003".to_owned()),
        "{report}"
    );
    // A greeting a little late, yet within the timeout, is not a silence.
    let slow = common::scripted(vec![
        Step::Sleep(300),
        Step::Send(b"+OK ready\r\n".to_vec()),
        Step::ReadLine,
        Step::Send(b"+OK bye\r\n".to_vec()),
    ]);
    let proxy = Proxy::start(&format!("pop3://127.0.0.1:{slow}"), &["--timeout", "1"]);
    session(proxy.port, &["QUIT"]);
    let report = proxy.report();
    assert!(
        !common::rule_ids(&report).contains(&"GRT-003".to_owned()),
        "{report}"
    );
    assert!(report["error"].is_null(), "{report}");
}

#[test]
fn a_client_that_half_closes_after_quit_still_gets_the_goodbye_judged_and_recorded() {
    let (_rt, server) = demo(TlsMode::None, None);
    let file = common::scratch_path("proxy-half-close.jsonl");
    let path = file.display().to_string();
    let proxy = Proxy::start(&server.url(), &["--record", &path]);
    let (mut s, mut r) = connect(proxy.port);
    let mut heard = Vec::new();
    read_reply(&mut r, &mut heard, false);
    s.write_all(b"QUIT\r\n").unwrap_or_else(|e| panic!("{e}"));
    s.shutdown(std::net::Shutdown::Write)
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = r.read_to_end(&mut heard);
    assert!(String::from_utf8_lossy(&heard).contains("signing off"));
    let report = proxy.report();
    assert_eq!(proxy.stop(), Some(0));
    let recorded = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    assert!(recorded.contains("signing off"), "{recorded}");
    assert!(recorded.contains("server-closed"), "{recorded}");
    assert_eq!(report["final_state"], "closed", "{report}");
}

#[test]
fn a_client_that_leaves_without_quit_is_not_the_server_closing() {
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = Proxy::start(&server.url(), &[]);
    let (mut s, mut r) = connect(proxy.port);
    let mut heard = Vec::new();
    read_reply(&mut r, &mut heard, false);
    s.write_all(b"NOOP\r\n").unwrap_or_else(|e| panic!("{e}"));
    read_reply(&mut r, &mut heard, false);
    // Idle long enough for an autologout to be measured, then gone.
    std::thread::sleep(Duration::from_millis(1200));
    drop((s, r));
    let report = proxy.report();
    let rules = common::rule_ids(&report);
    assert!(!rules.iter().any(|r| r.starts_with("TMO")), "{report}");
}

#[test]
fn fifty_clients_at_once_all_complete_with_their_mail_intact() {
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = Proxy::start(&server.url(), &[]);
    let script = ["USER demo", "PASS demo", "RETR 1", "QUIT"];
    let direct = session(server.port(), &script);
    let port = proxy.port;
    let clients: Vec<_> = (0..50)
        .map(|_| std::thread::spawn(move || session(port, &script)))
        .collect();
    for c in clients {
        let heard = c.join().unwrap_or_else(|_| panic!("a client failed"));
        assert_eq!(after_greeting(&heard), after_greeting(&direct));
    }
    let mut numbers: Vec<u64> = (0..50)
        .map(|_| proxy.report()["connection"].as_u64().unwrap_or(0))
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<u64>>());
}

/// The findings of one rule in a report.
fn findings_of(report: &serde_json::Value, rule: &str) -> Vec<serde_json::Value> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["rule"] == rule)
        .cloned()
        .collect()
}

#[test]
fn a_tls_client_leg_relays_intact_and_its_password_is_not_in_the_clear() {
    for upstream_tls in [TlsMode::None, TlsMode::Implicit] {
        let (_rt, server) = demo(upstream_tls, None);
        let ca = server.certs.ca.display().to_string();
        let file = common::scratch_path(&format!("proxy-tls-leg-{upstream_tls:?}.jsonl"));
        let record = file.display().to_string();
        let args = ["--ca-file", &ca, "--record", &record, "--force"];
        let proxy = Proxy::tls_listen(&server, &args);
        let direct = curl(&format!("{}/1", server.url()), &["--cacert", &ca]);
        let proxied = curl(
            &format!("pop3s://localhost:{}/1", proxy.port),
            &["--cacert", &ca],
        );
        assert!(direct.len() > 100, "{upstream_tls:?}");
        assert_eq!(proxied, direct, "{upstream_tls:?}");
        let report = proxy.report();
        assert!(report["error"].is_null(), "{report}");
        assert_eq!(report["final_state"], "closed", "{report}");
        // The password went inside the client's TLS: no CL-008, whatever the upstream leg.
        assert_eq!(
            findings_of(&report, "CL-008"),
            [] as [serde_json::Value; 0],
            "{report}"
        );
        sides_are_named(&report);
        if upstream_tls == TlsMode::None {
            // The server rules still judge the plain upstream leg.
            assert!(
                common::rule_ids(&report).contains(&"USR-002".to_owned()),
                "{report}"
            );
        }
        // The recording keeps how the client's leg was secured: its re-check agrees.
        assert_eq!(proxy.stop(), Some(0));
        let rechecked = common::recheck(&record);
        assert_eq!(
            findings_of(&rechecked, "CL-008"),
            [] as [serde_json::Value; 0],
            "{upstream_tls:?}: {rechecked}"
        );
    }
}

#[test]
fn a_plain_client_leg_still_sends_its_password_in_the_clear() {
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = Proxy::start(&server.url(), &[]);
    curl(&format!("{}/1", proxy.url()), &[]);
    let report = proxy.report();
    let cl008 = findings_of(&report, "CL-008");
    assert_eq!(cl008.len(), 1, "{report}");
    assert_eq!(cl008[0]["severity"], "info", "{report}");
    assert_eq!(cl008[0]["side"], "client", "{report}");
}

/// The fingerprint the proxy printed for its own CA, and whether it said it made it now.
fn own_ca_said(proxy: &Proxy) -> (String, bool) {
    let said = proxy.said.join("\n");
    for how in [
        "Thunderbird: Settings > Privacy & Security > Certificates > Manage Certificates > Authorities > Import",
        "certutil -addstore Root",
        "sslcertfile",
    ] {
        assert!(said.contains(how), "{said}");
    }
    let fingerprint = said
        .split("(SHA-256 ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no fingerprint in {said}"));
    (fingerprint.to_owned(), said.contains("(made now)"))
}

#[test]
fn a_pop3s_listen_without_cert_shows_the_own_ca_and_a_second_run_keeps_it() {
    let (_rt, server) = demo(TlsMode::None, None);
    let dir = common::scratch_path("own-ca");
    let ca_dir = dir.display().to_string();
    let direct = curl(&format!("{}/1", server.url()), &[]);
    let ca = dir.join("ca.pem").display().to_string();
    let mut fingerprints = Vec::new();
    for run in 0..2 {
        let proxy = Proxy::spawn_on(
            "pop3s://127.0.0.1:0",
            &server.url(),
            &["--json", "--ca-dir", &ca_dir],
        );
        let (fingerprint, made) = own_ca_said(&proxy);
        assert_eq!(made, run == 0, "{:?}", proxy.said);
        fingerprints.push(fingerprint);
        let proxied = curl(
            &format!("pop3s://localhost:{}/1", proxy.port),
            &["--cacert", &ca],
        );
        assert_eq!(proxied, direct, "run {run}");
        assert!(proxy.report()["error"].is_null());
    }
    assert_eq!(fingerprints[0], fingerprints[1]);
    let mode = |p: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::symlink_metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .ok()
    };
    assert_eq!(mode(&dir), Some(0o700));
    assert_eq!(mode(&dir.join("ca-key.pem")), Some(0o600));
}

#[test]
fn offer_stls_without_cert_uses_the_own_ca_from_the_data_folder() {
    let (_rt, server) = demo(TlsMode::None, None);
    let data = common::scratch_path("xdg-data");
    let proxy = Proxy::spawn_env(
        "pop3://127.0.0.1:0",
        &server.url(),
        &["--json", "--offer-stls", "--cert-name", "mail.invalid"],
        &[("XDG_DATA_HOME", &data.display().to_string())],
    );
    own_ca_said(&proxy);
    let ca = data.join("popscope/proxy-ca/ca.pem");
    assert!(ca.exists(), "{:?}", proxy.said);
    let direct = curl(&format!("{}/1", server.url()), &[]);
    let proxied = curl(
        &format!("pop3://127.0.0.1:{}/1", proxy.port),
        &["--ssl-reqd", "--cacert", &ca.display().to_string()],
    );
    assert_eq!(proxied, direct);
    // The extra name is on the certificate: a client that says it is served too.
    let by_name = curl(
        &format!("pop3://mail.invalid:{}/1", proxy.port),
        &[
            "--ssl-reqd",
            "--cacert",
            &ca.display().to_string(),
            "--resolve",
            &format!("mail.invalid:{}:127.0.0.1", proxy.port),
        ],
    );
    assert_eq!(by_name, direct);
}

#[test]
fn an_own_ca_key_others_can_read_is_refused_in_one_line() {
    let dir = common::scratch_path("loose-ca");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_popscope"))
            .args(["proxy", "--listen", "pop3s://127.0.0.1:0"])
            .args(["--upstream", "pop3://127.0.0.1:1", "--headless", "--json"])
            .arg("--ca-dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run popscope: {e}"))
    };
    // The first run makes the CA, and listens: its banner says so once the key is written
    // (a wait for the file alone lost the race on a loaded machine).
    let mut first = run();
    let key = dir.join("ca-key.pem");
    let banner = first.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let listening = std::io::BufRead::lines(std::io::BufReader::new(banner))
        .map_while(Result::ok)
        .any(|l| l.contains("listening on"));
    assert!(listening && key.exists(), "the first run did not listen");
    let _ = first.kill();
    let _ = first.wait();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    let o = run().wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("ca-key.pem") && err.contains("0644"), "{err}");
    assert!(o.stdout.is_empty(), "{o:?}");
}

#[test]
fn a_plaintext_client_on_a_tls_listen_ends_its_connection_with_the_reason() {
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = Proxy::tls_listen(&server, &[]);
    let (mut s, mut r) = connect(proxy.port);
    let _ = s.write_all(b"CAPA\r\n");
    let mut heard = Vec::new();
    let _ = r.read_to_end(&mut heard);
    // No POP3 line comes back, only TLS's own alert (if any).
    assert!(!heard.starts_with(b"+OK"), "{heard:?}");
    let report = proxy.report();
    let error = report["error"].as_str().unwrap_or_default();
    assert!(error.contains("TLS handshake"), "{report}");
    assert_eq!(findings_of(&report, "CL-008"), [] as [serde_json::Value; 0]);
}

/// `--listen pop3:// --offer-stls` in front of `upstream`, with --json, showing clients the
/// demo server's certificate (localhost, signed by `certs`' CA).
fn offering_stls(certs: &Running, upstream: &str, extra: &[&str]) -> Proxy {
    let file = |name: &str| certs.certs.dir.join(name).display().to_string();
    let (cert, key) = (file("server.pem"), file("server-key.pem"));
    let args = [
        &["--json", "--offer-stls", "--cert", &cert, "--key", &key],
        extra,
    ]
    .concat();
    Proxy::spawn_on("pop3://127.0.0.1:0", upstream, &args)
}

/// A TLS client of `stream` that trusts the CA in `ca` and expects `localhost`.
fn tls_client(
    stream: TcpStream,
    ca: &std::path::Path,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap_or_else(|e| panic!("{e}")) {
        roots
            .add(cert.unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = "localhost".try_into().unwrap_or_else(|e| panic!("{e:?}"));
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
        .unwrap_or_else(|e| panic!("{e}"));
    rustls::StreamOwned::new(conn, stream)
}

/// A client through --offer-stls: `plain` lines (each after the reply before), then STLS with
/// `behind` in the same write, the handshake, then `inside` under TLS. Returns what it heard
/// in plaintext and inside TLS.
fn through_stls(
    port: u16,
    ca: &std::path::Path,
    plain: &[&str],
    behind: &str,
    inside: &[&str],
) -> (Vec<u8>, Vec<u8>) {
    let (mut s, mut r) = connect(port);
    let mut heard = Vec::new();
    read_reply(&mut r, &mut heard, false);
    for line in plain {
        s.write_all(format!("{line}\r\n").as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        read_reply(&mut r, &mut heard, *line == "CAPA");
    }
    s.write_all(format!("STLS\r\n{behind}").as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    read_reply(&mut r, &mut heard, false);
    assert!(
        heard.ends_with(b"\r\n") && String::from_utf8_lossy(&heard).contains("+OK begin TLS"),
        "{}",
        String::from_utf8_lossy(&heard)
    );
    drop(r);
    let mut tls = BufReader::new(tls_client(s, ca));
    let mut inside_heard = Vec::new();
    for line in inside {
        tls.get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        tls.get_mut().flush().unwrap_or_else(|e| panic!("{e}"));
        let multi = ["CAPA", "UIDL", "LIST"].contains(line) || line.starts_with("RETR ");
        read_reply(&mut tls, &mut inside_heard, multi);
    }
    (heard, inside_heard)
}

#[test]
fn curl_through_offer_stls_gets_the_message_and_its_login_is_inside_tls() {
    for upstream_tls in [TlsMode::None, TlsMode::Starttls, TlsMode::Implicit] {
        let (_rt, server) = demo(upstream_tls, None);
        let ca = server.certs.ca.display().to_string();
        let proxy = offering_stls(&server, &server.url(), &["--ca-file", &ca]);
        let direct = curl(&format!("{}/1", server.url()), &["--cacert", &ca]);
        let proxied = curl(
            &format!("pop3://localhost:{}/1", proxy.port),
            &["--ssl-reqd", "--cacert", &ca],
        );
        assert!(direct.len() > 100, "{upstream_tls:?}");
        assert_eq!(proxied, direct, "{upstream_tls:?}");
        let report = proxy.report();
        assert!(report["error"].is_null(), "{report}");
        assert_eq!(report["final_state"], "closed", "{report}");
        assert_eq!(
            findings_of(&report, "CL-008"),
            [] as [serde_json::Value; 0],
            "{upstream_tls:?}: {report}"
        );
        assert!(
            report["notes"].to_string().contains("upgraded by STLS"),
            "{report}"
        );
        sides_are_named(&report);
    }
}

#[test]
fn with_offer_stls_capa_lists_stls_once_and_a_login_before_it_is_judged_a_warning() {
    // The pop3s upstream lists no STLS: the proxy's own offer is what the client saw.
    let (_rt, server) = demo(TlsMode::Implicit, None);
    let ca = server.certs.ca.display().to_string();
    let proxy = offering_stls(&server, &server.url(), &["--ca-file", &ca]);
    let heard = session(proxy.port, &["CAPA", "USER demo", "PASS demo", "QUIT"]);
    let text = String::from_utf8_lossy(&heard);
    assert_eq!(text.matches("\r\nSTLS\r\n").count(), 1, "{text}");
    let report = proxy.report();
    let cl008 = findings_of(&report, "CL-008");
    assert_eq!(cl008.len(), 1, "{report}");
    assert_eq!(cl008[0]["severity"], "warning", "{report}");
}

#[test]
fn a_client_that_pipelines_behind_stls_gets_cl_006_and_nothing_behind_it_runs() {
    let (_rt, certs) = demo(TlsMode::None, None);
    let run = |behind: &str| {
        let (port, heard) = common::scripted_heard(vec![
            common::Step::Send(b"+OK hi\r\n".to_vec()),
            common::Step::ReadLine,
            common::Step::Send(b"+OK bye\r\n".to_vec()),
            common::Step::Close,
        ]);
        let proxy = offering_stls(&certs, &format!("pop3://127.0.0.1:{port}"), &[]);
        let (_, inside) = through_stls(proxy.port, &certs.certs.ca, &[], behind, &["QUIT"]);
        assert_eq!(inside, b"+OK bye\r\n");
        let report = proxy.report();
        let upstream_heard: Vec<String> = heard.try_iter().collect();
        (report, upstream_heard)
    };
    let (pipelined, heard) = run("USER x\r\n");
    assert_eq!(heard, ["QUIT"], "USER never reached the server");
    let cl006 = findings_of(&pipelined, "CL-006");
    assert_eq!(cl006.len(), 1, "{pipelined}");
    assert_eq!(cl006[0]["side"], "client", "{pipelined}");
    let (clean, _) = run("");
    assert_eq!(findings_of(&clean, "CL-006"), [] as [serde_json::Value; 0]);
    // The server is judged the same either way: what the proxy dropped is not its doing.
    let server_side = |r: &serde_json::Value| {
        common::findings_of(r)
            .into_iter()
            .filter(|(rule, _, _)| !rule.starts_with("CL-"))
            .collect::<Vec<_>>()
    };
    assert_eq!(server_side(&pipelined), server_side(&clean), "{pipelined}");
}

#[test]
fn capabilities_the_client_cached_across_its_stls_are_cl_007_through_the_proxy() {
    let (_rt, certs) = demo(TlsMode::None, None);
    let run = |after_tls: &str| {
        let port = common::scripted(vec![
            common::Step::Send(b"+OK hi\r\n".to_vec()),
            common::Step::ReadLine,
            common::Step::Send(b"+OK\r\nUSER\r\n.\r\n".to_vec()),
            common::Step::ReadLine,
            common::Step::Send(format!("+OK\r\n{after_tls}\r\n.\r\n").into_bytes()),
            common::Step::ReadLine,
            common::Step::Send(b"+OK\r\n".to_vec()),
            common::Step::ReadLine,
            common::Step::Send(b"+OK bye\r\n".to_vec()),
            common::Step::Close,
        ]);
        let proxy = offering_stls(&certs, &format!("pop3://127.0.0.1:{port}"), &[]);
        let (plain, inside) = through_stls(
            proxy.port,
            &certs.certs.ca,
            &["CAPA"],
            "",
            &["CAPA", "USER a", "QUIT"],
        );
        // What the client saw: the proxy's STLS before TLS, none inside it.
        assert!(String::from_utf8_lossy(&plain).contains("\r\nSTLS\r\n"));
        assert!(!String::from_utf8_lossy(&inside).contains("STLS"));
        findings_of(&proxy.report(), "CL-007").len()
    };
    assert_eq!(run("SASL PLAIN"), 1);
    assert_eq!(run("USER"), 0);
}

#[test]
fn a_client_stls_the_proxy_answered_is_kept_in_the_text_format_and_rechecked() {
    let file = common::scratch_path("client-stls.txt");
    let recheck = |directive: &str| {
        std::fs::write(&file, format!("S: +OK hi\n{directive}\nC: QUIT\nS: +OK\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        let o = Command::new(env!("CARGO_BIN_EXE_popscope"))
            .args(["check", "--json", "--transcript"])
            .arg(&file)
            .output()
            .unwrap_or_else(|e| panic!("cannot run popscope: {e}"));
        let out = String::from_utf8_lossy(&o.stdout);
        let report: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {o:?}"));
        findings_of(&report, "CL-006").len()
    };
    assert_eq!(recheck("-- client-stls 8"), 1);
    assert_eq!(recheck("-- client-stls 0"), 0);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn upstream_starttls_upgrades_the_server_leg_before_relaying_and_the_mail_is_intact() {
    let (_rt, server) = demo(TlsMode::Starttls, None);
    let ca = server.certs.ca.display().to_string();
    let direct = curl(
        &format!("{}/1", server.url()),
        &["--ssl-reqd", "--cacert", &ca],
    );
    assert!(direct.len() > 100);
    let starttls = ["--upstream-starttls", "--ca-file", &ca];
    // A plain client leg, then one the proxy upgrades too: STLS on both legs.
    for offer in [false, true] {
        let proxy = if offer {
            offering_stls(&server, &server.url(), &starttls)
        } else {
            Proxy::start(&server.url(), &starttls)
        };
        let client_tls: &[&str] = if offer {
            &["--ssl-reqd", "--cacert", &ca]
        } else {
            &[]
        };
        let proxied = curl(&format!("pop3://localhost:{}/1", proxy.port), client_tls);
        assert_eq!(proxied, direct, "offer {offer}");
        let report = proxy.report();
        assert!(report["error"].is_null(), "{report}");
        assert!(
            report["upstream_tls"]
                .as_str()
                .is_some_and(|t| t.contains("TLS")),
            "{report}"
        );
        let ids = common::rule_ids(&report);
        // The server's STLS was judged: the demo server's is clean; its plain-leg USER offer
        // (USR-002) is not on a leg that is TLS now.
        assert!(!ids.iter().any(|id| id.starts_with("TLS-")), "{report}");
        // The client's password went in the clear only on the plain client leg.
        assert_eq!(
            findings_of(&report, "CL-008").len(),
            usize::from(!offer),
            "{report}"
        );
        // What the server changed across its STLS is the server's (CAPA-004's list diff).
        assert!(ids.contains(&"CAPA-004".to_owned()), "{report}");
        sides_are_named(&report);
    }
}

#[test]
fn upstream_starttls_judges_plaintext_the_server_sends_after_its_ok() {
    let (_rt, server) = demo(TlsMode::Starttls, Some(Quirk::StlsResponseInjection));
    let ca = server.certs.ca.display().to_string();
    let proxy = Proxy::start(&server.url(), &["--upstream-starttls", "--ca-file", &ca]);
    let heard = session(proxy.port, &["USER demo", "PASS demo", "QUIT"]);
    assert!(
        heard.starts_with(b"+OK"),
        "{}",
        String::from_utf8_lossy(&heard)
    );
    let report = proxy.report();
    assert!(
        common::rule_ids(&report).contains(&"TLS-003".to_owned()),
        "{report}"
    );
    // What the server injected never reached the client.
    assert_eq!(
        String::from_utf8_lossy(&heard).matches("+OK").count(),
        4,
        "{report}"
    );
    // The proxy's STLS is no fault of the client: it asked CAPA again inside TLS itself, so
    // a client that logs in without CAPA is not told it kept a list from before TLS.
    assert!(
        !report["findings"]
            .to_string()
            .contains("without asking CAPA again"),
        "{report}"
    );
}

#[test]
fn an_upstream_without_stls_refuses_the_client_in_one_line_and_never_in_plaintext() {
    let (port, heard) = common::scripted_heard(vec![
        common::Step::Send(b"+OK hi\r\n".to_vec()),
        common::Step::ReadLine,
        common::Step::Send(b"+OK\r\nUSER\r\n.\r\n".to_vec()),
        common::Step::ReadLine,
        common::Step::Send(b"+OK\r\n".to_vec()),
    ]);
    let proxy = Proxy::start(
        &format!("pop3://127.0.0.1:{port}"),
        &["--upstream-starttls"],
    );
    let (mut s, mut r) = connect(proxy.port);
    let _ = s.write_all(b"USER demo\r\n");
    let mut said = Vec::new();
    let _ = r.read_to_end(&mut said);
    let text = String::from_utf8_lossy(&said);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with(
            "-ERR popscope proxy: --upstream-starttls: the server's CAPA lists no STLS"
        ),
        "{text}"
    );
    let report = proxy.report();
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("lists no STLS")),
        "{report}"
    );
    // The proxy asked CAPA and stopped: the client's USER never went upstream.
    assert_eq!(heard.try_iter().collect::<Vec<_>>(), ["CAPA"]);
}

#[test]
fn an_upstream_that_refuses_stls_refuses_the_client_with_what_it_said() {
    let port = common::scripted(vec![
        common::Step::Send(b"+OK hi\r\n".to_vec()),
        common::Step::ReadLine,
        common::Step::Send(b"+OK\r\nSTLS\r\n.\r\n".to_vec()),
        common::Step::ReadLine,
        common::Step::Send(b"-ERR not today\r\n".to_vec()),
        common::Step::ReadLine,
    ]);
    let proxy = Proxy::start(
        &format!("pop3://127.0.0.1:{port}"),
        &["--upstream-starttls"],
    );
    let heard = String::from_utf8_lossy(&session(proxy.port, &[])).into_owned();
    assert!(
        heard.starts_with("-ERR popscope proxy: --upstream-starttls: the server refused STLS (it said \"-ERR not today\")"),
        "{heard}"
    );
    assert!(
        proxy.report()["error"]
            .as_str()
            .is_some_and(|e| e.contains("refused STLS"))
    );
}

#[test]
fn upstream_starttls_to_dovecot_relays_the_mail_intact() {
    let Some(d) = common::dovecot::dovecot() else {
        return;
    };
    let plain = format!("pop3://127.0.0.1:{}", d.plain);
    let direct = curl(&format!("{plain}/1"), &["--ssl-reqd", "--cacert", &d.ca]);
    let proxy = Proxy::start(&plain, &["--upstream-starttls", "--ca-file", &d.ca]);
    let proxied = curl(&format!("{}/1", proxy.url()), &[]);
    assert!(!direct.is_empty());
    assert_eq!(proxied, direct);
    let report = proxy.report();
    assert!(report["error"].is_null(), "{report}");
    assert!(report["upstream_tls"].is_string(), "{report}");
    let server_violations: Vec<String> = common::dovecot::unexpected_violations(&report)
        .into_iter()
        .filter(|r| !r.starts_with("CL-"))
        .collect();
    assert!(
        server_violations.is_empty(),
        "{server_violations:?}\n{report}"
    );
}

/// The TLS handshakes a key log holds: one client random each.
fn handshakes_logged(file: &std::path::Path) -> usize {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let randoms: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    randoms.len()
}

#[test]
fn sslkeylogfile_covers_both_legs_stls_upgraded_ones_too_for_clients_at_once() {
    let (_rt, server) = demo(TlsMode::Starttls, None);
    let ca = server.certs.ca.display().to_string();
    let log = common::scratch_path("keys.log");
    let ca_dir = common::scratch_path("keylog-ca").display().to_string();
    let proxy = Proxy::spawn_env(
        "pop3://127.0.0.1:0",
        &server.url(),
        &[
            "--json",
            "--offer-stls",
            "--ca-dir",
            &ca_dir,
            "--upstream-starttls",
            "--ca-file",
            &ca,
        ],
        &[("SSLKEYLOGFILE", &log.display().to_string())],
    );
    let own_ca = format!("{ca_dir}/ca.pem");
    let direct = curl(
        &format!("{}/1", server.url()),
        &["--ssl-reqd", "--cacert", &ca],
    );
    let clients = 4;
    let url = format!("pop3://localhost:{}/1", proxy.port);
    let fetched: Vec<Vec<u8>> = std::thread::scope(|s| {
        let running: Vec<_> = (0..clients)
            .map(|_| s.spawn(|| curl(&url, &["--ssl-reqd", "--cacert", &own_ca])))
            .collect();
        running
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| panic!("a client failed")))
            .collect()
    });
    for got in &fetched {
        assert_eq!(got, &direct);
    }
    for _ in 0..clients {
        let report = proxy.report();
        assert!(report["error"].is_null(), "{report}");
    }
    // Each connection: the client's STLS leg and the upstream's.
    assert_eq!(handshakes_logged(&log), 2 * clients);
}

#[test]
fn without_tls_on_either_leg_nothing_is_key_logged() {
    let (_rt, server) = demo(TlsMode::None, None);
    let log = common::scratch_path("no-keys.log");
    let proxy = Proxy::spawn_env(
        "pop3://127.0.0.1:0",
        &server.url(),
        &["--json"],
        &[("SSLKEYLOGFILE", &log.display().to_string())],
    );
    curl(&format!("{}/1", proxy.url()), &[]);
    proxy.report();
    assert_eq!(handshakes_logged(&log), 0);
}

#[test]
fn a_recording_through_offer_stls_keeps_the_client_stls_and_what_was_dropped() {
    let (_rt, certs) = demo(TlsMode::None, None);
    let file = common::scratch_path("stls-record.jsonl");
    let path = file.display().to_string();
    let proxy = offering_stls(&certs, &certs.url(), &["--record", &path]);
    let (_, inside) = through_stls(proxy.port, &certs.certs.ca, &[], "NOOP\r\n", &["QUIT"]);
    assert!(inside.starts_with(b"+OK"));
    let live = proxy.report();
    assert_eq!(proxy.stop(), Some(0));
    assert_eq!(findings_of(&live, "CL-006").len(), 1, "{live}");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text.contains(r#"{"event":"client-leg-stls","dropped_octets":6,"established":true}"#),
        "{text}"
    );
    // What was dropped is not in the recording as if it had been sent on.
    assert!(!text.contains("NOOP"), "{text}");
    let recheck = common::popscope(&["check", "--transcript", &path, "--json"]);
    let rechecked: serde_json::Value =
        serde_json::from_slice(&recheck.stdout).unwrap_or_else(|e| panic!("{e}: {recheck:?}"));
    assert_eq!(rechecked["final_state"], "closed", "{rechecked}");
    // The text format says it in a line of its own, which it reads back.
    let exported = common::popscope(&["export", &path]);
    let text = String::from_utf8_lossy(&exported.stdout);
    assert!(
        text.lines().any(|l| l.trim() == "-- client-stls 6"),
        "{text}"
    );
}

/// A client connection that writes each of `writes` in one go and reads what comes after it
/// (the greeting first, unless `early`); the writes are its whole session.
fn scripted_client(port: u16, early: bool, writes: &[&[u8]]) {
    let (mut s, mut r) = connect(port);
    s.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap_or_else(|e| panic!("{e}"));
    let drain = |r: &mut BufReader<TcpStream>| {
        let mut sink = [0u8; 4096];
        while matches!(r.get_mut().read(&mut sink), Ok(n) if n > 0) {}
    };
    if !early {
        drain(&mut r);
    }
    for w in writes {
        s.write_all(w).unwrap_or_else(|e| panic!("{e}"));
        drain(&mut r);
    }
}

/// The client findings of a report, as (rule, severity).
fn client_findings(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["side"] == "client")
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (text("rule"), text("severity"))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// A scripted client's session: its name, whether it speaks before the greeting, its writes,
/// and the client findings (rule, severity) it must get.
type Misbehaviour<'a> = (&'a str, bool, &'a [&'a [u8]], &'a [(&'a str, &'a str)]);

#[test]
fn each_client_rule_a_scripted_client_breaks_through_the_proxy_is_reported() {
    // One misbehaviour per connection against the healthy plain demo (CL-001 has its own
    // test: it needs a server that greets late); each row the client
    // rule it must get, and its severity. A password in the clear is CL-008 info here (the
    // server offers no STLS), so it comes with every login.
    let rows: &[Misbehaviour] = &[
        (
            "CL-002",
            false,
            &[b"STAT\r\n", b"QUIT\r\n"],
            &[("CL-002", "warning")],
        ),
        (
            "CL-004",
            false,
            &[b"PASS demo\r\n", b"QUIT\r\n"],
            &[("CL-004", "warning"), ("CL-008", "info")],
        ),
        (
            "CL-005",
            false,
            &[b"USER demo\r\nPASS demo\r\n", b"QUIT\r\n"],
            &[("CL-005", "warning"), ("CL-008", "info")],
        ),
        (
            "CL-010",
            false,
            &[
                b"CAPA\r\n",
                format!("NOOP {}\r\n", "x".repeat(300)).leak().as_bytes(),
                b"QUIT\r\n",
            ],
            &[("CL-002", "warning"), ("CL-010", "warning")],
        ),
        (
            "CL-011",
            false,
            &[b"CAPA\n", b"QUIT\r\n"],
            &[("CL-011", "warning")],
        ),
        (
            "CL-012",
            false,
            &[b"CAPA\r\n", b"LANG\r\n", b"QUIT\r\n"],
            &[("CL-012", "info")],
        ),
        (
            "CL-013",
            false,
            &[b"USER demo\r\n", b"PASS demo\r\n", b"DELE 1\r\n"],
            &[("CL-008", "info"), ("CL-013", "warning")],
        ),
        (
            "CL-014",
            false,
            &[b"QUIT\r\nNOOP\r\n"],
            &[("CL-005", "warning"), ("CL-014", "warning")],
        ),
        // The control: a client that does everything right breaks nothing but CL-008's info.
        (
            "none",
            false,
            &[
                b"CAPA\r\n",
                b"USER demo\r\n",
                b"PASS demo\r\n",
                b"RETR 1\r\n",
                b"QUIT\r\n",
            ],
            &[("CL-008", "info")],
        ),
    ];
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = Proxy::start(&server.url(), &[]);
    for (name, early, writes, expected) in rows {
        scripted_client(proxy.port, *early, writes);
        let report = proxy.report();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(r, s)| ((*r).to_owned(), (*s).to_owned()))
            .collect();
        assert_eq!(client_findings(&report), expected, "{name}: {report}");
        sides_are_named(&report);
    }
}

#[test]
fn a_client_that_speaks_before_the_greeting_is_cl001() {
    use common::Step::{ReadLine, Send, Sleep};
    // The server greets late, so the client's CAPA surely comes first.
    let upstream = common::scripted(vec![
        Sleep(250),
        Send(b"+OK ready\r\n".to_vec()),
        ReadLine,
        Send(b"+OK\r\nUSER\r\n.\r\n".to_vec()),
        ReadLine,
        Send(b"+OK bye\r\n".to_vec()),
    ]);
    let proxy = Proxy::start(&format!("pop3://127.0.0.1:{upstream}"), &[]);
    scripted_client(proxy.port, true, &[b"CAPA\r\n", b"QUIT\r\n"]);
    let early = client_findings(&proxy.report());
    assert_eq!(early, [("CL-001".to_owned(), "warning".to_owned())]);
}

#[test]
fn a_client_that_answers_an_oauth_error_challenge_wrongly_is_cl015() {
    // The demo offers OAUTHBEARER under TLS: the upstream leg is pop3s, the client's plain
    // (so the token is also CL-008, a violation).
    let (_rt, server) = demo(TlsMode::Implicit, None);
    let ca = server.certs.ca.display().to_string();
    let proxy = Proxy::start(&server.url(), &["--ca-file", &ca]);
    let bad = |reply: &[u8]| -> Vec<(String, String)> {
        use base64::Engine as _;
        let port = server.port();
        let message =
            popscope_core::oauth::oauthbearer_message(b"demo", b"127.0.0.1", port, b"wrong-token")
                .unwrap_or_else(|e| panic!("{e:?}"));
        let b64 = base64::engine::general_purpose::STANDARD.encode(&message[..]);
        let auth = format!("AUTH OAUTHBEARER {b64}\r\n");
        scripted_client(proxy.port, false, &[auth.as_bytes(), reply, b"QUIT\r\n"]);
        client_findings(&proxy.report())
    };
    let wrong = bad(b"bm90IHRoZSBkdW1teQ==\r\n");
    assert!(
        wrong.contains(&("CL-015".into(), "violation".into())),
        "{wrong:?}"
    );
    assert!(
        wrong.contains(&("CL-008".into(), "violation".into())),
        "{wrong:?}"
    );
    // The control: the dummy response `AQ==` is what RFC 7628 §3.2.3 asks for.
    let right = bad(b"AQ==\r\n");
    assert!(!right.iter().any(|(r, _)| r == "CL-015"), "{right:?}");
}

#[test]
fn a_client_that_keeps_mail_on_a_server_that_said_expire_0_is_cl017() {
    use common::Step::{ReadLine, Send};
    let upstream = |expire: &str| {
        common::scripted(vec![
            Send(b"+OK ready\r\n".to_vec()),
            ReadLine,
            Send(format!("+OK\r\nUSER\r\nUIDL\r\nEXPIRE {expire}\r\n.\r\n").into_bytes()),
            ReadLine,
            Send(b"+OK\r\n".to_vec()),
            ReadLine,
            Send(b"+OK logged in\r\n".to_vec()),
            ReadLine,
            Send(b"+OK 5 octets\r\nhi\r\n.\r\n".to_vec()),
            ReadLine,
            Send(b"+OK bye\r\n".to_vec()),
        ])
    };
    let session: &[&[u8]] = &[
        b"CAPA\r\n",
        b"USER demo\r\n",
        b"PASS demo\r\n",
        b"RETR 1\r\n",
        b"QUIT\r\n",
    ];
    let through = |expire: &str| {
        let proxy = Proxy::start(&format!("pop3://127.0.0.1:{}", upstream(expire)), &[]);
        scripted_client(proxy.port, false, session);
        client_findings(&proxy.report())
    };
    let kept = through("0");
    assert!(
        kept.contains(&("CL-017".into(), "warning".into())),
        "{kept:?}"
    );
    // The control: a server that lets mail stay (EXPIRE NEVER) has nothing to say.
    let never = through("NEVER");
    assert!(!never.iter().any(|(r, _)| r == "CL-017"), "{never:?}");
}

/// The demo's own client certificate, or none, for a client of a proxy in front of `server`
/// (the proxy shows the demo's server certificate).
fn client_tls(server: &Running, with_cert: bool) -> std::sync::Arc<rustls::ClientConfig> {
    let certs = &server.certs;
    let cert = with_cert.then_some((certs.client_cert.as_path(), certs.client_key.as_path()));
    common::pop_client::tls_config(&certs.ca, cert)
}

/// The client findings of the next report, by rule only.
fn client_rules(proxy: &Proxy) -> Vec<String> {
    let report = proxy.report();
    sides_are_named(&report);
    client_findings(&report)
        .into_iter()
        .map(|(rule, _)| rule)
        .collect()
}

/// The seeds' client side through the proxy: after TLS with a certificate (asked for by the
/// proxy, verified by no one) the client sends STAT without logging in.
#[test]
fn a_client_with_a_certificate_that_sends_stat_without_logging_in_is_cl003_on_a_pop3s_listen() {
    use common::pop_client::Client;
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = Proxy::tls_listen(&server, &[]);
    let stat_first = |with_cert: bool| {
        let (mut c, greeting) = Client::to(proxy.port, true, client_tls(&server, with_cert));
        assert!(greeting.starts_with("+OK"), "{greeting}");
        assert!(c.cmd("STAT").starts_with("-ERR"), "nobody logged it in");
        assert!(c.cmd("QUIT").starts_with("+OK"));
        let report = proxy.report();
        let noted = report["notes"]
            .to_string()
            .contains("client certificate presented, not verified");
        assert_eq!(noted, with_cert, "{report}");
        client_findings(&report)
            .into_iter()
            .map(|(rule, _)| rule)
            .collect::<Vec<_>>()
    };
    let with_cert = stat_first(true);
    assert!(with_cert.contains(&"CL-003".into()), "{with_cert:?}");
    // Without a certificate (served as before): the general case, CL-002.
    let without = stat_first(false);
    assert!(
        without.contains(&"CL-002".into()) && !without.contains(&"CL-003".into()),
        "{without:?}"
    );
    // The same client logging in first does right.
    let (mut c, _) = Client::to(proxy.port, true, client_tls(&server, true));
    c.log_in();
    assert!(c.cmd("STAT").starts_with("+OK"));
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let logged_in = client_rules(&proxy);
    assert!(!logged_in.contains(&"CL-003".into()), "{logged_in:?}");
}

/// `--inject pre-auth` tells a client with a certificate it is already authenticated: one
/// that then sends STAT believed it (CL-003); one that only tried USER did not go on.
#[test]
fn a_client_that_believes_the_injected_pre_auth_is_cl003() {
    use common::pop_client::Client;
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = Proxy::tls_listen(&server, &["--inject", "pre-auth"]);
    let (mut c, _) = Client::to(proxy.port, true, client_tls(&server, true));
    assert_eq!(c.cmd("USER demo"), "-ERR already authenticated\r\n");
    assert!(
        c.cmd("STAT").starts_with("-ERR"),
        "the upstream logged no one in"
    );
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let believed = client_rules(&proxy);
    assert!(believed.contains(&"CL-003".into()), "{believed:?}");
    let (mut c, _) = Client::to(proxy.port, true, client_tls(&server, true));
    assert_eq!(c.cmd("USER demo"), "-ERR already authenticated\r\n");
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let careful = client_rules(&proxy);
    assert!(!careful.contains(&"CL-003".into()), "{careful:?}");
}

/// `--offer-stls --inject stls-response-injection`: the proxy sends a plaintext `+OK` behind
/// its own `+OK` to STLS. A client that keeps it and reads it as the reply to its next command
/// inside TLS is CL-009; the upstream, which never sent it, is blamed for nothing (no TLS-003).
#[test]
fn a_client_that_takes_the_proxys_injected_reply_is_cl009_and_the_server_is_not_blamed() {
    use common::pop_client::Client;
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = offering_stls(
        &server,
        &server.url(),
        &["--inject", "stls-response-injection"],
    );
    let server_rules = |report: &serde_json::Value| -> Vec<String> {
        report["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["side"] == "server")
            .map(|f| f["rule"].as_str().unwrap_or_default().to_owned())
            .collect()
    };

    let (mut c, _) = Client::to(proxy.port, false, client_tls(&server, false));
    assert!(c.cmd("STLS").starts_with("+OK"));
    assert!(
        String::from_utf8_lossy(&c.buf).contains("injected"),
        "the plaintext came with the +OK"
    );
    // It keeps what came with the +OK and goes on inside TLS: the injected line answers its
    // USER, so PASS goes at once, before the real reply (one write: the order is certain).
    let kept = std::mem::take(&mut c.buf);
    c.handshake();
    c.buf = kept;
    c.write(b"USER demo\r\nPASS demo\r\n");
    assert!(c.line().contains("injected"), "read as the reply to USER");
    let rest = [c.line(), c.line()];
    assert!(rest[1].starts_with("+OK"), "{rest:?}");
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let report = proxy.report();
    let found = client_findings(&report);
    assert!(
        found.contains(&("CL-009".into(), "violation".into())),
        "{found:?}"
    );
    assert!(
        !server_rules(&report).contains(&"TLS-003".into()),
        "{report}"
    );

    // A careful client drops the plaintext and waits for each reply.
    let (mut c, _) = Client::to(proxy.port, false, client_tls(&server, false));
    let dropped = c.starttls();
    assert!(dropped.contains("injected"), "{dropped}");
    c.log_in();
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let report = proxy.report();
    let found = client_findings(&report);
    assert!(found.iter().all(|(id, _)| id != "CL-009"), "{found:?}");
    assert!(
        !server_rules(&report).contains(&"TLS-003".into()),
        "{report}"
    );
}

/// An STLS the proxy answers itself reaches the engine: after a CAPA that (as the client saw
/// it) lists no STLS it is CL-012, info; after a CAPA that lists it, or with no CAPA, nothing.
#[test]
fn an_stls_the_proxy_refused_after_a_capa_without_it_is_cl012() {
    let (_rt, server) = demo(TlsMode::Starttls, None);
    let proxy = Proxy::start(&server.url(), &[]);
    session(proxy.port, &["CAPA", "STLS", "QUIT"]);
    let report = proxy.report();
    let found = client_findings(&report);
    assert!(
        found.contains(&("CL-012".into(), "info".into())),
        "{found:?}"
    );
    // The server never saw that STLS: no server rule speaks of it.
    assert!(
        report["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|f| f["side"] == "client" || !f["message"].to_string().contains("STLS")),
        "{report}"
    );
    session(proxy.port, &["STLS", "QUIT"]);
    assert!(!client_rules(&proxy).contains(&"CL-012".into()));
    // stls-refused lists STLS and refuses it: the client took what it was shown.
    let offering = offering_stls(&server, &server.url(), &["--inject", "stls-refused"]);
    let heard = session(offering.port, &["CAPA", "STLS", "QUIT"]);
    let text = String::from_utf8_lossy(&heard);
    assert!(
        text.contains("\r\nSTLS\r\n") && text.contains("-ERR"),
        "{text}"
    );
    assert!(!client_rules(&offering).contains(&"CL-012".into()));
}

/// What the proxy told the engine of the client's leg is in the recording, in the text
/// format, and judged again by `check --transcript`: the certificate (CL-003), the refused
/// STLS (CL-012).
#[test]
fn the_client_legs_certificate_and_a_refused_stls_are_recorded_and_rechecked() {
    use common::pop_client::Client;
    let (_rt, server) = demo(TlsMode::None, None);
    let file = common::scratch_path("client-leg-record.jsonl");
    let path = file.display().to_string();
    let proxy = Proxy::tls_listen(&server, &["--record", &path]);
    let (mut c, _) = Client::to(proxy.port, true, client_tls(&server, true));
    assert!(c.cmd("STAT").starts_with("-ERR"));
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let live = proxy.report();
    assert_eq!(proxy.stop(), Some(0));
    assert_eq!(findings_of(&live, "CL-003").len(), 1, "{live}");
    let recorded = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        recorded.contains(r#"{"event":"client-leg-tls","client_cert":true}"#),
        "{recorded}"
    );
    let recheck = common::recheck(&path);
    assert_eq!(findings_of(&recheck, "CL-003").len(), 1, "{recheck}");
    let exported = common::popscope(&["export", &path]);
    let text = String::from_utf8_lossy(&exported.stdout);
    assert!(
        text.lines().any(|l| l.trim() == "-- client-tls cert"),
        "{text}"
    );

    let transcript = common::scratch_path("client-leg.txt");
    let check = |body: &str, rule: &str| {
        std::fs::write(&transcript, format!("S: +OK hi\n{body}C: QUIT\nS: +OK\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        findings_of(&common::recheck(&transcript.display().to_string()), rule).len()
    };
    assert_eq!(check("-- client-tls cert\nC: STAT\nS: -ERR\n", "CL-003"), 1);
    assert_eq!(check("-- client-tls\nC: STAT\nS: -ERR\n", "CL-003"), 0);
    let capa = "C: CAPA\nS: +OK\nS: USER\nS: .\n";
    assert_eq!(
        check(&format!("{capa}-- client-stls-refused\n"), "CL-012"),
        1
    );
    assert_eq!(check("-- client-stls-refused\n", "CL-012"), 0);
    let taken = "-- client-stls 0 injected=1\nC: USER a\nC: PASS b\nS: +OK\nS: +OK\n";
    assert_eq!(check(taken, "CL-009"), 1);
    assert_eq!(check(&taken.replace(" injected=1", ""), "CL-009"), 0);
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&transcript);
}

/// After the client's own STLS (`--offer-stls`) the proxy asks for a certificate too: a
/// client that showed one and sends STAT without logging in is CL-003.
#[test]
fn a_client_with_a_certificate_that_sends_stat_after_its_stls_is_cl003() {
    use common::pop_client::Client;
    let (_rt, server) = demo(TlsMode::None, None);
    let proxy = offering_stls(&server, &server.url(), &[]);
    let stat_after_stls = |with_cert: bool| {
        let (mut c, _) = Client::to(proxy.port, false, client_tls(&server, with_cert));
        c.starttls();
        assert!(c.cmd("STAT").starts_with("-ERR"));
        assert!(c.cmd("QUIT").starts_with("+OK"));
        client_rules(&proxy)
    };
    let with_cert = stat_after_stls(true);
    assert!(with_cert.contains(&"CL-003".into()), "{with_cert:?}");
    let without = stat_after_stls(false);
    assert!(!without.contains(&"CL-003".into()), "{without:?}");
}
