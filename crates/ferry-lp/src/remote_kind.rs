//! Which write API a remote speaks: the four HTTP dialects in which Ferry sends line protocol.
//!
//! It lives here, below both the catalog (which stores a remote's kind) and the pipeline
//! (which speaks it), so that the data-movement crates need not compile the catalog's SQLite to
//! name a kind.

/// Which write API a remote speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemoteKind {
    /// InfluxDB 2.x, Cloud, or Ferry: `POST /api/v2/write?org=&bucket=`, `Authorization: Token`.
    #[default]
    V2,
    /// InfluxDB 1.x: `POST /write?db=&rp=` (remote bucket name `db/rp` or `db`), user/password
    /// (Basic) or token.
    V1,
    /// InfluxDB 3: `POST /api/v3/write_lp?db=` with a Bearer token.
    V3,
    /// TDengine taosAdapter: `POST /influxdb/v1/write?db=`, Basic auth.
    Tdengine,
}

impl RemoteKind {
    /// `v2`, `v1`, `v3` or `tdengine`.
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteKind::V2 => "v2",
            RemoteKind::V1 => "v1",
            RemoteKind::V3 => "v3",
            RemoteKind::Tdengine => "tdengine",
        }
    }

    /// Parses [`RemoteKind::as_str`]'s names (also `influxdb2`, `influxdb1`, `influxdb3`, `ferry`, `cloud`).
    pub fn parse(s: &str) -> Option<RemoteKind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "v2" | "influxdb2" | "cloud" | "ferry" => RemoteKind::V2,
            "v1" | "influxdb1" => RemoteKind::V1,
            "v3" | "influxdb3" => RemoteKind::V3,
            "tdengine" | "taosadapter" => RemoteKind::Tdengine,
            _ => return None,
        })
    }
}
