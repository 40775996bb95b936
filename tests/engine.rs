//! Engine properties: no I/O inside, the RFC examples are clean, chunking never changes the
//! events, hostile bytes never panic.

use std::path::{Path, PathBuf};

use popscope::transcript::{Item, replay, text};
use popscope_core::{Config, Engine, Event, Severity, Time, TransportEvent};
use proptest::prelude::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_protocol_module_does_no_io_and_reads_no_clock() {
    let forbidden = [
        "tokio",
        "std::net",
        "std::fs",
        "std::time",
        "SystemTime",
        "Instant",
        "rustls",
        "std::io",
        "std::thread",
        "std::process",
        "std::env",
        "mio::",
        "socket2",
    ];
    let mut files = Vec::new();
    rust_files(&root().join("crates/core/src"), &mut files);
    assert!(files.len() > 10, "crates/core/src not found");
    let mut hits = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap_or_default();
        for (i, line) in src.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in forbidden {
                if code.contains(word) {
                    hits.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "I/O or clock inside crates/core/src:\n{}",
        hits.join("\n")
    );
}

/// The core's whole dependency tree (not only its direct dependencies) holds nothing async,
/// nothing TLS and nothing terminal: sans-IO is a fact of the build, not a convention.
#[test]
fn the_core_depends_on_nothing_async_or_terminal() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "popscope-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"memchr"),
        "unexpected cargo tree output:\n{tree}"
    );
    for forbidden in [
        "tokio",
        "rustls",
        "ratatui",
        "crossterm",
        "clap",
        "mio",
        "libc",
    ] {
        assert!(
            !crates.iter().any(|c| c.starts_with(forbidden)),
            "popscope-core depends on {forbidden}:\n{tree}"
        );
    }
}

fn check_file(rel: &str) -> Vec<(String, Severity)> {
    let bytes = std::fs::read(root().join(rel)).unwrap_or_default();
    let entries = text::parse(&bytes).unwrap_or_default();
    assert!(!entries.is_empty(), "{rel} is empty or unreadable");
    replay(&entries, Config::default())
        .findings
        .into_iter()
        .map(|f| (f.finding.rule.id.to_owned(), f.finding.severity))
        .collect()
}

#[test]
fn the_rfc_1939_example_session_has_no_violation() {
    let f = check_file("tests/fixtures/sessions/rfc1939-section10.trace");
    assert!(!f.iter().any(|(_, s)| *s == Severity::Violation), "{f:?}");
}

#[test]
fn the_rfc_1939_apop_example_is_clean() {
    let f = check_file("tests/fixtures/sessions/rfc1939-apop.trace");
    assert!(!f.iter().any(|(_, s)| *s != Severity::Info), "{f:?}");
}

#[test]
fn a_dovecot_shaped_session_has_no_violation() {
    let f = check_file("tests/fixtures/sessions/dovecot-like.trace");
    assert!(!f.iter().any(|(_, s)| *s == Severity::Violation), "{f:?}");
}

#[test]
fn the_seed_case_names_st_009_first_and_the_rfcs() {
    let bytes =
        std::fs::read(root().join("tests/fixtures/rules/st-009.fire.trace")).unwrap_or_default();
    let entries = text::parse(&bytes).unwrap_or_default();
    let r = replay(&entries, Config::default());
    let violations: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.finding.severity == Severity::Violation)
        .collect();
    assert_eq!(violations[0].finding.rule.id, "ST-009");
    assert_eq!(violations[1].finding.rule.id, "ST-001");
    let msg = &violations[0].finding.message;
    for needle in [
        "RFC 8314 §3.1",
        "RFC 1939 §3",
        "SASL EXTERNAL",
        "certificate",
    ] {
        assert!(msg.contains(needle), "{needle} missing from: {msg}");
    }
    let skipped = r.transitions.iter().find(|t| !t.lawful);
    assert!(
        skipped.is_some_and(|t| t.to.name() == "TRANSACTION"),
        "{:?}",
        r.transitions
    );
}

// ------------------------------------------------------------------ chunking

/// Consecutive items of one direction, merged: what one TCP segment could carry.
enum Group {
    Client(Vec<u8>),
    Server(Vec<u8>),
    Transport(TransportEvent),
    Idle(u64),
}

fn groups(items: &[Item]) -> Vec<Group> {
    let mut g: Vec<Group> = Vec::new();
    for it in items {
        match (it, g.last_mut()) {
            (Item::Client(b), Some(Group::Client(acc))) => acc.extend_from_slice(b),
            (Item::Server(b), Some(Group::Server(acc))) => acc.extend_from_slice(b),
            (Item::Client(b), _) => g.push(Group::Client(b.clone())),
            (Item::Server(b), _) => g.push(Group::Server(b.clone())),
            (Item::Transport(e), _) => g.push(Group::Transport(*e)),
            (Item::Idle { seconds }, _) => g.push(Group::Idle((seconds * 1e6) as u64)),
        }
    }
    g
}

