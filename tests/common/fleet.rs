//! Helpers of the fleet tests (`check --targets`).

use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use popscope_core::server::{Login, QUIRKS, QuirkInfo, Transport};

/// How many connections a [`counting`] server had open at once, at most.
#[derive(Clone, Default)]
pub struct Peak {
    now: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Peak {
    pub fn get(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// `ports` minimal POP3 servers on loopback that share one count of the connections open at
/// once: each connection waits `hold_ms`, greets, answers QUIT with +OK and anything else
/// with -ERR.
pub fn counting(ports: usize, hold_ms: u64) -> (Vec<u16>, Peak) {
    let peak = Peak::default();
    let mut list = Vec::new();
    for _ in 0..ports {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        list.push(l.local_addr().map(|a| a.port()).unwrap_or(0));
        let peak = peak.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let peak = peak.clone();
                std::thread::spawn(move || {
                    // Counted from after the wait: a connection the client already closed may
                    // not have been seen to end yet when its next one comes (on a loaded
                    // machine), but it has by the time the next one has waited too.
                    std::thread::sleep(std::time::Duration::from_millis(hold_ms));
                    let open = peak.now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.peak.fetch_max(open, Ordering::SeqCst);
                    serve_minimal(s, 0);
                    peak.now.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
    }
    (list, peak)
}

fn serve_minimal(s: std::net::TcpStream, hold_ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(hold_ms));
    let Ok(read) = s.try_clone() else { return };
    let mut w = s;
    if w.write_all(b"+OK ready\r\n").is_err() {
        return;
    }
    for line in BufReader::new(read).lines() {
        let Ok(line) = line else { return };
        let quit = line.eq_ignore_ascii_case("QUIT");
        let reply: &[u8] = if quit { b"+OK bye\r\n" } else { b"-ERR no\r\n" };
        if w.write_all(reply).is_err() || quit {
            return;
        }
    }
}

/// A loopback port nothing listens on (bound, then let go).
pub fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    l.local_addr().map(|a| a.port()).unwrap_or(0)
}

/// The JSON Lines of a fleet run: the targets' objects, and the summary (the last line).
pub fn lines(o: &std::process::Output) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut all: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let summary = all.pop().unwrap_or_default();
    assert_eq!(summary["summary"], true, "the last line is the summary");
    assert!(all.iter().all(|v| v["summary"] != true), "one summary");
    (all, summary)
}

/// A file in the test's scratch folder with `text`, mode 0600.
pub fn private(name: &str, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = super::scratch_path(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

/// The first `n` quirks a plain pop3:// walk with the demo password shows (no TLS, no client
/// certificate, no extra commands, no injection probe): checkable in a fleet that shares no CA.
pub fn plain_quirks(n: usize) -> Vec<&'static QuirkInfo> {
    let rows: Vec<&QuirkInfo> = QUIRKS
        .iter()
        .filter(|r| {
            r.transport != Transport::Implicit
                && !r.behaviour.at_tls()
                && !r.client_cert
                && r.login == Login::Password
                && r.extra.is_empty()
                && !r.injection_probe
                && !r.name.starts_with("oauth-")
        })
        .take(n)
        .collect();
    assert_eq!(rows.len(), n, "{rows:?}");
    rows
}

/// A report's findings above info, as "RULE severity", over all its transports.
pub fn above_info(v: &serde_json::Value) -> Vec<String> {
    let mut found = Vec::new();
    let legs = v["transports"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![v.clone()]);
    for leg in legs {
        for f in leg["findings"].as_array().into_iter().flatten() {
            if f["severity"] != "info" {
                found.push(format!("{} {}", f["rule"], f["severity"]));
            }
        }
    }
    found
}

/// `check --targets TARGETS --credentials CREDS --json --injection-wait 0 EXTRA…`, with
/// `password` in `PW` (what the credentials files of the tests name).
pub fn check_targets(
    password: &str,
    targets: &str,
    creds: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "check",
        "--targets",
        targets,
        "--credentials",
        creds,
        "--json",
        "--injection-wait",
        "0",
    ];
    args.extend_from_slice(extra);
    super::popscope_with(password, &args)
}
