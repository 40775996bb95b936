//! A server whose every line carries terminal escapes, bidi overrides, invisible characters
//! and invalid UTF-8, run against every subcommand that talks to a server or reads what one
//! sent: no output stream and no written file may carry any of it raw.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use common::popscope;
use popscope_core::sanitize::is_clean;

/// OSC 52 sets the clipboard of many terminals ("pwned").
const OSC52: &str = "\x1b]52;c;cHduZWQ=\x07";

/// Everything hostile at once: ESC sequences, BEL, NUL, a lone CR, a bidi override, a line
/// separator, a tag character, a Hangul filler.
fn nasty() -> Vec<u8> {
    let mut v =
        format!("{OSC52}\x1b[2J\x07\x00a\rb \u{202E}evil\u{2028}x\u{E0041}\u{3164}y ").into_bytes();
    // Invalid UTF-8 and a raw C1 CSI.
    v.extend_from_slice(b"\xff\xfe\x9b31m");
    v
}

fn line(prefix: &str, rest: &[u8]) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    v.extend_from_slice(rest);
    v.extend_from_slice(b"\r\n");
    v
}

fn capa() -> Vec<u8> {
    let n = nasty();
    let mut v = line("+OK capabilities ", &n);
    for tag in ["TOP", "UIDL", "USER", "STLS", "RESP-CODES"] {
        v.extend(line(tag, b""));
    }
    v.extend(line("IMPLEMENTATION ", OSC52.as_bytes()));
    for tag in [
        "LOGIN-DELAY ",
        "EXPIRE ",
        "UTF8 ",
        "XHOSTILE ",
        "X\x1b[31mODD\u{202E} ",
        "SASL PLAIN ",
    ] {
        v.extend(line(tag, &n));
    }
    v.extend_from_slice(b".\r\n");
    v
}

fn message() -> Vec<u8> {
    let n = nasty();
    let mut v = line("+OK message follows ", &n);
    v.extend(line("Subject: ", &n));
    v.extend(line("From: ", &n));
    v.extend_from_slice(b"\r\n");
    v.extend(line("body ", &n));
    // No control character here: only code points JSON does not escape.
    v.extend(line(
        "quiet \u{202E}\u{2028}\u{E0041}\u{3164}\u{200B}",
        b" text",
    ));
    v.extend_from_slice(b".\r\n");
    v
}

/// The reply of the hostile server to one command line.
fn answer(cmd: &[u8]) -> (Vec<u8>, bool) {
    let n = nasty();
    let text = String::from_utf8_lossy(cmd).trim_end().to_owned();
    let mut words = text.split_whitespace();
    let verb = words.next().unwrap_or("").to_ascii_uppercase();
    let arg = words.next();
    let reply = match verb.as_str() {
        "CAPA" => capa(),
        "STLS" => line("-ERR ", &n),
        "USER" | "PASS" | "RSET" => line("+OK ", &n),
        // No control character: only code points JSON does not escape (one read of its own).
        "NOOP" => line(
            "+OK quiet \u{202E}\u{2028}\u{E0041}\u{3164}\u{200B}",
            b" text",
        ),
        "STAT" => line("+OK 2 320 ", &n),
        "LIST" | "UIDL" if arg.is_some() => line(&format!("+OK {} 120 ", arg.unwrap_or("1")), &n),
        "LIST" => {
            let mut v = line("+OK ", &n);
            v.extend(line("1 120 ", &n));
            v.extend(line("2 200 ", &n));
            v.extend_from_slice(b".\r\n");
            v
        }
        "UIDL" => {
            let mut v = line("+OK ", &n);
            v.extend(line("1 a", &n));
            v.extend(line("2 b", &n));
            v.extend_from_slice(b".\r\n");
            v
        }
        "TOP" | "RETR" if arg.is_some_and(|a| a == "1" || a == "2") => message(),
        "QUIT" => return (line("+OK bye ", &n), true),
        // A response code that does not parse (RC-001 quotes it; RESP-CODES is advertised).
        _ => line("-ERR [SYS/", &n),
    };
    (reply, false)
}

