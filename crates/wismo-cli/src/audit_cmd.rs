//! `wismo audit verify|list`: the hash-chained audit trail.

use anyhow::{bail, Result};
use clap::Subcommand;

use crate::db_cmd::{connect_existing as connect, runtime, DbArgs};
use crate::say;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the whole chain; exit status 1 (naming the entry) when any
    /// entry was edited, inserted or deleted.
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print entries as JSON lines, oldest first.
    List {
        /// Only entries after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub fn run(cmd: &AuditCommand) -> Result<()> {
    match cmd {
        AuditCommand::Verify { db } => runtime()?.block_on(async {
            let db = connect(db).await?;
            let report = db.audit_verify().await?;
            match report.broken {
                None => {
                    say(format!("audit trail intact: {} entries", report.entries));
                    Ok(())
                }
                Some((seq, why)) => bail!("audit trail broken at entry {seq}: {why}"),
            }
        }),
        AuditCommand::List { after, limit, db } => runtime()?.block_on(async {
            if *limit < 1 || *limit > 100_000 {
                bail!("--limit must be from 1 to 100000");
            }
            let db = connect(db).await?;
            for r in db.audit_entries(*after, *limit).await? {
                let details: serde_json::Value =
                    serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null);
                say(serde_json::json!({
                    "seq": r.seq,
                    "at": r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    "actor": r.actor,
                    "actor_kind": r.actor_kind,
                    "action": r.action,
                    "target": r.target,
                    "ip": r.ip,
                    "details": details,
                    "hash": r.hash,
                }));
            }
            Ok(())
        }),
    }
}

/// Records a command's change in the audit trail, as `cli:<user>`.
pub async fn record(
    db: &wismo_store::Db,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> Result<()> {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    db.audit(&wismo_store::AuditEntry {
        actor: format!("cli:{user}"),
        actor_kind: "cli".into(),
        action: action.into(),
        target: Some(target.into()),
        ip: None,
        details,
        at: chrono::Utc::now(),
    })
    .await?;
    Ok(())
}
