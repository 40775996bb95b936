//! The real binary in tmux, as a person uses it: keys typed with send-keys, the screen read
//! with capture-pane. Against the demo server over real sockets.

use std::process::Command;
use std::time::{Duration, Instant};

use popscope::server::TlsMode;
use popscope_core::server::Quirk;

mod common;
use common::tmux::{Tmux, tmux_available};
use common::{runtime, start};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_popscope")
}

#[test]
fn stepping_through_a_session_by_hand() {
    if !tmux_available() {
        return;
    }
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    let t = Tmux::start(&format!("{} {}", bin(), s.url()), 110, 32);
    let screen = t.wait_for("▶AUTHORIZATION");
    assert!(
        screen.contains("+OK popscope demo POP3 server ready"),
        "{screen}"
    );
    t.line("USER demo");
    t.wait_for("USER accepted");
    t.line("PASS demo");
    let screen = t.wait_for("▶TRANSACTION");
    assert!(
        screen.contains("C: PASS ****") && !screen.contains("PASS demo"),
        "{screen}"
    );
    t.line("LIST");
    t.wait_for("▸ 4 lines");
    t.line("QUIT");
    let screen = t.wait_for("→ UPDATE");
    assert!(
        screen.contains("▶closed") || screen.contains("▶UPDATE"),
        "{screen}"
    );
    // q outside the command line quits and gives the terminal back.
    t.keys(&["Escape", "q"]);
    std::thread::sleep(Duration::from_millis(300));
    let after = t.screen();
    assert!(
        !after.contains("┌ Transcript"),
        "the UI is still on screen:\n{after}"
    );
}

#[test]
fn the_seeds_case_shows_its_finding() {
    if !tmux_available() {
        return;
    }
    let rt = runtime();
    let row = Quirk::TlsPreauth.info();
    let s = start(&rt, row.transport.into(), Some(row.quirk));
    let cmd = format!(
        "{} {} --ca-file {} --client-cert {} --client-key {}",
        bin(),
        s.url(),
        s.certs.ca.display(),
        s.certs.client_cert.display(),
        s.certs.client_key.display()
    );
    let t = Tmux::start(&cmd, 120, 34);
    t.wait_for("client cert sent");
    t.line("USER demo");
    t.wait_for("already authenticated");
    // STAT is not valid in AUTHORIZATION: the UI asks first; y sends it, marked deliberate.
    t.line_confirmed("STAT");
    let screen = t.wait_for("ST-009");
    assert!(screen.contains("login skipped"), "{screen}");
    assert!(screen.contains("(deliberate)"), "{screen}");
    t.keys(&["C-c"]);
}

#[test]
fn escape_sequences_from_the_server_are_shown_not_obeyed() {
    if !tmux_available() {
        return;
    }
    let rt = runtime();
    let s = start(&rt, TlsMode::None, Some(Quirk::HostileText));
    let t = Tmux::start(&format!("{} {}", bin(), s.url()), 230, 30);
    let screen = t.wait_for("\\x1b[2J");
    // Had the terminal obeyed \x1b[2J the frame would be gone; the title escape would be eaten.
    assert!(
        screen.contains("┌ Transcript") && screen.contains("\\x1b]0;pwned\\x07"),
        "{screen}"
    );
    assert!(screen.contains("\\u{202E}gnp.exe"), "{screen}");
    let title = Command::new("tmux")
        .args(["-L", &t.socket, "display-message", "-p", "#{pane_title}"])
        .output();
    let title = title
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        !title.contains("pwned"),
        "the window title was changed: {title}"
    );
    t.keys(&["C-c"]);
}

