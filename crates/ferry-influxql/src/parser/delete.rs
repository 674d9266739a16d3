//! `DROP …` and `DELETE`: the statements that delete data (and DROP DATABASE), parsed as
//! InfluxDB 1.6 parses them, with its error texts.

use super::{ParseError, Parser, R};
use crate::ast::*;

impl Parser {
    /// After `DROP`: `DATABASE name`, `MEASUREMENT name`, `SERIES [FROM …] [WHERE …]`.
    pub(super) fn drop_statement(&mut self) -> R<Statement> {
        if self.eat_kw("DATABASE") {
            return Ok(Statement::DropDatabase(self.ident()?));
        }
        if self.eat_kw("MEASUREMENT") {
            return Ok(Statement::Delete(Delete {
                kind: DeleteKind::DropMeasurement,
                sources: vec![DeleteSource::Name(self.ident()?)],
                condition: None,
            }));
        }
        if self.eat_kw("SERIES") {
            return self.delete_body(DeleteKind::DropSeries);
        }
        Err(self.err(&[
            "CONTINUOUS",
            "DATABASE",
            "MEASUREMENT",
            "RETENTION",
            "SERIES",
            "SHARD",
            "SUBSCRIPTION",
            "USER",
        ]))
    }

    /// After `DELETE`: `[FROM …] [WHERE …]`.
    pub(super) fn delete_statement(&mut self) -> R<Statement> {
        self.delete_body(DeleteKind::Delete)
    }

    /// `[FROM m|/re/, …] [WHERE cond]`, at least one of the two.
    fn delete_body(&mut self, kind: DeleteKind) -> R<Statement> {
        let missing = self.err(&["FROM", "WHERE"]);
        let mut sources = Vec::new();
        if self.eat_kw("FROM") {
            // 1.6 checks every source, the retention policy after the database, and
            // reports the last complaint without a position of its own.
            let mut complaint = None;
            loop {
                if self.peek_op("/") {
                    sources.push(DeleteSource::Regex(self.next_regex()?));
                } else {
                    let s = self.source()?;
                    if s.db.is_some() {
                        complaint = Some("database not supported");
                    }
                    if s.rp.is_some() {
                        complaint = Some("retention policy not supported");
                    }
                    sources.push(if s.regex {
                        DeleteSource::Regex(s.name)
                    } else {
                        DeleteSource::Name(s.name)
                    });
                }
                if !self.peek_op(",") {
                    break;
                }
                self.next();
            }
            if let Some(c) = complaint {
                return Err(ParseError(format!("{c} at line 1, char 1")));
            }
        }
        let condition = self.where_opt()?;
        if sources.is_empty() && condition.is_none() {
            return Err(missing);
        }
        Ok(Statement::Delete(Delete {
            kind,
            sources,
            condition,
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::parse_query;

    fn err(q: &str) -> String {
        parse_query(q).unwrap_err().0
    }

    #[test]
    fn parses_deleting_statements() {
        let s = parse_query("DROP MEASUREMENT \"cpu load\"; DROP SERIES FROM cpu, /^m/ WHERE host = 'a'; DELETE WHERE time < now() - 1h").unwrap();
        assert_eq!(
            s[0],
            Statement::Delete(Delete {
                kind: DeleteKind::DropMeasurement,
                sources: vec![DeleteSource::Name("cpu load".into())],
                condition: None,
            })
        );
        let Statement::Delete(d) = &s[1] else {
            panic!("{:?}", s[1])
        };
        assert_eq!(d.kind, DeleteKind::DropSeries);
        assert_eq!(
            d.sources,
            vec![
                DeleteSource::Name("cpu".into()),
                DeleteSource::Regex("^m".into())
            ]
        );
        assert!(d.condition.is_some());
        let Statement::Delete(d) = &s[2] else {
            panic!("{:?}", s[2])
        };
        assert_eq!((d.kind, d.sources.len()), (DeleteKind::Delete, 0));
        assert!(matches!(
            parse_query("DROP DATABASE x").unwrap()[0],
            Statement::DropDatabase(_)
        ));
    }

    #[test]
    fn errors_read_like_influxdb_1_6() {
        assert_eq!(
            err("DROP MEASUREMENT"),
            "found EOF, expected identifier at line 1, char 18"
        );
        assert_eq!(
            err("DROP SERIES"),
            "found EOF, expected FROM, WHERE at line 1, char 13"
        );
        assert_eq!(
            err("DELETE"),
            "found EOF, expected FROM, WHERE at line 1, char 8"
        );
        assert_eq!(
            err("DELETE FROM"),
            "found EOF, expected identifier at line 1, char 13"
        );
        assert_eq!(
            err("DELETE WHERE"),
            "found EOF, expected identifier, string, number, bool at line 1, char 14"
        );
        assert_eq!(
            err("DROP SERIES FROM d..cpu"),
            "database not supported at line 1, char 1"
        );
        assert_eq!(
            err("DELETE FROM d.autogen.cpu"),
            "retention policy not supported at line 1, char 1"
        );
        assert_eq!(
            err("DROP FOO"),
            "found FOO, expected CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, SUBSCRIPTION, USER at line 1, char 6"
        );
    }
}
