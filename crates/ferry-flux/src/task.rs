//! A Flux task's options, read from its script's `option task = {…}` as InfluxDB 2 reads them
//! (from the syntax tree, without running the script): `name` (required), exactly one of
//! `every` (a duration literal) or `cron` (a string), and `offset` (a duration literal).

use crate::ast::{Assignment, Expression, File, Operator, Statement};

/// The options of `option task`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOptions {
    /// `name`.
    pub name: String,
    /// `every`, as duration text (`1h30m`).
    pub every: Option<String>,
    /// `cron`.
    pub cron: Option<String>,
    /// `offset`, as duration text (`-5m` when negative).
    pub offset: Option<String>,
}

/// Why a script's `option task` cannot schedule a task (InfluxDB's texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskOptionsError {
    /// `option task` appears more than once.
    #[error("multiple task options defined")]
    Multiple,
    /// No `option task`.
    #[error("no task options defined")]
    Missing,
    /// `option task = <not a record>`.
    #[error("task options must be a record literal")]
    NotARecord,
    /// An option of the wrong kind of literal: `key` must be `what`.
    #[error("task option {key} must be a {what} literal")]
    WrongLiteral {
        /// The option.
        key: String,
        /// `string` or `duration`.
        what: &'static str,
    },
    /// A required option is absent.
    #[error("missing required option: {0}")]
    MissingOption(&'static str),
    /// Both `cron` and `every`.
    #[error("cannot use both cron and every in task options")]
    CronAndEvery,
}

/// Reads `option task` from `file`, with InfluxDB's error messages.
pub fn options(file: &File) -> Result<TaskOptions, TaskOptionsError> {
    let mut found = None;
    for st in &file.body {
        let Statement::OptionStatement(o) = st else {
            continue;
        };
        let Assignment::VariableAssignment(va) = &o.assignment else {
            continue;
        };
        if va.id.name != "task" {
            continue;
        }
        if found.is_some() {
            return Err(TaskOptionsError::Multiple);
        }
        found = Some(&va.init);
    }
    let Some(init) = found else {
        return Err(TaskOptionsError::Missing);
    };
    let Expression::ObjectExpression(rec) = init else {
        return Err(TaskOptionsError::NotARecord);
    };
    let mut out = TaskOptions {
        name: String::new(),
        every: None,
        cron: None,
        offset: None,
    };
    for p in &rec.properties {
        let key = p.key.name();
        let Some(v) = &p.value else { continue };
        match key {
            "name" => out.name = string(key, v)?,
            "cron" => out.cron = Some(string(key, v)?),
            "every" => out.every = Some(duration(key, v)?),
            "offset" => out.offset = Some(duration(key, v)?),
            _ => {}
        }
    }
    if out.name.is_empty() {
        return Err(TaskOptionsError::MissingOption("name"));
    }
    match (&out.every, &out.cron) {
        (Some(_), Some(_)) => Err(TaskOptionsError::CronAndEvery),
        (None, None) => Err(TaskOptionsError::MissingOption("cron or every")),
        _ => Ok(out),
    }
}

fn string(key: &str, v: &Expression) -> Result<String, TaskOptionsError> {
    match v {
        Expression::StringLiteral(s) => Ok(s.value.clone()),
        _ => Err(TaskOptionsError::WrongLiteral {
            key: key.into(),
            what: "string",
        }),
    }
}

fn duration(key: &str, v: &Expression) -> Result<String, TaskOptionsError> {
    match v {
        Expression::DurationLiteral(d) => Ok(d
            .values
            .iter()
            .map(|p| format!("{}{}", p.magnitude, p.unit))
            .collect()),
        Expression::UnaryExpression(u) if u.operator == Operator::Subtraction => {
            duration(key, &u.argument).map(|d| format!("-{d}"))
        }
        _ => Err(TaskOptionsError::WrongLiteral {
            key: key.into(),
            what: "duration",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The options, or the error's text (what the API answers).
    fn opts(src: &str) -> Result<TaskOptions, String> {
        options(&crate::parse(src).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn task_options_as_influxdb_reads_them() {
        let o = opts("option task = {name: \"d\", every: 1h30m, offset: -5m}\nx = 1").unwrap();
        assert_eq!(o.name, "d");
        assert_eq!(o.every.as_deref(), Some("1h30m"));
        assert_eq!(o.offset.as_deref(), Some("-5m"));
        assert_eq!(
            opts("option task = {name: \"c\", cron: \"0 * * * *\"}")
                .unwrap()
                .cron
                .as_deref(),
            Some("0 * * * *")
        );
        assert_eq!(opts("x = 1").unwrap_err(), "no task options defined");
        assert_eq!(
            opts("option task = {name: \"a\", every: 1m}\noption task = {name: \"b\", every: 1m}")
                .unwrap_err(),
            "multiple task options defined"
        );
        assert_eq!(
            opts("option task = {name: \"a\", every: 1m, cron: \"* * * * *\"}").unwrap_err(),
            "cannot use both cron and every in task options"
        );
        assert_eq!(
            opts("option task = {name: \"a\"}").unwrap_err(),
            "missing required option: cron or every"
        );
    }
}
