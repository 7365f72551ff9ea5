//! Configuration: environment variables over an optional TOML file (`KABINET_CONFIG`),
//! validated at start so a bad value stops the server with one line naming the key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use domain::attempts::LockoutPolicy;
use domain::rate::Quota;
use persistence::DatabaseUrl;

/// A configuration problem: which key, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// A setting that must never be printed: `Debug` shows that it is set, not what it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Every setting, with its default. Policy numbers from SPEC.md marked (config) live here too.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub demo: bool,
    /// When set, `GET /metrics` answers only `Authorization: Bearer <this token>`.
    pub metrics_token: Option<Secret>,
    /// Abuse limits (see `edge::limits`).
    pub limits: Limits,
    pub log: String,
    pub log_format: LogFormat,
    pub dev_mailbox: Option<PathBuf>,
    pub environment: Environment,
    pub workers: usize,
    pub db_pool_size: u32,
    pub request_timeout_secs: u64,
    pub body_limit_bytes: usize,
    pub shutdown_timeout_secs: u64,
    pub outbox_poll_ms: u64,
    pub outbox_max_attempts: i32,
    pub jobs_interval_secs: u64,
    /// How often this node tries to seal new audit records (only the elected sealer does).
    pub audit_seal_ms: u64,
    /// The least time between two signed audit checkpoints (one is signed only when the
    /// tree has grown).
    pub audit_checkpoint_secs: u64,
    /// Longest delegation, in days (SPEC §2: 30).
    pub delegation_max_days: i64,
    /// Tries for a delegation's acceptance code.
    pub delegation_code_attempts: i32,
    /// Hours before a delegation ends when both parties are reminded.
    pub delegation_reminder_hours: i64,
    /// New applications a representative may start per principal per day without the
    /// principal's confirmation.
    pub representative_daily_applications: i64,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_days: i64,
    pub mfa_token_ttl_secs: i64,
    /// One live session per account: a new login ends the others.
    pub single_session: bool,
    pub password_min_length: usize,
    pub lockout_max_failures: i32,
    pub lockout_minutes: i64,
    /// Wrong second-factor codes (TOTP, recovery, or a re-authentication) that lock the
    /// factor, whichever endpoint asked.
    pub factor_max_failures: i32,
    pub factor_lock_minutes: i64,
    /// How long a rotated refresh token still answers with its successor (two tabs
    /// refreshing at once); later reuse ends the session.
    pub refresh_grace_secs: i64,
    /// Where people count their days (a representative's daily limit) and read the dates
    /// of notices: an IANA zone name.
    pub time_zone: domain::time::Zone,
    pub code_ttl_minutes: i64,
    pub code_max_attempts: i32,
    /// `kid:base64(PKCS#8 DER Ed25519 key)[,…]`, newest first: the first signs access
    /// tokens, all verify. Unset outside production: the database's generated key.
    pub signing_keys: Option<Secret>,
    /// `kid:base64key[,…]`, newest first; unset outside production: the database's
    /// generated keys.
    pub pii_keys: Option<Secret>,
    pub pii_index_key: Option<Secret>,
    /// Where document bytes are kept.
    pub storage: Storage,
    /// Largest upload, in bytes (SPEC §5: 5 MB); a service may set a smaller one.
    pub max_upload_bytes: u64,
    /// How long unreferenced bytes (an interrupted upload, a deleted document) stay before
    /// the sweep removes them: longer than any upload takes.
    pub orphan_grace_secs: u64,
    /// Days before a document's retention date when its owner is told.
    pub retention_notice_days: i64,
    /// Days an invitation to an application stays open (SPEC §4: 7).
    pub invitation_ttl_days: i64,
    /// The shortest time, in calendar days, an applicant is given to answer an
    /// information request (or its extension).
    pub min_response_days: i64,
    /// Hours before a request's due date when its assignee is reminded.
    pub request_reminder_hours: i64,
    /// Hours an `Idempotency-Key` and its first answer are kept; a repeat after that
    /// creates anew.
    pub idempotency_ttl_hours: i64,
    /// Seconds between the checks that an open event stream's caller may still see it
    /// (token, session, delegation, participation).
    pub stream_recheck_secs: u64,
    /// Event streams one account may hold open on one node.
    pub streams_per_account: usize,
    /// Event streams one node holds open at most; lowered at start to what its open-files
    /// limit leaves room for.
    pub streams_per_node: usize,
    /// Password hashes (argon2) computed at once; default the number of cores.
    pub password_hash_concurrency: usize,
    /// Password checks that may wait for a free slot; more are answered 503 at once.
    pub password_hash_queue: usize,
    /// Milliseconds a password check waits for a slot before it is answered 503.
    pub password_hash_wait_ms: u64,
    /// Parts a DOCX or XLSX upload may have.
    pub ooxml_max_parts: usize,
    /// Bytes a DOCX or XLSX upload may inflate to, all parts together.
    pub ooxml_max_uncompressed_bytes: u64,
    /// How many times its compressed size one part of a DOCX or XLSX may inflate to.
    pub ooxml_max_ratio: u64,
    /// Web frontends on other origins that may call the API from a browser: exact
    /// origins (`https://portal.example.ru`); empty, none.
    pub cors_origins: Vec<String>,
    /// How long a browser may cache a preflight's answer.
    pub cors_max_age_secs: usize,
    /// How long a stream ticket (`POST /api/v1/events/tickets`) may wait to be used.
    pub stream_ticket_ttl_secs: i64,
}

