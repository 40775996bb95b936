//! Replay: the UI on a recorded session, with time travel. Each step shows the state machine,
//! transcript and findings as they were after that exchange; the engine re-runs up to there.

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;

use crate::transcript::jsonl::ClientSide;
use crate::transcript::{Entry, Item};
use crate::transport::TlsDetails;

use super::{App, Theme, keys, offline, ui};

/// Entry counts at which an exchange begins (each client line), then the whole session.
fn steps(entries: &[Entry]) -> Vec<usize> {
    let mut v: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.item, Item::Client(_)))
        .map(|(i, _)| i)
        .collect();
    v.push(entries.len());
    v
}

/// The footer's line in replay, from the table: "replay: ] next exchange · [ previous · …".
fn hint(table: &[keys::Binding]) -> String {
    let key = |scope, act| {
        keys::keys_of(table, scope, act)
            .first()
            .map_or("(unbound)".to_owned(), |k| keys::shown(k).to_owned())
    };
    use keys::{Act, Scope};
    format!(
        "replay: {} next exchange · {} previous · {} start · {} end · {} quit",
        key(Scope::Replay, Act::NextStep),
        key(Scope::Replay, Act::PrevStep),
        key(Scope::Replay, Act::FirstStep),
        key(Scope::Replay, Act::LastStep),
        key(Scope::Transcript, Act::Quit),
    )
}

/// What is replayed: the entries, the TLS details the recording kept (one per handshake),
/// and whether the client rules judge its client (it was not popscope).
pub(crate) struct Replayed {
    pub(crate) entries: Vec<Entry>,
    pub(crate) tls: Vec<TlsDetails>,
    pub(crate) client: ClientSide,
}

/// The UI state after the first `upto` entries of `r`.
pub(crate) fn state_at(
    label: &str,
    r: &Replayed,
    upto: usize,
    theme: &Theme,
    table: &[keys::Binding],
) -> App {
    let mut app = App::new(label.to_owned(), theme.clone(), table.to_vec());
    let entries = &r.entries[..upto.min(r.entries.len())];
    offline::load_with_tls(&mut app, entries, &r.tls, r.client);
    app.focus = super::app::Focus::Transcript;
    app
}

