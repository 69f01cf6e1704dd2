//! wismo's server: the REST and WebSocket API around the conversation
//! engine, with sessions and history in the database.
//!
//! * [`config`]: layered settings (defaults < `wismo.toml` < `WISMO_…` < flags).
//! * [`sessions`]: live conversations, one turn at a time each, persisted as
//!   event logs through `wismo-store`.
//! * [`api`], [`ws`]: the HTTP endpoints and the WebSocket.
//! * [`oidc`]: agent single sign-on through an external OpenID Connect provider.
//! * [`shopper_jwt`]: verifies the customer tokens (JWTs) that sign shoppers in.
//! * [`error`]: the one error type, `application/problem+json` with stable codes.
//! * [`tls`]: HTTPS with rustls when `tls_cert`/`tls_key` are set, the
//!   certificate reloaded when its files change.
//! * [`security_log`]: security events as JSON lines for a SIEM.
//! * [`webhooks`]: signed event webhooks (hand-offs, agent messages, …)
//!   delivered from a durable outbox; handlers emit with
//!   `state.webhooks.emit(…)`.
//!
//! [`Server::start`] connects and migrates the database, loads the demo store
//! into an empty one, loads the store workspace ([`live`]: the `store_dir`
//! folder, the database's active version or the built-ins, with the NLU model
//! cached or trained once) and binds the listener and starts the webhook
//! worker; [`Server::run`] serves (and reloads the store workspace live)
//! until the shutdown future completes, then drains requests in flight,
//! closes WebSockets and stops the webhook worker.
//! * [`store_api`]: the store workspace's admin and console endpoints and
//!   `GET /v1/widget/config`.

pub mod agents;
pub mod api;
pub mod bus;
pub mod carrier_trackers;
pub mod config;
mod datakeys;
pub mod emails;
pub mod error;
pub mod escalation;
mod hangup;
pub mod integrations;
pub mod limits;
pub mod live;
pub mod notify;
pub mod oidc;
pub mod openapi;
pub mod orders;
pub mod presence;
pub mod rbac;
pub mod security;
pub mod security_log;
pub mod sessions;
pub mod shopper_jwt;
pub mod store_api;
pub mod stream;
pub mod tls;
mod turn;
pub mod webhooks;
pub mod ws;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wismo_core::dialogue::EngineConfig;
use wismo_core::nlu::model::NluModel;
use wismo_core::nlu::{self, NluTrainOptions};
use wismo_store::Db;

use crate::config::{masked_url, Config};
use crate::error::ApiError;
use crate::sessions::Sessions;
use crate::webhooks::Webhooks;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub sessions: Sessions,
    /// Event webhooks: `state.webhooks.emit(kind, conversation_id, data, at)`.
    pub webhooks: Webhooks,
    /// Rate limits, blocks and security events.
    pub security: security::Limits,
    /// Verifies customer tokens; `None` when shopper sign-in is off.
    pub shopper_jwt: Option<shopper_jwt::Verifier>,
    /// Agent single sign-on; `None` when OIDC is off.
    pub oidc: Option<oidc::Oidc>,
    /// The store workspace in use, its versions and live reload.
    pub store: Arc<live::Live>,
    /// Pokes the proactive-notice sender after a notice is queued.
    pub notices: notify::Poke,
    /// Proactive emails; `None` without `smtp_url`.
    pub mailer: Option<Arc<wismo_integrations::mail::Mailer>>,
    shutdown: watch::Sender<bool>,
    /// Set on SIGTERM: `/readyz` answers 503 while requests are still served.
    draining: AtomicBool,
    websockets: AtomicUsize,
    /// WebSocket turn workers still running (a shutdown waits for them).
    ws_workers: AtomicUsize,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Counts an open WebSocket until dropped.
pub struct WsGuard(AppState);

