//! The `eddy` command line.
//!
//! Today it runs the broker's durable log in-process: `eddy demo` writes keyed records to a
//! topic and reads them back, and `eddy topics ...` manages topics directly in a data
//! directory. There is no network server yet, so these commands open the data directory
//! themselves (and refuse to if another Eddy process has it open).
//!
//! Logs go to standard error, filtered by `RUST_LOG` (default `warn`).

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Eddy: a Kafka-style event streaming platform. Today: the broker's durable, partitioned log,
/// used in-process.
#[derive(Debug, Parser)]
#[command(name = "eddy", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write keyed records to topic `demo` (created with 3 partitions if missing), durably,
    /// read them all back, and print what happened.
    Demo(DemoArgs),
    /// Manage topics directly in a data directory (no broker may have it open).
    Topics {
        #[command(subcommand)]
        command: TopicsCommand,
    },
}

/// Where the broker keeps its data.
#[derive(Debug, Args)]
struct DataDir {
    /// The broker's data directory.
    #[arg(long, value_name = "DIR", default_value = "./eddy-data")]
    data_dir: PathBuf,
}

#[derive(Debug, Args)]
struct DemoArgs {
    #[command(flatten)]
    data: DataDir,
    /// How many keyed records to write.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    records: u64,
    /// Records per produce call (one RecordBatch each).
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    batch_size: u64,
}

#[derive(Debug, Subcommand)]
enum TopicsCommand {
    /// List topic names, one per line (internal topics included).
    List(DataDir),
    /// Show a topic's id, config and partitions (every topic if none is named).
    Describe {
        /// The topic; all topics when omitted.
        topic: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Create a topic.
    Create {
        /// The topic name (ASCII letters, digits, '.', '_' and '-').
        topic: String,
        /// Number of partitions.
        #[arg(long, default_value_t = 1)]
        partitions: i32,
        /// A topic config override, Kafka's key and value (repeatable), e.g.
        /// `--config retention.ms=3600000`.
        #[arg(long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Delete a topic and all its data.
    Delete {
        /// The topic name.
        topic: String,
        #[command(flatten)]
        data: DataDir,
    },
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(args) => {
            cli::demo::run(cli::demo::Options {
                data_dir: args.data.data_dir,
                records: args.records,
                batch_size: args.batch_size as usize,
            })
            .await
        }
        Command::Topics { command } => match command {
            TopicsCommand::List(data) => cli::topics::list(&data.data_dir).await,
            TopicsCommand::Describe { topic, data } => {
                cli::topics::describe(&data.data_dir, topic.as_deref()).await
            }
            TopicsCommand::Create {
                topic,
                partitions,
                configs,
                data,
            } => cli::topics::create(&data.data_dir, &topic, partitions, &configs).await,
            TopicsCommand::Delete { topic, data } => {
                cli::topics::delete(&data.data_dir, &topic).await
            }
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
