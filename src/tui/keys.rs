//! Key bindings as data: each row says where it applies, which keys, what it does and how the
//! footer and the help screen describe it, so the hints shown are always the keys that work.
//! A user file (`$XDG_CONFIG_HOME/popscope/keys.toml`) may rebind actions. Every key the UI
//! answers is a row here: the panels, the line editor, the overlays and replay's steps (only
//! printable characters typed into the command line are text, not bindings).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Global,
    CommandLine,
    /// Editing keys of the command line, after its own scope (not in the footer: it lists
    /// what the line does, these move within it).
    Editor,
    Transcript,
    Findings,
    Session,
    /// The help overlay.
    HelpView,
    /// The finding detail overlay.
    FindingView,
    /// The dialog that asks before sending a command the RFC does not allow now, or a DELE.
    Confirm,
    /// `popscope replay`: steps through the recording, before the focused panel's keys.
    Replay,
}

impl Scope {
    pub(crate) fn title(self) -> &'static str {
        match self {
            Scope::Global => "everywhere",
            Scope::CommandLine => "command line",
            Scope::Transcript => "transcript",
            Scope::Findings => "findings",
            Scope::Session => "session",
            Scope::Editor => "line editor",
            Scope::HelpView => "help screen",
            Scope::FindingView => "finding detail",
            Scope::Confirm => "confirm",
            Scope::Replay => "replay",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Quit,
    Help,
    FocusNext,
    FocusPrev,
    FocusLine,
    /// Opens the command line with `:` typed, for an app command.
    AppCommand,
    Leave,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Search,
    SearchNext,
    SearchPrev,
    Submit,
    Complete,
    HistoryPrev,
    HistoryNext,
    CursorLeft,
    CursorRight,
    LineStart,
    LineEnd,
    DeleteBack,
    DeleteForward,
    /// Drops the whole line (and a completion cycle with it).
    ClearLine,
    /// Drops the word before the cursor.
    DeleteWord,
    /// Closes an overlay.
    Close,
    /// Confirm: send it.
    Yes,
    /// Confirm: back to editing.
    No,
    NextStep,
    PrevStep,
    FirstStep,
    LastStep,
}

impl Act {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Act::Quit => "quit",
            Act::Help => "help",
            Act::FocusNext => "focus-next",
            Act::FocusPrev => "focus-prev",
            Act::FocusLine => "command-line",
            Act::AppCommand => "app-command",
            Act::Leave => "leave",
            Act::Up => "up",
            Act::Down => "down",
            Act::PageUp => "page-up",
            Act::PageDown => "page-down",
            Act::Top => "top",
            Act::Bottom => "bottom",
            Act::Open => "open",
            Act::Search => "search",
            Act::SearchNext => "search-next",
            Act::SearchPrev => "search-prev",
            Act::Submit => "send",
            Act::Complete => "complete",
            Act::HistoryPrev => "history-prev",
            Act::HistoryNext => "history-next",
            Act::CursorLeft => "left",
            Act::CursorRight => "right",
            Act::LineStart => "line-start",
            Act::LineEnd => "line-end",
            Act::DeleteBack => "delete-back",
            Act::DeleteForward => "delete-forward",
            Act::ClearLine => "clear-line",
            Act::DeleteWord => "delete-word",
            Act::Close => "close",
            Act::Yes => "yes",
            Act::No => "no",
            Act::NextStep => "next-step",
            Act::PrevStep => "previous-step",
            Act::FirstStep => "first-step",
            Act::LastStep => "last-step",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub scope: Scope,
    pub keys: Vec<String>,
    pub act: Act,
    pub desc: &'static str,
}

fn b(scope: Scope, keys: &[&str], act: Act, desc: &'static str) -> Binding {
    Binding {
        scope,
        keys: keys.iter().map(|k| k.to_string()).collect(),
        act,
        desc,
    }
}

/// The built-in table, in the order the footer and the help screen list it.
pub fn defaults() -> Vec<Binding> {
    use Act::*;
    use Scope::*;
    let mut table = vec![
        b(Global, &["ctrl-c"], Quit, "quit"),
        b(Global, &["pageup"], PageUp, "scroll up"),
        b(Global, &["pagedown"], PageDown, "scroll down"),
        b(CommandLine, &["enter"], Submit, "send"),
        b(CommandLine, &["tab"], Complete, "complete, or next panel"),
        b(CommandLine, &["backtab"], FocusPrev, "previous panel"),
        b(CommandLine, &["up"], HistoryPrev, "history"),
        b(CommandLine, &["down"], HistoryNext, "history"),
        b(CommandLine, &["esc"], Leave, "drop line, leave"),
    ];
    table.extend(panel(
        Transcript,
        "move",
        &[
            (&["home", "g"], Top, "first"),
            (&["end", "G"], Bottom, "last, follow"),
            (&["enter", " "], Open, "fold / unfold"),
            (&["/"], Search, "search"),
            (&["n"], SearchNext, "next match"),
            (&["N"], SearchPrev, "previous match"),
        ],
    ));
    table.extend(panel(
        Findings,
        "select",
        &[(&["enter"], Open, "explain, jump")],
    ));
    table.extend(panel(Session, "scroll", &[]));
    table.extend([
        b(Editor, &["left"], CursorLeft, "cursor"),
        b(Editor, &["right"], CursorRight, "cursor"),
        b(Editor, &["home"], LineStart, "start, end of line"),
        b(Editor, &["end"], LineEnd, "start, end of line"),
        b(
            Editor,
            &["backspace"],
            DeleteBack,
            "delete before the cursor",
        ),
        b(Editor, &["delete"], DeleteForward, "delete at the cursor"),
        b(Editor, &["ctrl-w"], DeleteWord, "delete a word"),
        b(Editor, &["ctrl-u"], ClearLine, "clear the line"),
        b(HelpView, &["esc", "q", "?", "enter"], Close, "close"),
        b(HelpView, &["up", "k"], Up, "scroll"),
        b(HelpView, &["down", "j"], Down, "scroll"),
        b(HelpView, &["pageup"], PageUp, "page"),
        b(HelpView, &["pagedown"], PageDown, "page"),
        b(FindingView, &["esc", "q", "?", "enter"], Close, "close"),
        b(Confirm, &["y", "Y"], Yes, "send, marked deliberate"),
        b(Confirm, &["n", "N", "esc"], No, "back to editing"),
        b(Replay, &["]", "right"], NextStep, "next exchange"),
        b(Replay, &["[", "left"], PrevStep, "previous exchange"),
        b(Replay, &["{"], FirstStep, "start"),
        b(Replay, &["}"], LastStep, "end"),
    ]);
    table
}

/// A row before its scope is known: keys, action, description.
type Row = (&'static [&'static str], Act, &'static str);

/// A panel's rows: the keys every panel shares (the help screen lists them once, under
/// "panels"), moving up and down (each panel says what that does), then `own`. The shared
/// rows are split around the panel's own so the footer keeps the order it always had:
/// quit, help and focus first, the command line keys last.
fn panel(scope: Scope, moving: &'static str, own: &[Row]) -> Vec<Binding> {
    const FIRST: [Row; 4] = [
        (&["q"], Act::Quit, "quit"),
        (&["?"], Act::Help, "help"),
        (&["tab"], Act::FocusNext, "next panel"),
        (&["backtab"], Act::FocusPrev, "previous panel"),
    ];
    const LAST: [Row; 2] = [
        (&["i"], Act::FocusLine, "type a command"),
        (&[":"], Act::AppCommand, "app command"),
    ];
    let moves: [Row; 2] = [
        (&["up", "k"], Act::Up, moving),
        (&["down", "j"], Act::Down, moving),
    ];
    FIRST
        .iter()
        .chain(&moves)
        .chain(own)
        .chain(&LAST)
        .map(|&(keys, act, desc)| b(scope, keys, act, desc))
        .collect()
}

/// The bindings with a user file's changes applied. The file maps `scope.action` to keys:
/// `"transcript.quit" = ["q", "x"]`. Errors name the file and the entry.
pub fn load(path: Option<&std::path::Path>) -> Result<Vec<Binding>, String> {
    let mut table = defaults();
    let Some(path) = path.filter(|p| p.exists()) else {
        return Ok(table);
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc = super::theme::parse_toml(&text).map_err(|e| format!("{}:{e}", path.display()))?;
    for (entry, keys) in &doc {
        let (scope, act) = entry.split_once('.').ok_or_else(|| {
            format!(
                "{}: '{entry}': expected scope.action, e.g. transcript.quit",
                path.display()
            )
        })?;
        let keys: Vec<String> = keys
            .as_array()
            .ok_or_else(|| format!("{}: '{entry}': expected a list of keys", path.display()))?
            .iter()
            .map(|k| {
                k.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{}: '{entry}': keys are strings", path.display()))
            })
            .collect::<Result<_, _>>()?;
        let found = table
            .iter_mut()
            .find(|b| b.scope.title().replace(' ', "-") == scope && b.act.name() == act)
            .ok_or_else(|| format!("{}: '{entry}': no such binding", path.display()))?;
        found.keys = keys;
    }
    Ok(table)
}

/// A key as the table writes it: `ctrl-c`, `enter`, `G`, `pageup`.
pub(crate) fn name(k: &KeyEvent) -> String {
    let base = match k.code {
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Enter => "enter".into(),
        KeyCode::Esc => "esc".into(),
        KeyCode::Tab => "tab".into(),
        KeyCode::BackTab => "backtab".into(),
        KeyCode::Backspace => "backspace".into(),
        KeyCode::Delete => "delete".into(),
        KeyCode::Up => "up".into(),
        KeyCode::Down => "down".into(),
        KeyCode::Left => "left".into(),
        KeyCode::Right => "right".into(),
        KeyCode::Home => "home".into(),
        KeyCode::End => "end".into(),
        KeyCode::PageUp => "pageup".into(),
        KeyCode::PageDown => "pagedown".into(),
        KeyCode::F(n) => format!("f{n}"),
        _ => "?unknown".into(),
    };
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        format!("ctrl-{base}")
    } else if k.modifiers.contains(KeyModifiers::ALT) {
        format!("alt-{base}")
    } else {
        base
    }
}

/// The action bound to a key in a scope (scope first, then global).
pub(crate) fn lookup(table: &[Binding], scope: Scope, key: &str) -> Option<Act> {
    lookup_in(table, scope, key).or_else(|| lookup_in(table, Scope::Global, key))
}

/// The action bound to a key in this scope alone.
pub(crate) fn lookup_in(table: &[Binding], scope: Scope, key: &str) -> Option<Act> {
    table
        .iter()
        .find(|b| b.scope == scope && b.keys.iter().any(|k| k == key))
        .map(|b| b.act)
}

/// The keys bound to `act` in `scope`, as the table writes them.
pub(crate) fn keys_of(table: &[Binding], scope: Scope, act: Act) -> Vec<&str> {
    table
        .iter()
        .filter(|b| b.scope == scope && b.act == act)
        .flat_map(|b| b.keys.iter().map(String::as_str))
        .collect()
}

/// A key as a sentence shows it: `Esc`, `Enter`, `shift-tab`, `space`; others as written.
pub(crate) fn shown(key: &str) -> &str {
    match key {
        "esc" => "Esc",
        "enter" => "Enter",
        "backtab" => "shift-tab",
        " " => "space",
        k => k,
    }
}

/// Up to `most` keys in a sentence: `Esc, q or ?`.
pub(crate) fn said(keys: &[&str], most: usize) -> String {
    let keys: Vec<&str> = keys.iter().take(most).map(|k| shown(k)).collect();
    match keys.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// The footer: the keys of the focused scope, then the global ones; keys that share a
/// description share an entry ("up/down history").
pub(crate) fn hints(table: &[Binding], scope: Scope) -> Vec<(String, &'static str)> {
    let ordered = table.iter().filter(|b| b.scope == scope).chain(
        table
            .iter()
            .filter(|b| b.scope == Scope::Global && scope != Scope::Global),
    );
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for b in ordered.filter(|b| !b.keys.is_empty()) {
        let first = b.keys[0].as_str();
        match out.iter_mut().find(|(_, d)| *d == b.desc) {
            Some((keys, _)) => {
                keys.push('/');
                keys.push_str(first);
            }
            None => out.push((first.to_owned(), b.desc)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_file_rebinds_and_bad_entries_name_the_file() {
        let dir = std::env::temp_dir().join(format!("popscope-keys-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let good = dir.join("keys.toml");
        let _ = std::fs::write(
            &good,
            "\"transcript.quit\" = [\"x\"]\n\"transcript.search\" = [\"f\", \"/\"]\n",
        );
        let t = load(Some(&good)).unwrap_or_default();
        assert_eq!(lookup(&t, Scope::Transcript, "x"), Some(Act::Quit));
        assert_eq!(lookup(&t, Scope::Transcript, "q"), None);
        assert_eq!(lookup(&t, Scope::Transcript, "f"), Some(Act::Search));
        // The footer follows the file: hints are always the keys that work.
        assert!(
            hints(&t, Scope::Transcript)
                .iter()
                .any(|(k, d)| k.split('/').any(|p| p == "x") && *d == "quit")
        );
        let bad = dir.join("bad.toml");
        let _ = std::fs::write(&bad, "\"transcript.fly\" = [\"z\"]\n");
        let e = load(Some(&bad)).err().unwrap_or_default();
        assert!(
            e.contains("bad.toml") && e.contains("transcript.fly"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
