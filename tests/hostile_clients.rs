//! Hostile clients, as tests/hostile.rs has hostile servers: through `popscope proxy
//! --headless` (its JSON, its text, its recording re-checked and exported) and through `serve
//! --check-client`, a client that sends escapes, an endless line, nothing at all, a reset, 500
//! connections dropped, STLS 10,000 times, an endless SASL exchange, or 100,000 commands it
//! never reads the answers to. Whatever it does: no raw ESC, C1 or bidi control in any output,
//! every report valid JSON, memory and descriptors bounded, the others served meanwhile.

#![allow(clippy::unwrap_used)] // helpers of tests: a panic there is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use popscope::server::{Running, TlsMode};

/// The `--timeout` of every proxy and server here: what a silent client gets.
const TIMEOUT: &str = "2";

/// A running `popscope proxy --headless` or `serve --check-client`, its stdout lines read as
/// they come; killed when dropped.
struct Judge {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Judge {
    /// `popscope proxy --headless --timeout 2` in front of `upstream`, `extra` added.
    fn proxy(upstream: &str, extra: &[&str]) -> Judge {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_popscope"));
        cmd.args(["proxy", "--headless", "--timeout", TIMEOUT])
            .args(["--listen", "pop3://127.0.0.1:0", "--upstream", upstream])
            .args(extra);
        Judge::spawn(cmd, "listening on pop3://127.0.0.1:", true)
    }

    /// `popscope serve --check-client --tls none --timeout 2`, `extra` added.
    fn serve(extra: &[&str]) -> Judge {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_popscope"));
        cmd.args(["serve", "--port", "0", "--tls", "none", "--check-client"])
            .args(["--timeout", TIMEOUT])
            .args(extra);
        Judge::spawn(cmd, "listening on 127.0.0.1:", extra.contains(&"--json"))
    }

    /// Runs `cmd`; the port follows `marker` in the banner, on stderr when `banner_on_stderr`.
    fn spawn(mut cmd: Command, marker: &str, banner_on_stderr: bool) -> Judge {
        let mut child = cmd
            .env_remove("SSLKEYLOGFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (banner, rest): (Box<dyn Read + Send>, Box<dyn Read + Send>) = if banner_on_stderr {
            (Box::new(stderr), Box::new(stdout))
        } else {
            (Box::new(stdout), Box::new(stderr))
        };
        let (tx, lines) = mpsc::channel();
        let mut banner = BufReader::new(banner).lines().map_while(Result::ok);
        let mut said = Vec::new();
        let port = banner
            .by_ref()
            .find_map(|l| {
                let port = l
                    .split_once(marker)
                    .and_then(|(_, rest)| rest.split([',', ' ']).next())
                    .and_then(|p| p.parse().ok());
                said.push(l);
                port
            })
            .unwrap_or_else(|| panic!("no port in {said:?}"));
        let forward = move |lines: Box<dyn Iterator<Item = String> + Send>| {
            for line in lines {
                let _ = tx.send(line);
            }
        };
        if banner_on_stderr {
            std::thread::spawn(move || banner.for_each(drop));
            std::thread::spawn(move || {
                forward(Box::new(BufReader::new(rest).lines().map_while(Result::ok)))
            });
        } else {
            // serve's reports follow its banner on stdout.
            std::thread::spawn(move || BufReader::new(rest).lines().for_each(drop));
            std::thread::spawn(move || {
                let mut banner = banner;
                banner.by_ref().find(|l| l.starts_with("Ctrl-C"));
                forward(Box::new(banner))
            });
        }
        Judge { child, port, lines }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line out, within `secs`.
    fn line(&self, secs: u64) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(secs))
            .unwrap_or_else(|e| panic!("nothing printed in {secs} s: {e}"))
    }

    /// The next JSON report, checked clean.
    fn report(&self, secs: u64) -> serde_json::Value {
        let line = self.line(secs);
        assert_clean("a report", line.as_bytes());
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Every line printed until `secs` pass with none.
    fn drain(&self, secs: u64) -> Vec<String> {
        std::iter::from_fn(|| self.lines.recv_timeout(Duration::from_secs(secs)).ok()).collect()
    }
}

impl Drop for Judge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn demo() -> (tokio::runtime::Runtime, Running) {
    let rt = common::runtime();
    let server = common::start(&rt, TlsMode::None, None);
    (rt, server)
}

/// The first raw terminal control in `bytes`: C0 but TAB/LF/CR, DEL, ESC, C1 (as UTF-8 and
/// as a lone octet in text), the bidi overrides and isolates.
fn raw_control(bytes: &[u8]) -> Option<usize> {
    let text = String::from_utf8_lossy(bytes);
    let bad = |c: char| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
    };
    text.char_indices().find(|&(_, c)| bad(c)).map(|(i, _)| i)
}

