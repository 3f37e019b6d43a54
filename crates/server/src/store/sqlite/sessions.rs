//! [`SessionStore`] on SQLite.

use async_trait::async_trait;
use hush_shared::UserId;
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, uuid_col};
use crate::store::{ROTATED_TOKENS_KEPT, RotateOutcome, SessionId, SessionStore, StoreResult};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create(
        &self,
        session: SessionId,
        user: UserId,
        refresh_hash: [u8; 32],
        now: i64,
        refresh_expires_at: i64,
    ) -> StoreResult<()> {
        self.call(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO sessions (id, user_id, created_at) VALUES (?1, ?2, ?3)",
                params![session.to_string(), user.to_string(), now],
            )?;
            tx.execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES (?1, ?2, ?3)",
                params![&refresh_hash[..], session.to_string(), refresh_expires_at],
            )?;
            tx.commit()
        })
        .await
    }

    async fn active_user(&self, session: SessionId) -> StoreResult<Option<UserId>> {
        self.call(move |c| {
            c.query_row(
                "SELECT user_id FROM sessions WHERE id = ?1 AND revoked_at IS NULL",
                [session.to_string()],
                |r| uuid_col(r, 0),
            )
            .optional()
            .map(|o| o.map(UserId))
        })
        .await
    }

    async fn rotate(
        &self,
        old_hash: [u8; 32],
        new_hash: [u8; 32],
        now: i64,
        new_expires_at: i64,
    ) -> StoreResult<RotateOutcome> {
        self.call(move |c| {
            let tx = c.transaction()?;
            let found = tx
                .query_row(
                    "SELECT t.session_id, t.expires_at, t.rotated_at, s.user_id, s.revoked_at
                     FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = ?1",
                    [&old_hash[..]],
                    |r| {
                        Ok((
                            uuid_col(r, 0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                            uuid_col(r, 3)?,
                            r.get::<_, Option<i64>>(4)?,
                        ))
                    },
                )
                .optional()?;
            let outcome = match found {
                None => RotateOutcome::Invalid,
                Some((_, _, _, _, Some(_))) => RotateOutcome::Invalid,
                Some((session, _, Some(_), user, None)) => {
                    // A rotated token came back: it was stolen or replayed. Kill the session.
                    tx.execute("UPDATE sessions SET revoked_at = ?2 WHERE id = ?1", params![session.to_string(), now])?;
                    RotateOutcome::ReuseDetected { session, user: UserId(user) }
                }
                Some((_, expires_at, None, _, None)) if expires_at <= now => RotateOutcome::Invalid,
                Some((session, _, None, user, None)) => {
                    tx.execute(
                        "UPDATE refresh_tokens SET rotated_at = ?2 WHERE token_hash = ?1",
                        params![&old_hash[..], now],
                    )?;
                    tx.execute(
                        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES (?1, ?2, ?3)",
                        params![&new_hash[..], session.to_string(), new_expires_at],
                    )?;
                    tx.execute(
                        "DELETE FROM refresh_tokens WHERE session_id = ?1 AND rotated_at IS NOT NULL
                         AND token_hash NOT IN (SELECT token_hash FROM refresh_tokens
                             WHERE session_id = ?1 AND rotated_at IS NOT NULL
                             ORDER BY rotated_at DESC, rowid DESC LIMIT ?2)",
                        params![session.to_string(), ROTATED_TOKENS_KEPT],
                    )?;
                    RotateOutcome::Rotated { session, user: UserId(user) }
                }
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    async fn revoke(&self, session: SessionId, now: i64) -> StoreResult<()> {
        self.call(move |c| {
            c.execute(
                "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![session.to_string(), now],
            )?;
            Ok(())
        })
        .await
    }
}
