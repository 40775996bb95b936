//! The progress bar of a fleet run on a terminal: targets done of the total (a spinner while
//! the target file is still being read and the total unknown), how many are failing, and the
//! target in flight the longest (a stalled server shows itself there).
//!
//! It draws on stderr, and only when stderr is a terminal and no JSON goes to that same
//! terminal on stdout: redrawn lines would cut into the JSON Lines a person reads or copies.
//! The text of the message is [`ProgressState::message`], a pure function of the state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{FleetSink, TargetOutcome};
use popscope_core::sanitize::display;

/// Whether to draw at all: stderr a terminal, and not `--json` printed to a terminal too.
pub(crate) fn should_draw(stderr_is_terminal: bool, json: bool, stdout_is_terminal: bool) -> bool {
    stderr_is_terminal && !(json && stdout_is_terminal)
}

/// What the bar shows, kept apart from the drawing so it can be tested.
#[derive(Default)]
pub(crate) struct ProgressState {
    total: Option<usize>,
    done: usize,
    failing: usize,
    /// The targets being checked (at most `--jobs` of them), by their line in the file.
    in_flight: BTreeMap<usize, (String, Instant)>,
}

impl ProgressState {
    pub(crate) fn started(&mut self, line: usize, target: &str, at: Instant) {
        self.in_flight
            .insert(line, (display(target.as_bytes(), 60), at));
    }

    pub(crate) fn finished(&mut self, outcome: &TargetOutcome) {
        self.in_flight.remove(&outcome.line);
        self.done += 1;
        let violations = outcome
            .report
            .as_ref()
            .map_or(0, |r| super::fields::count(r, "violation"));
        if outcome.error.is_some() || violations > 0 {
            self.failing += 1;
        }
    }

    /// The target in flight the longest, and for how long at `now`.
    fn slowest(&self, now: Instant) -> Option<(&str, Duration)> {
        self.in_flight
            .values()
            .min_by_key(|(_, at)| *at)
            .map(|(t, at)| (t.as_str(), now.saturating_duration_since(*at)))
    }

    /// `12 failing · slowest pop3s://mail.example.net (4.2 s)`: the counts done/total are the
    /// bar's own (`{pos}/{len}`).
    pub(crate) fn message(&self, now: Instant) -> String {
        let mut m = format!("{} failing", self.failing);
        if let Some((target, for_)) = self.slowest(now) {
            m.push_str(&format!(
                " · slowest {target} ({:.1} s)",
                for_.as_secs_f64()
            ));
        }
        m
    }
}

/// The bar itself: hidden (draws nothing, costs nothing) when [`should_draw`] said no.
pub(crate) struct Progress {
    /// Shared with the bar's `{live}` key, which the steady tick redraws: the slowest
    /// target's time goes on while nothing finishes.
    state: Arc<Mutex<ProgressState>>,
    bar: ProgressBar,
    /// Drawn, and redrawn on a tick since the first check began: not before, so a total told
    /// before the run (a target file read once to check it) is the first thing drawn.
    draw: bool,
    ticking: bool,
}

/// Writing to the terminal the bar is drawn on: the bar is cleared first and drawn again
/// after, so no stale copy of it is left in the scrollback between the lines.
#[derive(Clone)]
pub(crate) struct AboveBar(ProgressBar);

impl AboveBar {
    pub(crate) fn write<R>(&self, write: impl FnOnce() -> R) -> R {
        self.0.suspend(write)
    }
}

/// How often the spinner and the slowest target's time are redrawn.
const TICK: Duration = Duration::from_millis(200);

impl Progress {
    /// The bar for this process: drawn when stderr is a terminal and `json` (JSON Lines on
    /// stdout) does not go to a terminal too.
    pub(crate) fn for_terminal(json: bool) -> Self {
        use std::io::IsTerminal;
        Progress::new(should_draw(
            std::io::stderr().is_terminal(),
            json,
            std::io::stdout().is_terminal(),
        ))
    }

