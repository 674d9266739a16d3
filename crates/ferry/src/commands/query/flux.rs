//! Flux through `/api/v2/query`: annotated CSV printed raw (`--raw`) or as one table per
//! group key, as the influx CLI prints them (`Result:`, `Table: keys: […]`, `name:type`
//! headers).

use std::io::Write;

use reqwest::Method;

use crate::client::{Client, ClientError};

/// Runs Flux `text` in the client's org.
pub async fn run(c: &Client, text: &str, raw: bool) -> Result<(), ClientError> {
    let org_id = c.org_id().await?;
    let body = serde_json::json!({
        "query": text,
        "type": "flux",
        "dialect": {"header": true, "annotations": ["group", "datatype", "default"]},
    });
    let rb = c
        .request(Method::POST, "/api/v2/query")
        .query(&[("orgID", org_id)])
        .json(&body);
    let mut resp = c.send(rb).await?;
    let connect = |source| ClientError::Connect {
        host: c.host.clone(),
        source,
    };
    if raw {
        let mut out = std::io::stdout().lock();
        while let Some(chunk) = resp.chunk().await.map_err(connect)? {
            out.write_all(&chunk)?;
        }
        return Ok(out.flush()?);
    }
    let csv = resp.bytes().await.map_err(connect)?;
    let tables = parse(&csv)?;
    let mut out = std::io::stdout().lock();
    for t in &tables {
        if let Some(message) = &t.error {
            return Err(ClientError::Api {
                status: reqwest::StatusCode::OK,
                message: format!("the query failed while it ran: {message}"),
            });
        }
        print_table(&mut out, t)?;
    }
    Ok(out.flush()?)
}

/// One table of the answer.
#[derive(Debug, Default, PartialEq)]
struct Table {
    result: String,
    /// Column names, types and whether each is in the group key (without the leading
    /// annotation column, `result` and `table`).
    columns: Vec<(String, String, bool)>,
    rows: Vec<Vec<String>>,
    /// An in-stream error table's message.
    error: Option<String>,
}

/// Splits annotated CSV (annotations group, datatype, default; one header per block) into
/// tables: a new block starts at its annotations, a new table where the `table` column
/// changes.
fn parse(body: &[u8]) -> Result<Vec<Table>, ClientError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let bad = |e: csv::Error| ClientError::Api {
        status: reqwest::StatusCode::OK,
        message: format!("the node answered CSV that cannot be read: {e}"),
    };
    let mut tables: Vec<Table> = Vec::new();
    let (mut group, mut types, mut defaults): (Vec<String>, Vec<String>, Vec<String>) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut header: Option<Vec<String>> = None;
    let mut current_table: Option<String> = None;
    for record in reader.records() {
        let record = record.map_err(bad)?;
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        match cells.first().map(String::as_str) {
            Some("#group") => {
                group = cells;
                header = None;
            }
            Some("#datatype") => {
                types = cells;
                header = None;
            }
            Some("#default") => {
                defaults = cells;
                header = None;
            }
            Some(a) if a.starts_with('#') => {}
            _ if header.is_none() => {
                header = Some(cells);
                current_table = None;
            }
            _ => {
                // An empty cell takes its column's #default (InfluxDB leaves `result` empty).
                let cells: Vec<String> = cells
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| match defaults.get(i) {
                        Some(d) if c.is_empty() && i > 0 => d.clone(),
                        _ => c,
                    })
                    .collect();
                let h = header.as_deref().unwrap_or_default();
                let col = |name: &str| h.iter().position(|c| c == name);
                if let (Some(e), true) = (col("error"), col("table").is_none()) {
                    tables.push(Table {
                        error: Some(cells.get(e).cloned().unwrap_or_default()),
                        ..Table::default()
                    });
                    continue;
                }
                let table_id = col("table").and_then(|i| cells.get(i)).cloned();
                if current_table.is_none() || current_table != table_id {
                    current_table = table_id;
                    tables.push(Table {
                        result: col("result")
                            .and_then(|i| cells.get(i))
                            .cloned()
                            .unwrap_or_default(),
                        columns: h
                            .iter()
                            .enumerate()
                            .filter(|(i, n)| is_data_column(*i, n))
                            .map(|(i, n)| {
                                let ty = types.get(i).cloned().unwrap_or_default();
                                let ty = cli_type(&ty).to_string();
                                (n.clone(), ty, group.get(i).is_some_and(|g| g == "true"))
                            })
                            .collect(),
                        ..Table::default()
                    });
                }
                let kept = h
                    .iter()
                    .enumerate()
                    .filter(|(i, n)| is_data_column(*i, n))
                    .map(|(i, _)| cells.get(i).cloned().unwrap_or_default())
                    .collect();
                if let Some(t) = tables.last_mut() {
                    t.rows.push(kept);
                }
            }
        }
    }
    Ok(tables)
}

