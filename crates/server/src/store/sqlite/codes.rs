//! [`CodeStore`] on SQLite.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use subtle::ConstantTimeEq;

use super::SqliteStore;
use crate::store::{CodeCheck, CodeStore, StoreResult};

#[async_trait]
impl CodeStore for SqliteStore {
    async fn put(&self, phone: &str, code_hash: [u8; 32], expires_at: i64) -> StoreResult<()> {
        let phone = phone.to_owned();
        self.call(move |c| {
            c.execute(
                "INSERT INTO sign_in_codes (phone, code_hash, expires_at, attempts) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (phone) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at, attempts = 0",
                params![phone, &code_hash[..], expires_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn check(&self, phone: &str, guess_hash: [u8; 32], now: i64, max_attempts: u32) -> StoreResult<CodeCheck> {
        let phone = phone.to_owned();
        self.call(move |c| {
            let tx = c.transaction()?;
            let row = tx
                .query_row(
                    "SELECT code_hash, expires_at, attempts FROM sign_in_codes WHERE phone = ?1",
                    [&phone],
                    |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, u32>(2)?)),
                )
                .optional()?;
            let outcome = match row {
                None => CodeCheck::Missing,
                Some((_, expires_at, attempts)) if expires_at <= now || attempts >= max_attempts => {
                    tx.execute("DELETE FROM sign_in_codes WHERE phone = ?1", [&phone])?;
                    CodeCheck::Missing
                }
                Some((stored, _, attempts)) => {
                    if bool::from(stored.ct_eq(&guess_hash[..])) {
                        tx.execute("DELETE FROM sign_in_codes WHERE phone = ?1", [&phone])?;
                        CodeCheck::Accepted
                    } else if attempts + 1 >= max_attempts {
                        tx.execute("DELETE FROM sign_in_codes WHERE phone = ?1", [&phone])?;
                        CodeCheck::Burned
                    } else {
                        tx.execute("UPDATE sign_in_codes SET attempts = attempts + 1 WHERE phone = ?1", [&phone])?;
                        CodeCheck::Wrong { remaining: max_attempts - attempts - 1 }
                    }
                }
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }
}
