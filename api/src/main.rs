//! The `kabinet` binary: serve (the default), migrate, print the spec, seed the demo data,
//! and create staff accounts. Any failure is one line on stderr and a non-zero exit.

use clap::{Parser, Subcommand};
use domain::access::Role;
use domain::ids::AccountId;
use kabinet_api::auth::passwords;
use kabinet_api::clock::now;
use kabinet_api::{app, demo, telemetry, Application, Config};
use persistence::accounts::{self, NewStaff};

/// mimalloc rather than glibc's malloc: allocation was a tenth of a request's CPU (perf,
/// get-one under load), much of it glibc's consolidation of freed chunks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kabinet",
    version,
    about = "Kabinet: public-services personal cabinet API"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Create the demo catalog and accounts (idempotent).
    SeedDemo,
    /// Create an administrator.
    CreateAdmin {
        #[arg(long)]
        login: String,
        #[arg(long)]
        password: String,
    },
    /// Create an officer of an agency.
    CreateOfficer {
        #[arg(long)]
        agency: String,
        #[arg(long)]
        login: String,
        #[arg(long)]
        password: String,
        /// A supervisor of the agency: decides any application it handles, not only
        /// those they took.
        #[arg(long)]
        supervisor: bool,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Rebuild the Merkle tree from the stored records and check every signed checkpoint's
    /// root and signature; exits non-zero when anything fails.
    Verify,
}

fn main() {
    let cli = Cli::parse();
    if let Err(message) = run(cli.command.unwrap_or(Command::Serve)) {
        eprintln!("kabinet: {message}");
        std::process::exit(1);
    }
}

fn run(command: Command) -> Result<(), String> {
    if let Command::Openapi = command {
        let spec = app::spec().to_pretty_json().map_err(|e| e.to_string())?;
        println!("{spec}");
        return Ok(());
    }
    let config = Config::load().map_err(|e| e.to_string())?;
    telemetry::init(&config);
    match command {
        Command::Openapi => Ok(()),
        Command::Serve => serve(config),
        Command::Migrate => {
            app::open_database(&config).map_err(|e| e.to_string())?;
            println!("migrations applied");
            Ok(())
        }
        Command::SeedDemo => {
            let db = app::open_database(&config).map_err(|e| e.to_string())?;
            let keys = kabinet_api::node_keys::load(&db, &config, now()).map_err(|e| e.to_string())?;
            for line in demo::seed(&db, &keys.pii)? {
                println!("created {line}");
            }
            println!("demo data present");
            Ok(())
        }
        Command::CreateAdmin { login, password } => {
            create_staff(&config, &login, &password, vec![Role::Admin], None)
        }
        Command::CreateOfficer {
            agency,
            login,
            password,
            supervisor,
        } => {
            let roles = if supervisor {
                vec![Role::Officer, Role::Supervisor]
            } else {
                vec![Role::Officer]
            };
            create_staff(&config, &login, &password, roles, Some(agency))
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => verify_audit(&config),
    }
}

fn verify_audit(config: &Config) -> Result<(), String> {
    let db = app::open_database(config).map_err(|e| e.to_string())?;
    let keys = kabinet_api::node_keys::load(&db, config, chrono::Utc::now()).map_err(|e| e.to_string())?;
    let verification = db
        .read(|conn| kabinet_api::sealer::verify(conn, &keys.checkpoints))
        .map_err(|e| e.to_string())?;
    if verification.first_break.is_some() {
        return Err(verification.to_string());
    }
    println!("{verification}");
    Ok(())
}

fn serve(config: Config) -> Result<(), String> {
    let workers = config.workers;
    actix_web::rt::System::new().block_on(async move {
        let listen = config.listen;
        let application = Application::build(config).map_err(|e| e.to_string())?;
        tracing::info!(%listen, port = application.port(), workers, "serving; Swagger UI at /swagger-ui/, Redoc at /docs");
        application.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn create_staff(
    config: &Config,
    login: &str,
    password: &str,
    roles: Vec<Role>,
    agency: Option<String>,
) -> Result<(), String> {
    if login.trim().is_empty() {
        return Err("--login must not be empty".into());
    }
    // Staff accounts guard everyone's data: the same password rules as for citizens.
    config
        .password_policy()
        .check(password, &[login])
        .map_err(|e| format!("--password: {}", e.message))?;
    let db = app::open_database(config).map_err(|e| e.to_string())?;
    let staff = NewStaff {
        id: AccountId::new(),
        login_key: domain::login::name_key(login),
        display_name: login.trim().to_string(),
        roles,
        agency_code: agency,
        password_hash: passwords::hash(password)?,
        email: None,
    };
    let created = db
        .write(|tx| accounts::create_staff(tx, &staff, now()))
        .map_err(|e| e.to_string())?;
    if !created {
        return Err(format!("the login {login:?} is taken already"));
    }
    let roles: Vec<&str> = staff.roles.iter().map(|r| r.as_str()).collect();
    println!("created {} {} ({})", roles.join("+"), login.trim(), staff.id);
    Ok(())
}
