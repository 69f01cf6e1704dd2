//! The security event log: every security event as one JSON line
//! (schema [`SCHEMA`]) appended to the `security_log` file, for a SIEM.
//!
//! ```json
//! {"schema":"wismo.security/1","ts":"2026-11-25T05:01:02.345Z","event":"forbidden",
//!  "severity":"warning","ip":"203.0.113.9","subject":"-","path":"/v1/admin/gdpr/export",
//!  "scope":"","detail":"insufficient_scope"}
//! ```
//!
//! Lines are handed to a writer thread through a bounded queue, so a slow
//! disk never holds up a request; the thread writes (and so flushes) each
//! line with one `write` on a file opened for appending. When the queue is
//! full the line is dropped and counted (a warning says how many). SIGHUP
//! reopens the file (log rotation). Only [`crate::security::Limits::event`]
//! writes here; it never sees message text, emails, tokens or keys.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};

use anyhow::Context;
use serde_json::json;

use crate::security::SecurityEvent;

/// The schema name and version of every line. A new version only when a
/// field changes meaning or goes away; new fields and events may be added.
pub const SCHEMA: &str = "wismo.security/1";

/// Lines waiting for the writer thread at most.
const QUEUE: usize = 10_000;

/// How serious an event is: `notice` (a limit doing its job), `warning`
/// (a refused or failed attempt), `critical` (an IP blocked, an account
/// locked). Events not listed (added later) are `warning`.
pub fn severity(event: &str) -> &'static str {
    match event {
        "rate_limited" => "notice",
        "ip_blocked" | "agent_sign_in_locked" => "critical",
        _ => "warning",
    }
}

/// One event as its JSON line (without the newline).
pub fn line(e: &SecurityEvent) -> String {
    json!({
        "schema": SCHEMA,
        "ts": e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "event": e.event,
        "severity": severity(e.event),
        "ip": e.ip.to_string(),
        "subject": e.subject,
        "path": e.path,
        "scope": e.scope,
        "detail": e.detail,
    })
    .to_string()
}

enum Msg {
    Line(String),
    Reopen,
}

/// The open log (cheap to share: a queue sender).
pub struct SecurityLog {
    tx: SyncSender<Msg>,
    dropped: AtomicU64,
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl SecurityLog {
    /// Opens (creating) `path` for appending and starts the writer thread.
    /// Fails when the file cannot be opened, so a wrong path stops the
    /// server at start rather than losing events silently.
    pub fn open(path: &Path) -> anyhow::Result<SecurityLog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| {
                format!(
                    "cannot create the folder of security_log {}",
                    path.display()
                )
            })?;
        }
        let file =
            open(path).with_context(|| format!("cannot open security_log {}", path.display()))?;
        let (tx, rx) = sync_channel::<Msg>(QUEUE);
        let path: PathBuf = path.to_path_buf();
        std::thread::Builder::new()
            .name("wismo-security-log".into())
            .spawn(move || {
                let mut file = Some(file);
                let mut failing = false;
                // Ends when the log (the server's state) is dropped.
                while let Ok(msg) = rx.recv() {
                    match msg {
                        Msg::Reopen => match open(&path) {
                            Ok(f) => file = Some(f),
                            Err(e) => {
                                tracing::warn!(error = %e, path = %path.display(), "cannot reopen security_log");
                            }
                        },
                        Msg::Line(mut l) => {
                            l.push('\n');
                            let r = match file.as_mut() {
                                Some(f) => f.write_all(l.as_bytes()),
                                None => Ok(()),
                            };
                            match r {
                                Ok(()) => failing = false,
                                Err(e) if !failing => {
                                    failing = true;
                                    tracing::warn!(error = %e, path = %path.display(), "cannot write security_log");
                                }
                                Err(_) => {}
                            }
                        }
                    }
                }
            })
            .context("cannot start the security_log writer")?;
        Ok(SecurityLog {
            tx,
            dropped: AtomicU64::new(0),
        })
    }

    /// Queues one event's line; never waits.
    pub fn write(&self, e: &SecurityEvent) {
        match self.tx.try_send(Msg::Line(line(e))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(dropped = n, "security_log is behind; events dropped");
                }
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Reopens the file (after log rotation moved it away).
    pub fn reopen(&self) {
        let _ = self.tx.try_send(Msg::Reopen);
    }

    /// Lines dropped because the writer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
