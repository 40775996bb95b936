//! `popscope proxy`'s connections view: rendered into ratatui's TestBackend (insta snapshots
//! of the table and of an opened connection, the keys), each connection fed through the
//! observer the proxy's hook gives it, as the relay feeds it; then the real binary in tmux,
//! a real client (curl) through it to the demo server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use popscope::transcript::text;
use popscope::tui::proxy::{Ending, Message, ProxyView, Template, draw};
use popscope::tui::{Theme, keys};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{Notify, mpsc};

mod common;
use common::tmux::{Tmux, tmux_available};

const UPSTREAM: &str = "pop3://mail.example.net:110";

fn template() -> Template {
    Template {
        upstream: UPSTREAM.into(),
        theme: Theme::load("dark").unwrap_or_else(|e| panic!("{e}")),
        keys: keys::defaults(),
        // 10:00:00: the transcript's clock, the same on every run.
        clock: || 36_000.0,
    }
}

/// The view, and what a connection's relay would hold: the hook's channel and wake-up.
struct Harness {
    view: ProxyView,
    template: Template,
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<Message>,
    changed: Arc<Notify>,
    start: Instant,
}

impl Harness {
    fn new() -> Harness {
        let template = template();
        let (tx, rx) = mpsc::unbounded_channel();
        Harness {
            view: ProxyView::new("pop3://127.0.0.1:1110".into(), &template),
            template,
            tx,
            rx,
            changed: Arc::new(Notify::new()),
            start: Instant::now(),
        }
    }

    fn at(&self, secs: f64) -> Instant {
        self.start + Duration::from_secs_f64(secs)
    }

    /// Connection `number` opens at `secs`, and the session in `trace` goes through it.
    fn connect(&mut self, number: u64, secs: f64, trace: &str) {
        let client = SocketAddr::from(([127, 0, 0, 1], 50_000 + number as u16));
        let mut observer = self
            .template
            .observer(number, client, &self.tx, &self.changed);
        while let Ok(m) = self.rx.try_recv() {
            self.view.apply(m, self.at(secs));
        }
        common::feed::feed_text(observer.as_mut(), trace, true);
    }

    fn end(&mut self, number: u64, secs: f64, error: Option<&str>) {
        let ending = Ending {
            number,
            error: error.map(str::to_owned),
            ..Ending::default()
        };
        self.view.apply(Message::Ended(ending), self.at(secs));
    }

    fn render(&self, w: u16, h: u16, secs: f64) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap_or_else(|e| panic!("{e}"));
        t.draw(|f| draw::draw(f, &self.view, self.at(secs)))
            .unwrap_or_else(|e| panic!("{e}"));
        common::screen::text_of(&t)
    }

    fn key(&mut self, c: KeyCode) -> bool {
        self.view.key(KeyEvent::new(c, KeyModifiers::NONE))
    }
}

/// The server accepts STAT before the login (ST-001), the client sends it (CL-002) and then
/// logs in in the clear.
const BOTH_SIDES: &str = "S: +OK POP3 ready\nC: STAT\nS: +OK 2 320\nC: USER alice\nS: +OK\n\
C: PASS secret\nS: +OK logged in\nC: QUIT\nS: +OK bye\n-- closed\n";

/// Still going: logged in, a listing.
const LIVE: &str = "S: +OK POP3 ready\nC: CAPA\nS: +OK\nS: USER\nS: UIDL\nS: .\n\
C: USER bob\nS: +OK\nC: PASS pw\nS: +OK 1 message\nC: LIST\nS: +OK\nS: 1 120\nS: .\n";

/// Three connections: one closed with findings on both sides, one whose upstream could not
/// be reached, one live.
fn three() -> Harness {
    let mut h = Harness::new();
    h.connect(1, 0.0, BOTH_SIDES);
    h.end(1, 2.4, None);
    h.connect(2, 3.0, "");
    h.end(
        2,
        3.1,
        Some("the server cannot be reached: connection refused (mail.example.net:110)"),
    );
    h.connect(3, 4.0, LIVE);
    h
}

#[test]
fn the_table_of_three_connections() {
    let h = three();
    let s = h.render(130, 12, 9.5);
    assert!(s.contains("3 connections, 1 live"), "{s}");
    let rows: Vec<&str> = s.lines().filter(|l| l.contains("127.0.0.1:5000")).collect();
    assert_eq!(rows.len(), 3, "{s}");
    // Newest last; the closed one reached UPDATE with findings on both sides.
    assert!(
        rows[0].contains("UPDATE") && rows[0].contains("closed"),
        "{s}"
    );
    assert!(rows[1].contains("error"), "{s}");
    assert!(
        rows[2].contains("TRANSACTION") && rows[2].contains("live"),
        "{s}"
    );
    assert!(rows[2].contains("5.5 s"), "a live one's duration runs: {s}");
    insta::assert_snapshot!("proxy_list_130x12", s);
}

