//! Logging in: USER/PASS, APOP, AUTH PLAIN, AUTH LOGIN, AUTH CRAM-MD5, AUTH EXTERNAL.

use crate::protocol::{Secret, auth};
use crate::transport::TransportError;

use super::{Connection, Outcome};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    #[default]
    /// EXTERNAL with a client certificate, else PLAIN, else USER/PASS, as CAPA offers.
    Auto,
    User,
    Apop,
    Plain,
    Login,
    CramMd5,
    External,
}

#[derive(Clone, Debug)]
pub struct Credentials {
    pub user: String,
    pub password: Option<Secret>,
}

fn need_password(c: &Credentials) -> Result<&[u8], TransportError> {
    c.password.as_ref().map(|s| s.expose()).ok_or_else(|| {
        TransportError::Config(
            "a password is needed (--password-env, --password-file, or the prompt)".into(),
        )
    })
}

/// Picks a method from what the session knows (its last CAPA list and TLS state).
pub fn choose(conn: &Connection, creds: &Credentials) -> Method {
    let s = conn.engine().session();
    let caps = s.current_caps();
    let client_cert = conn.tls.as_ref().is_some_and(|t| t.client_cert_sent);
    if client_cert && caps.is_some_and(|c| c.has_sasl("EXTERNAL")) {
        return Method::External;
    }
    if creds.password.is_none() && client_cert {
        return Method::External;
    }
    match caps {
        Some(c) if c.has_sasl("PLAIN") => Method::Plain,
        Some(c) if c.has("USER") => Method::User,
        Some(c) if c.has_sasl("CRAM-MD5") => Method::CramMd5,
        _ if s.apop_timestamp.is_some() => Method::Apop,
        _ => Method::User,
    }
}

/// Logs in; the returned outcome is the final reply.
pub async fn login(
    conn: &mut Connection,
    method: Method,
    creds: &Credentials,
) -> Result<Outcome, TransportError> {
    let method = if method == Method::Auto {
        choose(conn, creds)
    } else {
        method
    };
    let user = creds.user.as_bytes();
    match method {
        Method::User | Method::Auto => {
            let pw = need_password(creds)?.to_vec();
            let out = conn.command(&[b"USER ", user].concat(), 0).await?;
            if !out.ok() {
                return Ok(out);
            }
            conn.command(&[b"PASS ".as_slice(), &pw].concat(), 0).await
        }
        Method::Apop => {
            let pw = need_password(creds)?;
            let ts = conn
                .engine()
                .session()
                .apop_timestamp
                .clone()
                .ok_or_else(|| {
                    TransportError::Config("APOP: the greeting carries no timestamp".into())
                })?;
            let digest = auth::apop_digest(&ts, pw);
            conn.command(format!("APOP {} {digest}", creds.user).as_bytes(), 0)
                .await
        }
        Method::Plain => {
            let ir = auth::plain_response(b"", user, need_password(creds)?);
            conn.command(format!("AUTH PLAIN {ir}").as_bytes(), 0).await
        }
        Method::Login => {
            let pw = need_password(creds)?.to_vec();
            let out = conn.command(b"AUTH LOGIN", 0).await?;
            if out.challenge.is_none() {
                return Ok(out);
            }
            let out = conn
                .sasl_response(out.exchange, auth::b64encode(user).as_bytes())
                .await?;
            if out.challenge.is_none() {
                return Ok(out);
            }
            conn.sasl_response(out.exchange, auth::b64encode(&pw).as_bytes())
                .await
        }
        Method::CramMd5 => {
            let pw = need_password(creds)?.to_vec();
            let out = conn.command(b"AUTH CRAM-MD5", 0).await?;
            let Some(ch) = &out.challenge else {
                return Ok(out);
            };
            let ch = auth::b64decode(ch).unwrap_or_default();
            let resp = auth::cram_md5_response(user, &pw, &ch);
            conn.sasl_response(out.exchange, resp.as_bytes()).await
        }
        Method::External => conn.command(b"AUTH EXTERNAL =", 0).await,
    }
}
