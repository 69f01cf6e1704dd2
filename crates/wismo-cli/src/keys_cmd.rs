//! `wismo keys create|list|revoke`: API keys for admin and server-to-server
//! calls. A key is printed once, at creation; only its SHA-256 is stored.
//!
//! `wismo keys rotate-data-key|data-status|retire-data-key`: the data keys
//! that encrypt personal data at rest (see wismo-store's `crypto`).

use anyhow::{bail, Result};
use clap::Subcommand;

use crate::db_cmd::{connect_existing as connect, runtime, DbArgs};
use crate::say;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key (printed once) with one or more scopes.
    Create {
        /// What the key is for (e.g. "nightly import").
        #[arg(long)]
        name: String,
        /// import, webhooks, analytics, conversations or privacy; repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List the keys (never the keys themselves).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a key by id; it stops working at once.
    Revoke {
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Add a new data key to the key file and make it the active one, then
    /// re-encrypt the stored personal data under it (a running server picks
    /// the new key up and finishes the work in the background).
    RotateDataKey {
        /// Only rotate; leave the re-encryption to the server.
        #[arg(long)]
        no_sweep: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// How many stored personal values each data key id encrypts.
    DataStatus {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Re-encrypt every value in plaintext or under an older data key.
    ReencryptData {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Remove an old data key from the key file (refused while any stored
    /// value uses it).
    RetireDataKey {
        kid: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Re-encrypts in the foreground, printing progress.
async fn sweep(db: &wismo_store::Db) -> Result<u64> {
    let mut total = 0;
    loop {
        let r = db.reencrypt_sweep(500, Some(20)).await?;
        total += r.rows;
        if r.complete {
            say(format!("re-encrypted {total} rows; done"));
            return Ok(total);
        }
        say(format!("re-encrypted {total} rows so far…"));
    }
}

pub fn run(cmd: &KeysCommand) -> Result<()> {
    match cmd {
        KeysCommand::Create { name, scopes, db } => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
                bail!("--name must be 1 to 80 characters");
            }
            let mut wanted: Vec<String> = Vec::new();
            for s in scopes.iter().flat_map(|s| s.split(',')) {
                let s = s.trim().to_lowercase();
                if !wismo_server::api::SCOPES.contains(&s.as_str()) {
                    bail!(
                        "--scope {s:?} is not a scope (scopes: {})",
                        wismo_server::api::SCOPES.join(", ")
                    );
                }
                if !wanted.contains(&s) {
                    wanted.push(s);
                }
            }
            let (key, id) = wismo_server::api::new_api_key().map_err(|e| anyhow::anyhow!("{e}"))?;
            runtime()?.block_on(async {
                let db = connect(db).await?;
                let hash = wismo_server::sessions::token_hash(&key);
                db.create_api_key(&id, name, &hash, &wanted, chrono::Utc::now())
                    .await?;
                crate::audit_cmd::record(
                    &db,
                    "api_key.create",
                    &id,
                    serde_json::json!({"name": name, "scopes": wanted}),
                )
                .await?;
                say(format!(
                    "created API key {id} ({name}) with scopes {}",
                    wanted.join(", ")
                ));
                say(format!("key (shown once, keep it secret): {key}"));
                Ok(())
            })
        }
        KeysCommand::List { db } => runtime()?.block_on(async {
            let db = connect(db).await?;
            let keys = db.api_keys().await?;
            if keys.is_empty() {
                say("no API keys yet (create one with: wismo keys create --name … --scope …)");
            }
            for k in keys {
                let state = match k.revoked_at {
                    Some(t) => format!("revoked {}", t.format("%Y-%m-%d %H:%M")),
                    None => "active".to_string(),
                };
                let used = k.last_used_at.map_or("never used".to_string(), |t| {
                    format!("last used {}", t.format("%Y-%m-%d %H:%M"))
                });
                say(format!(
                    "{}  {}  {}  {}  {used}",
                    k.id,
                    k.name,
                    k.scopes.join(","),
                    state
                ));
            }
            Ok(())
        }),
        KeysCommand::Revoke { id, db } => runtime()?.block_on(async {
            let db = connect(db).await?;
            if db.revoke_api_key(id, chrono::Utc::now()).await? {
                crate::audit_cmd::record(&db, "api_key.revoke", id, serde_json::json!({})).await?;
                say(format!("revoked {id}"));
                Ok(())
            } else {
                bail!("no active API key {id:?}")
            }
        }),
        KeysCommand::RotateDataKey { no_sweep, db: args } => runtime()?.block_on(async {
            let db = connect(args).await?;
            let (old, new) = db.rotate_data_key().await?;
            crate::audit_cmd::record(
                &db,
                "data_key.rotate",
                &new,
                serde_json::json!({"previous": old, "key_file": args.key_file().display().to_string()}),
            )
            .await?;
            say(format!(
                "data key {new} is now active (was {old}) in {}",
                args.key_file().display()
            ));
            if !no_sweep {
                sweep(&db).await?;
                say(format!(
                    "when no server still runs with the old key file, retire {old} with: \
                     wismo keys retire-data-key {old}"
                ));
            }
            db.close().await;
            Ok(())
        }),
        KeysCommand::DataStatus { db: args } => runtime()?.block_on(async {
            let db = connect(args).await?;
            let keys = db.crypt().keyring();
            say(format!(
                "key file {}: active {}, keys {}",
                args.key_file().display(),
                keys.active_id(),
                keys.key_ids().join(", ")
            ));
            let usage = db.data_key_usage().await?;
            if usage.is_empty() {
                say("no personal data stored");
            }
            for u in usage {
                let name = match &u.kid {
                    Some(k) if k == keys.active_id() => format!("{k} (active)"),
                    Some(k) if keys.key_ids().contains(k) => k.clone(),
                    Some(k) => format!("{k} (not in the key file!)"),
                    None => "plaintext".to_string(),
                };
                say(format!("{name}: {} values", u.values));
            }
            db.close().await;
            Ok(())
        }),
        KeysCommand::ReencryptData { db: args } => runtime()?.block_on(async {
            let db = connect(args).await?;
            sweep(&db).await?;
            db.close().await;
            Ok(())
        }),
        KeysCommand::RetireDataKey { kid, db: args } => runtime()?.block_on(async {
            let db = connect(args).await?;
            db.retire_data_key(kid).await?;
            crate::audit_cmd::record(&db, "data_key.retire", kid, serde_json::json!({})).await?;
            say(format!("data key {kid} removed from {}", args.key_file().display()));
            db.close().await;
            Ok(())
        }),
    }
}
