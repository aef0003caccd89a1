//! Where the CLI finds its server and token: flags and environment first, then the stored
//! login (`<config dir>/ferry/credentials.json`, mode 0600), then, on the server's own
//! machine, the bootstrap owner's token in `FERRY_DATA_DIR` (`./ferry-data` by default).

use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The server URL used when nothing names one.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8420";

/// A stored login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Login {
    /// The server's base URL.
    pub url: String,
    /// The API token.
    pub token: String,
}

fn login_path() -> anyhow::Result<PathBuf> {
    let dir =
        dirs::config_dir().context("cannot find the user's config directory (is HOME set?)")?;
    Ok(dir.join("ferry").join("credentials.json"))
}

/// The stored login, if any.
pub fn stored() -> anyhow::Result<Option<Login>> {
    let path = login_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let login = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a Ferry login file", path.display()))?;
            Ok(Some(login))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Stores a login, readable by the user only; returns where.
pub fn store(login: &Login) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    let path = login_path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(serde_json::to_string_pretty(login)?.as_bytes())?;
    Ok(path)
}

/// Removes the stored login; says whether there was one.
pub fn forget() -> anyhow::Result<bool> {
    let path = login_path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// The bootstrap owner's token from the data directory, if this is the server's machine.
pub fn bootstrap_token() -> Option<String> {
    let dir = std::env::var_os("FERRY_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("./ferry-data"));
    let text = std::fs::read_to_string(ferry_server::bootstrap::token_path(&dir)).ok()?;
    let token = text.trim().to_string();
    (!token.is_empty()).then_some(token)
}
