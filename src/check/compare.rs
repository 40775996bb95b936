//! What differs between the transports of one host: whether the plain port offers STLS and
//! passwords, and whether the two TLS transports present the same certificate and capabilities.
//! Every fact comes from what each transport's engine session recorded; which offers send a
//! password is the engine's own judgement (USR-002,
//! [`popscope_core::capability::Capabilities::cleartext_passwords`]).

use super::walk::{LoginAttempt, WalkResult};

/// One line per difference (or sameness) worth saying, for the reports' comparison.
pub(crate) fn compare(
    plain: Option<&WalkResult>,
    stls: Option<&WalkResult>,
    implicit: Option<&WalkResult>,
) -> Vec<String> {
    let mut out = Vec::new();
    // Only a plain leg that answered can say whether STLS is offered (a DNS failure or a
    // refused port says nothing about it; its own line says what went wrong).
    if let Some(p) = plain {
        out.extend(plain_port(p));
    }
    if let (Some(s), Some(i)) = (stls, implicit) {
        out.extend(tls_transports(s, i));
    }
    out
}

fn plain_port(p: &WalkResult) -> Vec<String> {
    let mut out = Vec::new();
    out.push(if p.offers_stls() {
        "STLS is offered on the plain port".into()
    } else {
        "STLS is NOT offered on the plain port".into()
    });
    if p.logged_in {
        out.push(match p.login {
            LoginAttempt::Sent(m) if m.sends_password() => format!(
                "a cleartext login ({}) was accepted before TLS: the password went over the network unencrypted",
                m.label()
            ),
            LoginAttempt::Sent(m) => format!(
                "a login with {} was accepted before TLS (not a cleartext password, but the user name and the exchange went unencrypted)",
                m.label()
            ),
            _ => "the session reached TRANSACTION before TLS without a login".into(),
        });
    }
    let cleartext = p
        .caps
        .auth
        .as_ref()
        .map(|c| c.cleartext_passwords())
        .unwrap_or_default();
    out.push(if cleartext.is_empty() {
        "no cleartext password mechanism is offered before TLS".into()
    } else {
        format!(
            "cleartext passwords are offered before TLS ({})",
            cleartext.join(", ")
        )
    });
    out
}

fn tls_transports(s: &WalkResult, i: &WalkResult) -> Vec<String> {
    let mut out = Vec::new();
    let fp = |r: &WalkResult| {
        r.tls
            .as_ref()
            .and_then(|t| t.chain.first())
            .map(|c| c.sha256.clone())
    };
    match (fp(s), fp(i)) {
        (Some(a), Some(b)) if a == b => {
            out.push("STLS and implicit TLS present the same certificate".into())
        }
        (Some(_), Some(_)) => {
            out.push("STLS and implicit TLS present DIFFERENT certificates".into())
        }
        _ => {}
    }
    let caps = |r: &WalkResult| {
        r.caps.auth.as_ref().map(|c| {
            let mut t: Vec<String> = c.list.iter().map(|x| x.tag.clone()).collect();
            t.sort();
            t
        })
    };
    if caps(s) != caps(i) {
        out.push(format!(
            "capabilities after TLS differ: STLS [{}] vs implicit TLS [{}]",
            caps(s).unwrap_or_default().join(" "),
            caps(i).unwrap_or_default().join(" ")
        ));
    } else {
        out.push("capabilities after TLS are the same on both TLS transports".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use popscope_core::{Config, Engine, Event, Time};

    /// The plain leg of a server whose CAPA lists `caps`: its walk's capabilities, and whether
    /// its engine reported USR-002.
    fn plain_leg(caps: &str) -> (WalkResult, bool) {
        let mut engine = Engine::new(Config::default());
        let mut usr_002 = false;
        let mut feed = |e: &mut Engine, server: bool, bytes: &[u8]| {
            let mut sink = |ev: Event<'_>| {
                usr_002 |= matches!(ev, Event::Finding(f) if f.rule.id == "USR-002");
            };
            if server {
                e.handle_server(Time(1), bytes, &mut sink);
            } else {
                e.handle_client(Time(1), bytes, &mut sink);
            }
        };
        feed(&mut engine, true, b"+OK ready\r\n");
        feed(&mut engine, false, b"CAPA\r\n");
        feed(&mut engine, true, format!("+OK\r\n{caps}.\r\n").as_bytes());
        let result = WalkResult {
            caps: engine.session().caps.clone(),
            ..WalkResult::default()
        };
        (result, usr_002)
    }

    /// The comparison says a password is offered before TLS exactly when the engine's USR-002
    /// does, and names the offers as the finding does.
    #[test]
    fn the_cleartext_line_agrees_with_usr_002() {
        for (caps, line) in [
            (
                "USER\r\nSASL PLAIN LOGIN CRAM-MD5\r\n",
                "cleartext passwords are offered before TLS (USER, SASL PLAIN, SASL LOGIN)",
            ),
            (
                "SASL login\r\n",
                "cleartext passwords are offered before TLS (SASL LOGIN)",
            ),
            (
                "SASL CRAM-MD5\r\nSTLS\r\n",
                "no cleartext password mechanism is offered before TLS",
            ),
        ] {
            let (plain, usr_002) = plain_leg(caps);
            let out = compare(Some(&plain), None, None);
            assert!(out.iter().any(|l| l == line), "{caps:?}: {out:?}");
            assert_eq!(usr_002, line.starts_with("cleartext"), "{caps:?}");
            let stls = caps.contains("STLS");
            assert_eq!(out[0].starts_with("STLS is offered"), stls, "{out:?}");
        }
    }
}
