//! Logging in: USER/PASS, APOP, AUTH PLAIN, AUTH LOGIN, AUTH CRAM-MD5, AUTH EXTERNAL, and with
//! a bearer token AUTH XOAUTH2 and AUTH OAUTHBEARER.

use zeroize::Zeroizing;

use crate::transport::TransportError;
use popscope_core::oauth::{self, ChallengeDecode, Mechanism, SaslForm};
use popscope_core::{Secret, auth};

use super::{Connection, Outcome};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    #[default]
    /// EXTERNAL with a client certificate, else (with a token) OAUTHBEARER, else XOAUTH2, else PLAIN, else USER/PASS, else CRAM-MD5, as CAPA offers; USER/PASS without CAPA; never APOP
    Auto,
    /// USER then PASS (RFC 1939 §7): the password in clear, unless inside TLS
    User,
    /// APOP with an MD5 digest of the greeting's timestamp and the password (RFC 1939 §7)
    Apop,
    /// AUTH PLAIN with the user and password as the initial response (RFC 4616)
    Plain,
    /// AUTH LOGIN: the user, then the password, each answering a challenge
    Login,
    /// AUTH CRAM-MD5: an HMAC-MD5 of the server's challenge keyed with the password (RFC 2195)
    CramMd5,
    /// AUTH EXTERNAL: the TLS client certificate is the credential (RFC 4422 App. A); no password
    External,
    /// AUTH XOAUTH2: `user=` and the bearer token (Google's and Microsoft's mechanism)
    XOauth2,
    /// AUTH OAUTHBEARER (RFC 7628): the user, host, port and the bearer token
    OauthBearer,
}

impl Method {
    /// How the method is named to a person (`Auto` only before it is resolved by [`choose`]).
    pub(crate) fn label(self) -> &'static str {
        match self {
            Method::Auto | Method::User => "USER/PASS",
            Method::Plain => "AUTH PLAIN",
            Method::Login => "AUTH LOGIN",
            Method::Apop => "APOP",
            Method::CramMd5 => "AUTH CRAM-MD5",
            Method::External => "AUTH EXTERNAL",
            Method::XOauth2 => "AUTH XOAUTH2",
            Method::OauthBearer => "AUTH OAUTHBEARER",
        }
    }

    /// The bearer-token mechanism this method is, if it is one.
    pub(crate) fn mechanism(self) -> Option<Mechanism> {
        match self {
            Method::XOauth2 => Some(Mechanism::XOauth2),
            Method::OauthBearer => Some(Mechanism::OauthBearer),
            _ => None,
        }
    }

    /// Whether the password itself (or a bearer token, as good as one) crosses the wire
    /// (USER/PASS, PLAIN, LOGIN, XOAUTH2, OAUTHBEARER), rather than a challenge-response (APOP,
    /// CRAM-MD5) or nothing (EXTERNAL).
    pub(crate) fn sends_password(self) -> bool {
        matches!(
            self,
            Method::Auto
                | Method::User
                | Method::Plain
                | Method::Login
                | Method::XOauth2
                | Method::OauthBearer
        )
    }
}

