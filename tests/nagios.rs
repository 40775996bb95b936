//! `popscope check URL --nagios` as a monitoring system runs it: the plugin exit code for each
//! case (OK, WARNING, CRITICAL, UNKNOWN) and exactly one status line in the plugin format.

mod common;

use common::proxy::Spawned;
use common::{popscope, runtime, scratch_path, start};
use popscope::server::TlsMode;
use popscope_core::server::Quirk;

/// One status line taken apart: `POP3 STATE - text | label=value[unit];warn;crit;min;max …`.
struct StatusLine {
    state: String,
    text: String,
    /// label → (value, unit, warn, crit, min).
    perf: Vec<(String, f64, String, String, String, String)>,
}

fn status_line(o: &std::process::Output) -> StatusLine {
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {out:?}");
    assert!(out.ends_with('\n'), "{out:?}");
    let line = lines[0];
    assert!(!line.chars().any(char::is_control), "{line:?}");
    let (head, perf) = line.split_once(" | ").unwrap_or((line, ""));
    assert!(!head.contains('|'), "{line}");
    let rest = head
        .strip_prefix("POP3 ")
        .unwrap_or_else(|| panic!("{line}"));
    let (state, text) = rest.split_once(" - ").unwrap_or_else(|| panic!("{line}"));
    let perf = perf
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(|item| {
            let (label, data) = item.split_once('=').unwrap_or_else(|| panic!("{item}"));
            let fields: Vec<&str> = data.split(';').collect();
            assert_eq!(fields.len(), 4, "value;warn;crit;min: {item}");
            let unit_at = fields[0]
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                .unwrap_or(fields[0].len());
            let (value, unit) = fields[0].split_at(unit_at);
            let value: f64 = value.parse().unwrap_or_else(|e| panic!("{item}: {e}"));
            assert!(["", "s"].contains(&unit), "{item}");
            (
                label.to_owned(),
                value,
                unit.to_owned(),
                fields[1].to_owned(),
                fields[2].to_owned(),
                fields[3].to_owned(),
            )
        })
        .collect();
    StatusLine {
        state: state.to_owned(),
        text: text.to_owned(),
        perf,
    }
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn nagios_check(url: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["check", url, "--nagios"];
    args.extend_from_slice(extra);
    popscope(&args)
}

#[test]
fn a_clean_server_is_ok_with_every_timing() {
    let rt = runtime();
    let server = start(&rt, TlsMode::Implicit, None);
    let ca = server.certs.ca.display().to_string();
    let o = nagios_check(
        &server.url(),
        &["--ca-file", &ca, "--user", "demo", "--password-env", "PW"],
    );
    let s = status_line(&o);
    assert_eq!((code(&o), s.state.as_str()), (0, "OK"), "{}", s.text);
    assert!(s.text.contains("no violation, no warning"), "{}", s.text);
    let labels: Vec<&str> = s.perf.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(labels, ["connect", "tls", "greeting", "login", "cert_days"]);
    for (label, value, unit, _, _, min) in &s.perf[..4] {
        assert_eq!((unit.as_str(), min.as_str()), ("s", "0"), "{label}");
        assert!((0.0..10.0).contains(value), "{label}={value}");
    }
    let (_, days, _, warn, crit, _) = &s.perf[4];
    assert!(
        *days > 1000.0,
        "the demo's certificate ends in 4096: {days}"
    );
    assert_eq!((warn.as_str(), crit.as_str()), ("30:", "7:"));
    // STLS: the handshake after it is timed too; no login asked, none timed.
    let stls = start(&rt, TlsMode::Starttls, None);
    let ca = stls.certs.ca.display().to_string();
    let o = nagios_check(&stls.url(), &["--ca-file", &ca, "--starttls"]);
    let s = status_line(&o);
    assert_eq!(code(&o), 0, "{}", s.text);
    let labels: Vec<&str> = s.perf.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(labels, ["connect", "tls", "greeting", "cert_days"]);
}

#[test]
fn a_warning_is_warning_and_a_violation_critical() {
    let rt = runtime();
    let warns = start(&rt, TlsMode::Implicit, Some(Quirk::OauthNoError));
    let ca = warns.certs.ca.display().to_string();
    let o = nagios_check(&warns.url(), &["--ca-file", &ca]);
    let s = status_line(&o);
    assert_eq!((code(&o), s.state.as_str()), (1, "WARNING"), "{}", s.text);
    assert!(s.text.contains("1 warning (OAUTH-003)"), "{}", s.text);

    let breaks = start(&rt, TlsMode::Implicit, Some(Quirk::LowercaseStatus));
    let ca = breaks.certs.ca.display().to_string();
    let o = nagios_check(&breaks.url(), &["--ca-file", &ca]);
    let s = status_line(&o);
    assert_eq!((code(&o), s.state.as_str()), (2, "CRITICAL"), "{}", s.text);
    assert!(s.text.contains("violations (GEN-002)"), "{}", s.text);
}

#[test]
fn an_unreachable_server_is_critical() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let o = nagios_check(&format!("pop3://127.0.0.1:{port}"), &[]);
    let s = status_line(&o);
    assert_eq!((code(&o), s.state.as_str()), (2, "CRITICAL"), "{}", s.text);
    assert!(s.text.contains("connection refused"), "{}", s.text);
    assert!(s.perf.is_empty(), "nothing measured");
    // An untrusted certificate is critical too (check_spop's "certificate" failure).
    let rt = runtime();
    let server = start(&rt, TlsMode::Implicit, None);
    let o = nagios_check(&server.url(), &[]);
    assert_eq!(code(&o), 2, "{}", status_line(&o).text);
}