/// Feeds the groups, each byte group cut at the given points (taken modulo its length).
fn run(groups: &[Group], cuts: &dyn Fn(usize, usize) -> Vec<usize>) -> Vec<Event<'static>> {
    let mut engine = Engine::new(Config::default());
    let mut events: Vec<Event<'static>> = Vec::new();
    let mut now = 0u64;
    for (gi, g) in groups.iter().enumerate() {
        now += 1_000;
        let t = Time(now);
        match g {
            Group::Client(b) | Group::Server(b) => {
                let mut points = cuts(gi, b.len());
                points.retain(|&p| p > 0 && p < b.len());
                points.sort_unstable();
                points.dedup();
                let mut start = 0;
                for end in points.into_iter().chain(std::iter::once(b.len())) {
                    let piece = &b[start..end];
                    if matches!(g, Group::Client(_)) {
                        engine.handle_client(t, piece, &mut events);
                    } else {
                        engine.handle_server(t, piece, &mut events);
                    }
                    start = end;
                }
            }
            Group::Transport(e) => engine.handle_transport(t, *e, &mut events),
            Group::Idle(us) => now += us,
        }
    }
    events
}

fn all_transcripts() -> Vec<(String, Vec<Group>)> {
    let mut out = Vec::new();
    for dir in ["tests/fixtures/rules", "tests/fixtures/sessions"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap_or_default();
            let items: Vec<Item> = text::parse(&bytes)
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.item)
                .collect();
            out.push((f.display().to_string(), groups(&items)));
        }
    }
    out
}

#[test]
fn one_byte_at_a_time_gives_the_same_events_as_whole() {
    for (name, g) in all_transcripts() {
        let whole = run(&g, &|_, _| Vec::new());
        let bytewise = run(&g, &|_, len| (1..len).collect());
        assert_eq!(whole, bytewise, "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_chunking_gives_the_same_events(seed in prop::collection::vec(any::<u32>(), 1..24)) {
        for (name, g) in all_transcripts() {
            let whole = run(&g, &|_, _| Vec::new());
            let cut = |gi: usize, len: usize| -> Vec<usize> {
                if len < 2 { return Vec::new(); }
                seed.iter().map(|s| (*s as usize).wrapping_add(gi * 7919) % len).collect()
            };
            let chunked = run(&g, &cut);
            prop_assert_eq!(&whole, &chunked, "{}", name);
        }
    }

    #[test]
    fn hostile_bytes_never_panic(
        steps in prop::collection::vec((0u8..6, prop::collection::vec(any::<u8>(), 0..300)), 0..40)
    ) {
        let mut engine = Engine::new(Config { max_line: 64, ..Config::default() });
        let mut sink = |_: Event<'_>| {};
        for (i, (kind, bytes)) in steps.iter().enumerate() {
            let t = Time(i as u64 * 1_000);
            match kind {
                0 | 1 => engine.handle_server(t, bytes, &mut sink),
                2 => engine.handle_client(t, bytes, &mut sink),
                3 => engine.handle_transport(t, TransportEvent::TlsEstablished { cert_requested: bytes.len() % 2 == 0, client_cert: bytes.len() % 3 == 0 }, &mut sink),
                4 => engine.handle_transport(t, TransportEvent::Timeout, &mut sink),
                _ => engine.handle_transport(t, TransportEvent::ServerClosed { close_notify: false }, &mut sink),
            }
        }
    }

    #[test]
    fn protocol_shaped_garbage_never_panics(
        lines in prop::collection::vec(prop::sample::select(vec![
            "+OK", "-ERR", "+ ", ".", "..", "+ok x", "1 120", "1 abc extra", "USER a", "PASS x", "STAT", "LIST",
            "RETR 1", "TOP 1 0", "UIDL", "CAPA", "STLS", "AUTH PLAIN", "AUTH", "*", "QUIT", "DELE 1", "RSET",
            "SASL PLAIN", "LANG", "UTF8", "[", "+OK [SYS/TEMP", "\x1b[2J", "\u{202e}", "",
        ]), 0..60),
        dirs in prop::collection::vec(0u8..8, 60),
    ) {
        let mut engine = Engine::new(Config::default());
        let mut sink = |_: Event<'_>| {};
        for (i, l) in lines.iter().enumerate() {
            let t = Time(i as u64);
            let mut b = l.as_bytes().to_vec();
            b.extend_from_slice(b"\r\n");
            match dirs[i % dirs.len()] {
                0..=3 => engine.handle_server(t, &b, &mut sink),
                4..=5 => engine.handle_client(t, &b, &mut sink),
                6 => engine.handle_transport(t, TransportEvent::TlsEstablished { cert_requested: true, client_cert: true }, &mut sink),
                _ => engine.handle_transport(t, TransportEvent::Timeout, &mut sink),
            }
        }
        engine.handle_transport(Time(1_000_000), TransportEvent::ServerClosed { close_notify: true }, &mut sink);
    }
}
