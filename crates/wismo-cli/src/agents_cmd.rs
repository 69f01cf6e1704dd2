//! `wismo agents add|list|remove|passwd`: the accounts of the people who
//! answer hand-offs in the agent console. Passwords are read from standard
//! input (never from a flag or the environment, which other users and logs
//! can see) and stored only as argon2id hashes.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use wismo_store::NewAgent;

use crate::db_cmd::{connect_existing as connect, runtime, DbArgs};
use crate::say;

#[derive(Subcommand)]
pub enum AgentsCommand {
    /// Create an agent account; the password is read from standard input.
    Add(AddArgs),
    /// List the agent accounts.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Delete an agent account (by email or id) and sign it out.
    Remove {
        who: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Set a new password (read from standard input); signs the agent out everywhere.
    Passwd {
        email: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Args)]
pub struct AddArgs {
    #[arg(long)]
    pub email: String,
    /// Display name, shown to shoppers ("Alice from our team has joined").
    #[arg(long)]
    pub name: String,
    /// `agent` or `supervisor`.
    #[arg(long, default_value = "agent")]
    pub role: String,
    /// Most conversations this agent handles at once.
    #[arg(long, default_value_t = 3)]
    pub max_chats: u32,
    /// Languages the agent answers in, comma-separated (`en,es`); empty: any.
    #[arg(long, default_value = "")]
    pub languages: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Minimum password length.
const MIN_PASSWORD: usize = 10;

/// Reads a password: prompted without echo on a terminal, else one line of stdin.
fn read_password(prompt: &str) -> Result<String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let echo = if tty { EchoOff::new() } else { None };
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    drop(echo);
    if tty {
        eprintln!();
    }
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.chars().count() < MIN_PASSWORD {
        bail!("the password must have at least {MIN_PASSWORD} characters");
    }
    if pw.len() > 1024 {
        bail!("the password is longer than 1024 bytes");
    }
    Ok(pw)
}

/// Turns terminal echo off until dropped.
struct EchoOff(libc::termios);

impl EchoOff {
    fn new() -> Option<Self> {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a zeroed termios they fill in.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return None;
            }
            let saved = t;
            t.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(0, libc::TCSANOW, &t) != 0 {
                return None;
            }
            Some(EchoOff(saved))
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `new`.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.0);
        }
    }
}

fn new_agent_id() -> Result<String> {
    let secret = wismo_server::sessions::new_secret().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(format!("a_{}", &secret[..16]))
}

pub fn run(cmd: &AgentsCommand) -> Result<()> {
    match cmd {
        AgentsCommand::Add(a) => add(a),
        AgentsCommand::List { db } => runtime()?.block_on(async {
            let db = connect(db).await?;
            let agents = db.agents().await?;
            if agents.is_empty() {
                say("no agents yet (add one with: wismo agents add --email … --name …)");
            }
            for a in agents {
                say(format!(
                    "{}  {}  {}  {}  max {}  {}",
                    a.id,
                    a.email,
                    a.name,
                    a.role,
                    a.max_chats,
                    if a.languages.is_empty() {
                        "any language".to_string()
                    } else {
                        a.languages.join(",")
                    }
                ));
            }
            Ok(())
        }),
        AgentsCommand::Remove { who, db } => runtime()?.block_on(async {
            let db = connect(db).await?;
            if db.remove_agent(who).await? {
                crate::audit_cmd::record(&db, "agent.remove", who, serde_json::json!({})).await?;
                say(format!("removed {who}"));
                Ok(())
            } else {
                bail!("no agent {who:?}")
            }
        }),
        AgentsCommand::Passwd { email, db } => {
            let pw = read_password("New password: ")?;
            let hash =
                wismo_server::agents::hash_password(&pw).map_err(|e| anyhow::anyhow!("{e}"))?;
            runtime()?.block_on(async {
                let db = connect(db).await?;
                let Some(agent) = db.agent_by_email(email).await? else {
                    bail!("no agent with email {email:?}");
                };
                db.set_agent_password(&agent.id, &hash).await?;
                crate::audit_cmd::record(
                    &db,
                    "agent.password_change",
                    &agent.id,
                    serde_json::json!({}),
                )
                .await?;
                say(format!("password changed for {}", agent.email));
                Ok(())
            })
        }
    }
}

fn add(a: &AddArgs) -> Result<()> {
    let email = a.email.trim().to_lowercase();
    let valid_email = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid_email {
        bail!("--email {:?} is not an email address", a.email);
    }
    let name = a.name.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        bail!("--name must be 1 to 80 characters");
    }
    if a.role != "agent" && a.role != "supervisor" {
        bail!("--role must be agent or supervisor, not {:?}", a.role);
    }
    if a.max_chats == 0 || a.max_chats > 50 {
        bail!("--max-chats must be from 1 to 50");
    }
    let languages: Vec<String> = a
        .languages
        .split(',')
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .collect();
    for l in &languages {
        if !wismo_server::api::LOCALES.contains(&l.as_str()) {
            bail!(
                "--languages: {l:?} is not supported (supported: {})",
                wismo_server::api::LOCALES.join(", ")
            );
        }
    }
    let pw = read_password("Password: ")?;
    let hash = wismo_server::agents::hash_password(&pw).map_err(|e| anyhow::anyhow!("{e}"))?;
    runtime()?.block_on(async {
        let db = connect(&a.db).await?;
        let agent = db
            .create_agent(&NewAgent {
                id: new_agent_id()?,
                email,
                name: name.to_string(),
                password_hash: hash,
                role: a.role.clone(),
                max_chats: a.max_chats,
                languages,
                created_at: chrono::Utc::now(),
            })
            .await?;
        crate::audit_cmd::record(
            &db,
            "agent.create",
            &agent.id,
            serde_json::json!({"role": agent.role, "max_chats": agent.max_chats, "languages": agent.languages}),
        )
        .await?;
        say(format!(
            "added agent {} <{}> ({})",
            agent.name, agent.email, agent.id
        ));
        Ok(())
    })
}