fn assert_clean(what: &str, bytes: &[u8]) {
    if let Some(at) = raw_control(bytes) {
        let from = at.saturating_sub(80);
        let around = String::from_utf8_lossy(&bytes[from..(at + 40).min(bytes.len())]);
        panic!("{what}: a raw control character at {at}: {around:?}");
    }
}

#[test]
fn the_byte_check_sees_every_kind_of_raw_control() {
    for raw in [
        &b"a\x1b[2Jb"[..],
        b"\x00",
        "\u{9b}31m".as_bytes(),
        "\u{202e}".as_bytes(),
        "\u{2066}".as_bytes(),
        b"\x07",
    ] {
        assert!(raw_control(raw).is_some(), "{raw:?}");
    }
    assert!(raw_control(b"\\x1b[2J \\u{202e} tab\there\r\n").is_none());
}

/// A client connection with a reader, answers waited for `secs` at most.
fn connect(port: u16) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

fn read_line(r: &mut impl BufRead) -> Vec<u8> {
    let mut line = Vec::new();
    let _ = r.read_until(b'\n', &mut line);
    line
}

/// The hostile client's lines, each sent after the answer to the one before: escapes and
/// bidi overrides in the user name, a command, the SASL response and the password; a NUL;
/// invalid UTF-8.
fn escaping() -> Vec<Vec<u8>> {
    vec![
        b"CAPA\x1b[2J\r\n".to_vec(),
        [
            "USER \x1b]52;c;aGVsbG8=\x07ev\u{202e}il\u{9b}31m\u{2066}".as_bytes(),
            b"\xff\x00\r\n",
        ]
        .concat(),
        b"PASS pw\x1b[31m\r\n".to_vec(),
        "\x1b[31mNOOP\u{9b}0c \u{200f}\r\n".as_bytes().to_vec(),
        b"AUTH PLAIN\r\n".to_vec(),
        // The answer to the challenge: a SASL response with an OSC 52 in it.
        b"\x1b]52;c;ZXZpbA==\x07\xc0\xaf\r\n".to_vec(),
        b"\x1b[6n\x00\x00\xfe\r\n".to_vec(),
        b"QUIT\r\n".to_vec(),
    ]
}

fn play_escaping(port: u16) {
    let (mut s, mut r) = connect(port);
    assert!(read_line(&mut r).starts_with(b"+OK"));
    for line in escaping() {
        s.write_all(&line).unwrap();
        let mut answer = read_line(&mut r);
        while line.starts_with(b"CAPA") && answer.starts_with(b"+OK") && answer != b".\r\n" {
            answer = read_line(&mut r);
        }
    }
    let _ = r.read_to_end(&mut Vec::new());
}

