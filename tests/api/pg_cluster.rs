//! A throw-away PostgreSQL cluster that a test starts, stops and restarts itself, so outage
//! tests never touch the machine's shared server. `initdb` and `pg_ctl` refuse to run as root,
//! so they run as `postgres` (`runuser`) in a temporary directory owned by that user.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A private cluster on a free port of 127.0.0.1, removed when dropped.
pub struct PgCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl PgCluster {
    /// Creates and starts a cluster, or `None` (with the reason printed) when this machine
    /// cannot: no `initdb` under /usr/lib/postgresql/*/bin, or no `runuser`/`postgres` user.
    pub fn start() -> Option<Self> {
        let Some(bin) = find_bin_dir() else {
            eprintln!(
                "skipped: throw-away PostgreSQL cluster (no initdb in /usr/lib/postgresql/*/bin)"
            );
            return None;
        };
        let chown_ok = Command::new("id")
            .args(["-u", "postgres"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !chown_ok || which("runuser").is_none() {
            eprintln!("skipped: throw-away PostgreSQL cluster (no postgres user or no runuser)");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("wafcert-pg-")
            .tempdir()
            .ok()?;
        let owned = Command::new("chown")
            .arg("postgres:")
            .arg(dir.path())
            .status();
        if !owned.is_ok_and(|s| s.success()) {
            eprintln!(
                "skipped: throw-away PostgreSQL cluster (cannot chown the data directory; not root?)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let cluster = Self { bin, dir, port };
        let init = cluster
            .as_postgres("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(cluster.data())
            .stdout(Stdio::null())
            .status();
        assert!(
            init.is_ok_and(|s| s.success()),
            "initdb of the throw-away cluster failed"
        );
        cluster.up();
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_postgres(&self, tool: &str) -> Command {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
        c
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=60",
            self.port,
            self.dir.path().display()
        );
        let status = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-l"])
            .arg(self.dir.path().join("log"))
            .args(["-o", &opts, "start"])
            .stdout(Stdio::null())
            .status();
        assert!(status.is_ok_and(|s| s.success()), "pg_ctl start failed");
    }

    /// Stops the server the way `pg_ctlcluster … stop -m fast` does: sessions are terminated.
    pub fn down(&self) {
        let status = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "fast", "stop"])
            .stdout(Stdio::null())
            .status();
        assert!(status.is_ok_and(|s| s.success()), "pg_ctl stop failed");
    }

    /// The URL of database `name` (created by [`PgCluster::create_db`]).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name`; returns its URL.
    pub async fn create_db(&self, name: &str) -> String {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.url("postgres"))
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        self.url(name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The newest /usr/lib/postgresql/N/bin that has `initdb`.
fn find_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin)
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(tool))
        .find(|p| p.exists())
}
