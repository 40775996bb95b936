//! Where to connect: `pop3://host[:port]`, `pop3s://host[:port]`, or a bare host.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain TCP, port 110 (STLS upgrade with `--starttls`).
    Pop3,
    /// Implicit TLS, port 995 (RFC 8314).
    Pop3s,
}

impl Scheme {
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Pop3 => 110,
            Scheme::Pop3s => 995,
        }
    }
}

/// A parsed target. `scheme` is `None` for a bare host (`popscope check HOST` walks every
/// transport the host offers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub scheme: Option<Scheme>,
    /// Host name or IP literal, without brackets.
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, String> {
        let (scheme, rest) = if let Some(r) = s.strip_prefix("pop3://") {
            (Some(Scheme::Pop3), r)
        } else if let Some(r) = s.strip_prefix("pop3s://") {
            (Some(Scheme::Pop3s), r)
        } else if s.contains("://") {
            return Err(format!("'{s}': the scheme must be pop3:// or pop3s://"));
        } else {
            (None, s)
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('@') {
            return Err(format!(
                "'{s}': give only host and port (credentials go in --user)"
            ));
        }
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (h, after) = inner
                .split_once(']')
                .ok_or_else(|| format!("'{s}': an IPv6 literal needs a closing ']'"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(parse_port(p, s)?),
                None if after.is_empty() => None,
                None => return Err(format!("'{s}': unexpected text after ']'")),
            };
            (h.to_owned(), port)
        } else if rest.matches(':').count() > 1 {
            return Err(format!(
                "'{s}': write IPv6 addresses in brackets, e.g. pop3://[::1]:1110"
            ));
        } else if let Some((h, p)) = rest.split_once(':') {
            (h.to_owned(), Some(parse_port(p, s)?))
        } else {
            (rest.to_owned(), None)
        };
        if host.is_empty() {
            return Err(format!("'{s}': no host"));
        }
        Ok(Target { scheme, host, port })
    }

    pub(crate) fn port_or_default(&self, scheme: Scheme) -> u16 {
        self.port.unwrap_or(scheme.default_port())
    }

    /// `host:port` as the socket API takes it (IPv6 in brackets).
    pub(crate) fn socket_addr(&self, port: u16) -> String {
        if self.host.contains(':') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }

    /// The URL for a given scheme.
    pub fn url(&self, scheme: Scheme) -> String {
        let s = match scheme {
            Scheme::Pop3 => "pop3",
            Scheme::Pop3s => "pop3s",
        };
        format!("{s}://{}", self.socket_addr(self.port_or_default(scheme)))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scheme {
            Some(s) => f.write_str(&self.url(s)),
            None => f.write_str(&self.host),
        }
    }
}

fn parse_port(p: &str, whole: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("'{whole}': '{p}' is not a port number (1-65535)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = Target::parse("pop3://mail.example.net").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.scheme, t.host.as_str(), t.port),
            (Some(Scheme::Pop3), "mail.example.net", None)
        );
        assert_eq!(t.url(Scheme::Pop3), "pop3://mail.example.net:110");
        let t = Target::parse("pop3s://[::1]:1995").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.host.as_str(), t.port), ("::1", Some(1995)));
        assert_eq!(t.socket_addr(1995), "[::1]:1995");
        let t = Target::parse("127.0.0.1:1110").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.scheme, t.port), (None, Some(1110)));
        for bad in [
            "imap://x",
            "pop3://",
            "pop3://x:0",
            "pop3://x:http",
            "pop3://::1",
            "pop3://[::1",
            "pop3://u@x",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
