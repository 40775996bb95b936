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
            let mut s =
                serde_json::to_string_pretty(r).map_err(|e| CliError::usage(e.to_string()))?;
            s.push('\n');
            s
        } else {
            one_rule(r)
        };
        let _ = std::io::stdout().lock().write_all(out.as_bytes());
        return Ok(exit::OK);
    }
    let out = if args.json {
        let mut s =
            serde_json::to_string_pretty(CATALOG).map_err(|e| CliError::usage(e.to_string()))?;
        s.push('\n');
        s
    } else {
        let mut s = String::from(
            "RULE       SEVERITY   JUDGED          RFC                               SUMMARY\n",
        );
        for r in CATALOG {
            s.push_str(&format!(
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
            ));
        }
        s.push_str("\npassive: judged by watching one session; passive+probe: also provoked by the active probe named;\nprobe / cross-session: need an active probe or a second session; umbrella: reported as the rules named.\n");
        s
    };
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(exit::OK)
}
