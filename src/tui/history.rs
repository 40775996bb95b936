//! Command history, per user, under the XDG data directory. Lines arrive here already stripped
//! of secrets (App::remember); this file only stores and loads them.

use std::io::Write;
use std::path::{Path, PathBuf};

/// `$XDG_DATA_HOME/popscope/history`, or `~/.local/share/popscope/history`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("popscope").join("history"))
}

pub fn load(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let skip = lines.len().saturating_sub(1000);
    lines.into_iter().skip(skip).collect()
}

/// Best effort: a history that cannot be written is not worth interrupting a session for.
pub fn append(path: &Path, line: &str) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}