#[test]
fn a_dead_server_leaves_the_ui_responsive() {
    if !tmux_available() {
        return;
    }
    let port = common::silent(2);
    let t = Tmux::start(
        &format!("{} pop3://127.0.0.1:{port} --timeout 60", bin()),
        100,
        28,
    );
    t.wait_for("connected to 127.0.0.1");
    // The UI answers keys while the server is silent: open help, close it, quit.
    t.keys(&["Escape", "?"]);
    t.wait_for("Esc, q or ? closes");
    t.keys(&["Escape", "q"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!t.screen().contains("┌ Transcript"));
}

/// Whether the pane is still in the alternate screen (the UI did not give the terminal back).
fn alternate_on(t: &Tmux) -> bool {
    let o = Command::new("tmux")
        .args([
            "-L",
            &t.socket,
            "display-message",
            "-p",
            "-t",
            "0",
            "#{alternate_on}",
        ])
        .output();
    o.map(|o| String::from_utf8_lossy(&o.stdout).trim() == "1")
        .unwrap_or(false)
}

fn popscope_pid(t: &Tmux) -> Option<String> {
    let o = Command::new("tmux")
        .args([
            "-L",
            &t.socket,
            "display-message",
            "-p",
            "-t",
            "0",
            "#{pane_pid}",
        ])
        .output()
        .ok()?;
    let shell = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    let o = Command::new("pgrep")
        .args(["-P", &shell, "popscope"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .map(str::to_owned)
}

#[test]
fn sigterm_sighup_and_ctrl_c_give_the_terminal_back() {
    if !tmux_available() {
        return;
    }
    // The UI waits for a greeting that never comes.
    let port = common::silent(3);
    for how in ["TERM", "HUP", "C-c"] {
        let t = Tmux::start(
            &format!("{} pop3://127.0.0.1:{port} --timeout 60", bin()),
            100,
            28,
        );
        t.wait_for("connected to 127.0.0.1");
        assert!(
            alternate_on(&t),
            "{how}: the UI should be on the alternate screen"
        );
        if how == "C-c" {
            t.keys(&["C-c"]);
        } else {
            let pid = popscope_pid(&t).unwrap_or_else(|| panic!("{how}: no popscope process"));
            let _ = Command::new("kill")
                .args([&format!("-{how}"), &pid])
                .status();
        }
        let start = Instant::now();
        while alternate_on(&t) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            !alternate_on(&t),
            "{how}: the terminal was not restored:\n{}",
            t.screen()
        );
        assert!(!t.screen().contains("┌ Transcript"), "{how}");
    }
}

#[test]
fn a_dripping_server_leaves_the_ui_responsive() {
    if !tmux_available() {
        return;
    }
    // One octet every 50 ms: a greeting, then an endless line.
    let drip: Vec<common::Step> = b"+OK slow server ready
"
    .iter()
    .chain(std::iter::repeat(&b'x'))
    .take(600)
    .flat_map(|b| [common::Step::Send(vec![*b]), common::Step::Sleep(50)])
    .collect();
    let port = common::scripted(drip);
    let t = Tmux::start(&format!("{} pop3://127.0.0.1:{port}", bin()), 100, 28);
    t.wait_for("+OK slow server ready");
    let asked = Instant::now();
    t.keys(&["Escape", "?"]);
    t.wait_for("Esc, q or ? closes");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "help took {:?} while the server dripped",
        asked.elapsed()
    );
    t.keys(&["Escape", "q"]);
}

/// Peak resident memory of a process, in MiB (VmHWM).
fn peak_rss_mib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024)
}

struct HostileCase {
    name: &'static str,
    steps: Vec<common::Step>,
    /// Lines typed, each followed by a y to confirm a command the state does not allow.
    typed: &'static [&'static str],
    /// What the screen must show once the server is done.
    shows: &'static [&'static str],
}

