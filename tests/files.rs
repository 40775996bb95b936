//! The files popscope writes (issue 11, items 3, 11 and 24): the demo's certificate folder is
//! private and goes away on every way out, `--record` and `:save` never overwrite or follow a
//! link and fail loudly, `demo --headless` keeps the exit-code contract.

use std::io::BufReader;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::popscope;
use common::serve::Banner;

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

fn stderr_line(o: &std::process::Output) -> String {
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(e.lines().count(), 1, "one line on stderr: {e:?}");
    e
}

fn kill(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(st.success());
}

fn wait_exit(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            return st;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("{what}: still running 10 s after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `popscope serve` with its own TMPDIR: the printed CA path is inside a fresh 0700 folder with
/// 0600 keys, and SIGTERM, SIGHUP and SIGINT each stop it with the folder removed.
#[test]
fn serve_removes_its_certificate_folder_on_every_signal() {
    for sig in ["TERM", "HUP", "INT"] {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_popscope"))
            .args(["serve", "--port", "0"])
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let banner = Banner::read(&mut BufReader::new(out));
        let ca = banner
            .ca
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("{sig}: no CA path printed"));
        let dir = ca.parent().unwrap_or_else(|| panic!("{}", ca.display()));
        assert_eq!(dir.parent(), Some(tmp.path()), "{}", ca.display());
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        assert!(
            !name.unwrap_or_default().contains(&child.id().to_string()),
            "the folder's name must not be guessable: {}",
            dir.display()
        );
        assert_eq!(mode(dir), 0o700, "{sig}");
        for f in ["ca.pem", "client-key.pem", "server-key.pem"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{sig}: {f}");
        }
        kill(child.id(), sig);
        let st = wait_exit(&mut child, sig);
        assert_eq!(
            st.code(),
            Some(0),
            "{sig}: stopping the server is its normal end"
        );
        assert!(!dir.exists(), "{sig}: {} was left behind", dir.display());
        assert!(
            entries(tmp.path()).is_empty(),
            "{sig}: {:?}",
            entries(tmp.path())
        );
    }
}

/// `demo --headless` cleans up at its normal end and when a signal stops it mid-walk.
#[test]
fn demo_headless_removes_its_folder_at_the_end_and_on_a_signal() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let o = Command::new(env!("CARGO_BIN_EXE_popscope"))
        .args(["demo", "--headless"])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(entries(tmp.path()).is_empty(), "{:?}", entries(tmp.path()));

    // This quirk's walk waits for injected replies (over half a second): time to be stopped.
    for (sig, code) in [("TERM", 143), ("INT", 130), ("HUP", 129)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_popscope"))
            .args(["demo", "--headless", "--quirk", "stls-command-injection"])
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let start = Instant::now();
        let dir = loop {
            if let Some(d) = entries(tmp.path()).into_iter().next() {
                break d;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{sig}: no folder appeared"
            );
            std::thread::sleep(Duration::from_millis(2));
        };
        // The files are written right after the folder is made: wait for the last one.
        while !dir.join("server-key.pem").exists() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(mode(&dir), 0o700);
        kill(child.id(), sig);
        let st = wait_exit(&mut child, sig);
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        assert_eq!(st.code(), Some(code), "{sig}: {err}");
        assert!(err.contains(&format!("SIG{sig}")), "{sig}: {err}");
        assert!(!dir.exists(), "{sig}: {} was left behind", dir.display());
    }
}

