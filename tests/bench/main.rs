//! `kabinet-bench`: the benchmark's own tools. `seed` fills a database with a realistic
//! volume (10,000 citizens, 200,000 applications with their history, plus drafts for the
//! submit scenario); `ceiling` serves a bare actix-web + diesel endpoint that selects one
//! row by primary key — the most any read of ours could do on this machine.

use std::io::Write;

use actix_web::{get, web, App, HttpResponse, HttpServer};
use clap::{Parser, Subcommand};
use diesel::prelude::*;
use diesel::RunQueryDsl;
use persistence::schema::applications;
use persistence::{Database, DatabaseUrl, DbConnection};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fill the database (migrated, with the demo catalog) with the benchmark's volume.
    Seed {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 10_000)]
        citizens: usize,
        #[arg(long, default_value_t = 200_000)]
        applications: usize,
        /// Drafts of the heavy citizen, one per submit request.
        #[arg(long, default_value_t = 30_000)]
        drafts: usize,
        /// Where to write the ids the scenarios use (one file per scenario).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Serve GET /row/{id}: one primary-key select through the same pool and diesel.
    Ceiling {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        listen: String,
    },
}

fn main() -> Result<(), String> {
    match Cli::parse().command {
        Command::Seed {
            database_url,
            citizens,
            applications,
            drafts,
            out,
        } => seed(&database_url, citizens, applications, drafts, &out),
        Command::Ceiling { database_url, listen } => ceiling(&database_url, &listen),
    }
}

fn open(url: &str) -> Result<Database, String> {
    Database::open(&DatabaseUrl::parse(url)?, 8).map_err(|e| e.to_string())
}

#[get("/row/{id}")]
async fn row(db: web::Data<Database>, id: web::Path<String>) -> HttpResponse {
    let db = db.into_inner();
    let found = web::block(move || {
        db.read(|c: &mut DbConnection| {
            applications::table
                .find(id.into_inner())
                .select((applications::id, applications::status, applications::version))
                .first::<(String, String, i64)>(c)
                .optional()
                .map_err(persistence::StoreError::from)
        })
    })
    .await;
    match found {
        Ok(Ok(Some((id, status, version)))) => {
            HttpResponse::Ok().json(serde_json::json!({"id": id, "status": status, "version": version}))
        }
        Ok(Ok(None)) => HttpResponse::NotFound().finish(),
        _ => HttpResponse::InternalServerError().finish(),
    }
}

fn ceiling(url: &str, listen: &str) -> Result<(), String> {
    let db = web::Data::new(open(url)?);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || App::new().app_data(db.clone()).service(row))
            .workers(2)
            .bind(listen)
            .map_err(|e| e.to_string())?
            .run()
            .await
            .map_err(|e| e.to_string())
    })
}

/// SQL text literal (values are generated here, but quoting keeps them correct anyway).
fn q(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    q(&t.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string())
}

/// The demo catalog's example forms by service code: valid against each service's schema,
/// so seeded drafts can really be submitted.
fn example_forms() -> Result<std::collections::HashMap<String, serde_json::Value>, String> {
    let file: serde_json::Value =
        serde_json::from_str(include_str!("../../api/src/demo/catalog.json")).map_err(|e| e.to_string())?;
    Ok(file["services"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| Some((s["code"].as_str()?.to_string(), s["example_form"].clone())))
        .collect())
}

/// Services of the demo catalog with their agencies.
fn services(db: &Database) -> Result<Vec<(String, String)>, String> {
    db.read(|c| {
        persistence::schema::services::table
            .select((
                persistence::schema::services::code,
                persistence::schema::services::agency_code,
            ))
            .order(persistence::schema::services::code)
            .load::<(String, String)>(c)
            .map_err(persistence::StoreError::from)
    })
    .map_err(|e| e.to_string())
}

const STATUSES: [(&str, u32); 7] = [
    ("draft", 25),
    ("submitted", 20),
    ("in_review", 15),
    ("needs_info", 5),
    ("approved", 10),
    ("rejected", 10),
    ("completed", 15),
];

fn pick_status(n: u64) -> &'static str {
    let mut roll = u32::try_from(n % 100).unwrap_or(0);
    for (status, weight) in STATUSES {
        if roll < weight {
            return status;
        }
        roll -= weight;
    }
    "draft"
}