/// Every hostile server of tests/hostile.rs (scaled for CI; scripts/hostile.sh has the full
/// sizes) against the real UI: it keeps answering keys while the server streams, shows what
/// happened, keeps its memory bounded, and gives the terminal back.
#[test]
fn the_ui_survives_every_hostile_server() {
    use common::Step;
    if !tmux_available() {
        return;
    }
    let b = |s: &str| s.as_bytes().to_vec();
    let greeting = || Step::Send(b("+OK ready\r\n"));
    // 78-octet lines, every tenth dot-stuffed: 64 MiB of body.
    let body_block: Vec<u8> = (0..10)
        .flat_map(|i| {
            let mut l = if i == 0 { b("..") } else { Vec::new() };
            l.resize(76, b'x');
            l.extend_from_slice(b"\r\n");
            l
        })
        .collect();
    let body_blocks = (64 << 20) / body_block.len();
    let listing: Vec<u8> = (1..=200_000)
        .flat_map(|i| format!("{i} 1000\r\n").into_bytes())
        .collect();
    let capa: Vec<u8> = (1..=20_000)
        .flat_map(|i| format!("X-CAP-{i}\r\n").into_bytes())
        .collect();
    let cases = vec![
        HostileCase {
            name: "a 64 MiB body",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send(b("+OK\r\n")),
                Step::Repeat(body_block.clone(), body_blocks),
                Step::Send(b(".\r\n")),
                Step::Sleep(3000),
            ],
            typed: &["RETR 1"],
            // 86,037 blocks of 10 lines, all counted, none left "receiving…".
            shows: &["▸ 860370 lines", "first 2000 kept"],
        },
        HostileCase {
            name: "a 16 MiB line without CRLF, then a close",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send(b("+OK\r\n")),
                Step::Repeat(b("x"), 16 << 20),
                Step::Close,
            ],
            typed: &["RETR 1"],
            shows: &["ML-001"],
        },
        HostileCase {
            name: "a LIST of 200,000 messages",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send([b("+OK 200000 messages\r\n"), listing, b(".\r\n")].concat()),
                Step::Sleep(3000),
            ],
            typed: &["LIST"],
            shows: &["200000 lines"],
        },
        HostileCase {
            name: "a CAPA of 20,000 lines",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send([b("+OK\r\n"), capa, b(".\r\n")].concat()),
                Step::Sleep(3000),
            ],
            typed: &["CAPA"],
            shows: &["20000 lines"],
        },
        HostileCase {
            name: "bytes before the greeting",
            steps: vec![
                Step::Send(b("\x16\x03\x01junk\r\n+OK ready\r\n")),
                Step::Sleep(3000),
            ],
            typed: &[],
            shows: &["GRT-002", "\\x16\\x03\\x01junk"],
        },
        HostileCase {
            name: "NUL and invalid UTF-8 in a status line",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send(b"+OK \x00\xff\xfe\r\n".to_vec()),
                Step::Sleep(3000),
            ],
            typed: &["NOOP"],
            shows: &["GEN-005", "\\x00\\xff\\xfe"],
        },
        HostileCase {
            name: "unsolicited data between replies",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send(b("+OK\r\n+OK surprise\r\n")),
                Step::ReadLine,
                Step::Send(b("+OK\r\n")),
                Step::Sleep(3000),
            ],
            // Held as a possible parting line until the next command shows it answered nothing.
            typed: &["NOOP", "NOOP"],
            shows: &["GEN-008"],
        },
        HostileCase {
            name: "a flood after QUIT",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send(b("+OK bye\r\n")),
                // Later than the reply: the UI must go on reading after QUIT.
                Step::Sleep(500),
                Step::Repeat(b("flood\r\n"), 200_000),
            ],
            typed: &["QUIT"],
            // 200 lines shown, the rest of the flood counted in one row.
            shows: &[
                "ST-007",
                "199800 more unsolicited lines (1398600 octets): counted, not shown",
            ],
        },
        HostileCase {
            name: "a parting line and a close while the user types nothing",
            steps: vec![
                greeting(),
                Step::Sleep(1500),
                Step::Send(b("-ERR autologout: idle too long\r\n")),
                Step::Close,
            ],
            typed: &[],
            shows: &["autologout: idle too long", "closed"],
        },
        HostileCase {
            name: "a close in the middle of a body",
            steps: vec![
                greeting(),
                Step::ReadLine,
                Step::Send(b("+OK\r\nSubject: cut\r\n\r\nhalf a mess")),
                Step::Close,
            ],
            typed: &["RETR 1"],
            shows: &["ML-001"],
        },
    ];
    for case in cases {
        let name = case.name;
        let port = common::scripted(case.steps);
        let t = Tmux::start(&format!("{} pop3://127.0.0.1:{port}", bin()), 200, 50);
        t.wait_for("┌ Transcript");
        for line in case.typed {
            t.line(line);
            std::thread::sleep(Duration::from_millis(200));
            if t.screen().contains("is not valid in") {
                t.keys(&["y"]);
            }
        }
        // Keys are answered while the server streams or after it gave up.
        let asked = Instant::now();
        t.keys(&["Escape", "?"]);
        t.wait_for("Esc, q or ? closes");
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "{name}: help took {:?}",
            asked.elapsed()
        );
        t.keys(&["Escape"]);
        for text in case.shows {
            let start = Instant::now();
            while !t.screen().contains(text) && start.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(100));
            }
            let screen = t.screen();
            assert!(
                screen.contains(text),
                "{name}: '{text}' not shown:\n{screen}"
            );
        }
        let mib = popscope_pid(&t)
            .and_then(|p| peak_rss_mib(&p))
            .unwrap_or_else(|| panic!("{name}: no popscope process to measure"));
        println!("{name}: peak RSS {mib} MiB");
        assert!(mib < 60, "{name}: peak RSS {mib} MiB");
        t.keys(&["Escape", "q"]);
        let start = Instant::now();
        while alternate_on(&t) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alternate_on(&t), "{name}: the terminal was not restored");
    }
}