#[test]
fn write_certs_makes_private_keys_and_refuses_links_and_existing_files() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("certs");
    let d = dir.display().to_string();
    let o = popscope(&["serve", "--write-certs", &d]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in ["server-key.pem", "client-key.pem", "ca.pem"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    let ca = std::fs::read(dir.join("ca.pem")).unwrap_or_default();
    let o = popscope(&["serve", "--write-certs", &d]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("--force"));
    assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap_or_default(), ca);
    // A planted link: not followed, even with --force.
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious").unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(dir.join("server-key.pem")).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&victim, dir.join("server-key.pem"))
        .unwrap_or_else(|e| panic!("{e}"));
    let o = popscope(&["serve", "--write-certs", &d, "--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("symbolic link"));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap_or_default(),
        "precious"
    );

    let maildir = tmp.path().join("Maildir");
    let m = maildir.display().to_string();
    let o = popscope(&["serve", "--write-maildir", &m]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let files = entries(&maildir.join("cur"));
    assert!(!files.is_empty());
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    assert_eq!(mode(&maildir.join("cur")), 0o700);
    let o = popscope(&["serve", "--write-maildir", &m]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("--force"));
    let o = popscope(&["serve", "--write-maildir", &m, "--force"]);
    assert_eq!(o.status.code(), Some(0));
}

/// A refused target leaves nothing written: `--write-certs` into a folder holding one of its
/// files, `--write-maildir` with one message planted as a link, even with `--force`.
#[test]
fn a_refused_file_among_several_leaves_none_written() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("certs");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("client.pem"), "mine").unwrap_or_else(|e| panic!("{e}"));
    let o = popscope(&["serve", "--write-certs", &dir.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    let line = stderr_line(&o);
    assert!(
        line.contains("client.pem") && line.contains("--force"),
        "{line}"
    );
    assert_eq!(entries(&dir), vec![dir.join("client.pem")]);

    // A link among them, with --force: refused before anything is written.
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious").unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(dir.join("client.pem")).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&victim, dir.join("server.pem")).unwrap_or_else(|e| panic!("{e}"));
    let o = popscope(&[
        "serve",
        "--write-certs",
        &dir.display().to_string(),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("symbolic link"));
    assert_eq!(entries(&dir), vec![dir.join("server.pem")]);

    let maildir = tmp.path().join("Maildir");
    let m = maildir.display().to_string();
    assert_eq!(
        popscope(&["serve", "--write-maildir", &m]).status.code(),
        Some(0)
    );
    let mut files = entries(&maildir.join("cur"));
    files.sort();
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_default())
        .collect();
    for f in &files {
        std::fs::write(f, "edited").unwrap_or_else(|e| panic!("{e}"));
    }
    let last = files.last().unwrap_or_else(|| panic!("no messages"));
    std::fs::remove_file(last).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&victim, last).unwrap_or_else(|e| panic!("{e}"));
    let o = popscope(&["serve", "--write-maildir", &m, "--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("symbolic link"));
    for f in &files[..files.len() - 1] {
        assert_eq!(std::fs::read_to_string(f).unwrap_or_default(), "edited");
    }
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap_or_default(),
        "precious"
    );
    // With the link gone, --force writes them all again.
    std::fs::remove_file(last).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        popscope(&["serve", "--write-maildir", &m, "--force"])
            .status
            .code(),
        Some(0)
    );
    let after: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_default())
        .collect();
    assert_eq!(after, before);
}

