//! The demo data `make run` starts with: agencies and a realistic service catalog (from
//! `catalog.json`), officers, citizens and an admin. Idempotent: seeding twice changes
//! nothing. Demo data only, never for production; the README lists the logins.

use chrono::NaiveDate;
use domain::access::Role;
use domain::account::AccountLevel;
use domain::catalog::{Agency, ServiceLevel};
use domain::ids::AccountId;
use domain::person::{Phone, Snils};
use persistence::accounts::{self, NewAccount, NewStaff};
use persistence::{catalog, Database};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{logins, passwords};
use crate::clock::now;
use crate::crypto::PiiCipher;
use crate::views::catalog::ServiceBody;

const CATALOG: &str = include_str!("catalog.json");

pub const DEMO_ADMIN: (&str, &str) = ("admin", "Demo-Admin-2026!");
pub const OFFICER_PASSWORD: &str = "Demo-Officer-2026!";
pub const CITIZEN_PASSWORD: &str = "Demo-Citizen-2026!";
/// Officers by login and agency.
pub const OFFICERS: [(&str, &str); 4] = [
    ("officer.mvd", "mvd"),
    ("officer.sfr", "sfr"),
    ("officer.fns", "fns"),
    ("officer.khimki", "adm-khimki"),
];

#[derive(Deserialize)]
struct CatalogFile {
    agencies: Vec<AgencyEntry>,
    services: Vec<ServiceBody>,
}

#[derive(Deserialize)]
struct AgencyEntry {
    code: String,
    name: String,
    level: String,
    region: Option<String>,
}

struct DemoCitizen {
    email: &'static str,
    phone: &'static str,
    snils: &'static str,
    surname: &'static str,
    given_name: &'static str,
    patronymic: &'static str,
    birth: (i32, u32, u32),
    confirmed: bool,
}

const CITIZENS: [DemoCitizen; 3] = [
    DemoCitizen {
        email: "ivanova@example.ru",
        phone: "+79161234567",
        snils: "112-233-445 95",
        surname: "Иванова",
        given_name: "Мария",
        patronymic: "Петровна",
        birth: (1985, 3, 14),
        confirmed: true,
    },
    DemoCitizen {
        email: "petrov@example.ru",
        phone: "+79031112233",
        snils: "087-654-303 00",
        surname: "Петров",
        given_name: "Алексей",
        patronymic: "Иванович",
        birth: (1979, 11, 2),
        confirmed: true,
    },
    DemoCitizen {
        email: "sidorov@example.ru",
        phone: "+79265554433",
        snils: "123-456-789 64",
        surname: "Сидоров",
        given_name: "Павел",
        patronymic: "Андреевич",
        birth: (2001, 7, 21),
        confirmed: false,
    },
];

pub fn seed(db: &Database, pii: &PiiCipher) -> Result<Vec<String>, String> {
    let mut created = Vec::new();
    let file: CatalogFile = serde_json::from_str(CATALOG).map_err(|e| format!("demo catalog: {e}"))?;
    for agency in &file.agencies {
        let agency = Agency {
            code: agency.code.clone(),
            name: agency.name.clone(),
            level: ServiceLevel::parse(&agency.level)
                .ok_or_else(|| format!("demo agency level {}", agency.level))?,
            region: agency.region.clone(),
        };
        if db
            .write(|tx| catalog::ensure_agency(tx, &agency))
            .map_err(|e| e.to_string())?
        {
            created.push(format!("agency {}", agency.code));
        }
    }
    for body in file.services {
        let service = body.into_service().map_err(|e| format!("demo service: {e}"))?;
        if db
            .write(|tx| catalog::insert(tx, &service, now()))
            .map_err(|e| e.to_string())?
        {
            created.push(format!("service {}", service.code));
        }
    }
    let (login, password) = DEMO_ADMIN;
    if staff(db, login, password, Role::Admin, None)? {
        created.push(format!("admin: login {login}, password {password}"));
    }
    for (login, agency) in OFFICERS {
        if staff(db, login, OFFICER_PASSWORD, Role::Officer, Some(agency))? {
            created.push(format!(
                "officer of {agency}: login {login}, password {OFFICER_PASSWORD}"
            ));
        }
    }
    for citizen in &CITIZENS {
        if self::citizen(db, pii, citizen)? {
            created.push(format!(
                "citizen: login {}, password {CITIZEN_PASSWORD}",
                citizen.email
            ));
        }
    }
    Ok(created)
}

