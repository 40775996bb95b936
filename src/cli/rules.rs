//! `popscope rules`: the catalog as implemented.

use std::io::Write;

use popscope_core::rules::{CATALOG, Scope};

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

pub fn run(args: &RulesArgs) -> Result<u8, CliError> {
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
