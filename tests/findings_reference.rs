//! The engine's findings on a large generated session, compared with a reference file made by
//! the engine before its body path was optimised (tests/fixtures/findings/reference.txt). Any
//! change in what a rule reports (rule, severity, exchange, direction, offset), in what the
//! body lines carry or in the body's line and octet counts shows up as a diff.
//!
//! The session is generated from a fixed seed: bodies with dot-stuffing, lines at and over
//! the line cap, bare CR and LF, NUL, 8-bit and invalid UTF-8, a body cut short, multi-line
//! LIST, UIDL, CAPA and TOP, -ERR replies, pipelined commands and SASL. It is fed whole and in
//! odd chunk sizes, under three configurations; every feeding must give the reference.
//!
//! To regenerate after a deliberate rule change: `POPSCOPE_BLESS=1 cargo test --test
//! findings_reference`, and say in the commit why the findings changed.

use std::fmt::Write as _;
use std::path::Path;

use popscope_core::{Config, Direction, Engine, Event, Time, TransportEvent};

/// A small deterministic generator (xorshift64*): the session must be the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One step of a session, in wire order.
enum Step {
    Client(Vec<u8>),
    Server(Vec<u8>),
    Closed,
}

const WORDS: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
];

fn plain_line(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut l = Vec::with_capacity(len + 8);
    while l.len() < len {
        l.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        l.push(b' ');
    }
    l.truncate(len);
    l
}