#[test]
fn ctrl_c_during_a_huge_body_gives_the_terminal_back() {
    use common::Step;
    if !tmux_available() {
        return;
    }
    // 1 GiB of body: still streaming when Ctrl-C comes.
    let port = common::scripted(vec![
        Step::Send(b"+OK ready\r\n".to_vec()),
        Step::ReadLine,
        Step::Send(b"+OK\r\n".to_vec()),
        Step::Repeat([vec![b'x'; 76], b"\r\n".to_vec()].concat(), (1 << 30) / 78),
    ]);
    let t = Tmux::start(&format!("{} pop3://127.0.0.1:{port}", bin()), 120, 30);
    t.wait_for("┌ Transcript");
    t.line_confirmed("RETR 1");
    // The fold counts on past the lines it keeps while the body streams in.
    let start = Instant::now();
    let counted = |s: &str| {
        s.lines().any(|l| {
            l.contains("receiving…")
                && l.split_whitespace()
                    .skip_while(|w| *w != "▸")
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|n| n > 100_000)
        })
    };
    while !counted(&t.screen()) && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(counted(&t.screen()), "no progress shown:\n{}", t.screen());
    t.keys(&["C-c"]);
    let start = Instant::now();
    while alternate_on(&t) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alternate_on(&t), "the terminal was not restored");
    assert!(!t.screen().contains("┌ Transcript"));
}

/// The UI on the plaintext demo server at 110x32, waiting in AUTHORIZATION.
fn demo_ui(rt: &tokio::runtime::Runtime) -> (popscope::server::Running, Tmux) {
    let s = start(rt, TlsMode::None, None);
    let t = Tmux::start(&format!("{} {}", bin(), s.url()), 110, 32);
    t.wait_for("▶AUTHORIZATION");
    (s, t)
}