/// The blob store behind documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// Files under `data_dir/documents`.
    Local,
    /// An S3-compatible bucket; credentials come from the standard `AWS_*` variables.
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: Option<String>,
        allow_http: bool,
    },
    /// In memory, lost on restart: for development and tests only.
    Memory,
}

/// Abuse limits, each `N/PERIOD` (`10/15m`): how many requests of a kind one key may make.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Logins and second-factor logins from one address.
    pub login_per_ip: Quota,
    /// Logins naming one login (whether it exists or not).
    pub login_per_account: Quota,
    /// Second-factor checks of one signed-in account (TOTP, contact changes, signatures).
    pub second_factor_per_account: Quota,
    pub register_per_ip: Quota,
    /// Registrations naming one e-mail or phone.
    pub register_per_target: Quota,
    pub reset_per_ip: Quota,
    /// Password resets naming one login: each sends a message to its owner.
    pub reset_per_target: Quota,
    /// Messages (codes, invitations by e-mail or SMS) one account makes us send.
    pub messages_per_sender: Quota,
    pub uploads_per_account: Quota,
    pub creates_per_account: Quota,
    /// Stream tickets one account asks for (each is a database row).
    pub stream_tickets_per_account: Quota,
    /// CSV exports of the audit log one account asks for (each reads every record it may see).
    pub audit_exports_per_account: Quota,
}

impl Limits {
    fn from_source(source: &Source) -> Result<Limits, ConfigError> {
        let quota = |key: &str, default: &str| -> Result<Quota, ConfigError> {
            let text = source.raw(key).map_or(default, |(_, v)| v);
            Quota::parse(text).ok_or_else(|| {
                source.error(
                    key,
                    format!("expected N/PERIOD such as 10/15m (s, m, h or d), got {text:?}"),
                )
            })
        };
        Ok(Limits {
            login_per_ip: quota("rate_login_per_ip", "30/15m")?,
            login_per_account: quota("rate_login_per_account", "10/15m")?,
            second_factor_per_account: quota("rate_second_factor_per_account", "10/15m")?,
            register_per_ip: quota("rate_register_per_ip", "20/1h")?,
            register_per_target: quota("rate_register_per_target", "3/1h")?,
            reset_per_ip: quota("rate_reset_per_ip", "20/1h")?,
            reset_per_target: quota("rate_reset_per_target", "3/1h")?,
            messages_per_sender: quota("rate_messages_per_sender", "50/1d")?,
            uploads_per_account: quota("rate_uploads_per_account", "60/1h")?,
            creates_per_account: quota("rate_creates_per_account", "300/1h")?,
            stream_tickets_per_account: quota("rate_stream_tickets_per_account", "120/1h")?,
            audit_exports_per_account: quota("rate_audit_exports_per_account", "10/1h")?,
        })
    }
}