    pub(crate) fn new(draw: bool) -> Self {
        let target = if draw {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress::drawing_on(target, draw)
    }

    fn drawing_on(target: ProgressDrawTarget, draw: bool) -> Self {
        let state = Arc::new(Mutex::new(ProgressState::default()));
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(style(SPINNER, &state));
        Progress {
            state,
            bar,
            draw,
            ticking: false,
        }
    }

    fn tick(&mut self) {
        if self.draw && !self.ticking {
            self.bar.enable_steady_tick(TICK);
            self.ticking = true;
        }
    }

    /// How the other outputs of the run write past the bar (a hidden bar: straight through).
    pub(crate) fn above(&self) -> AboveBar {
        AboveBar(self.bar.clone())
    }

    fn with_state(&self, change: impl FnOnce(&mut ProgressState)) {
        let done = self.state.lock().map(|mut s| {
            change(&mut s);
            s.done
        });
        // With the lock released: a redraw here calls the `{live}` key, which takes it.
        if let Ok(done) = done {
            self.bar.set_position(done as u64);
        }
    }

    /// The target file was read to its end: `total` targets, a bar from now on.
    pub(crate) fn set_total(&mut self, total: usize) {
        // The style before the length and the position: setting either draws, and in the
        // spinner's style that draw said "reading the targets" of a total already known.
        self.bar.set_style(style(BAR, &self.state));
        self.bar.set_length(total as u64);
        self.with_state(|s| s.total = Some(total));
    }

    pub(crate) fn started(&mut self, line: usize, target: &str) {
        self.tick();
        self.with_state(|s| s.started(line, target, Instant::now()));
    }
}

const SPINNER: &str = "{spinner} {pos} done (reading the targets) · {live}";
const BAR: &str = "[{bar:30}] {pos}/{len} done · {elapsed} · {live}";

fn style(template: &str, state: &Arc<Mutex<ProgressState>>) -> ProgressStyle {
    let state = state.clone();
    let live = move |_: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
        if let Ok(s) = state.lock() {
            let _ = out.write_str(&s.message(Instant::now()));
        }
    };
    ProgressStyle::with_template(template)
        .map(|s| s.progress_chars("=> ").with_key("live", live))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl FleetSink for Progress {
    fn add(&mut self, outcome: &TargetOutcome) -> std::io::Result<()> {
        self.tick();
        self.with_state(|s| s.finished(outcome));
        Ok(())
    }

    fn started(&mut self, line: usize, target: &str) {
        Progress::started(self, line, target);
    }

    fn total(&mut self, targets: usize) {
        self.set_total(targets);
    }

    /// The bar is cleared, so the summary that follows starts on a clean line.
    fn finish(&mut self) -> std::io::Result<()> {
        self.bar.finish_and_clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::TargetError;
    use super::*;
    use serde_json::json;

    fn outcome(line: usize, violations: u64, error: bool) -> TargetOutcome {
        TargetOutcome {
            recording: None,
            target: format!("pop3://t{line}"),
            line,
            report: Some(json!({"summary": {"violation": violations}})),
            error: error.then(|| TargetError {
                exit: 3,
                message: "refused".into(),
            }),
            elapsed: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_message_names_failing_and_the_slowest_in_flight() {
        let t0 = Instant::now();
        let mut s = ProgressState::default();
        assert_eq!(s.message(t0), "0 failing");
        s.started(1, "pop3://t1", t0);
        s.started(2, "pop3s://slow\u{1b}[2J.example.net", t0);
        s.started(3, "pop3://t3", t0 + Duration::from_secs(1));
        s.finished(&outcome(1, 2, false));
        assert_eq!(
            s.message(t0 + Duration::from_millis(4200)),
            "1 failing · slowest pop3s://slow\\x1b[2J.example.net (4.2 s)"
        );
        s.finished(&outcome(2, 0, false));
        s.finished(&outcome(3, 0, true));
        assert_eq!(s.message(t0), "2 failing");
        assert_eq!(s.done, 3);
    }

    #[test]
    fn it_draws_only_on_a_terminal_and_never_over_json_on_it() {
        assert!(should_draw(true, false, true));
        assert!(should_draw(true, true, false));
        assert!(!should_draw(true, true, true));
        assert!(!should_draw(false, false, false));
    }

    /// A terminal that keeps everything drawn on it.
    #[derive(Debug, Default, Clone)]
    struct Drawn(Arc<Mutex<String>>);

    impl indicatif::TermLike for Drawn {
        fn width(&self) -> u16 {
            140
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            if let Ok(mut d) = self.0.lock() {
                d.push_str(s);
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn drawn(events: impl FnOnce(&mut Progress)) -> String {
        let term = Drawn::default();
        let target = ProgressDrawTarget::term_like(Box::new(term.clone()));
        let mut p = Progress::drawing_on(target, true);
        events(&mut p);
        // A draw of the state now: the bar's own draws on a new position are rate-limited, and
        // the steady tick's come when they come.
        p.bar.disable_steady_tick();
        p.bar.tick();
        let _ = p.finish();
        term.0.lock().map(|d| d.clone()).unwrap_or_default()
    }

    #[test]
    fn a_total_known_before_the_run_is_drawn_as_a_bar_from_the_first_draw() {
        let d = drawn(|p| {
            p.set_total(6);
            p.started(1, "pop3://t1");
            let _ = p.add(&outcome(1, 0, false));
        });
        assert!(d.contains("0/6 done"), "{d:?}");
        assert!(d.contains("1/6 done"), "{d:?}");
        assert!(!d.contains("reading the targets"), "{d:?}");
    }

    #[test]
    fn a_total_still_unknown_is_a_spinner() {
        let d = drawn(|p| {
            p.started(1, "pop3://t1");
            let _ = p.add(&outcome(1, 0, false));
        });
        assert!(d.contains("1 done (reading the targets)"), "{d:?}");
    }

    #[test]
    fn a_hidden_bar_takes_every_event() {
        let mut p = Progress::new(false);
        p.started(1, "pop3://t1");
        p.set_total(2);
        let _ = p.add(&outcome(1, 0, false));
        let _ = p.finish();
        assert_eq!(p.state.lock().map(|s| s.done).ok(), Some(1));
        assert!(p.bar.is_hidden());
    }
}
