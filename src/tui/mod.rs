//! The terminal UI. The loop waits on three things: keys, session updates and (only when
//! something changed) the next allowed redraw. The network lives in its own task, so a slow or
//! dead server never freezes the screen; an idle UI does nothing at all.

pub mod app;
pub mod commands;
pub mod components;
pub mod effects;
pub mod fleet;
pub mod history;
pub mod keys;
pub mod offline;
pub mod proxy;
pub mod replay;
pub mod table;
pub mod terminal;
pub mod theme;
pub mod transcript;
pub mod ui;

use std::io::Write;
use std::time::Duration;

use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event as TermEvent, EventStream, KeyEventKind,
    MouseEventKind,
};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::session::task::{self, Plan, Request};

pub use app::App;
pub use theme::Theme;

/// At most one frame per this interval while updates stream in.
const FRAME: Duration = Duration::from_millis(16);

pub(crate) struct TuiOptions {
    pub(crate) label: String,
    pub(crate) plan: Plan,
    pub(crate) theme: Theme,
    pub(crate) keys: Vec<keys::Binding>,
    /// Shown in the footer at start (the demo uses it for the credentials).
    pub(crate) greeting_hint: Option<String>,
    pub(crate) confirm_dele: bool,
    /// Builds the observer that writes the session as a text transcript into the writer it is
    /// given: what `:save` saves (the caller's printer; the UI only keeps the bytes).
    pub(crate) transcript_printer: fn(Box<dyn Write + Send>) -> Box<dyn crate::session::Observer>,
    /// --record: the session as JSON Lines, with whether secrets are kept and --max-body.
    pub(crate) record: Option<(crate::transcript::jsonl::RecordFile, (bool, Option<u64>))>,
}

/// Seconds since midnight UTC, for the transcript's clock.
pub(crate) fn clock_base() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_secs() % 86_400) as f64 + f64::from(d.subsec_millis()) / 1000.0)
        .unwrap_or(0.0)
}

/// `popscope proxy`'s connections view on the proxy `listen` names: the hook for the
/// proxy's options (each connection's view fed by its relay), and the view for
/// [`run_proxy`].
pub(crate) fn proxy_view(
    listen: String,
    template: proxy::Template,
) -> (crate::proxy::Watch, proxy::Waiting) {
    proxy::prepare(listen, template)
}

/// Runs the connections view until the user quits; `reports` are the proxy's.
pub(crate) async fn run_proxy(
    view: proxy::Waiting,
    reports: mpsc::UnboundedReceiver<crate::report::ConnectionReport>,
) -> std::io::Result<()> {
    proxy::run(view, reports).await
}

