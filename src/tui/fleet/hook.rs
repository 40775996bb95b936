//! How a fleet run reaches the view: a sink told of each target's start and end
//! ([`ToView`]), and a watch per target ([`Hook::watch`]) whose observers feed a session
//! view per connection of its walk ([`crate::tui::table::seen`]).

use std::sync::Arc;

use tokio::sync::{Notify, mpsc};

use super::{FleetView, Message};
use crate::report::fleet::{FleetSink, TargetOutcome};
use crate::session::Observer;
use crate::tui::app::App;
use crate::tui::keys::Binding;
use crate::tui::table::run::Live;
use crate::tui::table::seen::{Shared, feeding};
use crate::tui::theme::Theme;
use crate::tui::transcript::Transcript;

/// Rows kept per session: a walk's connection holds tens; a hostile server is cut here (the
/// oldest tenth goes past it), so a target in flight costs at most a few of these.
pub const SESSION_ROWS: usize = 5_000;

/// Findings listed per session; the rest are counted.
pub const SESSION_FINDINGS: usize = 500;

/// What the view and every session view start with.
#[derive(Clone)]
pub struct Template {
    /// The target file, as the header names it.
    pub file: String,
    pub theme: Theme,
    pub keys: Vec<Binding>,
    /// Wall-clock seconds since midnight, for a session's clock (tests give a fixed one).
    pub clock: fn() -> f64,
}

impl Template {
    /// A fresh session view of connection `label` to `url`.
    pub fn seen(&self, label: &str, url: &str) -> Shared {
        let name = format!("{url} ({label})");
        let mut app = App::new(name, self.theme.clone(), self.keys.clone());
        app.transcript.rows = Transcript::with_cap(SESSION_ROWS);
        app.clock_base = (self.clock)();
        Shared::new(app)
    }
}

/// The run's side of the view: the watch of each target, and the sink.
#[derive(Clone)]
pub struct Hook {
    template: Arc<Template>,
    tx: mpsc::UnboundedSender<Message>,
    changed: Arc<Notify>,
}

impl Hook {
    /// The watch of the target of `line`: each connection of its walk announced to the view,
    /// then fed.
    pub fn watch(&self, line: usize) -> Arc<dyn crate::check::Watch> {
        Arc::new(TargetWatch {
            line,
            hook: self.clone(),
        })
    }

    /// The sink to give the run.
    pub fn sink(&self) -> Box<dyn FleetSink> {
        Box::new(ToView(self.tx.clone()))
    }
}

struct TargetWatch {
    line: usize,
    hook: Hook,
}

impl crate::check::Watch for TargetWatch {
    fn observers(&self, _index: usize, label: &str, url: &str) -> Vec<Box<dyn Observer>> {
        let seen = self.hook.template.seen(label, url);
        let _ = self.hook.tx.send(Message::Session {
            line: self.line,
            label: label.to_owned(),
            url: url.to_owned(),
            seen: seen.clone(),
        });
        vec![feeding(seen, self.hook.changed.clone(), SESSION_FINDINGS)]
    }
}

/// The run's outputs' view: each event a message. It never fails: a view that quit is the
/// run's stop's business, not an output's error.
pub struct ToView(mpsc::UnboundedSender<Message>);

impl FleetSink for ToView {
    fn add(&mut self, outcome: &TargetOutcome) -> std::io::Result<()> {
        let _ = self.0.send(Message::Done {
            line: outcome.line,
            target: outcome.target.clone(),
            done: super::Done::of(outcome),
        });
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let _ = self.0.send(Message::Finished);
        Ok(())
    }

    fn started(&mut self, line: usize, target: &str) {
        let _ = self.0.send(Message::Started {
            line,
            target: target.to_owned(),
        });
    }

    fn total(&mut self, targets: usize) {
        let _ = self.0.send(Message::Total(targets));
    }
}

/// The view before it runs, with the other ends of its hook.
pub struct Waiting {
    view: FleetView,
    messages: mpsc::UnboundedReceiver<Message>,
    changed: Arc<Notify>,
}

/// The hook to give the run, and the view it feeds.
pub fn prepare(template: Template) -> (Hook, Waiting) {
    let (tx, messages) = mpsc::unbounded_channel();
    let changed = Arc::new(Notify::new());
    let view = FleetView::new(&template, std::time::Instant::now());
    let hook = Hook {
        template: Arc::new(template),
        tx,
        changed: changed.clone(),
    };
    (
        hook,
        Waiting {
            view,
            messages,
            changed,
        },
    )
}

impl Live for FleetView {
    type Message = Message;

    fn apply(&mut self, message: Message, now: std::time::Instant) {
        FleetView::apply(self, message, now)
    }

    fn key(&mut self, k: crossterm::event::KeyEvent) -> bool {
        FleetView::key(self, k)
    }

    fn draw(&self, f: &mut ratatui::Frame, now: std::time::Instant) {
        super::draw::draw(f, self, now)
    }

    fn ticking(&self) -> bool {
        self.in_flight() > 0
    }

    fn dirty(&mut self) -> &mut bool {
        &mut self.dirty
    }

    /// The table draws from the run's messages alone; a target opened shows its session.
    fn shows_sessions(&self) -> bool {
        self.opened.is_some()
    }
}

/// Runs the view until the user quits (or a signal ends it); the terminal is restored on
/// every way out. The run goes on meanwhile; it is the caller's to stop.
pub async fn run(waiting: Waiting) -> std::io::Result<()> {
    let Waiting {
        mut view,
        mut messages,
        changed,
    } = waiting;
    crate::tui::table::run::run(&mut view, &mut messages, &changed).await
}
