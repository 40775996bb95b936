//! `popscope URL`: the terminal UI on a server.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::protocol::Config;
use crate::session::task::Plan;
use crate::transport::Target;
use crate::tui::{self, Theme, TuiOptions, keys};

use super::{CliError, ConnArgs, UiArgs, exit};

fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("popscope"))
}

/// A setting from `$XDG_CONFIG_HOME/popscope/config.toml`.
fn config_value(key: &str) -> Option<toml::Value> {
    let text = std::fs::read_to_string(config_dir()?.join("config.toml")).ok()?;
    let doc: toml::Table = text.parse().ok()?;
    doc.get(key).cloned()
}

/// `confirm_dele = false` in config.toml turns the DELE confirmation off.
pub fn confirm_dele() -> bool {
    config_value("confirm_dele")
        .and_then(|v| v.as_bool())
        .unwrap_or(true)
}

/// The theme: --theme, else `theme = "..."` in config.toml, else dark; NO_COLOR drops colours.
pub fn theme(ui: &UiArgs) -> Result<Theme, CliError> {
    let from_config = || config_value("theme").and_then(|v| v.as_str().map(str::to_owned));
    let name = ui
        .theme
        .clone()
        .or_else(from_config)
        .unwrap_or_else(|| "dark".into());
    let t = Theme::load(&name).map_err(CliError::usage)?;
    Ok(
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            t.without_colour()
        } else {
            t
        },
    )
}

pub fn key_table() -> Result<Vec<keys::Binding>, CliError> {
    let path = config_dir().map(|d| d.join("keys.toml"));
    keys::load(path.as_deref()).map_err(CliError::usage)
}

pub fn require_terminal() -> Result<(), CliError> {
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(CliError::usage(
            "the UI needs a terminal; use `popscope check` or `popscope send` in scripts",
        ))
    }
}

/// `popscope replay FILE`: the UI with time travel, or the report without a terminal.
pub fn replay(args: &super::ReplayArgs) -> Result<u8, CliError> {
    let path = args.file.display().to_string();
    let bytes = std::fs::read(&args.file)
        .map_err(|e| CliError::usage(format!("cannot read {path}: {e}")))?;
    let (label, entries, damage) = if crate::transcript::jsonl::looks_like(&bytes) {
        let (s, damage) = crate::transcript::jsonl::session(&bytes, args.session)
            .map_err(|e| CliError::usage(format!("{path}: {e}")))?;
        (format!("replay {path} ({})", s.target), s.entries, damage)
    } else {
        let entries = crate::transcript::text::parse(&bytes)
            .map_err(|e| CliError::usage(format!("{path}: {e}")))?;
        (format!("replay {path}"), entries, None)
    };
    let code = if let Some(url) = &args.against {
        super::compare::against(args, url, &entries)?
    } else if args.headless || require_terminal().is_err() {
        let r = crate::transcript::replay(&entries, Config::default());
        let _ = std::io::Write::write_all(
            &mut std::io::stdout(),
            crate::report::transcript_text(&path, &r, &bytes).as_bytes(),
        );
        exit::OK
    } else {
        let theme = theme(&args.ui)?;
        let keys = key_table()?;
        let rt = super::runtime()?;
        rt.block_on(tui::replay::run(label, entries, theme, keys))
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
        confirm_dele: confirm_dele(),
        record: conn
            .record_file()?
            .map(|f| (f, (conn.record_secrets, conn.max_body))),
    };
    let rt = super::runtime()?;
    rt.block_on(tui::run(opts))
        .map_err(|e| CliError::usage(format!("terminal: {e}")))?;
    Ok(exit::OK)
}