/// Whether header column `i` named `name` is shown: not the annotation column, `result` or
/// `table`.
fn is_data_column(i: usize, name: &str) -> bool {
    !(i == 0 || name == "result" || name == "table")
}

/// The influx CLI's name for an annotated-CSV datatype (Flux's own type names).
fn cli_type(datatype: &str) -> &str {
    match datatype {
        "double" => "float",
        "long" => "int",
        "unsignedLong" => "uint",
        "boolean" => "bool",
        t if t.starts_with("dateTime") => "time",
        t => t,
    }
}

fn print_table(out: &mut impl Write, t: &Table) -> std::io::Result<()> {
    let keys: Vec<&str> = t
        .columns
        .iter()
        .filter(|c| c.2)
        .map(|c| c.0.as_str())
        .collect();
    writeln!(out, "Result: {}", t.result)?;
    writeln!(out, "Table: keys: [{}]", keys.join(", "))?;
    let heads: Vec<String> = t
        .columns
        .iter()
        .map(|(n, ty, _)| format!("{n}:{ty}"))
        .collect();
    let mut widths: Vec<usize> = heads.iter().map(|h| h.chars().count()).collect();
    for row in &t.rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "{}", line(&heads))?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    writeln!(out, "{}", line(&rule))?;
    for row in &t.rows {
        writeln!(out, "{}", line(row))?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "#group,false,false,true,true,false,false\r\n\
#datatype,string,long,string,string,dateTime:RFC3339,double\r\n\
#default,_result,,,,,\r\n\
,result,table,_measurement,host,_time,_value\r\n\
,,0,cpu,a,2026-01-01T00:00:00Z,1.5\r\n\
,,0,cpu,a,2026-01-01T00:00:10Z,2\r\n\
,,1,cpu,b,2026-01-01T00:00:00Z,3\r\n\
\r\n\
#group,false,false,false\r\n\
#datatype,string,long,long\r\n\
#default,other,,\r\n\
,result,table,n\r\n\
,,0,7\r\n";

    #[test]
    fn splits_blocks_and_tables() {
        let t = parse(ANSWER.as_bytes()).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(
            t[0].columns[0],
            ("_measurement".into(), "string".into(), true)
        );
        assert_eq!(t[0].columns[2], ("_time".into(), "time".into(), false));
        assert_eq!(t[0].rows.len(), 2);
        assert_eq!(
            t[1].rows,
            vec![vec!["cpu", "b", "2026-01-01T00:00:00Z", "3"]]
        );
        assert_eq!(t[2].columns, vec![("n".into(), "int".into(), false)]);
        assert_eq!(t[2].result, "other");
        assert_eq!(t[2].rows, vec![vec!["7"]]);
        let mut out = Vec::new();
        print_table(&mut out, &t[0]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("Result: _result\nTable: keys: [_measurement, host]\n"),
            "{text}"
        );
        assert!(text.contains("_value:float"));
    }

    #[test]
    fn reads_an_error_table() {
        let body = "#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n,error,reference\r\n,\"boom, at 1:2\",\r\n";
        let t = parse(body.as_bytes()).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].error.as_deref(), Some("boom, at 1:2"));
    }
}
