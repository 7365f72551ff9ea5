//! Building and running the server: open the database, migrate, load and check keys, bind the
//! listener (port 0 in tests) and serve until a signal, finishing in-flight requests.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use persistence::Database;
use tokio::sync::watch;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::password_pool::PasswordPool;
use crate::clock::Clock;
use crate::config::Config;
use crate::dispatcher::Dispatcher;
use crate::events::{self, EventBus, StreamSlots};
use crate::http_errors::{self, KnownRoutes};
use crate::metrics::{self, Metrics};
use crate::node_keys::NodeKeys;
use crate::openapi::ApiDoc;
use crate::sealer::Sealer;
use crate::state::AppState;
use crate::telemetry::{self, KabinetRootSpan};
use crate::{demo, edge, redoc, routes};

/// Why the server could not start; printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("database {url}: {detail}")]
    Database { url: String, detail: String },
    /// Keys that cannot serve: `setting` names what the operator must fix.
    #[error("{setting}: {problem}")]
    Keys { setting: &'static str, problem: String },
    #[error("cannot listen on {addr}: {detail}")]
    Listen { addr: String, detail: String },
    #[error("{0}")]
    Other(String),
}

/// The served spec: the fixed parts plus every registered operation.
pub fn spec() -> utoipa::openapi::OpenApi {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    crate::openapi::add_common_responses(&mut api);
    crate::openapi::refer_page_items(&mut api);
    crate::openapi::camel_case_links(&mut api);
    if let Err(unknown) = edge::deprecation::mark(&mut api, edge::deprecation::DEPRECATED) {
        tracing::error!(?unknown, "deprecated operations that the spec does not have");
    }
    api
}

/// Opens the database named by `config` and applies pending migrations.
pub fn open_database(config: &Config) -> Result<Database, StartError> {
    let url = config.database_url.redacted();
    let fail = |detail: String| StartError::Database {
        url: url.clone(),
        detail,
    };
    if let persistence::DatabaseUrl::Sqlite(path) = &config.database_url {
        if let Some(parent) = std::path::Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| fail(format!("cannot create {}: {e}", parent.display())))?;
        }
    }
    let db = Database::open(&config.database_url, config.db_pool_size).map_err(|e| fail(e.to_string()))?;
    let applied = db.migrate().map_err(|e| fail(e.to_string()))?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "migrations applied");
    }
    Ok(db)
}

pub struct Application {
    server: Server,
    port: u16,
    state: web::Data<AppState>,
    dispatcher: Option<Dispatcher>,
}

impl Application {
    pub fn build(config: Config) -> Result<Application, StartError> {
        Application::build_with_clock(config, Arc::new(Clock::system()))
    }

