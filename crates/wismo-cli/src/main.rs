//! The `wismo` command.

mod bench;
mod nlu_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "wismo", version, about = "wismo: an AI customer-service assistant for online stores")]
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Nlu(cmd) => nlu_cmd::run(cmd),
        Command::Sentiment(args) => nlu_cmd::sentiment(&args),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
