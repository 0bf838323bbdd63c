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
    /// The child's log lines so far.
    pub logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
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
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = logs.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            base: format!("http://{addr}"),
            logs,
        }
    }

    /// Whether a log line containing `needle` arrives within 5 s: the lines are read from the
    /// process's pipe by a thread, so one written just before an answer may arrive after it.
    pub fn logged(&self, needle: &str) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            if self.logs.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL (no shutdown, no flush) and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
