//! `popscope URL`: the terminal UI on a server.

use crate::session::task::Plan;
use crate::transport::Target;
use crate::tui::replay::Replayed;
use crate::tui::{self, TuiOptions};
use popscope_core::Config;

use super::config::{confirm_dele, key_table, require_terminal, theme};
use super::{CliError, ConnArgs, UiArgs, exit};

/// `popscope replay FILE`: the UI with time travel, or the report without a terminal.
pub fn replay(args: &super::ReplayArgs) -> Result<u8, CliError> {
    let path = args.file.display().to_string();
    if args.against.is_none() && args.conn.record.is_some() {
        // Nothing live happens without --against: a --record that writes nothing would be a lie.
        return Err(CliError::usage(
            "--record records the session replayed against a server: give --against URL (FILE is already a recording)",
        ));
    }
    if args.against.is_none() && (args.headless || require_terminal().is_err()) {
        // The report, re-checked as the file is read (bounded memory, whatever its size); the
        // exit code follows the contract of every report: 1 when a violation was found.
        return super::convert::recheck(&args.file, &Config::default(), Some(args.session), false);
    }
    let bytes = std::fs::read(&args.file)
        .map_err(|e| CliError::usage(format!("cannot read {path}: {e}")))?;
    // Whom the client rules judge, as in the headless re-check: a recording says whether its
    // client was popscope; a text transcript's client may be anyone.
    let (label, replayed, damage) = if crate::transcript::jsonl::looks_like(&bytes) {
        let (s, damage) = crate::transcript::jsonl::session(&bytes, args.session)
            .map_err(|e| CliError::usage(format!("{path}: {e}")))?;
        let label = format!("replay {path} ({})", s.target);
        let (entries, tls, client) = (s.entries, s.tls, s.client);
        (
            label,
            Replayed {
                entries,
                tls,
                client,
            },
            damage,
        )
    } else {
        let entries = crate::transcript::text::parse(&bytes)
            .map_err(|e| CliError::usage(format!("{path}: {e}")))?;
        let replayed = Replayed {
            entries,
            tls: Vec::new(),
            client: crate::transcript::jsonl::ClientSide::ANYONE,
        };
        (format!("replay {path}"), replayed, None)
    };
    let code = if let Some(url) = &args.against {
        super::compare::against(args, url, &replayed.entries)?
    } else {
        let theme = theme(&args.ui)?;
        let keys = key_table()?;
        let rt = super::runtime()?;
        rt.block_on(tui::replay::run(label, replayed, theme, keys))
            .map_err(|e| CliError::usage(format!("terminal: {e}")))?;
        exit::OK
    };
    // A damaged recording is said, whatever was done with what came before the damage.
    match damage {
        Some(d) => Err(CliError::usage(format!(
            "{path}: {d} (everything before it was replayed)"
        ))),
        None => Ok(code),
    }
}

pub fn run(url: &str, conn: &ConnArgs, ui: &UiArgs) -> Result<u8, CliError> {
    let target = Target::parse(url).map_err(CliError::usage)?;
    let Some(scheme) = target.scheme else {
        return Err(CliError::usage(format!(
            "'{url}': the UI needs pop3:// or pop3s://"
        )));
    };
    let theme = theme(ui)?;
    let keys = key_table()?;
    let creds = conn.credentials()?;
    require_terminal()?;
    let record = conn.record_file()?;
    let plan = Plan {
        options: conn.options(&target, scheme, Config::default()),
        starttls: conn.starttls,
        creds,
        method: conn.login,
    };
    let opts = TuiOptions {
        label: target.url(scheme),
        plan,
        theme,
        keys,
        greeting_hint: None,
        transcript_printer: super::printer::for_tui,
        confirm_dele: confirm_dele()?,
        record: record
            .clone()
            .map(|f| (f, (conn.record_secrets, conn.max_body))),
    };
    let rt = super::runtime()?;
    let ran = rt
        .block_on(tui::run(opts))
        .map(|()| exit::OK)
        .map_err(|e| CliError::usage(format!("terminal: {e}")));
    super::connect::finish_record(record.as_ref(), ran)
}
