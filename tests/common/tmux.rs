//! The real binary in tmux, as a person uses it: keys typed with send-keys, the screen read
//! with capture-pane (tests/tui_tmux.rs, tests/tui_proxy.rs).

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub fn tmux_available() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but tmux is missing: scripts/test.sh installs it"
        );
        eprintln!("tmux not installed: skipped");
    }
    ok
}

pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    pub fn start(cmd: &str, w: u16, h: u16) -> Tmux {
        // Tests run in parallel: each needs its own tmux server.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "popscope-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let home = std::env::temp_dir().join(&socket);
        let _ = std::fs::create_dir_all(&home);
        let full = format!(
            "env HOME={} XDG_DATA_HOME={} TERM=xterm-256color {cmd}; sleep 30",
            home.display(),
            home.display()
        );
        let st = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
                &full,
            ])
            .status()
            .unwrap_or_else(|e| panic!("tmux: {e}"));
        assert!(st.success());
        Tmux { socket }
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let _ = Command::new("tmux")
                .args(["-L", &self.socket, "send-keys", "-t", "0", k])
                .status();
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Types `text` as it is (no key names).
    pub fn text(&self, text: &str) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "0", "-l", text])
            .status();
    }

    pub fn line(&self, text: &str) {
        self.text(text);
        self.keys(&["Enter"]);
    }

    /// Types a command the UI asks about first (not valid in the state), and answers y.
    pub fn line_confirmed(&self, text: &str) {
        self.line(text);
        self.wait_for("is not valid in");
        self.keys(&["y"]);
    }

    pub fn screen(&self) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "0"])
            .output();
        o.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Waits until the screen shows `text` (or fails with the screen).
    pub fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "'{text}' never appeared:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}
