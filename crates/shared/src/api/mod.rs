//! Request and response bodies of the REST API v1 (`/api/v1/…`), one module per endpoint
//! family. Field docs here become the OpenAPI schema descriptions.

pub mod account;
pub mod auth;
pub mod devices;
pub mod friends;
pub mod links;
pub mod push;
pub mod users;

/// Documents a wire struct for OpenAPI only when the `openapi` feature is on.
macro_rules! wire {
    ($item:item) => {
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(deny_unknown_fields)]
        $item
    };
}
pub(crate) use wire;