impl Drop for WsGuard {
    fn drop(&mut self) {
        self.0.websockets.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a running WebSocket turn worker until dropped.
pub struct WorkerGuard(AppState);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.0.ws_workers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AppState {
    /// Writes an entry to the audit trail (who did what to personal data
    /// or configuration). A failure fails the action: nothing goes unaudited.
    pub async fn audit(
        &self,
        actor: (&str, &str),
        action: &str,
        target: Option<&str>,
        details: serde_json::Value,
    ) -> Result<(), ApiError> {
        self.sessions
            .db
            .audit(&wismo_store::AuditEntry {
                actor: actor.0.to_string(),
                actor_kind: actor.1.to_string(),
                action: action.to_string(),
                target: target.map(str::to_string),
                ip: None,
                details,
                at: chrono::Utc::now(),
            })
            .await?;
        Ok(())
    }

    /// Applies the retention policy once: deletes conversations idle for
    /// more than `retention_days` (a no-op when it is 0). Returns how many.
    pub async fn apply_retention(&self) -> Result<usize, ApiError> {
        let days = self.config.retention_days;
        if days == 0 {
            return Ok(0);
        }
        // Real time, like the `last_active_at` the store writes.
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
        let ids = self.sessions.db.purge_before(cutoff).await?;
        self.sessions.forget(&ids);
        if !ids.is_empty() {
            self.audit(
                ("system", "system"),
                "gdpr.purge",
                None,
                serde_json::json!({"older_than_days": days, "conversations": ids.len()}),
            )
            .await?;
            tracing::info!(deleted = ids.len(), days, "retention policy applied");
        }
        Ok(ids.len())
    }

    pub fn ws_open(&self) -> WsGuard {
        self.websockets.fetch_add(1, Ordering::Relaxed);
        WsGuard(self.clone())
    }

    /// Open WebSockets right now.
    pub fn websockets(&self) -> usize {
        self.websockets.load(Ordering::Relaxed)
    }

    /// Held by a WebSocket's turn worker while it runs: a shutdown lets the
    /// turns it queued finish (within `shutdown_grace`).
    pub fn ws_worker_running(&self) -> WorkerGuard {
        self.ws_workers.fetch_add(1, Ordering::Relaxed);
        WorkerGuard(self.clone())
    }

    /// Whether the server is draining (SIGTERM received): `/readyz` says
    /// 503 so load balancers stop sending new work here.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Changes to `true` when the server starts shutting down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// A started server: database open, model loaded, listener bound.
pub struct Server {
    state: AppState,
    listener: TcpListener,
    addr: SocketAddr,
    /// The certificate store when serving HTTPS.
    tls: Option<Arc<tls::CertStore>>,
    started: Instant,
    /// The webhook delivery worker (when webhooks are configured) and the
    /// event stream's relay (with NATS).
    webhook_worker: Option<JoinHandle<()>>,
    demo_agent: Option<(String, String)>,
}

/// The demo agent's email (created with the demo store).
pub const DEMO_AGENT_EMAIL: &str = "agent@demo.wismo.dev";

/// Creates the demo agent account with a random password (returned once).
async fn create_demo_agent(db: &Db) -> anyhow::Result<(String, String)> {
    let password = sessions::new_secret()?[..16].to_string();
    let hash = tokio::task::spawn_blocking({
        let password = password.clone();
        move || agents::hash_password(&password)
    })
    .await
    .context("hashing stopped")??;
    let id = format!("a_{}", &sessions::new_secret()?[..16]);
    db.create_agent(&wismo_store::NewAgent {
        id,
        email: DEMO_AGENT_EMAIL.into(),
        name: "Sam (demo)".into(),
        password_hash: hash,
        role: "supervisor".into(),
        max_chats: 5,
        languages: Vec::new(),
        created_at: chrono::Utc::now(),
    })
    .await
    .context("cannot create the demo agent")?;
    Ok((DEMO_AGENT_EMAIL.to_string(), password))
}

/// The database with its streaming replica for the reads that tolerate lag
/// (`wismo_store::Reads`). A replica that does not answer yet only earns a
/// warning: those reads go to the primary until it does.
async fn attach_replica(db: &Db, url: &str) -> anyhow::Result<Db> {
    let (db, check) = db
        .with_replica(url)
        .await
        .with_context(|| format!("cannot use the replica at {}", masked_url(url)))?;
    let at = masked_url(url);
    match check {
        wismo_store::ReplicaCheck::Standby => {
            tracing::info!(replica = %at, "lag-tolerant reads go to the replica")
        }
        wismo_store::ReplicaCheck::NotInRecovery => tracing::warn!(
            replica = %at,
            "the replica is not in recovery (not a standby); lag-tolerant reads go to it anyway"
        ),
        wismo_store::ReplicaCheck::Unreachable => tracing::warn!(
            replica = %at,
            "the replica does not answer; lag-tolerant reads go to the primary until it does"
        ),
    }
    Ok(db)
}

/// Name of the cached model for the built-in training data: it changes
/// whenever the data or the wismo version does.
fn cached_model_name() -> String {
    let mut all = String::from(env!("CARGO_PKG_VERSION"));
    for (name, src) in nlu::DEFAULT_TRAINING_FILES {
        all.push_str(name);
        all.push_str(src);
    }
    format!("nlu-{:016x}.wismonlu", nlu::hash::fnv1a(&all))
}

/// Loads the configured model, or the cached model of the built-in data,
/// training and caching it when there is none yet.
pub(crate) fn load_model_from(
    data_dir: &Path,
    model: Option<&Path>,
) -> anyhow::Result<(NluModel, bool)> {
    if let Some(path) = model {
        return NluModel::load(path)
            .map(|m| (m, false))
            .with_context(|| format!("cannot load model {}", path.display()));
    }
    let path = data_dir.join(cached_model_name());
    if path.exists() {
        match NluModel::load(&path) {
            Ok(m) => return Ok((m, false)),
            Err(e) => tracing::warn!(error = %e, "cached model unusable; training again"),
        }
    }
    let data = nlu::default_training_data().context("the built-in training data does not parse")?;
    let started = Instant::now();
    let model = nlu::train(&data, &NluTrainOptions::default(), &mut |_| {})
        .context("training the built-in model failed")?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "model trained");
    save_atomically(&model, &path);
    Ok((model, true))
}

/// Writes next to the target and renames, so concurrent starts never read
/// half a file. A failure only costs training again next time.
pub(crate) fn save_atomically(model: &NluModel, path: &Path) {
    let result = (|| -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        model.save(&tmp)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        tracing::warn!(error = %e, path = %path.display(), "could not cache the trained model");
    }
}

/// Handles what the bus tells this instance: doorbells from other
/// instances (gap fills, a few at a time) and reconnects (a gap fill for
/// every watched session). Ends with the server.
async fn bus_listener(
    state: std::sync::Weak<Inner>,
    mut signals: tokio::sync::mpsc::Receiver<bus::Signal>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(16));
    while let Some(signal) = signals.recv().await {
        let Some(inner) = state.upgrade() else {
            return;
        };
        let state = AppState(inner);
        if *state.shutdown.borrow() {
            return;
        }
        match signal {
            bus::Signal::Doorbell { conversation, seq } => {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                tokio::spawn(async move {
                    state.sessions.doorbell(&conversation, seq).await;
                    drop(permit);
                });
            }
            bus::Signal::Console(s) => state.sessions.escalation.signal_here(s),
            bus::Signal::OrdersChanged => state.sessions.db.forget_cached_orders(),
            bus::Signal::Typing {
                conversation,
                role,
                on,
            } => state.sessions.typing_here(&conversation, &role, on),
            bus::Signal::Reconnected => {
                // Order changes may have been missed too.
                state.sessions.db.forget_cached_orders();
                // The subscriptions are sent again with the reconnect: once
                // they are written, every later doorbell arrives, so the
                // gap fill below misses nothing.
                state.sessions.bus.flush().await;
                // Consoles may have missed signals: a fresh queue for each.
                state
                    .sessions
                    .escalation
                    .signal_here(escalation::Signal::Queue);
                state.sessions.refill_watched().await
            }
        }
    }
}

impl Server {
    /// Opens the database (migrating it), loads the demo store into an empty
    /// one when configured, loads the model and binds `config.listen`.
    pub async fn start(mut config: Config) -> anyhow::Result<Server> {
        let started = Instant::now();
        // TLS and the security log first: a wrong path fails fast.
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                let store = tls::CertStore::load(cert, key)?;
                store.server_config()?;
                Some(store)
            }
            _ => None,
        };
        let security_log = match &config.security_log {
            Some(path) => Some(security_log::SecurityLog::open(path)?),
            None => None,
        };
        let url = config.database_url();
        let db = match &config.data_keys {
            Some(keys) => {
                let keyring = wismo_store::Keyring::from_json(keys.expose(), "data_keys")?;
                Db::connect_with(&url, wismo_store::Crypt::new(keyring, None)).await
            }
            None => Db::connect_with_key_file(&url, &config.data_key_file_in_effect()).await,
        }
        .with_context(|| format!("cannot open the database at {}", masked_url(&url)))?;
        // Data sealed with keys this server lacks would make every request
        // that reads it fail (503): refuse to start, naming the keys.
        let unreadable = db
            .unreadable_data_keys()
            .await
            .context("cannot check the data keys against the database")?;
        if !unreadable.is_empty() {
            let keys_from = if config.data_keys.is_some() {
                "the data_keys setting".to_string()
            } else {
                format!(
                    "the data key file {}",
                    config.data_key_file_in_effect().display()
                )
            };
            anyhow::bail!(
                "the database at {} holds personal data sealed with data key(s) {} that {keys_from} cannot open \
                 (missing, or another key under the same id). Every server sharing a database needs the same data keys: \
                 copy the key file of the server that wrote the data (or set data_keys to the same keys) and start again",
                masked_url(&url),
                unreadable.join(", ")
            );
        }
        let db = match &config.database_replica_url {
            Some(replica) => attach_replica(&db, replica.expose()).await?,
            None => db,
        };
        let mut demo_agent = None;
        if config.demo_data {
            if let Some(r) = db
                .load_demo_at_if_empty(config.now.unwrap_or_else(chrono::Utc::now), config.timezone)
                .await
                .context("cannot load the demo store")?
            {
                tracing::info!(orders = r.inserted, "demo store loaded");
                if db.agents().await?.is_empty() {
                    demo_agent = Some(create_demo_agent(&db).await?);
                }
            }
        }
        orders::saved_connections(&mut config, &db).await?;
        let platform = orders::platform(&config, &db).await?;
        let orders = Arc::new(orders::LiveOrders::new(db.clone(), platform)?);
        let mailer = match &config.smtp {
            Some(s) => Some(Arc::new(
                wismo_integrations::mail::Mailer::new(s.url.expose(), &s.from)
                    .context("the SMTP settings are unusable")?,
            )),
            None => None,
        };
        if mailer.is_some() && config.public_url.is_none() {
            tracing::warn!("smtp_url is set but public_url is not: proactive emails cannot carry an unsubscribe link and will not be sent");
        }
        let store = live::Live::start(
            db.clone(),
            orders,
            EngineConfig {
                tz: config.timezone,
                return_window_days: config.return_window_days,
                late_after_days: config.late_after_days,
                ..EngineConfig::default()
            },
            live::Models {
                data_dir: config.data_dir.clone(),
                model: config.model.clone(),
            },
            config.store_dir.clone(),
        )
        .await
        .context("the conversation engine does not load")?;
        let store = Arc::new(store);
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr().context("no local address")?;
        config.public_url = Some(config.public_url_for(addr));
        // Live updates across instances: a doorbell on NATS after each
        // commit (off without nats_url).
        let (bus, bus_signals) = match &config.nats_url {
            Some(url) => {
                let (bus, signals) = bus::Bus::connect(url.expose())
                    .await
                    .with_context(|| format!("cannot use NATS at {}", masked_url(url.expose())))?;
                (bus, Some(signals))
            }
            None => (bus::Bus::off(), None),
        };
        // Orders changed here: the other instances forget their cached ones.
        if bus.is_on() {
            let announce = bus.clone();
            db.on_orders_changed(Arc::new(move || announce.publish_orders_changed()));
        }
        // The durable event stream on JetStream, with NATS.
        let event_stream = match (bus.client(), bus.commits()) {
            (Some(client), Some(wake)) if config.event_stream => {
                Some(stream::EventStream::new(client.clone(), db.clone(), wake))
            }
            _ => None,
        };
        let webhooks = Webhooks::new(db.clone(), &config, event_stream.clone())?;
        let shopper_jwt = match &config.shopper_jwt {
            Some(c) => Some(shopper_jwt::Verifier::new(c.clone())?),
            None => None,
        };
        let oidc = match &config.oidc {
            Some(c) => Some(oidc::Oidc::new(c.clone())?),
            None => None,
        };
        let limiter = limits::Limiter::from_config(&config).await?;
        let state = AppState(Arc::new(Inner {
            shopper_jwt,
            oidc,
            sessions: Sessions::new(
                db,
                store.engine.clone(),
                webhooks.clone(),
                bus.clone(),
                &config,
            ),
            store,
            webhooks,
            config,
            security: security::Limits::new(limiter, security_log),
            shutdown: watch::channel(false).0,
            notices: Default::default(),
            mailer,
            draining: AtomicBool::new(false),
            websockets: AtomicUsize::new(0),
            ws_workers: AtomicUsize::new(0),
        }));
        // It stops when shutdown starts, or when the state is dropped (a
        // server that is never run).
        let webhook_worker = state.webhooks.start(state.shutdown_signal());
        // The event stream's relay stops with the webhook worker.
        let stream_relay = event_stream.map(|s| s.start(state.shutdown_signal()));
        let webhook_worker = match (webhook_worker, stream_relay) {
            (Some(w), Some(r)) => Some(tokio::spawn(async move {
                let _ = tokio::join!(w, r);
            })),
            (w, r) => w.or(r),
        };
        if let Some(url) = &state.config.redis_url {
            // Who is online for the consoles, shared by every instance.
            let installation = state
                .sessions
                .db
                .installation_id()
                .await
                .context("cannot read the installation id")?;
            let instance = match bus.instance() {
                Some(i) => i.to_string(),
                None => bus::instance_id()?,
            };
            let shared = presence::SharedPresence::new(url.expose(), &installation, &instance)?;
            state.sessions.escalation.share_presence(shared);
        }
        if let Some(signals) = bus_signals {
            state.sessions.escalation.share_through(bus);
            tokio::spawn(bus_listener(Arc::downgrade(&state.0), signals));
        }
        Ok(Server {
            state,
            listener,
            addr,
            tls,
            started,
            webhook_worker,
            demo_agent,
        })
    }

    /// The demo agent's email and password, when this start created it
    /// (the first start on an empty database with the demo store).
    pub fn demo_agent(&self) -> Option<&(String, String)> {
        self.demo_agent.as_ref()
    }

    /// The address actually bound (the port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https` when serving TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Time from [`Server::start`] to now.
    pub fn startup_time(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` completes; then drains (`/readyz` at 503 for
    /// `shutdown_drain`, still serving), stops accepting, lets requests and
    /// WebSocket turns in flight finish (up to `shutdown_grace`), closes every
    /// WebSocket with 1001 "going away", stops the webhook worker (rows it
    /// was sending are given back to the outbox) and closes the database.
    pub async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state.clone();
        let webhook_worker = self.webhook_worker.take();
        let app = router(state.clone());
        let grace = state.config.shutdown_grace;
        let notify = state.shutdown.clone();
        let evictor = tokio::spawn({
            let state = state.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                let mut minutes = 0u64;
                loop {
                    tick.tick().await;
                    // The retention policy: at start, then hourly.
                    if minutes % 60 == 0 {
                        if let Err(e) = state.apply_retention().await {
                            tracing::warn!(error = %e, "retention policy failed");
                        }
                    }
                    minutes += 1;
                    state.security.purge();
                    let n = state.sessions.evict_idle(Duration::from_secs(300));
                    if n > 0 {
                        tracing::debug!(evicted = n, "idle sessions dropped from memory");
                    }
                }
            }
        });
        // Live reload: the store folder, SIGHUP, and the active version.
        let _store_watch = tls::AbortOnDrop(tokio::spawn(live::watch(
            state.store.clone(),
            state.config.store_poll,
        )));
        // Proactive updates: due notices into conversations.
        let _notifier = tls::AbortOnDrop(tokio::spawn(notify::run(Arc::downgrade(&state.0))));
        // Trackers at the carrier-tracking service for new tracking numbers.
        let _trackers = match &state.config.tracker_service {
            Some(s) => match carrier_trackers::TrackerService::from_settings(s) {
                Ok(service) => Some(tls::AbortOnDrop(tokio::spawn(carrier_trackers::run(
                    Arc::downgrade(&state.0),
                    Arc::new(service),
                )))),
                Err(e) => {
                    tracing::warn!(error = %e, "carrier trackers are off");
                    None
                }
            },
            None => None,
        };
        // Re-encryption under the active data key; key file reloads.
        let data_keys = datakeys::start(state.sessions.db.clone());
        // Automatic assignment: whenever the queue or who is online changes.
        let assigner = tokio::spawn({
            let state = state.clone();
            async move {
                if !state.sessions.escalation.auto_assign {
                    return;
                }
                let mut rx = state.sessions.escalation.bus.subscribe();
                loop {
                    match rx.recv().await {
                        Ok(escalation::Signal::Activity { .. }) => continue,
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                    while rx.try_recv().is_ok() {}
                    match escalation::auto_assign(&state).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(assigned = n, "hand-offs assigned automatically"),
                        Err(e) => tracing::warn!(error = %e, "automatic assignment failed"),
                    }
                }
            }
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop = async move {
            let mut rx = stop_rx;
            let _ = rx.wait_for(|s| *s).await;
        };
        let make = app.into_make_service_with_connect_info::<SocketAddr>();
        // The certificate watcher; SIGHUP also reopens the security log.
        let tls_store = self.tls.take();
        let _watcher = (tls_store.is_some() || state.security.log().is_some()).then(|| {
            tls::AbortOnDrop(tokio::spawn(tls::watch(tls_store.clone(), {
                let state = state.clone();
                move || {
                    if let Some(log) = state.security.log() {
                        log.reopen();
                    }
                }
            })))
        });
        let mut server = match tls_store {
            None => {
                let serve = axum::serve(self.listener, make).with_graceful_shutdown(stop);
                tokio::spawn(async move { serve.await })
            }
            Some(store) => {
                let config = store.server_config()?;
                let listener =
                    tls::TlsListener::new(self.listener, config).context("cannot serve TLS")?;
                use axum::serve::ListenerExt;
                let serve = axum::serve(listener.tap_io(|_| {}), make).with_graceful_shutdown(stop);
                tokio::spawn(async move { serve.await })
            }
        };

        let shutdown = Box::pin(shutdown);
        let ended_early = tokio::select! {
            r = &mut server => Some(r),
            () = shutdown => None,
        };
        if let Some(r) = ended_early {
            evictor.abort();
            assigner.abort();
            let _ = notify.send(true);
            if let Some(w) = webhook_worker {
                let _ = tokio::time::timeout(grace, w).await;
            }
            r.context("the server task failed")?
                .context("the server stopped")?;
            return Ok(());
        }
        drain(&state).await;
        tracing::info!("shutting down: no new connections; requests in flight finish, WebSockets close with 1001");
        let _ = notify.send(true);
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(grace, async {
            let _ = (&mut server).await;
            while state.websockets() > 0 || state.ws_workers.load(Ordering::Relaxed) > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("shutdown grace time over; closing anyway");
            server.abort();
        }
        evictor.abort();
        assigner.abort();
        data_keys.abort();
        if let Some(mut w) = webhook_worker {
            // In-flight attempts end at once (their rows are given back).
            if tokio::time::timeout(grace, &mut w).await.is_err() {
                tracing::warn!("the webhook worker did not stop in time");
                w.abort();
            }
        }
        state.sessions.db.close().await;
        Ok(())
    }
}

/// The first step of a shutdown: `/readyz` answers 503 ("draining") at
/// once while everything is still served for `shutdown_drain`, so a load
/// balancer's health checks take this instance out before it stops
/// accepting connections (no request is refused meanwhile).
async fn drain(state: &AppState) {
    state.draining.store(true, Ordering::Relaxed);
    let time = state.config.shutdown_drain;
    if time.is_zero() {
        return;
    }
    tracing::info!(
        ms = time.as_millis() as u64,
        "shutting down: draining (/readyz answers 503, requests still served)"
    );
    tokio::time::sleep(time).await;
}

/// Resolves on SIGTERM or Ctrl-C. The SIGTERM handler is installed when
/// this is called (not when first polled), so a signal sent right after the
/// server reports ready is not missed. Must be called inside the runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
    }
}

/// The admin route with the webhooks' targets and outbox status.
pub const WEBHOOKS_PATH: &str = "/v1/admin/webhooks";

/// The admin import route (it has its own body limit).
const IMPORT_PATH: &str = "/v1/admin/import/shopify";

/// Every route.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    let import_limit = state.config.max_import_bytes;
    Router::new()
        .route("/", get(index))
        .route("/widget.js", get(widget))
        .route("/console", get(console_page))
        .route("/console.js", get(console_js))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/openapi.json", get(openapi::document))
        .route("/docs", get(openapi::page))
        .route("/v1/conversations", post(api::create_conversation))
        .route("/v1/conversations/{id}", get(api::get_conversation))
        .route("/v1/conversations/{id}/messages", post(api::post_message))
        .route("/v1/conversations/{id}/ws", get(ws::upgrade))
        .route(
            "/v1/conversations/{id}/identity",
            post(api::sign_in_shopper),
        )
        .route("/v1/conversations/{id}/csat", post(agents::post_csat))
        .route("/v1/conversations/{id}/resolution", get(agents::resolution))
        .route("/v1/admin/resolutions", get(agents::resolutions))
        .route("/v1/admin/gdpr/export", post(api::gdpr_export))
        .route("/v1/admin/gdpr/erase", post(api::gdpr_erase))
        .route("/v1/admin/gdpr/purge", post(api::gdpr_purge))
        .route(
            "/v1/agent/session",
            post(agents::sign_in).delete(agents::sign_out),
        )
        .route("/v1/agent/oidc", get(oidc::status))
        .route("/v1/agent/oidc/start", get(oidc::start))
        .route("/v1/agent/oidc/callback", get(oidc::callback))
        .route("/v1/agent/me", get(agents::me))
        .route("/v1/agent/queue", get(agents::queue))
        .route("/v1/agent/stream", get(agents::stream))
        .route(
            "/v1/agent/canned-replies",
            get(agents::canned_replies).post(agents::add_canned_reply),
        )
        .route(
            "/v1/agent/canned-replies/{id}",
            axum::routing::delete(agents::delete_canned_reply),
        )
        .route("/v1/agent/conversations/{id}", get(agents::conversation))
        .route("/v1/agent/conversations/{id}/accept", post(agents::accept))
        .route("/v1/agent/conversations/{id}/messages", post(agents::reply))
        .route("/v1/agent/conversations/{id}/notes", post(agents::add_note))
        .route("/v1/agent/conversations/{id}/typing", post(agents::typing))
        .route(
            "/v1/agent/conversations/{id}/transfer",
            post(agents::transfer),
        )
        .route(
            "/v1/agent/conversations/{id}/release",
            post(agents::release),
        )
        .route(
            "/v1/agent/conversations/{id}/resolve",
            post(agents::resolve),
        )
        .route("/webhooks/rest/webhook", post(api::rasa_webhook))
        .route(
            IMPORT_PATH,
            post(api::import_shopify).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route(WEBHOOKS_PATH, get(api::webhooks_status))
        .route(
            "/v1/integrations/shopify/webhooks",
            post(integrations::shopify_webhook).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route(
            "/v1/integrations/aftership/webhooks",
            post(integrations::aftership_webhook).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route(
            "/v1/integrations/easypost/webhooks",
            post(integrations::easypost_webhook).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route(
            "/v1/integrations/stripe/webhooks",
            post(integrations::stripe_webhook),
        )
        .route(
            "/v1/integrations/woocommerce/webhooks",
            post(integrations::woocommerce_webhook).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route(
            "/v1/unsubscribe/{token}",
            get(emails::page).post(emails::unsubscribe),
        )
        .route("/v1/widget/config", get(store_api::widget_config))
        .route("/v1/admin/store", get(store_api::status))
        .route("/v1/admin/store/versions", get(store_api::versions))
        .route("/v1/admin/store/reload", post(store_api::reload))
        .route("/v1/admin/store/files", get(store_api::files))
        .route(
            "/v1/admin/store/preview",
            post(store_api::preview).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route(
            "/v1/admin/store/publish",
            post(store_api::publish).layer(DefaultBodyLimit::max(import_limit)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::middleware,
        ))
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().chars().take(200).collect(),
    }
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
    }
}

/// Bounds every request's time and turns any error response that did not
/// come from [`ApiError`] (axum's own extractor rejections: body over the
/// limit, bad path encoding, missing WebSocket headers…) into one.
async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if *state.shutdown.borrow() {
        return ApiError::ShuttingDown.into_response();
    }
    let path = req.uri().path().to_string();
    let limit = state.config.request_timeout;
    let res = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => return ApiError::Timeout(limit.as_millis()).into_response(),
    };
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return res;
    }
    let detail = match axum::body::to_bytes(res.into_body(), 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let err = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge(
            if path == IMPORT_PATH || path.starts_with("/v1/admin/store/") {
                state.config.max_import_bytes
            } else {
                state.config.max_body_bytes
            },
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(detail),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed {
            method: String::new(),
        },
        StatusCode::UPGRADE_REQUIRED => ApiError::WebSocketRequired,
        s if s.is_client_error() => {
            if path.ends_with("/ws") {
                ApiError::WebSocketRequired
            } else {
                ApiError::InvalidBody(if detail.is_empty() {
                    "the request is invalid".to_string()
                } else {
                    detail
                })
            }
        }
        _ => ApiError::Internal(detail),
    };
    err.into_response()
}

/// The demo shop page with the chat widget (`web/demo.html`).
async fn index() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        Html(DEMO_PAGE),
    )
}

/// The embeddable chat widget (`web/dist/widget.js`, built from `web/src`
/// with `npm run build` and committed, so the server needs no Node.js).
async fn widget() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        WIDGET_JS,
    )
}

pub(crate) const DEMO_PAGE: &str = include_str!("../../../web/demo.html");
const WIDGET_JS: &str = include_str!("../../../web/dist/widget.js");
pub(crate) const CONSOLE_PAGE: &str = include_str!("../../../web/console.html");
const CONSOLE_JS: &str = include_str!("../../../web/dist/console.js");

/// The agent console (`web/console.html`).
async fn console_page() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        Html(CONSOLE_PAGE),
    )
}

/// The agent console's script (`web/dist/console.js`, committed like the widget).
async fn console_js() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        CONSOLE_JS,
    )
}
