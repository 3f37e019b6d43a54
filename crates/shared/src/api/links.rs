//! Linking a new browser to the account (`docs/CRYPTO.md` §13): the requester (a browser
//! signed in with the SMS code, not yet a device) opens a link and shows its code; a device
//! of the account joins it by that code; the two exchange ephemeral keys (the approver
//! commits to its key first) and the approver sends the sealed account identity. The
//! server keeps each step for the other side to read; it cannot open any of it.
//!
//! Keys are base64url SEC1 points (87 characters), the commitment base64url of 32 bytes
//! (43 characters), the sealed payload base64url.

use super::wire;

wire! {
/// A link as each side sees it. Fields appear as the steps happen.
pub struct Link {
    /// The link id (its 16 bytes are `L` in the derivations).
    pub link_id: uuid::Uuid,
    /// The code the requester shows and the person types on a device (the requester's
    /// view only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Unix seconds after which the link is gone.
    pub expires_at: i64,
    /// The approver's commitment to its ephemeral key (step 2).
    #[serde(default)]
    pub commitment: Option<String>,
    /// The requester's ephemeral key (step 3).
    #[serde(default)]
    pub requester_key: Option<String>,
    /// The approver's ephemeral key (step 4).
    #[serde(default)]
    pub approver_key: Option<String>,
    /// The sealed payload (step 5): the account identity.
    #[serde(default)]
    pub sealed: Option<String>,
    /// The approving device's name, once a device joined.
    #[serde(default)]
    pub approver_name: Option<String>,
    /// Chunks of recent history the approver announced (with its first chunk), if any.
    #[serde(default)]
    pub history_count: Option<u32>,
    /// Chunks of history stored so far (uploaded in order, before the sealed identity).
    #[serde(default)]
    pub history_stored: u32,
}
}

wire! {
/// `PUT` and `GET /api/v1/links/{link_id}/history/{index}`: one sealed chunk of recent
/// history (`docs/CRYPTO.md` §13).
pub struct HistoryChunk {
    /// How many chunks there are in all (the same in every chunk).
    pub count: u32,
    /// The sealed chunk, base64url.
    pub chunk: String,
}
}

wire! {
/// `POST /api/v1/links/join`: a device of the account joins the link shown with `code`.
pub struct JoinLink {
    /// The code the new browser shows (digits; spaces are ignored).
    pub code: String,
}
}

wire! {
/// `PUT /api/v1/links/{link_id}`: the next step, exactly one field.
pub struct LinkStep {
    /// The approver's commitment, `SHA-256("hush/v2/link-commit" || L || EA_pub)` in
    /// base64url (right after joining).
    #[serde(default)]
    pub commitment: Option<String>,
    /// The requester's ephemeral key (after the commitment).
    #[serde(default)]
    pub requester_key: Option<String>,
    /// The approver's ephemeral key (after the requester's key).
    #[serde(default)]
    pub approver_key: Option<String>,
    /// The sealed payload (after the approver's key).
    #[serde(default)]
    pub sealed: Option<String>,
}
}
