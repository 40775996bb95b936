//! Each case against the conformant demo server, paired in one thread: the bytes the client
//! gets change as rules.md §3.19 says, and an exchange the case does not touch is the same
//! with and without it.

use super::*;
use crate::server::{Output, ServerConfig, ServerSession, maildrop};

/// A client, the injector (none: the healthy server alone) and the demo server.
struct Pair {
    injector: Option<Injector>,
    server: ServerSession,
    /// What the client got, pauses written as `<pause N>`, a close as `<close>`.
    heard: String,
    /// Feed the injector one octet at a time, both ways.
    bytewise: bool,
}

impl Pair {
    fn new(fault: Option<Fault>, stls: bool, start: Start) -> Pair {
        let config = ServerConfig {
            user: "demo".into(),
            password: "demo".into(),
            token: "demo-token".into(),
            port: None,
            offer_stls: stls,
            quirk: None,
            timestamp: "<1.2@popscope.demo>".into(),
        };
        let mut pair = Pair {
            injector: fault.map(|f| Injector::new(f, start)),
            server: ServerSession::new(config, maildrop::sample()),
            heard: String::new(),
            bytewise: false,
        };
        if start.client_tls {
            // Before the greeting nothing is held, so there is nothing to answer.
            let _ = pair.server.on_tls(None);
        }
        let greeting = pair.server.greeting();
        pair.served(vec![Output::Send(greeting)]);
        pair
    }

    fn plain(fault: Option<Fault>) -> Pair {
        Pair::new(fault, false, Start::default())
    }

    fn heard(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send(b) => self.heard.push_str(&String::from_utf8_lossy(&b)),
                Action::Pause(n) => self.heard.push_str(&format!("<pause {n}>")),
                Action::Close => self.heard.push_str("<close>"),
            }
        }
    }

    fn served(&mut self, outputs: Vec<Output>) {
        for o in outputs {
            match o {
                Output::Send(b) => match &mut self.injector {
                    Some(i) if self.bytewise => {
                        let actions: Vec<Action> =
                            b.iter().flat_map(|o| i.handle_server(&[*o])).collect();
                        self.heard(actions);
                    }
                    Some(i) => {
                        let actions = i.handle_server(&b);
                        self.heard(actions);
                    }
                    None => self.heard.push_str(&String::from_utf8_lossy(&b)),
                },
                Output::StartTls => {
                    if let Some(i) = &mut self.injector {
                        i.on_client_tls();
                    }
                    let after = self.server.on_tls(None);
                    self.served(after);
                }
                Output::Close => self.heard.push_str("<closed by the server>"),
                Output::Commit(_) => {}
            }
        }
    }

    /// The client sends `bytes`; returns what it got back for them.
    fn client(&mut self, bytes: &str) -> String {
        let before = self.heard.len();
        let size = if self.bytewise { 1 } else { bytes.len().max(1) };
        for chunk in bytes.as_bytes().chunks(size) {
            let r = match &mut self.injector {
                Some(i) => i.handle_client(chunk),
                None => FromClient {
                    forward: chunk.to_vec(),
                    to_client: Vec::new(),
                },
            };
            self.heard(r.to_client);
            let out = self.server.receive(&r.forward);
            self.served(out);
        }
        self.heard[before..].to_owned()
    }

    /// Each line in turn (the client waits for each reply); everything heard, greeting
    /// included.
    fn script(mut self, lines: &[&str]) -> String {
        for l in lines {
            self.client(&format!("{l}\r\n"));
        }
        self.heard
    }
}

fn fault(case: Case) -> Option<Fault> {
    Some(Fault::new(case))
}

const LOGIN: [&str; 2] = ["USER demo", "PASS demo"];

#[test]
fn names_parse_back_and_every_row_is_filled() {
    for c in Case::ALL {
        assert_eq!(Fault::parse(c.name()).map(|f| f.case), Ok(c));
        assert_eq!(Fault::parse(&Fault::new(c).label()), Ok(Fault::new(c)));
        let row = c.info();
        assert!(
            !row.served.is_empty() && !row.safe_client.is_empty(),
            "{}",
            row.name
        );
    }
    assert!(Fault::parse("nope").is_err());
    assert!(Fault::parse("slow-replies=x").is_err());
    assert_eq!(Fault::parse("login-delay=5").map(|f| f.seconds), Ok(5));
}

