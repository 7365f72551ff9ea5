//! Every route, registered in one place together with its OpenAPI entry.

pub mod accounts;
pub mod applications;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod comments;
pub mod confirmations;
pub mod delegations;
pub mod documents;
pub mod events;
mod firing;
pub mod health;
pub mod me;
pub mod officer;
pub mod organisations;
pub mod paging;
pub mod participants;
pub mod requests;
pub mod signatures;
pub mod templates;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::health)
        .service(health::ready)
        .service(health::metrics)
        .service(health::jwks)
        .service(
            scope("/api/v1")
                .service(accounts::register)
                .service(accounts::confirm_identity)
                .service(accounts::prove_contact)
                .service(accounts::resend_contact_code)
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
                .service(catalog::list_services)
                .service(catalog::get_service)
                .service(catalog::create_service)
                .service(catalog::replace_service)
                // The literal export path is registered before `/applications/{id}`.
                .service(applications::export)
                .service(applications::create)
                .service(applications::list)
                .service(applications::get_one)
                .service(applications::copy)
                .service(applications::patch_one)
                .service(applications::submit)
                .service(applications::cancel)
                .service(applications::restore)
                .service(applications::appeal)
                .service(applications::respond_to)
                .service(applications::history)
                .service(attachments::attach)
                .service(attachments::detach)
                .service(attachments::list)
                .service(attachments::content)
                .service(participants::list)
                .service(participants::invite)
                .service(participants::change_role)
                .service(participants::remove)
                .service(participants::mine)
                .service(participants::accept)
                .service(participants::decline)
                .service(signatures::list)
                .service(signatures::send)
                .service(signatures::sign)
                .service(comments::list)
                .service(comments::add)
                .service(comments::edit)
                .service(comments::get_one)
                .service(requests::list)
                .service(requests::create)
                .service(officer::queue)
                .service(officer::take)
                .service(officer::request_info)
                .service(officer::extend)
                .service(officer::approve)
                .service(officer::reject)
                .service(officer::complete)
                .service(officer::forward)
                .service(templates::create)
                .service(templates::list)
                .service(templates::get_one)
                .service(templates::replace)
                .service(templates::delete)
                .service(delegations::create)
                .service(delegations::list)
                .service(delegations::get_one)
                .service(delegations::accept)
                .service(delegations::decline)
                .service(delegations::cancel)
                .service(delegations::revoke)
                .service(delegations::renounce)
                .service(delegations::propose_term)
                .service(delegations::confirm_term)
                .service(delegations::history)
                .service(organisations::create)
                .service(organisations::get_one)
                .service(organisations::add_employee)
                .service(organisations::remove_employee)
                .service(organisations::verify)
                .service(organisations::reject)
                .service(confirmations::list)
                .service(confirmations::approve)
                .service(confirmations::reject)
                .service(documents::upload)
                .service(documents::list)
                .service(documents::get_one)
                .service(documents::update)
                .service(documents::remove)
                .service(documents::content)
                .service(events::application_events)
                .service(events::my_events)
                .service(events::create_ticket)
                .service(audit::list)
                .service(audit::export)
                .service(audit::verify)
                .service(audit::checkpoint)
                .service(audit::consistency_proof)
                .service(audit::inclusion_proof),
        );
}
