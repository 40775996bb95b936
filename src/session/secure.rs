//! What comes before a session's own commands: CAPA, then STLS when asked (RFC 2595), and the
//! refusal to go on in plaintext when STLS is missing or fails. Session behaviour, shared by
//! `check`'s walk, `send`, `replay --against` and the UI.

use super::{Connection, Outcome};
use crate::transport::TransportError;

/// What comes before a command's own commands: CAPA (before a login too, so the method is
/// chosen from what the server offers and a login in the clear is announced), then STLS when
/// asked (see [`secure`]).
pub async fn prepare(
    conn: &mut Connection,
    starttls: bool,
    login: bool,
) -> Result<(), TransportError> {
    if !(starttls || login) {
        return Ok(());
    }
    match secure(conn, starttls).await? {
        // A late CAPA listing would be read as the login's reply: stop here.
        Some(capa) if capa.timed_out => {
            conn.close().await;
            Err(capa.timeout_error(
                "waiting for the answer to CAPA before the login",
                0,
                " (--timeout sets the wait)",
            ))
        }
        // A server that closes at CAPA (after a -ERR greeting, say) gets no login written into
        // a dead connection ("sending: Broken pipe" said nothing about why).
        _ if login && conn.is_closed() => Err(TransportError::Closed {
            context: "before the login (it answered CAPA with a close): no credential was sent"
                .into(),
        }),
        _ => Ok(()),
    }
}

/// CAPA, then STLS when asked; refuses to go on in plaintext if STLS is missing or fails.
pub(crate) async fn secure(
    conn: &mut Connection,
    starttls: bool,
) -> Result<Option<Outcome>, TransportError> {
    let capa = conn.command(b"CAPA", 256).await?;
    if !starttls {
        return Ok(Some(capa));
    }
    let offered = conn
        .engine()
        .session()
        .caps
        .auth
        .as_ref()
        .is_some_and(|c| c.has("STLS"));
    if !offered {
        let why = if capa.ok() {
            "the server does not offer STLS in CAPA".to_owned()
        } else {
            format!("CAPA failed ({}), so STLS cannot be confirmed", capa.text())
        };
        conn.close().await;
        return Err(TransportError::StartTls(why));
    }
    let out = conn.starttls().await?;
    if !out.ok() {
        conn.close().await;
        return Err(TransportError::StartTls(format!(
            "STLS was refused: -ERR {}",
            out.text()
        )));
    }
    Ok(Some(conn.command(b"CAPA", 256).await?))
}
