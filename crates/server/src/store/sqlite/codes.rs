//! [`CodeStore`] on SQLite: one row per sign-in attempt's code (migration 0013).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use subtle::ConstantTimeEq;

use super::SqliteStore;
use crate::store::{CodeCheck, CodeSlot, CodeStore, StoreResult};

#[async_trait]
impl CodeStore for SqliteStore {
    async fn put(&self, slot: &CodeSlot, code_hash: [u8; 32], now: i64, expires_at: i64) -> StoreResult<()> {
        let (key, phone) = (slot.key(), slot.phone.clone());
        self.call(move |c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM sign_in_codes WHERE expires_at <= ?1", [now])?;
            tx.execute(
                "INSERT INTO sign_in_codes (slot, phone, code_hash, expires_at, attempts) VALUES (?1, ?2, ?3, ?4, 0)
                 ON CONFLICT (slot) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at, attempts = 0",
                params![key, phone, &code_hash[..], expires_at],
            )?;
            tx.commit()
        })
        .await
    }

    async fn check(
        &self,
        slot: &CodeSlot,
        guess_hash: [u8; 32],
        now: i64,
        max_attempts: u32,
    ) -> StoreResult<CodeCheck> {
        let key = slot.key();
        self.call(move |c| {
            let tx = c.transaction()?;
            let row = tx
                .query_row("SELECT code_hash, expires_at, attempts FROM sign_in_codes WHERE slot = ?1", [&key], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, u32>(2)?))
                })
                .optional()?;
            let outcome = match row {
                None => CodeCheck::Missing,
                Some((_, expires_at, attempts)) if expires_at <= now || attempts >= max_attempts => {
                    tx.execute("DELETE FROM sign_in_codes WHERE slot = ?1", [&key])?;
                    CodeCheck::Missing
                }
                Some((stored, _, attempts)) => {
                    if bool::from(stored.ct_eq(&guess_hash[..])) {
                        tx.execute("DELETE FROM sign_in_codes WHERE slot = ?1", [&key])?;
                        CodeCheck::Accepted
                    } else if attempts + 1 >= max_attempts {
                        tx.execute("DELETE FROM sign_in_codes WHERE slot = ?1", [&key])?;
                        CodeCheck::Burned
                    } else {
                        tx.execute("UPDATE sign_in_codes SET attempts = attempts + 1 WHERE slot = ?1", [&key])?;
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