#[test]
fn bad_usage_is_unknown_in_one_line() {
    for args in [
        &[
            "check",
            "pop3://127.0.0.1:1",
            "--nagios",
            "--warn-days",
            "x",
        ][..],
        &[
            "check",
            "pop3://127.0.0.1:1",
            "--nagios",
            "--crit-days",
            "40",
        ],
        &["check", "imap://127.0.0.1", "--nagios"],
        &["check", "pop3://127.0.0.1:1", "--nagios", "--json"],
    ] {
        let o = popscope(args);
        let s = status_line(&o);
        assert_eq!(
            (code(&o), s.state.as_str()),
            (3, "UNKNOWN"),
            "{args:?}: {}",
            s.text
        );
    }
    // Without --nagios the codes are popscope's own.
    assert_eq!(
        code(&popscope(&[
            "check",
            "pop3://127.0.0.1:1",
            "--warn-days",
            "3"
        ])),
        2
    );
}

/// A CA and a server certificate for 127.0.0.1 that ends in `days` days (and an hour), in
/// PEM files: (ca, cert, key).
fn short_lived_cert(days: u64) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    fn panic<T>(e: rcgen::Error) -> T {
        panic!("{e}")
    }
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(panic);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "short-lived test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap_or_else(panic))
        .unwrap_or_else(panic);
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap_or_else(panic);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // rcgen takes a calendar date: 00:00 UTC `days + 1` days after today is between `days`
    // and `days + 1` whole days from now.
    let (y, m, d) = civil_from_days(now / 86_400 + days + 1);
    server.not_after = rcgen::date_time_ymd(y, m, d);
    let key = KeyPair::generate().unwrap_or_else(panic);
    let cert = server.signed_by(&key, &ca).unwrap_or_else(panic);
    let write = |name: &str, pem: String| {
        let path = scratch_path(name);
        std::fs::write(&path, pem).unwrap_or_else(|e| panic!("{e}"));
        path.display().to_string()
    };
    (
        write("short-ca.pem", ca.pem()),
        write("short.pem", cert.pem()),
        write("short-key.pem", key.serialize_pem()),
    )
}

fn civil_from_days(z: u64) -> (i32, u8, u8) {
    let z = z as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        (yoe + era * 400 + i64::from(m <= 2)) as i32,
        m as u8,
        d as u8,
    )
}

#[test]
fn a_certificate_that_ends_soon_is_a_warning_then_critical() {
    // The conformant demo behind `popscope proxy`, which shows the check a certificate
    // that ends in 10 days.
    let rt = runtime();
    let server = start(&rt, TlsMode::Implicit, None);
    let (ca, cert, key) = short_lived_cert(10);
    let upstream_ca = server.certs.ca.display().to_string();
    let proxy = Spawned::new(
        &[
            "--headless",
            "--listen",
            "pop3s://127.0.0.1:0",
            "--cert",
            &cert,
            "--key",
            &key,
            "--upstream",
            &server.url(),
            "--ca-file",
            &upstream_ca,
        ],
        &[],
    );
    let url = format!("pop3s://127.0.0.1:{}", proxy.port);
    let o = nagios_check(&url, &["--ca-file", &ca]);
    let s = status_line(&o);
    assert_eq!((code(&o), s.state.as_str()), (1, "WARNING"), "{}", s.text);
    assert!(
        s.text.contains("certificate expires in 10 days"),
        "{}",
        s.text
    );
    let days = s.perf.iter().find(|p| p.0 == "cert_days").map(|p| p.1);
    assert_eq!(days, Some(10.0));
    // The same certificate with --crit-days 10 is critical; with --warn-days 9 it is fine.
    let o = nagios_check(&url, &["--ca-file", &ca, "--crit-days", "10"]);
    assert_eq!(code(&o), 2, "{}", status_line(&o).text);
    let o = nagios_check(
        &url,
        &["--ca-file", &ca, "--warn-days", "9", "--crit-days", "2"],
    );
    assert_eq!(code(&o), 0, "{}", status_line(&o).text);
}

#[test]
fn a_refused_login_is_critical() {
    let rt = runtime();
    let server = start(&rt, TlsMode::Implicit, None);
    let ca = server.certs.ca.display().to_string();
    let o = common::popscope_with(
        "wrong",
        &[
            "check",
            &server.url(),
            "--nagios",
            "--ca-file",
            &ca,
            "--user",
            "demo",
            "--password-env",
            "PW",
        ],
    );
    let s = status_line(&o);
    assert_eq!((code(&o), s.state.as_str()), (2, "CRITICAL"), "{}", s.text);
    assert!(s.text.contains("the login was refused"), "{}", s.text);
}