pub(crate) async fn run(
    label: String,
    replayed: Replayed,
    theme: Theme,
    table: Vec<keys::Binding>,
) -> std::io::Result<()> {
    let steps = steps(&replayed.entries);
    let hint = hint(&table);
    let mut at = steps.len() - 1;
    let build = |at: usize, keep: Option<&App>| {
        let mut app = state_at(
            &format!("{label} — step {}/{}", at + 1, steps.len()),
            &replayed,
            steps[at],
            &theme,
            &table,
        );
        if let Some(old) = keep {
            app.focus = old.focus;
            app.findings.selected = old
                .findings
                .selected
                .min(app.findings.list.len().saturating_sub(1));
        }
        app.message = Some((hint.clone(), false));
        app
    };
    let mut app = build(at, None);
    // A replay keeps no history: what is typed here was not sent to anyone.
    let mut local = super::effects::Local::default();
    let mut terminal = super::terminal::enter()?;
    let mut events = EventStream::new();
    let result = loop {
        if app.dirty {
            if let Err(e) = terminal.draw(|f| ui::draw(f, &app)) {
                break Err(e);
            }
            app.dirty = false;
        }
        let Some(Ok(ev)) = events.next().await else {
            break Ok(());
        };
        let TermEvent::Key(k) = ev else {
            app.dirty = true;
            continue;
        };
        if k.kind == KeyEventKind::Release {
            continue;
        }
        // Replay's keys come before the panel's; a step while an overlay is open is only the
        // jump to either end (the arrows belong to the overlay then).
        let step_to = match keys::lookup_in(&table, keys::Scope::Replay, &keys::name(&k)) {
            Some(keys::Act::NextStep) if app.overlay.is_none() => {
                Some((at + 1).min(steps.len() - 1))
            }
            Some(keys::Act::PrevStep) if app.overlay.is_none() => Some(at.saturating_sub(1)),
            Some(keys::Act::FirstStep) => Some(0),
            Some(keys::Act::LastStep) => Some(steps.len() - 1),
            _ => None,
        };
        if let Some(to) = step_to {
            at = to;
            app = build(at, Some(&app));
            continue;
        }
        let quit = app.key(k).contains(&super::app::Action::Quit);
        local.carry_out(&mut app);
        if quit {
            break Ok(());
        }
    };
    super::terminal::leave();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::text;

    #[test]
    fn the_replay_hint_follows_the_table() {
        let mut table = keys::defaults();
        assert_eq!(
            hint(&table),
            "replay: ] next exchange · [ previous · { start · } end · q quit"
        );
        if let Some(b) = table.iter_mut().find(|b| b.act == keys::Act::NextStep) {
            b.keys = vec![">".into()];
        }
        assert!(hint(&table).starts_with("replay: > next exchange"));
    }

    /// Popscope's own session: its client is not judged.
    fn replayed(entries: Vec<Entry>, tls: Vec<TlsDetails>) -> Replayed {
        Replayed {
            entries,
            tls,
            client: ClientSide::default(),
        }
    }

    #[test]
    fn each_step_shows_the_state_as_of_that_exchange() {
        let src = b"S: +OK ready\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\nC: STAT\nS: +OK 1 2\n";
        let entries = text::parse(src).unwrap_or_default();
        let s = steps(&entries);
        assert_eq!(s, vec![1, 3, 5, 7]);
        let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
        let table = keys::defaults();
        let r = replayed(entries, vec![]);
        let before_pass = state_at("x", &r, s[1], &theme, &table);
        assert_eq!(before_pass.state.name(), "AUTHORIZATION (USER accepted)");
        let end = state_at("x", &r, s[3], &theme, &table);
        assert_eq!(end.state.name(), "TRANSACTION");
    }

    #[test]
    fn a_proxied_client_is_judged_in_the_replay_and_popscope_itself_is_not() {
        let src = b"S: +OK ready\nC: STAT\nS: -ERR log in first\n";
        let entries = text::parse(src).unwrap_or_default();
        let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
        let table = keys::defaults();
        let rules = |client: ClientSide| -> Vec<&'static str> {
            let r = Replayed {
                entries: entries.clone(),
                tls: vec![],
                client,
            };
            let app = state_at("x", &r, entries.len(), &theme, &table);
            app.findings.list.iter().map(|(f, _)| f.rule.id).collect()
        };
        let (proxied, own) = (ClientSide::ANYONE, ClientSide::default());
        assert!(rules(proxied).contains(&"CL-002"), "{:?}", rules(proxied));
        assert!(!rules(own).contains(&"CL-002"), "{:?}", rules(own));
    }

    #[test]
    fn a_recorded_handshake_shows_its_recorded_details() {
        let src = b"S: +OK ready\nC: STLS\nS: +OK go\n-- tls\nC: CAPA\nS: +OK\nS: .\n";
        let entries = text::parse(src).unwrap_or_default();
        let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
        let table = keys::defaults();
        let recorded = TlsDetails {
            version: "TLS 1.3".into(),
            cipher: "TLS13_AES_256_GCM_SHA384".into(),
            verdict: crate::transport::tls::Verdict::Verified,
            chain: vec![crate::transport::tls::CertInfo {
                subject: "CN=pop.example".into(),
                issuer: "CN=ca".into(),
                sans: vec![],
                sans_total: 0,
                not_before: "2026-01-01".into(),
                not_after: "2027-01-01".into(),
                sha256: "00".into(),
                self_signed: false,
            }],
            ..TlsDetails::default()
        };
        let end = entries.len();
        let app = state_at(
            "x",
            &replayed(entries.clone(), vec![recorded]),
            end,
            &theme,
            &table,
        );
        let tls = app.tls.unwrap_or_default();
        assert_eq!(tls.version, "TLS 1.3");
        assert_eq!(tls.cipher, "TLS13_AES_256_GCM_SHA384");
        assert!(tls.verdict.is_verified());
        assert_eq!(tls.chain.len(), 1);
        // A text transcript keeps no details: the handshake says it was recorded.
        let app = state_at("x", &replayed(entries, vec![]), end, &theme, &table);
        assert!(app.tls.unwrap_or_default().verdict.is_recorded());
    }

    /// A hand-edited recording: ESC, BEL and U+202E in the target and every TLS field.
    fn hostile_recording() -> String {
        let evil = "evil\u{1b}]52;c;eA==\u{7}\u{202e}x";
        let cert = |n: &str| {
            serde_json::json!({"subject": format!("CN={n}{evil}"), "issuer": format!("CN=ca{evil}"),
                "sans": [format!("DNS:{n}{evil}")], "not_before": "2026", "not_after": "2027",
                "sha256": "00", "self_signed": false})
        };
        [
            serde_json::json!({"type":"header","format":1,"popscope":"0.1.0","target":format!("pop3://{evil}"),"started":0.0,"secrets":"redacted"}),
            serde_json::json!({"type":"data","t":0.0,"dir":"server","text":"+OK ready\r\n"}),
            serde_json::json!({"type":"data","t":0.0,"dir":"client","text":"STLS\r\n"}),
            serde_json::json!({"type":"data","t":0.0,"dir":"server","text":"+OK go\r\n"}),
            serde_json::json!({"type":"tls","t":0.1,"details":{"version":format!("TLS 1.3{evil}"),"cipher":"C","group":null,"alpn":null,
                "cert_requested":false,"client_cert_sent":false,"chain":[cert("leaf"), cert("intermediate")],
                "verdict":format!("bad{evil}"),"insecure":false}}),
            serde_json::json!({"type":"transport","t":0.1,"event":{"event":"tls-established","cert_requested":false,"client_cert":false}}),
        ]
        .iter()
        .map(|v| format!("{v}\n"))
        .collect()
    }

    #[test]
    fn a_recordings_tls_details_are_shown_escaped_with_the_whole_chain() {
        let rec = hostile_recording();
        let (s, damage) =
            crate::transcript::jsonl::session(rec.as_bytes(), 1).unwrap_or_else(|e| panic!("{e}"));
        assert!(damage.is_none(), "{damage:?}");
        let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
        let table = keys::defaults();
        let label = format!("replay r.jsonl ({})", s.target);
        let end = s.entries.len();
        let app = state_at(&label, &replayed(s.entries, s.tls), end, &theme, &table);
        let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 50))
            .unwrap_or_else(|e| panic!("{e}"));
        t.draw(|f| ui::draw(f, &app))
            .unwrap_or_else(|e| panic!("{e}"));
        let screen: String = t
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        for bad in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!screen.contains(bad), "{bad:?} drawn raw");
        }
        // The title, the TLS row of the header and the Session panel show the escapes.
        assert!(
            screen.contains("pop3://evil\\x1b]52;c;eA==\\x07"),
            "{screen}"
        );
        assert!(screen.contains("TLS 1.3evil\\x1b"), "{screen}");
        assert!(screen.contains("badevil\\x1b"), "{screen}");
        // Every certificate of the chain, not only the leaf.
        assert!(screen.contains("CN=leafevil\\x1b"), "{screen}");
        assert!(screen.contains("CN=intermediateevil\\x1b"), "{screen}");
    }
}