/// How the demo server's quirk rows say to log in, as a login method.
impl From<popscope_core::server::Login> for Method {
    fn from(login: popscope_core::server::Login) -> Method {
        match login {
            popscope_core::server::Login::Password => Method::Auto,
            popscope_core::server::Login::External => Method::External,
            // With a token, auto chooses OAUTHBEARER, or XOAUTH2, as CAPA offers.
            popscope_core::server::Login::Token => Method::Auto,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub user: String,
    pub password: Option<Secret>,
    /// An OAuth 2.0 bearer token, for XOAUTH2 and OAUTHBEARER.
    pub token: Option<Secret>,
    /// Where a token's initial response goes: on the AUTH line or on its own.
    pub sasl_form: SaslForm,
}

/// No core dump may carry a password: the core size limit goes to 0 (soft and hard, so it
/// cannot be raised again) and, on Linux, the process is made non-dumpable (no core, no
/// ptrace attach by other processes of the user). Called before a command may hold a secret.
pub fn forbid_core_dumps() -> std::io::Result<()> {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct it is given; no memory is shared.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_DUMPABLE takes integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A copy of secret bytes that is wiped when dropped.
type Wiped = Zeroizing<Vec<u8>>;

/// `prefix` then `secret`, in a buffer wiped on drop (a command line that carries a secret).
fn line_with(prefix: &[u8], secret: &[u8]) -> Wiped {
    let mut v = Zeroizing::new(Vec::with_capacity(prefix.len() + secret.len()));
    v.extend_from_slice(prefix);
    v.extend_from_slice(secret);
    v
}

/// Base64 of `bytes`, wiped on drop.
fn b64(bytes: &[u8]) -> Wiped {
    Zeroizing::new(auth::b64encode(bytes).into_bytes())
}

/// SASL PLAIN's initial response (RFC 4616: empty authzid, user, password), base64, with every
/// intermediate copy wiped.
fn plain_payload(user: &[u8], password: &[u8]) -> Wiped {
    let mut raw = line_with(b"\0", user);
    raw.push(0);
    raw.extend_from_slice(password);
    b64(&raw)
}

fn need_password(c: &Credentials) -> Result<&[u8], TransportError> {
    c.password.as_ref().map(|s| s.expose()).ok_or_else(|| {
        TransportError::Config(
            "a password is needed (--password-env, --password-file, or the prompt)".into(),
        )
    })
}

/// Picks a method from what the session knows (its last CAPA list and TLS state).
pub(crate) fn choose(conn: &Connection, creds: &Credentials) -> Method {
    let s = conn.engine().session();
    let caps = s.current_caps();
    let client_cert = conn.tls.as_ref().is_some_and(|t| t.client_cert_sent);
    if client_cert && caps.is_some_and(|c| c.has_sasl("EXTERNAL")) {
        return Method::External;
    }
    if creds.password.is_none() && creds.token.is_none() && client_cert {
        return Method::External;
    }
    if creds.token.is_some() {
        // A token is given to be used: OAUTHBEARER (the standard) unless only XOAUTH2 is offered.
        if caps.is_some_and(|c| c.has_sasl("XOAUTH2") && !c.has_sasl("OAUTHBEARER")) {
            return Method::XOauth2;
        }
        if creds.password.is_none() || caps.is_some_and(|c| c.has_sasl("OAUTHBEARER")) {
            return Method::OauthBearer;
        }
    }
    // Never APOP: a greeting timestamp is no offer (and without CAPA, USER/PASS is the one
    // method RFC 1939 gives every server).
    match caps {
        Some(c) if c.has_sasl("PLAIN") => Method::Plain,
        Some(c) if c.has("USER") => Method::User,
        Some(c) if c.has_sasl("CRAM-MD5") => Method::CramMd5,
        _ => Method::User,
    }
}

/// The one line said before a credential goes over `url` without TLS although the server
/// offers STLS: what happens and how to avoid it. `check`, `send`, `replay --against` and the
/// UI all say this text.
pub(crate) fn in_the_clear(url: &str) -> String {
    in_the_clear_goes(url, "the password (or what is derived from it)")
}

/// [`in_the_clear`] for `credential` (a bearer token is as good as a password to whoever reads it).
fn in_the_clear_goes(url: &str, credential: &str) -> String {
    format!(
        "logging in on {url} without TLS although the server offers STLS: {credential} goes over the network in the clear; --starttls or pop3s:// avoids that"
    )
}

/// The method `method` means on `conn`: itself, or for [`Method::Auto`] what [`choose`]
/// picks from the server's offer. With only a token, a server whose CAPA offers neither
/// bearer mechanism is an error: the token is not sent where it was not asked for.
pub(crate) fn resolve(
    conn: &Connection,
    creds: &Credentials,
    method: Method,
) -> Result<Method, TransportError> {
    if method != Method::Auto {
        return Ok(method);
    }
    if let Some(caps) = token_not_offered(conn, creds) {
        return Err(TransportError::Config(format!(
            "{} offers neither OAUTHBEARER nor XOAUTH2 ({caps}): the token was not sent; --login oauthbearer or xoauth2 sends it anyway",
            conn.url()
        )));
    }
    Ok(choose(conn, creds))
}

/// With only a token to log in with (`--login auto`), the SASL list of a CAPA that offers
/// neither bearer mechanism (to say so); None when it offers one, or when there is no CAPA to
/// go by (then OAUTHBEARER is tried).
fn token_not_offered(conn: &Connection, creds: &Credentials) -> Option<String> {
    if creds.token.is_none() || creds.password.is_some() {
        return None;
    }
    let caps = conn.engine().session().current_caps()?;
    if caps.has_sasl("OAUTHBEARER") || caps.has_sasl("XOAUTH2") {
        return None;
    }
    Some(match &caps.sasl_mechanisms() {
        m if m.is_empty() => "its CAPA lists no SASL mechanism".into(),
        m => format!("CAPA: SASL {}", m.join(" ")),
    })
}

/// Whether a login on `conn` now would send a credential in the clear to a server that offers
/// STLS (in its last CAPA): no TLS, and a method that sends the password or something derived
/// from it (EXTERNAL sends neither).
pub(crate) fn offers_stls_in_the_clear(conn: &Connection) -> bool {
    conn.tls.is_none()
        && conn
            .engine()
            .session()
            .caps
            .auth
            .as_ref()
            .is_some_and(|caps| caps.has("STLS"))
}

/// Logs in; the returned outcome is the final reply. Before a credential goes in the clear to
/// a server that offers STLS, the observer gets [`Note::Warning`](super::Note::Warning) with
/// [`in_the_clear`] (run CAPA first, as [`super::secure::secure`] does, for it to know); a
/// refused token's explanation ([`Outcome::token_refusal`]) is a warning too.
pub async fn login(
    conn: &mut Connection,
    method: Method,
    creds: &Credentials,
) -> Result<Outcome, TransportError> {
    let out = login_quietly(conn, method, creds).await?;
    if let Some(said) = &out.token_refusal {
        conn.warn(said.clone());
    }
    Ok(out)
}

/// [`login`] without the warning for a refused token: for the terminal UI, which explains the
/// error challenge under its own transcript row instead.
pub(crate) async fn login_quietly(
    conn: &mut Connection,
    method: Method,
    creds: &Credentials,
) -> Result<Outcome, TransportError> {
    let method = resolve(conn, creds, method)?;
    if method != Method::External && offers_stls_in_the_clear(conn) {
        let text = match method.mechanism() {
            Some(_) => in_the_clear_goes(conn.url(), "the bearer token"),
            None => in_the_clear(conn.url()),
        };
        conn.warn(text);
    } else if method.mechanism().is_some() && conn.tls.is_none() {
        // RFC 7628 §3: "TLS MUST be used for OAUTHBEARER"; a bearer token seen is a token
        // anyone can use (RFC 6750 §5.3), so it is said even when the server offers no TLS.
        conn.warn(format!(
            "logging in on {} without TLS: the bearer token goes over the network in the clear, where anyone who sees it can use it (RFC 7628 §3 requires TLS)",
            conn.url()
        ));
    }
    let user = creds.user.as_bytes();
    match method {
        Method::User | Method::Auto => {
            let pass = line_with(b"PASS ", need_password(creds)?);
            let out = conn.command(&[b"USER ", user].concat(), 0).await?;
            if !out.ok() {
                return Ok(out);
            }
            conn.command(&pass, 0).await
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
            let digest = Zeroizing::new(auth::apop_digest(&ts, pw));
            let mut line = line_with(b"APOP ", user);
            line.push(b' ');
            line.extend_from_slice(digest.as_bytes());
            conn.command(&line, 0).await
        }
        Method::Plain => {
            let ir = plain_payload(user, need_password(creds)?);
            conn.command(&line_with(b"AUTH PLAIN ", &ir), 0).await
        }
        Method::Login => {
            let pw = b64(need_password(creds)?);
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
            conn.sasl_response(out.exchange, &pw).await
        }
        Method::CramMd5 => {
            let pw = need_password(creds)?;
            let out = conn.command(b"AUTH CRAM-MD5", 0).await?;
            let Some(ch) = &out.challenge else {
                return Ok(out);
            };
            let ch = auth::b64decode(ch).unwrap_or_default();
            let resp = Zeroizing::new(auth::cram_md5_response(user, pw, &ch));
            conn.sasl_response(out.exchange, resp.as_bytes()).await
        }
        Method::External => conn.command(b"AUTH EXTERNAL =", 0).await,
        Method::XOauth2 => bearer(conn, Mechanism::XOauth2, creds).await,
        Method::OauthBearer => bearer(conn, Mechanism::OauthBearer, creds).await,
    }
}

/// AUTH XOAUTH2 or OAUTHBEARER with the token, in the form `creds.sasl_form` resolves to. An
/// error challenge is answered with the dummy response RFC 7628 §3.2.3 asks for, and what it
/// says (and, for a JWT, what the token itself says) becomes a warning line.
async fn bearer(
    conn: &mut Connection,
    mechanism: Mechanism,
    creds: &Credentials,
) -> Result<Outcome, TransportError> {
    let token = creds.token.as_ref().ok_or_else(|| {
        TransportError::Config(format!(
            "AUTH {} needs a token (--token-env, --token-file or --token-command)",
            mechanism.name()
        ))
    })?;
    let host = conn.host.clone();
    let ir = oauth::initial_response(
        mechanism,
        creds.user.as_bytes(),
        host.as_bytes(),
        conn.port,
        token.expose(),
    )
    .map_err(|e| TransportError::Config(format!("AUTH {}: {e}", mechanism.name())))?;
    send_bearer(conn, mechanism, creds.sasl_form, &ir, token).await
}

/// Sends the base64 client message `ir` of `mechanism` in `form`, and answers an error
/// challenge with the dummy response; `token` is what the message carries (a JWT's claims
/// explain a refusal). Probe P25 sends its own variants of the message through here.
pub(crate) async fn send_bearer(
    conn: &mut Connection,
    mechanism: Mechanism,
    form: SaslForm,
    ir: &str,
    token: &Secret,
) -> Result<Outcome, TransportError> {
    let auth = format!("AUTH {}", mechanism.name());
    let out = match form.resolve(mechanism.name(), ir.len()) {
        SaslForm::TwoLine => {
            let out = conn.command(auth.as_bytes(), 0).await?;
            if out.challenge.is_none() {
                return Ok(out);
            }
            conn.sasl_response(out.exchange, ir.as_bytes()).await?
        }
        _ => {
            let prefix = format!("{auth} ");
            conn.command(&line_with(prefix.as_bytes(), ir.as_bytes()), 0)
                .await?
        }
    };
    let Some(challenge) = &out.challenge else {
        return Ok(out);
    };
    let said = refusal(mechanism, challenge, token);
    let mut out = conn
        .sasl_response(out.exchange, mechanism.dummy_line().as_bytes())
        .await?;
    // A server that lets the client in after the dummy (OAUTH-004) did not refuse the token.
    if !out.ok() {
        out.token_refusal = Some(said);
    }
    Ok(out)
}

/// The one line that says why the server refused the token: its error challenge decoded, and
/// what a JWT token's own claims say (`exp`, `aud`, scopes), judged by the system clock.
fn refusal(mechanism: Mechanism, challenge: &[u8], token: &Secret) -> String {
    let told = challenge_said(&oauth::challenge::decode(challenge));
    let mut line = format!("AUTH {} refused the token: {told}", mechanism.name());
    if let Some(said) = token_said(token) {
        line.push_str("; ");
        line.push_str(&said);
    }
    line
}

/// What an error challenge says, for a person (the UI's annotation and [`refusal`] alike).
pub(crate) fn challenge_said(decoded: &ChallengeDecode) -> String {
    match decoded {
        ChallengeDecode::Object(e) => e.explain(),
        ChallengeDecode::NotBase64 => "the error challenge is not base64".to_owned(),
        ChallengeDecode::NotJson => "the error challenge is not JSON".to_owned(),
        ChallengeDecode::NotObject => "the error challenge is not a JSON object".to_owned(),
    }
}

/// What a JWT token's own claims say (`exp`, `aud`, scopes), judged by the system clock; None
/// when the token is not a JWT.
pub(crate) fn token_said(token: &Secret) -> Option<String> {
    let claims = oauth::jwt::claims(token.expose())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Some(format!(
        "the token (a JWT, not verified): {}",
        claims.describe(now)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_dumps_are_off_after_forbid_core_dumps() {
        forbid_core_dumps().unwrap();
        let mut now = libc::rlimit {
            rlim_cur: 1,
            rlim_max: 1,
        };
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut now) }, 0);
        assert_eq!((now.rlim_cur, now.rlim_max), (0, 0));
        #[cfg(target_os = "linux")]
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
    }

    #[test]
    fn the_plain_payload_is_rfc_4616s() {
        let ir = plain_payload(b"demo", b"s3cr3t");
        assert_eq!(
            &ir[..],
            auth::plain_response(b"", b"demo", b"s3cr3t").as_bytes()
        );
        assert_eq!(&line_with(b"PASS ", b"x")[..], b"PASS x");
    }
}
