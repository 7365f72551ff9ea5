//! The demo data `make run` starts with; idempotent, so seeding twice changes nothing.

use domain::access::Role;
use domain::ids::AccountId;
use persistence::accounts::{self, NewStaff};
use persistence::Database;

use crate::auth::passwords;
use crate::clock::now;

/// Demo logins, listed in the README; demo data only, never for production.
pub const DEMO_ADMIN: (&str, &str) = ("admin", "Demo-Admin-2026!");

pub fn seed(db: &Database) -> Result<Vec<String>, String> {
    let mut created = Vec::new();
    let (login, password) = DEMO_ADMIN;
    let staff = NewStaff {
        id: AccountId::new(),
        login_key: domain::login::name_key(login),
        display_name: "Demo administrator".into(),
        roles: vec![Role::Admin],
        agency_code: None,
        password_hash: passwords::hash(password)?,
        email: None,
    };
    if db
        .write(|tx| accounts::create_staff(tx, &staff, now()))
        .map_err(|e| e.to_string())?
    {
        created.push(format!("admin: login {login}, password {password}"));
    }
    Ok(created)
}
