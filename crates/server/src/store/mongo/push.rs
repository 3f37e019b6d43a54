//! [`PushStore`] on MongoDB: a `push_subscriptions` collection, one document per device
//! (`_id` = `<user>/<device>`). Removing a device removes its subscription
//! (`service::devices`); the push sender also skips, and deletes, a subscription whose
//! device is gone.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use hush_shared::{DeviceId, UserId};
use mongodb::bson::{Document, doc};

use super::MongoStore;
use crate::store::{DeviceStore, PushStore, PushSubscriptionRecord, StoreError, StoreResult};

fn key(user: UserId, device: DeviceId) -> String {
    format!("{user}/{device}")
}

fn record(d: &Document) -> StoreResult<(DeviceId, PushSubscriptionRecord)> {
    let corrupt = |field: &str| StoreError(format!("mongodb: corrupt push subscription ({field})"));
    let text = |field: &str| d.get_str(field).map(str::to_owned).map_err(|_| corrupt(field));
    let device = text("device_id")?.parse().map_err(|_| corrupt("device_id"))?;
    Ok((
        DeviceId(device),
        PushSubscriptionRecord {
            endpoint: text("endpoint")?,
            p256dh: text("p256dh")?,
            auth: text("auth")?,
            created_at: d.get_i64("created_at").map_err(|_| corrupt("created_at"))?,
        },
    ))
}

#[async_trait]
impl PushStore for MongoStore {
    async fn put_push_subscription(
        &self,
        user: UserId,
        device: DeviceId,
        subscription: PushSubscriptionRecord,
    ) -> StoreResult<bool> {
        if !self.device_ids(user).await?.contains(&device) {
            return Ok(false);
        }
        let document = doc! {
            "_id": key(user, device),
            "user_id": user.to_string(),
            "device_id": device.to_string(),
            "endpoint": subscription.endpoint,
            "p256dh": subscription.p256dh,
            "auth": subscription.auth,
            "created_at": subscription.created_at,
        };
        self.coll("push_subscriptions").replace_one(doc! { "_id": key(user, device) }, document).upsert(true).await?;
        Ok(true)
    }

    async fn push_subscriptions(&self, user: UserId) -> StoreResult<Vec<(DeviceId, PushSubscriptionRecord)>> {
        let found: Vec<Document> =
            self.coll("push_subscriptions").find(doc! { "user_id": user.to_string() }).await?.try_collect().await?;
        found.iter().map(record).collect()
    }

    async fn remove_push_subscription(
        &self,
        user: UserId,
        device: DeviceId,
        endpoint: Option<String>,
    ) -> StoreResult<()> {
        let mut filter = doc! { "_id": key(user, device) };
        if let Some(endpoint) = endpoint {
            filter.insert("endpoint", endpoint);
        }
        self.coll("push_subscriptions").delete_one(filter).await?;
        Ok(())
    }
}
