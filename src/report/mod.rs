//! Check reports for people (text) and for programs (JSON). Both render the same findings.

use serde_json::{Value, json};

use crate::check::{Leg, LoginAttempt, WalkResult};
use crate::transcript::replay::{LocatedFinding, Replayed};
use popscope_core::sanitize::display;
use popscope_core::{Finding, Security, Severity, Tally, Transition};

pub(crate) mod connection;
pub mod fleet;

pub(crate) use connection::ConnectionReport;

/// Whose behaviour `rule` judges: "client" for the CL rules, else "server".
pub(crate) fn side(rule: &popscope_core::RuleInfo) -> &'static str {
    if rule.judges_client() {
        "client"
    } else {
        "server"
    }
}

pub(crate) fn finding_json(f: &Finding, line: Option<usize>) -> Value {
    let mut v = json!({
        "rule": f.rule.id,
        "side": side(f.rule),
        "severity": f.severity,
        "rfc": f.rule.rfc,
        "summary": f.rule.summary,
        "message": f.message,
        "suspected": f.suspected,
        "exchange": f.at.exchange,
        "direction": f.at.direction,
        "offset": f.at.offset,
    });
    if let (Some(line), Some(obj)) = (line, v.as_object_mut()) {
        obj.insert("line".into(), json!(line));
    }
    v
}

fn transition_json(t: &Transition) -> Value {
    json!({
        "from": t.from.name(),
        "to": t.to.name(),
        "reason": t.reason,
        "lawful": t.lawful,
        "exchange": t.exchange,
    })
}

/// The JSON report of `check --transcript`.
pub(crate) fn transcript_json(source: &str, r: &Replayed) -> Value {
    let findings: Vec<Value> = r
        .findings
        .iter()
        .map(|lf| finding_json(&lf.finding, Some(lf.line)))
        .collect();
    json!({
        "popscope": env!("CARGO_PKG_VERSION"),
        "source": source,
        "summary": r.tally(),
        "findings": findings,
        "findings_left_out": r.left_out.findings.total(),
        "final_state": r.session.state.name(),
        "transport": r.session.security,
        "transitions": r.transitions.iter().map(transition_json).collect::<Vec<_>>(),
        "transitions_left_out": r.left_out.transitions,
        "capabilities": {
            "before_tls": r.session.caps.pre_tls,
            "authorization": r.session.caps.auth,
            "transaction": r.session.caps.trans,
        },
    })
}

/// The human report: findings grouped by severity, each with rule, RFC, explanation and the
/// offending transcript line.
pub(crate) fn transcript_text(source: &str, r: &Replayed, file: &[u8]) -> String {
    let lines: Vec<&[u8]> = file.split(|&b| b == b'\n').collect();
    let mut out = String::new();
    out.push_str(&format!("popscope check {source}\n"));
    let path: Vec<&str> = std::iter::once(
        r.transitions
            .first()
            .map(|t| t.from.name())
            .unwrap_or("greeting"),
    )
    .chain(r.transitions.iter().map(|t| t.to.name()))
    .collect();
    let more = match r.left_out.transitions {
        0 => String::new(),
        n => format!(" → … ({n} more changes not kept)"),
    };
    out.push_str(&format!("states: {}{more}\n", path.join(" → ")));
    for t in r.transitions.iter().filter(|t| !t.lawful) {
        out.push_str(&format!(
            "  unlawful: {} → {}: {}\n",
            t.from.name(),
            t.to.name(),
            t.reason
        ));
    }
    // The server's findings, then the client's under a heading of their own: a re-checked
    // transcript may hold a client that broke the RFC, and it must not read as the server's.
    for client in [false, true] {
        let side: Vec<&LocatedFinding> = r
            .findings
            .iter()
            .filter(|f| f.finding.rule.judges_client() == client)
            .collect();
        if client && !side.is_empty() {
            out.push_str(&format!(
                "\nThe client ({}):\n",
                Tally::of(side.iter().map(|lf| &lf.finding)).counts()
            ));
        }
        for sev in [Severity::Violation, Severity::Warning, Severity::Info] {
            let group: Vec<&LocatedFinding> = side
                .iter()
                .copied()
                .filter(|f| f.finding.severity == sev)
                .collect();
            if group.is_empty() {
                continue;
            }
            out.push_str(&group_heading(sev, group.len()));
            for lf in group {
                located(&mut out, lf, &lines);
            }
        }
    }
    out.push_str(&left_out_line(&r.left_out.findings));
    out.push_str(&format!("\n{}\n", r.tally().counts()));
    out
}