fn seed(
    url: &str,
    citizens: usize,
    total: usize,
    drafts: usize,
    out: &std::path::Path,
) -> Result<(), String> {
    let db = open(url)?;
    let catalog = services(&db)?;
    let forms = example_forms()?;
    if catalog.is_empty() {
        return Err("seed the demo catalog first (kabinet seed-demo)".into());
    }
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let password_hash = api::auth::passwords::hash("Bench-Passw0rd!")?;
    let now = chrono::Utc::now();
    let exec = |c: &mut DbConnection, sql: &str| {
        diesel::sql_query(sql)
            .execute(c)
            .map_err(persistence::StoreError::from)
    };

    // Citizens: index 0 is the heavy one (the deep-page and submit scenarios).
    let accounts: Vec<String> = (0..citizens).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    for chunk in accounts.chunks(500).enumerate() {
        let (batch, ids) = chunk;
        let mut rows = Vec::new();
        let mut logins = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let n = batch * 500 + i;
            let email = if n == 0 {
                "bench.heavy@example.ru".to_string()
            } else {
                format!("bench.{n}@example.ru")
            };
            rows.push(format!(
                "({}, {}, {}, 1, {}, 'citizen', NULL, 'confirmed', {}, {}, NULL, 0, FALSE)",
                q(id),
                ts(now),
                ts(now),
                q(&format!("Bench {n}")),
                q(&password_hash),
                q(&email)
            ));
            logins.push(format!("({}, {})", q(&domain::login::email_key(&email)), q(id)));
        }
        db.write(|c| {
            exec(c, &format!("INSERT INTO accounts (id, created_at, updated_at, version, display_name, roles, agency_code, level, password_hash, email, phone, failed_logins, totp_enabled) VALUES {}", rows.join(",")))?;
            exec(c, &format!("INSERT INTO account_logins (login_key, account_id) VALUES {}", logins.join(",")))
        })
        .map_err(|e| e.to_string())?;
    }

    // Applications and their history, spread over a year.
    let mut submitted_ids = Vec::new();
    let mut heavy_drafts = Vec::new();
    let mut number = 0_i64;
    let all = total + drafts;
    let mut rng_state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    let mut batch_apps = Vec::new();
    let mut batch_history = Vec::new();
    let flush = |apps: &mut Vec<String>, history: &mut Vec<String>| -> Result<(), String> {
        if apps.is_empty() {
            return Ok(());
        }
        db.write(|c| {
            exec(c, &format!("INSERT INTO applications (id, number, owner_id, service_code, agency_code, status, previous_status, in_queue, form_data, version, created_at, updated_at, submitted_at, decided_at, cancelled_at, info_request, info_due_at, appeal_used, rejection_reason, result_note, search_text) VALUES {}", apps.join(",")))?;
            exec(c, &format!("INSERT INTO application_history (id, application_id, seq, occurred_at, actor_id, on_behalf_of, event, from_status, to_status, agency_code, comment) VALUES {}", history.join(",")))
        })
        .map_err(|e| e.to_string())?;
        apps.clear();
        history.clear();
        Ok(())
    };
    for n in 0..all {
        let extra_draft = n >= total;
        let owner = if extra_draft || n % 20 == 0 {
            &accounts[0]
        } else {
            &accounts[n % accounts.len()]
        };
        let r = next();
        let (code, agency) = &catalog[usize::try_from(r % catalog.len() as u64).unwrap_or(0)];
        let status = if extra_draft { "draft" } else { pick_status(r >> 8) };
        let created = now - chrono::TimeDelta::minutes(i64::try_from((r >> 16) % 525_600).unwrap_or(0) + 60);
        let id = uuid::Uuid::now_v7().to_string();
        let submitted = (status != "draft").then(|| created + chrono::TimeDelta::minutes(30));
        let num = submitted.map(|_| {
            number += 1;
            format!("KB-{}-{number:08}", created.format("%Y"))
        });
        let in_queue = matches!(status, "submitted" | "in_review" | "needs_info");
        let version = match status {
            "draft" => 1,
            "submitted" => 2,
            "in_review" => 3,
            "needs_info" => 4,
            _ => 5,
        };
        let decided = matches!(status, "approved" | "rejected" | "completed")
            .then(|| created + chrono::TimeDelta::days(3));
        let form = forms
            .get(code)
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}))
            .to_string();
        batch_apps.push(format!(
            "({}, {}, {}, {}, {}, {}, NULL, {}, {}, {}, {}, {}, {}, {}, NULL, NULL, NULL, FALSE, NULL, NULL, {})",
            q(&id),
            num.as_deref().map(q).unwrap_or_else(|| "NULL".into()),
            q(owner),
            q(code),
            q(agency),
            q(status),
            if in_queue { "TRUE" } else { "FALSE" },
            q(&form),
            version,
            ts(created),
            ts(decided.or(submitted).unwrap_or(created)),
            submitted.map(ts).unwrap_or_else(|| "NULL".into()),
            decided.map(ts).unwrap_or_else(|| "NULL".into()),
            q(&format!("{} {code} заявитель {n}", num.as_deref().unwrap_or_default()).to_lowercase()),
        ));
        let mut events = vec![("create", "NULL".to_string(), "draft", created)];
        if let Some(at) = submitted {
            events.push(("submit", q("draft"), "submitted", at));
            if version >= 3 {
                events.push((
                    "take",
                    q("submitted"),
                    "in_review",
                    at + chrono::TimeDelta::hours(2),
                ));
            }
            if status != "in_review" && status != "submitted" {
                events.push((
                    "decide",
                    q("in_review"),
                    status,
                    decided.unwrap_or(at + chrono::TimeDelta::days(1)),
                ));
            }
        }
        for (seq, (event, from, to, at)) in events.into_iter().enumerate() {
            batch_history.push(format!(
                "({}, {}, {}, {}, {}, NULL, {}, {}, {}, {}, NULL)",
                q(&uuid::Uuid::now_v7().to_string()),
                q(&id),
                seq + 1,
                ts(at),
                q(owner),
                q(event),
                from,
                q(to),
                q(agency)
            ));
        }
        if extra_draft {
            heavy_drafts.push(id.clone());
        } else if status != "draft" && owner == &accounts[0] {
            submitted_ids.push(id.clone());
        }
        if batch_apps.len() == 500 {
            flush(&mut batch_apps, &mut batch_history)?;
        }
        if n % 20_000 == 0 {
            eprint!("\rseeded {n}/{all}");
        }
    }
    flush(&mut batch_apps, &mut batch_history)?;
    db.write(|c| {
        exec(
            c,
            &format!("UPDATE counters SET value = {number} WHERE name = 'application_number'"),
        )
    })
    .map_err(|e| e.to_string())?;
    eprintln!("\rseeded {all} applications for {citizens} citizens");
    let write = |name: &str, lines: &[String]| -> Result<(), String> {
        let mut file = std::fs::File::create(out.join(name)).map_err(|e| e.to_string())?;
        for line in lines {
            writeln!(file, "{line}").map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    write("drafts.txt", &heavy_drafts)?;
    write("applications.txt", &submitted_ids)?;
    Ok(())
}
