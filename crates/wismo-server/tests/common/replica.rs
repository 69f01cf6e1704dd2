//! A PostgreSQL primary with a streaming replica [`REPLICA_DELAY`] behind,
//! both started by the test in a temp folder (`scripts/pg-replica up`:
//! initdb, `pg_basebackup -R -X stream`, `recovery_min_apply_delay`) and
//! stopped by their data folders when the [`PgPair`] is dropped, also after
//! a failed assertion.
//!
//! As root (CI), the servers run as the `postgres` user. When PostgreSQL's
//! server programs (initdb, pg_ctl, pg_basebackup) are not installed,
//! [`PgPair::start`] prints why and returns `None`: the test is skipped.
//! Any other failure to start fails the test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::Connection;

/// How late the replica applies the primary's commits.
pub const REPLICA_DELAY: Duration = Duration::from_secs(2);

/// `scripts/pg-replica` exits with this when the programs are missing.
const NOT_INSTALLED: i32 = 3;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-replica")
}

/// Two loopback ports free right now.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let b = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = |l: &TcpListener| l.local_addr().expect("local address").port();
    (port(&a), port(&b))
}

/// The running pair. Drop stops both servers and deletes their folders.
pub struct PgPair {
    dir: PathBuf,
    /// `postgres://postgres@127.0.0.1:<port>/wismo` of the primary.
    pub primary_url: String,
    /// The same database on the replica.
    pub replica_url: String,
}

impl PgPair {
    /// Starts a primary and its replica; `None` (with a message) when
    /// PostgreSQL's server programs are not installed.
    pub async fn start() -> Option<PgPair> {
        tokio::task::spawn_blocking(start_blocking)
            .await
            .expect("starting PostgreSQL")
    }

    /// Stops the replica (immediately, like a crash); the primary keeps
    /// running.
    pub async fn stop_replica(&self) {
        let dir = self.dir.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(script())
                .arg("stop-replica")
                .arg(&dir)
                .output()
        })
        .await
        .expect("stop-replica")
        .expect("scripts/pg-replica runs");
        assert!(
            out.status.success(),
            "stop-replica failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Waits until the replica has applied every commit the primary had
    /// when called (a marker row in the `postgres` database, replayed in
    /// order with everything before it), up to 30 s.
    pub async fn wait_replayed(&self) {
        let primary = self.primary_url.replace("/wismo", "/postgres");
        let replica = self.replica_url.replace("/wismo", "/postgres");
        let mut p = sqlx::PgConnection::connect(&primary)
            .await
            .expect("connect to the primary");
        sqlx::query("CREATE TABLE IF NOT EXISTS replay_marker (n BIGSERIAL PRIMARY KEY)")
            .execute(&mut p)
            .await
            .expect("marker table");
        let n: i64 = sqlx::query_scalar("INSERT INTO replay_marker DEFAULT VALUES RETURNING n")
            .fetch_one(&mut p)
            .await
            .expect("marker row");
        let _ = p.close().await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut r = sqlx::PgConnection::connect(&replica)
            .await
            .expect("connect to the replica");
        loop {
            let seen: Option<i64> = sqlx::query_scalar("SELECT max(n) FROM replay_marker")
                .fetch_one(&mut r)
                .await
                .unwrap_or(None);
            if seen.is_some_and(|s| s >= n) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the replica did not catch up within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = r.close().await;
    }
}

fn start_blocking() -> Option<PgPair> {
    let dir = std::env::temp_dir().join(format!("wismo-replica-test-{}", super::unique_suffix()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    let (primary_port, replica_port) = free_ports();
    let delay = format!("{}ms", REPLICA_DELAY.as_millis());
    let out = Command::new(script())
        .arg("up")
        .arg(&dir)
        .arg(primary_port.to_string())
        .arg(replica_port.to_string())
        .arg(&delay)
        .output()
        .expect("scripts/pg-replica runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if out.status.code() == Some(NOT_INSTALLED) {
        let _ = std::fs::remove_dir_all(&dir);
        println!("SKIPPED: no PostgreSQL server programs to start a replica with: {stderr}");
        return None;
    }
    // From here on, Drop cleans up whatever was started.
    let mut pair = PgPair {
        dir,
        primary_url: String::new(),
        replica_url: String::new(),
    };
    assert!(
        out.status.success(),
        "scripts/pg-replica up failed: {stderr}"
    );
    let env = std::fs::read_to_string(pair.dir.join("pg/env")).expect("pg/env");
    for line in env.lines() {
        match line.split_once('=') {
            Some(("PRIMARY_URL", v)) => pair.primary_url = v.to_string(),
            Some(("REPLICA_URL", v)) => pair.replica_url = v.to_string(),
            _ => {}
        }
    }
    assert!(
        !pair.primary_url.is_empty() && !pair.replica_url.is_empty(),
        "pg/env lacks the URLs: {env}"
    );
    Some(pair)
}

impl Drop for PgPair {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("down").arg(&self.dir).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
