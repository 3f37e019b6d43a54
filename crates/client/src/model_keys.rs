//! A model of the server's key directory, for tests that run the engine without a server
//! (property tests, the browser-side tests): registered devices with their signed and
//! one-time prekeys, answering the REST calls the engine makes (register, list, prekey
//! status and top-up, bundles that hand each one-time prekey out once). It checks nothing
//! a real server checks; `crates/server/tests/devices.rs` covers that. Built only with the
//! `test-support` feature.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::api::{ApiError, Http, unreachable};
use async_trait::async_trait;
use hush_shared::UserId;
use hush_shared::api::devices::{
    BundleList, Device, DeviceBundle, DeviceList, OneTimePrekey, PrekeyStatus, RegisterDevice, UploadPrekeys,
};

/// Every account's one device.
#[derive(Default)]
pub struct KeyDirectory {
    devices: RefCell<HashMap<UserId, (RegisterDevice, Vec<OneTimePrekey>)>>,
}

/// One account's view of the directory.
pub struct ModelHttp {
    /// Whose session calls.
    pub user: UserId,
    /// The directory.
    pub keys: Rc<KeyDirectory>,
}

fn to_json(value: impl serde::Serialize) -> Result<String, ApiError> {
    serde_json::to_string(&value).map_err(|e| unreachable(e.to_string()))
}

/// A call's body as `T`.
fn body_as<T: serde::de::DeserializeOwned>(body: Option<String>) -> Result<T, ApiError> {
    crate::api::read_answer(body.as_deref().unwrap_or_default()).map_err(|e| unreachable(e.to_string()))
}

#[async_trait(?Send)]
impl Http for ModelHttp {
    fn access_token(&self) -> Option<String> {
        Some(format!("token-of-{}", self.user))
    }

    async fn call(&self, method: &str, path: &str, body: Option<String>) -> Result<String, ApiError> {
        let mut devices = self.keys.devices.borrow_mut();
        let parts: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
        match (method, parts.as_slice()) {
            ("POST", ["devices"]) => {
                let body: RegisterDevice = body_as(body)?;
                let device =
                    Device { device_id: body.device_id, name: None, created_at: 0, last_seen: None, current: true };
                let prekeys = body.one_time_prekeys.clone();
                devices.insert(self.user, (body, prekeys));
                to_json(device)
            }
            ("GET", ["devices"]) => {
                let mine = devices.get(&self.user);
                to_json(DeviceList {
                    identity_key: mine.map(|(d, _)| d.identity_key.clone()),
                    devices: mine
                        .map(|(d, _)| Device {
                            device_id: d.device_id,
                            name: None,
                            created_at: 0,
                            last_seen: None,
                            current: true,
                        })
                        .into_iter()
                        .collect(),
                })
            }
            (_, ["devices", _, rest]) => {
                let (device, pool) = devices.get_mut(&self.user).ok_or_else(|| unreachable("no device"))?;
                if *rest == "one-time-prekeys" {
                    let body: UploadPrekeys = body_as(body)?;
                    pool.extend(body.one_time_prekeys);
                }
                to_json(PrekeyStatus {
                    one_time_prekeys: pool.len() as u32,
                    signed_prekey_id: device.signed_prekey.id,
                    signed_prekey_uploaded_at: 0,
                })
            }
            ("GET", ["users", user, "bundles"]) => {
                let user: UserId = user.parse().map_err(|_| unreachable("bad user id"))?;
                let Some((device, pool)) = devices.get_mut(&user) else {
                    return to_json(BundleList { user_id: user, identity_key: None, devices: vec![] });
                };
                let one_time_prekey = if pool.is_empty() { None } else { Some(pool.remove(0)) };
                to_json(BundleList {
                    user_id: user,
                    identity_key: Some(device.identity_key.clone()),
                    devices: vec![DeviceBundle {
                        device_id: device.device_id,
                        device_key: device.device_key.clone(),
                        certificate: device.certificate.clone(),
                        signed_prekey: device.signed_prekey.clone(),
                        one_time_prekey,
                    }],
                })
            }
            _ => Ok(String::new()),
        }
    }
}
