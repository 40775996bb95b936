//! The target file of `check --targets`: one target a line (`pop3://…`, `pop3s://…`, a bare
//! `host[:port]`, each optionally followed by `--starttls`, `--sni NAME`, `--user NAME`),
//! `# comments`, blank lines, and nmap's greppable output (`-oG`), whose open POP3 ports are
//! each a target. The file is hostile input: it is read a line at a time, each line at most
//! [`MAX_LINE`] octets, and every error is one line that names the line.

use std::io::BufRead;

use crate::transport::{Scheme, Target};

/// The longest line read: a target with its options fits many times over, and a file with no
/// newline cannot make popscope hold more.
pub const MAX_LINE: usize = 4096;

/// One target of the file, with the options its line gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetTarget {
    /// Its line in the file (from 1).
    pub line: usize,
    /// The target as the line wrote it (URL or host, no options), sanitized.
    pub shown: String,
    pub target: Target,
    pub starttls: bool,
    pub sni: Option<String>,
    pub user: Option<String>,
}

/// A line of the target file that is not a target, comment or nmap record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} line {line}: {message}")]
pub struct TargetsError {
    pub source_name: String,
    pub line: usize,
    pub message: String,
}

/// Which targets a machine keeps of a list split `n` ways: the `k`-th of every `n`, counted
/// over the targets in file order (comments and nmap's closed ports do not count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    k: usize,
    n: usize,
}

impl Shard {
    pub const ALL: Shard = Shard { k: 1, n: 1 };

    /// `K/N` with 1 <= K <= N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard '{s}': give K/N with 1 <= K <= N, e.g. 2/8");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: usize = k.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }

    /// Whether the target at `index` (from 0, in file order) is this shard's.
    pub fn keeps(self, index: usize) -> bool {
        index % self.n == self.k - 1
    }
}

/// The targets of a file, in file order, read as they are asked for (the file is never held
/// whole). After an error it yields nothing more.
pub struct Targets<R> {
    reader: R,
    source_name: String,
    line: usize,
    shard: Shard,
    /// Targets seen so far, kept or not: what `--shard` counts.
    seen: usize,
    /// The targets of the current line not yet yielded (an nmap line may have several).
    pending: std::vec::IntoIter<FleetTarget>,
    done: bool,
    buf: Vec<u8>,
}

impl<R: BufRead> Targets<R> {
    /// `source_name` names the file in errors (`-` for standard input).
    pub fn new(reader: R, source_name: &str, shard: Shard) -> Targets<R> {
        Targets {
            reader,
            source_name: popscope_core::sanitize::display(source_name.as_bytes(), 120),
            line: 0,
            shard,
            seen: 0,
            pending: Vec::new().into_iter(),
            done: false,
            buf: Vec::with_capacity(256),
        }
    }

    fn error(&mut self, message: String) -> TargetsError {
        self.done = true;
        TargetsError {
            source_name: self.source_name.clone(),
            line: self.line,
            message,
        }
    }

    /// The next line, at most [`MAX_LINE`] octets, without its line end; None at the end.
    fn next_line(&mut self) -> Result<Option<String>, TargetsError> {
        self.buf.clear();
        self.line += 1;
        let limit = MAX_LINE as u64 + 1;
        let read = std::io::Read::take(&mut self.reader, limit).read_until(b'\n', &mut self.buf);
        match read {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) => return Err(self.error(format!("cannot read: {e}"))),
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        } else if self.buf.len() > MAX_LINE {
            return Err(self.error(format!("longer than {MAX_LINE} octets")));
        }
        match std::str::from_utf8(&self.buf) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(self.error("not UTF-8".into())),
        }
    }
}

impl<R: BufRead> Iterator for Targets<R> {
    type Item = Result<FleetTarget, TargetsError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            for t in self.pending.by_ref() {
                let index = self.seen;
                self.seen += 1;
                if self.shard.keeps(index) {
                    return Some(Ok(t));
                }
            }
            if self.done {
                return None;
            }
            let text = match self.next_line() {
                Ok(Some(text)) => text,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => return Some(Err(e)),
            };
            match parse_line(&text, self.line) {
                Ok(targets) => self.pending = targets.into_iter(),
                Err(message) => return Some(Err(self.error(message))),
            }
        }
    }
}

/// The targets one line gives: none for a blank line or a comment, one for a target line, one
/// per open POP3 port for an nmap `Host:` line.
pub fn parse_line(text: &str, line: usize) -> Result<Vec<FleetTarget>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(Vec::new());
    }
    if let Some(record) = trimmed.strip_prefix("Host:") {
        return nmap_line(record, line);
    }
    target_line(trimmed, line).map(|t| vec![t])
}

