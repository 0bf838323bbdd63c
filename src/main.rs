//! The `wafcert` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    wafcert::telemetry::init();
    match wafcert::cli::run(wafcert::cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wafcert: {e:#}");
            ExitCode::FAILURE
        }
    }
}
