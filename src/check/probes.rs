//! The safe active probes of rules.md §4 that the walk ([`super::walk`]) runs around its own
//! session: P1 before it, on a connection of its own (servers may hang up after a few refused
//! commands, Dovecot after three, and the walk needs its connection); P10 at its end; and the
//! probes that each need a fresh connection (P2, P7, P8, P14/P18, P20) after it.

use crate::session::Connection;
use crate::session::login::Method;
use crate::transport::{Scheme, TransportError};
use popscope_core::Session;
use popscope_core::probes;
use popscope_core::rules::cross;

use super::walk::Walker;

impl Walker {
    /// P1: TRANSACTION commands in AUTHORIZATION.
    pub(super) async fn before_login(&mut self) -> Result<(), TransportError> {
        let mut p1 = self
            .open("probe P1: TRANSACTION commands before login")
            .await?;
        self.secure(&mut p1).await?;
        for cmd in probes::P1_BEFORE_LOGIN {
            if p1.is_closed() {
                break;
            }
            self.step(&mut p1, cmd).await?;
        }
        if !p1.is_closed() {
            p1.quit().await?;
        }
        Ok(())
    }

    /// P10: no login command, UTF8 or STLS once logged in. STLS last: a +OK would start TLS.
    pub(super) async fn after_login(&mut self, c: &mut Connection) -> Result<(), TransportError> {
        for s in probes::P10_AFTER_LOGIN {
            let out = self.step(c, s).await?;
            self.cancel_if_challenged(c, &out).await?;
            if c.is_closed() {
                return Ok(());
            }
        }
        if !self.reset(c, false).await? {
            return Ok(());
        }
        let out = self.step(c, "STLS").await?;
        if out.ok() {
            c.close().await;
        }
        Ok(())
    }

    /// The probes on connections of their own, after the walk: P2, P20, P8 and P7 (by
    /// transport), and a second session for P14 and P18 (compared with the walk's, `first`).
    pub(super) async fn probes(&mut self, first: &Session) -> Result<(), TransportError> {
        let stls_offered = first
            .caps
            .pre_tls
            .as_ref()
            .or(first.caps.auth.as_ref())
            .is_some_and(|c| c.has("STLS"));
        // P2: PASS with no USER.
        if let Some(mut c) = self.probe("probe P2: PASS without USER").await
            && self.secure(&mut c).await.is_ok()
            && !c.is_closed()
        {
            self.step(&mut c, probes::P2_PASS_WITHOUT_USER).await?;
            if !c.is_closed() {
                c.quit().await?;
            }
        }
        // P20: QUIT in AUTHORIZATION, then keep talking.
        if let Some(mut c) = self.probe("probe P20: QUIT in AUTHORIZATION").await {
            c.quit().await?;
            if !c.is_closed() {
                self.step(&mut c, "NOOP").await?;
                c.close().await;
            }
        }
        if self.opts.connect.scheme == Scheme::Pop3 && stls_offered {
            // P8 (command injection) and P7 (STLS inside TLS), P9 on every upgrade.
            if let Some(mut c) = self
                .probe("probe P8: plaintext pipelined behind STLS")
                .await
            {
                c.send_raw(probes::P8_INJECTION).await?;
                let id = c.engine().session().commands_sent - 1;
                let out = c.await_exchange(id, 0).await?;
                if out.ok() && c.upgrade().await.is_ok() {
                    c.linger(self.opts.injection_wait).await?;
                    self.step(&mut c, "NOOP").await?;
                    let again = if c.is_closed() {
                        None
                    } else {
                        Some(self.step(&mut c, "STLS").await?)
                    };
                    if again.is_some_and(|a| a.ok()) {
                        c.close().await;
                    } else if !c.is_closed() {
                        c.quit().await?;
                    }
                } else {
                    c.close().await;
                }
            }
        }
        if self.opts.connect.scheme == Scheme::Pop3s
            && let Some(mut c) = self.probe("probe P7: STLS on the implicit-TLS port").await
        {
            let out = self.step(&mut c, "STLS").await?;
            if out.ok() {
                c.close().await;
            } else if !c.is_closed() {
                c.quit().await?;
            }
        }
        // P24 and P25: the OAuth error challenge, and both AUTH forms with a token.
        self.oauth_probes(first).await?;
        // P14 and P18: a second session: fresh APOP timestamp, same uids.
        if let Some(mut c) = self.probe("probe P14/P18: second session").await {
            self.secure(&mut c).await?;
            let mut second_logged_in = false;
            if self.result.logged_in && !c.is_closed() {
                second_logged_in = self.login(&mut c).await?;
                if second_logged_in {
                    self.step(&mut c, "LIST").await?;
                    if !c.is_closed() {
                        self.step(&mut c, "UIDL").await?;
                    }
                }
            }
            if !c.is_closed() {
                c.quit().await?;
            }
            let second = c.engine().session().clone();
            let apop = self.opts.login == Method::Apop && self.result.logged_in;
            let index = self.result.connections.len() - 1;
            if let Some(f) = cross::repeated_timestamp(first, &second, apop) {
                self.result.findings.push((index, f));
            }
            if second_logged_in && !self.opts.allow_delete {
                for f in cross::uids_persist(first, &second) {
                    self.result.findings.push((index, f));
                }
            }
        }
        Ok(())
    }
}