/// What a text report says of the findings it did not list (nothing when it listed all).
fn left_out_line(left_out: &Tally) -> String {
    match left_out.total() {
        0 => String::new(),
        n => format!(
            "\n{n} more findings not listed ({}): a report keeps the first {}\n",
            left_out.counts(),
            crate::transcript::replay::MAX_KEPT
        ),
    }
}

/// One finding of a re-checked transcript: rule, RFC, line, explanation, the line quoted.
fn located(out: &mut String, lf: &LocatedFinding, lines: &[&[u8]]) {
    let f = &lf.finding;
    out.push_str(&format!(
        "  {:<9} {}  line {}{}\n",
        f.rule.id,
        f.rule.rfc,
        lf.line,
        if f.suspected { "  (suspected)" } else { "" }
    ));
    out.push_str(&wrap(&f.message, 96, "            "));
    let quoted = lf.quote.as_deref();
    if let Some(text) = quoted.or_else(|| lines.get(lf.line.wrapping_sub(1)).copied()) {
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        out.push_str(&format!("            > {}\n", display(text, 100)));
    }
}

/// The heading of one severity group: "✖ 2 violations".
fn group_heading(sev: Severity, n: usize) -> String {
    format!("\n{} {} {}\n", sev.marker(), n, plural(sev, n))
}

fn plural(s: Severity, n: usize) -> &'static str {
    match (s, n) {
        (Severity::Violation, 1) => "violation",
        (Severity::Violation, _) => "violations",
        (Severity::Warning, 1) => "warning",
        (Severity::Warning, _) => "warnings",
        (Severity::Info, _) => "info",
    }
}

fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + word.len() + 1 > width {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// One transport's walk, for the live reports.
pub(crate) struct LiveRun<'a> {
    pub(crate) url: String,
    /// In the JSON reports as `check --transcript` names it (`plain`, `stls`, `implicit-tls`);
    /// in the text report as [`crate::check::transports::name`] does.
    pub(crate) transport: Security,
    pub(crate) result: &'a WalkResult,
}

fn walk_json(run: &LiveRun<'_>) -> Value {
    let r = run.result;
    let findings: Vec<Value> = r
        .findings
        .iter()
        .map(|(conn, f)| {
            let mut v = finding_json(f, None);
            if let Some(o) = v.as_object_mut() {
                o.insert("connection".into(), json!(conn));
            }
            v
        })
        .collect();
    json!({
        "target": run.url,
        "transport": run.transport,
        "summary": r.tally(),
        "findings": findings,
        "findings_left_out": r.findings_left_out.total(),
        "tls": r.tls,
        "insecure": r.tls.as_ref().is_some_and(|t| t.insecure),
        "capabilities": {
            "before_tls": r.caps.pre_tls,
            "authorization": r.caps.auth,
            "transaction": r.caps.trans,
        },
        "logged_in": r.logged_in,
        "final_state": r.final_state.map(|s| s.name()),
        "connections": r.connections,
        "notes": r.notes,
        "timings": timings_json(&r.timings),
    })
}

/// The main connection's steps in seconds (null for a step not taken): what `--nagios`
/// reports as performance data.
fn timings_json(t: &crate::session::Timings) -> Value {
    let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64());
    json!({
        "connect": secs(t.connect),
        "tls": secs(t.tls),
        "greeting": secs(t.greeting),
        "login": secs(t.login),
    })
}

