//! The loop's half of the App's decisions: the I/O it asks for ([`Effect`]), carried out here,
//! and what came of it handed back to the App. The App itself never touches a file.

use std::path::PathBuf;

use super::app::{App, Effect};
use super::{Theme, history};

/// What carrying out effects needs to keep between them.
#[derive(Debug, Default)]
pub struct Local {
    /// The history file; None when there is none, or once writing it failed.
    history: Option<PathBuf>,
}

impl Local {
    pub fn new(history: Option<PathBuf>) -> Local {
        Local { history }
    }

    /// Carries out every effect the App has queued.
    pub fn carry_out(&mut self, app: &mut App) {
        for effect in app.take_effects() {
            match effect {
                Effect::AppendHistory(line) => {
                    if let Some(path) = &self.history
                        && let Err(why) = history::append(path, &line)
                    {
                        // Said once: the rest of the session goes without a history file.
                        app.message = Some((why, true));
                        self.history = None;
                    }
                }
                Effect::LoadTheme(name) => match Theme::load(&name) {
                    Ok(t) => app.theme = app.theme.succeeded_by(t),
                    Err(e) => app.message = Some((e, true)),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent};

    fn typed(app: &mut App, line: &str) {
        for c in line.chars() {
            app.key(KeyEvent::from(KeyCode::Char(c)));
        }
        app.key(KeyEvent::from(KeyCode::Enter));
    }

    #[test]
    fn the_app_asks_and_the_loop_loads_a_theme_that_keeps_no_color() {
        let dark = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
        let mut app = App::new(
            "x".into(),
            dark.without_colour(),
            super::super::keys::defaults(),
        );
        typed(&mut app, ":theme light");
        assert_eq!(app.take_effects(), vec![Effect::LoadTheme("light".into())]);
        typed(&mut app, ":theme light");
        Local::default().carry_out(&mut app);
        assert_eq!(app.theme.name, "light");
        assert!(app.theme.colourless && app.theme.violation.fg.is_none());
        typed(&mut app, ":theme /nonexistent.toml");
        Local::default().carry_out(&mut app);
        assert_eq!(app.theme.name, "light");
        assert!(
            app.message
                .as_ref()
                .is_some_and(|(m, err)| *err && m.contains("no theme"))
        );
    }

    #[test]
    fn a_command_becomes_a_history_effect_without_its_secret() {
        let dark = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
        let mut app = App::new("x".into(), dark, super::super::keys::defaults());
        typed(&mut app, "PASS hunter2");
        assert_eq!(
            app.take_effects(),
            vec![Effect::AppendHistory("PASS".into())]
        );
    }
}
