//! `ferry recovery create-operator`: a new all-access token for a stopped node whose
//! operator token was lost (as `influxd recovery auth create-operator`). It works on the
//! files, so it needs no token, only the rights to the data dir: whoever can read the data dir
//! can already read everything in it.

use std::path::{Path, PathBuf};

use ferry_catalog::{all_access, Catalog, NewAuthorization};

/// Where the first start (and this recovery) leaves the operator token: readable by the
/// node's user only.
pub const OPERATOR_TOKEN_FILE: &str = "operator-token";

/// Why no token could be made.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// Not a data dir.
    #[error("{} holds no catalog.sqlite: is it a Ferry data dir?", .0.display())]
    NotADataDir(PathBuf),
    /// The node runs (or another command holds the data dir).
    #[error(transparent)]
    Locked(#[from] ferry_fs::LockError),
    /// The catalog could not be opened or written.
    #[error("the catalog: {0}")]
    Catalog(#[from] ferry_catalog::CatalogError),
    /// The node was never set up: there is no org to give the token to.
    #[error("the node has no organization yet: start it (or run `ferry setup`) instead")]
    NotSetUp,
    /// The token file could not be written.
    #[error(transparent)]
    TokenFile(#[from] TokenFileError),
}

/// `<data-dir>/operator-token` could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct TokenFileError {
    /// The file.
    pub path: PathBuf,
    /// The error from the operating system or parser, as it was reported.
    pub source: std::io::Error,
}

/// Keeps an operator token in `<data-dir>/operator-token` (0600, fsynced): the token must not
/// depend on someone reading the output that announced it (often a journal others may read).
pub fn keep_operator_token(data_dir: &Path, token: &str) -> Result<PathBuf, TokenFileError> {
    let path = data_dir.join(OPERATOR_TOKEN_FILE);
    ferry_catalog::private_file::write(&path, format!("{token}\n").as_bytes()).map_err(
        |source| TokenFileError {
            path: path.clone(),
            source,
        },
    )?;
    Ok(path)
}

/// The token made, and the file it was also written to.
#[derive(Debug)]
pub struct Recovered {
    /// The clear token.
    pub token: String,
    /// `<data-dir>/operator-token` (0600), replaced.
    pub file: PathBuf,
    /// The org it belongs to (its name).
    pub org: String,
}

/// Creates an all-access operator token in the stopped node's catalog, in `org` (a name; the
/// first org when `None`), and writes it to `<data-dir>/operator-token`.
pub fn create_operator(
    data_dir: &Path,
    secret_key_file: Option<&Path>,
    org: Option<&str>,
) -> Result<Recovered, RecoveryError> {
    let catalog_path = data_dir.join("catalog.sqlite");
    if !catalog_path.is_file() {
        return Err(RecoveryError::NotADataDir(data_dir.to_path_buf()));
    }
    let _lock = ferry_fs::DataDirLock::acquire(data_dir)?;
    let key = secret_key_file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| data_dir.join("secret.key"));
    let catalog = Catalog::open(&catalog_path, &key)?;
    let orgs = catalog.list_orgs()?;
    let org = match org {
        Some(name) => orgs.into_iter().find(|o| o.name == name).ok_or_else(|| {
            ferry_catalog::CatalogError::NotFound {
                kind: "organization",
                what: name.to_string(),
            }
        })?,
        None => orgs.into_iter().next().ok_or(RecoveryError::NotSetUp)?,
    };
    let auth = catalog.create_authorization(NewAuthorization {
        org_id: org.id.clone(),
        description: format!(
            "operator token made by `ferry recovery create-operator` at {}",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        permissions: all_access(None),
        token: None,
    })?;
    let token = auth.token.unwrap_or_default();
    let file = keep_operator_token(data_dir, &token)?;
    Ok(Recovered {
        token,
        file,
        org: org.name,
    })
}