/// `URL-or-host [--starttls] [--sni NAME] [--user NAME]`.
fn target_line(text: &str, line: usize) -> Result<FleetTarget, String> {
    // Tabs separate words; anything else a terminal would act on or hide (an escape, a bidi
    // override) has no place in a host, a name or a user, which errors and outputs quote.
    if !popscope_core::sanitize::is_clean(&text.replace('\t', " ")) {
        return Err(format!(
            "'{}': a control, invisible or reordering character has no place in a target",
            popscope_core::sanitize::display(text.as_bytes(), 80)
        ));
    }
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or_default();
    let shown = popscope_core::sanitize::display(first.as_bytes(), 200);
    // Its message quotes the line: shown back, so sanitized like the line itself.
    let target =
        Target::parse(first).map_err(|e| popscope_core::sanitize::display(e.as_bytes(), 300))?;
    let mut t = FleetTarget {
        line,
        shown,
        target,
        starttls: false,
        sni: None,
        user: None,
    };
    while let Some(word) = words.next() {
        let shown = popscope_core::sanitize::display(word.as_bytes(), 60);
        let mut value = |name: &str| {
            words
                .next()
                .map(str::to_owned)
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match word {
            "--starttls" if t.starttls => return Err("--starttls given twice".into()),
            "--starttls" => t.starttls = true,
            "--sni" if t.sni.is_some() => return Err("--sni given twice".into()),
            "--sni" => t.sni = Some(value("--sni")?),
            "--user" if t.user.is_some() => return Err("--user given twice".into()),
            "--user" => t.user = Some(value("--user")?),
            "--password" | "--password-env" | "--password-file" | "--token-env"
            | "--token-file" | "--token-command" => {
                return Err(format!(
                    "'{shown}': secrets never come from the target file (use --credentials FILE)"
                ));
            }
            _ => {
                return Err(format!(
                    "'{shown}': not a target option (--starttls, --sni NAME, --user NAME)"
                ));
            }
        }
    }
    if t.starttls && t.target.scheme != Some(Scheme::Pop3) {
        return Err("--starttls needs a pop3:// URL (a bare host tries STLS by itself)".into());
    }
    if t.sni.is_some() && t.target.scheme == Some(Scheme::Pop3) && !t.starttls {
        return Err("--sni needs TLS: pop3s://, --starttls, or a bare host".into());
    }
    Ok(t)
}

/// nmap's greppable record after `Host:`: `IP (name)<TAB>Ports: 110/open/tcp//pop3///, …`.
/// Each open TCP port whose service is POP3 (or, unnamed, 110 or 995) is a target: pop3s://
/// for `pop3s`, `ssl|pop3` and 995, pop3:// otherwise. The IP is checked, not the reverse name.
fn nmap_line(record: &str, line: usize) -> Result<Vec<FleetTarget>, String> {
    let mut fields = record.split('\t');
    let host_field = fields.next().unwrap_or_default().trim();
    let ip = host_field.split_whitespace().next().unwrap_or_default();
    if ip.is_empty() {
        return Err("an nmap Host: line without an address".into());
    }
    if ip.contains(['/', '@', '[', ']']) || !popscope_core::sanitize::is_clean(ip) {
        return Err(format!(
            "'{}': not an address",
            popscope_core::sanitize::display(ip.as_bytes(), 60)
        ));
    }
    let Some(ports) = fields.find_map(|f| f.trim().strip_prefix("Ports:")) else {
        // `Status: Up` and the like: nothing to check.
        return Ok(Vec::new());
    };
    let mut targets = Vec::new();
    for entry in ports.split(',') {
        let parts: Vec<&str> = entry.trim().split('/').collect();
        let [port, state, proto, _owner, service, ..] = parts.as_slice() else {
            return Err(format!(
                "'{}': not an nmap port entry (port/state/protocol/owner/service/…)",
                popscope_core::sanitize::display(entry.trim().as_bytes(), 60)
            ));
        };
        let port: u16 = port
            .parse()
            .map_err(|_| format!("nmap port '{}' is not a port", port.escape_debug()))?;
        if *state != "open" || *proto != "tcp" {
            continue;
        }
        // An unnamed service is taken for POP3 on POP3's own ports.
        let scheme = match *service {
            "pop3s" | "ssl|pop3" | "ssl|pop3s" => Scheme::Pop3s,
            "pop3" => Scheme::Pop3,
            "" if port == Scheme::Pop3s.default_port() => Scheme::Pop3s,
            "" if port == Scheme::Pop3.default_port() => Scheme::Pop3,
            _ => continue,
        };
        let target = Target {
            scheme: Some(scheme),
            host: ip.to_owned(),
            port: Some(port),
        };
        targets.push(FleetTarget {
            line,
            shown: popscope_core::sanitize::display(target.url(scheme).as_bytes(), 200),
            target,
            starttls: false,
            sni: None,
            user: None,
        });
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, shard: Shard) -> Vec<Result<FleetTarget, TargetsError>> {
        Targets::new(text.as_bytes(), "t.txt", shard).collect()
    }

    fn shown(text: &str) -> Vec<String> {
        all(text, Shard::ALL)
            .into_iter()
            .map(|r| r.map(|t| t.shown).unwrap_or_else(|e| format!("ERR {e}")))
            .collect()
    }

    #[test]
    fn urls_hosts_comments_and_blank_lines() {
        let text = "# the fleet\n\npop3://a.example:1110\npop3s://b.example\r\n  c.example:2110  \n[::1]:110\n";
        assert_eq!(
            shown(text),
            [
                "pop3://a.example:1110",
                "pop3s://b.example",
                "c.example:2110",
                "[::1]:110"
            ]
        );
        let t: Vec<FleetTarget> = all(text, Shard::ALL).into_iter().flatten().collect();
        assert_eq!(t[0].line, 3);
        assert_eq!(t[0].target.scheme, Some(Scheme::Pop3));
        assert_eq!(t[2].target.scheme, None);
        assert_eq!(t[2].target.port, Some(2110));
        assert_eq!(t[3].target.host, "::1");
    }

    #[test]
    fn per_target_options() {
        let t = parse_line(
            "pop3://h:1110 --starttls --sni mail.example --user alice",
            7,
        )
        .unwrap_or_default();
        assert_eq!(t.len(), 1);
        assert!(t[0].starttls);
        assert_eq!(t[0].sni.as_deref(), Some("mail.example"));
        assert_eq!(t[0].user.as_deref(), Some("alice"));
        assert_eq!(t[0].line, 7);
    }

    #[test]
    fn a_bad_line_is_one_error_naming_the_line_and_ends_the_file() {
        for (line, says) in [
            ("pop3://h --frobnicate", "not a target option"),
            ("pop3://h --user", "--user needs a value"),
            (
                "pop3://h --password-env PW",
                "never come from the target file",
            ),
            ("pop3://h --user a --user b", "given twice"),
            ("pop3s://h --starttls", "--starttls needs a pop3:// URL"),
            ("pop3://h --sni x", "--sni needs TLS"),
            ("imap://h", "pop3:// or pop3s://"),
            ("pop3://h:99999", ""),
            ("pop3://user@h", "credentials"),
            (
                "pop3://h\u{1b}[2J",
                "a control, invisible or reordering character",
            ),
            (
                "pop3://h\u{202e}x",
                "a control, invisible or reordering character",
            ),
            (
                "pop3://h --user a\u{200b}b",
                "a control, invisible or reordering character",
            ),
            ("pop3://h\u{e9}\u{301}x@y", "credentials"),
        ] {
            let text = format!("pop3://ok\n{line}\npop3://never\n");
            let got = all(&text, Shard::ALL);
            assert_eq!(got.len(), 2, "{line}: {got:?}");
            let Err(e) = &got[1] else {
                panic!("{line}: accepted")
            };
            assert_eq!(e.line, 2);
            let msg = e.to_string();
            assert!(msg.starts_with("t.txt line 2: "), "{msg}");
            assert!(msg.contains(says), "{line}: {msg}");
            assert!(!msg.contains(['\n', '\u{1b}', '\u{202e}']), "{msg:?}");
        }
    }

    #[test]
    fn a_line_too_long_or_not_utf8_is_refused_without_holding_it() {
        let long = format!("pop3://ok\n{}\n", "a".repeat(MAX_LINE * 50));
        let got = all(&long, Shard::ALL);
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[1], Err(e) if e.line == 2 && e.message.contains("longer")));
        let exact = format!("{}\n", "a".repeat(MAX_LINE));
        assert!(all(&exact, Shard::ALL)[0].is_ok());
        let bytes = b"pop3://ok\npop3://\xff\n";
        let got: Vec<_> = Targets::new(&bytes[..], "-", Shard::ALL).collect();
        assert!(matches!(&got[1], Err(e) if e.message == "not UTF-8"));
    }

    const NMAP: &str = "# Nmap 7.94 scan initiated Mon Dec  1 10:00:00 2026 as: nmap -p110,995,143 -oG - 10.0.0.0/30\n\
Host: 10.0.0.5 (mail.example)\tStatus: Up\n\
Host: 10.0.0.5 (mail.example)\tPorts: 110/open/tcp//pop3///, 143/open/tcp//imap///, 995/open/tcp//pop3s///\tIgnored State: closed (997)\n\
Host: 10.0.0.6 ()\tPorts: 110/closed/tcp//pop3///, 995/filtered/tcp//pop3s///, 2110/open/tcp//pop3//Dovecot pop3d/\n\
Host: ::1 ()\tPorts: 995/open/tcp//ssl|pop3///, 110/open/udp//pop3///\n\
# Nmap done at Mon Dec  1 10:00:05 2026 -- 4 IP addresses (3 hosts up) scanned in 5.00 seconds\n";

    #[test]
    fn nmap_greppable_output_gives_each_open_pop3_port() {
        assert_eq!(
            shown(NMAP),
            [
                "pop3://10.0.0.5:110",
                "pop3s://10.0.0.5:995",
                "pop3://10.0.0.6:2110",
                "pop3s://[::1]:995"
            ]
        );
        let t: Vec<FleetTarget> = all(NMAP, Shard::ALL).into_iter().flatten().collect();
        assert_eq!(t[0].line, 3);
        assert_eq!(t[3].target.host, "::1");
    }

    #[test]
    fn a_broken_nmap_port_entry_names_its_line() {
        let got = all("Host: 10.0.0.5 ()\tPorts: 110/open\n", Shard::ALL);
        assert!(matches!(&got[0], Err(e) if e.line == 1 && e.message.contains("nmap port")));
        let got = all(
            "Host: 10.0.0.5 ()\tPorts: x/open/tcp//pop3///\n",
            Shard::ALL,
        );
        assert!(matches!(&got[0], Err(e) if e.message.contains("not a port")));
    }

    #[test]
    fn shards_are_disjoint_and_complete() {
        // Comments and nmap lines among the targets: the shards count targets, not lines.
        let mut text = String::from(NMAP);
        for i in 0..23 {
            text.push_str(&format!("pop3://h{i}:1110\n"));
            if i % 4 == 0 {
                text.push_str("# a comment\n\n");
            }
        }
        let whole = shown(&text);
        assert_eq!(whole.len(), 27);
        for n in 1..=5 {
            let mut union: Vec<(usize, String)> = Vec::new();
            for k in 1..=n {
                let shard = Shard::parse(&format!("{k}/{n}")).unwrap_or(Shard::ALL);
                let part: Vec<String> = all(&text, shard)
                    .into_iter()
                    .map(|r| r.map(|t| t.shown).unwrap_or_default())
                    .collect();
                // Each shard is every n-th, so their sizes differ by at most one.
                assert!(part.len().abs_diff(whole.len() / n) <= 1, "{k}/{n}");
                for s in part {
                    let i = whole.iter().position(|w| *w == s).unwrap_or(usize::MAX);
                    assert_eq!(i % n, k - 1, "{k}/{n}: {s}");
                    union.push((i, s));
                }
            }
            union.sort();
            let indexes: Vec<usize> = union.iter().map(|(i, _)| *i).collect();
            assert_eq!(indexes, (0..whole.len()).collect::<Vec<_>>(), "N={n}");
        }
    }

    /// The fuzz target's properties (fuzz/fuzz_targets/fleet_targets.rs) over pseudo-random
    /// lines built from the file's own vocabulary, so `cargo test` holds them too.
    #[test]
    fn hostile_lines_never_panic_and_every_error_is_one_clean_line() {
        let words = [
            "pop3://",
            "pop3s://",
            "h",
            "[::1]",
            ":",
            "110",
            "99999",
            " ",
            "\t",
            "--user",
            "--sni",
            "--starttls",
            "#",
            "Host:",
            "Ports:",
            "/open/tcp//pop3///",
            ",",
            "\u{202e}",
            "\u{1b}[2J",
            "@",
            "/",
            "\n",
            "\r\n",
            "é",
            "\0",
        ];
        let mut seed: u64 = 0x5eed;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(seed % 12) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push_str(words[(seed >> 33) as usize % words.len()]);
            }
            for item in Targets::new(text.as_bytes(), "f", Shard::ALL) {
                match item {
                    Ok(t) => assert!(!t.shown.chars().any(char::is_control), "{text:?}"),
                    Err(e) => {
                        let m = e.to_string();
                        assert!(m.starts_with(&format!("f line {}: ", e.line)), "{m}");
                        assert!(
                            !m.chars().any(|c| c.is_control() || c == '\u{202e}'),
                            "{text:?}: {m:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn shard_spellings() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { k: 2, n: 3 }));
        for bad in ["0/3", "4/3", "1/0", "1", "a/b", "-1/3", "1/3/4"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
