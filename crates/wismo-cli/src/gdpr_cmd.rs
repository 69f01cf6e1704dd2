//! `wismo gdpr export|erase|purge`: a shopper's data as JSON, erasing it,
//! and the retention policy.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use wismo_store::Shopper;

use crate::db_cmd::{connect_existing as connect, runtime, DbArgs};
use crate::say;

#[derive(Args)]
pub struct Who {
    /// The shopper's email.
    #[arg(long)]
    pub email: Option<String>,
    /// The store's customer id.
    #[arg(long)]
    pub customer_id: Option<String>,
}

#[derive(Subcommand)]
pub enum GdprCommand {
    /// Print everything wismo holds about a shopper as JSON.
    Export {
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Erase a shopper: their conversations, cases, ratings and webhook
    /// events, their customer record, and the personal fields of their orders.
    Erase {
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Delete conversations idle for more than N days (the retention policy).
    Purge {
        #[arg(long)]
        older_than_days: u32,
        #[command(flatten)]
        db: DbArgs,
    },
}

fn shopper(who: &Who) -> Result<Shopper> {
    let email = who
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let customer = who
        .customer_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if email.is_none() && customer.is_none() {
        bail!("name the shopper with --email or --customer-id");
    }
    if let Some(e) = email {
        if !e.contains('@')
            || e.len() > 254
            || e.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            bail!("--email {e:?} is not an email address");
        }
    }
    Ok(Shopper {
        email: email.map(str::to_string),
        customer_id: customer.map(str::to_string),
    })
}

/// Who, for the audit trail, without the address itself.
use wismo_server::api::subject;

pub fn run(cmd: &GdprCommand) -> Result<()> {
    match cmd {
        GdprCommand::Export { who, db } => {
            let s = shopper(who)?;
            runtime()?.block_on(async {
                let db = connect(db).await?;
                let doc = db.export_shopper(&s).await?;
                crate::audit_cmd::record(&db, "gdpr.export", &subject(&s), serde_json::json!({}))
                    .await?;
                say(serde_json::to_string_pretty(&doc)?);
                Ok(())
            })
        }
        GdprCommand::Erase { who, db } => {
            let s = shopper(who)?;
            runtime()?.block_on(async {
                let db = connect(db).await?;
                let r = db.erase_shopper(&s).await?;
                crate::audit_cmd::record(
                    &db,
                    "gdpr.erase",
                    &subject(&s),
                    serde_json::json!({"conversations": r.conversations, "orders_anonymised": r.orders_anonymised, "customers": r.customers, "outbox_rows": r.outbox_rows}),
                )
                .await?;
                say(format!(
                    "erased: {} conversations, {} customer records, {} webhook events; {} orders anonymised",
                    r.conversations, r.customers, r.outbox_rows, r.orders_anonymised
                ));
                Ok(())
            })
        }
        GdprCommand::Purge {
            older_than_days,
            db,
        } => {
            if *older_than_days == 0 {
                bail!("--older-than-days must be at least 1");
            }
            runtime()?.block_on(async {
                let db = connect(db).await?;
                let cutoff =
                    chrono::Utc::now() - chrono::Duration::days(i64::from(*older_than_days));
                let n = db.purge_before(cutoff).await?.len();
                crate::audit_cmd::record(
                    &db,
                    "gdpr.purge",
                    &format!("older_than_days:{older_than_days}"),
                    serde_json::json!({"conversations": n}),
                )
                .await?;
                say(format!(
                    "deleted {n} conversations idle for more than {older_than_days} days"
                ));
                Ok(())
            })
        }
    }
}