/// The JSON report of `popscope check URL`: one walk.
pub(crate) fn live_json(run: &LiveRun<'_>) -> Value {
    let mut v = walk_json(run);
    if let Some(o) = v.as_object_mut() {
        o.insert("popscope".into(), json!(env!("CARGO_PKG_VERSION")));
    }
    v
}

/// The JSON report of `popscope check HOST`: every transport tried (one that failed with its
/// `error`, and no findings), and the comparison, however many of them answered.
pub(crate) fn host_json(legs: &[Leg], comparison: &[String]) -> Value {
    let all = legs
        .iter()
        .filter_map(|l| l.outcome.as_ref().ok())
        .fold(Tally::default(), |t, r| t.and(&r.tally()));
    let transports: Vec<Value> = legs
        .iter()
        .map(|leg| match &leg.outcome {
            Ok(result) => {
                let mut v = walk_json(&LiveRun {
                    url: leg.url.clone(),
                    transport: leg.transport,
                    result,
                });
                if let Some(o) = v.as_object_mut() {
                    o.insert("error".into(), Value::Null);
                }
                v
            }
            Err(e) => json!({
                "target": leg.url,
                "transport": leg.transport,
                "error": e,
                "summary": Tally::default(),
                "findings": [],
                "logged_in": false,
            }),
        })
        .collect();
    json!({
        "popscope": env!("CARGO_PKG_VERSION"),
        "summary": all,
        "transports": transports,
        "comparison": comparison,
    })
}

/// Why a walk stayed out of TRANSACTION, in the text report (None when it logged in).
fn no_login_line(r: &WalkResult) -> Option<String> {
    if r.logged_in {
        return None;
    }
    Some(match r.login {
        LoginAttempt::NoCredentials => {
            "(no login: give --user and a password to walk TRANSACTION too)".into()
        }
        LoginAttempt::Withheld => "(no login, on purpose: the host offers TLS, so the credentials of --user were kept off this unencrypted connection)".into(),
        LoginAttempt::Sent(m) => format!(
            "(the login with {} did not succeed: TRANSACTION was not walked)",
            m.label()
        ),
    })
}

