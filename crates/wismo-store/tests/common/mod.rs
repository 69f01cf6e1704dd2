//! Fresh databases for every test: a SQLite file in a new temp folder and a
//! new PostgreSQL database `wismo_test_<random>` (created through the
//! `postgres` maintenance database, dropped when the fixture is dropped, also
//! after a failed assertion).
//!
//! PostgreSQL is at `WISMO_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432`, no database part). When it cannot be
//! reached the test FAILS: CI must start it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Connection;
use wismo_store::Db;

pub fn pg_base_url() -> String {
    std::env::var("WISMO_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
        .trim_end_matches('/')
        .to_string()
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let mixed = (nanos as u64)
        ^ (u64::from(std::process::id()) << 32)
        ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{mixed:016x}{n}")
}

/// Both databases of one test. Drop removes them.
pub struct Fixture {
    pub dbs: Vec<(&'static str, Db)>,
    #[allow(dead_code)]
    pub sqlite_url: String,
    pub pg_url: String,
    /// The PostgreSQL database's data key file.
    #[allow(dead_code)]
    pub pg_key: PathBuf,
    pub dir: PathBuf,
    pg_name: String,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let suffix = unique_suffix();
        let dir = std::env::temp_dir().join(format!("wismo-store-test-{suffix}"));
        // A nested folder: connect must create it.
        let sqlite_url = format!("sqlite://{}/nested/wismo.db?mode=rwc", dir.display());
        let pg_name = format!("wismo_test_{suffix}");
        let base = pg_base_url();
        let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL must be running at {base} for the tests (set WISMO_TEST_PG_URL): {e}")
            });
        sqlx::query(&format!("CREATE DATABASE {pg_name}"))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        let _ = admin.close().await;
        let pg_url = format!("{base}/{pg_name}");
        let pg_key = dir.join("pg.key");
        let mut fx = Fixture {
            dbs: Vec::new(),
            sqlite_url: sqlite_url.clone(),
            pg_url: pg_url.clone(),
            pg_key: pg_key.clone(),
            dir,
            pg_name,
        };
        let sqlite = Db::connect(&sqlite_url).await.expect("sqlite connects");
        let pg = Db::connect_with_key_file(&pg_url, &pg_key)
            .await
            .expect("postgres connects");
        fx.dbs = vec![("sqlite", sqlite), ("postgres", pg)];
        fx
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let name = self.pg_name.clone();
        let base = pg_base_url();
        // Own runtime on its own thread: drop may run inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut admin) =
                    sqlx::PgConnection::connect(&format!("{base}/postgres")).await
                {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}
