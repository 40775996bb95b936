//! CAPA and capability semantics (rules.md §3.6), with USR-002, SASL-010, ITLS-004, ITLS-005.

use super::area::{Answer, Area, Ctx, DataLine, PlainLines};
use super::capa_list;
use super::catalog as r;
use super::catalog::Severity;
use super::checker::{Checker, text_says_unknown_command};
use crate::capability::Capabilities;
use crate::command::Keyword;
use crate::event::Location;
use crate::exchange::{Body, BodyKind, Exchange, server_at};
use crate::response::{Status, StatusLine};
use crate::sanitize::display;
use crate::state::{Security, State};

/// CAPA and what capabilities promise (CAPA-*, USR-002, SASL-010, ITLS-004, ITLS-005).
#[derive(Debug, Default)]
pub(crate) struct Capa {
    /// CAPA-001: the exchange of the first CAPA answered +OK (CAPA is implemented).
    capa_answered: Option<u32>,
    /// CAPA-001: STLS was answered +OK, so a CAPA refusal is a violation.
    stls_worked: bool,
    /// The CAPA listing being received.
    list: Capabilities,
}

impl Area for Capa {
    fn on_command(&mut self, cx: &mut Ctx<'_>, ex: &Exchange) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let login = matches!(
            ex.keyword(),
            Keyword::User | Keyword::Pass | Keyword::Apop | Keyword::Auth
        );
        if login
            && s.security == Security::Stls
            && s.caps.auth.is_none()
            && s.caps.pre_tls.is_some()
        {
            c.report_once(&r::CAPA_004, Severity::Info, ex.client_at(), || {
                "The client logs in after STLS without asking CAPA again: capabilities from before TLS must be discarded, and the list may differ (RFC 2595 §4).".into()
            });
        }
    }

    fn on_reply(&mut self, cx: &mut Ctx<'_>, reply: &Answer<'_>) {
        let (c, s) = (&mut *cx.check, &*cx.session);
        let (ex, at, st) = (reply.ex, reply.at, reply.status);
        if ex.keyword() == Keyword::Stls && st.status == Status::Ok {
            // Only a later CAPA refusal reads this, so setting it before judging is the same.
            self.stls_worked = true;
        }
        let k = ex.keyword();
        let ok = st.status == Status::Ok;
        if k == Keyword::Capa && ok && self.capa_answered.is_none() {
            self.capa_answered = Some(ex.id);
        }
        if k == Keyword::Capa && st.status == Status::Err {
            if self.stls_worked {
                c.report(&r::CAPA_001, Severity::Violation, at,
                    "CAPA was refused although STLS works: a server that implements STLS must implement CAPA (RFC 2595 §4).");
            } else {
                // STLS working later makes this refusal a violation (the tls area reports it).
                if let Some(first) = self.capa_answered {
                    // The server implements CAPA: this refusal is not "not implemented".
                    c.report(&r::CAPA_001, Severity::Info, at, format!(
                        "CAPA was refused although it was answered +OK earlier in the session (exchange {first}): CAPA is valid in AUTHORIZATION and TRANSACTION (RFC 2449 §5)."
                    ));
                } else {
                    c.report(&r::CAPA_001, Severity::Info, at,
                        "CAPA is not implemented (-ERR): the server offers no capability list (RFC 2449 §5).");
                }
            }
        }
        let tag = match k {
            Keyword::Top => "TOP",
            Keyword::Uidl => "UIDL",
            Keyword::User => "USER",
            Keyword::Stls => "STLS",
            Keyword::Utf8 => "UTF8",
            Keyword::Lang => "LANG",
            _ => return,
        };
        // A TOP or UIDL that works is judged against the TRANSACTION list, else against the list
        // the client saw before login (in the same security context): clients look there.
        let before_login = s.state == State::Transaction
            && s.caps.trans.is_none()
            && matches!(k, Keyword::Top | Keyword::Uidl);
        let advertised = if before_login {
            s.caps.auth.as_ref().map(|c| c.has(tag))
        } else {
            s.advertises(tag)
        };
        match (ok, advertised) {
            // Before login TOP and UIDL must be refused (ST-001), whatever the text says:
            // Dovecot's third refusal there reads "Too many invalid bad commands.".
            (false, Some(true))
                if text_says_unknown_command(st.text)
                    && k != Keyword::User
                    && !(matches!(k, Keyword::Top | Keyword::Uidl)
                        && matches!(s.state, State::Authorization(_))) =>
            {
                c.report(&r::CAPA_006, Severity::Warning, at, format!(
                    "{tag} is advertised in CAPA but {k} was answered like an unknown command (\"{}\").",
                    display(st.text, 50)
                ));
            }
            (true, Some(false))
                if matches!(k, Keyword::Top | Keyword::Uidl) && !s.skipped_login =>
            {
                c.report_once_per_exchange(&r::CAPA_006, Severity::Info, at, || {
                    format!(
                        "{k} works but CAPA{} does not advertise {tag}; some clients require it to be listed (RFC 2449 §6).",
                        if before_login { " before login" } else { "" }
                    )
                });
            }
            _ => {}
        }
    }

    fn on_body_start(&mut self, _cx: &mut Ctx<'_>, body: &Body, _st: &StatusLine<'_>) {
        if body.kind == BodyKind::Capa {
            self.list = Capabilities::default();
        }
    }

    #[inline(always)] // runs on every data line of every body: the kind test inlines
    fn on_body_line(&mut self, cx: &mut Ctx<'_>, body: &Body, line: &DataLine<'_>) {
        if body.kind == BodyKind::Capa {
            self.capa_line(cx, line);
        }
    }

    // The kind test once for the lines, not once a line: the compiler does not hoist it.
    fn on_plain_lines(&mut self, cx: &mut Ctx<'_>, body: &Body, lines: &PlainLines<'_>) {
        if body.kind == BodyKind::Capa {
            lines.each(|line| self.capa_line(cx, line));
        }
    }

    fn on_body_end(&mut self, cx: &mut Ctx<'_>, body: &Body, complete: bool) {
        if body.kind != BodyKind::Capa {
            return;
        }
        let new = std::mem::take(&mut self.list);
        if !complete {
            return;
        }
        // The listing is complete: judge it against the session, then record it.
        let (c, s) = (&mut *cx.check, &mut *cx.session);
        let at = server_at(body.ex.id, body.reply_offset);
        let in_trans = s.state == State::Transaction;
        if new.has("STLS") && (s.security.is_tls() || in_trans) {
            c.report(&r::CAPA_005, Severity::Warning, at, format!(
                "CAPA lists STLS {}: the tag means STLS is permitted now, and it is not (RFC 2595 §4).",
                if in_trans { "in TRANSACTION" } else { "although TLS is already active" }
            ));
        }
        capa_list::informational(c, at, &new);
        capa_list::misspelled(c, at, &new);
        capa_list::arguments(c, at, &new);
        if in_trans {
            compare_with_authorization(cx, at, &new);
            cx.session.caps.trans = Some(new);
            return;
        }
        if !s.state.is_authorization() {
            return;
        }
        if s.security == Security::Plain {
            let offered = new.cleartext_passwords();
            if !offered.is_empty() {
                c.report(&r::USR_002, Severity::Warning, at, format!(
                    "On an unencrypted connection the server offers plaintext passwords ({}): passwords should only be offered under TLS (RFC 2595 §2.3, §9; RFC 8314 §4.1).",
                    offered.join(", ")
                ));
            }
        } else if s.cert_requested && !new.has_sasl("EXTERNAL") {
            if s.client_cert {
                c.report(&r::ITLS_004, Severity::Warning, at,
                    "The server requested a client certificate and got one, but CAPA offers no SASL EXTERNAL: a server that accepts certificates for login must offer EXTERNAL (RFC 8314 §4.2).");
            } else {
                c.report(&r::ITLS_005, Severity::Info, at,
                    "The server requests client certificates but offers no SASL EXTERNAL to use them (RFC 8314 §4.2).");
            }
        }
        if s.security == Security::Stls
            && let Some(before) = &s.caps.pre_tls
        {
            tls_diff(c, at, before, &new);
        }
        s.caps.auth = Some(new);
    }
}

