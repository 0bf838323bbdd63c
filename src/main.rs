//! The `wafcert` binary: parses the command line, starts the async runtime with the worker
//! threads it names ([`wafcert::cli::Cli::worker_threads`]) and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    wafcert::telemetry::init();
    let cli = wafcert::cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.worker_threads())
        .enable_all()
        .build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(wafcert::cli::run(cli)),
        Err(e) => Err(anyhow::Error::new(e).context("starting the async runtime")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wafcert: {e:#}");
            ExitCode::FAILURE
        }
    }
}