/// Runs the TUI until the user quits. The terminal is restored on every way out, panics
/// included.
pub(crate) async fn run(opts: TuiOptions) -> std::io::Result<()> {
    let (req_tx, req_rx) = mpsc::channel::<Request>(task::REQUEST_CAPACITY);
    let (upd_tx, mut upd_rx) = task::Outbox::channel(task::UPDATE_CAPACITY);
    let record = opts.record.clone();
    let configured = app::Configured::of(opts.plan.creds.as_ref());
    let target = opts.label.clone();
    let told = upd_tx.clone();
    let printer = opts.transcript_printer;
    let session = tokio::spawn(task::run(
        opts.plan,
        req_rx,
        upd_tx,
        move |w: Box<dyn Write + Send>| {
            let mut observers: Vec<Box<dyn crate::session::Observer>> = vec![printer(w)];
            if let Some((file, keep)) = &record {
                observers.push(file.recorder_with(&target, keep.0, keep.1));
                // The first write error is said when it happens, not only by exit 2 at the end.
                let told = told.clone();
                observers.push(file.watcher(Box::new(move |at, e| {
                    let text = format!("--record: {e}");
                    told.send(task::Update::Note(at, crate::session::Note::Warning(text)));
                })));
            }
            Box::new(crate::session::Tee(observers)) as Box<dyn crate::session::Observer>
        },
    ));

    let mut app = App::new(opts.label, opts.theme, opts.keys);
    app.configured = configured;
    app.clock_base = clock_base();
    let history_file = history::default_path();
    if let Some(p) = &history_file {
        app.line.history = history::load(p);
    }
    let mut local = effects::Local::new(history_file);
    app.message = opts.greeting_hint.map(|h| (h, false));
    app.confirm_dele = opts.confirm_dele;

    let mut terminal = terminal::enter()?;
    let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture);
    let result = event_loop(&mut terminal, &mut app, &mut local, &mut upd_rx, &req_tx).await;
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    terminal::leave();
    let _ = req_tx.try_send(Request::Close);
    session.abort();
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    local: &mut effects::Local,
    updates: &mut mpsc::Receiver<task::Update>,
    requests: &mpsc::Sender<Request>,
) -> std::io::Result<()> {
    let mut keys = EventStream::new();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    // In raw mode Ctrl-C is a key; a SIGINT from `kill` ends the UI like SIGTERM, so the caller
    // (the demo's server and its certificate folder) is dropped on the way out.
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut last_draw = Instant::now() - FRAME;
    let mut session_ended = false;
    loop {
        if app.dirty && last_draw.elapsed() >= FRAME {
            terminal.draw(|f| ui::draw(f, app))?;
            app.dirty = false;
            last_draw = Instant::now();
        }
        let redraw_at = last_draw + FRAME;
        tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => {
                    // A new key press clears the last message.
                    app.message = None;
                    let actions = app.key(k);
                    local.carry_out(app);
                    for action in actions {
                        if action == app::Action::Reconnect {
                            app.reconnect_wall = Some(clock_base());
                        }
                        match perform(action, requests) {
                            Ok(true) => {}
                            Ok(false) => return Ok(()),
                            Err(busy) => app.message = Some((busy.into(), true)),
                        }
                    }
                }
                Some(Ok(TermEvent::Mouse(m))) => match m.kind {
                    MouseEventKind::ScrollUp => { app.transcript.move_cursor(-3); app.dirty = true; }
                    MouseEventKind::ScrollDown => { app.transcript.move_cursor(3); app.dirty = true; }
                    _ => {}
                },
                Some(Ok(TermEvent::Resize(..))) => app.dirty = true,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Ok(()),
            },
            up = updates.recv(), if !session_ended => {
                if let Some(u) = up {
                    app.apply(u);
                    // Take what is already queued before drawing again, within reason.
                    for _ in 0..10_000 {
                        match updates.try_recv() {
                            Ok(u) => app.apply(u),
                            Err(_) => break,
                        }
                    }
                } else {
                    // The session task ended; the screen stays until the user quits.
                    session_ended = true;
                }
            }
            _ = tokio::time::sleep_until(redraw_at), if app.dirty => {}
            _ = term.recv() => return Ok(()),
            _ = hup.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        }
    }
}

/// Hands an action to the session task. False means quit. The UI never waits for the session:
/// a request that finds the channel full is not sent, and the answer says so.
fn perform(action: app::Action, requests: &mpsc::Sender<Request>) -> Result<bool, &'static str> {
    let req = match action {
        app::Action::Quit => return Ok(false),
        app::Action::Send(line) => Request::Line(line),
        app::Action::SaslLine(line) => Request::SaslLine(line),
        app::Action::StartTls => Request::StartTls,
        app::Action::OAuth(asked) => Request::OAuth(asked),
        app::Action::Save(p) => Request::Save(p),
        app::Action::SaveReplace(p) => Request::SaveReplace(p),
        app::Action::Reconnect => Request::Reconnect,
    };
    match requests.try_send(req) {
        Err(mpsc::error::TrySendError::Full(_)) => {
            Err("the session is still busy with the lines before: this one was not sent")
        }
        // A session that ended says so itself (its last update); the screen stays.
        Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => Ok(true),
    }
}
