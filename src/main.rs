//! The `eddy` command line.
//!
//! - `eddy broker start` runs the broker with its Kafka protocol server until SIGINT or
//!   SIGTERM, then shuts down cleanly;
//! - `eddy topics ...`, `eddy produce` and `eddy consume` are Kafka clients (librdkafka): they
//!   work against any Kafka-protocol broker, Eddy or Kafka;
//! - `eddy server start` runs the broker, the SQL engine and ksqlDB's REST API in one process;
//! - `eddy demo` runs the broker's durable log in-process, without a server.
//!
//! Logs go to standard error, filtered by `RUST_LOG` (default `warn`).

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Eddy: a Kafka-compatible event streaming platform: a broker that speaks Kafka's protocol,
/// and Kafka client commands to use it (or any Kafka cluster).
#[derive(Debug, Parser)]
#[command(name = "eddy", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the broker.
    Broker {
        #[command(subcommand)]
        command: BrokerCommand,
    },
    /// Run the SQL server: the broker, the SQL engine and ksqlDB's REST API.
    Server {
        #[command(subcommand)]
        command: ServerCommand,
    },
    /// Manage topics on a running broker (Eddy or Kafka).
    Topics {
        #[command(subcommand)]
        command: cli::topics::Command,
    },
    /// Write records to a topic, one per input line (like `kcat -P`).
    Produce(cli::produce::Args),
    /// Read records from a topic and print them, one per line (like `kcat -C`).
    Consume(cli::consume::Args),
    /// Write keyed records to topic `demo` (created with 3 partitions if missing) in a data
    /// directory, in-process and durably, read them all back, and print what happened.
    Demo(cli::demo::Args),
    /// SQL: the interactive shell (`eddy sql`, on an embedded broker or `--server URL`),
    /// scripts on an embedded broker (`run`), ksqlDB conformance runs (`qtt`) and
    /// ksql-test-runner tests (`test`).
    #[command(args_conflicts_with_subcommands = true)]
    Sql {
        #[command(subcommand)]
        command: Option<cli::sql::Command>,
        #[command(flatten)]
        repl: cli::repl::ReplArgs,
    },
}

#[derive(Debug, Subcommand)]
enum BrokerCommand {
    /// Open a data directory and serve the Kafka protocol until SIGINT or SIGTERM.
    Start(cli::broker::Args),
}

#[derive(Debug, Subcommand)]
enum ServerCommand {
    /// Serve the Kafka protocol, the SQL engine and ksqlDB's REST API until SIGINT or
    /// SIGTERM; statements are kept in the command topic and replayed at start.
    Start(cli::server::Args),
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
        Command::Broker {
            command: BrokerCommand::Start(args),
        } => cli::broker::run(args).await,
        Command::Server {
            command: ServerCommand::Start(args),
        } => cli::server::run(args).await,
        Command::Topics { command } => cli::topics::run(command).await,
        Command::Produce(args) => {
            tokio::task::spawn_blocking(move || cli::produce::run(args)).await?
        }
        Command::Consume(args) => cli::consume::run(args).await,
        Command::Demo(args) => cli::demo::run(args).await,
        Command::Sql { command, repl } => {
            tokio::task::spawn_blocking(move || cli::sql::run(command, repl)).await?
        }
    }
}

/// Fixes glibc's mmap threshold at 1 MiB, so that buffers of that size and more (fetch
/// responses, produce frames) go back to the kernel when freed. With glibc's default dynamic
/// threshold, freed multi-MiB buffers stay in per-thread arenas: a broker bounded by its
/// fetch memory budget still grew by twice as much (tests/fetch_memory.rs: +113 MiB instead
/// of +49 MiB with a 32 MiB budget). Does what `MALLOC_MMAP_THRESHOLD_=1048576` does.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // mallopt: a libc call with plain integer arguments, before any thread.
fn return_large_buffers_to_the_kernel() {
    // SAFETY: mallopt takes two integers and only changes malloc's tuning; it is called
    // at the start of main, before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers_to_the_kernel() {}

fn main() -> ExitCode {
    return_large_buffers_to_the_kernel();
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
    let result = runtime.block_on(run(cli));
    // Blocking tasks (stdin readers, librdkafka calls) must not hold the exit up.
    runtime.shutdown_background();
    match result {
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
