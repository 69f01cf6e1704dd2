//! The store workspace, live: which version this server serves, building a
//! new engine in the background and swapping it in, publishing versions to
//! the database and converging on the version the database says is active.
//!
//! * [`EngineCell`]: the engine behind an atomic swap. A turn takes an
//!   `Arc<Engine>` when it starts and finishes on it, whatever is swapped in
//!   meanwhile; a half-built engine is never in the cell.
//! * [`Live::publish`]: one path for every change (a file change, SIGHUP,
//!   `POST /v1/admin/store/reload`, the console's publish): build (retraining
//!   only when the training files changed) → refuse the whole workspace with
//!   its `file:line` errors, or record the version and make it active in one
//!   transaction → swap → audit.
//! * [`Live::sync`]: every server polls the active version (`store_poll`)
//!   and loads its files from the database, not from its own disk.
//! * [`watch`]: the `store_dir` watcher (debounced) and SIGHUP.
//!
//! Never depends on handlers; holds no personal data.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use wismo_core::dialogue::{Engine, EngineConfig};
use wismo_core::nlu::model::NluModel;
use wismo_core::nlu::{self, Nlu, NluTrainOptions};
use wismo_core::store::OrderService;
use wismo_core::workspace::{Diagnostic, ProfileDefaults, Severity, Workspace, WorkspaceFiles};
use wismo_store::{Db, NewStoreVersion, Published, StoreDbError};

/// The engine in use; swapped whole.
pub struct EngineCell(RwLock<Arc<Engine>>);

impl EngineCell {
    pub fn new(engine: Engine) -> Self {
        Self(RwLock::new(Arc::new(engine)))
    }

    /// The engine to run one turn (or one staff action) on.
    pub fn get(&self) -> Arc<Engine> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, engine: Arc<Engine>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = engine;
    }
}

/// What this server has loaded.
#[derive(Clone)]
pub struct Loaded {
    /// The version's id; `None` only before the first version is recorded.
    pub version_id: Option<i64>,
    pub hash: String,
    pub training_hash: String,
    pub workspace: Arc<Workspace>,
    /// `GET /v1/widget/config`'s body.
    pub widget: Arc<Value>,
    pub loaded_at: DateTime<Utc>,
    /// How long building this version took, and whether it retrained.
    pub build_ms: u64,
    pub retrained: bool,
}

/// Why a workspace was refused or could not be published.
#[derive(Debug)]
pub enum LiveError {
    /// The workspace does not load: every error, `file:line: message`.
    Invalid(Vec<Diagnostic>),
    Db(StoreDbError),
    Internal(String),
}

impl From<StoreDbError> for LiveError {
    fn from(e: StoreDbError) -> Self {
        LiveError::Db(e)
    }
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveError::Invalid(d) => {
                let list: Vec<String> = d
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .map(ToString::to_string)
                    .collect();
                write!(f, "the workspace has errors: {}", list.join("; "))
            }
            LiveError::Db(e) => write!(f, "{e}"),
            LiveError::Internal(e) => f.write_str(e),
        }
    }
}

impl From<LiveError> for crate::error::ApiError {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::Invalid(d) => crate::error::ApiError::WorkspaceInvalid(
                d.iter()
                    .map(|d| {
                        json!({
                            "file": d.file, "line": d.line, "message": d.message,
                            "severity": d.severity, "text": d.to_string(),
                        })
                    })
                    .collect(),
            ),
            LiveError::Db(e) => e.into(),
            LiveError::Internal(e) => crate::error::ApiError::Internal(e),
        }
    }
}

fn diag(file: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        file: file.to_string(),
        line: 0,
        message: message.into(),
        severity: Severity::Error,
    }
}

/// Where trained models come from: the configured model file or the cached
/// model of the built-in data when the workspace has no training files of
/// its own; else a model cached per training hash in `data_dir`.
#[derive(Clone)]
pub struct Models {
    pub data_dir: PathBuf,
    pub model: Option<PathBuf>,
}

