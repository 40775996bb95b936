//! The session as a task of its own: the UI sends it lines and requests, it sends back what
//! happened. The UI never waits on the network; this task never touches the terminal.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::transport::TransportError;
use popscope_core::capability::Capabilities;
use popscope_core::event::SaslResponse;
use popscope_core::oauth::{Mechanism, SaslForm};
use popscope_core::session::CapsRecord;
use popscope_core::{Direction, Event, Secret, State, Time};
use zeroize::Zeroizing;

use super::login::{self, Credentials, Method};
use super::{ConnectOptions, Connection, Note, Observer};

/// Requests from the UI.
#[derive(Debug)]
pub(crate) enum Request {
    /// A line the user typed (a command, or a SASL response while a challenge is open).
    Line(Vec<u8>),
    /// A line typed as a SASL response (an AUTH was pending when it was typed): sent only
    /// inside the SASL exchange, never as a command, for it is a secret.
    SaslLine(Vec<u8>),
    StartTls,
    /// `:auth xoauth2|oauthbearer`: log in with a bearer token (the configured one, or one
    /// typed at the prompt), answering an error challenge with the dummy response.
    OAuth(OAuthLogin),
    /// Save the session so far in the text transcript format (an existing file is refused).
    Save(PathBuf),
    /// `:save! FILE`: the same, replacing an existing file (a symbolic link is still refused).
    SaveReplace(PathBuf),
    Reconnect,
    Close,
}

/// What `:auth` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthLogin {
    pub mechanism: Mechanism,
    /// The AUTH form asked on the `:auth` line; None: `--sasl-form`'s.
    pub form: Option<SaslForm>,
    /// A token typed at the prompt; None: the configured one (`--token-env` and the others).
    pub token: Option<Secret>,
}

/// What the session knows, for completion and the session panel.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub state: Option<State>,
    pub(crate) caps: CapsRecord,
    pub(crate) current_caps: Option<Capabilities>,
    /// Message numbers known from LIST or STAT (at most 10,000).
    pub(crate) messages: Vec<u32>,
    pub(crate) stat: Option<(u64, u64)>,
    pub(crate) sasl_open: bool,
    pub(crate) closed: bool,
}

/// Updates for the UI, in order.
#[derive(Debug)]
pub enum Update {
    Note(Time, Note),
    Event(Time, Event<'static>),
    /// A SASL response line, with how it may be shown: a dummy response as sent, an OAuth
    /// response redacted as recordings redact it; None: not shown at all.
    SaslResponse {
        at: Time,
        response: SaslResponse,
        shown: Option<String>,
    },
    /// What the token about to be sent says about itself (a JWT's claims), or None for a
    /// token that is not a JWT. Sent before a login with a token.
    Token(Option<String>),
    Snapshot(Box<Summary>),
    /// A failure to show in one line (connect, TLS, --starttls).
    Failed(String),
    Saved(Result<PathBuf, String>),
    /// How far a body has come, past the lines forwarded one by one.
    Progress {
        exchange: u32,
        lines: u64,
        octets: u64,
    },
    /// Unsolicited lines past the ones forwarded one by one in a run (a flood), counted.
    Hidden {
        at: Time,
        exchange: u32,
        lines: u64,
        octets: u64,
    },
}

/// Updates the channel to the UI holds; past them they wait in the outbox's backlog.
pub(crate) const UPDATE_CAPACITY: usize = 4096;
/// Requests the channel from the UI holds (typed by a person: never near full).
pub(crate) const REQUEST_CAPACITY: usize = 64;

/// The session's side of the bounded channel to the UI. Observers are called synchronously
/// from inside a read, where nothing can wait: what does not fit in the channel waits here, in
/// order, and the session task flushes it (waiting for the UI) between reads. Nothing is
/// dropped; a progress count (or a flood's count) behind another of the same exchange replaces
/// it, for only the latest is shown. The backlog stays small because [`Forward`] already bounds
/// what it forwards per exchange.
#[derive(Clone)]
pub(crate) struct Outbox {
    tx: mpsc::Sender<Update>,
    backlog: Arc<Mutex<VecDeque<Update>>>,
}

impl Outbox {
    /// The outbox and the UI's end of the channel.
    pub(crate) fn channel(capacity: usize) -> (Outbox, mpsc::Receiver<Update>) {
        let (tx, rx) = mpsc::channel(capacity);
        let backlog = Arc::new(Mutex::new(VecDeque::new()));
        (Outbox { tx, backlog }, rx)
    }