/// The screen of connection `number` of [`three`], opened from the table with the keys.
fn opened(number: u64) -> String {
    let mut h = three();
    for _ in number..3 {
        h.key(KeyCode::Up);
    }
    h.key(KeyCode::Enter);
    assert_eq!(h.view.opened, Some(number));
    h.render(130, 32, 9.5)
}

#[test]
fn an_opened_connection_shows_the_session_with_each_findings_side() {
    let s = opened(1);
    assert!(s.contains("client CL-002"), "{s}");
    assert!(s.contains("server ST-001"), "{s}");
    assert!(s.contains("C: PASS ****"), "the password stays hidden: {s}");
    assert!(!s.contains("secret"), "{s}");
    assert!(s.contains("the server closed the connection"), "{s}");
    insta::assert_snapshot!("proxy_opened_130x32", s);
}

#[test]
fn a_connection_that_never_reached_the_upstream_says_why() {
    let s = opened(2);
    assert!(
        s.contains("nothing relayed: the server cannot be reached"),
        "{s}"
    );
    assert!(s.contains("error     the server cannot be reached"), "{s}");
}

#[test]
fn enter_opens_esc_returns_and_the_selection_follows_the_newest() {
    let mut h = three();
    assert_eq!(h.view.connections.selected(), 2, "the newest is selected");
    h.key(KeyCode::Enter);
    assert_eq!(h.view.opened, Some(3));
    // A connection's view updates while it runs: the engine's events go on arriving.
    h.key(KeyCode::Esc);
    assert_eq!(h.view.opened, None);
    h.connect(4, 6.0, "S: +OK hi\n");
    assert_eq!(h.view.connections.selected(), 3, "the selection follows");
    h.key(KeyCode::Char('k'));
    h.connect(5, 7.0, "S: +OK hi\n");
    assert_eq!(
        h.view.connections.selected(),
        2,
        "moved by the user: it stays"
    );
    h.key(KeyCode::Char('G'));
    h.connect(6, 8.0, "S: +OK hi\n");
    assert_eq!(
        h.view.connections.selected(),
        5,
        "on the newest: it follows"
    );
    // Esc in a finding's detail closes the detail, not the connection.
    h.key(KeyCode::Char('g'));
    h.key(KeyCode::Enter);
    h.key(KeyCode::Tab);
    h.key(KeyCode::Enter);
    assert!(h.render(130, 32, 9.5).contains("┌ Finding"));
    h.key(KeyCode::Esc);
    assert_eq!(h.view.opened, Some(1));
    h.key(KeyCode::Char('q'));
    assert_eq!(h.view.opened, None, "q in a connection goes back");
}

#[test]
fn q_asks_first_while_connections_are_live() {
    let mut h = three();
    assert!(!h.key(KeyCode::Char('q')), "a live connection: asked first");
    assert!(
        h.render(130, 20, 9.5)
            .contains("1 connection is still live")
    );
    assert!(!h.key(KeyCode::Char('n')), "any other key stays");
    h.key(KeyCode::Char('q'));
    assert!(h.key(KeyCode::Char('y')), "y quits");
    let mut idle = Harness::new();
    idle.connect(1, 0.0, BOTH_SIDES);
    idle.end(1, 1.0, None);
    assert!(
        idle.key(KeyCode::Char('q')),
        "nothing live: q quits at once"
    );
    assert!(!Harness::new().key(KeyCode::Char('?')), "? is help");
}