impl Models {
    /// The model for `ws` and whether it was trained now.
    fn model_for(
        &self,
        ws: &Workspace,
        training_hash: &str,
    ) -> Result<(NluModel, bool), LiveError> {
        if training_hash == WorkspaceFiles::new().training_hash() {
            return crate::load_model_from(&self.data_dir, self.model.as_deref())
                .map_err(|e| LiveError::Invalid(vec![diag("nlu/", format!("{e:#}"))]));
        }
        let name = format!(
            "nlu-ws-{:016x}.wismonlu",
            nlu::hash::fnv1a(&format!("{}{training_hash}", env!("CARGO_PKG_VERSION")))
        );
        let path = self.data_dir.join(name);
        if path.exists() {
            if let Ok(m) = NluModel::load(&path) {
                return Ok((m, false));
            }
        }
        let started = Instant::now();
        let model = nlu::train(
            &ws.training_data(),
            &NluTrainOptions::default(),
            &mut |_| {},
        )
        .map_err(|e| LiveError::Invalid(vec![diag("nlu/", format!("training failed: {e}"))]))?;
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "store model trained"
        );
        crate::save_atomically(&model, &path);
        Ok((model, true))
    }
}

/// A built, not yet installed version.
pub struct Built {
    pub engine: Engine,
    pub workspace: Workspace,
    pub hash: String,
    pub training_hash: String,
    pub build_ms: u64,
    pub retrained: bool,
}

/// Builds an engine for `files` (blocking: parsing, maybe training).
/// `previous`: the training hash and engine in use, whose model is reused
/// when the training files are the same.
pub fn build(
    files: &WorkspaceFiles,
    previous: Option<(&str, &Engine)>,
    models: &Models,
    orders: Arc<dyn OrderService>,
    base: EngineConfig,
) -> Result<Built, LiveError> {
    let started = Instant::now();
    // The server's settings hold where store.toml is silent.
    let defaults = ProfileDefaults {
        time_zone: Some(base.tz.name().to_string()),
        return_window_days: Some(base.return_window_days),
        late_after_days: Some(base.late_after_days),
    };
    let workspace = Workspace::load_with_defaults(files, &defaults).map_err(LiveError::Invalid)?;
    let training_hash = files.training_hash();
    let (model, retrained) = match previous {
        Some((h, engine)) if h == training_hash => (engine.nlu().model().clone(), false),
        _ => models.model_for(&workspace, &training_hash)?,
    };
    let nlu = Nlu::new(model, &workspace.entity_config())
        .map_err(|e| LiveError::Invalid(vec![diag("catalogue.json", e.to_string())]))?;
    let engine = workspace
        .build_engine(nlu, orders, base)
        .map_err(LiveError::Invalid)?;
    Ok(Built {
        engine,
        workspace,
        hash: files.hash(),
        training_hash,
        build_ms: started.elapsed().as_millis() as u64,
        retrained,
    })
}

/// What a publish did.
pub struct Outcome {
    /// The active version now.
    pub version_id: i64,
    /// False when the active version already had this content.
    pub new: bool,
    pub build_ms: u64,
    pub retrained: bool,
    pub changes: Vec<String>,
    pub warnings: Vec<String>,
}

/// The live workspace of this server.
pub struct Live {
    pub engine: Arc<EngineCell>,
    loaded: RwLock<Arc<Loaded>>,
    /// One build-and-swap at a time.
    lock: tokio::sync::Mutex<()>,
    /// Previews build throwaway engines: one at a time.
    pub preview: tokio::sync::Semaphore,
    db: Db,
    orders: Arc<dyn OrderService>,
    base: EngineConfig,
    models: Models,
    pub store_dir: Option<PathBuf>,
    /// A version from the database that does not load here (logged once).
    failed: Mutex<Option<i64>>,
}

fn widget_json(ws: &Workspace) -> Value {
    serde_json::to_value(ws.widget_config()).unwrap_or(Value::Null)
}

fn strings(d: &[Diagnostic]) -> Vec<String> {
    d.iter().map(ToString::to_string).collect()
}

async fn build_blocking(
    files: WorkspaceFiles,
    previous: Option<(String, Arc<Engine>)>,
    models: Models,
    orders: Arc<dyn OrderService>,
    base: EngineConfig,
) -> Result<Built, LiveError> {
    tokio::task::spawn_blocking(move || {
        build(
            &files,
            previous.as_ref().map(|(h, e)| (h.as_str(), e.as_ref())),
            &models,
            orders,
            base,
        )
    })
    .await
    .map_err(|e| LiveError::Internal(format!("the build stopped: {e}")))?
}

