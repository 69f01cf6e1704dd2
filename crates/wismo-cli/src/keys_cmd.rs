//! `wismo keys create|list|revoke`: API keys for admin and server-to-server
//! calls. A key is printed once, at creation; only its SHA-256 is stored.

use anyhow::{bail, Result};
use clap::Subcommand;

use crate::db_cmd::{connect, runtime, DbArgs};
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
    }
}