/// The keys, as written in the TOML file; the environment variable is `KABINET_` + the key
/// in capitals, except `database_url`, which is the conventional `DATABASE_URL`.
pub const KEYS: &[&str] = &[
    "database_url",
    "listen",
    "data_dir",
    "demo",
    "log",
    "log_format",
    "dev_mailbox",
    "env",
    "workers",
    "db_pool_size",
    "request_timeout_secs",
    "body_limit_bytes",
    "shutdown_timeout_secs",
    "outbox_poll_ms",
    "outbox_max_attempts",
    "jobs_interval_secs",
    "audit_seal_ms",
    "audit_checkpoint_secs",
    "delegation_max_days",
    "delegation_code_attempts",
    "delegation_reminder_hours",
    "representative_daily_applications",
    "access_token_ttl_secs",
    "refresh_token_ttl_days",
    "mfa_token_ttl_secs",
    "single_session",
    "password_min_length",
    "lockout_max_failures",
    "lockout_minutes",
    "factor_max_failures",
    "factor_lock_minutes",
    "refresh_grace_secs",
    "time_zone",
    "code_ttl_minutes",
    "code_max_attempts",
    "signing_keys",
    "pii_keys",
    "pii_index_key",
    "storage",
    "s3_bucket",
    "s3_endpoint",
    "s3_region",
    "s3_allow_http",
    "max_upload_bytes",
    "orphan_grace_secs",
    "retention_notice_days",
    "invitation_ttl_days",
    "min_response_days",
    "request_reminder_hours",
    "idempotency_ttl_hours",
    "stream_recheck_secs",
    "metrics_token",
    "streams_per_account",
    "streams_per_node",
    "password_hash_concurrency",
    "password_hash_queue",
    "password_hash_wait_ms",
    "ooxml_max_parts",
    "ooxml_max_uncompressed_bytes",
    "ooxml_max_ratio",
    "cors_origins",
    "cors_max_age_secs",
    "stream_ticket_ttl_secs",
];

/// The abuse-limit keys (see [`Limits`]); also accepted in the file and environment.
pub const RATE_KEYS: [&str; 12] = [
    "rate_login_per_ip",
    "rate_login_per_account",
    "rate_second_factor_per_account",
    "rate_register_per_ip",
    "rate_register_per_target",
    "rate_reset_per_ip",
    "rate_reset_per_target",
    "rate_messages_per_sender",
    "rate_uploads_per_account",
    "rate_creates_per_account",
    "rate_stream_tickets_per_account",
    "rate_audit_exports_per_account",
];

const SECONDS: &str = "a whole number of seconds";
const MINUTES: &str = "a whole number of minutes";
const ATTEMPTS: &str = "a whole number of attempts";
const STREAMS: &str = "a whole number of streams";

pub fn env_name(key: &str) -> String {
    if key == "database_url" {
        "DATABASE_URL".into()
    } else {
        format!("KABINET_{}", key.to_uppercase())
    }
}

/// Raw values by key, before parsing; later sources override earlier ones.
#[derive(Default, Debug, Clone)]
pub struct Source {
    values: BTreeMap<String, (String, String)>, // key -> (where it came from, value)
}

impl Source {
    /// Reads the TOML file named by `KABINET_CONFIG` (if any), then the environment.
    pub fn from_environment() -> Result<Source, ConfigError> {
        let mut source = Source::default();
        if let Ok(path) = std::env::var("KABINET_CONFIG") {
            source.merge_toml_file(&path)?;
        }
        for key in KEYS.iter().chain(RATE_KEYS.iter()) {
            let name = env_name(key);
            if let Ok(value) = std::env::var(&name) {
                source.values.insert((*key).to_string(), (name, value));
            }
        }
        Ok(source)
    }

