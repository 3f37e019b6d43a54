//! [`DeviceStore`] and [`PrekeyStore`] on SQLite: `device_sets` (identity and version),
//! `devices` (with the signed prekey) and `one_time_prekeys`. A one-time prekey is handed
//! out by one `DELETE … RETURNING` statement, so two fetches can never get the same key.

use async_trait::async_trait;
use hush_shared::{DeviceId, UserId};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, uuid_col};
use crate::store::{DeviceRecord, DeviceSet, DeviceStore, PrekeyStore, PrekeysAdded, SignedPrekeyRecord, StoreResult};

const DEVICE_COLS: &str = "device_id, session_id, device_key, certificate, name, spk_id, spk_key, spk_signature, \
                           spk_uploaded_at, created_at";

fn device_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRecord> {
    Ok(DeviceRecord {
        id: DeviceId(uuid_col(row, 0)?),
        session: uuid_col(row, 1)?,
        device_key: row.get(2)?,
        certificate: row.get(3)?,
        name: row.get(4)?,
        signed_prekey: SignedPrekeyRecord {
            id: row.get(5)?,
            public_key: row.get(6)?,
            signature: row.get(7)?,
            uploaded_at: row.get(8)?,
        },
        created_at: row.get(9)?,
    })
}

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn device_set(&self, user: UserId) -> StoreResult<DeviceSet> {
        self.call(move |c| {
            let user = user.to_string();
            let head: Option<(String, i64)> = c
                .prepare_cached("SELECT identity_key, version FROM device_sets WHERE user_id = ?1")?
                .query_row([&user], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((identity, version)) = head else { return Ok(DeviceSet::default()) };
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {DEVICE_COLS} FROM devices WHERE user_id = ?1 ORDER BY created_at, device_id"
            ))?;
            let devices = stmt.query_map([&user], device_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(DeviceSet { identity: Some(identity), devices, version: version as u64 })
        })
        .await
    }

    async fn device_ids(&self, user: UserId) -> StoreResult<Vec<DeviceId>> {
        self.call(move |c| {
            let mut stmt = c.prepare_cached("SELECT device_id FROM devices WHERE user_id = ?1")?;
            let rows = stmt.query_map([user.to_string()], |r| uuid_col(r, 0).map(DeviceId))?;
            rows.collect()
        })
        .await
    }

    async fn update_device_set(
        &self,
        user: UserId,
        expected_version: u64,
        identity: &str,
        remove: &[DeviceId],
        add: DeviceRecord,
    ) -> StoreResult<bool> {
        let identity = identity.to_owned();
        let remove: Vec<String> = remove.iter().map(ToString::to_string).collect();
        self.call(move |c| {
            let tx = c.transaction()?;
            let user = user.to_string();
            let changed = if expected_version == 0 {
                tx.execute(
                    "INSERT INTO device_sets (user_id, identity_key, version) VALUES (?1, ?2, 1) ON CONFLICT DO NOTHING",
                    params![user, identity],
                )?
            } else {
                tx.execute(
                    "UPDATE device_sets SET identity_key = ?2, version = version + 1 WHERE user_id = ?1 AND version = ?3",
                    params![user, identity, expected_version as i64],
                )?
            };
            if changed == 0 {
                return Ok(false);
            }
            for device in &remove {
                tx.execute("DELETE FROM devices WHERE user_id = ?1 AND device_id = ?2", params![user, device])?;
            }
            let spk = &add.signed_prekey;
            tx.execute(
                &format!("INSERT INTO devices (user_id, {DEVICE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
                params![
                    user,
                    add.id.to_string(),
                    add.session.to_string(),
                    add.device_key,
                    add.certificate,
                    add.name,
                    spk.id,
                    spk.public_key,
                    spk.signature,
                    spk.uploaded_at,
                    add.created_at
                ],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn set_signed_prekey(&self, user: UserId, device: DeviceId, prekey: SignedPrekeyRecord) -> StoreResult<bool> {
        self.call(move |c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE devices SET spk_id = ?3, spk_key = ?4, spk_signature = ?5, spk_uploaded_at = ?6
                 WHERE user_id = ?1 AND device_id = ?2",
                params![
                    user.to_string(),
                    device.to_string(),
                    prekey.id,
                    prekey.public_key,
                    prekey.signature,
                    prekey.uploaded_at
                ],
            )?;
            if n > 0 {
                tx.execute("UPDATE device_sets SET version = version + 1 WHERE user_id = ?1", [user.to_string()])?;
            }
            tx.commit()?;
            Ok(n > 0)
        })
        .await
    }

    async fn remove_device(&self, user: UserId, device: DeviceId) -> StoreResult<bool> {
        self.call(move |c| {
            let tx = c.transaction()?;
            let (user, device) = (user.to_string(), device.to_string());
            let n = tx.execute("DELETE FROM devices WHERE user_id = ?1 AND device_id = ?2", params![user, device])?;
            if n > 0 {
                tx.execute("UPDATE device_sets SET version = version + 1 WHERE user_id = ?1", [&user])?;
            }
            tx.commit()?;
            Ok(n > 0)
        })
        .await
    }
}

#[async_trait]
impl PrekeyStore for SqliteStore {
    async fn add_prekeys(
        &self,
        user: UserId,
        device: DeviceId,
        keys: &[(u32, String)],
        max_stored: u32,
    ) -> StoreResult<PrekeysAdded> {
        let keys = keys.to_vec();
        self.call(move |c| {
            // Immediate: the count and the inserts hold the write lock together, so a second
            // process cannot slip in between (a deferred transaction would fail to upgrade).
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let (user, device) = (user.to_string(), device.to_string());
            let stored: u32 = tx.query_row(
                "SELECT COUNT(*) FROM one_time_prekeys WHERE user_id = ?1 AND device_id = ?2",
                params![user, device],
                |r| r.get(0),
            )?;
            if stored as usize + keys.len() > max_stored as usize {
                return Ok(PrekeysAdded::Full);
            }
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO one_time_prekeys (user_id, device_id, key_id, public_key) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING",
                )?;
                for (id, key) in &keys {
                    if insert.execute(params![user, device, id, key])? == 0 {
                        return Ok(PrekeysAdded::IdTaken(*id)); // dropping the transaction rolls back
                    }
                }
            }
            tx.commit()?;
            Ok(PrekeysAdded::Stored(stored + keys.len() as u32))
        })
        .await
    }

    async fn count_prekeys(&self, user: UserId, device: DeviceId) -> StoreResult<u32> {
        self.call(move |c| {
            c.prepare_cached("SELECT COUNT(*) FROM one_time_prekeys WHERE user_id = ?1 AND device_id = ?2")?
                .query_row(params![user.to_string(), device.to_string()], |r| r.get(0))
        })
        .await
    }

    async fn take_prekey(&self, user: UserId, device: DeviceId) -> StoreResult<Option<(u32, String)>> {
        self.call(move |c| {
            c.prepare_cached(
                "DELETE FROM one_time_prekeys WHERE user_id = ?1 AND device_id = ?2 AND key_id =
                   (SELECT MIN(key_id) FROM one_time_prekeys WHERE user_id = ?1 AND device_id = ?2)
                 RETURNING key_id, public_key",
            )?
            .query_row(params![user.to_string(), device.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
        })
        .await
    }

    async fn clear_prekeys(&self, user: UserId, device: DeviceId) -> StoreResult<()> {
        self.call(move |c| {
            c.execute(
                "DELETE FROM one_time_prekeys WHERE user_id = ?1 AND device_id = ?2",
                params![user.to_string(), device.to_string()],
            )
            .map(|_| ())
        })
        .await
    }
}