/// The readable report of a live check.
pub(crate) fn live_text(runs: &[LiveRun<'_>], comparison: &[String]) -> String {
    let mut out = String::new();
    for run in runs {
        let r = run.result;
        let transport = crate::check::transports::name(run.transport);
        out.push_str(&format!("popscope check {} ({transport})\n", run.url));
        if let Some(t) = &r.tls {
            out.push_str(&format!("  TLS: {}\n", t.summary()));
            if t.insecure {
                out.push_str("  !! --insecure: the server certificate was NOT verified\n");
            }
        }
        let caps = |c: &Option<popscope_core::capability::Capabilities>| {
            c.as_ref().map_or("(not seen)".to_owned(), |c| c.summary())
        };
        if r.caps.pre_tls.is_some() {
            out.push_str(&format!("  CAPA before TLS:  {}\n", caps(&r.caps.pre_tls)));
        }
        out.push_str(&format!("  CAPA before login: {}\n", caps(&r.caps.auth)));
        out.push_str(&format!("  CAPA after login:  {}\n", caps(&r.caps.trans)));
        out.push_str(&format!(
            "  connections: {}\n",
            r.connections
                .iter()
                .enumerate()
                .map(|(i, c)| format!("#{i} {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if let Some(why) = no_login_line(r) {
            out.push_str(&format!("  {why}\n"));
        }
        for n in &r.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        for sev in [Severity::Violation, Severity::Warning, Severity::Info] {
            let group: Vec<&(usize, Finding)> = r
                .findings
                .iter()
                .filter(|(_, f)| f.severity == sev)
                .collect();
            if group.is_empty() {
                continue;
            }
            out.push_str(&group_heading(sev, group.len()));
            for (conn, f) in group {
                out.push_str(&format!(
                    "  {:<9} {}  connection #{conn}, exchange {}{}\n",
                    f.rule.id,
                    f.rule.rfc,
                    f.at.exchange,
                    if f.suspected { "  (suspected)" } else { "" }
                ));
                out.push_str(&wrap(&f.message, 96, "            "));
            }
        }
        out.push_str(&left_out_line(&r.findings_left_out));
        out.push_str(&format!("\n{}\n\n", r.tally().counts()));
    }
    if !comparison.is_empty() {
        out.push_str("comparison of the transports:\n");
        for c in comparison {
            out.push_str(&format!("  - {c}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::WalkResult;
    use popscope_core::Location;
    use popscope_core::rules::catalog;

    fn finding(severity: Severity) -> Finding {
        Finding {
            rule: &catalog::GEN_006,
            severity,
            message: "m".into(),
            suspected: false,
            at: Location {
                exchange: 1,
                direction: None,
                offset: 0,
            },
        }
    }

    #[test]
    fn counts_are_singular_for_one() {
        let result = WalkResult {
            findings: vec![
                (0, finding(Severity::Violation)),
                (0, finding(Severity::Warning)),
            ],
            ..WalkResult::default()
        };
        let run = |transport| LiveRun {
            url: "pop3s://h".into(),
            transport,
            result: &result,
        };
        let text = live_text(&[run(Security::ImplicitTls)], &[]);
        assert!(
            text.contains("\n1 violation, 1 warning, 0 info\n"),
            "{text}"
        );
        assert!(text.contains("✖ 1 violation\n"), "{text}");
        assert_eq!(
            Tally::default().counts(),
            "0 violations, 0 warnings, 0 info"
        );
        // The JSON names transports as the engine does (`check --transcript`'s `transport`).
        for (transport, json) in [
            (Security::ImplicitTls, "implicit-tls"),
            (Security::Stls, "stls"),
            (Security::Plain, "plain"),
        ] {
            assert_eq!(live_json(&run(transport))["transport"], json);
            let legs = [Leg {
                url: "pop3://h".into(),
                transport,
                outcome: Ok(WalkResult::default()),
            }];
            assert_eq!(host_json(&legs, &[])["transports"][0]["transport"], json);
        }
        assert_eq!(json!(Security::ImplicitTls), "implicit-tls");
    }

    #[test]
    fn a_host_report_keeps_every_leg_and_the_comparison() {
        let legs = [
            Leg {
                url: "pop3://h".into(),
                transport: Security::Plain,
                outcome: Ok(WalkResult::default()),
            },
            Leg {
                url: "pop3s://h:1".into(),
                transport: Security::ImplicitTls,
                outcome: Err("connection refused".into()),
            },
        ];
        let v = host_json(
            &legs[..1],
            &["STLS is NOT offered on the plain port".into()],
        );
        assert_eq!(v["transports"].as_array().map(Vec::len), Some(1), "{v}");
        assert_eq!(v["comparison"][0], "STLS is NOT offered on the plain port");
        let v = host_json(&legs, &[]);
        assert_eq!(v["transports"][0]["error"], Value::Null, "{v}");
        assert_eq!(v["transports"][1]["error"], "connection refused", "{v}");
        assert_eq!(v["transports"][1]["transport"], "implicit-tls", "{v}");
        assert!(v["comparison"].is_array(), "{v}");
    }

    #[test]
    fn the_no_login_line_says_why() {
        let mut r = WalkResult::default();
        assert!(no_login_line(&r).is_some_and(|l| l.contains("give --user")));
        r.login = LoginAttempt::Withheld;
        let l = no_login_line(&r).unwrap_or_default();
        assert!(
            l.contains("on purpose") && !l.contains("give --user"),
            "{l}"
        );
        r.login = LoginAttempt::Sent(crate::session::login::Method::CramMd5);
        let l = no_login_line(&r).unwrap_or_default();
        assert!(l.contains("AUTH CRAM-MD5 did not succeed"), "{l}");
        r.logged_in = true;
        assert_eq!(no_login_line(&r), None);
    }
}
