//! The harness of the CLI tests: `ferry serve` as a real process on a loopback port, over the
//! test's SQLite data directory or PostgreSQL schema, and the `ferry` binary run against it.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferry_store::testing::TestStore;
use serde_json::Value;

pub const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

pub struct Served {
    pub child: Child,
    pub url: String,
    pub data_dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

impl Served {
    pub fn start(store: &TestStore) -> Served {
        Self::start_with(store, &[])
    }

    /// Starts a server with extra environment variables (`FERRY_ROLE`, …).
    pub fn start_with(store: &TestStore, env: &[(&str, &str)]) -> Served {
        let port = free_port();
        let data_dir = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let child = spawn_server(store, port, data_dir.path(), env);
        let served = Served {
            child,
            url: format!("http://127.0.0.1:{port}"),
            data_dir,
            home,
        };
        served.wait_ready();
        served
    }

    /// Starts the server again on the same data directory and port.
    pub fn restart(&mut self, store: &TestStore) {
        let port: u16 = self.url.rsplit(':').next().unwrap().parse().unwrap();
        self.child = spawn_server(store, port, self.data_dir.path(), &[]);
        self.wait_ready();
    }

    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let health = std::net::TcpStream::connect(self.url.trim_start_matches("http://"));
            if health.is_ok() && Path::new(&self.data_dir.path().join("owner.token")).exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("ferry serve did not start within 20 s");
    }

    /// Runs `ferry ARGS` as a user on the server's machine: URL set, token from the data dir.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args, self.data_dir.path()).output().unwrap()
    }

    pub fn command(&self, args: &[&str], data_dir: &Path) -> Command {
        let mut command = Command::new(FERRY);
        command
            .args(args)
            .env("FERRY_URL", &self.url)
            .env("FERRY_DATA_DIR", data_dir)
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env_remove("FERRY_API_KEY");
        command
    }

    /// Runs `ferry ARGS`, which must succeed; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "ferry {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// Writes `text` to a file named `name` in the test's home directory; gives its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ferry serve` on `port`: SQLite in its data directory by default, or the test's PostgreSQL schema.
pub fn spawn_server(store: &TestStore, port: u16, data_dir: &Path, env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(FERRY);
    command
        .arg("serve")
        .env("FERRY_LISTEN", format!("127.0.0.1:{port}"))
        .env("FERRY_DATA_DIR", data_dir)
        .env("FERRY_LOG", "warn")
        // Short leases, so that a killed server's executions are taken over within a test.
        .env("FERRY_WORKER_LEASE", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .envs(env.iter().copied());
    if store.store.kind() == "postgres" {
        command.env("FERRY_DATABASE_URL", &store.url);
    } else {
        command.env_remove("FERRY_DATABASE_URL");
    }
    command.spawn().unwrap()
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard error of a command that must fail: one line, exit status 1.
pub fn failure(output: Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected failure, got {:?}",
        output.status
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    stderr.trim_end().to_string()
}
