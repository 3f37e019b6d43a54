//! `/api/v1/openapi.json`, generated from the handlers' annotations and the wire types in
//! `hush-shared`, so it cannot drift from the code.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{auth, devices, friends, health, links, me, push, users};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Hush API", description = "REST API v1 of Hush, a self-hosted end-to-end-encrypted chat."),
    paths(
        auth::send_code, auth::verify, auth::refresh, auth::logout,
        me::get_me, me::update_me, me::delete_me,
        users::lookup,
        friends::list_requests, friends::create_request, friends::accept_request, friends::decline_request,
        friends::cancel_request, friends::list_friends, friends::unfriend,
        friends::block, friends::unblock,
        devices::register_device, devices::list_devices, devices::remove_device, devices::prekey_status,
        devices::upload_prekeys, devices::rotate_signed_prekey, devices::bundles,
        links::open_link, links::join_link, links::get_link, links::step_link, links::cancel_link,
        links::put_history, links::get_history,
        push::push_key, push::subscribe, push::unsubscribe,
        health::healthz, health::readyz,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// Serves the document.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
