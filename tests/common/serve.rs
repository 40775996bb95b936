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
        let read = Banner::read(&mut banner);
        // The rest of the banner and the log are not read: a full pipe must not stop it.
        std::thread::spawn(move || std::io::copy(&mut banner, &mut std::io::sink()));
        Served {
            port: read.port(),
            ca: read.ca.unwrap_or_default(),
            child,
        }
    }
}

/// What `popscope serve` prints before it serves, up to its `Ctrl-C` line: the port on
/// 127.0.0.1 and the path of its CA certificate.
#[derive(Debug, Default)]
pub struct Banner {
    pub port: Option<u16>,
    pub ca: Option<String>,
}

impl Banner {
    /// Reads `from` up to the banner's last line (or its end), and no further.
    pub fn read(from: &mut impl BufRead) -> Banner {
        let mut banner = Banner::default();
        let mut line = String::new();
        while from.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(rest) = line.strip_prefix("listening on 127.0.0.1:") {
                banner.port = rest.split(' ').next().and_then(|p| p.trim().parse().ok());
            }
            if let Some(rest) = line.strip_prefix("CA certificate: ") {
                banner.ca = rest.split_whitespace().next().map(str::to_owned);
            }
            if line.starts_with("Ctrl-C") {
                break;
            }
            line.clear();
        }
        banner
    }

    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or_else(|| panic!("no port in the banner: {self:?}"))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
