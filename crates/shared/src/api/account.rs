//! The signed-in person's own account: `GET`/`PATCH`/`DELETE /api/v1/me`.

use super::wire;
use crate::ids::UserId;

wire! {
/// A person as they see themselves.
pub struct User {
    /// Stable id.
    pub user_id: UserId,
    /// Phone number in E.164.
    pub phone: String,
    /// Chosen display name; `null` until set on first run.
    pub display_name: Option<String>,
}
}

wire! {
/// `PATCH /api/v1/me`.
pub struct UpdateMeRequest {
    /// New display name: 1–64 characters, no control characters.
    pub display_name: String,
}
}
