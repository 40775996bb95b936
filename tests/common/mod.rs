//! Helpers shared by the integration tests that run the demo server.

#![allow(dead_code)]

pub mod clients;
pub mod dovecot;
pub mod feed;
pub mod fleet;
pub mod pop_client;
pub mod proxy;
pub mod recording;
pub mod screen;
pub mod serve;
pub mod tmux;

use popscope::server::{self, Running, ServeOptions, TlsMode};
use popscope_core::server::Quirk;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// The demo server (user demo, password demo) on a free loopback port.
pub fn start(rt: &tokio::runtime::Runtime, tls: TlsMode, quirk: Option<Quirk>) -> Running {
    rt.block_on(server::start(ServeOptions {
        port: 0,
        tls,
        quirk,
        user: "demo".into(),
        password: "demo".into(),
    }))
    .unwrap_or_else(|e| panic!("demo server: {e}"))
}

/// The findings of a JSON report as sortable (rule, severity, exchange) triples, to compare a
/// live session with the re-check of its recording.
pub fn findings_of(v: &serde_json::Value) -> Vec<(String, String, u64)> {
    let mut f: Vec<(String, String, u64)> = v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_owned(),
                f["severity"].as_str().unwrap_or_default().to_owned(),
                f["exchange"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    f.sort();
    f
}

/// One step of a scripted server.
#[derive(Clone, Debug)]
pub enum Step {
    Send(Vec<u8>),
    /// The bytes `n` times, streamed (a large body costs the test no memory).
    Repeat(Vec<u8>, usize),
    /// Wait for the client's next line.
    ReadLine,
    Sleep(u64),
    /// Shut the connection down at once (mid-reply, say).
    Close,
    /// Drop the socket with the client's last line unread: the kernel answers with a TCP
    /// reset instead of a FIN (use after a command the script did not read).
    Reset,
}

/// A one-connection TCP server on loopback that plays `steps`, then closes. Returns its port.
pub fn scripted(steps: Vec<Step>) -> u16 {
    scripted_heard(steps).0
}

/// [`scripted`], and the lines it read (each [`Step::ReadLine`]'s, CRLF removed), in order.
pub fn scripted_heard(steps: Vec<Step>) -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    let (heard, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((s, _)) = l.accept() else { return };
        let mut reader = BufReader::new(s.try_clone().unwrap_or_else(|e| panic!("{e}")));
        let mut w = s;
        for step in steps {
            match step {
                Step::Send(b) => {
                    if w.write_all(&b).is_err() {
                        return;
                    }
                }
                Step::Repeat(b, n) => {
                    let block = b.repeat((1 << 16) / b.len().max(1) + 1);
                    let per = block.len() / b.len().max(1);
                    let mut left = n;
                    while left > 0 {
                        let k = left.min(per);
                        if w.write_all(&block[..k * b.len()]).is_err() {
                            return;
                        }
                        left -= k;
                    }
                }
                Step::ReadLine => {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let _ = heard.send(line.trim_end_matches(['\r', '\n']).to_owned());
                }
                Step::Sleep(ms) => std::thread::sleep(std::time::Duration::from_millis(ms)),
                Step::Close => {
                    let _ = w.shutdown(std::net::Shutdown::Both);
                    return;
                }
                Step::Reset => {
                    drop(reader);
                    drop(w);
                    return;
                }
            }
        }
    });
    (port, lines)
}

/// A server that accepts up to `connections` connections and never says a word.
pub fn silent(connections: usize) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        let _conns: Vec<_> = l.incoming().take(connections).collect();
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    port
}

/// The rule IDs of a JSON report's findings.
pub fn rule_ids(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["rule"].as_str().map(str::to_owned))
        .collect()
}

/// The popscope binary as a user runs it from the crate root, with `password` in both `PW` and
/// `DEMO_PW` (the variables the tests name in `--password-env`) and no TLS key log.
pub fn popscope_with(password: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_popscope"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PW", password)
        .env("DEMO_PW", password)
        // The demo server's bearer token, for `--token-env DEMO_TOKEN`.
        .env("DEMO_TOKEN", "demo-token")
        .env_remove("SSLKEYLOGFILE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run popscope: {e}"))
}

/// `popscope send URL --user demo --password-env PW ARGS…` (the demo server's and the test
/// Dovecot's user).
pub fn send_as_demo(url: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["send", url, "--user", "demo", "--password-env", "PW"];
    all.extend_from_slice(args);
    popscope(&all)
}

/// The JSON a run printed (Null when it printed none).
pub fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_default()
}

/// `popscope check --transcript FILE --json`: a recording re-checked offline.
pub fn recheck(file: &str) -> serde_json::Value {
    json(&popscope(&["check", "--transcript", file, "--json"]))
}

/// [`popscope_with`] the demo server's password.
pub fn popscope(args: &[&str]) -> std::process::Output {
    popscope_with("demo", args)
}

/// A path for one test's file in a folder made fresh for this test process (random name): a
/// file left by an earlier run with the same process id can never make `--record`, which
/// refuses to overwrite, fail the test.
pub fn scratch_path(name: &str) -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("popscope-test-")
            .tempdir()
            .map(tempfile::TempDir::keep)
            .unwrap_or_else(|e| panic!("a scratch folder: {e}"))
    })
    .join(name)
}
