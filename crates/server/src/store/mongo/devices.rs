//! [`DeviceStore`] on MongoDB: one `device_sets` document per account holding its identity
//! key, a version and the devices (each with its signed prekey) as an array. Every change
//! is one single-document update; those that rewrite the array are conditioned on the
//! version, and every change bumps it, so concurrent changes cannot overwrite each other —
//! no replica set or transaction needed.

use async_trait::async_trait;
use hush_shared::{DeviceId, UserId};
use mongodb::bson::{Bson, Document, doc};

use super::{MongoStore, is_duplicate};
use crate::store::{DeviceRecord, DeviceSet, DeviceStore, SignedPrekeyRecord, StoreError, StoreResult};

fn corrupt(what: &str) -> StoreError {
    StoreError(format!("mongodb: corrupt device set ({what})"))
}

fn text(d: &Document, field: &str) -> StoreResult<String> {
    d.get_str(field).map(str::to_owned).map_err(|_| corrupt(field))
}

fn integer(d: &Document, field: &str) -> StoreResult<i64> {
    d.get_i64(field).map_err(|_| corrupt(field))
}

fn prekey_doc(p: &SignedPrekeyRecord) -> Document {
    doc! {
        "id": i64::from(p.id),
        "public_key": &p.public_key,
        "signature": &p.signature,
        "uploaded_at": p.uploaded_at,
    }
}

fn device_doc(d: &DeviceRecord) -> Document {
    doc! {
        "device_id": d.id.to_string(),
        "session_id": d.session.to_string(),
        "device_key": &d.device_key,
        "certificate": &d.certificate,
        "name": d.name.clone().map_or(Bson::Null, Bson::String),
        "signed_prekey": prekey_doc(&d.signed_prekey),
        "created_at": d.created_at,
    }
}

fn device_from(d: &Document) -> StoreResult<DeviceRecord> {
    let spk = d.get_document("signed_prekey").map_err(|_| corrupt("signed_prekey"))?;
    Ok(DeviceRecord {
        id: text(d, "device_id")?.parse().map_err(|_| corrupt("device_id"))?,
        session: text(d, "session_id")?.parse().map_err(|_| corrupt("session_id"))?,
        device_key: text(d, "device_key")?,
        certificate: text(d, "certificate")?,
        name: d.get_str("name").ok().map(str::to_owned),
        signed_prekey: SignedPrekeyRecord {
            id: u32::try_from(integer(spk, "id")?).map_err(|_| corrupt("signed prekey id"))?,
            public_key: text(spk, "public_key")?,
            signature: text(spk, "signature")?,
            uploaded_at: integer(spk, "uploaded_at")?,
        },
        created_at: integer(d, "created_at")?,
    })
}

#[async_trait]
impl DeviceStore for MongoStore {
    async fn device_set(&self, user: UserId) -> StoreResult<DeviceSet> {
        let Some(found) = self.coll("device_sets").find_one(doc! { "_id": user.to_string() }).await? else {
            return Ok(DeviceSet::default());
        };
        let devices = found.get_array("devices").map_err(|_| corrupt("devices"))?;
        let devices = devices
            .iter()
            .map(|d| d.as_document().ok_or_else(|| corrupt("device")).and_then(device_from))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(DeviceSet {
            identity: Some(text(&found, "identity_key")?),
            devices,
            version: u64::try_from(integer(&found, "version")?).map_err(|_| corrupt("version"))?,
        })
    }

    async fn device_ids(&self, user: UserId) -> StoreResult<Vec<DeviceId>> {
        Ok(self.device_set(user).await?.devices.into_iter().map(|d| d.id).collect())
    }

    async fn update_device_set(
        &self,
        user: UserId,
        expected_version: u64,
        identity: &str,
        remove: &[DeviceId],
        add: DeviceRecord,
    ) -> StoreResult<bool> {
        let sets = self.coll("device_sets");
        let id = user.to_string();
        if expected_version == 0 {
            let fresh = doc! { "_id": &id, "identity_key": identity, "version": 1i64, "devices": [device_doc(&add)] };
            return match sets.insert_one(fresh).await {
                Ok(_) => Ok(true),
                Err(e) if is_duplicate(&e) => Ok(false),
                Err(e) => Err(e.into()),
            };
        }
        let current = self.device_set(user).await?;
        if current.version != expected_version {
            return Ok(false);
        }
        let mut devices: Vec<Document> =
            current.devices.iter().filter(|d| !remove.contains(&d.id)).map(device_doc).collect();
        devices.push(device_doc(&add));
        let version = i64::try_from(expected_version).map_err(|_| corrupt("version"))?;
        let updated = sets
            .update_one(
                doc! { "_id": &id, "version": version },
                doc! { "$set": { "identity_key": identity, "devices": devices, "version": version + 1 } },
            )
            .await?;
        Ok(updated.modified_count == 1)
    }

    async fn set_signed_prekey(&self, user: UserId, device: DeviceId, prekey: SignedPrekeyRecord) -> StoreResult<bool> {
        let updated = self
            .coll("device_sets")
            .update_one(
                doc! { "_id": user.to_string(), "devices.device_id": device.to_string() },
                doc! { "$set": { "devices.$.signed_prekey": prekey_doc(&prekey) }, "$inc": { "version": 1i64 } },
            )
            .await?;
        Ok(updated.matched_count == 1)
    }

    async fn remove_device(&self, user: UserId, device: DeviceId) -> StoreResult<bool> {
        let updated = self
            .coll("device_sets")
            .update_one(
                doc! { "_id": user.to_string(), "devices.device_id": device.to_string() },
                doc! { "$pull": { "devices": { "device_id": device.to_string() } }, "$inc": { "version": 1i64 } },
            )
            .await?;
        Ok(updated.modified_count == 1)
    }
}
