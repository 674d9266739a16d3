//! Config profiles: named connections (`ferry config create|list|use|delete`), stored as JSON
//! in `$FERRY_CONFIGS_PATH` (default `~/.ferry/configs`), written atomically with mode 0600.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One named connection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    /// Profile name.
    pub name: String,
    /// Node URL.
    pub host: String,
    /// Org name.
    pub org: String,
    /// API token.
    pub token: String,
    /// Whether this is the active profile.
    pub active: bool,
}

/// Errors reading or writing profiles.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read or written.
    #[error("config file {path}: {source}")]
    Io {
        /// the file
        path: PathBuf,
        /// why
        source: std::io::Error,
    },
    /// The file is not valid JSON of profiles.
    #[error("config file {path} is damaged: {source}; fix or delete it")]
    Parse {
        /// the file
        path: PathBuf,
        /// why
        source: serde_json::Error,
    },
    /// No profile with that name.
    #[error("no config named {0:?}; see `ferry config list`")]
    Unknown(String),
    /// A profile with that name exists.
    #[error("a config named {0:?} already exists; delete it first")]
    Exists(String),
}

/// The profiles file: its path and content.
pub struct Profiles {
    path: PathBuf,
    /// All profiles.
    pub list: Vec<Profile>,
}

/// Where profiles live when no path is given.
pub fn default_path() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".ferry").join("configs")
}

impl Profiles {
    /// Loads the profiles (none when the file does not exist).
    pub fn load(path: Option<&Path>) -> Result<Profiles, ProfileError> {
        let path = path.map(Path::to_path_buf).unwrap_or_else(default_path);
        let list = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| ProfileError::Parse {
                path: path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(ProfileError::Io { path, source }),
        };
        Ok(Profiles { path, list })
    }

    /// Writes the profiles back (tmp file + rename; owner-only permissions).
    pub fn save(&self) -> Result<(), ProfileError> {
        let io = |source| ProfileError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let data = serde_json::to_vec_pretty(&self.list).expect("profiles serialize");
        // owner-only from its creation: the file holds tokens
        ferry_fs::atomic_write(&self.path, &data, ferry_fs::Access::OwnerOnly)
            .map_err(|e| io(e.into()))
    }

    /// The profile named `name`, or the active one.
    pub fn pick(&self, name: Option<&str>) -> Result<Option<&Profile>, ProfileError> {
        match name {
            Some(n) => self
                .list
                .iter()
                .find(|p| p.name == n)
                .map(Some)
                .ok_or_else(|| ProfileError::Unknown(n.into())),
            None => Ok(self.list.iter().find(|p| p.active)),
        }
    }

    /// Adds a profile; the first one, or one created with `active`, becomes active.
    pub fn add(&mut self, mut p: Profile) -> Result<(), ProfileError> {
        if self.list.iter().any(|x| x.name == p.name) {
            return Err(ProfileError::Exists(p.name));
        }
        if self.list.is_empty() {
            p.active = true;
        }
        if p.active {
            self.list.iter_mut().for_each(|x| x.active = false);
        }
        self.list.push(p);
        Ok(())
    }

    /// Makes `name` the active profile.
    pub fn activate(&mut self, name: &str) -> Result<(), ProfileError> {
        if !self.list.iter().any(|x| x.name == name) {
            return Err(ProfileError::Unknown(name.into()));
        }
        self.list.iter_mut().for_each(|x| x.active = x.name == name);
        Ok(())
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) -> Result<Profile, ProfileError> {
        let i = self
            .list
            .iter()
            .position(|x| x.name == name)
            .ok_or_else(|| ProfileError::Unknown(name.into()))?;
        Ok(self.list.remove(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, active: bool) -> Profile {
        Profile {
            name: name.into(),
            host: "http://h".into(),
            org: "o".into(),
            token: "t".into(),
            active,
        }
    }

    #[test]
    fn add_use_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("configs");
        let mut ps = Profiles::load(Some(&path)).unwrap();
        ps.add(p("a", false)).unwrap();
        ps.add(p("b", false)).unwrap();
        assert!(matches!(
            ps.add(p("a", false)),
            Err(ProfileError::Exists(_))
        ));
        ps.save().unwrap();
        let mut ps = Profiles::load(Some(&path)).unwrap();
        assert_eq!(
            ps.pick(None).unwrap().unwrap().name,
            "a",
            "first profile is active"
        );
        ps.activate("b").unwrap();
        assert_eq!(ps.pick(None).unwrap().unwrap().name, "b");
        ps.remove("b").unwrap();
        assert!(ps.pick(None).unwrap().is_none());
        assert!(matches!(ps.pick(Some("zz")), Err(ProfileError::Unknown(_))));
    }
}