#[test]
fn a_live_connection_updates_its_view_as_it_runs() {
    let mut h = Harness::new();
    let client = SocketAddr::from(([127, 0, 0, 1], 50_001));
    let mut observer = h.template.observer(1, client, &h.tx, &h.changed);
    while let Ok(m) = h.rx.try_recv() {
        h.view.apply(m, h.start);
    }
    h.key(KeyCode::Enter);
    let entries = text::parse(LIVE.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    common::feed::feed(observer.as_mut(), &entries[..2], true);
    let before = h.render(130, 32, 1.0);
    assert!(
        before.contains("C: CAPA") && !before.contains("C: LIST"),
        "{before}"
    );
    common::feed::feed(observer.as_mut(), &entries, true);
    let after = h.render(130, 32, 2.0);
    assert!(after.contains("C: LIST"), "{after}");
}

#[test]
fn hostile_bytes_are_shown_escaped_never_obeyed() {
    let mut h = Harness::new();
    h.connect(1, 0.0, "S: +OK \x1b]0;owned\x07 ready\nC: NOOP\x1b[2J\n");
    h.end(1, 1.0, Some("upstream said \x1b[31mred"));
    h.key(KeyCode::Enter);
    let s = h.render(130, 32, 2.0);
    common::screen::assert_escaped(&s);
    assert!(s.contains("\\x1b]0;owned"), "{s}");
    assert!(s.contains("upstream said \\x1b[31mred"), "{s}");
}

#[test]
fn through_the_real_binary_curl_shows_up_and_opens() {
    if !tmux_available() {
        return;
    }
    let rt = common::runtime();
    let server = common::start(&rt, popscope::server::TlsMode::None, None);
    let t = Tmux::start(
        &format!(
            "{} proxy --listen pop3://127.0.0.1:0 --upstream {}",
            env!("CARGO_BIN_EXE_popscope"),
            server.url()
        ),
        120,
        32,
    );
    let screen = t.wait_for("no connection yet");
    let port = screen
        .split("pop3://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no port on screen:\n{screen}"));
    let fetched = std::process::Command::new("curl")
        .args(["-s", "--max-time", "10", "--user", "demo:demo"])
        .arg(format!("pop3://127.0.0.1:{port}/1"))
        .output()
        .unwrap_or_else(|e| panic!("curl: {e}"));
    assert!(
        String::from_utf8_lossy(&fetched.stdout).contains("Subject: Welcome to popscope"),
        "curl fetched the message through the proxy"
    );
    let list = t.wait_for("closed");
    assert!(
        list.contains("1 connection, 0 live") && list.contains("UPDATE"),
        "{list}"
    );
    t.keys(&["Enter"]);
    let opened = t.wait_for("C: RETR 1");
    assert!(opened.contains("connection 1"), "{opened}");
    assert!(
        opened.contains("[SASL response"),
        "curl's login stays hidden: {opened}"
    );
    t.keys(&["Escape"]);
    t.wait_for("enter open");
    // Nothing live: q quits, and the terminal is the shell's again.
    t.keys(&["q"]);
    t.wait_for("relaying to");
}

#[test]
fn a_long_hostile_session_stays_bounded_in_its_view() {
    use popscope::tui::proxy::watch::{CONNECTION_FINDINGS, CONNECTION_ROWS};
    let mut h = Harness::new();
    // Commands no RFC defines, each accepted: a finding every time, two rows each.
    let mut trace = String::from("S: +OK POP3 ready\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\n");
    let exchanges = CONNECTION_ROWS / 2 + 1000;
    for _ in 0..exchanges {
        trace.push_str("C: XFOO\nS: +OK\n");
    }
    trace.push_str("C: NOOP\nS: +OK the last one\n");
    h.connect(1, 0.0, &trace);
    let c = h
        .view
        .connections
        .get(0)
        .unwrap_or_else(|| panic!("no row"));
    let seen = c.seen.lock();
    assert!(
        seen.app.transcript.len() <= CONNECTION_ROWS,
        "{}",
        seen.app.transcript.len()
    );
    assert_eq!(seen.app.findings.list.len(), CONNECTION_FINDINGS);
    let counted = seen.client.violation
        + seen.client.warning
        + seen.client.info
        + seen.server.violation
        + seen.server.warning
        + seen.server.info;
    assert!(
        counted > CONNECTION_FINDINGS,
        "every finding is counted: {counted}"
    );
    assert_eq!(seen.left_out, counted - CONNECTION_FINDINGS);
    drop(seen);
    h.key(KeyCode::Enter);
    let s = h.render(130, 32, 1.0);
    assert!(
        s.contains("S: +OK the last one"),
        "the newest rows stay: {s}"
    );
    assert!(s.contains("more counted, not listed"), "{s}");
}

#[test]
fn without_a_terminal_the_proxy_prints_its_reports_as_headless() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    // Nothing listens on port 1: the connection ends at once, with its report.
    let mut child = Command::new(env!("CARGO_BIN_EXE_popscope"))
        .args(["proxy", "--listen", "pop3://127.0.0.1:0"])
        .args(["--upstream", "pop3://127.0.0.1:1", "--connect-timeout", "5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let _child = Killed(child);
    let listening = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"))
        .unwrap_or_else(|| panic!("it never said where it listens"));
    let port = listening
        .split("pop3://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("{listening}"));
    let mut client =
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    let mut said = String::new();
    let _ = client.read_to_string(&mut said);
    assert!(said.starts_with("-ERR popscope proxy"), "{said}");
    let report = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .next()
        .unwrap_or_default();
    assert!(
        report.starts_with("connection 1 from 127.0.0.1:"),
        "{report}"
    );
}
