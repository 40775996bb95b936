//! `replay FILE --against URL`: what is sent to the other server (never a hidden DELE, never
//! QUIT after a failed RSET), and what is shown (sanitized, both servers' findings).

mod common;
use common::popscope;

use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};

/// A one-connection server that greets, answers each line with `answer(line)` and keeps
/// every line it received. QUIT is answered `+OK bye` and ends the connection.
fn server(answer: fn(&str) -> String) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        let Ok((s, _)) = l.accept() else { return };
        let mut r = BufReader::new(s.try_clone().unwrap_or_else(|e| panic!("{e}")));
        let mut w = s;
        let _ = w.write_all(b"+OK ready\r\n");
        loop {
            let mut line = Vec::new();
            if r.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if let Ok(mut g) = seen.lock() {
                g.push(line.clone());
            }
            let cmd = line.trim_end_matches(['\r', '\n']);
            if cmd.eq_ignore_ascii_case("QUIT") {
                let _ = w.write_all(b"+OK bye\r\n");
                return;
            }
            if w.write_all(answer(cmd).as_bytes()).is_err() {
                return;
            }
        }
    });
    (port, got)
}

fn recording(name: &str, text: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!(
        "popscope-against-{}-{name}.txt",
        std::process::id()
    ));
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
    p
}

/// What a replay printed, how it exited, and every line the server got.
struct Run {
    out: String,
    err: String,
    code: Option<i32>,
    got: Vec<String>,
    raw: Vec<u8>,
}

/// `popscope replay FILE --against` a [`server`] answering with `answer`, plus `extra`.
fn replay(name: &str, text: &str, answer: fn(&str) -> String, extra: &[&str]) -> Run {
    let file = recording(name, text);
    let (port, got) = server(answer);
    let url = format!("pop3://127.0.0.1:{port}");
    let mut args = vec![
        "replay",
        file.to_str().unwrap_or_default(),
        "--against",
        &url,
    ];
    args.extend_from_slice(extra);
    let o = popscope(&args);
    let _ = std::fs::remove_file(file);
    // The server thread notes the last line before the client has seen the reply.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let got = got.lock().map(|g| g.clone()).unwrap_or_default();
    Run {
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code(),
        got,
        raw: o.stdout,
    }
}

fn ok(_: &str) -> String {
    "+OK\r\n".into()
}

#[test]
fn hidden_deletes_are_never_replayed_and_the_command_column_is_sanitized() {
    let r = replay(
        "dele",
        "S: +OK hi\nC: USER demo\nS: +OK\nC: PASS demo\nS: +OK\n\
         C:  DELE 2\nS: +OK\nC: DELE\\t3\nS: +OK\nC: NOOP\\rDELE 4\nS: +OK\n\
         C: dele 5\nS: +OK\nC: NOOP\nS: +OK\nC: QUIT\nS: +OK bye\n",
        ok,
        &[],
    );
    let out = &r.out;
    assert_eq!(r.code, Some(0), "{out}{}", r.err);
    assert_eq!(r.got, vec!["NOOP\r\n", "QUIT\r\n"], "{out}");
    // No raw CR or TAB from the recording in the output.
    assert!(
        !r.raw.contains(&b'\r') && !r.raw.contains(&b'\t'),
        "{out:?}"
    );
    assert!(out.contains("DELE\\t3 (control characters)"), "{out}");
    assert!(out.contains("NOOP\\rDELE 4 (control characters)"), "{out}");
    assert!(out.contains(" DELE 2 (DELE needs --allow-delete)"), "{out}");
    assert!(out.contains("dele 5 (DELE needs --allow-delete)"), "{out}");
}

fn rset_fails(cmd: &str) -> String {
    if cmd.eq_ignore_ascii_case("RSET") {
        "-ERR cannot undo\r\n".into()
    } else {
        "+OK\r\n".into()
    }
}

const ONE_DELE: &str = "S: +OK hi\nC: DELE 1\nS: +OK deleted\nC: QUIT\nS: +OK bye\n";

