//! popscope against a real Dovecot on loopback, started by `scripts/dovecot.sh start` (the
//! README test command does it). Plain, STLS and implicit TLS, with a certificate made at test
//! time. Outside CI, without Dovecot running, these tests say so and pass; in CI they fail.

mod common;
use common::dovecot::{dovecot, unexpected_violations};
use common::{findings_of, popscope};

#[test]
fn check_against_dovecot_on_every_transport() {
    let Some(d) = dovecot() else { return };
    let plain = format!("pop3://127.0.0.1:{}", d.plain);
    let tls = format!("pop3s://127.0.0.1:{}", d.tls);
    for (url, starttls) in [(&plain, false), (&plain, true), (&tls, false)] {
        let mut args = vec![
            "check",
            url.as_str(),
            "--ca-file",
            d.ca.as_str(),
            "--user",
            "demo",
            "--password-env",
            "PW",
            "--json",
            "--injection-wait",
            "0.3",
        ];
        if starttls {
            args.push("--starttls");
        }
        let o = popscope(&args);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "{url} starttls={starttls}: {e}: {}",
                String::from_utf8_lossy(&o.stderr)
            )
        });
        let unexpected = unexpected_violations(&v);
        assert!(
            unexpected.is_empty(),
            "{url} starttls={starttls}: {unexpected:?}\n{v:#}"
        );
        assert!(v["logged_in"] == true, "{url}: {v:#}");
        if starttls || url.starts_with("pop3s") {
            assert_eq!(v["tls"]["verdict"], "verified", "{url}");
        }
        assert!(
            v["capabilities"]["authorization"]["list"]
                .as_array()
                .is_some_and(|l| !l.is_empty())
        );
    }
}

#[test]
fn a_client_certificate_logs_in_with_sasl_external() {
    let Some(d) = dovecot() else { return };
    let url = format!("pop3s://127.0.0.1:{}", d.tls);
    let cert = format!("{}/client.pem", d.certs);
    let key = format!("{}/client-key.pem", d.certs);
    let o = popscope(&[
        "send",
        &url,
        "--ca-file",
        &d.ca,
        "--client-cert",
        &cert,
        "--client-key",
        &key,
        "--user",
        "demo",
        "--login",
        "external",
        "STAT",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("-- tls client-cert")
            && out.contains("C: AUTH EXTERNAL =")
            && out.contains("→ TRANSACTION"),
        "{out}"
    );
    assert!(!out.contains("ST-009"), "{out}");
}

#[test]
fn dovecot_stuffs_dots_and_lists_exact_sizes() {
    let Some(d) = dovecot() else { return };
    let url = format!("pop3://127.0.0.1:{}", d.plain);
    let o = common::send_as_demo(
        &url,
        &[
            "--login", "user", "LIST", "RETR 2", "RETR 3", "RETR 4", "TOP 2 3", "--json",
        ],
    );
    let v = common::json(&o);
    let rules = common::rule_ids(&v);
    for bad in ["ML-002", "MSG-006", "TOP-001", "ML-001", "GEN-001"] {
        assert!(
            !rules.iter().any(|r| r == bad),
            "{bad} against Dovecot: {v:#}"
        );
    }
    assert_eq!(o.status.code(), Some(0), "{v:#}");
}

#[test]
fn a_bare_host_is_checked_on_every_transport_and_compared() {
    let Some(d) = dovecot() else { return };
    let host = format!("127.0.0.1:{}", d.plain);
    let o = popscope(&[
        "check",
        &host,
        "--tls-port",
        &d.tls,
        "--ca-file",
        &d.ca,
        "--json",
        "--passive",
    ]);
    let v = common::json(&o);
    let transports: Vec<&str> = v["transports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["transport"].as_str())
        .collect();
    assert_eq!(transports, vec!["plain", "stls", "implicit-tls"], "{v:#}");
    let cmp: Vec<&str> = v["comparison"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        cmp.contains(&"STLS is offered on the plain port"),
        "{cmp:?}"
    );
    assert!(
        cmp.contains(&"STLS and implicit TLS present the same certificate"),
        "{cmp:?}"
    );
    assert!(
        cmp.iter()
            .any(|c| c.starts_with("cleartext passwords are offered before TLS")),
        "{cmp:?}"
    );
}

#[test]
fn a_recording_of_a_dovecot_session_rechecks_to_the_same_findings() {
    let Some(d) = dovecot() else { return };
    let url = format!("pop3://127.0.0.1:{}", d.plain);
    let file = common::scratch_path(&format!(
        "popscope-dovecot-rec-{}.jsonl",
        std::process::id()
    ));
    let f = file.display().to_string();
    let o = popscope(&[
        "send",
        &url,
        "--starttls",
        "--ca-file",
        &d.ca,
        "--user",
        "demo",
        "--password-env",
        "PW",
        "--record",
        &f,
        "--json",
        "CAPA",
        "LIST",
        "UIDL",
        "RETR 2",
        "TOP 1 0",
    ]);
    let live = common::json(&o);
    let again = common::recheck(&f);
    assert!(!findings_of(&live).is_empty(), "{live:#}");
    assert_eq!(findings_of(&live), findings_of(&again));
    let rec = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        rec.contains("\"type\":\"tls\"") && !rec.contains("AGRlbW8AZGVtbw"),
        "TLS details recorded, password not"
    );
    let _ = std::fs::remove_file(&file);
}
