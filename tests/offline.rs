//! The offline commands on recordings: `check --transcript`, `replay --headless` and `export`
//! stream files of any size in bounded memory; exports of multi-session recordings; bundles
//! never hold a secret; output files are private and never overwritten by surprise.

// The helpers of this test crate may unwrap like its tests: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

mod common;
use common::popscope;

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("popscope-offline-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One JSON Lines record.
fn record(v: serde_json::Value) -> String {
    format!("{v}\n")
}

fn header(target: &str, secrets: &str) -> String {
    record(
        serde_json::json!({"type":"header","format":1,"popscope":"0.1.0","target":target,"started":0.0,"secrets":secrets}),
    )
}

fn data(dir: &str, text: &str) -> String {
    record(serde_json::json!({"type":"data","t":0.001,"dir":dir,"text":text}))
}

/// A logged-in session of a recording that kept its secrets: USER/PASS, then `commands`.
fn session(target: &str, commands: &[(&str, &str)]) -> String {
    let mut s = header(target, "kept");
    s += &data("server", "+OK ready\r\n");
    s += &data("client", "USER demo\r\n");
    s += &data("server", "+OK send PASS\r\n");
    s += &data("client", "PASS hunter2\r\n");
    s += &data("server", "+OK logged in\r\n");
    for (c, r) in commands {
        s += &data("client", c);
        s += &data("server", r);
    }
    s += &data("client", "QUIT\r\n");
    s += &data("server", "+OK bye\r\n");
    s
}

// ---- bounded memory ------------------------------------------------------------------------

const BIG: usize = 64 << 20;
/// Far below the 64 MiB the files hold (before: about 3 times their size).
const BOUND_KIB: u64 = 40 << 10;

/// A 64 MiB text transcript (one RETR of a million lines) and the same as JSON Lines.
fn big_files() -> &'static (std::path::PathBuf, std::path::PathBuf) {
    static FILES: OnceLock<(std::path::PathBuf, std::path::PathBuf)> = OnceLock::new();
    FILES.get_or_init(|| {
        let d = scratch("big");
        let line = format!("S: {}\n", "x".repeat(60));
        let text = d.join("big.trace");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&text).unwrap());
        f.write_all(
            b"S: +OK ready\nC: USER demo\nS: +OK\nC: PASS demo\nS: +OK\nC: RETR 1\nS: +OK\n",
        )
        .unwrap();
        for _ in 0..BIG / line.len() {
            f.write_all(line.as_bytes()).unwrap();
        }
        f.write_all(b"S: .\nC: QUIT\nS: +OK bye\n").unwrap();
        f.flush().unwrap();
        let jsonl = d.join("big.jsonl");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&jsonl).unwrap());
        let mut head = header("pop3://big", "redacted");
        for (dir, t) in [
            ("server", "+OK ready\r\n"),
            ("client", "USER demo\r\n"),
            ("server", "+OK\r\n"),
            ("client", "PASS ****\r\n"),
            ("server", "+OK\r\n"),
            ("client", "RETR 1\r\n"),
            ("server", "+OK\r\n"),
        ] {
            head += &data(dir, t);
        }
        f.write_all(head.as_bytes()).unwrap();
        let chunk = data("server", &format!("{}\r\n", "x".repeat(60)).repeat(1000));
        for _ in 0..BIG / chunk.len() {
            f.write_all(chunk.as_bytes()).unwrap();
        }
        f.write_all((data("server", ".\r\n") + &data("client", "QUIT\r\n")).as_bytes())
            .unwrap();
        f.flush().unwrap();
        (text, jsonl)
    })
}

