//! `kabinet-bench`: the benchmark's own tools. `seed` fills a database with a realistic
//! volume (10,000 citizens, 200,000 applications with their history, plus drafts for the
//! submit and sign scenarios); `ceiling` serves two bare actix-web + diesel endpoints: one
//! that selects one row by primary key and one that inserts a row and an audit-shaped row
//! in one transaction — the most any read, and any audited write, of ours could do on this
//! machine.

use std::io::Write;

use actix_web::{get, post, web, App, HttpResponse, HttpServer};
use clap::{Parser, Subcommand};
use diesel::prelude::*;
use diesel::RunQueryDsl;
use persistence::schema::applications;
use persistence::{Database, DatabaseUrl, DbConnection};

/// The server's allocator, so the ceilings differ from it only in what the handlers do.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        /// Citizens (bench.1 … bench.N) who write in the create, comment and sign scenarios.
        #[arg(long, default_value_t = 512)]
        writers: usize,
        /// Drafts to sign, spread over the writers, each with a pending signing code.
        #[arg(long, default_value_t = 30_000)]
        sign_drafts: usize,
        /// Where to write the ids the scenarios use (one file per scenario).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Serve GET /row/{id} (one primary-key select) and POST /write (a row and an
    /// audit-shaped row in one transaction) through the same pool and diesel.
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
            writers,
            sign_drafts,
            out,
        } => seed(
            &database_url,
            (citizens, applications, drafts),
            (writers, sign_drafts),
            &out,
        ),
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

diesel::table! {
    bench_ceiling_rows (id) {
        id -> Text,
        created_at -> Timestamp,
        owner_id -> Text,
        payload -> Text,
    }
}

diesel::table! {
    bench_ceiling_audit (id) {
        id -> Text,
        occurred_at -> Timestamp,
        actor_id -> Text,
        action -> Text,
        target_id -> Text,
        details -> Text,
    }
}

/// The write ceiling's own tables, the same SQL on both backends.
const CEILING_TABLES: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS bench_ceiling_rows (id TEXT PRIMARY KEY, created_at TIMESTAMP NOT NULL, owner_id TEXT NOT NULL, payload TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS bench_ceiling_audit (id TEXT PRIMARY KEY, occurred_at TIMESTAMP NOT NULL, actor_id TEXT NOT NULL, action TEXT NOT NULL, target_id TEXT NOT NULL, details TEXT NOT NULL)",
];

/// POST /write: the JSON body becomes a row, and an audit-shaped record of it is written in
/// the same transaction; 201 with the row's id.
#[post("/write")]
async fn write_row(db: web::Data<Database>, body: web::Json<serde_json::Value>) -> HttpResponse {
    let db = db.into_inner();
    let written = web::block(move || {
        let id = uuid::Uuid::now_v7().to_string();
        let now = chrono::Utc::now().naive_utc();
        let actor = "bench-ceiling";
        db.write(|c: &mut DbConnection| {
            diesel::insert_into(bench_ceiling_rows::table)
                .values((
                    bench_ceiling_rows::id.eq(&id),
                    bench_ceiling_rows::created_at.eq(now),
                    bench_ceiling_rows::owner_id.eq(actor),
                    bench_ceiling_rows::payload.eq(body.to_string()),
                ))
                .execute(c)?;
            diesel::insert_into(bench_ceiling_audit::table)
                .values((
                    bench_ceiling_audit::id.eq(uuid::Uuid::now_v7().to_string()),
                    bench_ceiling_audit::occurred_at.eq(now),
                    bench_ceiling_audit::actor_id.eq(actor),
                    bench_ceiling_audit::action.eq("ceiling.write"),
                    bench_ceiling_audit::target_id.eq(&id),
                    bench_ceiling_audit::details.eq(serde_json::json!({"row": id}).to_string()),
                ))
                .execute(c)
                .map_err(persistence::StoreError::from)
        })
        .map(|_| id)
    })
    .await;
    match written {
        Ok(Ok(id)) => HttpResponse::Created().json(serde_json::json!({"id": id})),
        _ => HttpResponse::InternalServerError().finish(),
    }
}

