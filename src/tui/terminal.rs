//! Entering and leaving the terminal's raw mode and alternate screen.
//!
//! Like `ratatui::init`/`restore`, but nothing here prints or panics when the terminal has gone
//! away (a closed window, a killed tmux: every write fails with EIO). ratatui's `restore`
//! reports its failure with `eprintln!`, which panics when stderr is that dead terminal; its
//! panic hook calls `restore` again, and a panic inside the panic hook aborts the process, so
//! nothing is dropped: the demo's private certificate folder was left behind on every hangup.

use std::io::{self, stdout};

use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, enable_raw_mode};
use ratatui::DefaultTerminal;
use ratatui::backend::CrosstermBackend;

/// Raw mode and the alternate screen; a panic first gives the terminal back (best effort).
pub(crate) fn enter() -> io::Result<DefaultTerminal> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        leave();
        hook(info);
    }));
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen)?;
    ratatui::Terminal::new(CrosstermBackend::new(stdout()))
}

/// Leaves the alternate screen and raw mode. A terminal that is gone cannot be restored and
/// needs no restoring: the failure is ignored, never printed.
pub(crate) fn leave() {
    let _ = ratatui::try_restore();
}