/// One body line as the server sends it (stuffed or not, with its line end), chosen so that
/// most lines are plain and the rest cover every oddity a body rule looks at.
fn body_line(rng: &mut Rng, cap: usize, out: &mut Vec<u8>) {
    let roll = rng.below(1000);
    let len = 20 + rng.below(70) as usize;
    match roll {
        0..=899 => out.extend_from_slice(&plain_line(rng, len)),
        900..=919 => {
            out.extend_from_slice(b"..");
            out.extend_from_slice(&plain_line(rng, len));
        }
        920..=924 => {
            out.push(b'.');
            out.extend_from_slice(&plain_line(rng, len));
        }
        925..=939 => {}
        940..=944 => {
            let mut l = plain_line(rng, len);
            l[len / 2] = b'\r';
            out.extend_from_slice(&l);
        }
        945..=949 => {
            let mut l = plain_line(rng, len);
            l[len / 3] = 0;
            out.extend_from_slice(&l);
        }
        950..=959 => {
            out.extend_from_slice("grüße aus köln ".as_bytes());
            out.extend_from_slice(&plain_line(rng, len));
        }
        960..=964 => {
            out.extend_from_slice(b"bad utf-8 \xc3\x28 \xff\xfe ");
            out.extend_from_slice(&plain_line(rng, len));
        }
        965..=969 => out.extend_from_slice(&plain_line(rng, cap)),
        970..=974 => out.extend_from_slice(&plain_line(rng, cap + 1)),
        975..=977 => out.extend_from_slice(&plain_line(rng, cap * 3 + 7)),
        978..=979 => {
            out.extend_from_slice(&plain_line(rng, cap - 1));
            out.push(b'\r');
        }
        980..=989 => {
            out.extend_from_slice(&plain_line(rng, len));
            out.push(b'\n');
            return;
        }
        _ => {
            out.push(b'\t');
            out.extend_from_slice(&plain_line(rng, len));
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// A message: headers (sometimes 8-bit), a blank line, then `lines` body lines; the first
/// few hundred are plain so that later oddities sit deep inside a long run of plain lines.
fn message(rng: &mut Rng, cap: usize, lines: usize) -> Vec<u8> {
    let mut m = b"From: alice@example.net\r\nTo: bob@example.net\r\n".to_vec();
    if rng.below(3) == 0 {
        m.extend_from_slice("Subject: caf\u{e9}\r\n".as_bytes());
    } else {
        m.extend_from_slice(b"Subject: plain\r\n");
    }
    m.extend_from_slice(b"\r\n");
    for i in 0..lines {
        if i < 300 && rng.below(4) != 0 {
            m.extend_from_slice(&plain_line(rng, 76));
            m.extend_from_slice(b"\r\n");
        } else {
            body_line(rng, cap, &mut m);
        }
    }
    m
}

/// What RETR delivers of `m` once unstuffed with CRLF line ends, as LIST should say.
fn retr_octets(m: &[u8]) -> usize {
    m.split_inclusive(|&b| b == b'\n')
        .map(|l| {
            let body = l.strip_suffix(b"\n").unwrap_or(l);
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            let unstuffed = if body.starts_with(b"..") {
                &body[1..]
            } else {
                body
            };
            unstuffed.len() + 2
        })
        .sum()
}

fn session(seed: u64, cap: usize) -> Vec<Step> {
    let mut rng = Rng(seed);
    let n = 6usize;
    let msgs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let lines = 200 + i * 900 + rng.below(400) as usize;
            message(&mut rng, cap, lines)
        })
        .collect();
    let mut s = vec![Step::Server(
        b"+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n".to_vec(),
    )];
    let exchange = |c: &[u8], r: Vec<u8>, s: &mut Vec<Step>| {
        s.push(Step::Client(c.to_vec()));
        s.push(Step::Server(r));
    };
    exchange(
        b"CAPA\r\n",
        b"+OK\r\nTOP\r\nUIDL\r\nUSER\r\nSASL PLAIN\r\nUTF8\r\nPIPELINING\r\n.\r\n".to_vec(),
        &mut s,
    );
    // SASL: a refused attempt, then a challenge and a response.
    exchange(
        b"AUTH CRAM-MD5\r\n",
        b"-ERR [AUTH] not here\r\n".to_vec(),
        &mut s,
    );
    exchange(b"AUTH PLAIN\r\n", b"+ \r\n".to_vec(), &mut s);
    exchange(
        b"AGFsaWNlAHNlY3JldA==\r\n",
        b"+OK logged in\r\n".to_vec(),
        &mut s,
    );
    let total: usize = msgs.iter().map(|m| retr_octets(m)).sum();
    exchange(
        b"STAT\r\n",
        format!("+OK {n} {total}\r\n").into_bytes(),
        &mut s,
    );
    // LIST with one size wrong (MSG-006 at its RETR) and one line malformed.
    let mut list = b"+OK scan listing follows\r\n".to_vec();
    for (i, m) in msgs.iter().enumerate() {
        let size = retr_octets(m) + usize::from(i == 2) * 17;
        list.extend_from_slice(format!("{} {size}\r\n", i + 1).as_bytes());
    }
    list.extend_from_slice(b"x7 bogus\r\n.\r\n");
    exchange(b"LIST\r\n", list, &mut s);
    let mut uidl = b"+OK\r\n".to_vec();
    for i in 1..=n {
        uidl.extend_from_slice(format!("{i} uid-{}\r\n", 1000 + i % 5).as_bytes());
    }
    uidl.extend_from_slice(b".\r\n");
    exchange(b"UIDL\r\n", uidl, &mut s);
    exchange(b"LIST 99\r\n", b"-ERR no such message\r\n".to_vec(), &mut s);
    // Pipelined: TOP and RETR of the same messages in one client write.
    let stuffed = |m: &[u8]| {
        let mut r = m.to_vec();
        r.extend_from_slice(b".\r\n");
        r
    };
    let mut cmds = Vec::new();
    let mut replies = Vec::new();
    for (i, m) in msgs.iter().enumerate().take(n - 1) {
        let top_lines = 3 + i * 5;
        cmds.extend_from_slice(format!("TOP {} {top_lines}\r\n", i + 1).as_bytes());
        replies.extend_from_slice(b"+OK top follows\r\n");
        let cut = m
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(m.len(), |p| p + 4);
        let mut top = m[..cut].to_vec();
        top.extend(
            m[cut..]
                .split_inclusive(|&b| b == b'\n')
                .take(top_lines + usize::from(i == 1))
                .flatten(),
        );
        replies.extend_from_slice(&stuffed(&top));
        cmds.extend_from_slice(format!("RETR {}\r\n", i + 1).as_bytes());
        let claimed = retr_octets(m) + usize::from(i == 3) * 5;
        replies.extend_from_slice(format!("+OK {claimed} octets\r\n").as_bytes());
        replies.extend_from_slice(&stuffed(m));
    }
    exchange(&cmds, replies, &mut s);
    // TOP asked for fewer body lines than it sent, deep in a long body (TOP-001).
    let long = &msgs[n - 2];
    let body_lines = long
        .split(|&b| b == b'\n')
        .skip_while(|l| !l.is_empty() && *l != b"\r")
        .count()
        .saturating_sub(2);
    let mut top = b"+OK top follows\r\n".to_vec();
    top.extend_from_slice(&stuffed(long));
    exchange(
        format!("TOP {} {}\r\n", n - 1, body_lines - 3).as_bytes(),
        top,
        &mut s,
    );
    exchange(b"DELE 1\r\n", b"+OK deleted\r\n".to_vec(), &mut s);
    exchange(
        b"RETR 1\r\n",
        b"-ERR message 1 already deleted\r\n".to_vec(),
        &mut s,
    );
    exchange(b"NOOP\r\n", b"+ok\r\n".to_vec(), &mut s);
    let mut long = b"+OK ".to_vec();
    long.extend_from_slice(&plain_line(&mut rng, 600));
    long.extend_from_slice(b"\r\n");
    exchange(b"NOOP\r\n", long, &mut s);
    // The last message is cut short by the close.
    let last = &msgs[n - 1];
    s.push(Step::Client(format!("RETR {n}\r\n").into_bytes()));
    let mut r = b"+OK\r\n".to_vec();
    r.extend_from_slice(&last[..last.len() * 2 / 3]);
    s.push(Step::Server(r));
    s.push(Step::Closed);
    s
}

/// Feeds the session, each side's bytes cut into chunks of the sizes given in turn (empty:
/// whole), and writes what the comparison needs.
fn run(steps: &[Step], config: Config, chunks: &[usize], report: &mut String) {
    let mut engine = Engine::new(config);
    let mut digest = Digest::default();
    let mut turn = 0usize;
    for (t, step) in steps.iter().enumerate() {
        let now = Time(t as u64);
        match step {
            Step::Closed => engine.handle_transport(
                now,
                TransportEvent::ServerClosed {
                    close_notify: false,
                },
                &mut |e: Event<'_>| digest.event(&e, report),
            ),
            Step::Client(bytes) | Step::Server(bytes) => {
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let size = if chunks.is_empty() {
                        rest.len()
                    } else {
                        turn += 1;
                        chunks[turn % chunks.len()].min(rest.len())
                    };
                    let (piece, tail) = rest.split_at(size);
                    rest = tail;
                    let mut sink = |e: Event<'_>| digest.event(&e, report);
                    if matches!(step, Step::Client(_)) {
                        engine.handle_client(now, piece, &mut sink);
                    } else {
                        engine.handle_server(now, piece, &mut sink);
                    }
                }
            }
        }
    }
}

