//! Every route, registered in one place together with its OpenAPI entry.

pub mod audit;
pub mod auth;
pub mod service;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(service::health)
        .service(service::ready)
        .service(service::metrics)
        .service(service::jwks)
        .service(scope("/api/v1").service(auth::login).service(audit::verify));
}