    pub fn merge_toml_file(&mut self, path: &str) -> Result<(), ConfigError> {
        let fail = |problem: String| ConfigError {
            key: "KABINET_CONFIG".into(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read {path}: {e}")))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e| fail(format!("{path} is not valid TOML: {e}")))?;
        for (key, value) in table {
            if !KEYS.contains(&key.as_str()) && !RATE_KEYS.contains(&key.as_str()) {
                return Err(fail(format!("{path}: unknown key `{key}`")));
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(fail(format!(
                        "{path}: `{key}` must be a string, number or boolean, got {other}"
                    )))
                }
            };
            self.values
                .insert(key.clone(), (format!("{key} in {path}"), text));
        }
        Ok(())
    }

    /// Sets a value directly (tests, CLI flags).
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Source {
        self.values
            .insert(key.to_string(), (key.to_string(), value.into()));
        self
    }

    /// Forgets `key` (tests: a setting another default put there).
    pub fn unset(mut self, key: &str) -> Source {
        self.values.remove(key);
        self
    }

    fn raw(&self, key: &str) -> Option<(&str, &str)> {
        self.values
            .get(key)
            .map(|(origin, value)| (origin.as_str(), value.as_str()))
    }

    fn parse<T: FromStr>(&self, key: &str, default: T, expected: &str) -> Result<T, ConfigError> {
        match self.raw(key) {
            None => Ok(default),
            Some((origin, value)) => value.trim().parse().map_err(|_| ConfigError {
                key: origin.to_string(),
                problem: format!("expected {expected}, got {value:?}"),
            }),
        }
    }

    fn positive<T: FromStr + PartialOrd + Default + Copy>(
        &self,
        key: &str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        let value = self.parse(key, default, expected)?;
        if value <= T::default() {
            return Err(self.error(key, format!("expected {expected} greater than zero")));
        }
        Ok(value)
    }

    fn flag(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(key).map(|(_, v)| v.trim()) {
            None | Some("") => Ok(default),
            Some("0") | Some("false") => Ok(false),
            Some("1") | Some("true") => Ok(true),
            Some(other) => Err(self.error(key, format!("expected 1 or 0, got {other:?}"))),
        }
    }

    fn error(&self, key: &str, problem: String) -> ConfigError {
        let origin = self
            .raw(key)
            .map(|(o, _)| o.to_string())
            .unwrap_or_else(|| env_name(key));
        ConfigError { key: origin, problem }
    }
}

impl Config {
    pub fn from_source(source: &Source) -> Result<Config, ConfigError> {
        let data_dir = PathBuf::from(source.raw("data_dir").map(|(_, v)| v).unwrap_or("./data"));
        let database_url = match source.raw("database_url") {
            None => DatabaseUrl::Sqlite(data_dir.join("kabinet.db").to_string_lossy().into_owned()),
            Some((_, value)) => DatabaseUrl::parse(value).map_err(|p| source.error("database_url", p))?,
        };
        let environment = match source.raw("env").map(|(_, v)| v) {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(source.error(
                    "env",
                    format!("expected development or production, got {other:?}"),
                ))
            }
        };
        let log_format = match source.raw("log_format").map(|(_, v)| v) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(source.error("log_format", format!("expected text or json, got {other:?}")))
            }
        };
        let demo = source.flag("demo", false)?;
        if demo && environment == Environment::Production {
            return Err(source.error(
                "demo",
                "refused when KABINET_ENV=production: demo accounts have published passwords".into(),
            ));
        }
        let secret = |key: &str| source.raw(key).map(|(_, v)| Secret::new(v));
        let metrics_token = secret("metrics_token");
        let single_session = source.flag("single_session", true)?;
        let pii_keys = secret("pii_keys");
        let pii_index_key = secret("pii_index_key");
        if pii_keys.is_some() != pii_index_key.is_some() {
            return Err(source.error(
                "pii_keys",
                "set both KABINET_PII_KEYS and KABINET_PII_INDEX_KEY, or neither".into(),
            ));
        }
        if pii_keys.is_none() && environment == Environment::Production {
            return Err(source.error("pii_keys", "required when KABINET_ENV=production".into()));
        }
        // Every node must sign with the same key: a key generated per node would make one
        // node refuse the tokens of another.
        let signing_keys = secret("signing_keys");
        if signing_keys.is_none() && environment == Environment::Production {
            return Err(source.error("signing_keys", "required when KABINET_ENV=production".into()));
        }
        let dev_mailbox = source.raw("dev_mailbox").map(|(_, v)| PathBuf::from(v));
        if dev_mailbox.is_some() && environment == Environment::Production {
            return Err(source.error(
                "dev_mailbox",
                "refused when KABINET_ENV=production: it writes one-time codes in clear".into(),
            ));
        }
        let storage = Self::storage(source, environment)?;
        let cors_origins = source
            .raw("cors_origins")
            .map_or(Ok(Vec::new()), |(_, v)| cors_origins(v))
            .map_err(|problem| source.error("cors_origins", problem))?;
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Ok(Config {
            database_url,
            listen: source.parse(
                "listen",
                SocketAddr::from(([127, 0, 0, 1], 8080)),
                "host:port such as 127.0.0.1:8080",
            )?,
            data_dir,
            demo,
            metrics_token,
            limits: Limits::from_source(source)?,
            log: source
                .raw("log")
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| "info".into()),
            log_format,
            dev_mailbox,
            environment,
            workers: source.positive("workers", cores, "a whole number of worker threads")?,
            db_pool_size: source.positive("db_pool_size", 10, "a whole number of connections")?,
            request_timeout_secs: source.positive("request_timeout_secs", 30, "a whole number of seconds")?,
            body_limit_bytes: source.positive("body_limit_bytes", 1024 * 1024, "a whole number of bytes")?,
            shutdown_timeout_secs: source.positive(
                "shutdown_timeout_secs",
                30,
                "a whole number of seconds",
            )?,
            outbox_poll_ms: source.positive("outbox_poll_ms", 1000, "a whole number of milliseconds")?,
            outbox_max_attempts: source.positive("outbox_max_attempts", 8, "a whole number of attempts")?,
            jobs_interval_secs: source.positive("jobs_interval_secs", 60, SECONDS)?,
            audit_seal_ms: source.positive("audit_seal_ms", 1000, "a whole number of milliseconds")?,
            audit_checkpoint_secs: source.positive("audit_checkpoint_secs", 10, SECONDS)?,
            delegation_max_days: source.positive("delegation_max_days", 30, "a whole number of days")?,
            delegation_code_attempts: source.positive("delegation_code_attempts", 5, ATTEMPTS)?,
            delegation_reminder_hours: source.positive(
                "delegation_reminder_hours",
                24,
                "a whole number of hours",
            )?,
            representative_daily_applications: source.positive(
                "representative_daily_applications",
                1,
                "a whole number of applications",
            )?,
            access_token_ttl_secs: source.positive("access_token_ttl_secs", 900, SECONDS)?,
            refresh_token_ttl_days: source.positive(
                "refresh_token_ttl_days",
                30,
                "a whole number of days",
            )?,
            mfa_token_ttl_secs: source.positive("mfa_token_ttl_secs", 300, SECONDS)?,
            single_session,
            password_min_length: source.positive("password_min_length", 8, "a whole number of characters")?,
            lockout_max_failures: source.positive("lockout_max_failures", 3, ATTEMPTS)?,
            lockout_minutes: source.positive("lockout_minutes", 15, MINUTES)?,
            factor_max_failures: source.positive("factor_max_failures", 5, ATTEMPTS)?,
            factor_lock_minutes: source.positive("factor_lock_minutes", 15, MINUTES)?,
            refresh_grace_secs: source.parse("refresh_grace_secs", 5, SECONDS)?,
            time_zone: source.parse(
                "time_zone",
                domain::time::DEFAULT_ZONE,
                "an IANA time zone such as Europe/Moscow",
            )?,
            code_ttl_minutes: source.positive("code_ttl_minutes", 10, MINUTES)?,
            code_max_attempts: source.positive("code_max_attempts", 5, ATTEMPTS)?,
            signing_keys,
            pii_keys,
            pii_index_key,
            storage,
            max_upload_bytes: source.positive(
                "max_upload_bytes",
                5 * 1024 * 1024,
                "a whole number of bytes",
            )?,
            orphan_grace_secs: source.positive("orphan_grace_secs", 3600, SECONDS)?,
            retention_notice_days: source.positive("retention_notice_days", 7, "a whole number of days")?,
            invitation_ttl_days: source.positive("invitation_ttl_days", 7, "a whole number of days")?,
            min_response_days: source.positive("min_response_days", 3, "a whole number of days")?,
            request_reminder_hours: source.positive(
                "request_reminder_hours",
                24,
                "a whole number of hours",
            )?,
            idempotency_ttl_hours: source.positive("idempotency_ttl_hours", 24, "a whole number of hours")?,
            stream_recheck_secs: source.positive("stream_recheck_secs", 30, SECONDS)?,
            streams_per_account: source.positive("streams_per_account", 5, STREAMS)?,
            streams_per_node: source.positive("streams_per_node", 10_000, STREAMS)?,
            password_hash_concurrency: source.positive(
                "password_hash_concurrency",
                cores,
                "a whole number of hashes at once",
            )?,
            password_hash_queue: source.parse(
                "password_hash_queue",
                32,
                "a whole number of waiting checks (0: none wait)",
            )?,
            password_hash_wait_ms: source.positive(
                "password_hash_wait_ms",
                2000,
                "a whole number of milliseconds",
            )?,
            ooxml_max_parts: source.positive("ooxml_max_parts", 1000, "a whole number of parts")?,
            ooxml_max_uncompressed_bytes: source.positive(
                "ooxml_max_uncompressed_bytes",
                100 * 1024 * 1024,
                "a whole number of bytes",
            )?,
            ooxml_max_ratio: source.positive(
                "ooxml_max_ratio",
                100,
                "a whole number (times the compressed size)",
            )?,
            cors_origins,
            cors_max_age_secs: source.positive("cors_max_age_secs", 3600, SECONDS)?,
            stream_ticket_ttl_secs: source.positive("stream_ticket_ttl_secs", 30, SECONDS)?,
        })
    }

    fn storage(source: &Source, environment: Environment) -> Result<Storage, ConfigError> {
        let text = |key: &str| {
            source
                .raw(key)
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        match text("storage").as_deref() {
            None | Some("local") => Ok(Storage::Local),
            Some("memory") if environment == Environment::Production => Err(source.error(
                "storage",
                "memory storage is refused when KABINET_ENV=production: it loses every document on restart"
                    .into(),
            )),
            Some("memory") => Ok(Storage::Memory),
            Some("s3") => Ok(Storage::S3 {
                bucket: text("s3_bucket")
                    .ok_or_else(|| source.error("s3_bucket", "required when KABINET_STORAGE=s3".into()))?,
                endpoint: text("s3_endpoint"),
                region: text("s3_region"),
                allow_http: source.flag("s3_allow_http", false)?,
            }),
            Some(other) => {
                Err(source.error("storage", format!("expected local, s3 or memory, got {other:?}")))
            }
        }
    }

    /// Limits on guessing: passwords, second factors and one-time codes.
    pub fn guards(&self) -> crate::usecases::proof::Guards {
        crate::usecases::proof::Guards {
            login: LockoutPolicy {
                max_failures: self.lockout_max_failures,
                lock_for: chrono::TimeDelta::minutes(self.lockout_minutes),
            },
            factor: LockoutPolicy {
                max_failures: self.factor_max_failures,
                lock_for: chrono::TimeDelta::minutes(self.factor_lock_minutes),
            },
            code_attempts: self.code_max_attempts,
            zone: self.time_zone,
        }
    }

    pub fn password_policy(&self) -> domain::account::PasswordPolicy {
        domain::account::PasswordPolicy {
            min_length: self.password_min_length,
            require_classes: true,
        }
    }

    pub fn load() -> Result<Config, ConfigError> {
        Config::from_source(&Source::from_environment()?)
    }
}

