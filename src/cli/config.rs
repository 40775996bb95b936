//! What every command that opens a screen reads first: the terminal, config.toml (theme,
//! confirm_dele), keys.toml. Shared by the UI, replay, demo and `replay --against`'s view.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::tui::{self, Theme, keys};

use super::{CliError, UiArgs};

fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("popscope"))
}

/// A setting from `$XDG_CONFIG_HOME/popscope/config.toml` (None when there is no file or no
/// such key). A file that cannot be read or parsed is an error naming the file and the line.
fn config_value(key: &str) -> Result<Option<toml::Value>, CliError> {
    let Some(path) = config_dir().map(|d| d.join("config.toml")) else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CliError::usage(format!("{}: {e}", path.display()))),
    };
    let doc = tui::theme::parse_toml(&text)
        .map_err(|e| CliError::usage(format!("{}:{e}", path.display())))?;
    if let Some(unknown) = doc.keys().find(|k| !CONFIG_KEYS.contains(&k.as_str())) {
        return Err(CliError::usage(format!(
            "{}:{}: '{}': no such setting (config.toml knows {})",
            path.display(),
            key_line(&text, unknown),
            popscope_core::sanitize::display(unknown.as_bytes(), 60),
            CONFIG_KEYS.join(", ")
        )));
    }
    Ok(doc.get(key).cloned())
}

/// The settings config.toml may hold; any other key is a mistake worth a word (`thme`).
const CONFIG_KEYS: [&str; 2] = ["theme", "confirm_dele"];

/// The line (from 1) where the top-level `key` of a TOML document is written.
fn key_line(text: &str, key: &str) -> usize {
    let spans: std::collections::BTreeMap<toml::Spanned<String>, toml::Value> =
        toml::from_str(text).unwrap_or_default();
    spans.keys().find(|k| k.get_ref() == key).map_or(1, |k| {
        text[..k.span().start.min(text.len())].matches('\n').count() + 1
    })
}

/// `confirm_dele = false` in config.toml turns the DELE confirmation off.
pub(crate) fn confirm_dele() -> Result<bool, CliError> {
    match config_value("confirm_dele")? {
        None => Ok(true),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| CliError::usage("config.toml: confirm_dele: expected true or false")),
    }
}

/// The theme: --theme, else `theme = "..."` in config.toml, else dark; NO_COLOR drops colours.
pub(crate) fn theme(ui: &UiArgs) -> Result<Theme, CliError> {
    let from_config = match config_value("theme")? {
        None => None,
        Some(v) => Some(v.as_str().map(str::to_owned).ok_or_else(|| {
            CliError::usage("config.toml: theme: expected a name or a path, in quotes")
        })?),
    };
    let name = ui
        .theme
        .clone()
        .or(from_config)
        .unwrap_or_else(|| "dark".into());
    let t = Theme::load(&name).map_err(CliError::usage)?;
    // The one place NO_COLOR is read: a theme loaded later (`:theme`) follows this one.
    Ok(
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            t.without_colour()
        } else {
            t
        },
    )
}

pub(crate) fn key_table() -> Result<Vec<keys::Binding>, CliError> {
    let path = config_dir().map(|d| d.join("keys.toml"));
    keys::load(path.as_deref()).map_err(CliError::usage)
}

pub(crate) fn require_terminal() -> Result<(), CliError> {
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(CliError::usage(
            "the UI needs a terminal; use `popscope check` or `popscope send` in scripts",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::key_line;

    #[test]
    fn a_key_is_found_on_its_line() {
        let text = "# settings\ntheme = \"light\"\n\n thme = 1\n[ui]\nx = 2\n";
        assert_eq!(key_line(text, "theme"), 2);
        assert_eq!(key_line(text, "thme"), 4);
        assert_eq!(key_line(text, "ui"), 5);
    }
}
