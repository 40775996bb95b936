//! `popscope check`: a recorded session offline, or a live server (one URL, or every transport
//! of a bare host).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::report::{self, Leg, LiveRun};
use crate::transport::{Scheme, Target};
use popscope_core::{Config, Severity};

use super::connect::transport_error;
use super::walk::{self, LoginAttempt, PlaintextLogin, WalkOptions, WalkResult};
use super::{CheckArgs, CliError, exit, severity_overrides};

pub fn run(args: &CheckArgs) -> Result<u8, CliError> {
    match (&args.transcript, &args.url) {
        (Some(_), _) => run_transcript(args),
        (None, Some(url)) => run_live(args, url),
        (None, None) => Err(CliError::usage("give a URL, a host, or --transcript FILE")),
    }
}

fn print(s: &str) {
    // A closed pipe (e.g. `| head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

fn run_transcript(args: &CheckArgs) -> Result<u8, CliError> {
    let overrides = severity_overrides(&args.severity)?;
    let Some(file) = &args.transcript else {
        return Err(CliError::usage("--transcript needs a file"));
    };
    let config = Config {
        severity_overrides: overrides,
        ..Config::default()
    };
    // Every session of the file, re-checked as it is read (bounded memory).
    super::convert::recheck(file, &config, None, args.json)
}

fn run_live(args: &CheckArgs, url: &str) -> Result<u8, CliError> {
    let target = Target::parse(url).map_err(CliError::usage)?;
    let overrides = severity_overrides(&args.severity)?;
    let creds = args.conn.credentials()?;
    let record = args.conn.record_file()?;
    let show: Option<Arc<Mutex<Box<dyn Write + Send>>>> = args.show_sessions.then(|| {
        Arc::new(Mutex::new(
            Box::new(std::io::stdout()) as Box<dyn Write + Send>
        ))
    });
    let walk_opts = |scheme: Scheme, starttls: bool, target: &Target, plaintext_login| {
        let mut conn = args.conn.clone();
        conn.starttls = starttls;
        WalkOptions {
            target: target.clone(),
            scheme,
            conn,
            creds: creds.clone(),
            engine: Config {
                severity_overrides: overrides.clone(),
                ..Config::default()
            },
            passive: args.passive,
            probe_connections: true,
            extra: Vec::new(),
            no_retr: args.no_retr,
            allow_delete: args.allow_delete,
            injection_wait: Duration::from_secs_f64(args.injection_wait.clamp(0.0, 60.0)),
            show: show.clone(),
            record: record.clone(),
            plaintext_login,
        }
    };
    // A URL without --starttls is the user's choice (said aloud when STLS was on offer); a
    // bare host is walked on transports popscope picked, so its plain leg keeps the password.
    let explicit = if args.allow_plaintext_login {
        PlaintextLogin::Allow
    } else {
        PlaintextLogin::Warn { stderr: !args.json }
    };
    let rt = super::runtime()?;
    // Every leg tried, in order: its URL, transport, and walk or the error that stopped it.
    let mut tried: Vec<(String, &'static str, Result<WalkResult, String>)> = Vec::new();
    let mut comparison = Vec::new();
    let bare = target.scheme.is_none();
    match target.scheme {
        Some(scheme) => {
            let starttls = args.conn.starttls && scheme == Scheme::Pop3;
            let r = rt
                .block_on(walk::run(walk_opts(scheme, starttls, &target, explicit)))
                .map_err(transport_error)?;
            let transport = match (scheme, starttls) {
                (Scheme::Pop3s, _) => "implicit TLS",
                (Scheme::Pop3, true) => "STLS",
                (Scheme::Pop3, false) => "plain",
            };
            tried.push((target.url(scheme), transport, Ok(r)));
        }
        None => {
            // Every transport the host offers: implicit TLS first, so that the plain leg knows
            // whether it may log in (never, when the host offers TLS, unless asked).
            let mut tls_target = target.clone();
            tls_target.port = Some(args.tls_port.unwrap_or(995));
            let implicit = rt.block_on(walk::run(walk_opts(
                Scheme::Pop3s,
                false,
                &tls_target,
                PlaintextLogin::Allow,
            )));
            let tls_elsewhere = match &implicit {
                Ok(_) => true,
                Err(e) => e.exit_code() == exit::TLS,
            };
            let plain_login = if args.allow_plaintext_login {
                PlaintextLogin::Allow
            } else {
                PlaintextLogin::Refuse { tls_elsewhere }
            };
            let plain = rt.block_on(walk::run(walk_opts(
                Scheme::Pop3,
                false,
                &target,
                plain_login,
            )));
            let stls_offered = plain
                .as_ref()
                .ok()
                .and_then(|r| r.caps.auth.as_ref().or(r.caps.pre_tls.as_ref()))
                .is_some_and(|c| c.has("STLS"));
            let stls = if stls_offered {
                Some(rt.block_on(walk::run(walk_opts(
                    Scheme::Pop3,
                    true,
                    &target,
                    PlaintextLogin::Allow,
                ))))
            } else {
                None
            };
            comparison = compare(
                plain.as_ref().ok(),
                stls.as_ref().and_then(|r| r.as_ref().ok()),
                implicit.as_ref().ok(),
            );
            for (scheme, t, name, r) in [
                (Scheme::Pop3, &target, "plain", Some(plain)),
                (Scheme::Pop3, &target, "STLS", stls),
                (Scheme::Pop3s, &tls_target, "implicit TLS", Some(implicit)),
            ] {
                let Some(r) = r else { continue };
                let url = t.url(scheme);
                if let Err(e) = &r {
                    comparison.push(format!("{name} on {url}: {e}"));
                }
                tried.push((url, name, r.map_err(|e| e.to_string())));
            }
            if tried.iter().all(|(_, _, r)| r.is_err()) {
                return Err(CliError {
                    code: exit::CONNECT,
                    message: format!(
                        "no transport of {} answered: {}",
                        target.host,
                        comparison.join("; ")
                    ),
                });
            }
        }
    }
    let live: Vec<LiveRun<'_>> = tried
        .iter()
        .filter_map(|(url, transport, r)| {
            Some(LiveRun {
                url: url.clone(),
                transport,
                result: r.as_ref().ok()?,
            })
        })
        .collect();
    let failure = walk_failure(&live, tried.len());
    if args.json {
        let mut value = match live.as_slice() {
            [one] if !bare => report::live_json(one),
            _ => {
                let legs: Vec<Leg<'_>> = tried
                    .iter()
                    .map(|(url, transport, r)| Leg {
                        url: url.clone(),
                        transport,
                        outcome: r.as_ref().map_err(String::clone),
                    })
                    .collect();
                report::host_json(&legs, &comparison)
            }
        };
        if let Some(f) = &failure {
            // As `send --json`: the report, and what stopped the run.
            value["error"] = serde_json::json!({ "message": f.message, "exit": f.code });
        }
        let s = serde_json::to_string_pretty(&value).map_err(|e| CliError::usage(e.to_string()))?;
        print(&format!("{s}\n"));
    } else {
        print(&report::live_text(&live, &comparison));
    }
    if let Some(f) = failure {
        return super::connect::finish_record(record.as_ref(), Err(f));
    }
    let violations = live.iter().any(|r| {
        r.result
            .findings
            .iter()
            .any(|(_, f)| f.severity == Severity::Violation)
    });
    super::connect::finish_record(record.as_ref(), Ok(exit::verdict(violations)))
}

/// The run's failure when no leg could be walked: every leg that connected timed out on its
/// main connection's first replies (the others did not connect). The report says what it
/// could; the exit code says that nothing was checked (the connection contract: exit 3).
fn walk_failure(live: &[LiveRun<'_>], legs: usize) -> Option<CliError> {
    let failed: Vec<&crate::transport::TransportError> = live
        .iter()
        .filter_map(|r| r.result.failure.as_ref())
        .collect();
    if failed.is_empty() || failed.len() < live.len() {
        return None;
    }
    let first = failed.first()?;
    let mut message = first.to_string();
    if legs > 1 {
        message = format!("no transport could be walked: {message}");
    }
    Some(CliError {
        code: first.exit_code(),
        message,
    })
}

/// What differs between the transports of one host.
fn compare(
    plain: Option<&WalkResult>,
    stls: Option<&WalkResult>,
    implicit: Option<&WalkResult>,
) -> Vec<String> {
    let mut out = Vec::new();
    // Only a plain leg that answered can say whether STLS is offered (a DNS failure or a
    // refused port says nothing about it; its own line says what went wrong).
    if let Some(p) = plain {
        let stls = p
            .caps
            .auth
            .as_ref()
            .or(p.caps.pre_tls.as_ref())
            .is_some_and(|c| c.has("STLS"));
        out.push(if stls {
            "STLS is offered on the plain port".into()
        } else {
            "STLS is NOT offered on the plain port".into()
        });
        let caps = p.caps.auth.as_ref();
        // Only what sends the password itself: challenge-response (APOP, CRAM-MD5) is not.
        let cleartext: Vec<&str> = caps
            .map(|c| {
                [
                    ("USER", c.has("USER")),
                    ("SASL PLAIN", c.has_sasl("PLAIN")),
                    ("SASL LOGIN", c.has_sasl("LOGIN")),
                ]
                .into_iter()
                .filter_map(|(name, offered)| offered.then_some(name))
                .collect()
            })
            .unwrap_or_default();
        if p.logged_in {
            out.push(match p.login {
                LoginAttempt::Sent(m) if m.sends_password() => format!(
                    "a cleartext login ({}) was accepted before TLS: the password went over the network unencrypted",
                    m.label()
                ),
                LoginAttempt::Sent(m) => format!(
                    "a login with {} was accepted before TLS (not a cleartext password, but the user name and the exchange went unencrypted)",
                    m.label()
                ),
                _ => "the session reached TRANSACTION before TLS without a login".into(),
            });
        }
        if !cleartext.is_empty() {
            out.push(format!(
                "cleartext passwords are offered before TLS ({})",
                cleartext.join(", ")
            ));
        } else {
            out.push("no cleartext password mechanism is offered before TLS".into());
        }
    }
    if let (Some(s), Some(i)) = (stls, implicit) {
        let fp = |r: &WalkResult| {
            r.tls
                .as_ref()
                .and_then(|t| t.chain.first())
                .map(|c| c.sha256.clone())
        };
        match (fp(s), fp(i)) {
            (Some(a), Some(b)) if a == b => {
                out.push("STLS and implicit TLS present the same certificate".into())
            }
            (Some(_), Some(_)) => {
                out.push("STLS and implicit TLS present DIFFERENT certificates".into())
            }
            _ => {}
        }
        let caps = |r: &WalkResult| {
            r.caps.auth.as_ref().map(|c| {
                let mut t: Vec<String> = c.list.iter().map(|x| x.tag.clone()).collect();
                t.sort();
                t
            })
        };
        if caps(s) != caps(i) {
            out.push(format!(
                "capabilities after TLS differ: STLS [{}] vs implicit TLS [{}]",
                caps(s).unwrap_or_default().join(" "),
                caps(i).unwrap_or_default().join(" ")
            ));
        } else {
            out.push("capabilities after TLS are the same on both TLS transports".into());
        }
    }
    out
}
