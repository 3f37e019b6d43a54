//! [`AccountStore`] on SQLite.

use async_trait::async_trait;
use hush_shared::UserId;
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, uuid_col};
use crate::store::{AccountStore, StoreResult, UserRecord};

fn user_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: UserId(uuid_col(row, 0)?),
        phone: row.get(1)?,
        display_name: row.get(2)?,
        created_at: row.get(3)?,
    })
}

const USER_COLS: &str = "id, phone, display_name, created_at";

#[async_trait]
impl AccountStore for SqliteStore {
    async fn find_or_create(&self, phone: &str, now: i64) -> StoreResult<(UserRecord, bool)> {
        let phone = phone.to_owned();
        self.call(move |c| {
            let tx = c.transaction()?;
            let existing = tx
                .query_row(&format!("SELECT {USER_COLS} FROM users WHERE phone = ?1"), [&phone], user_row)
                .optional()?;
            let result = match existing {
                Some(user) => (user, false),
                None => {
                    let user = UserRecord { id: UserId::new(), phone, display_name: None, created_at: now };
                    tx.execute(
                        "INSERT INTO users (id, phone, display_name, created_at) VALUES (?1, ?2, NULL, ?3)",
                        params![user.id.to_string(), user.phone, now],
                    )?;
                    (user, true)
                }
            };
            tx.commit()?;
            Ok(result)
        })
        .await
    }

    async fn get(&self, id: UserId) -> StoreResult<Option<UserRecord>> {
        self.call(move |c| {
            c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"), [id.to_string()], user_row).optional()
        })
        .await
    }

    async fn find_by_phone(&self, phone: &str) -> StoreResult<Option<UserRecord>> {
        let phone = phone.to_owned();
        self.call(move |c| {
            c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE phone = ?1"), [phone], user_row).optional()
        })
        .await
    }

    async fn set_display_name(&self, id: UserId, name: &str) -> StoreResult<Option<UserRecord>> {
        let name = name.to_owned();
        self.call(move |c| {
            c.execute("UPDATE users SET display_name = ?2 WHERE id = ?1", params![id.to_string(), name])?;
            c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"), [id.to_string()], user_row).optional()
        })
        .await
    }

    async fn delete(&self, id: UserId) -> StoreResult<bool> {
        self.call_mailbox(move |c, memory| {
            let (tx, changes) = super::mailbox::begin(c, memory, super::mailbox::Deferred::All)?;
            let uuid = id.0;
            let id = id.to_string();
            tx.execute("DELETE FROM sign_in_codes WHERE phone = (SELECT phone FROM users WHERE id = ?1)", [&id])?;
            let blob = &uuid.as_bytes()[..];
            tx.execute("DELETE FROM messages WHERE recipient = ?1", [blob])?;
            tx.execute("DELETE FROM receipts WHERE user_id = ?1", [blob])?;
            tx.execute("DELETE FROM one_time_prekeys WHERE user_id = ?1", [&id])?;
            // Sessions, refresh tokens, requests, friend keys, blocks, the identity and the
            // devices cascade.
            let n = tx.execute("DELETE FROM users WHERE id = ?1", [&id])?;
            super::mailbox::commit(tx, memory, changes)?;
            memory.forget_rows();
            Ok(n > 0)
        })
        .await
    }
}