/// A hostile POP3 server on loopback that answers every connection (the walk opens several).
fn hostile_server() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map_or(0, |a| a.port());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            std::thread::spawn(move || {
                let Ok(mut w) = s.try_clone() else { return };
                let mut r = BufReader::new(s);
                let greeting = line("+OK ", &[&nasty()[..], b" <1.2@x>"].concat());
                if w.write_all(&greeting).is_err() {
                    return;
                }
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match r.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let (reply, close) = answer(&buf);
                    if w.write_all(&reply).is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Why `bytes` could not be shown on a terminal as they are, if they could not.
fn dirty(bytes: &[u8]) -> Option<String> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return Some(format!("invalid UTF-8 at octet {}", e.valid_up_to())),
    };
    for (i, l) in text.split('\n').enumerate() {
        let l = l.replace('\t', " ");
        if !is_clean(&l) {
            return Some(format!("line {}: {l:?}", i + 1));
        }
    }
    None
}

struct Checked {
    failures: Vec<String>,
}

impl Checked {
    fn output(&mut self, what: &str, o: &std::process::Output) {
        for (name, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            if let Some(why) = dirty(bytes) {
                self.failures.push(format!("{what}: {name}: {why}"));
            }
        }
    }

    fn file(&mut self, what: &str, path: &Path) {
        let bytes = std::fs::read(path).unwrap_or_default();
        assert!(!bytes.is_empty(), "{what}: {} is empty", path.display());
        if let Some(why) = dirty(&bytes) {
            self.failures
                .push(format!("{what}: {}: {why}", path.display()));
        }
    }
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("popscope-escapes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
    d
}

#[test]
fn no_output_of_any_subcommand_carries_server_escapes_raw() {
    let port = hostile_server();
    let url = format!("pop3://127.0.0.1:{port}");
    let d = dir();
    let p = |name: &str| d.join(name).to_string_lossy().into_owned();
    let login = ["--user", "demo", "--password-env", "PW", "--timeout", "5"];
    let mut c = Checked {
        failures: Vec::new(),
    };

    // send, recorded.
    let mut args = vec!["send", &url];
    args.extend_from_slice(&login);
    let rec = p("send.jsonl");
    args.extend_from_slice(&[
        "--record", &rec, "NOOP", "STAT", "LIST", "UIDL", "LIST 1", "UIDL 2", "TOP 1 0", "RETR 2",
        "XYZZY",
    ]);
    let o = popscope(&args);
    c.output("send", &o);
    let sent = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(sent.contains("\\x1b]52;c;cHduZWQ=\\x07"), "{sent}");
    // The transcript send prints is a text recording.
    std::fs::write(p("send.txt"), &o.stdout).unwrap();
    let mut json_args = args.clone();
    json_args.retain(|a| *a != "--record" && *a != rec.as_str());
    json_args.push("--json");
    c.output("send --json", &popscope(&json_args));

    // The recording holds the exact data: clean text raw (its lines' CR LF and TAB), anything
    // else escaped, so `cat` shows nothing that moves the cursor or changes the terminal.
    let jsonl = std::fs::read(&rec).unwrap();
    assert!(!jsonl.is_empty());
    let why = match String::from_utf8(jsonl) {
        Ok(s) => dirty(s.replace("\r\n", "\n").as_bytes()),
        Err(e) => Some(format!(
            "invalid UTF-8 at octet {}",
            e.utf8_error().valid_up_to()
        )),
    };
    if let Some(why) = why {
        c.failures.push(format!("the JSONL recording: {why}"));
    }

    // check URL, text and JSON, recorded.
    let mut args = vec!["check", &url];
    args.extend_from_slice(&login);
    let crec = p("check.jsonl");
    let mut rec_args = args.clone();
    rec_args.extend_from_slice(&["--record", &crec]);
    let o = popscope(&rec_args);
    c.output("check URL", &o);
    let report = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(report.contains("CAPA-012"), "{report}");
    let mut json_args = args.clone();
    json_args.push("--json");
    let o = popscope(&json_args);
    c.output("check URL --json", &o);
    assert!(common::json(&o).is_object(), "no JSON report");

    // A bare host: every transport, the implicit-TLS leg meeting plaintext (the error quotes
    // the greeting), compared.
    let host = format!("127.0.0.1:{port}");
    let port_s = port.to_string();
    let mut bare = vec!["check", &host, "--tls-port", &port_s];
    bare.extend_from_slice(&login);
    let o = popscope(&bare);
    c.output("check HOST", &o);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("implicit TLS"), "{text}");
    bare.push("--json");
    c.output("check HOST --json", &popscope(&bare));

