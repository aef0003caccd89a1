//! The first start: on an empty store, create the organization, its owner and an API token,
//! and leave the token where `ferry me:token` on this machine finds it.

use std::io::Write;
use std::path::{Path, PathBuf};

use ferry_store::secrets::MasterKey;
use ferry_store::Store;

use crate::ServerError;

/// The file, in the data directory, holding the bootstrap owner's API token (mode 0600).
pub const TOKEN_FILE: &str = "owner.token";

/// The file, in the data directory, holding the master key when `FERRY_MASTER_KEY` is not set
/// (mode 0600).
pub const MASTER_KEY_FILE: &str = "master.key";

/// The master key that seals secrets: `configured` (from `FERRY_MASTER_KEY`) when given, else
/// the key file in `data_dir`, created on first start.
pub fn master_key(data_dir: &Path, configured: Option<&str>) -> Result<MasterKey, ServerError> {
    if let Some(text) = configured {
        return Ok(MasterKey::decode(text)?);
    }
    let path = data_dir.join(MASTER_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(MasterKey::decode(&text)?),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate();
            write_secret(&path, &key.encode())?;
            tracing::info!(key = %key.id(), file = %path.display(), "created the master key that seals secrets; back it up");
            Ok(key)
        }
        Err(source) => Err(ServerError::DataDir { path, source }),
    }
}

/// Who the first start creates.
#[derive(Debug, Clone)]
pub struct BootstrapOptions {
    /// The organization's name.
    pub organization: String,
    /// The owner's email.
    pub owner_email: String,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            organization: "My Organization".into(),
            owner_email: "owner@localhost".into(),
        }
    }
}

/// The token file's path in `data_dir`.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKEN_FILE)
}

/// Bootstraps an empty store; on a store that already has its organization, does nothing.
pub async fn run(
    store: &Store,
    data_dir: &Path,
    options: &BootstrapOptions,
) -> Result<(), ServerError> {
    let Some(created) = store
        .bootstrap(&options.organization, &options.owner_email)
        .await?
    else {
        tracing::debug!("store already has its organization; nothing to bootstrap");
        return Ok(());
    };
    let path = token_path(data_dir);
    write_secret(&path, &created.token)?;
    tracing::info!(
        organization = %created.organization.name,
        owner = %created.owner.email,
        token_file = %path.display(),
        "first start: created the organization and its owner; get the owner's API token with \
         `export FERRY_API_KEY=$(ferry me:token)`"
    );
    Ok(())
}

/// Writes `secret` to `path`, readable by its owner only.
fn write_secret(path: &Path, secret: &str) -> Result<(), ServerError> {
    let err = |source| ServerError::DataDir {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    file.write_all(format!("{secret}\n").as_bytes())
        .map_err(err)?;
    file.sync_all().map_err(err)
}
