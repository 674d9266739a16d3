//! InfluxQL through the node's `/query`, printed as a table (default), CSV or JSON.

use reqwest::Method;
use serde_json::Value;

use super::args::QueryArgs;
use crate::client::{Client, ClientError};

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What the node answers when an InfluxQL statement needs a database and none was given.
const NO_DATABASE: &str = "database name required";

/// Runs InfluxQL `text`.
pub async fn run(c: &Client, text: &str, a: &QueryArgs) -> Result<(), ClientError> {
    let mut form: Vec<(&str, String)> = vec![("q", text.to_string())];
    if let Some(db) = &a.db {
        form.push(("db", db.clone()));
    }
    if let Some(rp) = &a.rp {
        form.push(("rp", rp.clone()));
    }
    if let Some(e) = &a.epoch {
        form.push(("epoch", e.clone()));
    }
    let mut rb = c.request(Method::POST, "/query").form(&form);
    if a.format == "csv" {
        rb = rb.header("Accept", "application/csv");
        let resp = c.send(rb).await?;
        let text = resp.text().await.map_err(|source| ClientError::Connect {
            host: c.host.clone(),
            source,
        })?;
        print!("{text}");
        return Ok(());
    }
    let v = c.json(rb).await?;
    if a.format == "json" {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
    let mut failed = None;
    for r in v["results"].as_array().into_iter().flatten() {
        if let Some(e) = r["error"].as_str() {
            failed = Some(e.to_string());
            continue;
        }
        for s in r["series"].as_array().into_iter().flatten() {
            let mut title = format!("name: {}", s["name"].as_str().unwrap_or(""));
            if let Some(tags) = s["tags"].as_object() {
                let t: Vec<String> = tags
                    .iter()
                    .map(|(k, v)| format!("{k}={}", cell(v)))
                    .collect();
                title.push_str(&format!("\ntags: {}", t.join(", ")));
            }
            let cols: Vec<String> = s["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(cell)
                .collect();
            let rows: Vec<Vec<String>> = s["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| r.as_array().into_iter().flatten().map(cell).collect())
                .collect();
            let mut w: Vec<usize> = cols.iter().map(|c| c.chars().count()).collect();
            for r in &rows {
                for (i, x) in r.iter().enumerate() {
                    if i < w.len() {
                        w[i] = w[i].max(x.chars().count());
                    }
                }
            }
            let line = |r: &[String]| {
                r.iter()
                    .enumerate()
                    .map(|(i, x)| format!("{x:<width$}", width = w.get(i).copied().unwrap_or(0)))
                    .collect::<Vec<_>>()
                    .join(" ")
                    .trim_end()
                    .to_string()
            };
            println!("{title}");
            println!("{}", line(&cols));
            println!(
                "{}",
                line(&w.iter().map(|n| "-".repeat(*n)).collect::<Vec<_>>())
            );
            for r in &rows {
                println!("{}", line(r));
            }
            println!();
        }
    }
    match failed {
        Some(e) if e == NO_DATABASE && a.db.is_none() => Err(ClientError::Usage(format!(
            "{e}: add --db NAME (a bucket's name, or the database of a 1.x mapping: \
             `ferry v1 dbrp list`; `SHOW DATABASES` lists them)"
        ))),
        Some(e) => Err(ClientError::Usage(e)),
        None => Ok(()),
    }
}
