//! The `wismo` command.

mod agents_cmd;
mod audit_cmd;
mod bench;
mod chat;
mod db_cmd;
mod gdpr_cmd;
mod integrations_cmd;
mod keys_cmd;
mod loadgen;
mod nlu_cmd;
mod serve;
mod workspace_cmd;

use clap::{Parser, Subcommand};

/// mimalloc: the server allocates many small, short-lived objects across
/// threads (requests, JSON, events), where it is markedly faster than the
/// system allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "wismo",
    version,
    about = "wismo: an AI customer-service assistant for online stores"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: REST and WebSocket API, demo store on SQLite by default.
    Serve(serve::ServeArgs),
    /// Print the effective server configuration (secrets masked) and where each value comes from.
    Config(serve::ServeArgs),
    /// Natural-language understanding: train, parse, evaluate.
    #[command(subcommand)]
    Nlu(nlu_cmd::NluCommand),
    /// Score the sentiment of a message, or of every line of a file.
    Sentiment(nlu_cmd::SentimentArgs),
    /// Measure speed: model load, classification, entities, sentiment.
    Bench(bench::BenchArgs),
    /// Talk to the assistant in the terminal (demo store by default).
    Chat(chat::ChatArgs),
    /// Write a store workspace (profile, knowledge, flows, templates, training
    /// data, tests) with editable copies of the built-ins.
    Init(workspace_cmd::InitArgs),
    /// Check a store workspace: files, training data, templates, its tests; exit 1 on an error.
    Check(workspace_cmd::CheckArgs),
    /// Run conversation tests (YAML scripts); exit status 1 when any fails.
    Test(chat::TestArgs),
    /// Create or upgrade the database schema.
    Migrate(db_cmd::DbArgs),
    /// Load data into the database.
    #[command(subcommand)]
    Import(db_cmd::ImportCommand),
    /// Load-test a running wismo server over HTTP or WebSockets.
    Loadgen(loadgen::LoadgenArgs),
    /// Agent accounts for the console: add, list, remove, passwd.
    #[command(subcommand)]
    Agents(agents_cmd::AgentsCommand),
    /// The audit trail: verify the hash chain, list entries.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// API keys for admin and server-to-server calls: create, list, revoke.
    #[command(subcommand)]
    Keys(keys_cmd::KeysCommand),
    /// GDPR: export or erase a shopper's data; delete old conversations.
    #[command(subcommand)]
    Gdpr(gdpr_cmd::GdprCommand),
    /// Connect a store system (checks the credentials, saves them sealed).
    #[command(subcommand)]
    Connect(integrations_cmd::ConnectCommand),
    /// Backfill the order mirror from a connected store system.
    #[command(subcommand)]
    Sync(integrations_cmd::SyncCommand),
}

/// Prints a line to standard output. A closed pipe (`wismo … | head`) ends the
/// program quietly instead of panicking.
pub fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// Diagnostics go to standard error, filtered by `WISMO_LOG` (e.g. `info`,
/// `wismo_core=debug`); off unless asked for. Spans carry ids, intents and
/// timings, never what a shopper wrote.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("WISMO_LOG") {
        Err(_) => EnvFilter::new("warn"),
        Ok(spec) => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("warning: WISMO_LOG={spec:?} is not a valid filter ({e}); using \"warn\"");
            EnvFilter::new("warn")
        }),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        // Each span's end is logged with its duration: turns, NLU, store calls.
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .try_init();
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::serve(&args),
        Command::Config(args) => serve::config(&args),
        Command::Nlu(cmd) => nlu_cmd::run(cmd),
        Command::Sentiment(args) => nlu_cmd::sentiment(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Chat(args) => chat::run(&args),
        Command::Migrate(args) => db_cmd::migrate(&args),
        Command::Import(cmd) => db_cmd::import(&cmd),
        Command::Loadgen(args) => loadgen::run(&args),
        Command::Agents(cmd) => agents_cmd::run(&cmd),
        Command::Audit(cmd) => audit_cmd::run(&cmd),
        Command::Keys(cmd) => keys_cmd::run(&cmd),
        Command::Gdpr(cmd) => gdpr_cmd::run(&cmd),
        Command::Connect(cmd) => integrations_cmd::connect_cmd(&cmd),
        Command::Sync(cmd) => integrations_cmd::sync_cmd(&cmd),
        Command::Init(args) => workspace_cmd::init(&args),
        Command::Check(args) => match workspace_cmd::check(&args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Command::Test(args) => match chat::test(&args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