/// `--record` against the demo server: a new file is 0600, an existing one is kept unless
/// `--force`, a link is never followed, and a write error (a full device) exits 2 in one line
/// after the report.
#[test]
fn record_files_are_private_never_clobbered_and_write_errors_exit_2() {
    let rt = common::runtime();
    let s = common::start(&rt, popscope::server::TlsMode::Starttls, None);
    let url = s.url();
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rec = tmp.path().join("r.jsonl");
    let r = rec.display().to_string();
    let o = popscope(&["send", &url, "NOOP", "--record", &r]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(mode(&rec), 0o600);
    let first = std::fs::read(&rec).unwrap_or_default();
    assert!(!first.is_empty());

    let o = popscope(&["send", &url, "NOOP", "--record", &r]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("--force"));
    assert_eq!(
        std::fs::read(&rec).unwrap_or_default(),
        first,
        "overwritten"
    );
    std::fs::set_permissions(&rec, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    let o = popscope(&["send", &url, "STAT", "--record", &r, "--force"]);
    assert_eq!(o.status.code(), Some(0));
    assert_ne!(std::fs::read(&rec).unwrap_or_default(), first);
    assert_eq!(mode(&rec), 0o600);

    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious").unwrap_or_else(|e| panic!("{e}"));
    let link = tmp.path().join("link.jsonl");
    std::os::unix::fs::symlink(&victim, &link).unwrap_or_else(|e| panic!("{e}"));
    let l = link.display().to_string();
    for args in [
        vec!["send", &url, "NOOP", "--record", &l, "--force"],
        vec!["check", &url, "--record", &l, "--force"],
    ] {
        let o = popscope(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr_line(&o).contains("symbolic link"), "{args:?}");
    }
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap_or_default(),
        "precious"
    );

    if Path::new("/dev/full").exists() {
        for args in [
            vec!["send", &url, "NOOP", "--record", "/dev/full", "--force"],
            vec!["check", &url, "--record", "/dev/full", "--force"],
        ] {
            let o = popscope(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}");
            let e = stderr_line(&o);
            assert!(e.contains("/dev/full") && e.contains("incomplete"), "{e}");
            // The session itself is not lost: the report was printed.
            assert!(!o.stdout.is_empty(), "{args:?}: no report");
        }
    }
}

/// Item 24: `demo --headless` follows the exit-code contract and rejects a broken theme.
#[test]
fn demo_headless_exit_codes_and_themes() {
    let o = popscope(&["demo", "--headless", "--quirk", "unstuffed-dots"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("ML-002"), "{out}");
    assert_eq!(o.status.code(), Some(1), "violations found: exit 1");
    let o = popscope(&["demo", "--headless"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    let o = popscope(&["demo", "--headless", "--theme", "nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("nosuch"));
    assert!(o.stdout.is_empty(), "nothing runs with a bad theme");
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let broken = tmp.path().join("broken.toml");
    std::fs::write(&broken, "[colours\nfg = ").unwrap_or_else(|e| panic!("{e}"));
    let b = broken.display().to_string();
    let o = popscope(&["demo", "--headless", "--theme", &b]);
    assert_eq!(o.status.code(), Some(2));
    stderr_line(&o);
}

/// The demo in the UI (tmux): `q` and a SIGINT from `kill` each end it with the folder gone.
#[test]
fn demo_ui_removes_its_folder_on_q_on_sigint_and_when_the_terminal_goes() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(std::env::var("CI").is_err(), "CI=true but tmux is missing");
        return;
    }
    // "hangup": the terminal itself goes away (a closed window, a killed tmux).
    for how in ["q", "INT", "hangup"] {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let socket = format!("popscope-files-{}-{how}", std::process::id());
        let tmux = |args: &[&str]| {
            Command::new("tmux")
                .args(["-L", &socket])
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("tmux: {e}"))
        };
        let cmd = format!(
            "env TMPDIR={t} HOME={t} XDG_DATA_HOME={t} XDG_CONFIG_HOME={t} TERM=xterm-256color {} demo; sleep 30",
            env!("CARGO_BIN_EXE_popscope"),
            t = tmp.path().display()
        );
        let st = tmux(&["new-session", "-d", "-x", "110", "-y", "32", &cmd]);
        assert!(st.status.success());
        let start = Instant::now();
        let screen = || {
            String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "0"]).stdout).into_owned()
        };
        while !screen().contains("demo server") {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{how}: no demo:\n{}",
                screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let dirs: Vec<PathBuf> = entries(tmp.path())
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("popscope-demo-"))
            })
            .collect();
        assert_eq!(dirs.len(), 1, "{how}: {dirs:?}");
        assert_eq!(mode(&dirs[0]), 0o700);
        if how == "q" {
            tmux(&["send-keys", "-t", "0", "Escape"]);
            std::thread::sleep(Duration::from_millis(100));
            tmux(&["send-keys", "-t", "0", "q"]);
        } else if how == "hangup" {
            tmux(&["kill-server"]);
        } else {
            let shell = String::from_utf8_lossy(
                &tmux(&["display-message", "-p", "-t", "0", "#{pane_pid}"]).stdout,
            )
            .trim()
            .to_owned();
            let pid = Command::new("pgrep")
                .args(["-P", &shell, "popscope"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            assert!(!pid.is_empty(), "no popscope process");
            kill(pid.parse().unwrap_or_else(|e| panic!("{pid}: {e}")), how);
        }
        let start = Instant::now();
        while dirs[0].exists() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let left = dirs[0].exists();
        let s = if how == "hangup" {
            String::new()
        } else {
            screen()
        };
        tmux(&["kill-server"]);
        assert!(!left, "{how}: {} was left behind:\n{s}", dirs[0].display());
        assert!(
            !s.contains("┌ Transcript"),
            "{how}: the UI is still on screen:\n{s}"
        );
    }
}