fn output_of(args: &[&str]) -> Vec<u8> {
    let o = Command::new(env!("CARGO_BIN_EXE_popscope"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.stderr.is_empty(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

#[test]
fn escapes_in_commands_user_names_and_sasl_reach_no_output_raw() {
    let (_rt, server) = demo();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("hostile.jsonl").display().to_string();
    let json = Judge::proxy(&server.url(), &["--json", "--record", &record]);
    play_escaping(json.port);
    let report = json.report(20);
    let rules = common::rule_ids(&report);
    // It was judged, escapes and all: a keyword with control characters.
    assert!(rules.iter().any(|r| r == "CL-011"), "{report}");
    drop(json);

    let text = Judge::proxy(&server.url(), &[]);
    play_escaping(text.port);
    let lines = text.drain(3);
    assert!(lines.iter().any(|l| l.contains("CL-011")), "{lines:?}");
    assert_clean("the proxy's text", lines.join("\n").as_bytes());

    let recording = std::fs::read(&record).unwrap();
    assert_clean("the recording", &recording);
    assert!(common::recording::records(&recording).len() > 3);
    let rechecked = output_of(&["check", "--transcript", &record, "--json"]);
    assert_clean("check --transcript --json", &rechecked);
    let rechecked: serde_json::Value = serde_json::from_slice(&rechecked).unwrap();
    assert!(common::rule_ids(&rechecked).iter().any(|r| r == "CL-011"));
    let exported = output_of(&["export", &record, "--to", "text"]);
    // The user name is there, escaped; the password and the SASL response are not.
    let shown = String::from_utf8_lossy(&exported);
    assert!(shown.contains(r"USER \x1b]52;c;aGVsbG8=\x07ev"), "{shown}");
    assert!(
        !shown.contains("ZXZpbA") && !shown.contains("pw"),
        "{shown}"
    );
    for out in [
        exported,
        output_of(&["check", "--transcript", &record]),
        output_of(&["export", &record, "--to", "bundle"]),
    ] {
        assert_clean("a re-check or export", &out);
    }

    for extra in [&["--json"][..], &[]] {
        let serve = Judge::serve(extra);
        play_escaping(serve.port);
        let lines = serve.drain(3);
        assert!(lines.iter().any(|l| l.contains("CL-011")), "{lines:?}");
        assert_clean("serve --check-client", lines.join("\n").as_bytes());
        if !extra.is_empty() {
            for l in &lines {
                serde_json::from_str::<serde_json::Value>(l).unwrap();
            }
        }
    }
}

/// Peak and current resident memory, and open descriptors, of a process.
fn vm(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Sends `total` octets of `fill` with no line end, then CRLF and QUIT, reading what comes
/// back meanwhile (so that only the length of the line is on trial).
fn endless_line(port: u16, fill: u8, total: usize) {
    let (mut s, mut r) = connect(port);
    assert!(read_line(&mut r).starts_with(b"+OK"));
    let reader = std::thread::spawn(move || {
        let _ = r.read_to_end(&mut Vec::new());
    });
    let block = vec![fill; 1 << 20];
    for _ in 0..total >> 20 {
        s.write_all(&block).unwrap();
    }
    s.write_all(b"\r\nQUIT\r\n").unwrap();
    reader.join().unwrap();
}

#[test]
fn an_endless_line_and_a_line_of_nuls_keep_memory_and_the_recording_bounded() {
    let (_rt, server) = demo();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("long.jsonl").display().to_string();
    let proxy = Judge::proxy(&server.url(), &["--json", "--record", &record]);
    let serve = Judge::serve(&["--json"]);
    for judge in [&proxy, &serve] {
        endless_line(judge.port, b'x', 96 << 20);
        endless_line(judge.port, 0, 10 << 20);
        for _ in 0..2 {
            let report = judge.report(30);
            assert!(
                common::rule_ids(&report).iter().any(|r| r == "CL-010"),
                "{report}"
            );
        }
        let peak = vm(judge.pid(), "VmHWM:");
        assert!(
            peak < 48 << 10,
            "peak RSS {peak} KiB for 106 MB of one line"
        );
    }
    let recorded = std::fs::metadata(&record).unwrap().len();
    assert!(recorded < 1 << 20, "{recorded} octets recorded of 106 MB");
    let rechecked = output_of(&["check", "--transcript", &record, "--json"]);
    let rechecked: serde_json::Value = serde_json::from_slice(&rechecked).unwrap();
    assert_eq!(
        rechecked["sessions"].as_array().map(Vec::len),
        Some(2),
        "{rechecked}"
    );
}

/// Waits for the reports of `n` connections, in any order.
fn reports(judge: &Judge, n: usize, secs: u64) -> Vec<serde_json::Value> {
    (0..n).map(|_| judge.report(secs)).collect()
}

/// USER, PASS, STAT, QUIT as demo: a client that behaves.
fn behave(port: u16) -> Duration {
    let t = Instant::now();
    let (mut s, mut r) = connect(port);
    assert!(read_line(&mut r).starts_with(b"+OK"));
    for line in ["USER demo", "PASS demo", "STAT", "QUIT"] {
        s.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let answer = read_line(&mut r);
        assert!(answer.starts_with(b"+OK"), "{line}: {answer:?}");
    }
    t.elapsed()
}

#[test]
fn a_client_that_sends_nothing_is_timed_out_and_reported_while_others_are_served() {
    let (_rt, server) = demo();
    let proxy = Judge::proxy(&server.url(), &["--json"]);
    let serve = Judge::serve(&["--json"]);
    for judge in [&proxy, &serve] {
        let t = Instant::now();
        let (_silent, mut heard) = connect(judge.port);
        assert!(read_line(&mut heard).starts_with(b"+OK"));
        // Meanwhile another client is served at once.
        assert!(behave(judge.port) < Duration::from_secs(1));
        let first = judge.report(5);
        assert_eq!(first["error"], serde_json::Value::Null, "{first}");
        let silent = judge.report(10);
        let took = t.elapsed();
        assert_eq!(
            silent["error"], "the client sent nothing for 2 s",
            "{silent}"
        );
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(6),
            "{took:?}"
        );
        // It was closed on the client too.
        assert!(
            read_line(&mut heard).is_empty() || heard.fill_buf().map_or(true, |b| b.is_empty())
        );
    }
}

/// Connects and resets at once (SO_LINGER 0: an RST, not a FIN).
fn reset(port: u16) {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt on a socket we own, with a linger of the size given.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}

#[test]
fn five_hundred_connections_dropped_or_reset_leak_no_descriptor_or_memory() {
    let (_rt, server) = demo();
    let proxy = Judge::proxy(&server.url(), &["--json"]);
    let churn = |n: usize| {
        for i in 0..n {
            if i % 2 == 0 {
                reset(proxy.port);
            } else {
                drop(TcpStream::connect(("127.0.0.1", proxy.port)).unwrap());
            }
        }
        for report in reports(&proxy, n, 20) {
            assert_eq!(report["final_state"], "closed", "{report}");
        }
    };
    // Warmed up: the runtime's threads and buffers are there before the count.
    churn(50);
    std::thread::sleep(Duration::from_millis(300));
    let (fds_before, rss_before) = (fds(proxy.pid()), vm(proxy.pid(), "VmRSS:"));
    churn(500);
    std::thread::sleep(Duration::from_millis(300));
    let (fds_after, rss_after) = (fds(proxy.pid()), vm(proxy.pid(), "VmRSS:"));
    assert!(
        fds_after <= fds_before + 2,
        "descriptors {fds_before} -> {fds_after}"
    );
    assert!(
        rss_after < rss_before + (8 << 10),
        "RSS {rss_before} -> {rss_after} KiB"
    );
    // And it still serves.
    behave(proxy.port);
    assert_eq!(proxy.report(5)["error"], serde_json::Value::Null);
}

/// Sends STLS 10,000 times in one go, then QUIT, reading meanwhile; what it heard, and how
/// long until the connection ended.
fn stls_flood(port: u16) -> (Vec<u8>, Duration) {
    let t = Instant::now();
    let (mut s, mut r) = connect(port);
    assert!(read_line(&mut r).starts_with(b"+OK"));
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = r.read_to_end(&mut all);
        all
    });
    let _ = s.write_all(&b"STLS\r\n".repeat(10_000));
    let _ = s.write_all(b"QUIT\r\n");
    (reader.join().unwrap(), t.elapsed())
}

#[test]
fn stls_ten_thousand_times_ends_the_connection_alone() {
    let (_rt, server) = demo();
    let proxy = Judge::proxy(&server.url(), &["--json"]);
    let (_, took) = stls_flood(proxy.port);
    assert!(took < Duration::from_secs(5), "{took:?}");
    let report = proxy.report(10);
    // More than 1000 answers owed at once: the proxy ends the connection, and says why.
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("the client sent STLS more than 1000 times"),
        "{report}"
    );
    let refused = report["notes"][0].as_str().unwrap_or_default();
    assert!(refused.starts_with("the client sent STLS "), "{report}");
    assert!(behave(proxy.port) < Duration::from_secs(1));
    proxy.report(5);

    let serve = Judge::serve(&["--json"]);
    let (heard, took) = stls_flood(serve.port);
    assert!(took < Duration::from_secs(10), "{took:?}");
    // The demo offers no STLS here: 10,000 refusals, then the goodbye.
    let refusals = heard
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"-ERR"))
        .count();
    assert_eq!(refusals, 10_000);
    assert!(
        heard.ends_with(b"signing off\r\n"),
        "{:?}",
        &heard[heard.len().saturating_sub(100)..]
    );
    let report = serve.report(10);
    let findings = report["findings"].as_array().map_or(0, Vec::len);
    assert!(findings <= 1000, "{findings}");
    assert!(
        common::rule_ids(&report).iter().any(|r| r == "CL-006"),
        "{report}"
    );
    assert!(behave(serve.port) < Duration::from_secs(1));
    serve.report(5);
}