    // check URL --starttls: the server refuses STLS with escapes in its -ERR.
    let mut tls_args = args.clone();
    tls_args.push("--starttls");
    let o = popscope(&tls_args);
    assert_eq!(o.status.code(), Some(4), "{o:?}");
    c.output("check URL --starttls", &o);
    let mut tls_args = vec!["send", &url, "--starttls", "STAT"];
    tls_args.extend_from_slice(&login);
    c.output("send --starttls", &popscope(&tls_args));

    // Offline: the recordings re-checked, replayed and exported.
    let text_rec = p("export.txt");
    let o = popscope(&["export", &rec, "--to", "text", "-o", &text_rec]);
    c.output("export --to text -o", &o);
    c.file("export --to text", Path::new(&text_rec));
    let bundle = p("bundle.md");
    let o = popscope(&["export", &crec, "--to", "bundle", "-o", &bundle]);
    c.output("export --to bundle -o", &o);
    c.file("export --to bundle", Path::new(&bundle));
    c.output(
        "export --to bundle",
        &popscope(&["export", &rec, "--to", "bundle"]),
    );
    c.output(
        "export --to text",
        &popscope(&["export", &crec, "--to", "text"]),
    );

    // A transcript whose client lines carry escapes too (findings quote commands).
    let client = p("client.txt");
    std::fs::write(
        &client,
        r"S: +OK ready \x1b]52;c;cHduZWQ=\x07
C: CAPA
S: +OK
S: TOP
S: .
C: USER a\x1b]52;c;cHduZWQ=\x07
S: +OK
C: PASS x
S: +OK
C: RETR \x1b]52;c;cHduZWQ=\x07
S: +OK
S: .
C: \x1b]52;c;cHduZWQ=\x07\xe2\x80\xae
S: +OK
C: NOOP \xe2\x80\xa8\x07
S: +OK
C: AUTH \x1b[31mX\xf3\xa0\x81\x81
S: +OK
C: TOP 1 \x1b
S: +OK
S: .
C: QUIT
S: +OK
",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for file in [
        rec.clone(),
        crec.clone(),
        text_rec.clone(),
        p("send.txt"),
        client,
    ] {
        c.output(
            &format!("check --transcript {file}"),
            &popscope(&["check", "--transcript", &file]),
        );
        c.output(
            &format!("check --transcript {file} --json"),
            &popscope(&["check", "--transcript", &file, "--json"]),
        );
        c.output(
            &format!("replay --headless {file}"),
            &popscope(&["replay", "--headless", &file]),
        );
    }

    // replay against the hostile server.
    let mut args = vec!["replay", &rec, "--against", &url];
    args.extend_from_slice(&login);
    c.output("replay --against", &popscope(&args));

    // import of a curl log whose lines carry escapes (a RETR without its body gets a note
    // that quotes the command).
    let n = String::from_utf8_lossy(&nasty()).into_owned();
    let curl = format!(
        "* Connected to x\n< +OK {n}\n> CAPA\n< +OK\n< IMPLEMENTATION {OSC52}\n< .\n> USER u\n< -ERR {n}\n> RETR 1 {n}\n< +OK\n> QUIT\n< +OK {n}\n"
    );
    let curl_log = p("curl.log");
    std::fs::write(&curl_log, curl).unwrap();
    let imported = p("imported.txt");
    let o = popscope(&["import", "--from", "curl", &curl_log, "-o", &imported]);
    c.output("import -o", &o);
    c.file("import", Path::new(&imported));
    c.output(
        "import",
        &popscope(&["import", "--from", "curl", &curl_log]),
    );
    c.output(
        "check --transcript (imported)",
        &popscope(&["check", "--transcript", &imported]),
    );

    let _ = std::fs::remove_dir_all(&d);
    assert!(c.failures.is_empty(), "\n{}", c.failures.join("\n"));
}
