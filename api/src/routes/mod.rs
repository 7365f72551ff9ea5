//! Every route, registered in one place together with its OpenAPI entry.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod me;
pub mod profile;
pub mod service;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(service::health)
        .service(service::ready)
        .service(service::metrics)
        .service(service::jwks)
        .service(
            scope("/api/v1")
                .service(accounts::register)
                .service(accounts::confirm_identity)
                .service(me::get_me)
                .service(me::patch_me)
                .service(me::start_totp)
                .service(me::confirm_totp)
                .service(me::disable_totp)
                .service(me::start_contact_change)
                .service(me::confirm_contact_change)
                .service(auth::login)
                .service(auth::login_mfa)
                .service(auth::refresh)
                .service(auth::logout)
                .service(auth::list_sessions)
                .service(auth::end_one_session)
                .service(auth::password_reset)
                .service(auth::password_reset_confirm)
                .service(audit::verify),
        );
}