fn ceiling(url: &str, listen: &str) -> Result<(), String> {
    let db = open(url)?;
    db.write(|c: &mut DbConnection| {
        CEILING_TABLES
            .iter()
            .try_for_each(|sql| diesel::sql_query(*sql).execute(c).map(|_| ()))
            .map_err(persistence::StoreError::from)
    })
    .map_err(|e| e.to_string())?;
    let db = web::Data::new(db);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || App::new().app_data(db.clone()).service(row).service(write_row))
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

/// The code every seeded signing code hashes (each under its own code id).
/// Seeded rows not yet written, as SQL value lists: written 500 applications at a time.
#[derive(Default)]
struct Batch {
    apps: Vec<String>,
    history: Vec<String>,
    attachments: Vec<String>,
    signatures: Vec<String>,
}

impl Batch {
    /// Writes every row held, each table in one statement, in one transaction.
    fn flush(&mut self, db: &Database) -> Result<(), String> {
        if self.apps.is_empty() {
            return Ok(());
        }
        let tables = [
            ("applications (id, number, owner_id, service_code, agency_code, status, previous_status, in_queue, form_data, version, created_at, updated_at, submitted_at, decided_at, cancelled_at, info_request, info_due_at, appeal_used, rejection_reason, result_note, search_text)", &mut self.apps),
            ("application_history (id, application_id, seq, occurred_at, actor_id, on_behalf_of, event, from_status, to_status, agency_code, comment)", &mut self.history),
            ("signatures (id, application_id, account_id, role, content_hash, application_version, method, signed_at)", &mut self.signatures),
            ("attachments (id, application_id, document_id, doc_type, name, file_type, size_bytes, sha256, revision, supersedes, attached_by, created_at, frozen_at, superseded_at)", &mut self.attachments),
        ];
        db.write(|c| {
            for (table, rows) in &tables {
                if !rows.is_empty() {
                    diesel::sql_query(format!("INSERT INTO {table} VALUES {}", rows.join(",")))
                        .execute(c)
                        .map_err(persistence::StoreError::from)?;
                }
            }
            Ok(())
        })
        .map_err(|e: persistence::StoreError| e.to_string())?;
        for (_, rows) in tables {
            rows.clear();
        }
        Ok(())
    }
}

const SIGN_CODE: &str = "246810";
const SIGN_PURPOSE: &str = "application.sign";
/// The service of the submit scenario's drafts: it requires one paper only.
const SUBMIT_SERVICE: &str = "property-extract";