impl Live {
    /// Loads the version to serve at start: the `store_dir` folder when its
    /// content is new to the database (published as a new version), else the
    /// active version in the database, else the built-in workspace (recorded
    /// as the first version).
    pub async fn start(
        db: Db,
        orders: Arc<dyn OrderService>,
        base: EngineConfig,
        models: Models,
        store_dir: Option<PathBuf>,
    ) -> anyhow::Result<Live> {
        let load = |files: WorkspaceFiles| {
            build_blocking(files, None, models.clone(), orders.clone(), base.clone())
        };
        let mut chosen: Option<(Built, Option<i64>, &str)> = None;
        if let Some(dir) = &store_dir {
            let files = read_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
            let built = load(files).await.map_err(|e| {
                anyhow::anyhow!("the store workspace {} is refused: {e}", dir.display())
            })?;
            chosen = Some((built, None, "files"));
        }
        let active = db.active_store_version().await?;
        let from_db = match (&chosen, &active) {
            (None, Some(_)) => true,
            (Some((b, _, _)), Some((_, hash))) => {
                &b.hash != hash && db_has_hash(&db, &b.hash).await?
            }
            _ => false,
        };
        if from_db {
            if let Some((id, _)) = active {
                match load_version(&db, id, None, &models, &orders, &base).await {
                    Ok(b) => chosen = Some((b, Some(id), "database")),
                    Err(e) if chosen.is_some() => {
                        tracing::error!(version = id, error = %e, "the active store version does not load here; serving the store folder");
                    }
                    Err(e) => anyhow::bail!("the active store version {id} does not load: {e}"),
                }
            }
        }
        let (built, id, source) = match chosen {
            Some(c) => c,
            None => (
                load(WorkspaceFiles::new())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                None,
                "builtin",
            ),
        };
        let (engine, mut loaded) = loaded_of(built, id);
        if id.is_none() {
            // Record what this server serves (a new folder, or the built-ins
            // on a fresh database); a folder already known is not news.
            let v = version_record(
                &loaded.workspace,
                (source, "system"),
                None,
                vec![],
                Utc::now(),
            );
            match db.publish_store_version(&v, true).await? {
                Published::New(id) => {
                    tracing::info!(version = id, source, "store version published");
                    loaded.version_id = Some(id);
                }
                Published::Unchanged(id) => {
                    if db.active_store_version().await?.map(|a| a.1) == Some(loaded.hash.clone()) {
                        loaded.version_id = Some(id);
                    }
                }
            }
        }
        let live = Live {
            engine: Arc::new(EngineCell::new(engine)),
            loaded: RwLock::new(Arc::new(loaded)),
            lock: tokio::sync::Mutex::new(()),
            preview: tokio::sync::Semaphore::new(1),
            db,
            orders,
            base,
            models,
            store_dir,
            failed: Mutex::new(None),
        };
        Ok(live)
    }

