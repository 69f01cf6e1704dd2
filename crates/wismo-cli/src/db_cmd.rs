//! `wismo migrate` and `wismo import shopify`.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use wismo_store::Db;

#[derive(Args)]
pub struct DbArgs {
    /// Database URL: `sqlite://PATH` or `postgres://…`. Default: an SQLite file
    /// in the data directory.
    #[arg(long, env = "WISMO_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where the default SQLite database lives.
    #[arg(long, env = "WISMO_DATA_DIR", default_value = "wismo-data")]
    pub data_dir: PathBuf,
    /// The key file of the personal data encryption. Default: `wismo.key`
    /// next to the SQLite database, or in the data directory. Created when
    /// missing: back it up, the personal data cannot be read without it.
    #[arg(long, env = "WISMO_DATA_KEY_FILE")]
    pub data_key_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Shopify Admin REST order JSON (`{"orders": [...]}`); importing the same
    /// file again changes nothing, changed orders are updated, and a bad file
    /// is rejected whole.
    Shopify {
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
}

impl DbArgs {
    /// The data key file in effect.
    pub fn key_file(&self) -> PathBuf {
        self.data_key_file.clone().unwrap_or_else(|| {
            Db::default_key_file(&self.url()).unwrap_or_else(|| self.data_dir.join("wismo.key"))
        })
    }

    pub fn url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("wismo.db").display()
            )
        })
    }
}

/// A URL fit for printing: any password is masked.
pub use wismo_server::config::masked_url as masked;

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub async fn connect(args: &DbArgs) -> Result<Db> {
    let url = args.url();
    // Keys given as a secret (`WISMO_DATA_KEYS`, the server's `data_keys`)
    // replace the key file; they are read from the environment only, never
    // from a flag, so they stay out of `ps` and shell history.
    match std::env::var("WISMO_DATA_KEYS") {
        Ok(json) if !json.trim().is_empty() => {
            let keys = wismo_store::Keyring::from_json(&json, "WISMO_DATA_KEYS")?;
            Db::connect_with(&url, wismo_store::Crypt::new(keys, None)).await
        }
        _ => Db::connect_with_key_file(&url, &args.key_file()).await,
    }
    .with_context(|| format!("cannot open the database at {}", masked(&url)))
}

/// Opens a database that must already exist (the admin commands): a
/// missing SQLite file, an empty PostgreSQL database or a missing key file
/// is refused, and nothing is created. Only `wismo migrate` and `wismo
/// serve` create a database and its key file.
pub async fn connect_existing(args: &DbArgs) -> Result<Db> {
    let url = args.url();
    let missing = |at: String| {
        anyhow::anyhow!(
            "no wismo database at {at}; start `wismo serve` or run `wismo migrate` first (with the same --data-dir / --database-url)"
        )
    };
    if let Some(file) = Db::sqlite_file(&url) {
        if !file.is_file() {
            return Err(missing(file.display().to_string()));
        }
    } else if !url.trim().to_ascii_lowercase().starts_with("sqlite:") {
        let db = Db::connect_without_migrating(&url)
            .await
            .with_context(|| format!("cannot open the database at {}", masked(&url)))?;
        let found = db.has_schema().await;
        db.close().await;
        if !found.with_context(|| format!("cannot read the database at {}", masked(&url)))? {
            return Err(missing(masked(&url)));
        }
    }
    let keys_in_env = std::env::var("WISMO_DATA_KEYS").is_ok_and(|k| !k.trim().is_empty());
    let key_file = args.key_file();
    if !keys_in_env && !key_file.is_file() {
        anyhow::bail!(
            "the data key file {} is missing, and the database at {} cannot be read without it; restore it from your backup, or point --data-key-file (WISMO_DATA_KEY_FILE) at it",
            key_file.display(),
            masked(&url)
        );
    }
    connect(args).await
}

pub fn migrate(args: &DbArgs) -> Result<()> {
    runtime()?.block_on(async {
        let db = connect(args).await?;
        crate::say(format!(
            "database ready at {} ({:?}), schema up to date",
            masked(&args.url()),
            db.dialect()
        ));
        db.close().await;
        Ok(())
    })
}

pub fn import(cmd: &ImportCommand) -> Result<()> {
    let ImportCommand::Shopify { file, db } = cmd;
    let json =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    runtime()?.block_on(async {
        let store = connect_existing(db).await?;
        let report = store
            .import_shopify(&json)
            .await
            .with_context(|| format!("{}: nothing was imported", file.display()))?;
        crate::say(serde_json::to_string_pretty(&serde_json::json!({
            "file": file.display().to_string(),
            "inserted": report.inserted,
            "updated": report.updated,
            "unchanged": report.unchanged,
        }))?);
        store.close().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn passwords_never_print() {
        assert_eq!(
            masked("postgres://app:s3cret@db:5432/wismo"),
            "postgres://app:****@db:5432/wismo"
        );
        assert_eq!(
            masked("postgres://postgres@127.0.0.1/wismo"),
            "postgres://postgres@127.0.0.1/wismo"
        );
        assert_eq!(masked("sqlite://data/wismo.db"), "sqlite://data/wismo.db");
    }
}
