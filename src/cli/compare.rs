//! `popscope replay FILE --against URL`: the recorded commands sent to another server, and the
//! two servers' replies side by side, for upgrades and migrations.

use std::io::Write;

use crate::protocol::command::Keyword;
use crate::protocol::{Config, Engine, Event, Time};
use crate::sanitize::display;
use crate::session::Connection;
use crate::session::login;
use crate::transcript::{Entry, Item};
use crate::transport::Target;

use super::connect::{secure, transport_error};
use super::{CliError, ReplayArgs, exit};

/// One recorded exchange: the command as it may be shown and sent, and the reply summary.
struct Recorded {
    keyword: Keyword,
    line: String,
    reply: String,
}

fn summary(raw: &[u8], lines: Option<(u64, u64)>) -> String {
    let mut s = display(raw, 60);
    if let Some((n, o)) = lines {
        s.push_str(&format!(" ▸ {n} lines, {o} octets"));
    }
    s
}

/// Runs the engine over the recording and keeps each exchange's command and reply.
fn exchanges(entries: &[Entry]) -> Vec<Recorded> {
    let mut engine = Engine::new(Config::default());
    let mut events: Vec<Event<'static>> = Vec::new();
    for e in entries {
        let now = e.at.unwrap_or_default();
        match &e.item {
            Item::Client(b) => engine.handle_client(now, b, &mut events),
            Item::Server(b) => engine.handle_server(now, b, &mut events),
            Item::Transport(ev) => engine.handle_transport(now, *ev, &mut events),
            Item::Idle { .. } => {}
        }
    }
    let _ = Time::default();
    let mut out: Vec<(u32, Recorded, Option<Vec<u8>>)> = Vec::new();
    for ev in events {
        match ev {
            Event::Command { exchange, command } => out.push((
                exchange,
                Recorded {
                    keyword: command.keyword,
                    line: command.redacted(),
                    reply: "(no reply)".into(),
                },
                None,
            )),
            Event::Reply(r) => {
                if let Some((_, rec, raw)) = out.iter_mut().rev().find(|(e, _, _)| *e == r.exchange)
                {
                    rec.reply = summary(&r.raw, None);
                    *raw = Some(r.raw.clone());
                }
            }
            Event::BodyEnd {
                exchange,
                lines,
                octets,
                ..
            } => {
                if let Some((_, rec, Some(raw))) =
                    out.iter_mut().rev().find(|(e, _, _)| *e == exchange)
                {
                    rec.reply = summary(raw, Some((lines, octets)));
                }
            }
            _ => {}
        }
    }
    out.into_iter().map(|(_, r, _)| r).collect()
}

/// Only the status indicator and, for listings and messages, the shape are compared: the text
/// after +OK differs between servers by design (RFC 1939 §9).
fn same(a: &str, b: &str) -> bool {
    let key = |s: &str| {
        let status = s.split(' ').next().unwrap_or_default().to_owned();
        let shape = s
            .split_once('▸')
            .map(|(_, r)| r.trim().to_owned())
            .unwrap_or_default();
        (status, shape)
    };
    key(a) == key(b)
}

pub fn against(args: &ReplayArgs, url: &str, entries: &[Entry]) -> Result<u8, CliError> {
    let target = Target::parse(url).map_err(CliError::usage)?;
    let Some(scheme) = target.scheme else {
        return Err(CliError::usage(format!(
            "'{url}': --against needs pop3:// or pop3s://"
        )));
    };
    let recorded = exchanges(entries);
    let creds = args.conn.credentials()?;
    let options = args.conn.options(&target, scheme, Config::default());
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let rt = super::runtime()?;
    rt.block_on(async {
        let (mut c, greeting) = Connection::open(&options, Box::new(crate::session::Quiet)).await?;
        let _ = greeting;
        if args.conn.starttls {
            secure(&mut c, true).await?;
        }
        if let Some(creds) = &creds {
            let out = login::login(&mut c, args.conn.login, creds).await?;
            rows.push((
                "(login)".into(),
                "(recorded login, not replayed)".into(),
                summary(&out.reply.map(|r| r.raw).unwrap_or_default(), None),
            ));
        }
        let mut deleted = false;
        for r in &recorded {
            let replay_it = match r.keyword {
                k if k.is_session_control() => false,
                Keyword::Dele => args.allow_delete,
                _ => true,
            };
            if !replay_it {
                skipped.push(r.line.clone());
                continue;
            }
            deleted |= r.keyword == Keyword::Dele;
            let out = c.command(r.line.as_bytes(), 0).await?;
            if out.challenge.is_some() {
                c.sasl_response(out.exchange, b"*").await?;
            }
            let lines =
                (out.line_count > 0 || out.complete).then_some((out.line_count, out.octets));
            let new = summary(&out.reply.map(|r| r.raw).unwrap_or_default(), lines);
            rows.push((r.line.clone(), r.reply.clone(), new));
            if c.is_closed() {
                break;
            }
        }
        if deleted && !c.is_closed() {
            c.command(b"RSET", 0).await?;
        }
        if !c.is_closed() {
            c.quit().await?;
        }
        Ok::<(), crate::transport::TransportError>(())
    })
    .map_err(transport_error)?;
    let w = 44;
    let mut out = String::new();
    out.push_str(&format!(
        "{:<18} {:<w$} {:<w$}\n",
        "command",
        "recorded server",
        target.url(scheme)
    ));
    let mut differences = 0;
    for (cmd, old, new) in &rows {
        let cut = |s: &str| -> String { s.chars().take(w).collect() };
        let mark = if cmd == "(login)" || same(old, new) {
            ""
        } else {
            differences += 1;
            "  ≠"
        };
        out.push_str(&format!(
            "{:<18} {:<w$} {:<w$}{mark}\n",
            cut(cmd),
            cut(old),
            cut(new)
        ));
    }
    if !skipped.is_empty() {
        out.push_str(&format!("not replayed: {} (login, STLS and QUIT are the session's own; DELE needs --allow-delete)\n", skipped.join(", ")));
    }
    out.push_str(&format!(
        "{differences} difference(s) in status or shape (reply text is not compared: RFC 1939 §9)\n"
    ));
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(if differences > 0 {
        exit::VIOLATIONS
    } else {
        exit::OK
    })
}
