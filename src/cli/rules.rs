//! `popscope rules`: the catalog as implemented.

use std::io::Write;

use popscope_core::rules::{CATALOG, RuleInfo, Scope, find};

use super::{CliError, RulesArgs, exit};

fn scope_text(scope: Scope) -> &'static str {
    match scope {
        Scope::Passive => "passive",
        Scope::PassiveAndProbe => "passive+probe",
        Scope::Probe => "probe",
        Scope::CrossSession => "cross-session",
        Scope::Umbrella => "umbrella",
    }
}

const HEADER: &str =
    "RULE       SEVERITY   JUDGED          RFC                               SUMMARY\n";

/// Whose behaviour a rule judges (`--side`, and `side` in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Side {
    /// The server's (every rule but the CL ones).
    Server,
    /// The client's (CL-*).
    Client,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }
}

fn side_of(r: &RuleInfo) -> Side {
    if r.judges_client() {
        Side::Client
    } else {
        Side::Server
    }
}

/// A rule as JSON: the catalog row and whose behaviour it judges.
fn rule_json(r: &&RuleInfo) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("side".into(), side_of(r).as_str().into());
    }
    v
}

/// One line of the listing.
fn row(r: &RuleInfo) -> String {
    format!(
        "{:<10} {:<10} {:<15} {:<33} {}{}\n",
        r.id,
        r.severity.as_str(),
        scope_text(r.scope),
        r.rfc,
        r.summary,
        if r.see.is_empty() {
            String::new()
        } else {
            format!(" [{}]", r.see)
        }
    )
}

/// One rule told in full: `popscope rules OAUTH-003`.
fn one_rule(r: &RuleInfo) -> String {
    let judged = scope_text(r.scope);
    let mut s = format!(
        "{}  {}\n  severity  {} (the highest it reports)\n  judged    {judged}",
        r.id,
        r.summary,
        r.severity.as_str()
    );
    if !r.see.is_empty() {
        let what = if r.scope == Scope::Umbrella {
            "reported as"
        } else {
            "provoked by"
        };
        s.push_str(&format!(" ({what} {})", r.see));
    }
    s.push_str(&format!("\n  source    {}\n", r.rfc));
    if r.judges_client() {
        s.push_str("  judges    the client, not the server\n");
    }
    s
}

pub fn run(args: &RulesArgs) -> Result<u8, CliError> {
    if let Some(id) = &args.rule {
        let r = find(id.trim()).ok_or_else(|| {
            CliError::usage(format!("no rule '{}' (see `popscope rules`)", id.trim()))
        })?;
        let out = if args.json {
            let mut s = serde_json::to_string_pretty(&rule_json(&r))
                .map_err(|e| CliError::usage(e.to_string()))?;
            s.push('\n');
            s
        } else {
            one_rule(r)
        };
        let _ = std::io::stdout().lock().write_all(out.as_bytes());
        return Ok(exit::OK);
    }
    let listed = |r: &&&RuleInfo| args.side.is_none_or(|side| side == side_of(r));
    let out = if args.json {
        let rules: Vec<serde_json::Value> = CATALOG.iter().filter(listed).map(rule_json).collect();
        let mut s =
            serde_json::to_string_pretty(&rules).map_err(|e| CliError::usage(e.to_string()))?;
        s.push('\n');
        s
    } else {
        let mut s = String::new();
        for (side, heading) in [
            (Side::Server, ""),
            (
                Side::Client,
                "\nThe client's rules: judged when popscope watches a client it did not write (a re-checked transcript; the proxy and the demo server to come)\n",
            ),
        ] {
            let rows: Vec<&&RuleInfo> = CATALOG
                .iter()
                .filter(listed)
                .filter(|r| side_of(r) == side)
                .collect();
            if rows.is_empty() {
                continue;
            }
            s.push_str(heading);
            s.push_str(HEADER);
            for r in rows {
                s.push_str(&row(r));
            }
        }
        s.push_str("\npassive: judged by watching one session; passive+probe: also provoked by the active probe named;\nprobe / cross-session: need an active probe or a second session; umbrella: reported as the rules named.\n");
        s
    };
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(exit::OK)
}