#[test]
fn a_failed_rset_closes_without_quit() {
    let r = replay("rset", ONE_DELE, rset_fails, &["--allow-delete"]);
    let (out, err) = (&r.out, &r.err);
    assert_eq!(r.got, vec!["DELE 1\r\n", "RSET\r\n"], "{out}{err}");
    assert_eq!(r.code, Some(1), "{out}{err}");
    assert!(
        err.contains("RSET was answered \"-ERR cannot undo\""),
        "{err}"
    );
    assert!(err.contains("without QUIT"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(out.contains("without QUIT"), "{out}");
}

#[test]
fn a_good_rset_is_followed_by_quit() {
    let r = replay("rset-ok", ONE_DELE, ok, &["--allow-delete"]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    assert_eq!(r.got, vec!["DELE 1\r\n", "RSET\r\n", "QUIT\r\n"]);
}

fn bad_stat(cmd: &str) -> String {
    if cmd == "STAT" {
        "+OK two 320\r\n".into()
    } else {
        "+OK\r\n".into()
    }
}

#[test]
fn both_servers_findings_are_shown() {
    // The recorded server answered NOOP with a NUL (GEN-005); the new one gets STAT wrong.
    let r = replay(
        "findings",
        "S: +OK hi\nC: NOOP\nS: +OK \\x00\nC: STAT\nS: +OK 2 320\nC: QUIT\nS: +OK bye\n",
        bad_stat,
        &[],
    );
    let out = &r.out;
    assert!(
        out.lines()
            .any(|l| l.contains("GEN-005") && l.contains("only on the recorded server")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("MSG-001") && l.contains("only on the new server")),
        "{out}"
    );
    // Under the STAT row, the new server's finding in the right-hand column.
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("✖ MSG-001 STAT answered")),
        "{out}"
    );
    assert!(
        out.contains("findings: recorded server 2 violation(s)"),
        "{out}"
    );
    assert!(!r.raw.contains(&0), "{out:?}");
}

/// tmux on its own socket, killed when dropped.
struct Tmux(String);

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let o = std::process::Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .output();
        o.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The screen once it shows `text` (or after 10 s).
    fn wait_for(&self, text: &str) -> String {
        let t = std::time::Instant::now();
        loop {
            let s = self.run(&["capture-pane", "-p", "-t", "0"]);
            if s.contains(text) || t.elapsed().as_secs() > 10 {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// With a terminal, the comparison opens in a scrollable view with both servers' columns and
/// findings; leaving it keeps the verdict line in the shell.
#[test]
fn with_a_terminal_the_comparison_is_a_view() {
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        assert!(std::env::var("CI").is_err(), "CI=true but tmux is missing");
        return;
    }
    let file = recording(
        "tui",
        "S: +OK hi\nC: NOOP\nS: +OK \\x00\nC: STAT\nS: +OK 2 320\nC: RSET\nS: -ERR no\nC: QUIT\nS: +OK bye\n",
    );
    let (port, _) = server(bad_stat);
    let tmux = Tmux(format!("popscope-against-{}", std::process::id()));
    let home = std::env::temp_dir().join(&tmux.0);
    let _ = std::fs::create_dir_all(&home);
    let cmd = format!(
        "env HOME={h} XDG_CONFIG_HOME={h} TERM=xterm-256color {bin} replay {f} --against pop3://127.0.0.1:{port}; sleep 30",
        h = home.display(),
        bin = env!("CARGO_BIN_EXE_popscope"),
        f = file.display()
    );
    tmux.run(&["new-session", "-d", "-x", "160", "-y", "30", &cmd]);
    let screen = tmux.wait_for("findings:");
    assert!(
        screen.contains("replay --against pop3://127.0.0.1"),
        "{screen}"
    );
    assert!(
        screen
            .lines()
            .any(|l| l.contains("STAT") && l.contains("+OK 2 320") && l.contains("+OK two 320")),
        "{screen}"
    );
    assert!(
        screen.contains("✖ MSG-001 STAT answered \"+OK two 320\""),
        "{screen}"
    );
    assert!(screen.contains("q quit"), "{screen}");
    // The difference mark fits on the screen, at the end of its row.
    assert!(
        screen
            .lines()
            .any(|l| l.contains("RSET") && l.trim_end_matches(['│', ' ']).ends_with('≠')),
        "{screen}"
    );
    tmux.run(&["send-keys", "-t", "0", "q"]);
    let after = tmux.wait_for("difference(s) in status or shape");
    assert!(
        after.contains("1 difference(s) in status or shape"),
        "{after}"
    );
    assert!(!after.contains("q quit"), "{after}");
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_dir_all(home);
}

/// A damaged recording is replayed up to the damage, and the damage is said (exit 2).
#[test]
fn a_damaged_recording_is_said() {
    let (port, _) = server(ok);
    let rec = std::env::temp_dir().join(format!(
        "popscope-against-{}-damaged.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&rec);
    let o = popscope(&[
        "send",
        &format!("pop3://127.0.0.1:{port}"),
        "--record",
        rec.to_str().unwrap_or_default(),
        "NOOP",
    ]);
    // NOOP before a login is answered +OK: ST-001, exit 1.
    assert_eq!(o.status.code(), Some(1));
    let mut bytes = std::fs::read(&rec).unwrap_or_default();
    bytes.extend_from_slice(b"{\"t\":1.0,\"dir\":\"s\",\"te");
    std::fs::write(&rec, bytes).unwrap_or_default();
    let (port, got) = server(ok);
    let o = popscope(&[
        "replay",
        rec.to_str().unwrap_or_default(),
        "--against",
        &format!("pop3://127.0.0.1:{port}"),
    ]);
    let _ = std::fs::remove_file(&rec);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("everything before it was replayed"), "{err}");
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(
        got.lock()
            .map(|g| g.contains(&"NOOP\r\n".to_owned()))
            .unwrap_or(false)
    );
}

fn silent_dele(cmd: &str) -> String {
    if cmd.starts_with("DELE") {
        String::new()
    } else {
        "+OK\r\n".into()
    }
}

/// A replayed DELE left unanswered: the replay stops there, and neither RSET (its answer could
/// not be told from DELE's) nor QUIT (it would commit the deletion) is sent.
#[test]
fn a_timeout_after_dele_closes_without_quit() {
    let r = replay(
        "dele-timeout",
        "S: +OK hi\nC: DELE 1\nS: +OK\nC: NOOP\nS: +OK\n",
        silent_dele,
        &["--allow-delete", "--timeout", "1"],
    );
    assert_eq!(r.got, vec!["DELE 1\r\n"], "{}{}", r.out, r.err);
    assert_eq!(r.code, Some(1), "{}", r.err);
    assert!(
        r.out
            .contains("replay stopped: no whole answer to DELE 1 in time"),
        "{}",
        r.out
    );
    assert!(r.err.contains("closed without QUIT"), "{}", r.err);
}

fn silent_noop(cmd: &str) -> String {
    if cmd.starts_with("NOOP") {
        String::new()
    } else {
        "+OK\r\n".into()
    }
}

/// An answer that never comes stops the replay: what followed was never compared, so the run
/// is a failed connection (exit 3), not "0 differences".
#[test]
fn a_replay_cut_short_by_a_timeout_is_not_a_clean_comparison() {
    let r = replay(
        "noop-timeout",
        "S: +OK hi\nC: NOOP\nS: +OK\nC: STAT\nS: +OK 0 0\n",
        silent_noop,
        &["--timeout", "1"],
    );
    assert_eq!(r.code, Some(3), "{}{}", r.out, r.err);
    assert!(
        r.out
            .contains("replay stopped: no whole answer to NOOP in time"),
        "{}",
        r.out
    );
    assert!(r.err.contains("replay stopped"), "{}", r.err);
    assert!(!r.got.iter().any(|l| l.starts_with("STAT")), "{:?}", r.got);
}

#[test]
fn the_recorded_side_keeps_the_replay_clock_so_idle_rules_fire_as_in_check() {
    // An idle spell then a close: check --transcript finds TMO-001 on this recording, and so
    // must the recorded side of the comparison (it once ran every entry at time 0).
    let r = replay(
        "idle",
        "S: +OK ready\nC: USER alice\nS: +OK\nC: PASS secret\nS: +OK logged in\n\
         C: NOOP\nS: +OK\n-- idle 30\n-- closed\n",
        ok,
        &[],
    );
    assert!(
        r.out
            .lines()
            .any(|l| l.contains("TMO-001") && l.contains("only on the recorded server")),
        "{}{}",
        r.out,
        r.err
    );
}
