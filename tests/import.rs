//! Importers and exports on real material: a curl log of a real curl run, a capture written
//! from a recorded loopback session, an s_client terminal log; text and bundle exports.

// The helpers of this test crate may unwrap like its tests: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use etherparse::PacketBuilder;
use popscope::protocol::Config;
use popscope::server::TlsMode;
use popscope::transcript::{Item, import, jsonl, replay};

mod common;
use common::{popscope, runtime, start};

fn streams(entries: &[popscope::transcript::Entry]) -> (Vec<u8>, Vec<u8>) {
    let (mut c, mut s) = (Vec::new(), Vec::new());
    for e in entries {
        match &e.item {
            Item::Client(b) => c.extend_from_slice(b),
            Item::Server(b) => s.extend_from_slice(b),
            _ => {}
        }
    }
    (c, s)
}

#[test]
fn a_real_curl_log_imports_and_checks() {
    if Command::new("curl").arg("--version").output().is_err() {
        assert!(std::env::var("CI").is_err(), "CI=true but curl is missing");
        return;
    }
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    let o = Command::new("curl")
        .args([
            "-v",
            "-s",
            "-u",
            "demo:demo",
            &format!("{}/1", s.url()),
            "-o",
            "/dev/null",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let log = String::from_utf8_lossy(&o.stderr).into_owned();
    let imp = import::curl(&log).unwrap_or_else(|e| panic!("{e}: {log}"));
    let r = replay(&imp.entries, Config::default());
    assert_eq!(
        r.session.state,
        popscope::protocol::State::Transaction,
        "{log}"
    );
    assert!(
        r.findings
            .iter()
            .all(|f| f.finding.severity != popscope::protocol::Severity::Violation),
        "{:?}",
        r.findings
            .iter()
            .map(|f| f.finding.rule.id)
            .collect::<Vec<_>>()
    );
    assert!(
        imp.notes.iter().any(|n| n.contains("RETR 1")),
        "{:?}",
        imp.notes
    );
}

/// Writes a pcap of a recorded session, as a loopback capture would hold it: Ethernet, IPv4,
/// TCP with real sequence numbers, one segment retransmitted and two swapped.
fn write_pcap(session: &jsonl::Session, path: &std::path::Path) {
    let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("{e}"));
    let header = pcap_file::pcap::PcapHeader {
        datalink: pcap_file::DataLink::ETHERNET,
        ..Default::default()
    };
    let mut w =
        pcap_file::pcap::PcapWriter::with_header(file, header).unwrap_or_else(|e| panic!("{e}"));
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut from_server: Vec<bool> = Vec::new();
    let seg = |from_client: bool, seq: u32, syn: bool, payload: &[u8]| -> Vec<u8> {
        let (sp, dp) = if from_client {
            (40000, 110)
        } else {
            (110, 40000)
        };
        let b = PacketBuilder::ethernet2([0; 6], [0; 6]).ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64);
        let mut t = b.tcp(sp, dp, seq, 65535);
        if syn {
            t = t.syn();
        }
        let mut out = Vec::new();
        t.write(&mut out, payload).unwrap_or_else(|e| panic!("{e}"));
        out
    };
    frames.push(seg(true, cseq, true, b""));
    frames.push(seg(false, sseq, true, b""));
    from_server.extend([false, true]);
    cseq += 1;
    sseq += 1;
    for e in &session.entries {
        match &e.item {
            Item::Client(b) => {
                frames.push(seg(true, cseq, false, b));
                from_server.push(false);
                cseq = cseq.wrapping_add(b.len() as u32);
            }
            Item::Server(b) => {
                for chunk in b.chunks(100) {
                    frames.push(seg(false, sseq, false, chunk));
                    from_server.push(true);
                    sseq = sseq.wrapping_add(chunk.len() as u32);
                }
            }
            _ => {}
        }
    }
    // A retransmission and two segments of one reply out of order, as real captures have.
    let swap_at = (4..frames.len() - 1)
        .find(|&i| from_server[i] && from_server[i + 1])
        .unwrap_or(4);
    frames.swap(swap_at, swap_at + 1);
    let dup = frames[swap_at + 3].clone();
    frames.insert(swap_at + 4, dup);
    for (i, f) in frames.iter().enumerate() {
        let p = pcap_file::pcap::PcapPacket::new(
            std::time::Duration::from_millis(i as u64),
            f.len() as u32,
            f,
        );
        w.write_packet(&p).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn a_capture_of_a_session_imports_to_the_same_bytes_as_its_recording() {
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    let dir = common::scratch_path(&format!("popscope-import-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let rec = dir.join("s.jsonl").display().to_string();
    let o = common::send_as_demo(
        &s.url(),
        &[
            "--login",
            "user",
            "--record",
            &rec,
            "--record-secrets",
            "LIST",
            "RETR 2",
            "UIDL",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let (sessions, _) = jsonl::read(&std::fs::read(&rec).unwrap_or_default());
    let cap = dir.join("s.pcap");
    write_pcap(&sessions[0], &cap);
    let imp = import::pcap(&std::fs::read(&cap).unwrap_or_default(), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(streams(&imp.entries), streams(&sessions[0].entries));
    // And through the binary, into the text format, then checked.
    let out = dir.join("s.trace").display().to_string();
    let o = popscope(&[
        "import",
        &cap.display().to_string(),
        "--from",
        "pcap",
        "-o",
        &out,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = popscope(&["check", "--transcript", &out]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_s_client_log_imports_with_both_sides_told_apart() {
    let log = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/s_client.log"
    ))
    .unwrap_or_default();
    let imp = import::openssl(&log).unwrap_or_else(|e| panic!("{e}"));
    let client: Vec<String> = imp
        .entries
        .iter()
        .filter_map(|e| {
            if let Item::Client(b) = &e.item {
                Some(String::from_utf8_lossy(b).trim_end().to_owned())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        client,
        vec!["CAPA", "USER demo", "PASS demo", "STAT", "QUIT"]
    );
    let r = replay(&imp.entries, Config::default());
    assert!(
        r.findings
            .iter()
            .all(|f| f.finding.severity != popscope::protocol::Severity::Violation)
    );
    assert_eq!(r.session.state, popscope::protocol::State::Update);
}

#[test]
fn exports_text_and_an_evidence_bundle() {
    let rt = runtime();
    let s = start(
        &rt,
        TlsMode::Starttls,
        Some(popscope::protocol::server::Quirk::StlsResponseInjection),
    );
    let dir = common::scratch_path(&format!("popscope-export-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let rec = dir.join("s.jsonl").display().to_string();
    let ca = s.certs.ca.display().to_string();
    let o = popscope(&[
        "send",
        &s.url(),
        "--starttls",
        "--ca-file",
        &ca,
        "--user",
        "demo",
        "--password-env",
        "PW",
        "--record",
        &rec,
        "STAT",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let bundle =
        String::from_utf8_lossy(&popscope(&["export", &rec, "--to", "bundle"]).stdout).into_owned();
    for needle in [
        "# POP3 session evidence",
        "TLS-003",
        "RFC 2595 §4",
        "TLS 1.3",
        "CN=localhost",
        "SHA-256",
        "before TLS:",
        "## Transcript (secrets redacted",
        "popscope 0.1.0",
    ] {
        assert!(bundle.contains(needle), "bundle lacks {needle}:\n{bundle}");
    }
    assert!(
        !bundle.contains("ZGVtbwBkZW1v") && !bundle.contains("AGRlbW8AZGVtbw"),
        "{bundle}"
    );
    let text = dir.join("s.trace").display().to_string();
    let o = popscope(&["export", &rec, "-o", &text]);
    assert_eq!(o.status.code(), Some(0));
    let o = popscope(&["check", "--transcript", &text]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("TLS-003"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_against_another_server_shows_the_differences_and_never_deletes() {
    let rt = runtime();
    let a = start(&rt, TlsMode::None, None);
    let b = start(
        &rt,
        TlsMode::None,
        Some(popscope::protocol::server::Quirk::UnstuffedDots),
    );
    let file = common::scratch_path(&format!("popscope-against-{}.jsonl", std::process::id()))
        .display()
        .to_string();
    let o = common::send_as_demo(
        &a.url(),
        &["--record", &file, "LIST", "RETR 2", "DELE 1", "RSET"],
    );
    assert_eq!(o.status.code(), Some(0));
    let o = popscope(&[
        "replay",
        &file,
        "--against",
        &b.url(),
        "--user",
        "demo",
        "--password-env",
        "PW",
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{out}");
    let retr = out
        .lines()
        .find(|l| l.starts_with("RETR 2"))
        .unwrap_or_default();
    assert!(retr.ends_with('≠'), "{out}");
    assert!(
        out.lines()
            .find(|l| l.starts_with("LIST"))
            .is_some_and(|l| !l.contains('≠')),
        "{out}"
    );
    assert!(
        out.contains("not replayed:") && out.contains("DELE 1"),
        "{out}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with("DELE")),
        "DELE was sent: {out}"
    );
    let _ = std::fs::remove_file(&file);
}

/// The client lines of an import, without line ends.
fn client_lines(imp: &import::Imported) -> Vec<String> {
    imp.entries
        .iter()
        .filter_map(|e| match &e.item {
            Item::Client(b) => Some(String::from_utf8_lossy(b).trim_end().to_owned()),
            _ => None,
        })
        .collect()
}

/// Checks an imported OpenSSL 3.0 `-starttls pop3` session of the demo server: the greeting,
/// STLS and the handshake put back, the typed commands, their replies, a clean check.
fn assert_starttls_session(imp: &import::Imported, commands: &[&str], log: &str) {
    assert_eq!(
        client_lines(imp),
        std::iter::once("STLS")
            .chain(commands.iter().copied())
            .collect::<Vec<_>>(),
        "{log}"
    );
    let (_, server) = streams(&imp.entries);
    let server = String::from_utf8_lossy(&server).into_owned();
    assert!(server.starts_with("+OK popscope demo"), "{server}");
    for reply in [
        "+OK Capability list follows\r\n",
        "SASL PLAIN",
        "+OK 4 1000900\r\n",
        "+OK 278 octets\r\nFrom: Alice",
        "+OK popscope demo server signing off\r\n",
    ] {
        assert!(server.contains(reply), "no {reply:?} in {server}");
    }
    assert!(
        !server.contains("Session-ID") && !server.contains("read R BLOCK"),
        "{server}"
    );
    assert!(
        imp.entries.iter().any(|e| matches!(
            e.item,
            Item::Transport(popscope::protocol::TransportEvent::TlsEstablished { .. })
        )),
        "no handshake"
    );
    let r = replay(&imp.entries, Config::default());
    let violations: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.finding.severity == popscope::protocol::Severity::Violation)
        .map(|f| f.finding.rule.id)
        .collect();
    assert!(violations.is_empty(), "{violations:?}\n{log}");
    assert_eq!(r.session.state, popscope::protocol::State::Update, "{log}");
}

const S_CLIENT_COMMANDS: [&str; 7] = [
    "CAPA",
    "USER demo",
    "PASS demo",
    "STAT",
    "LIST",
    "RETR 1",
    "QUIT",
];

#[test]
fn a_captured_openssl_3_starttls_log_imports() {
    let log = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/s_client-starttls-openssl-3.0.log"
    ))
    .unwrap_or_default();
    let imp = import::openssl(&log).unwrap_or_else(|e| panic!("{e}"));
    assert_starttls_session(&imp, &S_CLIENT_COMMANDS, &log);
}

/// Waits until `out` has grown and then stayed still for a moment (s_client printed a reply).
fn settle(out: &std::sync::Arc<std::sync::Mutex<Vec<u8>>>, from: usize) -> usize {
    let start = std::time::Instant::now();
    let mut last = (from, std::time::Instant::now());
    while start.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let n = out.lock().map(|o| o.len()).unwrap_or(0);
        if n != last.0 {
            last = (n, std::time::Instant::now());
        } else if n > from && last.1.elapsed() > std::time::Duration::from_millis(250) {
            break;
        }
    }
    last.0
}

#[test]
fn a_real_openssl_s_client_starttls_session_imports_with_its_commands() {
    let have = |tool: &str, arg: &str| {
        Command::new(tool)
            .arg(arg)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok()
    };
    if !have("openssl", "version") || !have("script", "--version") {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but openssl or script is missing"
        );
        return;
    }
    let version = Command::new("openssl").arg("version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let rt = runtime();
    let s = start(&rt, TlsMode::Starttls, None);
    // A terminal capture, as a person makes one: script(1) gives s_client a terminal, which
    // echoes what is typed. -ign_eof: a line starting with R or Q is sent, not a command.
    let cmd = format!(
        "openssl s_client -starttls pop3 -crlf -ign_eof -connect 127.0.0.1:{}",
        s.addrs[0].port()
    );
    let mut child = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = out.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = settle(&out, 0);
    for c in S_CLIENT_COMMANDS {
        std::io::Write::write_all(&mut stdin, format!("{c}\n").as_bytes()).unwrap();
        seen = settle(&out, seen);
    }
    let _ = child.wait();
    drop(stdin);
    let _ = reader.join();
    let log = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
    assert!(
        log.contains("+OK popscope demo server signing off"),
        "{version}{log}"
    );
    let imp = import::openssl(&log).unwrap_or_else(|e| panic!("{e}: {log}"));
    assert_starttls_session(&imp, &S_CLIENT_COMMANDS, &format!("{version}{log}"));
}

#[test]
fn import_masks_secrets_unless_asked_to_keep_them() {
    let d = common::scratch_path(&format!("popscope-import-secrets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let plain = "AGRlbW8AczNjcmV0UGFzcw=="; // \0demo\0s3cretPass
    let curl = d.join("curl.log");
    std::fs::write(
        &curl,
        "< +OK ready\n> USER demo\n< +OK\n> PASS hunter2\n< +OK\n> QUIT\n< +OK bye\n",
    )
    .unwrap();
    let openssl = d.join("s_client.log");
    std::fs::write(
        &openssl,
        format!("+OK ready\nAUTH PLAIN\n+ \n{plain}\n+OK welcome\nQUIT\n+OK bye\n"),
    )
    .unwrap();
    for (file, from, secret, masked) in [
        (&curl, "curl", "hunter2", "C: PASS *******".to_owned()),
        (&openssl, "openssl", plain, {
            // The identities stay, the password goes, the length and base64 hold.
            let m = popscope::protocol::auth::plain_response(b"", b"demo", b"**********");
            format!("C: {m}")
        }),
    ] {
        let f = file.to_str().unwrap();
        let o = popscope(&["import", f, "--from", from]);
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(o.status.code(), Some(0), "{text}");
        assert!(!text.contains(secret), "{from}: {text}");
        assert!(text.contains(&masked), "{from}: {text}");
        assert!(text.contains("--keep-secrets"), "{text}");
        let o = popscope(&["import", f, "--from", from, "--keep-secrets"]);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(secret),
            "{from}"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_curl_log_without_bodies_gives_no_finding_about_them() {
    let d = common::scratch_path(&format!("popscope-import-nobody-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let log = d.join("curl.log");
    std::fs::write(
        &log,
        "< +OK ready\n> USER demo\n< +OK hi\n> PASS demo\n< +OK in\n> RETR 1\n< +OK 278 octets\n> QUIT\n< +OK bye\n",
    )
    .unwrap();
    let out = d.join("t.trace");
    let o = popscope(&[
        "import",
        log.to_str().unwrap(),
        "--from",
        "curl",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        !text.contains("S: .\n"),
        "a terminator was made up:\n{text}"
    );
    assert!(text.contains("RETR 1 (line 6)"), "{text}");
    let v = common::recheck(out.to_str().unwrap());
    let rules = common::rule_ids(&v);
    assert!(
        !rules.iter().any(|r| r == "MSG-010" || r == "MSG-006"),
        "{rules:?}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn import_o_is_private_and_never_overwrites_by_surprise() {
    let d = common::scratch_path(&format!("popscope-import-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let log = d.join("curl.log");
    std::fs::write(&log, "< +OK ready\n> QUIT\n< +OK bye\n").unwrap();
    let l = log.to_str().unwrap();
    let out = d.join("t.trace");
    let o_ = out.to_str().unwrap();
    let o = popscope(&["import", l, "--from", "curl", "-o", o_]);
    assert_eq!(o.status.code(), Some(0));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::write(&out, b"precious").unwrap();
    let o = popscope(&["import", l, "--from", "curl", "-o", o_]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    let o = popscope(&["import", l, "--from", "curl", "-o", o_, "--force"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("S: +OK bye")
    );
    let o = popscope(&["import", l, "--from", "curl", "-o", "/dev/full", "--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
    let _ = std::fs::remove_dir_all(&d);
}