    /// What this server serves now.
    pub fn loaded(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_loaded(&self, l: Loaded) {
        *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(l);
    }

    fn install(&self, b: Built, id: Option<i64>) {
        let (engine, loaded) = loaded_of(b, id);
        self.engine.set(Arc::new(engine));
        self.set_loaded(loaded);
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Builds `files` and, when it loads, records it as the active version
    /// and swaps it in. `by` is (actor, kind). A workspace with errors is
    /// refused whole and changes nothing.
    pub async fn publish(
        &self,
        files: WorkspaceFiles,
        by: (&str, &str),
        message: Option<String>,
    ) -> Result<Outcome, LiveError> {
        let _one = self.lock.lock().await;
        self.publish_locked(files, by, message).await
    }

    /// [`publish`](Self::publish) from an editor (the console): with
    /// `store_dir` set, the published files are also written into the folder
    /// (under the same lock the folder is read under), so the folder stays
    /// the store's source and a later file change builds on the edit
    /// instead of undoing it.
    pub async fn publish_edit(
        &self,
        files: WorkspaceFiles,
        by: (&str, &str),
        message: Option<String>,
    ) -> Result<Outcome, LiveError> {
        let _one = self.lock.lock().await;
        let o = self.publish_locked(files, by, message).await?;
        if let Some(dir) = &self.store_dir {
            let files = self.loaded().workspace.files().clone();
            let dir = dir.clone();
            let written = tokio::task::spawn_blocking(move || files.write_dir(&dir))
                .await
                .map_err(|e| LiveError::Internal(e.to_string()))?;
            match written {
                Ok(paths) => tracing::info!(
                    version = o.version_id,
                    files = paths.len(),
                    "store folder updated"
                ),
                // The version is active either way; the folder is behind it.
                Err(e) => {
                    tracing::error!(version = o.version_id, error = %e, "could not write the published version into store_dir")
                }
            }
        }
        Ok(o)
    }

    async fn publish_locked(
        &self,
        files: WorkspaceFiles,
        by: (&str, &str),
        message: Option<String>,
    ) -> Result<Outcome, LiveError> {
        let current = self.loaded();
        let hash = files.hash();
        if hash == current.hash {
            if let Some((id, active_hash)) = self.db.active_store_version().await? {
                if active_hash == hash {
                    return Ok(Outcome {
                        version_id: id,
                        new: false,
                        build_ms: 0,
                        retrained: false,
                        changes: vec![],
                        warnings: strings(current.workspace.warnings()),
                    });
                }
            }
        }
        let changes = files.changes_from(current.workspace.files());
        let started = Instant::now();
        let built = build_blocking(
            files,
            Some((current.training_hash.clone(), self.engine.get())),
            self.models.clone(),
            self.orders.clone(),
            self.base.clone(),
        )
        .await;
        let built = match built {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(by = by.0, error = %e, "store workspace refused; the current version keeps serving");
                return Err(e);
            }
        };
        let v = version_record(&built.workspace, by, message, changes.clone(), Utc::now());
        let published = self.db.publish_store_version(&v, false).await?;
        let (id, new) = match published {
            Published::New(id) => (id, true),
            Published::Unchanged(id) => (id, false),
        };
        let (build_ms, retrained) = (built.build_ms, built.retrained);
        let warnings = strings(built.workspace.warnings());
        self.install(built, Some(id));
        tracing::info!(
            version = id,
            by = by.0,
            build_ms,
            retrained,
            total_ms = started.elapsed().as_millis() as u64,
            changes = changes.len(),
            "store version active"
        );
        if new {
            let entry = wismo_store::AuditEntry {
                actor: by.0.to_string(),
                actor_kind: by.1.to_string(),
                action: "store.publish".into(),
                target: Some(format!("store_version:{id}")),
                ip: None,
                details: json!({"version": id, "hash": v.hash, "changes": changes, "message": v.message}),
                at: Utc::now(),
            };
            if let Err(e) = self.db.audit(&entry).await {
                tracing::error!(error = %e, "could not audit a store version");
            }
        }
        Ok(Outcome {
            version_id: id,
            new,
            build_ms,
            retrained,
            changes,
            warnings,
        })
    }

    /// Reads `store_dir` and publishes it.
    pub async fn reload_dir(&self, by: (&str, &str)) -> Result<Outcome, LiveError> {
        let Some(dir) = &self.store_dir else {
            return Err(LiveError::Internal("no store_dir".into()));
        };
        let _one = self.lock.lock().await;
        let files = read_dir(dir).map_err(|e| LiveError::Invalid(vec![e]))?;
        self.publish_locked(files, by, None).await
    }

    /// Converges on the database's active version (loading its files from
    /// the database). Returns the version now loaded.
    pub async fn sync(&self) -> Result<Option<i64>, LiveError> {
        let Some((id, hash)) = self.db.active_store_version().await? else {
            return Ok(self.loaded().version_id);
        };
        let current = self.loaded();
        if current.version_id == Some(id) {
            return Ok(Some(id));
        }
        if current.hash == hash {
            let mut l = (*current).clone();
            l.version_id = Some(id);
            self.set_loaded(l);
            return Ok(Some(id));
        }
        if *self.failed.lock().unwrap_or_else(|p| p.into_inner()) == Some(id) {
            return Ok(current.version_id);
        }
        let _one = self.lock.lock().await;
        let current = self.loaded();
        if current.version_id == Some(id) {
            return Ok(Some(id));
        }
        let previous = Some((current.training_hash.as_str(), self.engine.get()));
        match load_version(
            &self.db,
            id,
            previous,
            &self.models,
            &self.orders,
            &self.base,
        )
        .await
        {
            Ok(b) => {
                tracing::info!(
                    version = id,
                    build_ms = b.build_ms,
                    retrained = b.retrained,
                    "store version loaded from the database"
                );
                self.install(b, Some(id));
                Ok(Some(id))
            }
            Err(e) => {
                tracing::error!(version = id, error = %e, "the active store version does not load here; the current version keeps serving");
                *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(id);
                Err(e)
            }
        }
    }

    /// Builds a throwaway engine on `files` (a console preview).
    pub async fn build_draft(
        &self,
        files: WorkspaceFiles,
        orders: Arc<dyn OrderService>,
    ) -> Result<Built, LiveError> {
        let current = self.loaded();
        build_blocking(
            files,
            Some((current.training_hash.clone(), self.engine.get())),
            self.models.clone(),
            orders,
            self.base.clone(),
        )
        .await
    }
}

fn loaded_of(b: Built, id: Option<i64>) -> (Engine, Loaded) {
    let widget = Arc::new(widget_json(&b.workspace));
    let loaded = Loaded {
        version_id: id,
        hash: b.hash,
        training_hash: b.training_hash,
        workspace: Arc::new(b.workspace),
        widget,
        loaded_at: Utc::now(),
        build_ms: b.build_ms,
        retrained: b.retrained,
    };
    (b.engine, loaded)
}

fn version_record(
    ws: &Workspace,
    by: (&str, &str),
    message: Option<String>,
    changes: Vec<String>,
    at: DateTime<Utc>,
) -> NewStoreVersion {
    let files = ws.files();
    NewStoreVersion {
        hash: files.hash(),
        training_hash: files.training_hash(),
        files: serde_json::to_string(files).unwrap_or_else(|_| "{}".into()),
        created_at: at,
        created_by: by.0.to_string(),
        created_by_kind: by.1.to_string(),
        message,
        changes: if changes.is_empty() {
            files.iter().map(|(p, _)| format!("+{p}")).collect()
        } else {
            changes
        },
        warnings: strings(ws.warnings()),
        languages: ws.profile().languages.clone(),
    }
}

async fn db_has_hash(db: &Db, hash: &str) -> Result<bool, StoreDbError> {
    // Versions are few; the newest 1,000 are plenty to recognise a folder.
    Ok(db
        .store_versions(1000)
        .await?
        .iter()
        .any(|v| v.hash == hash))
}

async fn load_version(
    db: &Db,
    id: i64,
    previous: Option<(&str, Arc<Engine>)>,
    models: &Models,
    orders: &Arc<dyn OrderService>,
    base: &EngineConfig,
) -> Result<Built, LiveError> {
    let v = db
        .store_version(id)
        .await?
        .ok_or_else(|| LiveError::Internal(format!("store version {id} is missing")))?;
    let files: WorkspaceFiles = serde_json::from_str(&v.files)
        .map_err(|e| LiveError::Internal(format!("store version {id} is unreadable: {e}")))?;
    build_blocking(
        files,
        previous.map(|(h, e)| (h.to_string(), e)),
        models.clone(),
        orders.clone(),
        base.clone(),
    )
    .await
}

/// Reads a workspace folder; a failure is one diagnostic.
pub fn read_dir(dir: &Path) -> Result<WorkspaceFiles, Diagnostic> {
    WorkspaceFiles::read_dir(dir).map_err(|e| diag(&dir.display().to_string(), e.to_string()))
}

/// Reloads on changes under `store_dir` (debounced) and on SIGHUP, and
/// converges on the database's active version every `poll`. Runs until
/// aborted.
pub async fn watch(live: Arc<Live>, poll: Duration) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    // The notify watcher lives as long as this task.
    let _watcher = live.store_dir.as_ref().and_then(|dir| {
        use notify::Watcher;
        let tx = tx.clone();
        let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            if ev.is_ok_and(|e| !e.kind.is_access()) {
                let _ = tx.send("files");
            }
        })
        .map_err(|e| tracing::warn!(error = %e, "cannot watch the store folder; reload with SIGHUP or the API"))
        .ok()?;
        w.watch(dir, notify::RecursiveMode::Recursive)
            .map_err(|e| tracing::warn!(error = %e, dir = %dir.display(), "cannot watch the store folder"))
            .ok()?;
        Some(w)
    });
    let mut hup = crate::hangup::Hangups::new();
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let trigger = tokio::select! {
            _ = tick.tick() => None,
            Some(t) = rx.recv() => Some(t),
            () = hup.next() => Some("sighup"),
        };
        let Some(mut trigger) = trigger else {
            let _ = live.sync().await;
            continue;
        };
        // Debounce: an editor's save is several events.
        while let Ok(Some(t)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
            if trigger != "sighup" {
                trigger = t;
            }
        }
        if live.store_dir.is_none() {
            let _ = live.sync().await;
            continue;
        }
        // A refusal is logged by `publish`.
        if let Ok(o) = live.reload_dir((trigger, "system")).await {
            if o.new {
                tracing::info!(version = o.version_id, trigger, "store reloaded");
            }
        }
        let _ = live.sync().await;
    }
}