    /// Builds with the given clock (tests share one between nodes and move it).
    pub fn build_with_clock(config: Config, clock: Arc<Clock>) -> Result<Application, StartError> {
        let db = open_database(&config)?;
        let NodeKeys {
            tokens,
            pii,
            checkpoints,
        } = crate::node_keys::load(&db, &config, clock.now())?;
        let sealer = Sealer::new(
            db.clone(),
            config.database_url.clone(),
            checkpoints,
            chrono::TimeDelta::seconds(i64::try_from(config.audit_checkpoint_secs).unwrap_or(i64::MAX)),
        );
        if config.demo {
            demo::seed(&db, &pii).map_err(StartError::Other)?;
        }
        let vault = crate::vault::Vault::open(&config)
            .map_err(|e| StartError::Other(format!("document storage: {e}")))?;
        let latest_event = db
            .read(persistence::events::latest)
            .map_err(|e| StartError::Other(format!("events: {e}")))?;
        let metrics = Arc::new(Metrics::new().map_err(|e| StartError::Other(format!("metrics: {e}")))?);
        let streams = stream_slots(&config, &metrics);
        let passwords = PasswordPool::from_config(&config, metrics.clone());
        let (listener, port) = bind(&config)?;
        let dispatcher = Dispatcher::new(
            db.clone(),
            clock.clone(),
            config.dev_mailbox.clone(),
            config.outbox_max_attempts,
            Duration::from_millis(config.outbox_poll_ms),
        );
        let state = web::Data::new(AppState {
            db,
            config: Arc::new(config),
            tokens: Arc::new(tokens),
            metrics,
            pii: Arc::new(pii),
            forms: Arc::new(crate::forms::FormValidators::default()),
            vault: Arc::new(vault),
            events: Arc::new(EventBus::starting_after(latest_event)),
            streams: Arc::new(streams),
            passwords: Arc::new(passwords),
            clock,
            sealer: Arc::new(sealer),
        });
        let server = serve(state.clone(), listener)?;
        Ok(Application {
            server,
            port,
            state,
            dispatcher: Some(dispatcher),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// What stops this server gracefully (a signal does the same).
    pub fn shutdown(&self) -> Shutdown {
        Shutdown {
            server: self.server.handle(),
            events: self.state.events.clone(),
        }
    }

    /// Serves until the server is stopped (signal or handle), then stops the dispatcher,
    /// the jobs and the event bus.
    pub async fn run_until_stopped(mut self) -> std::io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let dispatcher = self
            .dispatcher
            .take()
            .map(|d| actix_web::rt::spawn(d.run(stopped.clone())));
        let bus = self.state.events.clone();
        if let persistence::DatabaseUrl::Postgres(url) = &self.state.config.database_url {
            // Without the listener, other nodes' events still arrive by the loader's timer.
            if let Err(error) = events::listen(url.clone(), bus.clone(), stopped.clone()) {
                tracing::error!(%error, "cannot start the event listener thread");
            }
        }
        let loader = actix_web::rt::spawn(bus.run(self.state.db.clone(), stopped.clone()));
        let sealer = actix_web::rt::spawn(crate::jobs::seal_audit(self.state.clone(), stopped.clone()));
        let jobs = actix_web::rt::spawn(crate::jobs::run(self.state.clone(), stopped));
        let signals = actix_web::rt::spawn(self.shutdown().on_signal());
        let result = self.server.await;
        signals.abort();
        let _ = stop.send(true);
        if let Some(task) = dispatcher {
            let _ = task.await;
        }
        let _ = jobs.await;
        let _ = sealer.await;
        let _ = loader.await;
        result
    }
}

/// As many event streams as the open-files limit leaves room for (raised first); fewer
/// than configured is said once at start and shown in the metrics.
fn stream_slots(config: &Config, metrics: &Metrics) -> StreamSlots {
    let open_files = crate::open_files::raise();
    let streams = StreamSlots::new(
        config.streams_per_account,
        crate::open_files::stream_cap(config.streams_per_node, open_files),
    );
    if streams.per_node() < config.streams_per_node {
        tracing::warn!(
            configured = config.streams_per_node,
            allowed = streams.per_node(),
            open_files,
            "the open-files limit leaves room for fewer event streams than configured"
        );
    }
    metrics.stream_limits(streams.per_account(), streams.per_node(), open_files);
    streams
}

/// The listening socket, and its port (the configured one, or the one the system chose
/// for port 0).
fn bind(config: &Config) -> Result<(TcpListener, u16), StartError> {
    let listener = TcpListener::bind(config.listen).map_err(|e| StartError::Listen {
        addr: config.listen.to_string(),
        detail: e.to_string(),
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?
        .port();
    Ok((listener, port))
}

/// Stops the server gracefully: event streams end first (their clients resume on another
/// node with Last-Event-ID), then the server stops accepting and finishes the requests in
/// flight within `shutdown_timeout_secs`. Without the first step every open stream would
/// hold the node for the whole timeout.
#[derive(Clone)]
pub struct Shutdown {
    server: ServerHandle,
    events: Arc<EventBus>,
}

impl Shutdown {
    pub async fn begin(self) {
        tracing::info!("stopping: closing event streams, finishing requests in flight");
        self.events.close();
        self.server.stop(true).await;
    }

    /// Waits for SIGINT or SIGTERM (the server's own handling is off, so that streams
    /// close first), then begins.
    async fn on_signal(self) {
        use actix_web::rt::signal;
        #[cfg(unix)]
        {
            let terminate = signal::unix::signal(signal::unix::SignalKind::terminate());
            match terminate {
                Ok(mut terminate) => {
                    tokio::select! {
                        _ = signal::ctrl_c() => {}
                        _ = terminate.recv() => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot watch SIGTERM; stopping on SIGINT only");
                    let _ = signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = signal::ctrl_c().await;
        self.begin().await;
    }
}

fn serve(state: web::Data<AppState>, listener: TcpListener) -> Result<Server, StartError> {
    let config = state.config.clone();
    let (workers, shutdown_secs) = (config.workers, config.shutdown_timeout_secs);
    let spec = spec();
    let known = web::Data::new(KnownRoutes::from_spec(&spec));
    let server = HttpServer::new(move || {
        let cors = edge::cors::policy(&config);
        let (app, _) = App::new()
            .into_utoipa_app()
            .configure(routes::configure)
            .split_for_parts();
        app.app_data(state.clone())
            .app_data(web::Data::from(state.metrics.clone()))
            .app_data(known.clone())
            .app_data(http_errors::json_config(config.body_limit_bytes))
            .app_data(web::PayloadConfig::new(config.body_limit_bytes))
            .app_data(http_errors::path_config())
            .app_data(http_errors::query_config())
            .service(web::redirect("/swagger-ui", "/swagger-ui/"))
            .service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", spec.clone()))
            .configure(redoc::configure)
            .app_data(web::Data::new(edge::deprecation::Deprecations::default()))
            .default_service(web::to(http_errors::no_route))
            .wrap(from_fn(edge::deprecation::announce))
            .wrap(from_fn(edge::nul::refuse))
            .wrap(from_fn(edge::limits::limit))
            .wrap(ErrorHandlers::new().default_handler(http_errors::normalize))
            .wrap(from_fn(edge::headers::secure))
            .wrap(from_fn(http_errors::timeout))
            // Outside every layer that may refuse: preflights are answered here, and
            // refusals made inside still carry the headers a listed page needs to read them.
            .wrap(cors)
            .wrap(from_fn(edge::cors::explain))
            .wrap(from_fn(metrics::track))
            .wrap(TracingLogger::<KabinetRootSpan>::new())
            .wrap(from_fn(telemetry::request_id))
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(shutdown_secs)
    .client_request_timeout(Duration::from_secs(10))
    // A client that closes its side is gone: without this an event stream would notice
    // only at its next write (up to the 15 s keep-alive), holding its slot until then.
    // HTTP clients do not half-close a connection they still expect answers on.
    .h1_allow_half_closed(false)
    .listen(listener)
    .map_err(|e| StartError::Listen {
        addr: "listener".into(),
        detail: e.to_string(),
    })?
    .run();
    Ok(server)
}
