//! [`PushStore`] on SQLite: `push_subscriptions`, one row per device, deleted with the
//! device by its foreign key.

use async_trait::async_trait;
use hush_shared::{DeviceId, UserId};
use rusqlite::params;

use super::{SqliteStore, uuid_col};
use crate::store::{PushStore, PushSubscriptionRecord, StoreResult};

#[async_trait]
impl PushStore for SqliteStore {
    async fn put_push_subscription(
        &self,
        user: UserId,
        device: DeviceId,
        subscription: PushSubscriptionRecord,
    ) -> StoreResult<bool> {
        self.call(move |c| {
            let (user, device) = (user.to_string(), device.to_string());
            let exists = c
                .prepare_cached("SELECT 1 FROM devices WHERE user_id = ?1 AND device_id = ?2")?
                .exists(params![user, device])?;
            if !exists {
                return Ok(false);
            }
            c.prepare_cached(
                "INSERT OR REPLACE INTO push_subscriptions (user_id, device_id, endpoint, p256dh, auth, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                user,
                device,
                subscription.endpoint,
                subscription.p256dh,
                subscription.auth,
                subscription.created_at
            ])?;
            Ok(true)
        })
        .await
    }

    async fn push_subscriptions(&self, user: UserId) -> StoreResult<Vec<(DeviceId, PushSubscriptionRecord)>> {
        self.call(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT device_id, endpoint, p256dh, auth, created_at FROM push_subscriptions WHERE user_id = ?1",
            )?;
            let rows = stmt.query_map([user.to_string()], |r| {
                Ok((
                    DeviceId(uuid_col(r, 0)?),
                    PushSubscriptionRecord {
                        endpoint: r.get(1)?,
                        p256dh: r.get(2)?,
                        auth: r.get(3)?,
                        created_at: r.get(4)?,
                    },
                ))
            })?;
            rows.collect()
        })
        .await
    }

    async fn remove_push_subscription(
        &self,
        user: UserId,
        device: DeviceId,
        endpoint: Option<String>,
    ) -> StoreResult<()> {
        self.call(move |c| {
            c.prepare_cached(
                "DELETE FROM push_subscriptions WHERE user_id = ?1 AND device_id = ?2 AND (?3 IS NULL OR endpoint = ?3)",
            )?
            .execute(params![user.to_string(), device.to_string(), endpoint])?;
            Ok(())
        })
        .await
    }
}
