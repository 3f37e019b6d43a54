//! The REST calls the engine makes itself (devices, prekeys, bundles, the friend list), behind a `?Send`
//! trait so the browser implements it with `fetch` and native tools with reqwest
//! ([`crate::native`]). Errors are the server's stable error body.

use async_trait::async_trait;
use hush_shared::api::devices::{
    BundleList, Device, DeviceList, OneTimePrekey, PrekeyStatus, RegisterDevice, SignedPrekey, UploadPrekeys,
};
use hush_shared::api::friends::FriendList;
use hush_shared::api::links::{HistoryChunk, JoinLink, Link, LinkStep};
use hush_shared::{DeviceId, ErrorBody, ErrorCode, UserId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// A failed call: the server's error body (`unavailable` for a network failure).
pub type ApiError = ErrorBody;

/// A network failure as an [`ApiError`].
pub fn unreachable(message: impl Into<String>) -> ApiError {
    ErrorBody { code: ErrorCode::Unavailable, message: message.into(), retry_after: None }
}

/// One JSON call to the server's `/api/v1`, authenticated as the signed-in session.
#[async_trait(?Send)]
pub trait Http {
    /// The access token calls are made with (a device moving to a new sign-in signs its
    /// hash), if signed in.
    fn access_token(&self) -> Option<String>;

    /// `method path` (`path` starts with `/api/v1/`) with an optional JSON body (its text);
    /// the answer's JSON text (empty for an empty answer) or the error body. Text both
    /// ways, so each answer type is read by one JSON reader (in the browser, code written
    /// once per type).
    async fn call(&self, method: &str, path: &str, body: Option<String>) -> Result<String, ApiError>;
}

async fn typed<T: DeserializeOwned>(
    http: &(impl Http + ?Sized),
    method: &str,
    path: &str,
    body: Option<&impl Serialize>,
) -> Result<T, ApiError> {
    let body = body.map(encode).transpose()?;
    decode(path, &http.call(method, path, body).await?)
}

/// `body` as the JSON text a call carries.
pub fn encode(body: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(|e| unreachable(e.to_string()))
}

/// The answer from `path` (its JSON text) as `T`.
pub fn decode<T: DeserializeOwned>(path: &str, text: &str) -> Result<T, ApiError> {
    read_answer(text).map_err(|e| unreachable(format!("unexpected answer from {path}: {e}")))
}

/// An answer's JSON text as `T`; an empty answer reads as `null`.
pub fn read_answer<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_str(if text.is_empty() { "null" } else { text })
}

/// `POST /devices`.
pub async fn register_device(http: &(impl Http + ?Sized), body: &RegisterDevice) -> Result<Device, ApiError> {
    typed(http, "POST", "/api/v1/devices", Some(body)).await
}

/// `GET /devices`.
pub async fn devices(http: &(impl Http + ?Sized)) -> Result<DeviceList, ApiError> {
    typed(http, "GET", "/api/v1/devices", None::<&()>).await
}

/// `DELETE /devices/{id}`.
pub async fn remove_device(http: &(impl Http + ?Sized), device: DeviceId) -> Result<(), ApiError> {
    http.call("DELETE", &format!("/api/v1/devices/{device}"), None).await.map(drop)
}

/// `GET /friends`.
pub async fn friends(http: &(impl Http + ?Sized)) -> Result<FriendList, ApiError> {
    typed(http, "GET", "/api/v1/friends", None::<&()>).await
}

/// `GET /devices/{id}/prekeys`.
pub async fn prekey_status(http: &(impl Http + ?Sized), device: DeviceId) -> Result<PrekeyStatus, ApiError> {
    typed(http, "GET", &format!("/api/v1/devices/{device}/prekeys"), None::<&()>).await
}

/// `POST /devices/{id}/one-time-prekeys`.
pub async fn upload_prekeys(
    http: &(impl Http + ?Sized),
    device: DeviceId,
    one_time_prekeys: Vec<OneTimePrekey>,
) -> Result<PrekeyStatus, ApiError> {
    let body = UploadPrekeys { one_time_prekeys };
    typed(http, "POST", &format!("/api/v1/devices/{device}/one-time-prekeys"), Some(&body)).await
}

/// `PUT /devices/{id}/signed-prekey`.
pub async fn rotate_signed_prekey(
    http: &(impl Http + ?Sized),
    device: DeviceId,
    prekey: &SignedPrekey,
) -> Result<PrekeyStatus, ApiError> {
    typed(http, "PUT", &format!("/api/v1/devices/{device}/signed-prekey"), Some(prekey)).await
}

/// `GET /users/{id}/bundles`.
pub async fn bundles(http: &(impl Http + ?Sized), user: UserId) -> Result<BundleList, ApiError> {
    typed(http, "GET", &format!("/api/v1/users/{user}/bundles"), None::<&()>).await
}

/// `POST /links`.
pub async fn open_link(http: &(impl Http + ?Sized)) -> Result<Link, ApiError> {
    typed(http, "POST", "/api/v1/links", None::<&()>).await
}

/// `POST /links/join`.
pub async fn join_link(http: &(impl Http + ?Sized), body: &JoinLink) -> Result<Link, ApiError> {
    typed(http, "POST", "/api/v1/links/join", Some(body)).await
}

/// `GET /links/{id}`.
pub async fn link(http: &(impl Http + ?Sized), id: Uuid) -> Result<Link, ApiError> {
    typed(http, "GET", &format!("/api/v1/links/{id}"), None::<&()>).await
}

/// `PUT /links/{id}`.
pub async fn link_step(http: &(impl Http + ?Sized), id: Uuid, step: &LinkStep) -> Result<Link, ApiError> {
    typed(http, "PUT", &format!("/api/v1/links/{id}"), Some(step)).await
}

/// `DELETE /links/{id}`.
pub async fn cancel_link(http: &(impl Http + ?Sized), id: Uuid) -> Result<(), ApiError> {
    http.call("DELETE", &format!("/api/v1/links/{id}"), None).await.map(drop)
}

/// `PUT /links/{id}/history/{index}`.
pub async fn put_history(
    http: &(impl Http + ?Sized),
    id: Uuid,
    index: u32,
    chunk: &HistoryChunk,
) -> Result<Link, ApiError> {
    typed(http, "PUT", &format!("/api/v1/links/{id}/history/{index}"), Some(chunk)).await
}

/// `GET /links/{id}/history/{index}`.
pub async fn history(http: &(impl Http + ?Sized), id: Uuid, index: u32) -> Result<HistoryChunk, ApiError> {
    typed(http, "GET", &format!("/api/v1/links/{id}/history/{index}"), None::<&()>).await
}