/// An upstream that answers every line with a SASL challenge, for ever.
fn challenging_server() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                let _ = w.write_all(b"+OK ready\r\n");
                let mut line = Vec::new();
                while r.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                    let answer: &[u8] = if line.starts_with(b"QUIT") {
                        b"+OK bye\r\n"
                    } else {
                        b"+ \x1b]52;c;aGk=\x07\r\n"
                    };
                    if w.write_all(answer).is_err() || answer.starts_with(b"+OK") {
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
fn an_endless_sasl_exchange_stays_bounded_and_clean() {
    let upstream = challenging_server();
    let proxy = Judge::proxy(&format!("pop3://127.0.0.1:{upstream}"), &["--json"]);
    let t = Instant::now();
    let (mut s, mut r) = connect(proxy.port);
    assert!(read_line(&mut r).starts_with(b"+OK"));
    s.write_all(b"AUTH X-ENDLESS\r\n").unwrap();
    for i in 0..5000 {
        let challenge = read_line(&mut r);
        assert!(challenge.starts_with(b"+ "), "{i}: {challenge:?}");
        s.write_all(format!("\x1b[{i}m\u{202e}\r\n").as_bytes())
            .unwrap();
    }
    let challenge = read_line(&mut r);
    assert!(challenge.starts_with(b"+ "), "{challenge:?}");
    drop((s, r));
    let report = proxy.report(10);
    let findings = report["findings"].as_array().map_or(0, Vec::len);
    assert!(findings <= 1000, "{findings} findings");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    let peak = vm(proxy.pid(), "VmHWM:");
    assert!(peak < 48 << 10, "peak RSS {peak} KiB");
}

#[test]
fn a_client_that_pipelines_100000_commands_and_never_reads_holds_only_itself() {
    let (_rt, server) = demo();
    let proxy = Judge::proxy(&server.url(), &["--json"]);
    let serve = Judge::serve(&["--json"]);
    for judge in [&proxy, &serve] {
        let t = Instant::now();
        let (mut s, _never_read) = connect(judge.port);
        let writer = std::thread::spawn(move || {
            // CAPA answers are long: 100,000 of them fill any buffer between.
            let _ = s.write_all(&b"CAPA\r\n".repeat(100_000));
            s
        });
        // Another client is served meanwhile.
        std::thread::sleep(Duration::from_millis(500));
        assert!(behave(judge.port) < Duration::from_secs(1));
        let served = judge.report(5);
        assert_eq!(served["error"], serde_json::Value::Null, "{served}");
        let stuck = judge.report(20);
        assert_eq!(stuck["error"], "the client read nothing for 2 s", "{stuck}");
        assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
        let peak = vm(judge.pid(), "VmHWM:");
        assert!(peak < 48 << 10, "peak RSS {peak} KiB");
        drop(writer.join());
    }
}

/// The connections view of a proxy whose client sent escapes in its user name and commands:
/// fed as the relay feeds it (the octets, then what the engine made of them), rendered into a
/// TestBackend.
mod connections_view {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use popscope::session::{Note, Observer};
    use popscope::tui::proxy::{Ending, Message, ProxyView, Template, draw};
    use popscope::tui::{Theme, keys};
    use popscope_core::{Config, Direction, Engine, Event, Time, TransportEvent};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use tokio::sync::{Notify, mpsc};

    const WIDTH: u16 = 130;

    /// One session through connection `number`'s observer: each element a client line, the
    /// server's answer after it.
    fn relay(observer: &mut dyn Observer, exchanges: &[(&[u8], &[u8])]) {
        let mut engine = Engine::new(Config {
            judge_client: true,
            ..Config::default()
        });
        let mut at = 0;
        let mut side = |dir: Direction, bytes: &[u8], engine: &mut Engine| {
            at += 1000;
            let now = Time(at);
            observer.wire(now, dir, bytes);
            let mut sink = |ev: Event<'_>| observer.event(now, &ev);
            match dir {
                Direction::Client => engine.handle_client(now, bytes, &mut sink),
                Direction::Server => engine.handle_server(now, bytes, &mut sink),
            }
            observer.settled(now);
        };
        side(Direction::Server, b"+OK ready\r\n", &mut engine);
        for (client, server) in exchanges {
            side(Direction::Client, client, &mut engine);
            side(Direction::Server, server, &mut engine);
        }
        let closed = TransportEvent::ServerClosed {
            close_notify: false,
        };
        observer.note(Time(at + 1000), &Note::Transport(closed));
    }

    fn view_of(hostile: &[(&[u8], &[u8])]) -> (ProxyView, Instant) {
        let template = Template {
            upstream: "pop3://mail.example.net:110".into(),
            theme: Theme::load("dark").unwrap(),
            keys: keys::defaults(),
            clock: || 36_000.0,
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let changed = Arc::new(Notify::new());
        let mut view = ProxyView::new("pop3://127.0.0.1:1110".into(), &template);
        let start = Instant::now();
        let sessions: [&[(&[u8], &[u8])]; 2] = [&[(b"QUIT\r\n", b"+OK bye\r\n")], hostile];
        for (i, session) in sessions.iter().enumerate() {
            let number = i as u64 + 1;
            let client = SocketAddr::from(([127, 0, 0, 1], 50_000 + number as u16));
            let mut observer = template.observer(number, client, &tx, &changed);
            relay(observer.as_mut(), session);
            let error = (number == 2).then(|| "the client sent nothing for 2 s".to_owned());
            let _ = tx.send(Message::Ended(Ending {
                number,
                error,
                ..Ending::default()
            }));
        }
        while let Ok(m) = rx.try_recv() {
            view.apply(m, start + Duration::from_secs(1));
        }
        (view, start)
    }

    fn render(view: &ProxyView, at: Instant, height: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(WIDTH, height)).unwrap();
        t.draw(|f| draw::draw(f, view, at + Duration::from_secs(2)))
            .unwrap();
        super::common::screen::text_of(&t)
    }

    const USER: &[u8] = "USER \x1b]52;c;aGk=\x07ev\u{202e}il\u{9b}2J\r\n".as_bytes();

    #[test]
    fn a_hostile_clients_user_name_and_commands_are_shown_escaped_and_the_row_intact() {
        let hostile: &[(&[u8], &[u8])] = &[
            (USER, b"+OK\r\n"),
            (b"\x1b[2J\x1b[HNOOP\x00\xff\r\n", b"-ERR what\r\n"),
            ("LIST \u{2066}\x1b[31m1\r\n".as_bytes(), b"-ERR not yet\r\n"),
        ];
        let (mut view, at) = view_of(hostile);
        let table = render(&view, at, 12);
        super::assert_clean("the table", table.as_bytes());
        let rows: Vec<&str> = table
            .lines()
            .filter(|l| l.contains("127.0.0.1:5000"))
            .collect();
        assert_eq!(rows.len(), 2, "{table}");
        // Each row one line, as wide as the screen, framed.
        for row in &rows {
            assert_eq!(row.chars().count(), usize::from(WIDTH), "{row:?}");
            assert!(row.starts_with('│') && row.ends_with('│'), "{row:?}");
        }
        assert!(rows[1].contains("error"), "{table}");
        for _ in 0..2 {
            view.key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
        }
        view.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert_eq!(view.opened, Some(2));
        let opened = render(&view, at, 40);
        super::assert_clean("the opened connection", opened.as_bytes());
        assert!(opened.contains(r"C: USER \x1b]52;c;aGk=\x07ev"), "{opened}");
        // Invalid UTF-8 shows as \xff, as the text export writes it (not as U+FFFD).
        assert!(opened.contains(r"\x1b[2J\x1b[HNOOP\x00\xff"), "{opened}");
        assert!(opened.contains("client CL-011"), "{opened}");
    }

    #[test]
    fn the_check_on_the_screen_sees_a_raw_escape() {
        // The view's own text is clean; a raw one slipped in is caught by the same check.
        let (view, at) = view_of(&[(USER, b"+OK\r\n")]);
        let mut screen = render(&view, at, 12);
        super::assert_clean("the table", screen.as_bytes());
        screen.push('\u{1b}');
        assert!(super::raw_control(screen.as_bytes()).is_some());
    }
}