/// An exchange each case leaves alone: the client gets the same octets with it as without.
#[test]
fn a_conformant_exchange_the_case_does_not_touch_is_unchanged() {
    let plain_walk: &[&str] = &["USER demo", "PASS demo", "STAT", "LIST", "RETR 2", "QUIT"];
    let no_login: &[&str] = &["CAPA", "STAT", "QUIT"];
    for case in Case::ALL {
        let (stls, lines) = match case {
            Case::NoCapa | Case::StripStls | Case::CapaDiffersAfterTls | Case::LoginDelay => {
                (false, &["USER demo", "PASS demo", "UIDL", "QUIT"][..])
            }
            Case::InUse => (false, no_login),
            Case::LongUidl => (true, &["CAPA", "STLS", "LIST", "QUIT"][..]),
            Case::DropMidRetr => (false, &["USER demo", "PASS demo", "TOP 2 0", "QUIT"][..]),
            _ => (false, plain_walk),
        };
        let mut f = Fault::new(case);
        if case == Case::SlowReplies {
            f.seconds = 0;
        }
        let with = Pair::new(Some(f), stls, Start::default()).script(lines);
        let without = Pair::new(None, stls, Start::default()).script(lines);
        assert_eq!(with, without, "{}", case.name());
        assert!(
            with.ends_with("signing off\r\n<closed by the server>"),
            "{with}"
        );
    }
}

#[test]
fn strip_stls_removes_stls_from_capa_only() {
    let with = Pair::new(fault(Case::StripStls), true, Start::default()).script(&["CAPA"]);
    let without = Pair::new(None, true, Start::default()).script(&["CAPA"]);
    assert!(without.contains("\r\nSTLS\r\n"));
    assert_eq!(with, without.replace("\r\nSTLS\r\n", "\r\n"));
}

#[test]
fn stls_refused_answers_err_and_the_server_never_sees_it() {
    let mut p = Pair::new(fault(Case::StlsRefused), true, Start::default());
    assert!(
        p.client("CAPA\r\n").contains("\r\nSTLS\r\n"),
        "still offered"
    );
    assert_eq!(p.client("STLS\r\n"), "-ERR STLS not available now\r\n");
    // The server is still plain and in AUTHORIZATION: it refuses a plaintext USER.
    assert!(p.client("USER demo\r\n").starts_with("-ERR [AUTH]"));
}

#[test]
fn stls_response_injection_puts_plaintext_behind_the_ok_in_the_same_write() {
    let mut inj = Injector::new(Fault::new(Case::StlsResponseInjection), Start::default());
    let _ = inj.handle_server(b"+OK hi\r\n");
    let r = inj.handle_client(b"STLS\r\n");
    assert_eq!(r.forward, b"STLS\r\n");
    let got = inj.handle_server(b"+OK Begin TLS negotiation now\r\n");
    let mut want = b"+OK Begin TLS negotiation now\r\n".to_vec();
    want.extend_from_slice(INJECTED);
    assert_eq!(got, vec![Action::Send(want)], "one write");
    // A refused STLS gets nothing added.
    let mut inj = Injector::new(Fault::new(Case::StlsResponseInjection), Start::default());
    let _ = inj.handle_server(b"+OK hi\r\n");
    let _ = inj.handle_client(b"STLS\r\n");
    assert_eq!(
        inj.handle_server(b"-ERR no\r\n"),
        vec![Action::Send(b"-ERR no\r\n".to_vec())]
    );
}

const INJECTED: &[u8] = crate::server::quirks::INJECTED_AFTER_STLS;

#[test]
fn no_capa_answers_err_in_its_turn_behind_pipelined_commands() {
    let mut p = Pair::plain(fault(Case::NoCapa));
    assert_eq!(p.client("CAPA\r\n"), "-ERR CAPA not available\r\n");
    // Pipelined: the local answer waits for the NOOP's and the STAT's replies.
    assert_eq!(
        p.client("NOOP\r\nCAPA\r\nSTAT\r\n"),
        "-ERR log in first\r\n-ERR CAPA not available\r\n-ERR log in first\r\n"
    );
}