impl Capa {
    /// CAPA-002 for one line of a CAPA listing.
    fn capa_line(&mut self, cx: &mut Ctx<'_>, data: &DataLine<'_>) {
        let &DataLine { at, line, content } = data;
        let c = &mut *cx.check;
        let total = line.wire_len + 2;
        let problem = if total > super::lines::MAX_STATUS_LINE {
            Some(format!(
                "a capability line of {total} octets (the limit is 512)"
            ))
        } else if content.is_empty() {
            Some("an empty line".to_owned())
        } else if content[0] == b'.' {
            Some(format!(
                "a tag starting with '.' (\"{}\")",
                display(content, 40)
            ))
        } else {
            let tag = content.split(|&b| b == b' ').next().unwrap_or_default();
            if tag.is_empty() || !tag.iter().all(|b| (0x21..0x7f).contains(b)) {
                Some(format!(
                    "a line whose tag is not printable ASCII (\"{}\")",
                    display(content, 40)
                ))
            } else {
                None
            }
        };
        if let Some(p) = problem {
            c.report_once_per_exchange(&r::CAPA_002, Severity::Violation, at, || {
                format!("The CAPA listing contains {p}: each line is `tag *(SP param)`, at most 512 octets (RFC 2449 §5).")
            });
        }
        self.list.push_line(content);
    }
}