fn staff(
    db: &Database,
    login: &str,
    password: &str,
    role: Role,
    agency: Option<&str>,
) -> Result<bool, String> {
    let staff = NewStaff {
        id: AccountId::new(),
        login_key: domain::login::name_key(login),
        display_name: login.into(),
        roles: vec![role],
        agency_code: agency.map(str::to_string),
        password_hash: passwords::hash(password)?,
        email: None,
    };
    db.write(|tx| accounts::create_staff(tx, &staff, now()))
        .map_err(|e| e.to_string())
}

fn citizen(db: &Database, pii: &PiiCipher, c: &DemoCitizen) -> Result<bool, String> {
    let snils = Snils::parse(c.snils).map_err(|e| e.to_string())?;
    let phone = Phone::parse(c.phone).map_err(|e| e.to_string())?;
    let keys = vec![
        domain::login::email_key(c.email),
        domain::login::phone_key(&phone),
        domain::login::snils_key(&logins::snils_index(pii, &snils)),
    ];
    if db
        .read(|conn| accounts::any_login_taken(conn, &keys))
        .map_err(|e| e.to_string())?
    {
        return Ok(false);
    }
    let id = AccountId::new();
    let passport = json!({"series": "4510", "number": format!("{:06}", 100_000 + c.birth.0), "issued_on": "2015-06-01", "division_code": "770-001"});
    let account = NewAccount {
        id,
        display_name: format!("{} {}", c.given_name, c.surname),
        roles: vec![Role::Citizen],
        agency_code: None,
        level: Some(if c.confirmed {
            AccountLevel::Confirmed
        } else {
            AccountLevel::Simplified
        }),
        password_hash: passwords::hash(CITIZEN_PASSWORD)?,
        email: Some(c.email.into()),
        phone: Some(phone.as_str().into()),
        surname: Some(c.surname.into()),
        given_name: Some(c.given_name.into()),
        patronymic: Some(c.patronymic.into()),
        birth_date: NaiveDate::from_ymd_opt(c.birth.0, c.birth.1, c.birth.2),
        snils_enc: Some(pii.encrypt(&domain::account::sealed_field(id, "snils"), snils.as_str())),
        inn_enc: None,
        passport_enc: c.confirmed.then(|| {
            pii.encrypt(
                &domain::account::sealed_field(id, "passport"),
                &passport.to_string(),
            )
        }),
        // Demo people's contacts and SNILS count as proven: they are seeded, not typed.
        login_keys: keys,
        contacts_unproven: false,
        snils_claim: None,
    };
    db.write(|tx| accounts::create(tx, &account, now()))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalog_is_valid_and_broad() {
        let file: CatalogFile = serde_json::from_str(CATALOG).unwrap_or_else(|e| panic!("{e}"));
        let services: Vec<_> = file
            .services
            .into_iter()
            .map(|s| s.into_service())
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        assert!(services.len() >= 12);
        for level in ServiceLevel::ALL {
            assert!(services.iter().any(|s| s.level == level), "{level:?}");
        }
        let agencies: Vec<_> = file.agencies.iter().map(|a| a.code.as_str()).collect();
        assert!(services
            .iter()
            .all(|s| agencies.contains(&s.agency_code.as_str())));
        assert!(OFFICERS.iter().all(|(_, agency)| agencies.contains(agency)));
        for c in &CITIZENS {
            assert!(Snils::parse(c.snils).is_ok(), "{}", c.snils);
        }
    }
}