    fn backlog(&self) -> std::sync::MutexGuard<'_, VecDeque<Update>> {
        // A panic while holding it leaves a queue still in order: go on with it.
        self.backlog.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends now if the channel has room and nothing waits before it; else queues (never
    /// blocks, never drops). A UI that is gone is not an error: the session ends on its own.
    pub(crate) fn send(&self, update: Update) {
        let mut backlog = self.backlog();
        if backlog.is_empty() {
            match self.tx.try_send(update) {
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
                Err(mpsc::error::TrySendError::Full(u)) => {
                    backlog.push_back(u);
                    return;
                }
            }
        }
        match (backlog.back_mut(), update) {
            (
                Some(Update::Progress { exchange: a, .. }),
                u @ Update::Progress { exchange: b, .. },
            )
            | (Some(Update::Hidden { exchange: a, .. }), u @ Update::Hidden { exchange: b, .. })
                if *a == b =>
            {
                if let Some(last) = backlog.back_mut() {
                    *last = u;
                }
            }
            (_, u) => backlog.push_back(u),
        }
    }

    /// Whether updates wait for room.
    pub(crate) fn pending(&self) -> bool {
        !self.backlog().is_empty()
    }

    /// Sends what waits, waiting for the UI to make room (cancel-safe: an update leaves the
    /// backlog only once the channel has room for it).
    pub(crate) async fn flush(&self) {
        loop {
            let Ok(permit) = self.tx.reserve().await else {
                // The UI is gone: nothing will read these.
                self.backlog().clear();
                return;
            };
            let Some(next) = self.backlog().pop_front() else {
                return;
            };
            permit.send(next);
        }
    }
}

/// Unsolicited lines forwarded one by one in a run; the rest of a flood is counted.
const FORWARD_UNSOLICITED: u64 = 200;

/// Past the forwarded lines, a progress update every this many octets of body.
const PROGRESS_EVERY: u64 = 1 << 20;

/// Body lines forwarded per exchange, one by one; past them only progress is sent, so a UI
/// keeps at most this many lines of a body (its fold counts the rest). Bounds memory for a
/// 1 GB RETR.
pub(crate) const FORWARD_BODY_LINES: usize = 2000;

/// Where [`Forward`] sends a session's updates: the UI's channel ([`Outbox`]), or straight
/// into a view (a connection of `popscope proxy`'s connections view).
pub(crate) trait Updates: Send {
    fn send(&self, update: Update);
}

impl Updates for Outbox {
    fn send(&self, update: Update) {
        Outbox::send(self, update);
    }
}

/// The observer that turns what a session does into updates for `tx`, bounded as the UI
/// needs (a body's first lines, then progress; a flood counted), `recorder` fed everything.
pub(crate) fn forward(
    tx: impl Updates + 'static,
    recorder: Box<dyn Observer>,
) -> Box<dyn Observer> {
    Box::new(Forward::new(tx, recorder))
}

struct Forward<T: Updates = Outbox> {
    tx: T,
    body_lines: u64,
    body_octets: u64,
    /// Exchange and octet count of the last progress update sent.
    progress: (u32, u64),
    /// The current run of unsolicited lines, and what of it was not forwarded.
    unsolicited: u64,
    hidden: Hidden,
    recorder: Box<dyn Observer>,
    sasl: SaslSeen,
}

/// The SASL exchange in progress, as far as showing its response lines needs: its mechanism,
/// and the last line the client wrote in it (a secret, wiped when replaced or dropped). The
/// live session and a replay both turn response events into [`Update::SaslResponse`] with it.
#[derive(Default)]
pub(crate) struct SaslSeen {
    mechanism: Option<String>,
    sent: Zeroizing<Vec<u8>>,
}

impl SaslSeen {
    /// The client wrote `bytes` (kept only inside a SASL exchange).
    pub(crate) fn client_wrote(&mut self, bytes: &[u8]) {
        if self.mechanism.is_some() {
            self.sent = Zeroizing::new(bytes.to_vec());
        }
    }

