//! `hush-server`: parses the configuration, starts the runtime with as many serving threads
//! as it says, sets up logging, runs the server.

use clap::Parser;
use hush_server::config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

/// The static (musl) build allocates with mimalloc: with musl's own allocator the server
/// spent twice the CPU per relayed message (BENCHMARKS.md, "The static build").
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Other builds allocate with jemalloc: glibc's `malloc` and `free` were a fifth of the
/// server's CPU on Redis, and jemalloc spends less CPU per message than glibc or mimalloc
/// for 2 MiB more at start (BENCHMARKS.md, "The allocator").
#[cfg(not(target_env = "musl"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(config.serving_threads()).enable_all().build();
    match runtime {
        Ok(runtime) => runtime.block_on(serve(config)),
        Err(e) => {
            eprintln!("hush-server: cannot start the runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> std::process::ExitCode {
    if config.probe {
        return hush_server::probe(config.bind).await;
    }
    if config.check_config {
        return hush_server::check_config::run(&config).await;
    }
    if let Some(target) = &config.backup_to {
        return match hush_server::backup::backup(&config.data_dir, target) {
            Ok(done) => {
                println!("backed up {} to {}", config.data_dir.display(), done.database.display());
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hush-server: backup failed: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    match hush_server::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "hush-server stopped");
            eprintln!("hush-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
