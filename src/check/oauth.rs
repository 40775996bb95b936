//! The OAuth probes of rules.md §4, each on connections of its own after the walk: P24 asks
//! the server for its error challenge without a token (OAUTH-003/004/005 judge the answer) and
//! P25 logs in with the user's token in both AUTH forms, and once with an unknown key/value
//! pair (OAUTH-007, OAUTH-006: judged across those sessions).

use crate::session::Connection;
use crate::session::login::{self, Credentials};
use crate::transport::TransportError;
use popscope_core::oauth::{self, Mechanism, SaslForm};
use popscope_core::probes;
use popscope_core::rules::cross;
use popscope_core::{Secret, Session};

use super::walk::{LoginAttempt, Walker};

/// Both bearer-token mechanisms, OAUTHBEARER (the standard) first.
const MECHANISMS: [Mechanism; 2] = [Mechanism::OauthBearer, Mechanism::XOauth2];

impl Walker {
    /// P24 and P25 for every bearer-token mechanism the server offers under TLS.
    pub(super) async fn oauth_probes(&mut self, first: &Session) -> Result<(), TransportError> {
        let offered: Vec<Mechanism> = MECHANISMS
            .into_iter()
            .filter(|m| offered_under_tls(first, *m))
            .collect();
        for &m in &offered {
            self.ask_for_the_error_challenge(m).await?;
        }
        let Some(token) = self.opts.creds.as_ref().and_then(|c| c.token.clone()) else {
            return Ok(());
        };
        // A token the walk's own login had refused says nothing more on other connections,
        // and sending it again and again looks like an attack (account lockouts, fail2ban).
        if self.result.login_refused() {
            self.result.notes.push(
                "probe P25 skipped: the walk's login was refused, so both AUTH forms would only be refused again".into(),
            );
            return Ok(());
        }
        // The mechanism the walk logged in with, else the first offered.
        let walked = match self.result.login {
            LoginAttempt::Sent(method) => method.mechanism(),
            _ => None,
        };
        let chosen = walked
            .filter(|m| offered.contains(m))
            .or(offered.first().copied());
        if let Some(m) = chosen {
            self.both_forms(m, &token).await?;
        }
        Ok(())
    }

    /// P24: `AUTH MECH` with an empty `auth=` (RFC 7628 §4.3), then the dummy response.
    async fn ask_for_the_error_challenge(&mut self, m: Mechanism) -> Result<(), TransportError> {
        let label = format!("probe P24: {} without a token", m.name());
        let Some(mut c) = self.probe(&label).await else {
            return Ok(());
        };
        self.secure(&mut c).await?;
        if !ready(&c, m) {
            return self.leave(&mut c).await;
        }
        let user = self.user().unwrap_or(probes::P24_USER).to_owned();
        let host = self.opts.connect.target.host.clone();
        let request =
            match oauth::initial_response(m, user.as_bytes(), host.as_bytes(), c.port, b"") {
                Ok(r) => r,
                Err(e) => {
                    // A user name or host the framing cannot carry: this probe only.
                    self.result.notes.push(format!("{label}: not sent: {e}"));
                    return self.leave(&mut c).await;
                }
            };
        // The request carries no token: an empty `auth=`.
        let out = self
            .step(&mut c, &format!("AUTH {} {}", m.name(), &*request))
            .await?;
        if out.challenge.is_some() && !c.is_closed() {
            let out = c
                .sasl_response(out.exchange, m.dummy_line().as_bytes())
                .await?;
            self.stop_if_timed_out(&mut c, &out, "the dummy response")
                .await;
            // A server that challenges again after the dummy (OAUTH-004) is cancelled.
            self.cancel_if_challenged(&mut c, &out).await?;
        }
        self.leave(&mut c).await
    }

