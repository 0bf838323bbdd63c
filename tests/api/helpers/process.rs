//! Running the `wafcert` binary: one-shot commands and `serve` child processes.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_wafcert");

/// Runs `wafcert args...` with `env` (and `WAFCERT_PASSWORD` unset) and `stdin` fed in;
/// returns success, stdout and stderr.
pub fn run_wafcert(args: &[&str], env: &[(&str, &str)], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("WAFCERT_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A `wafcert serve` child process.
pub struct Replica {
    child: Child,
    pub base: String,
}

impl Replica {
    /// A replica with the default flags.
    pub fn start(url: &str, master_key: &str) -> Self {
        Self::start_with(url, master_key, &[])
    }

    /// A replica with extra `serve` flags.
    pub fn start_with(url: &str, master_key: &str, flags: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--no-bootstrap",
                "--database",
                url,
            ])
            .args(flags)
            .env("WAFCERT_MASTER_KEY", master_key)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("replica exited before listening")
                .unwrap();
            if let Some(rest) = line.split("addr=").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining the log so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            base: format!("http://{addr}"),
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