#[test]
fn a_local_answer_waits_for_a_multi_line_reply_split_anywhere() {
    let mut inj = Injector::new(Fault::new(Case::NoCapa), Start::default());
    let _ = inj.handle_server(b"+OK hi\r\n");
    let r = inj.handle_client(b"LIST\r\nCAPA\r\n");
    assert_eq!(r.forward, b"LIST\r\n");
    assert!(r.to_client.is_empty(), "CAPA's answer waits for LIST's");
    let reply = b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n";
    let mut got = Vec::new();
    for b in reply {
        got.extend(inj.handle_server(&[*b]));
    }
    let bytes: Vec<u8> = got
        .into_iter()
        .flat_map(|a| match a {
            Action::Send(b) => b,
            _ => Vec::new(),
        })
        .collect();
    let mut want = reply.to_vec();
    want.extend_from_slice(b"-ERR CAPA not available\r\n");
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        String::from_utf8_lossy(&want)
    );
}

#[test]
fn pre_auth_refuses_logins_after_tls_but_external() {
    let tls = Start {
        client_tls: true,
        since_last_login: None,
    };
    let mut p = Pair::new(fault(Case::PreAuth), false, tls);
    assert_eq!(p.client("USER demo\r\n"), "-ERR already authenticated\r\n");
    assert_eq!(
        p.client("AUTH PLAIN AGRlbW8AZGVtbw==\r\n"),
        "-ERR already authenticated\r\n"
    );
    // STAT goes to the server, which has logged no one in.
    assert_eq!(p.client("STAT\r\n"), "-ERR log in first\r\n");
    // EXTERNAL is the way in: it reaches the server (no certificate here, so refused).
    assert!(
        p.client("AUTH EXTERNAL =\r\n")
            .starts_with("-ERR [AUTH] no acceptable")
    );
    // Before TLS the case does nothing.
    let mut p = Pair::plain(fault(Case::PreAuth));
    assert_eq!(p.client("USER demo\r\n"), "+OK\r\n");
}

#[test]
fn capa_differs_after_tls_lists_more_mechanisms_before_tls() {
    let mut p = Pair::new(fault(Case::CapaDiffersAfterTls), true, Start::default());
    let before = p.client("CAPA\r\n");
    assert!(
        before.contains("\r\nSASL PLAIN LOGIN CRAM-MD5\r\n"),
        "{before}"
    );
    p.client("STLS\r\n");
    let after = p.client("CAPA\r\n");
    assert!(
        after.contains("\r\nSASL CRAM-MD5 EXTERNAL XOAUTH2 OAUTHBEARER\r\n"),
        "{after}"
    );
    // The healthy server's own lists: PLAIN after TLS only.
    let mut p = Pair::new(None, true, Start::default());
    assert!(p.client("CAPA\r\n").contains("\r\nSASL CRAM-MD5\r\n"));
}

#[test]
fn oauth_error_answers_the_good_token_with_the_error_challenge_then_err() {
    use crate::auth::{b64decode, b64encode};
    let good = b64encode(b"user=demo\x01auth=Bearer demo-token\x01\x01");
    let tls = Start {
        client_tls: true,
        since_last_login: None,
    };
    // The healthy server lets the token in.
    let mut p = Pair::new(None, false, tls);
    assert!(
        p.client(&format!("AUTH XOAUTH2 {good}\r\n"))
            .starts_with("+OK")
    );
    // One line: the error challenge, then -ERR to the dummy response.
    let mut p = Pair::new(fault(Case::OauthError), false, tls);
    let challenge = p.client(&format!("AUTH XOAUTH2 {good}\r\n"));
    let json = challenge
        .strip_prefix("+ ")
        .and_then(|c| b64decode(c.trim_end().as_bytes()))
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
    assert_eq!(v["status"], "401", "{challenge}");
    assert!(p.client("\r\n").starts_with("-ERR"));
    // The session goes on with the server: it is still in AUTHORIZATION.
    assert_eq!(p.client("STAT\r\n"), "-ERR log in first\r\n");
    // Two lines, OAUTHBEARER: `+ `, the message, the error challenge, then -ERR.
    let mut p = Pair::new(fault(Case::OauthError), false, tls);
    assert_eq!(p.client("AUTH OAUTHBEARER\r\n"), "+ \r\n");
    let challenge = p.client("bi,a=demo,\x01auth=Bearer demo-token\x01\x01\r\n");
    let json = b64decode(challenge.trim_start_matches("+ ").trim_end().as_bytes());
    let v: serde_json::Value =
        serde_json::from_slice(&json.unwrap_or_default()).unwrap_or_default();
    assert_eq!(v["status"], "invalid_token");
    assert!(p.client("AQ==\r\n").starts_with("-ERR"));
}