fn number_param(caps: &Capabilities, tag: &str) -> Option<u64> {
    let p = caps.get(tag)?.params.first()?;
    if p.eq_ignore_ascii_case("NEVER") {
        return Some(u64::MAX);
    }
    p.parse().ok()
}

/// CAPA-003, CAPA-007, CAPA-008, SASL-010: the TRANSACTION list against the AUTHORIZATION list.
/// SASL dropped after an AUTH is both CAPA-003 (rules.md lists no SASL exception) and SASL-010.
fn compare_with_authorization(cx: &mut Ctx<'_>, at: Location, trans: &Capabilities) {
    let (c, s) = (&mut *cx.check, &*cx.session);
    let Some(auth) = &s.caps.auth else {
        return;
    };
    let exempt = ["STLS", "IMPLEMENTATION"];
    let sasl_lost = auth.has("SASL") && !trans.has("SASL");
    if sasl_lost && s.sasl_done {
        c.report_once(&r::SASL_010, Severity::Violation, at, || {
            "After a successful AUTH the SASL capability disappeared from CAPA: it must still be listed (RFC 5034 §3).".into()
        });
    }
    let missing: Vec<&str> = auth
        .tags()
        .filter(|t| !exempt.contains(t) && !trans.has(t))
        .collect();
    if !missing.is_empty() {
        c.report_once(&r::CAPA_003, Severity::Violation, at, || {
            format!(
                "CAPA in TRANSACTION drops {} announced in AUTHORIZATION: every capability announced in AUTHORIZATION must also be announced in TRANSACTION (RFC 2449 §5).",
                missing.join(", ")
            )
        });
    }
    if let (Some(a), Some(t)) = (
        number_param(auth, "LOGIN-DELAY"),
        number_param(trans, "LOGIN-DELAY"),
    ) && t > a
    {
        c.report(&r::CAPA_007, Severity::Violation, at, format!(
            "LOGIN-DELAY is {t} in TRANSACTION but {a} in AUTHORIZATION: the AUTHORIZATION value is the largest that can apply (RFC 2449 §6.5)."
        ));
    }
    if trans.get("LOGIN-DELAY").is_some_and(|l| {
        l.params
            .iter()
            .skip(1)
            .any(|p| p.eq_ignore_ascii_case("USER"))
    }) {
        c.report(&r::CAPA_007, Severity::Warning, at,
            "LOGIN-DELAY carries the USER token in TRANSACTION; it belongs to the AUTHORIZATION announcement only.");
    }
    if let (Some(a), Some(t)) = (number_param(auth, "EXPIRE"), number_param(trans, "EXPIRE"))
        && t < a
    {
        c.report(&r::CAPA_008, Severity::Violation, at,
            "EXPIRE is smaller in TRANSACTION than in AUTHORIZATION: the AUTHORIZATION value is the smallest that can apply (RFC 2449 §6.7).");
    }
}

/// CAPA-004 and SASL-010: what changed across the STLS upgrade.
fn tls_diff(c: &mut Checker, at: Location, before: &Capabilities, after: &Capabilities) {
    // STLS leaving the list is expected once TLS is up (CAPA-005 is about it staying).
    let added: Vec<&str> = after.tags().filter(|t| !before.has(t)).collect();
    let removed: Vec<&str> = before
        .tags()
        .filter(|t| *t != "STLS" && !after.has(t))
        .collect();
    if !added.is_empty() || !removed.is_empty() {
        c.report(&r::CAPA_004, Severity::Info, at, format!(
            "Capabilities changed across STLS: added [{}], removed [{}]. A list stripped before TLS (no STLS, fewer SASL mechanisms) is the signature of a man in the middle.",
            added.join(" "),
            removed.join(" ")
        ));
    }
    let (mb, ma) = (before.sasl_mechanisms(), after.sasl_mechanisms());
    if mb != ma && !(mb.is_empty() && ma.is_empty()) {
        c.report(&r::SASL_010, Severity::Info, at, format!(
            "The SASL mechanisms changed across STLS: before [{}], after [{}] (allowed by RFC 2595 §4).",
            mb.join(" "),
            ma.join(" ")
        ));
    }
}