/// Runs popscope with `args`, output discarded, and returns its exit code and peak resident
/// memory in KiB (VmHWM, read from /proc while it runs; the peak only grows).
fn peak_rss(args: &[&str]) -> (Option<i32>, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_popscope"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status)
            && let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kb);
        }
        if let Some(st) = child.try_wait().unwrap() {
            assert!(peak > 0, "no VmHWM reading for {args:?}");
            return (st.code(), peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn assert_bounded(args: &[&str], code: i32) {
    let (got, kib) = peak_rss(args);
    assert_eq!(got, Some(code), "{args:?}");
    assert!(
        kib < BOUND_KIB,
        "{args:?}: peak RSS {kib} KiB for a {} MiB file",
        BIG >> 20
    );
}

#[test]
fn check_transcript_streams_a_large_text_transcript() {
    let (text, _) = big_files();
    assert_bounded(&["check", "--transcript", text.to_str().unwrap()], 0);
}

#[test]
fn replay_headless_streams_large_text_and_jsonl_recordings() {
    let (text, jsonl) = big_files();
    assert_bounded(&["replay", "--headless", text.to_str().unwrap()], 0);
    assert_bounded(&["replay", "--headless", jsonl.to_str().unwrap()], 0);
}

#[test]
fn export_streams_a_large_recording_to_text_and_bundle() {
    let (_, jsonl) = big_files();
    let j = jsonl.to_str().unwrap();
    assert_bounded(&["export", j], 0);
    assert_bounded(&["export", j, "--to", "bundle"], 0);
}

// ---- nothing to check, standard input --------------------------------------------------------

#[test]
fn an_empty_transcript_is_bad_input_not_a_clean_pass() {
    let d = scratch("empty");
    for (name, body) in [
        ("empty.trace", ""),
        ("comments.trace", "# only a comment\n\n"),
        ("header-only.jsonl", &header("pop3://x", "redacted")),
        // Events but no data: nothing the server said is there to judge.
        ("events-only.trace", "-- tls\n-- closed\n"),
        (
            "no-data.jsonl",
            &[
                header("pop3://x", "redacted"),
                record(serde_json::json!({"type":"state","t":0.0,"from":"greeting","to":"AUTHORIZATION","reason":"greeting +OK","lawful":true})),
                record(serde_json::json!({"type":"finding","t":0.0,"rule":"CAPA-012","severity":"info","message":"m","exchange":1})),
                record(serde_json::json!({"type":"transport","t":0.1,"event":{"event":"tls-established","cert_requested":false,"client_cert":false}})),
                record(serde_json::json!({"type":"transport","t":0.2,"event":{"event":"server-closed","close_notify":true}})),
            ]
            .concat(),
        ),
    ] {
        let p = d.join(name);
        std::fs::write(&p, body).unwrap();
        let o = popscope(&["replay", "--headless", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stdout(&o));
        let o = popscope(&["check", "--transcript", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("nothing to check"),
            "{name}: {}",
            stderr(&o)
        );
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
        assert!(!stdout(&o).contains("0 violations"), "{}", stdout(&o));
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn check_transcript_dash_reads_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_popscope"))
        .args(["check", "--transcript", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // RETR without an argument answered +OK: a violation the check must find.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"S: +OK ready\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\nC: DELE 1\nS: +OK\nC: DELE 1\nS: +OK\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["findings"].as_array().is_some_and(|f| !f.is_empty()),
        "{v}"
    );
}

// ---- exports ---------------------------------------------------------------------------------

#[test]
fn export_of_several_sessions_exports_all_or_the_one_chosen_and_says_so() {
    let d = scratch("multi");
    let rec = d.join("two.jsonl");
    std::fs::write(
        &rec,
        session("pop3://first", &[("STAT\r\n", "+OK 1 10\r\n")])
            + &session("pop3://second", &[("NOOP\r\n", "+OK\r\n")]),
    )
    .unwrap();
    let r = rec.to_str().unwrap();
    let o = popscope(&["export", r]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("C: STAT") && text.contains("C: NOOP"),
        "{text}"
    );
    assert!(
        text.contains("session 2 recorded against pop3://second"),
        "{text}"
    );
    assert!(stderr(&o).contains("2 sessions"), "{}", stderr(&o));
    // A note like every other message: prefixed, one line.
    assert!(stderr(&o).starts_with("popscope: "), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    let o = popscope(&["export", r, "--session", "2"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!stdout(&o).contains("C: STAT") && stdout(&o).contains("C: NOOP"));
    assert!(stderr(&o).contains("session 2 of 2"), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("popscope: "), "{}", stderr(&o));
    let o = popscope(&["export", r, "--session", "3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("2 sessions"), "{}", stderr(&o));
    // The bundle: both sessions, each numbered, every line with its exchange.
    let o = popscope(&["export", r, "--to", "bundle"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = stdout(&o);
    assert!(
        b.contains("# Session 1 of 2") && b.contains("# Session 2 of 2"),
        "{b}"
    );
    assert!(b.contains("- server: pop3://second"), "{b}");
    assert!(b.contains("   0 S: +OK ready"), "{b}");
    assert!(
        b.contains("   3 C: STAT") && b.contains("   3 S: +OK 1 10"),
        "{b}"
    );
    assert!(b.contains("   4 C: QUIT"), "{b}");
    assert_eq!(b.matches("```").count(), 4, "{b}");
    let o = popscope(&["export", r, "--to", "bundle", "--session", "2"]);
    let b = stdout(&o);
    assert!(
        b.starts_with("# POP3 session evidence") && b.contains("# Session 2 of 2"),
        "{b}"
    );
    assert!(!b.contains("pop3://first") && !b.contains("C: STAT"), "{b}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_bundle_never_holds_a_secret_even_from_a_recording_that_kept_them() {
    let d = scratch("secrets");
    let rec = d.join("kept.jsonl");
    let plain = "AGRlbW8AczNjcmV0UGFzcw=="; // \0demo\0s3cretPass
    let mut s = header("pop3://x", "kept");
    for (dir, t) in [
        ("server", "+OK ready <1.2@x>\r\n"),
        ("client", "USER demo\r\n"),
        ("server", "+OK\r\n"),
        ("client", "PASS hunter2\r\n"),
        ("server", "-ERR no\r\n"),
        ("client", "APOP demo c4c9334bac560ecc979e58001b3e22fb\r\n"),
        ("server", "-ERR no\r\n"),
        ("client", "AUTH PLAIN\r\n"),
        ("server", "+ \r\n"),
        ("client", &format!("{plain}\r\n")),
        ("server", "+OK\r\n"),
    ] {
        s += &data(dir, t);
    }
    std::fs::write(&rec, s).unwrap();
    let o = popscope(&["export", rec.to_str().unwrap(), "--to", "bundle"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = stdout(&o);
    for secret in ["hunter2", "c4c9334bac560ecc979e58001b3e22fb", plain] {
        assert!(!b.contains(secret), "{secret} in the bundle:\n{b}");
    }
    assert!(b.contains("C: PASS *******"), "{b}");
    assert!(
        b.contains("secrets kept in the recording; always redacted in this bundle"),
        "{b}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn export_o_is_private_refuses_to_overwrite_and_fails_loudly() {
    let d = scratch("out");
    let rec = d.join("r.jsonl");
    std::fs::write(&rec, session("pop3://x", &[])).unwrap();
    let r = rec.to_str().unwrap();
    let out = d.join("r.trace");
    let o_ = out.to_str().unwrap();
    let o = popscope(&["export", r, "-o", o_]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let first = std::fs::read(&out).unwrap();
    // An existing file is refused, and left as it was.
    std::fs::write(&out, b"precious").unwrap();
    let o = popscope(&["export", r, "-o", o_, "--to", "bundle"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1);
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    let o = popscope(&["export", r, "-o", o_, "--force"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read(&out).unwrap(), first);
    // A planted symbolic link is never followed, even with --force.
    let victim = d.join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    let link = d.join("link");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let o = popscope(&["export", r, "-o", link.to_str().unwrap(), "--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    // A full disk is an error, not exit 0 with nothing written.
    let o = popscope(&["export", r, "-o", "/dev/full", "--force"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&d);
}

/// The names in a folder, sorted.
fn names(d: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn o_force_replaces_the_target_only_when_everything_was_written() {
    let d = scratch("atomic");
    let pre = d.join("pre");
    let p = pre.to_str().unwrap();
    std::fs::write(&pre, b"precious").unwrap();
    let broken = d.join("broken.jsonl");
    let damaged = d.join("damaged.jsonl");
    std::fs::write(&broken, "{\"type\":\"header\"\n").unwrap();
    std::fs::write(&damaged, session("pop3://x", &[]) + "not json\n").unwrap();
    let before = names(&d);
    for (rec, to) in [(&broken, "text"), (&damaged, "text"), (&damaged, "bundle")] {
        let o = popscope(&[
            "export",
            rec.to_str().unwrap(),
            "-o",
            p,
            "--force",
            "--to",
            to,
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
        assert!(stderr(&o).contains("was not written"), "{}", stderr(&o));
        // The old content is kept, and no temporary file is left behind.
        assert_eq!(std::fs::read(&pre).unwrap(), b"precious", "{to}");
        assert_eq!(names(&d), before);
    }
    // Success replaces it, 0600, and another name of the old file keeps the old content.
    let other = d.join("other-name");
    std::fs::hard_link(&pre, &other).unwrap();
    let rec = d.join("r.jsonl");
    std::fs::write(&rec, session("pop3://x", &[])).unwrap();
    let o = popscope(&["export", rec.to_str().unwrap(), "-o", p, "--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&pre).unwrap().contains("C: QUIT"));
    assert_eq!(std::fs::read(&other).unwrap(), b"precious");
    let mode = std::fs::metadata(&pre).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // import -o: a write error on the way (the file size limit, EFBIG) leaves the target.
    std::fs::write(&pre, b"precious").unwrap();
    let log = d.join("curl.log");
    std::fs::write(
        &log,
        "< +OK ready\n".to_owned() + &"> NOOP\n< +OK\n".repeat(20_000),
    )
    .unwrap();
    let before = names(&d);
    let o = Command::new("sh")
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f 64; exec \"$0\" import --from curl \"$1\" -o \"$2\" --force",
            env!("CARGO_BIN_EXE_popscope"),
            log.to_str().unwrap(),
            p,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert_eq!(std::fs::read(&pre).unwrap(), b"precious");
    assert_eq!(names(&d), before);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn escapes_in_a_recordings_tls_details_never_reach_an_export_raw() {
    let d = scratch("tls-escapes");
    let rec = d.join("edited.jsonl");
    let evil = "evil\u{1b}]52;c;eA==\u{7}\u{202e}x";
    let cert = serde_json::json!({"subject": format!("CN={evil}"), "issuer": format!("CN=ca{evil}"),
        "sans": [format!("DNS:{evil}")], "not_before": "2026", "not_after": "2027",
        "sha256": "00", "self_signed": false});
    let mut s = header(&format!("pop3://{evil}"), "redacted");
    s += &data("server", "+OK ready\r\n");
    s += &data("client", "STLS\r\n");
    s += &data("server", "+OK go\r\n");
    s += &record(
        serde_json::json!({"type":"tls","t":0.1,"details":{"version":format!("TLS 1.3{evil}"),
        "cipher":"C","group":null,"alpn":null,"cert_requested":false,"client_cert_sent":false,
        "chain":[cert],"verdict":format!("bad{evil}"),"insecure":false}}),
    );
    s += &record(
        serde_json::json!({"type":"transport","t":0.1,"event":{"event":"tls-established","cert_requested":false,"client_cert":false}}),
    );
    s += &data("client", "QUIT\r\n");
    s += &data("server", "+OK bye\r\n");
    std::fs::write(&rec, s).unwrap();
    for to in ["bundle", "text"] {
        let o = popscope(&["export", rec.to_str().unwrap(), "--to", to]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let out = stdout(&o);
        for bad in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!out.contains(bad), "{to}: {bad:?} written raw:\n{out}");
        }
        assert!(
            out.contains("pop3://evil\\x1b]52;c;eA==\\x07"),
            "{to}: {out}"
        );
        if to == "bundle" {
            for field in [
                "TLS 1.3evil\\x1b",
                "CN=evil\\x1b",
                "CN=caevil\\x1b",
                "DNS:evil\\x1b",
                "badevil\\x1b",
            ] {
                assert!(out.contains(field), "no {field} in {out}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn import_and_export_help_describe_every_argument() {
    for (sub, args) in [
        (
            "import",
            &[
                "<FILE>",
                "--from <FROM>",
                "--output <FILE>",
                "--force",
                "--keep-secrets",
            ][..],
        ),
        (
            "export",
            &[
                "<FILE>",
                "--to <TO>",
                "--session <N>",
                "--output <FILE>",
                "--force",
            ][..],
        ),
    ] {
        let o = popscope(&[sub, "-h"]);
        let help = stdout(&o);
        for a in args {
            let line = help
                .lines()
                .find(|l| l.trim_start().trim_start_matches("-o, ").starts_with(a))
                .unwrap_or_else(|| panic!("{sub} -h lacks {a}:\n{help}"));
            let described = line.trim_start().trim_start_matches("-o, ")[a.len()..].trim();
            assert!(
                !described.is_empty(),
                "{sub}: {a} has no description:\n{help}"
            );
        }
    }
}

// ---- recordings made by an earlier popscope ----------------------------------------------

/// A finding record or a finding of the JSON report: (rule, severity, message, exchange).
fn finding_of(f: &serde_json::Value) -> (String, String, String, u64) {
    let s = |k: &str| f[k].as_str().unwrap().to_owned();
    let exchange = f["exchange"].as_u64().unwrap();
    (s("rule"), s("severity"), s("message"), exchange)
}

/// Recordings made by popscope before its records were typed (`serve` + `send --record`):
/// re-checked today they give the findings their own finding records say, and the replay
/// report and export read them whole.
#[test]
fn recordings_of_an_earlier_version_recheck_to_the_findings_they_recorded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings");
    for name in ["starttls-hostile.jsonl", "implicit-deleted.jsonl"] {
        let file = dir.join(name);
        let recorded: Vec<(String, String, String, u64)> = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|r| r["type"] == "finding")
            .map(|r| finding_of(&r))
            .collect();
        assert!(!recorded.is_empty(), "{name}");
        let o = popscope(&["check", "--transcript", file.to_str().unwrap(), "--json"]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let rechecked: Vec<(String, String, String, u64)> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(finding_of)
            .collect();
        assert_eq!(rechecked, recorded, "{name}");
        for args in [&["replay", "--headless"][..], &["export"]] {
            let mut a = args.to_vec();
            a.push(file.to_str().unwrap());
            let o = popscope(&a);
            assert!(
                o.status.code().is_some_and(|c| c <= 1),
                "{a:?}: {}",
                stderr(&o)
            );
            assert!(stderr(&o).is_empty(), "{a:?}: {}", stderr(&o));
        }
    }
}

/// A recording with a finding in every exchange keeps the first 10,000 in the report and counts
/// the rest: the summary and the exit code still see them all (the one violation here comes
/// after 10,005 warnings).
#[test]
fn a_report_keeps_the_first_findings_and_counts_every_one() {
    let dir = scratch("left-out");
    let mut t = String::from("S: +OK ready\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\n");
    t.push_str(&"C: XFOO\nS: +OK\n".repeat(10_005));
    t.push_str("C: STAT\nS: +OK x\nC: QUIT\nS: +OK\n");
    let file = dir.join("many.txt");
    std::fs::write(&file, t).unwrap();
    let path = file.to_str().unwrap();
    let o = popscope(&["check", "--transcript", path, "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["findings"].as_array().map(Vec::len), Some(10_000));
    let summary = &v["summary"];
    let all: u64 = ["violation", "warning", "info"]
        .iter()
        .map(|k| summary[k].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(summary["violation"], 1, "{summary}");
    assert_eq!(v["findings_left_out"].as_u64(), Some(all - 10_000));
    let o = popscope(&["check", "--transcript", path]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text.contains("more findings not listed (1 violation"),
        "{text}"
    );
    assert!(
        text.ends_with("1 violation, 10005 warnings, 2 info\n"),
        "{text}"
    );
}
