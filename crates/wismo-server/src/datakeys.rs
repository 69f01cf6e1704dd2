//! The server's side of data key rotation: re-encrypts, in the background,
//! the rows still in plaintext or under an older data key (at start), and
//! reloads the key file when it changes (`wismo keys rotate-data-key` run
//! next to a live server), then sweeps again. Owns no key material itself
//! (wismo-store's `crypto` does); never logs keys or values.

use std::time::{Duration, SystemTime};

use wismo_store::Db;

/// How often the key file's modification time is checked.
const KEY_FILE_POLL: Duration = Duration::from_secs(5);
/// Rows per re-encryption transaction.
const SWEEP_BATCH: usize = 500;

fn modified(db: &Db) -> Option<SystemTime> {
    let path = db.crypt().path()?;
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

async fn sweep(db: &Db) {
    match db.reencrypt_sweep(SWEEP_BATCH, None).await {
        Ok(r) if r.rows > 0 => {
            tracing::info!(rows = r.rows, "data key sweep finished");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "data key sweep failed"),
    }
}

/// Runs until aborted: one sweep now, then a reload and a sweep whenever
/// the key file changes.
pub(crate) fn start(db: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen = modified(&db);
        sweep(&db).await;
        let mut tick = tokio::time::interval(KEY_FILE_POLL);
        tick.tick().await;
        loop {
            tick.tick().await;
            let now = modified(&db);
            if now == seen {
                continue;
            }
            seen = now;
            match db.crypt().reload() {
                Ok(_) => {
                    tracing::info!(
                        active = db.crypt().keyring().active_id(),
                        "data key file reloaded"
                    );
                    sweep(&db).await;
                }
                Err(e) => tracing::warn!(error = %e, "data key file could not be reloaded"),
            }
        }
    })
}