/// `:save FILE` keeps an existing file, `:save! FILE` replaces it (the UI's side).
#[test]
fn save_bang_asks_to_replace() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use popscope::tui::app::{Action, App};
    let theme = popscope::tui::Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
    let mut app = App::new("pop3://x".into(), theme, popscope::tui::keys::defaults());
    let mut run = |line: &str| {
        for c in line.chars() {
            app.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
    };
    assert_eq!(run(":save a.txt"), vec![Action::Save("a.txt".into())]);
    assert_eq!(
        run(":save! a.txt"),
        vec![Action::SaveReplace("a.txt".into())]
    );
    assert!(run(":save!").is_empty());
}

/// A history file that is a symbolic link is not written through, and the UI says so once, in
/// its message line; the next command is neither written nor announced again.
#[test]
fn a_symlinked_history_is_said_once_in_the_ui() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use popscope::tui::app::App;
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap_or_else(|e| panic!("{e}"));
    let history = tmp.path().join("history");
    std::os::unix::fs::symlink(&victim, &history).unwrap_or_else(|e| panic!("{e}"));
    let theme = popscope::tui::Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
    let mut app = App::new("pop3://x".into(), theme, popscope::tui::keys::defaults());
    // The App asks for the history line; the loop's half writes it.
    let mut local = popscope::tui::effects::Local::new(Some(history.clone()));
    let mut run = |app: &mut App, line: &str| {
        for c in line.chars() {
            app.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        local.carry_out(app);
    };
    run(&mut app, "NOOP");
    let want = format!(
        "history not saved: {} is a symbolic link",
        history.display()
    );
    assert_eq!(app.message, Some((want, true)));
    app.message = None;
    run(&mut app, "STAT");
    assert_eq!(app.message, None);
    assert_eq!(app.line.history, ["NOOP", "STAT"]);
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap_or_default(),
        "precious\n"
    );
}

/// `export R -o R --force` and `import X -o X --force` would replace their own input: refused
/// in one line, exit 2, the input unchanged, under its own name or a hard link to it.
#[test]
fn an_output_that_is_the_input_is_refused_even_with_force() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rec = tmp.path().join("new.jsonl");
    let lines = [
        serde_json::json!({"type":"header","format":1,"popscope":"0.1.0","target":"pop3://x","started":0.0,"secrets":"masked"}),
        serde_json::json!({"type":"data","t":0.001,"dir":"server","text":"+OK ready\r\n"}),
        serde_json::json!({"type":"data","t":0.002,"dir":"client","text":"QUIT\r\n"}),
        serde_json::json!({"type":"data","t":0.003,"dir":"server","text":"+OK bye\r\n"}),
    ];
    let body: String = lines.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(&rec, &body).unwrap_or_else(|e| panic!("{e}"));
    let r = rec.display().to_string();
    let twin = tmp.path().join("twin.jsonl");
    std::fs::hard_link(&rec, &twin).unwrap_or_else(|e| panic!("{e}"));
    let t = twin.display().to_string();
    for args in [
        vec!["export", &r, "--to", "text", "-o", &r, "--force"],
        vec!["export", &r, "--to", "bundle", "-o", &t, "--force"],
        vec!["import", "--from", "curl", &r, "-o", &r, "--force"],
    ] {
        let o = popscope(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr_line(&o).contains("is the input"), "{args:?}");
        assert_eq!(
            std::fs::read_to_string(&rec).unwrap_or_default(),
            body,
            "{args:?}"
        );
    }
    // Another file is fine.
    let out = tmp.path().join("out.txt");
    let o = popscope(&["export", &r, "-o", &out.display().to_string()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("QUIT")
    );
}

/// An unknown key in config.toml (`thme` for `theme`) is one line naming the file, the line
/// and the key, exit 2, before anything else happens.
#[test]
fn an_unknown_config_key_is_an_error_naming_file_line_and_key() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = tmp.path().join("popscope");
    std::fs::create_dir_all(&cfg).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        cfg.join("config.toml"),
        "confirm_dele = false\n\nthme = \"light\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let o = Command::new(env!("CARGO_BIN_EXE_popscope"))
        .arg("pop3://127.0.0.1:1")
        .env("XDG_CONFIG_HOME", tmp.path())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr_line(&o);
    assert!(
        err.contains("popscope/config.toml:3: 'thme': no such setting"),
        "{err}"
    );
}
