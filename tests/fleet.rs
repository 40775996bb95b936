//! `check --targets`: a fleet of demo servers on loopback (some with quirks), a port nothing
//! listens on and a name that does not resolve, checked at once; the JSON Lines, --shard,
//! --per-host and --target-timeout held against them.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::fleet::{above_info, check_targets, counting, dead_port, lines, plain_quirks, private};
use common::{rule_ids, runtime, start};
use popscope::server::TlsMode;

fn fleet(targets: &str, extra: &[&str]) -> std::process::Output {
    fleet_with_credentials_mode(targets, 0o600, extra)
}

/// `check --targets … --credentials … --json`, the credentials file (the demo's user on
/// 127.0.0.1) of mode `mode`.
fn fleet_with_credentials_mode(targets: &str, mode: u32, extra: &[&str]) -> std::process::Output {
    use std::os::unix::fs::PermissionsExt;
    let file = private(&format!("targets-{}", rand_tag()), targets);
    let creds = private(
        &format!("creds-{}", rand_tag()),
        "# the demo servers\n127.0.0.1 user demo password-env PW\n",
    );
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{e}"));
    check_targets("demo", &file, &creds, extra)
}

/// A name unique within the test process, for its scratch files.
fn rand_tag() -> u32 {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

fn by_line(objects: &[serde_json::Value]) -> BTreeMap<u64, Vec<&serde_json::Value>> {
    let mut map: BTreeMap<u64, Vec<&serde_json::Value>> = BTreeMap::new();
    for o in objects {
        map.entry(o["line"].as_u64().unwrap_or(0))
            .or_default()
            .push(o);
    }
    map
}

#[test]
fn every_target_gets_one_object_quirks_their_rules_clean_ones_nothing_failures_an_error() {
    let rt = runtime();
    let clean = start(&rt, TlsMode::Starttls, None);
    let quirks = plain_quirks(3);
    let servers: Vec<_> = quirks
        .iter()
        .map(|r| start(&rt, TlsMode::Starttls, Some(r.quirk)))
        .collect();
    let mut text = String::from("# a fleet\n\n");
    text.push_str(&format!("{} --user demo\n", clean.url()));
    for s in &servers {
        text.push_str(&format!("{}\n", s.url()));
    }
    let dead = dead_port();
    text.push_str(&format!("pop3://127.0.0.1:{dead}\n"));
    text.push_str("pop3://nonexistent.invalid:1110\n");
    text.push_str(&format!(
        "Host: 127.0.0.1 (localhost)\tPorts: {}/open/tcp//pop3///, 1/closed/tcp//pop3///\n",
        clean.port()
    ));
    let o = fleet(&text, &["--jobs", "8"]);
    let (objects, summary) = lines(&o);
    let lines = by_line(&objects);
    // Lines 3.. are the targets: the clean server, the quirks, the dead port, the bad name, nmap.
    let expected: Vec<u64> = (3..3 + 1 + servers.len() as u64 + 3).collect();
    assert_eq!(
        lines.keys().copied().collect::<Vec<_>>(),
        expected,
        "{objects:?}"
    );
    assert!(
        lines.values().all(|v| v.len() == 1),
        "one object per target"
    );
    let one = |line: u64| lines[&line][0];
    let clean_report = one(3);
    assert_eq!(clean_report["error"], serde_json::Value::Null);
    assert_eq!(clean_report["logged_in"], true, "{clean_report}");
    assert_eq!(above_info(clean_report), Vec::<String>::new());
    assert!(clean_report["elapsed_ms"].as_u64().is_some());
    for (i, row) in quirks.iter().enumerate() {
        let v = one(4 + i as u64);
        assert_eq!(v["target"], servers[i].url());
        let rules = rule_ids(v);
        for rule in row.expected_rules {
            assert!(
                rules.iter().any(|r| r == rule),
                "{}: no {rule} in {rules:?}",
                row.name
            );
        }
    }
    let n = 4 + quirks.len() as u64;
    for (line, says) in [(n, "refused"), (n + 1, "nonexistent.invalid")] {
        let v = one(line);
        assert_eq!(v["error"]["exit"], 3, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(says)),
            "{v}"
        );
    }
    let nmap = one(n + 2);
    assert_eq!(nmap["target"], clean.url());
    assert_eq!(nmap["error"], serde_json::Value::Null);
    assert_eq!(summary["targets"], expected.len());
    assert_eq!(summary["failed"], 2);
    assert_eq!(summary["checked"], expected.len() - 2);
    assert!(
        summary["findings"]["violation"]
            .as_u64()
            .is_some_and(|v| v > 0)
    );
    // The worst of the targets': the failed connections' 3 over the quirks' 1.
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_shards_of_a_run_together_are_the_run() {
    let rt = runtime();
    let clean = start(&rt, TlsMode::Starttls, None);
    let quirky = start(&rt, TlsMode::Starttls, Some(plain_quirks(3)[0].quirk));
    let dead = dead_port();
    let mut text = String::new();
    for i in 0..4 {
        text.push_str(&format!("{}\n# {i}\n", clean.url()));
        text.push_str(&format!("{}\n", quirky.url()));
        text.push_str(&format!("pop3://127.0.0.1:{dead}\n"));
    }
    let digest = |o: &std::process::Output| -> Vec<(u64, String, bool, Vec<String>)> {
        let mut d: Vec<_> = lines(o)
            .0
            .iter()
            .map(|v| {
                let mut rules = rule_ids(v);
                rules.sort();
                let target = v["target"].as_str().unwrap_or_default().to_owned();
                (
                    v["line"].as_u64().unwrap_or(0),
                    target,
                    v["error"].is_null(),
                    rules,
                )
            })
            .collect();
        d.sort();
        d
    };
    let whole = digest(&fleet(&text, &[]));
    assert_eq!(whole.len(), 12);
    let mut union = Vec::new();
    for k in 1..=3 {
        let part = digest(&fleet(&text, &["--shard", &format!("{k}/3")]));
        assert_eq!(part.len(), 4, "shard {k}/3");
        union.extend(part);
    }
    union.sort();
    assert_eq!(union, whole);
}

/// The most connections at once of a fleet of six servers of one host, with `--per-host N`.
fn peak_with(per_host: &str) -> usize {
    let (ports, peak) = counting(6, 150);
    let text: String = ports
        .iter()
        .map(|p| format!("pop3://127.0.0.1:{p}\n"))
        .collect();
    let o = fleet(&text, &["--passive", "--jobs", "6", "--per-host", per_host]);
    assert_eq!(lines(&o).0.len(), 6);
    peak.get()
}

#[test]
fn per_host_1_never_checks_two_targets_of_one_host_at_once() {
    assert_eq!(peak_with("1"), 1);
    // The control: the same fleet with room per host does overlap.
    let peak = peak_with("6");
    assert!(peak > 1, "{peak}");
}

#[test]
fn a_silent_target_ends_at_its_deadline_while_the_others_finish() {
    let rt = runtime();
    let clean = start(&rt, TlsMode::Starttls, None);
    let silent = common::silent(4);
    let text = format!("pop3://127.0.0.1:{silent}\n{}\n", clean.url());
    let started = Instant::now();
    let o = fleet(&text, &["--target-timeout", "1"]);
    assert!(started.elapsed() < Duration::from_secs(20));
    let (objects, summary) = lines(&o);
    let lines = by_line(&objects);
    let late = lines[&1][0];
    let ms = late["elapsed_ms"].as_u64().unwrap_or(0);
    assert!((900..3000).contains(&ms), "{late}");
    assert!(
        late["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--target-timeout")),
        "{late}"
    );
    assert_eq!(lines[&2][0]["error"], serde_json::Value::Null);
    assert_eq!(summary["failed"], 1);
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn a_bad_line_is_a_usage_error_naming_it_before_anything_is_checked() {
    let dead = dead_port();
    let o = fleet(&format!("pop3://127.0.0.1:{dead}\npop3://h --bogus\n"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "nothing checked");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("line 2: '--bogus': not a target option"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn credentials_others_may_read_are_refused() {
    let o = fleet_with_credentials_mode("pop3://127.0.0.1:1\n", 0o644, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("mode 0644"));
    assert!(o.stdout.is_empty());
}

/// `check --targets - ARGS…` with `input` on standard input.
fn fleet_from_stdin(input: &str, args: &[&str]) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_popscope"))
        .args(["check", "--targets", "-"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn standard_input_is_read_as_it_comes_and_a_bad_line_there_stops_the_run_where_it_is() {
    let dead = dead_port();
    let input = format!("pop3://127.0.0.1:{dead}\n127.0.0.1:{dead}\nftp://h\npop3://never\n");
    let o = fleet_from_stdin(&input, &["--json"]);
    assert_eq!(o.status.code(), Some(2));
    let (objects, summary) = lines(&o);
    let mut got: Vec<u64> = objects.iter().filter_map(|v| v["line"].as_u64()).collect();
    got.sort_unstable();
    assert_eq!(got, [1, 2], "the targets before the bad line ran");
    assert_eq!(summary["failed"], 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("- line 3: 'ftp://h'"), "{err}");
    // Without --json: a line per target, the target first, then the summary table.
    let o = fleet_from_stdin(&format!("pop3://127.0.0.1:{dead}\n"), &[]);
    assert_eq!(o.status.code(), Some(3));
    let out = String::from_utf8_lossy(&o.stdout);
    let (first, rest) = out.split_once('\n').unwrap_or_default();
    assert!(
        first.starts_with(&format!("pop3://127.0.0.1:{dead}  error: ")),
        "{out}"
    );
    assert!(rest.contains("1 target checked: 1 failing"), "{out}");
}