    /// Follows the exchange; a response event becomes the update that shows it.
    pub(crate) fn saw(&mut self, at: Time, ev: &Event<'_>) -> Option<Update> {
        match ev {
            Event::Command { command, .. } => {
                *self = SaslSeen {
                    mechanism: command.mechanism(),
                    ..SaslSeen::default()
                };
                None
            }
            Event::Reply(_) => {
                *self = SaslSeen::default();
                None
            }
            Event::SaslResponse(response) => Some(Update::SaslResponse {
                at,
                response: *response,
                shown: self.shown(response),
            }),
            _ => None,
        }
    }

    /// How the response line just sent may be shown (see [`Update::SaslResponse`]).
    fn shown(&mut self, response: &SaslResponse) -> Option<String> {
        let sent = std::mem::take(&mut self.sent);
        let line = sent.strip_suffix(b"\n").unwrap_or(&sent);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if response.cancel {
            return None;
        }
        if popscope_core::oauth::is_dummy_response(line) {
            return Some(String::from_utf8_lossy(line).into_owned());
        }
        let mech = self.mechanism.as_deref()?;
        Mechanism::parse(mech)?;
        let redacted = popscope_core::redact::client_line(line, Some(mech))?;
        Some(popscope_core::sanitize::display(&redacted, 4096))
    }
}

#[derive(Default)]
struct Hidden {
    at: Time,
    exchange: u32,
    lines: u64,
    octets: u64,
    reported: u64,
}

impl<T: Updates> Forward<T> {
    fn new(tx: T, recorder: Box<dyn Observer>) -> Forward<T> {
        Forward {
            tx,
            body_lines: 0,
            body_octets: 0,
            progress: (0, 0),
            unsolicited: 0,
            hidden: Hidden::default(),
            recorder,
            sasl: SaslSeen::default(),
        }
    }

    fn report_hidden(&mut self) {
        let h = &mut self.hidden;
        if h.lines > 0 && h.octets != h.reported {
            h.reported = h.octets;
            self.tx.send(Update::Hidden {
                at: h.at,
                exchange: h.exchange,
                lines: h.lines,
                octets: h.octets,
            });
        }
    }

    /// A run of unsolicited lines ended: its count is final.
    fn end_run(&mut self) {
        self.report_hidden();
        self.unsolicited = 0;
        self.hidden = Hidden::default();
    }
}

impl<T: Updates> Observer for Forward<T> {
    fn wire(&mut self, at: Time, dir: Direction, bytes: &[u8]) {
        self.recorder.wire(at, dir, bytes);
        if dir == Direction::Client {
            self.sasl.client_wrote(bytes);
        }
    }

    fn note(&mut self, at: Time, note: &Note) {
        self.recorder.note(at, note);
        self.end_run();
        self.tx.send(Update::Note(at, note.clone()));
    }

    fn settled(&mut self, at: Time) {
        self.recorder.settled(at);
    }

