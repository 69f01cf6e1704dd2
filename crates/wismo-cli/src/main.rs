//! The `wismo` command.

mod bench;
mod chat;
mod nlu_cmd;

use clap::{Parser, Subcommand};
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
    /// Natural-language understanding: train, parse, evaluate.
    #[command(subcommand)]
    Nlu(nlu_cmd::NluCommand),
    /// Score the sentiment of a message, or of every line of a file.
    Sentiment(nlu_cmd::SentimentArgs),
    /// Measure speed: model load, classification, entities, sentiment.
    Bench(bench::BenchArgs),
    /// Talk to the assistant in the terminal (demo store by default).
    Chat(chat::ChatArgs),
    /// Run conversation tests (YAML scripts); exit status 1 when any fails.
    Test(chat::TestArgs),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Nlu(cmd) => nlu_cmd::run(cmd),
        Command::Sentiment(args) => nlu_cmd::sentiment(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Chat(args) => chat::run(&args),
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
