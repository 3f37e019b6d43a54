//! Finding people: `GET /api/v1/users/lookup?phone=…`.

use super::wire;
use crate::ids::UserId;

wire! {
/// Query of the lookup endpoint.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct LookupQuery {
    /// Exact phone number, with country code.
    pub phone: String,
}
}

wire! {
/// Another person as anyone may see them: no phone number is echoed back.
pub struct PublicUser {
    /// Stable id.
    pub user_id: UserId,
    /// Their display name, if set.
    pub display_name: Option<String>,
}
}