fn seed(
    url: &str,
    (citizens, total, drafts): (usize, usize, usize),
    (writers, sign_drafts): (usize, usize),
    out: &std::path::Path,
) -> Result<(), String> {
    if writers == 0 || writers >= citizens {
        return Err(format!(
            "--writers must be between 1 and {} (citizens less the heavy one)",
            citizens - 1
        ));
    }
    // Seeded signing codes are hashed as the server hashes them: with the configured index key.
    let pii = match (
        std::env::var("KABINET_PII_KEYS"),
        std::env::var("KABINET_PII_INDEX_KEY"),
    ) {
        (Ok(keys), Ok(index)) => Some(api::crypto::PiiCipher::from_config(&keys, &index)?),
        _ if sign_drafts == 0 => None,
        _ => {
            return Err(
                "--sign-drafts needs KABINET_PII_KEYS and KABINET_PII_INDEX_KEY (the server's)".into(),
            )
        }
    };
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
                "({}, {}, {}, 1, {}, 'citizen', NULL, 'confirmed', {}, {}, NULL, FALSE)",
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
            exec(c, &format!("INSERT INTO accounts (id, created_at, updated_at, version, display_name, roles, agency_code, level, password_hash, email, phone, totp_enabled) VALUES {}", rows.join(",")))?;
            exec(c, &format!("INSERT INTO account_logins (login_key, account_id) VALUES {}", logins.join(",")))
        })
        .map_err(|e| e.to_string())?;
    }

    // Applications and their history, spread over a year.
    let mut submitted_ids = Vec::new();
    let mut commented = Vec::new();
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
    let mut batch = Batch::default();
    // The submit scenario's drafts are of the one service that requires a single paper (a
    // passport scan), attached from one vault document shared with the agencies, so each
    // draft can really be submitted.
    let (submit_service, submit_agency) = catalog
        .iter()
        .find(|(code, _)| code == SUBMIT_SERVICE)
        .cloned()
        .ok_or_else(|| format!("the demo catalog has no {SUBMIT_SERVICE}"))?;
    // SHA-256 of "kabinet bench passport scan"; only the rows are seeded, never the bytes
    // (submission does not read them).
    let scan_sha256 = "ab6622dfb4d8dfa347e7e4b8aba7e58d1f782dba15fef1438d439d069af3288c".to_string();
    let scan_document = uuid::Uuid::now_v7().to_string();
    db.write(|c| {
        exec(c, &format!("INSERT INTO blobs (sha256, size_bytes, touched_at) VALUES ({}, 1024, {})", q(&scan_sha256), ts(now)))?;
        exec(c, &format!(
            "INSERT INTO documents (id, owner_id, uploaded_by, name, doc_type, file_type, size_bytes, sha256, access_level, access_services, retain_until, retention_notified, version, created_at, updated_at) VALUES ({}, {}, {}, 'passport.pdf', 'passport_scan', 'pdf', 1024, {}, 'agencies', NULL, NULL, FALSE, 1, {}, {})",
            q(&scan_document), q(&accounts[0]), q(&accounts[0]), q(&scan_sha256), ts(now), ts(now)
        ))
    })
    .map_err(|e| e.to_string())?;
    for n in 0..all {
        let extra_draft = n >= total;
        let owner = if extra_draft || n % 20 == 0 {
            &accounts[0]
        } else {
            &accounts[n % accounts.len()]
        };
        let r = next();
        let (code, agency) = if extra_draft {
            (&submit_service, &submit_agency)
        } else {
            let (code, agency) = &catalog[usize::try_from(r % catalog.len() as u64).unwrap_or(0)];
            (code, agency)
        };
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
        batch.apps.push(format!(
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
            // Its owner signed the draft before submitting it, as citizens do: the signatures
            // table holds a country's signatures, as the applications table its applications
            // (its plans are made for that size, not for an empty table).
            batch.signatures.push(format!(
                "({}, {}, {}, 'owner', {}, 1, 'code', {})",
                q(&uuid::Uuid::now_v7().to_string()),
                q(&id),
                q(owner),
                q(&format!("{r:016x}").repeat(4)),
                ts(at - chrono::TimeDelta::minutes(1)),
            ));
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
            batch.history.push(format!(
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
            batch.attachments.push(format!(
                "({}, {}, {}, 'passport_scan', 'passport.pdf', 'pdf', 1024, {}, 1, NULL, {}, {}, NULL, NULL)",
                q(&uuid::Uuid::now_v7().to_string()),
                q(&id),
                q(&scan_document),
                q(&scan_sha256),
                q(owner),
                ts(created)
            ));
            heavy_drafts.push(id.clone());
        } else if status != "draft" && owner == &accounts[0] {
            submitted_ids.push(id.clone());
        } else if status != "draft" && (1..=writers).contains(&(n % accounts.len())) {
            commented.push(format!("{}\t{id}", n % accounts.len() - 1));
        }
        if batch.apps.len() == 500 {
            batch.flush(&db)?;
        }
        if n % 20_000 == 0 {
            eprint!("\rseeded {n}/{all}");
        }
    }
    batch.flush(&db)?;
    if let Some(pii) = &pii {
        seed_signing(
            &db,
            pii,
            &accounts[1..=writers],
            sign_drafts,
            (&catalog, &forms),
            now,
        )?;
    }
    // Numbers go on after the seeded ones: a sequence on PostgreSQL, a counter row on SQLite.
    db.write(|c| {
        let advance = match c {
            DbConnection::Postgresql(_) => format!("SELECT setval('application_number_seq', {number})"),
            DbConnection::Sqlite(_) => {
                format!("UPDATE counters SET value = {number} WHERE name = 'application_number'")
            }
        };
        exec(c, &advance)
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
    let logins: Vec<String> = (1..=writers)
        .map(|n| format!("{}\tbench.{n}@example.ru", accounts[n]))
        .collect();
    write("writers.txt", &logins)?;
    write("comments.txt", &commented)?;
    Ok(())
}

/// Drafts for the sign scenario, spread over `writers` in turn, each with a pending signing
/// code whose target is that draft. The server redeems an account's newest pending code, so
/// a writer's codes are consumed newest first: the codes' times rise with their draft's
/// position, and the benchmark hands each writer's drafts out in that order, one request of
/// a writer at a time. (The server itself never leaves more than one code pending; stacking
/// them is the benchmark's way to sign without reading a mailbox per request.)
fn seed_signing(
    db: &Database,
    pii: &api::crypto::PiiCipher,
    writers: &[String],
    drafts: usize,
    (catalog, forms): (
        &[(String, String)],
        &std::collections::HashMap<String, serde_json::Value>,
    ),
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let exec = |c: &mut DbConnection, sql: &str| {
        diesel::sql_query(sql)
            .execute(c)
            .map_err(persistence::StoreError::from)
    };
    let expires = now + chrono::TimeDelta::days(1);
    let mut apps = Vec::new();
    let mut history = Vec::new();
    let mut codes = Vec::new();
    for n in 0..drafts {
        let owner = &writers[n % writers.len()];
        let (code, agency) = &catalog[n % catalog.len()];
        let id = uuid::Uuid::now_v7().to_string();
        let created = now - chrono::TimeDelta::hours(2);
        let form = forms
            .get(code)
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}))
            .to_string();
        apps.push(format!(
            "({}, NULL, {}, {}, {}, 'draft', NULL, FALSE, {}, 1, {}, {}, NULL, NULL, NULL, NULL, NULL, FALSE, NULL, NULL, {})",
            q(&id), q(owner), q(code), q(agency), q(&form), ts(created), ts(created),
            q(&format!("{code} подпись {n}")),
        ));
        history.push(format!(
            "({}, {}, 1, {}, {}, NULL, 'create', NULL, 'draft', {}, NULL)",
            q(&uuid::Uuid::now_v7().to_string()),
            q(&id),
            ts(created),
            q(owner),
            q(agency)
        ));
        let code_id = uuid::Uuid::now_v7().to_string();
        let issued = now - chrono::TimeDelta::hours(1)
            + chrono::TimeDelta::milliseconds(i64::try_from(n).unwrap_or(0));
        codes.push(format!(
            "({}, {}, {}, {}, {}, {}, {}, 0, NULL)",
            q(&code_id),
            q(owner),
            q(SIGN_PURPOSE),
            q(&pii.keyed_hash(SIGN_PURPOSE, &format!("{code_id}:{SIGN_CODE}"))),
            q(&id),
            ts(issued),
            ts(expires),
        ));
        if apps.len() == 500 || n + 1 == drafts {
            db.write(|c| {
                exec(c, &format!("INSERT INTO applications (id, number, owner_id, service_code, agency_code, status, previous_status, in_queue, form_data, version, created_at, updated_at, submitted_at, decided_at, cancelled_at, info_request, info_due_at, appeal_used, rejection_reason, result_note, search_text) VALUES {}", apps.join(",")))?;
                exec(c, &format!("INSERT INTO application_history (id, application_id, seq, occurred_at, actor_id, on_behalf_of, event, from_status, to_status, agency_code, comment) VALUES {}", history.join(",")))?;
                exec(c, &format!("INSERT INTO one_time_codes (id, account_id, purpose, code_hash, target, created_at, expires_at, attempts, used_at) VALUES {}", codes.join(",")))
            })
            .map_err(|e| e.to_string())?;
            apps.clear();
            history.clear();
            codes.clear();
        }
    }
    Ok(())
}
