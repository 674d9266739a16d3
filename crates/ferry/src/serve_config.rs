//! `ferry serve --config ferry.toml`: a TOML file whose keys are `ferry serve`'s flag names
//! (`data-dir = "/var/lib/ferry"`, `http-bind = "0.0.0.0:8086"`, `no-auth = false`).
//!
//! Precedence is flag > environment > file > default. The file does not get a parser of its
//! own: each key the command line and the environment left at its default is handed to clap
//! as the flag it names, so a value in the file is checked by the same parser, with the same
//! errors, as the flag (one grammar for durations, sizes and addresses). Unknown keys are
//! refused with their name, so a typo never silently leaves a default in force.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// The serve flags that make no sense inside the file (they select or print the file).
const NOT_IN_FILE: &[&str] = &["config", "print-config", "help", "version"];

/// Why a config file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file {} is not valid TOML: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: toml::de::Error,
    },
    /// A key that is not a `ferry serve` flag.
    #[error("config file {}: unknown key `{key}`{hint} (keys are `ferry serve` flag names, e.g. `data-dir`; `ferry serve --print-config` lists them)", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key as written.
        key: String,
        /// ", did you mean `…`?" when a flag is close.
        hint: String,
    },
    /// A value that is a table, array or date.
    #[error("config file {}: key `{key}` must be a string, a number or a boolean", path.display())]
    BadType {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
}

/// The flags the file may set: every `ferry serve` flag (the global `log-level` included)
/// except those in [`NOT_IN_FILE`].
fn settable(serve: &Command) -> impl Iterator<Item = &Arg> {
    serve.get_arguments().filter(|a| {
        a.get_long()
            .is_some_and(|l| !NOT_IN_FILE.contains(&l) && !a.is_positional())
    })
}

/// `argv` with the file's settings appended as flags, for each key that neither the command
/// line nor the environment set, and the keys so taken from the file. `serve` must be the built `serve` subcommand and `matches`
/// its matches from `argv`.
pub fn merge(
    mut argv: Vec<OsString>,
    serve: &Command,
    matches: &ArgMatches,
    path: &Path,
) -> Result<(Vec<OsString>, Vec<String>), ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let table: toml::Table = text.parse().map_err(|source| ConfigFileError::Parse {
        path: path.to_path_buf(),
        source,
    })?;
    let mut from_file = Vec::new();
    for (key, value) in table {
        let Some(arg) = settable(serve).find(|a| a.get_long() == Some(key.as_str())) else {
            return Err(ConfigFileError::UnknownKey {
                hint: suggestion(serve, &key),
                path: path.to_path_buf(),
                key,
            });
        };
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => {
                return Err(ConfigFileError::BadType {
                    path: path.to_path_buf(),
                    key,
                })
            }
        };
        if matches!(
            matches.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        from_file.push(key.clone());
        if takes_no_value(arg) {
            match text.as_str() {
                "true" => argv.push(format!("--{key}").into()),
                "false" => {}
                _ => argv.push(format!("--{key}={text}").into()), // clap names the error
            }
            continue;
        }
        argv.push(format!("--{key}={text}").into());
    }
    Ok((argv, from_file))
}

fn takes_no_value(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

/// ", did you mean `data-dir`?" for `data_dir` or `datadir`: the flag equal to the key once
/// dashes and underscores are dropped.
fn suggestion(serve: &Command, key: &str) -> String {
    let squash = |s: &str| s.replace(['-', '_'], "").to_ascii_lowercase();
    settable(serve)
        .filter_map(Arg::get_long)
        .find(|l| squash(l) == squash(key))
        .map(|l| format!(", did you mean `{l}`?"))
        .unwrap_or_default()
}

/// The effective configuration as a config file: every key with its value and, in a comment,
/// where the value came from. Hidden values (tokens) are never printed.
pub fn print(serve: &Command, matches: &ArgMatches, from_file: &[String]) -> String {
    let mut out =
        String::from("# ferry serve: the effective configuration (flag > env > file > default)\n");
    for arg in settable(serve) {
        let Some(long) = arg.get_long() else { continue };
        let id = arg.get_id().as_str();
        let source = match matches.value_source(id) {
            _ if from_file.iter().any(|k| k == long) => "file",
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::EnvVariable) => "env",
            Some(ValueSource::DefaultValue) => "default",
            _ => "not set",
        };
        let values: Vec<String> = matches
            .get_raw(id)
            .into_iter()
            .flatten()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if arg.is_hide_set() && source == "default" {
            continue; // a hidden flag (benchmarks only) is listed only when set
        }
        if values.is_empty() {
            out.push_str(&format!("# {long} =   # not set\n"));
        } else if arg.is_hide_env_values_set() {
            out.push_str(&format!("# {long} = (hidden)   # {source}\n"));
        } else {
            let v = values.join(",");
            out.push_str(&format!("{long} = {}   # {source}\n", toml_value(&v)));
        }
    }
    out
}

/// A raw flag value as a TOML value: numbers and booleans bare, everything else quoted.
fn toml_value(raw: &str) -> String {
    if raw == "true" || raw == "false" || raw.parse::<i64>().is_ok() {
        raw.to_string()
    } else {
        toml::Value::String(raw.to_string()).to_string()
    }
}