#[test]
fn slow_replies_pause_before_every_reply_but_the_greeting() {
    let heard = Pair::plain(Some(Fault {
        case: Case::SlowReplies,
        seconds: 2,
    }))
    .script(&["NOOP", "LIST"]);
    assert!(heard.starts_with("+OK popscope demo"), "{heard}");
    assert_eq!(heard.matches("<pause 2>").count(), 2, "{heard}");
    assert!(
        heard.contains("\r\n<pause 2>-ERR log in first\r\n<pause 2>-ERR"),
        "{heard}"
    );
}

#[test]
fn drop_mid_retr_closes_after_the_headers() {
    let mut p = Pair::plain(fault(Case::DropMidRetr));
    for l in LOGIN {
        p.client(&format!("{l}\r\n"));
    }
    let got = p.client("RETR 1\r\n");
    assert!(got.starts_with("+OK"), "{got}");
    assert!(got.ends_with("\r\n\r\n<close>"), "{got}");
    assert!(!got.contains("\r\n.\r\n"), "{got}");
    assert_eq!(p.client("QUIT\r\n"), "", "nothing after the close");
    let mut p = Pair::plain(None);
    for l in LOGIN {
        p.client(&format!("{l}\r\n"));
    }
    assert!(p.client("RETR 1\r\n").ends_with("\r\n.\r\n"));
}

#[test]
fn in_use_refuses_every_login() {
    let mut p = Pair::plain(fault(Case::InUse));
    assert_eq!(p.client("USER demo\r\n"), "+OK\r\n");
    assert!(p.client("PASS demo\r\n").starts_with("-ERR [IN-USE] "));
    assert!(
        p.client("AUTH PLAIN AGRlbW8AZGVtbw==\r\n")
            .starts_with("-ERR [IN-USE] ")
    );
    assert!(!p.injector.as_ref().is_some_and(Injector::logged_in));
}

#[test]
fn login_delay_is_advertised_and_enforced_across_connections() {
    let f = Some(Fault {
        case: Case::LoginDelay,
        seconds: 30,
    });
    let mut first = Pair::plain(f);
    let capa = first.client("CAPA\r\n");
    assert!(capa.ends_with("\r\nLOGIN-DELAY 30\r\n.\r\n"), "{capa}");
    for l in LOGIN {
        first.client(&format!("{l}\r\n"));
    }
    assert!(first.injector.as_ref().is_some_and(Injector::logged_in));
    let again = |since| {
        let mut p = Pair::new(
            f,
            false,
            Start {
                client_tls: false,
                since_last_login: Some(since),
            },
        );
        p.client("USER demo\r\n");
        p.client("PASS demo\r\n")
    };
    assert!(
        again(10).starts_with("-ERR [LOGIN-DELAY] "),
        "{}",
        again(10)
    );
    assert!(again(30).starts_with("+OK maildrop"));
}

#[test]
fn long_uidl_gives_70_octet_uids_the_same_in_both_forms() {
    let mut p = Pair::plain(fault(Case::LongUidl));
    for l in LOGIN {
        p.client(&format!("{l}\r\n"));
    }
    let list = p.client("UIDL\r\n");
    let uids: Vec<&str> = list
        .lines()
        .skip(1)
        .take_while(|l| *l != ".")
        .filter_map(|l| l.split(' ').nth(1))
        .collect();
    assert_eq!(uids.len(), 4, "{list}");
    for (i, uid) in uids.iter().enumerate() {
        assert_eq!(uid.len(), LONG_UID_LEN, "{uid}");
        assert!(uid.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        let one = p.client(&format!("UIDL {}\r\n", i + 1));
        assert_eq!(one, format!("+OK {} {uid}\r\n", i + 1));
    }
    let mut distinct = uids.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), uids.len());
    // The healthy server's UIDs are short.
    let mut p = Pair::plain(None);
    for l in LOGIN {
        p.client(&format!("{l}\r\n"));
    }
    assert!(p.client("UIDL 1\r\n").len() < LONG_UID_LEN);
}

#[test]
fn a_sasl_response_line_is_not_taken_for_a_command() {
    // The response `Q0FQQQ==` would be CAPA were it a command; under no-capa it must reach
    // the server as the exchange's line.
    let mut p = Pair::new(
        fault(Case::NoCapa),
        false,
        Start {
            client_tls: true,
            since_last_login: None,
        },
    );
    assert_eq!(p.client("AUTH PLAIN\r\n"), "+ \r\n");
    assert!(
        p.client("CAPA\r\n").starts_with("-ERR [AUTH]"),
        "the server's refusal of the response"
    );
    assert_eq!(p.client("CAPA\r\n"), "-ERR CAPA not available\r\n");
}

