//! `popscope serve` as its own process, for what only the command line reaches (the client
//! cases of `--quirk`): its port and CA read from the banner, killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Served {
    pub port: u16,
    pub ca: String,
    child: Child,
}

impl Served {
    pub fn start(args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_popscope"))
            .args(["serve", "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("popscope serve: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut banner = BufReader::new(stdout);
        let (mut port, mut ca) = (None, String::new());
        let mut line = String::new();
        while banner.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(rest) = line.strip_prefix("listening on 127.0.0.1:") {
                port = rest.split(' ').next().and_then(|p| p.parse().ok());
            }
            if let Some(rest) = line.strip_prefix("CA certificate: ") {
                ca = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
            if line.starts_with("Ctrl-C") {
                break;
            }
            line.clear();
        }
        // The rest of the banner and the log are not read: a full pipe must not stop it.
        std::thread::spawn(move || std::io::copy(&mut banner, &mut std::io::sink()));
        Served {
            port: port.unwrap_or_else(|| panic!("no port in the banner")),
            ca,
            child,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
