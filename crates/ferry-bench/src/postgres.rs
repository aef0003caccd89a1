//! The PostgreSQL database the suite runs on: dropped and re-created (with `psql`) before each
//! use, so every run starts empty. Only a database whose name contains `bench` is touched.

use std::process::Command;

use anyhow::{bail, Context};
use base64::Engine;
use rand::RngCore;

/// The database named by `url` (`postgres://user@host:port/name?params`).
pub struct Database {
    url: String,
    name: String,
    maintenance_url: String,
}

impl Database {
    pub fn parse(url: &str) -> anyhow::Result<Database> {
        let (head, query) = match url.split_once('?') {
            Some((head, query)) => (head, format!("?{query}")),
            None => (url, String::new()),
        };
        let (server, name) = head
            .rsplit_once('/')
            .filter(|(server, name)| server.contains("://") && !name.is_empty())
            .with_context(|| format!("no database name in {url}"))?;
        if !name.contains("bench") {
            bail!(
                "the suite drops and re-creates its database; name one containing `bench` (got {name})"
            );
        }
        Ok(Database {
            url: url.to_string(),
            name: name.to_string(),
            maintenance_url: format!("{server}/postgres{query}"),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the server answers; the reason when it does not.
    pub fn check(&self) -> Result<(), String> {
        self.psql(&["SELECT 1"]).map_err(|err| format!("{err:#}"))
    }

    /// Drops the database (disconnecting its sessions) and creates it empty.
    pub fn reset(&self) -> anyhow::Result<()> {
        let name = self.name.replace('"', "\"\"");
        self.psql(&[
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            &format!("CREATE DATABASE \"{name}\""),
        ])
    }

    /// Where the database stands: the WAL it has generated since it was created, and the
    /// CPU time of the whole PostgreSQL server so far (its postmaster's process tree, read
    /// from `/proc`; the suite's database is on this machine). `None` when `psql` cannot
    /// tell; no CPU time when `/proc` or the data directory cannot be read.
    pub fn sample(&self) -> Option<DatabaseSample> {
        let query = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint || ' ' || \
                     current_setting('data_directory')";
        let out = self.psql_output(&["-tA", "-c", query]).ok()?;
        let (wal, data_directory) = out.trim().split_once(' ')?;
        let cpu_seconds = std::fs::read_to_string(format!("{data_directory}/postmaster.pid"))
            .ok()
            .and_then(|pid| pid.lines().next()?.trim().parse().ok())
            .and_then(crate::server::process_tree_cpu_seconds);
        Some(DatabaseSample {
            wal_bytes: wal.parse().ok()?,
            cpu_seconds,
        })
    }

    /// Vacuums and analyzes the suite's database: what autovacuum does between bursts of
    /// work in production. The suite runs it before each measured step, outside its time,
    /// so no step pays for the dead rows of the steps before it, nor plans from statistics
    /// taken when the tables were empty, whatever the server's own `autovacuum` setting.
    pub fn vacuum(&self) -> anyhow::Result<()> {
        self.psql_output(&["-c", "VACUUM (ANALYZE)"]).map(drop)
    }

    /// The server's `autovacuum` setting (`on` or `off`), to print beside the figures.
    pub fn autovacuum(&self) -> Option<String> {
        let out = self.psql_output(&["-tA", "-c", "SHOW autovacuum"]).ok()?;
        Some(out.trim().to_string()).filter(|setting| !setting.is_empty())
    }

    fn psql(&self, statements: &[&str]) -> anyhow::Result<()> {
        let mut command = Command::new("psql");
        command
            .arg(&self.maintenance_url)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"]);
        for statement in statements {
            command.args(["-c", statement]);
        }
        let out = command.output().context("running psql")?;
        if !out.status.success() {
            bail!("psql: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }

    /// What `psql` with `args` prints, connected to the suite's own database.
    fn psql_output(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("psql")
            .arg(&self.url)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .args(args)
            .output()
            .context("running psql")?;
        if !out.status.success() {
            bail!("psql: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The PostgreSQL server's counters at one moment ([`Database::sample`]).
#[derive(Debug, Clone, Copy)]
pub struct DatabaseSample {
    /// Bytes of WAL generated since the cluster began (`pg_current_wal_lsn()`).
    pub wal_bytes: u64,
    /// CPU time of the server's processes so far, seconds.
    pub cpu_seconds: Option<f64>,
}

impl DatabaseSample {
    /// What the server spent from `earlier` to this sample: CPU seconds (when both samples
    /// could read them) and bytes of WAL.
    pub fn since(&self, earlier: &DatabaseSample) -> (Option<f64>, u64) {
        let cpu = self
            .cpu_seconds
            .zip(earlier.cpu_seconds)
            .map(|(now, then)| now - then);
        (cpu, self.wal_bytes.saturating_sub(earlier.wal_bytes))
    }
}

/// A fresh master key (base64 of 32 random bytes), shared by every node of one database.
pub fn master_key() -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_maintenance_database_and_guards_the_name() {
        let db = Database::parse("postgres://postgres@127.0.0.1:5432/ferry_bench?sslmode=disable")
            .unwrap();
        assert_eq!(db.name, "ferry_bench");
        assert_eq!(
            db.maintenance_url,
            "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
        );
        assert!(Database::parse("postgres://postgres@127.0.0.1/ferry").is_err());
        assert!(Database::parse("postgres://postgres@127.0.0.1").is_err());
    }
}