/// The origins a comma-separated list names, each exactly as a browser sends it in
/// `Origin`: `http` or `https`, a host, an optional port, nothing after. A wildcard is
/// refused: every caller of this API carries a bearer token, and a page on any origin
/// that can make a user's browser call it must not be allowed to read the answers.
fn cors_origins(text: &str) -> Result<Vec<String>, String> {
    let mut origins = Vec::new();
    for origin in text.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        if origin.contains('*') {
            return Err(format!(
                "{origin:?}: wildcards are refused; list each origin exactly (https://portal.example.ru)"
            ));
        }
        let host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .ok_or_else(|| format!("{origin:?}: an origin starts with https:// or http://"))?;
        let (name, port) = match host.rsplit_once(':').filter(|(name, _)| !name.ends_with(':')) {
            Some((name, port)) if !name.starts_with('[') || name.ends_with(']') => (name, Some(port)),
            _ => (host, None),
        };
        let name_ok = !name.is_empty()
            && (name.starts_with('[') && name.ends_with(']')
                || name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'));
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
        if !name_ok || !port_ok {
            return Err(format!(
                "{origin:?} is not an origin: scheme://host[:port] in lower case, with no path, not even a trailing /"
            ));
        }
        origins.push(origin.to_string());
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_are_exact_and_checked() {
        assert_eq!(
            cors_origins(" https://portal.example.ru, http://127.0.0.1:5173 ,"),
            Ok(vec![
                "https://portal.example.ru".to_string(),
                "http://127.0.0.1:5173".to_string()
            ])
        );
        assert_eq!(cors_origins(""), Ok(vec![]));
        for bad in [
            "*",
            "https://*.example.ru",
            "portal.example.ru",
            "https://portal.example.ru/",
            "https://portal.example.ru/app",
            "https://Portal.example.ru",
            "https://portal.example.ru:0",
            "https://portal.example.ru:99999",
            "ftp://portal.example.ru",
            "https://",
        ] {
            assert!(cors_origins(bad).is_err(), "{bad} accepted");
        }
        let error = Config::from_source(&Source::default().set("cors_origins", "*")).err();
        assert_eq!(error.map(|e| e.key), Some("cors_origins".to_string()));
    }

    #[test]
    fn defaults_use_sqlite_in_the_data_dir() {
        let config = Config::from_source(&Source::default());
        let url = config.map(|c| c.database_url);
        assert_eq!(
            url,
            Ok(DatabaseUrl::Sqlite("./data/kabinet.db".into())).map_err(|e: ConfigError| e)
        );
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let error = Config::from_source(&Source::default().set("listen", "nowhere")).err();
        assert_eq!(error.map(|e| e.key), Some("listen".to_string()));
        let error = Config::from_source(&Source::default().set("db_pool_size", "0")).err();
        assert!(error
            .map(|e| e.problem.contains("greater than zero"))
            .unwrap_or(false));
    }

    #[test]
    fn the_dev_mailbox_is_refused_in_production() {
        let source = Source::default()
            .set("env", "production")
            .set("pii_keys", "k1:AAAA")
            .set("pii_index_key", "AAAA")
            .set("signing_keys", "s1:AAAA")
            .set("dev_mailbox", "/tmp/m.jsonl");
        let error = Config::from_source(&source).err();
        assert_eq!(error.map(|e| e.key), Some("dev_mailbox".to_string()));
    }

    #[test]
    fn demo_data_is_refused_in_production() {
        let source = Source::default()
            .set("env", "production")
            .set("pii_keys", "k1:AAAA")
            .set("pii_index_key", "AAAA")
            .set("demo", "1");
        let error = Config::from_source(&source).err();
        assert_eq!(error.map(|e| e.key), Some("demo".to_string()));
    }

    #[test]
    fn production_needs_configured_personal_data_keys() {
        let error = Config::from_source(&Source::default().set("env", "production")).err();
        assert_eq!(error.map(|e| e.key), Some("KABINET_PII_KEYS".to_string()));
        let half = Source::default().set("pii_keys", "k1:AAAA");
        assert!(Config::from_source(&half).is_err());
    }

    #[test]
    fn production_needs_configured_signing_keys() {
        let source = Source::default()
            .set("env", "production")
            .set("pii_keys", "k1:AAAA")
            .set("pii_index_key", "AAAA");
        let error = Config::from_source(&source).err();
        assert_eq!(error.map(|e| e.key), Some("KABINET_SIGNING_KEYS".to_string()));
        let configured = Config::from_source(&source.set("signing_keys", "s1:AAAA"));
        assert!(configured.is_ok());
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let source = Source::default()
            .set("signing_keys", "s1:SIGNING-SECRET")
            .set("pii_keys", "k1:PII-SECRET")
            .set("pii_index_key", "INDEX-SECRET")
            .set("metrics_token", "METRICS-SECRET");
        let printed = format!("{:?}", Config::from_source(&source));
        assert!(printed.contains("signing_keys: Some(Secret(…))"), "{printed}");
        assert!(!printed.contains("SECRET"), "{printed}");
    }

    #[test]
    fn unknown_toml_keys_are_refused() {
        let path = std::env::temp_dir().join(format!("kabinet-config-{}.toml", std::process::id()));
        let written = std::fs::write(&path, "listen = \"127.0.0.1:9\"\nlsten = 1\n");
        assert!(written.is_ok());
        let error = Source::default().merge_toml_file(&path.to_string_lossy()).err();
        let _ = std::fs::remove_file(&path);
        assert!(error
            .map(|e| e.problem.contains("unknown key `lsten`"))
            .unwrap_or(false));
    }
}