#[test]
fn esc_colon_and_tab_at_the_command_line() {
    if !tmux_available() {
        return;
    }
    let rt = runtime();
    let (_server, t) = demo_ui(&rt);
    // A half-completed line, then Esc: the line is dropped.
    t.text("US");
    t.keys(&["Tab"]);
    t.wait_for("› USER");
    t.keys(&["Escape"]);
    // ':' from the panels opens a colon command: `:help` shows the help, nothing is sent.
    t.keys(&[":"]);
    t.wait_for("› :");
    t.line("help");
    t.wait_for("Esc, q or ? closes");
    // Esc closes the help; the command line is where the colon command was typed, empty.
    t.keys(&["Escape"]);
    let screen = t.wait_for("enter send");
    assert!(
        !screen.contains("C: USER") && !screen.contains("C: help") && !screen.contains("C: :"),
        "something went to the server:\n{screen}"
    );
    assert!(
        screen.lines().any(|l| l.trim_end() == "›"),
        "the old line came back:\n{screen}"
    );
    // Tab on the empty command line leaves it for the transcript; shift-Tab comes back.
    t.keys(&["Tab"]);
    t.wait_for("up/down move");
    t.keys(&["BTab"]);
    t.wait_for("enter send");
    t.keys(&["BTab"]);
    t.wait_for("up/down scroll");
    t.keys(&["q"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !t.screen().contains("┌ Transcript"),
        "q did not quit:\n{}",
        t.screen()
    );
}

#[test]
fn a_sasl_response_typed_before_the_challenge_stays_secret() {
    use common::Step;
    if !tmux_available() {
        return;
    }
    let port = common::scripted(vec![
        Step::Send(b"+OK ready\r\n".to_vec()),
        Step::ReadLine,
        // The challenge is slow: the user types the response before it comes.
        Step::Sleep(2500),
        Step::Send(b"+ \r\n".to_vec()),
        Step::ReadLine,
        Step::Send(b"+OK logged in\r\n".to_vec()),
        Step::Sleep(5000),
    ]);
    let t = Tmux::start(&format!("{} pop3://127.0.0.1:{port}", bin()), 110, 32);
    t.wait_for("+OK ready");
    t.line("AUTH PLAIN");
    t.wait_for("C: AUTH PLAIN");
    let payload = "AGRlbW8AaHVudGVyMg==";
    t.text(payload);
    let screen = t.wait_for("SASL › ********************");
    assert!(!screen.contains(payload), "{screen}");
    t.keys(&["Enter"]);
    let screen = t.wait_for("+OK logged in");
    assert!(!screen.contains(payload), "{screen}");
    assert!(
        screen.contains("[SASL response, 20 octets, redacted]"),
        "{screen}"
    );
    let history = std::env::temp_dir()
        .join(&t.socket)
        .join("popscope/history");
    let kept = std::fs::read_to_string(&history).unwrap_or_default();
    assert!(
        kept.contains("AUTH PLAIN"),
        "history at {}: {kept:?}",
        history.display()
    );
    assert!(
        !kept.contains(payload),
        "the response is in the history: {kept:?}"
    );
    t.keys(&["C-c"]);
}

#[test]
fn the_clock_runs_on_after_reconnect() {
    if !tmux_available() {
        return;
    }
    let rt = runtime();
    let (_server, t) = demo_ui(&rt);
    std::thread::sleep(Duration::from_millis(1500));
    t.line(":reconnect");
    let seconds = |l: &str| -> Option<f64> {
        let before: Vec<char> = l.split(" ── connected to").next()?.chars().collect();
        let clock: String = before[before.len().checked_sub(12)?..].iter().collect();
        let mut p = clock.split(':');
        let (h, m, s) = (p.next()?, p.next()?, p.next()?);
        Some(
            h.parse::<f64>().ok()? * 3600.0
                + m.parse::<f64>().ok()? * 60.0
                + s.parse::<f64>().ok()?,
        )
    };
    let start = Instant::now();
    let times = loop {
        let screen = t.screen();
        let times: Vec<f64> = screen
            .lines()
            .filter(|l| l.contains("── connected to"))
            .filter_map(seconds)
            .collect();
        if times.len() >= 2 {
            break times;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no second connection:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Across midnight the clock wraps; otherwise the second connection is ≥ 1.5 s later.
    let later = (times[1] - times[0]).rem_euclid(86_400.0);
    assert!(
        (1.4..60.0).contains(&later),
        "connections at {times:?}:\n{}",
        t.screen()
    );
    t.keys(&["C-c"]);
}

/// `bytes` sent one at a time, 200 ms apart.
fn dripped(bytes: &[u8]) -> Vec<common::Step> {
    let each = |&b: &u8| [common::Step::Send(vec![b]), common::Step::Sleep(200)];
    bytes.iter().flat_map(each).collect()
}

/// The UI on a server playing `steps`, with --timeout 1.
fn ui_with_timeout_1(steps: Vec<common::Step>) -> Tmux {
    let port = common::scripted(steps);
    Tmux::start(
        &format!("{} pop3://127.0.0.1:{port} --timeout 1", bin()),
        200,
        30,
    )
}

/// A reply that drips past --timeout: the UI says the answer was not whole in time, and
/// what had arrived, instead of waiting as long as the drip lasts.
#[test]
fn a_dripping_reply_times_out_and_says_what_arrived() {
    if !tmux_available() {
        return;
    }
    use common::Step;
    let mut steps = vec![
        Step::Send(b"+OK ready\r\n".to_vec()),
        Step::ReadLine,
        Step::Send(b"+OK capa\r\n".to_vec()),
    ];
    steps.extend(dripped(&[b'X'; 100]));
    let t = ui_with_timeout_1(steps);
    t.wait_for("▶AUTHORIZATION");
    t.line("CAPA");
    let screen = t.wait_for("no complete answer within 1 s");
    assert!(
        screen.contains("waiting for the answer to CAPA")
            && screen.contains("octet(s) arrived, starting \"+OK capa\\r\\nX"),
        "{screen}"
    );
    t.keys(&["C-c"]);
}

/// A greeting that drips past --timeout, with a command typed while it dripped: the answer
/// to that command (not connected) still says why the session ended.
#[test]
fn a_command_typed_during_a_greeting_that_times_out_keeps_the_reason() {
    if !tmux_available() {
        return;
    }
    let t = ui_with_timeout_1(dripped(b"+OK slow greeting"));
    t.wait_for("▶greeting");
    t.line_confirmed("NOOP");
    let screen = t.wait_for(":reconnect to try again");
    assert!(screen.contains("no complete answer within 1 s"), "{screen}");
    t.keys(&["C-c"]);
}

#[test]
fn a_login_in_the_clear_is_said_in_the_transcript_before_it_happens() {
    if !tmux_available() {
        return;
    }
    let rt = runtime();
    let s = start(&rt, TlsMode::Starttls, None);
    let url = s.url().replace("pop3s://", "pop3://");
    let t = Tmux::start(
        &format!("env PW=demo {} {url} --user demo --password-env PW", bin()),
        140,
        32,
    );
    let screen = t.wait_for("▶TRANSACTION");
    assert!(
        screen.contains("warning: logging in on pop3://"),
        "no warning before the login:\n{screen}"
    );
    t.keys(&["C-c"]);
}

#[test]
fn a_record_write_error_is_shown_when_it_happens() {
    if !tmux_available() {
        return;
    }
    let rt = runtime();
    let s = start(&rt, TlsMode::None, None);
    let t = Tmux::start(
        &format!(
            "{} {} --record /dev/full --force; echo exit=$?",
            bin(),
            s.url()
        ),
        140,
        32,
    );
    t.wait_for("▶AUTHORIZATION");
    t.wait_for("warning: --record: cannot write /dev/full");
    t.keys(&["C-c"]);
    t.wait_for("exit=2");
}

/// A CAPA that never comes before the login: the UI stops before any credential is sent (the
/// login method, and whether the password would go in the clear, depend on that CAPA).
#[test]
fn no_credential_goes_out_when_capa_before_the_login_times_out() {
    use std::io::{BufRead, BufReader, Write};
    if !tmux_available() {
        return;
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        let Ok((s, _)) = l.accept() else { return };
        let mut w = s.try_clone().unwrap();
        let _ = w.write_all(b"+OK ready\r\n");
        // Never answers: every line is only noted.
        for line in BufReader::new(s).lines() {
            let Ok(line) = line else { return };
            seen.lock().unwrap().push(line);
        }
    });
    let t = Tmux::start(
        &format!(
            "PW=hunter2 {} pop3://127.0.0.1:{port} --user demo --password-env PW --timeout 1",
            bin()
        ),
        110,
        32,
    );
    t.wait_for("waiting for the answer to CAPA before the login");
    std::thread::sleep(Duration::from_millis(500));
    let lines = got.lock().unwrap().clone();
    assert_eq!(lines, vec!["CAPA".to_owned()], "{}", t.screen());
    t.keys(&["C-c"]);
}

/// `:auth oauthbearer` with the token from `--token-env`, against a server that refuses it
/// with an error challenge: popscope sends the dummy `AQ==`, the transcript says what the
/// challenge means and what the (JWT) token says of itself, and the token is never on screen.
#[test]
fn auth_oauthbearer_answers_an_error_challenge_and_never_shows_the_token() {
    use common::Step;
    use popscope_core::auth::b64encode;
    use popscope_core::oauth::{Mechanism, initial_response};
    if !tmux_available() {
        return;
    }
    let url = |s: &str| {
        b64encode(s.as_bytes())
            .trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_")
    };
    // Expired long ago, and issued for IMAP: both are said.
    let token = format!(
        "{}.{}.c2ln",
        url(r#"{"alg":"none"}"#),
        url(r#"{"exp":1,"scp":"IMAP.AccessAsUser.All"}"#)
    );
    let error = b64encode(
        br#"{"status":"invalid_token","scope":"https://outlook.office.com/POP.AccessAsUser.All"}"#,
    );
    let challenge = format!("+ {error}\r\n").into_bytes();
    let refused = b"-ERR Authentication failed\r\n".to_vec();
    let (port, heard) = common::scripted_heard(vec![
        Step::Send(b"+OK ready\r\n".to_vec()),
        Step::ReadLine,
        Step::Send(b"+OK\r\nSASL OAUTHBEARER XOAUTH2\r\nUSER\r\n.\r\n".to_vec()),
        // The login at start: the initial response fits on the AUTH line.
        Step::ReadLine,
        Step::Send(challenge.clone()),
        Step::ReadLine,
        Step::Send(refused.clone()),
        // `:auth oauthbearer two-line`.
        Step::ReadLine,
        Step::Send(b"+ \r\n".to_vec()),
        Step::ReadLine,
        Step::Send(challenge),
        Step::ReadLine,
        Step::Send(refused),
        Step::Sleep(10_000),
    ]);
    let t = Tmux::start(
        &format!(
            "POPSCOPE_TEST_TOKEN={token} {} pop3://127.0.0.1:{port} --user alice --token-env POPSCOPE_TEST_TOKEN",
            bin()
        ),
        200,
        40,
    );
    t.wait_for("-ERR Authentication failed");
    t.line(":auth oauthbearer two-line");
    let start = Instant::now();
    let screen = loop {
        let s = t.screen();
        if s.matches("-ERR Authentication failed").count() == 2 {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no second login:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let meaning = "status invalid_token: the token was refused; the server wants scope https://outlook.office.com/POP.AccessAsUser.All";
    assert_eq!(screen.matches(meaning).count(), 2, "{screen}");
    assert!(
        screen.contains("the token (a JWT, not verified): expired")
            && screen.contains("issued for IMAP.AccessAsUser.All, not POP"),
        "{screen}"
    );
    assert_eq!(screen.matches("C: AQ==").count(), 2, "{screen}");
    assert!(screen.contains("SASL OAUTHBEARER two-line"), "{screen}");
    assert!(screen.contains("AQ== → -ERR"), "{screen}");
    let ir = initial_response(
        Mechanism::OauthBearer,
        b"alice",
        b"127.0.0.1",
        port,
        token.as_bytes(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for secret in [&token[..], &token[token.len() - 20..], &ir[..], &ir[60..90]] {
        assert!(!screen.contains(secret), "{secret} on screen:\n{screen}");
    }
    let lines: Vec<String> = heard.try_iter().collect();
    let one_line = format!("AUTH OAUTHBEARER {}", &*ir);
    assert_eq!(
        lines,
        [
            "CAPA",
            &one_line[..],
            "AQ==",
            "AUTH OAUTHBEARER",
            &ir[..],
            "AQ=="
        ],
    );
    let history = std::env::temp_dir()
        .join(&t.socket)
        .join("popscope/history");
    let kept = std::fs::read_to_string(&history).unwrap_or_default();
    assert!(!kept.contains(&token[..20]), "{kept:?}");
    t.keys(&["C-c"]);
}