/// Body lines hashed per exchange, so that a changed line shows without listing them all.
#[derive(Default)]
struct Digest {
    hash: u64,
}

impl Digest {
    fn event(&mut self, e: &Event<'_>, report: &mut String) {
        match e {
            Event::BodyLine { line, .. } => {
                for &b in line.iter().chain(b"\n") {
                    self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
            }
            Event::BodyEnd(end) => {
                let _ = writeln!(
                    report,
                    "body {} lines={} octets={} complete={} digest={:016x}",
                    end.exchange, end.lines, end.octets, end.complete, self.hash
                );
                self.hash = 0;
            }
            Event::Finding(f) => {
                let dir = match f.at.direction {
                    Some(Direction::Server) => "S",
                    Some(Direction::Client) => "C",
                    None => "-",
                };
                let _ = writeln!(
                    report,
                    "finding {} {:?} exchange={} {dir}@{}",
                    f.rule.id, f.severity, f.at.exchange, f.at.offset
                );
            }
            _ => {}
        }
    }
}

fn configs() -> Vec<(&'static str, Config)> {
    vec![
        ("default", Config::default()),
        (
            "cap-200-judge-client",
            Config {
                max_line: 200,
                judge_client: true,
                ..Config::default()
            },
        ),
        (
            "cap-1000",
            Config {
                max_line: 1000,
                ..Config::default()
            },
        ),
    ]
}

fn generated_report(chunks: &[usize]) -> String {
    let mut report = String::new();
    for (name, config) in configs() {
        for seed in [0x9e37_79b9_7f4a_7c15u64, 0xdead_beef_cafe_f00d] {
            let cap = config.max_line;
            let _ = writeln!(report, "# config {name} seed {seed:x}");
            run(&session(seed, cap), config.clone(), chunks, &mut report);
        }
    }
    report
}

fn reference_path() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/findings/reference.txt"
    ))
}

fn assert_matches_reference(report: &str, how: &str) {
    // Blessing writes the whole feeding's report; the others compare with it, not the file
    // being written.
    let reference = if std::env::var_os("POPSCOPE_BLESS").is_some() {
        let whole = generated_report(&[]);
        std::fs::create_dir_all(reference_path().parent().unwrap_or(Path::new("."))).ok();
        std::fs::write(reference_path(), &whole).ok();
        whole
    } else {
        std::fs::read_to_string(reference_path()).unwrap_or_default()
    };
    assert!(
        !reference.is_empty(),
        "no reference at {}",
        reference_path().display()
    );
    if report != reference {
        let first = report
            .lines()
            .zip(reference.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(report.lines().count().min(reference.lines().count()));
        panic!(
            "findings fed {how} differ from the reference at line {}:\n  got:  {:?}\n  want: {:?}",
            first + 1,
            report.lines().nth(first),
            reference.lines().nth(first)
        );
    }
}

#[test]
fn the_generated_session_is_large_and_covers_the_body_rules() {
    let report = generated_report(&[]);
    let bytes: usize = configs()
        .iter()
        .map(|(_, c)| {
            session(1, c.max_line)
                .iter()
                .map(|s| match s {
                    Step::Client(b) | Step::Server(b) => b.len(),
                    Step::Closed => 0,
                })
                .sum::<usize>()
        })
        .sum();
    assert!(bytes > 1 << 20, "only {bytes} octets");
    for rule in [
        "GEN-001", "GEN-004", "ML-002", "UTF-003", "MSG-006", "MSG-010", "TOP-001", "ML-001",
        "GEN-002",
    ] {
        assert!(
            report.contains(&format!("finding {rule} ")),
            "{rule} never fires"
        );
    }
    assert!(report.contains("complete=false"), "no body is cut short");
}

#[test]
fn findings_fed_whole_match_the_reference() {
    assert_matches_reference(&generated_report(&[]), "whole");
}

#[test]
fn findings_fed_in_odd_chunks_match_the_reference() {
    assert_matches_reference(
        &generated_report(&[1, 7, 2, 61, 3, 509, 4093, 5, 65_521, 13, 1 << 17]),
        "in odd chunks",
    );
}