/// Octets split anywhere give the client the same octets, pauses and close, whatever the
/// case: a line is acted on when its line end arrives.
#[test]
fn every_case_gives_the_same_whether_fed_whole_or_octet_by_octet() {
    let walk = [
        "CAPA",
        "USER demo",
        "PASS demo",
        "UIDL",
        "UIDL 1",
        "LIST",
        "RETR 2",
        "QUIT",
    ];
    for case in Case::ALL {
        for stls in [false, true] {
            let run = |bytewise: bool| {
                let mut p = Pair::new(fault(case), stls, Start::default());
                p.bytewise = bytewise;
                if stls {
                    p.client("STLS\r\n");
                }
                p.script(&walk)
            };
            let whole = run(false);
            let octets = run(true);
            // The octet-by-octet run writes more often; what is written is the same.
            assert_eq!(whole, octets, "{} (STLS: {stls})", case.name());
        }
    }
}

#[test]
fn a_client_that_pipelines_without_end_is_closed() {
    let mut inj = Injector::new(Fault::new(Case::NoCapa), Start::default());
    let _ = inj.handle_server(b"+OK hi\r\n");
    let flood = "NOOP\r\n".repeat(5000);
    let r = inj.handle_client(flood.as_bytes());
    assert_eq!(r.to_client.last(), Some(&Action::Close));
    assert!(inj.is_closed());
    assert_eq!(inj.handle_client(b"NOOP\r\n"), FromClient::default());
    // Within the bound, nothing is closed.
    let mut inj = Injector::new(Fault::new(Case::NoCapa), Start::default());
    let _ = inj.handle_server(b"+OK hi\r\n");
    assert!(
        inj.handle_client("NOOP\r\n".repeat(100).as_bytes())
            .to_client
            .is_empty()
    );
}

proptest::proptest! {
    /// Any octets, any case, any order of the two sides and TLS: no panic, and what the
    /// client gets stays in proportion to what came in.
    #[test]
    fn any_input_is_taken_and_the_output_stays_bounded(
        pick in 0usize..CASES.len(),
        steps in proptest::collection::vec((0u8..4, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)), 0..64),
    ) {
        let mut inj = Injector::new(Fault::new(CASES[pick].case), Start::default());
        let (mut fed, mut sent) = (0usize, 0usize);
        for (op, chunk) in steps {
            fed += chunk.len();
            let actions = match op {
                0 | 1 => inj.handle_server(&chunk),
                2 => inj.handle_client(&chunk).to_client,
                _ => {
                    inj.on_client_tls();
                    Vec::new()
                }
            };
            sent += actions
                .iter()
                .map(|a| if let Action::Send(b) = a { b.len() } else { 0 })
                .sum::<usize>();
            proptest::prop_assert!(sent <= 256 * (fed + 1));
        }
    }
}

#[test]
fn a_line_too_long_to_hold_goes_through_and_its_reply_keeps_its_place() {
    let mut inj = Injector::new(Fault::new(Case::NoCapa), Start::default());
    let _ = inj.handle_server(b"+OK hi\r\n");
    let long = vec![b'x'; MAX_LINE + 10];
    let r = inj.handle_client(&long);
    assert_eq!(r.forward, long, "not held");
    let r = inj.handle_client(b"x\r\nCAPA\r\n");
    assert_eq!(r.forward, b"x\r\n");
    assert!(
        r.to_client.is_empty(),
        "CAPA's answer waits for the long line's"
    );
    let got = inj.handle_server(b"-ERR line too long\r\n");
    assert_eq!(
        got,
        vec![Action::Send(
            b"-ERR line too long\r\n-ERR CAPA not available\r\n".to_vec()
        )]
    );
    // A server line too long to hold goes through untouched, and the next line is read.
    let mut inj = Injector::new(Fault::new(Case::LongUidl), Start::default());
    let long = vec![b'y'; MAX_LINE + 10];
    assert_eq!(inj.handle_server(&long), vec![Action::Send(long.clone())]);
    assert_eq!(
        inj.handle_server(b"\r\n+OK\r\n"),
        vec![Action::Send(b"\r\n+OK\r\n".to_vec())]
    );
}
