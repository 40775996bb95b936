//! The fleet at CI size: 100 targets over a few demo servers on loopback (half of them with a
//! quirk), `check --targets --jobs 16`; every target's object held against its server. The
//! full size (1,000 targets, and 10,000 with --passive) is `scripts/bench.sh --fleet`.

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use common::fleet::{above_info, lines, plain_quirks, private};
use common::{popscope, rule_ids, runtime, start};
use popscope::server::TlsMode;

const TARGETS: usize = 100;

#[test]
fn a_hundred_targets_each_one_object_quirks_their_rules_clean_ones_nothing_above_info() {
    let rt = runtime();
    let quirks = plain_quirks(3);
    // Clean and quirky servers alternate: server 2k is clean, 2k + 1 has quirk k.
    let mut servers = Vec::new();
    for row in &quirks {
        servers.push((start(&rt, TlsMode::Starttls, None), None));
        servers.push((start(&rt, TlsMode::Starttls, Some(row.quirk)), Some(*row)));
    }
    let server_of_line = |line: usize| &servers[(line - 1) % servers.len()];
    let mut text = String::new();
    for line in 1..=TARGETS {
        text.push_str(&format!("{}\n", server_of_line(line).0.url()));
    }
    let targets = private("scale-targets", &text);
    let creds = private(
        "scale-creds",
        "# the demo servers\n127.0.0.1 user demo password-env PW\n",
    );
    let began = Instant::now();
    // Every target is 127.0.0.1: --per-host at its default (2) would be the bound, not --jobs.
    let o = popscope(&[
        "check",
        "--targets",
        &targets,
        "--credentials",
        &creds,
        "--json",
        "--jobs",
        "16",
        "--per-host",
        "16",
        "--injection-wait",
        "0",
    ]);
    println!(
        "{TARGETS} targets over {} servers, --jobs 16: {:.2} s",
        servers.len(),
        began.elapsed().as_secs_f64()
    );
    let (objects, summary) = lines(&o);

    let mut by_line: BTreeMap<usize, Vec<&serde_json::Value>> = BTreeMap::new();
    for v in &objects {
        let line = v["line"].as_u64().unwrap_or(0) as usize;
        by_line.entry(line).or_default().push(v);
    }
    assert_eq!(
        by_line.keys().copied().collect::<Vec<_>>(),
        (1..=TARGETS).collect::<Vec<_>>(),
        "a line without an object, or an object of no line"
    );
    for (line, found) in &by_line {
        assert_eq!(found.len(), 1, "line {line}: {} objects", found.len());
        let v = found[0];
        let (server, quirk) = server_of_line(*line);
        assert_eq!(v["target"], server.url(), "line {line}");
        assert_eq!(v["error"], serde_json::Value::Null, "line {line}: {v}");
        assert_eq!(v["logged_in"], true, "line {line}: {v}");
        match quirk {
            None => assert_eq!(above_info(v), Vec::<String>::new(), "line {line} (clean)"),
            Some(row) => {
                let rules = rule_ids(v);
                for rule in row.expected_rules {
                    assert!(
                        rules.iter().any(|r| r == rule),
                        "line {line} ({}): no {rule} in {rules:?}",
                        row.name
                    );
                }
            }
        }
    }
    assert_eq!(summary["targets"], TARGETS);
    assert_eq!(summary["checked"], TARGETS);
    assert_eq!(summary["failed"], 0);
    // The quirks' violations make the run's exit 1 (a rule broken), not 3 (a target failed).
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