    /// P25: the token on its own line after `+ `, then on the AUTH line, each on a fresh
    /// connection, compared (OAUTH-007); then OAUTHBEARER with an unknown key/value pair
    /// (OAUTH-006). A one-line form that would make the AUTH line longer than 255 octets is not
    /// sent: RFC 5034 §4 forbids it, and a refusal would say nothing about the server.
    async fn both_forms(&mut self, m: Mechanism, token: &Secret) -> Result<(), TransportError> {
        let Some(creds) = self.opts.creds.clone() else {
            return Ok(());
        };
        let message = match self.message(m, &creds, token) {
            Ok(message) => message,
            Err(e) => {
                self.result.notes.push(format!("probe P25: not sent: {e}"));
                return Ok(());
            }
        };
        let Some(two_line) = self
            .bearer_session(m, &message, token, SaslForm::TwoLine, "on its own line")
            .await?
        else {
            return Ok(());
        };
        let encoded = oauth::encoded_len(message.len());
        if oauth::fits_on_auth_line(m.name(), encoded) {
            if let Some(one_line) = self
                .bearer_session(m, &message, token, SaslForm::OneLine, "on the AUTH line")
                .await?
            {
                self.cross(cross::oauth_forms(&one_line, &two_line));
            }
        } else {
            self.result.notes.push(format!(
                "probe P25: the {} message is {encoded} octets in base64, too long for the AUTH line (255 octets with the command, RFC 5034 §4): only the two-line form was tried",
                m.name()
            ));
        }
        if m == Mechanism::OauthBearer
            && let Some(extra) = probes::with_unknown_key(&message)
            && let Some(with_key) = self
                .bearer_session(m, &extra, token, SaslForm::TwoLine, "with an unknown key")
                .await?
        {
            self.cross(cross::oauth_extra_keys(&two_line, &with_key));
        }
        Ok(())
    }

    /// One P25 connection: a login with the raw client `message` in `form`, then QUIT. The
    /// session as the engine saw it, or None when the connection failed or does not offer `m`.
    async fn bearer_session(
        &mut self,
        m: Mechanism,
        message: &[u8],
        token: &Secret,
        form: SaslForm,
        how: &str,
    ) -> Result<Option<Session>, TransportError> {
        let Some(mut c) = self.probe(&format!("probe P25: {} {how}", m.name())).await else {
            return Ok(None);
        };
        self.secure(&mut c).await?;
        if !ready(&c, m) {
            self.leave(&mut c).await?;
            return Ok(None);
        }
        let ir = zeroize::Zeroizing::new(popscope_core::auth::b64encode(message));
        let out = login::send_bearer(&mut c, m, form, &ir, token).await?;
        // The walk's own login has said the same already when the token is refused.
        if let Some(said) = out.token_refusal.clone()
            && !self.result.notes.contains(&said)
        {
            self.result.notes.push(said);
        }
        self.stop_if_timed_out(&mut c, &out, "the login").await;
        self.cancel_if_challenged(&mut c, &out).await?;
        self.leave(&mut c).await?;
        Ok(Some(c.engine().session().clone()))
    }

    /// The raw client message of `m` with the user's token, for the walk's host and port.
    fn message(
        &self,
        m: Mechanism,
        creds: &Credentials,
        token: &Secret,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, TransportError> {
        let target = &self.opts.connect.target;
        let port = target.port_or_default(self.opts.connect.scheme);
        let user = creds.user.as_bytes();
        match m {
            Mechanism::XOauth2 => oauth::xoauth2_message(user, token.expose()),
            Mechanism::OauthBearer => {
                oauth::oauthbearer_message(user, target.host.as_bytes(), port, token.expose())
            }
        }
        .map_err(|e| TransportError::Config(e.to_string()))
    }

    /// A finding judged across P25's sessions, under the last connection opened.
    fn cross(&mut self, finding: Option<popscope_core::Finding>) {
        if let Some(f) = finding {
            let index = self.result.connections.len().saturating_sub(1);
            self.result.findings.push((index, f));
        }
    }

    /// The user name of `--user`, if given.
    fn user(&self) -> Option<&str> {
        self.opts.creds.as_ref().map(|c| c.user.as_str())
    }

    /// QUIT unless the connection is gone.
    async fn leave(&mut self, c: &mut Connection) -> Result<(), TransportError> {
        if !c.is_closed() {
            c.quit().await?;
        }
        Ok(())
    }
}

/// Whether the walk's session saw `m` in CAPA `SASL` while under TLS.
fn offered_under_tls(first: &Session, m: Mechanism) -> bool {
    first.security.is_tls()
        && first
            .caps
            .auth
            .as_ref()
            .is_some_and(|c| c.has_sasl(m.name()))
}

/// The probe connection is under TLS, in AUTHORIZATION, and offers `m`.
fn ready(c: &Connection, m: Mechanism) -> bool {
    let s = c.engine().session();
    !c.is_closed()
        && s.security.is_tls()
        && matches!(s.state, popscope_core::State::Authorization(_))
        && s.current_caps().is_some_and(|caps| caps.has_sasl(m.name()))
}
