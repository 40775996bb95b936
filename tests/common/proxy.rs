//! `popscope proxy --headless --json` in front of a server, for tests that put a real client
//! on its client leg: the leg chosen by [`Leg`], the reports collected as they come.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How the client reaches the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leg {
    /// Plain TCP, no STLS on offer.
    Plain,
    /// Plain TCP with STLS offered by the proxy (`--offer-stls`).
    Stls,
    /// TLS from the first byte (`--listen pop3s://`).
    Pop3s,
}

/// The certificate the proxy shows clients on a TLS leg, and the CA they trust it by.
#[derive(Clone, Debug)]
pub struct Certs {
    pub cert: String,
    pub key: String,
    pub ca: String,
}

impl Certs {
    /// The files `popscope serve --write-certs DIR` writes (the demo's own certificates too).
    pub fn in_dir(dir: &std::path::Path) -> Certs {
        let file = |name: &str| dir.join(name).display().to_string();
        Certs {
            cert: file("server.pem"),
            key: file("server-key.pem"),
            ca: file("ca.pem"),
        }
    }
}

/// A `popscope proxy` started with `args` (and `env`), listening: its standard output read
/// line by line as it comes, what it said on stderr before it listened (warnings), and its
/// port. Killed when dropped.
pub struct Spawned {
    pub child: Child,
    pub port: u16,
    pub lines: mpsc::Receiver<String>,
    pub said: Vec<String>,
}

impl Spawned {
    pub fn new(args: &[&str], env: &[(&str, &str)]) -> Spawned {
        let mut child = Command::new(env!("CARGO_BIN_EXE_popscope"))
            .arg("proxy")
            .args(args)
            .env_remove("SSLKEYLOGFILE")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run popscope proxy: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // From here a failed assertion drops the proxy, and with it the process.
        let mut proxy = Spawned {
            child,
            port: 0,
            lines,
            said: Vec::new(),
        };
        let mut err = BufReader::new(stderr).lines().map_while(Result::ok);
        // "popscope proxy: listening on pop3://127.0.0.1:PORT, relaying to …"
        let said = &mut proxy.said;
        let port = err
            .by_ref()
            .find_map(|l| {
                let port = l
                    .split_once("listening on pop3")
                    .and_then(|(_, rest)| rest.split_once("://"))
                    .and_then(|(_, rest)| rest.split(',').next())
                    .and_then(|addr| addr.rsplit_once(':'))
                    .and_then(|(_, p)| p.parse().ok());
                if port.is_none() {
                    said.push(l);
                }
                port
            })
            .unwrap_or_else(|| panic!("the proxy did not say where it listens: {said:?}"));
        proxy.port = port;
        // Whatever else it says on stderr is read, so that it never blocks on a full pipe.
        std::thread::spawn(move || err.for_each(drop));
        proxy
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running proxy, killed when dropped.
pub struct ProxyProcess {
    proxy: Spawned,
    pub port: u16,
}

impl ProxyProcess {
    /// A proxy from a free loopback port to `upstream`, `extra` flags added (`--ca-file`).
    pub fn start(leg: Leg, certs: &Certs, upstream: &str, extra: &[&str]) -> ProxyProcess {
        let scheme = if leg == Leg::Pop3s { "pop3s" } else { "pop3" };
        let listen = format!("{scheme}://127.0.0.1:0");
        let mut args = vec!["--headless", "--json", "--timeout", "10"];
        args.extend(["--listen", &listen, "--upstream", upstream]);
        args.extend(extra);
        if leg != Leg::Plain {
            args.extend(["--cert", &certs.cert, "--key", &certs.key]);
        }
        if leg == Leg::Stls {
            args.push("--offer-stls");
        }
        let proxy = Spawned::new(&args, &[]);
        let port = proxy.port;
        ProxyProcess { proxy, port }
    }

    /// The reports of the connections that ended: the first waited for, then any that
    /// follow within a moment (a client may open more than one connection).
    pub fn reports(&self) -> Vec<serde_json::Value> {
        let mut all = Vec::new();
        let mut wait = Duration::from_secs(15);
        while let Ok(line) = self.proxy.lines.recv_timeout(wait) {
            all.push(
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")),
            );
            wait = Duration::from_millis(300);
        }
        all
    }
}