    fn event(&mut self, at: Time, ev: &Event<'_>) {
        self.recorder.event(at, ev);
        if let Some(shown) = self.sasl.saw(at, ev) {
            self.tx.send(shown);
            return;
        }
        match ev {
            Event::Reply(_) | Event::Command { .. } => {
                self.end_run();
                self.body_lines = 0;
                self.body_octets = 0;
            }
            Event::Unsolicited { exchange, line } => {
                self.unsolicited += 1;
                if self.unsolicited > FORWARD_UNSOLICITED {
                    self.hidden.exchange = *exchange;
                    self.hidden.at = at;
                    self.hidden.lines += 1;
                    self.hidden.octets += line.len() as u64 + 2;
                    if self.hidden.octets >= self.hidden.reported + PROGRESS_EVERY {
                        self.report_hidden();
                    }
                    return;
                }
            }
            Event::BodyLine { exchange, line } => {
                self.body_lines += 1;
                self.body_octets += line.len() as u64 + 2;
                if self.body_lines > FORWARD_BODY_LINES as u64 {
                    if self.body_octets >= self.progress.1 + PROGRESS_EVERY
                        || self.progress.0 != *exchange
                    {
                        self.progress = (*exchange, self.body_octets);
                        self.tx.send(Update::Progress {
                            exchange: *exchange,
                            lines: self.body_lines,
                            octets: self.body_octets,
                        });
                    }
                    return;
                }
            }
            _ => {}
        }
        self.tx.send(Update::Event(at, ev.clone().into_owned()));
    }
}

/// A writer into a shared, capped buffer: the text transcript kept for `:save`.
#[derive(Clone, Default)]
pub(crate) struct Recording(Arc<Mutex<Vec<u8>>>);

/// The printer writing into the recording stops here (a line says so); `--record` streams to
/// disk. It bounds what the UI holds while a server streams a body of any size.
pub(crate) const MAX_RECORDING: usize = 16 << 20;

impl Recording {
    /// A copy of what was written so far.
    pub(crate) fn contents(&self) -> Vec<u8> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Write for Recording {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How the session should start.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) options: ConnectOptions,
    pub(crate) starttls: bool,
    pub(crate) creds: Option<Credentials>,
    pub(crate) method: Method,
}

fn summary(c: &Connection, sasl_open: bool) -> Summary {
    Summary::of(c.engine().session(), sasl_open, c.is_closed())
}

impl Summary {
    /// What `session` knows, for the UI: live and replayed sessions alike. Deleted messages are
    /// left out (they cannot be the argument of another command).
    pub(crate) fn of(s: &popscope_core::Session, sasl_open: bool, closed: bool) -> Summary {
        let mut messages: Vec<u32> = s
            .maildrop
            .iter()
            .filter(|(_, m)| !m.deleted)
            .map(|(n, _)| n)
            .take(10_000)
            .collect();
        if messages.is_empty()
            && let Some((count, _)) = s.maildrop.last_stat
        {
            messages = (1..=count.min(10_000) as u32).collect();
        }
        Summary {
            state: Some(s.state),
            caps: s.caps.clone(),
            current_caps: s.current_caps().cloned(),
            messages,
            stat: s.maildrop.last_stat,
            sasl_open,
            closed,
        }
    }
}

/// Runs sessions until the UI closes the channel. `recorder` builds an observer that writes the
/// text transcript into the given writer.
pub(crate) async fn run(
    plan: Plan,
    mut rx: mpsc::Receiver<Request>,
    tx: Outbox,
    recorder: impl Fn(Box<dyn Write + Send>) -> Box<dyn Observer> + Send,
) {
    let recording = Recording::default();
    'session: loop {
        let forward = Forward::new(tx.clone(), recorder(Box::new(recording.clone())));
        if let Some(token) = plan.creds.as_ref().and_then(|c| c.token.as_ref()) {
            tx.send(Update::Token(login::token_said(token)));
        }
        let mut conn = match start(&plan, Box::new(forward)).await {
            Ok(c) => c,
            Err(e) => {
                let why = e.to_string();
                tx.send(Update::Failed(why.clone()));
                tx.send(Update::Snapshot(Box::new(Summary {
                    closed: true,
                    ..Summary::default()
                })));
                // Wait for the user: reconnect, save or quit.
                loop {
                    tx.flush().await;
                    match rx.recv().await {
                        None | Some(Request::Close) => return,
                        Some(Request::Reconnect) => continue 'session,
                        Some(Request::Save(p)) => save(&recording, p, false, &tx),
                        Some(Request::SaveReplace(p)) => save(&recording, p, true, &tx),
                        Some(_) => {
                            // Says why again: a command typed while the session was still
                            // starting would otherwise replace the reason it ended.
                            tx.send(Update::Failed(format!(
                                "not connected ({why}): :reconnect to try again"
                            )));
                        }
                    }
                }
            }
        };
        let mut sasl: Option<u32> = None;
        tx.send(Update::Snapshot(Box::new(summary(&conn, false))));
        loop {
            // Between commands the server is still heard: unsolicited lines, a flood after
            // QUIT and the close appear as they happen.
            let req = tokio::select! {
                // What the UI had no room for goes first, as soon as it has.
                () = tx.flush(), if tx.pending() => continue,
                req = rx.recv() => req,
                idle = conn.read_idle(), if !conn.is_closed() => {
                    if let Err(e) = idle {
                        tx.send(Update::Failed(e.to_string()));
                    }
                    tx.send(Update::Snapshot(Box::new(summary(&conn, sasl.is_some()))));
                    continue;
                }
            };
            let Some(req) = req else { break };
            let result = match req {
                Request::Reconnect => {
                    conn.close().await;
                    continue 'session;
                }
                Request::Close => break,
                Request::Save(p) => {
                    save(&recording, p, false, &tx);
                    Ok(())
                }
                Request::SaveReplace(p) => {
                    save(&recording, p, true, &tx);
                    Ok(())
                }
                Request::StartTls => conn.starttls().await.map(|_| ()),
                Request::OAuth(_) if sasl.is_some() => {
                    tx.send(Update::Failed(
                        "an AUTH exchange is open: answer its challenge (or * to cancel) first"
                            .into(),
                    ));
                    Ok(())
                }
                Request::OAuth(asked) => oauth(&mut conn, &plan, asked, &tx).await.map(|o| {
                    if o.challenge.is_some() {
                        sasl = Some(o.exchange);
                    }
                    if o.timed_out {
                        timed_out(
                            &o,
                            "waiting for the answer to the AUTH exchange",
                            &plan,
                            &tx,
                        );
                    }
                }),
                Request::SaslLine(_) if sasl.is_none() => {
                    tx.send(Update::Failed(
                        "the AUTH exchange had ended: the line typed for it was not sent".into(),
                    ));
                    Ok(())
                }
                Request::Line(line) | Request::SaslLine(line) => {
                    let response = sasl.take();
                    let out = match response {
                        Some(ex) => conn.sasl_response(ex, &line).await,
                        None => conn.command(&line, 0).await,
                    };
                    out.map(|o| {
                        if o.challenge.is_some() {
                            sasl = Some(o.exchange);
                        }
                        if o.timed_out {
                            // Say what arrived (a SASL response is not shown: it is a secret).
                            let shown = match response {
                                Some(_) => "the SASL response".to_owned(),
                                None => popscope_core::redact::history_form(
                                    &String::from_utf8_lossy(&line),
                                ),
                            };
                            let what = format!("waiting for the answer to {shown}");
                            timed_out(&o, &what, &plan, &tx);
                        }
                    })
                }
            };
            if let Err(e) = result {
                tx.send(Update::Failed(e.to_string()));
            }
            tx.send(Update::Snapshot(Box::new(summary(&conn, sasl.is_some()))));
            // Backpressure: the next request waits until the UI has taken this one's updates.
            tx.flush().await;
        }
        conn.close().await;
        return;
    }
}

/// Says that `o` timed out while `what`.
fn timed_out(o: &super::Outcome, what: &str, plan: &Plan, tx: &Outbox) {
    let secs = plan.options.read_timeout.as_secs();
    let e = o.timeout_error(what, secs, " (--timeout sets the wait)");
    tx.send(Update::Failed(e.to_string()));
}

/// `:auth`: the configured user and token (or the token typed at the prompt), in the form
/// asked or else `--sasl-form`'s; what the token says about itself goes to the UI first.
async fn oauth(
    conn: &mut Connection,
    plan: &Plan,
    asked: OAuthLogin,
    tx: &Outbox,
) -> Result<super::Outcome, TransportError> {
    let configured = plan.creds.as_ref();
    let creds = Credentials {
        user: configured.map(|c| c.user.clone()).unwrap_or_default(),
        password: None,
        token: asked
            .token
            .or_else(|| configured.and_then(|c| c.token.clone())),
        sasl_form: asked
            .form
            .or(configured.map(|c| c.sasl_form))
            .unwrap_or_default(),
    };
    if let Some(token) = &creds.token {
        tx.send(Update::Token(login::token_said(token)));
    }
    let method = match asked.mechanism {
        Mechanism::XOauth2 => Method::XOauth2,
        Mechanism::OauthBearer => Method::OauthBearer,
    };
    login::login_quietly(conn, method, &creds).await
}

fn save(recording: &Recording, path: PathBuf, replace: bool, tx: &Outbox) {
    tx.send(Update::Saved(write_transcript(
        &recording.contents(),
        &path,
        replace,
    )));
}

/// Writes a saved transcript: 0600, never through a symbolic link, an existing file refused
/// unless `replace`; every write error (a full disk, the final sync) is reported in one line.
fn write_transcript(
    bytes: &[u8],
    path: &std::path::Path,
    replace: bool,
) -> Result<PathBuf, String> {
    use crate::private_file::{self, Existing};
    let how = if replace {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    let fail = |e: std::io::Error| {
        let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if e.kind() == std::io::ErrorKind::AlreadyExists && !link && !private_file::is_dir(path) {
            let p = popscope_core::sanitize::display(path.as_os_str().as_encoded_bytes(), 200);
            format!("cannot save: {p} exists (:save! {p} replaces it)")
        } else {
            format!("cannot save: {}", private_file::explain(path, &e))
        }
    };
    let mut f = private_file::open(path, how).map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    // A device (`/dev/full`, `/dev/null`) has no sync; a file's data must be on disk.
    if f.metadata().is_ok_and(|m| m.is_file()) {
        f.sync_all().map_err(fail)?;
    }
    Ok(path.to_path_buf())
}

async fn start(plan: &Plan, observer: Box<dyn Observer>) -> Result<Connection, TransportError> {
    let (mut conn, _) = Connection::open(&plan.options, observer).await?;
    // CAPA (and STLS) first; a CAPA that times out stops before any credential goes out.
    super::secure::prepare(&mut conn, plan.starttls, plan.creds.is_some()).await?;
    if let Some(creds) = &plan.creds {
        // The UI explains a refused token under the error challenge, not in a warning.
        let out = login::login_quietly(&mut conn, plan.method, creds).await?;
        if out.challenge.is_some() {
            conn.cancel_sasl(out.exchange).await?;
        }
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn progress(exchange: u32, lines: u64) -> Update {
        Update::Progress {
            exchange,
            lines,
            octets: lines * 10,
        }
    }

    /// The session may not wait inside an observer and may not lose an update: what the
    /// bounded channel has no room for waits in order, progress counts coalesce.
    #[tokio::test]
    async fn a_full_channel_keeps_every_update_in_order_and_coalesces_progress() {
        let (out, mut rx) = Outbox::channel(2);
        out.send(Update::Failed("one".into()));
        out.send(Update::Failed("two".into()));
        for lines in 1..=1000 {
            out.send(progress(7, lines));
        }
        out.send(Update::Failed("three".into()));
        out.send(progress(7, 1001));
        out.send(progress(8, 1));
        assert!(out.pending());
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(u) = rx.recv().await {
                got.push(match u {
                    Update::Failed(s) => s,
                    Update::Progress {
                        exchange, lines, ..
                    } => format!("{exchange}:{lines}"),
                    other => format!("{other:?}"),
                });
            }
            got
        });
        out.flush().await;
        assert!(!out.pending());
        drop(out);
        let got = reader.await.unwrap_or_default();
        assert_eq!(got, ["one", "two", "7:1000", "three", "7:1001", "8:1"]);
    }

    /// After `auth`, each of `responses` written by the client as an answer: how each would
    /// be shown.
    fn responses_shown(auth: &str, responses: &[&str]) -> Vec<Option<String>> {
        let mut seen = SaslSeen::default();
        let command = popscope_core::command::Command::parse(auth.as_bytes(), auth.len() + 2);
        let ev = Event::Command {
            exchange: 3,
            command: Box::new(command),
        };
        assert!(seen.saw(Time(1), &ev).is_none());
        responses
            .iter()
            .map(|line| {
                seen.client_wrote(format!("{line}\r\n").as_bytes());
                let response = SaslResponse {
                    exchange: 3,
                    cancel: *line == "*",
                    octets: line.len(),
                    valid_base64: true,
                };
                match seen.saw(Time(2), &Event::SaslResponse(response)) {
                    Some(Update::SaslResponse { shown, .. }) => shown,
                    other => panic!("{other:?}"),
                }
            })
            .collect()
    }

    #[test]
    fn sasl_responses_are_shown_redacted_dummies_as_sent_others_not_at_all() {
        let ir = popscope_core::auth::b64encode(b"user=alice\x01auth=Bearer s3cr3t-token\x01\x01");
        let shown = responses_shown("AUTH XOAUTH2", &[&ir, "", "*"]);
        let redacted = popscope_core::redact::client_line(ir.as_bytes(), Some("XOAUTH2"));
        assert_eq!(shown[0].as_deref().map(str::as_bytes), redacted.as_deref());
        assert_ne!(shown[0].as_deref(), Some(&ir[..]));
        assert_eq!(shown[1].as_deref(), Some(""));
        assert_eq!(shown[2], None);
        assert_eq!(
            responses_shown("AUTH OAUTHBEARER", &["AQ=="]),
            [Some("AQ==".to_owned())]
        );
        // A PLAIN or LOGIN response is shown by its length only.
        assert_eq!(
            responses_shown("AUTH LOGIN", &["YWxpY2U=", "c2VjcmV0"]),
            [None, None]
        );
        // Outside an exchange nothing the client writes is kept.
        let mut seen = SaslSeen::default();
        seen.client_wrote(b"PASS hunter2\r\n");
        assert!(seen.sent.is_empty());
    }

    #[test]
    fn save_is_private_refuses_existing_files_and_links_and_reports_write_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("notes.txt");
        assert_eq!(write_transcript(b"C: CAPA\n", &p, false).unwrap(), p);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let e = write_transcript(b"other", &p, false).unwrap_err();
        assert!(e.contains(":save!"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"C: CAPA\n");
        write_transcript(b"other", &p, true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"other");

        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for replace in [false, true] {
            let e = write_transcript(b"x", &link, replace).unwrap_err();
            assert!(e.contains("symbolic link"), "{e}");
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

        for replace in [false, true] {
            let e = write_transcript(b"x", d.path(), replace).unwrap_err();
            assert!(e.contains("is a directory") && !e.contains(":save!"), "{e}");
        }

        if std::path::Path::new("/dev/full").exists() {
            let e = write_transcript(b"x", std::path::Path::new("/dev/full"), true).unwrap_err();
            assert!(e.contains("/dev/full") && e.contains("space"), "{e}");
        }
    }
}
