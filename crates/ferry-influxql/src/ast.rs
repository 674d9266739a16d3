//! The syntax tree of InfluxQL statements.

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `=`
    Eq,
    /// `!=` / `<>`
    Neq,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `=~`
    EqRegex,
    /// `!~`
    NeqRegex,
    /// `AND`
    And,
    /// `OR`
    Or,
}

/// What a `::type` cast asks an identifier to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// No cast.
    Any,
    /// `::tag`
    Tag,
    /// `::field`, or a field type (`::float`, `::integer`, …: the value cast to it).
    Field(Option<ferry_lp::FieldType>),
}

impl RefKind {
    /// Whether the reference reads a field only (`::field` or a field type).
    pub fn is_field(self) -> bool {
        matches!(self, RefKind::Field(_))
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// An identifier (field, tag or `time`).
    Ref(String, RefKind),
    /// A string literal.
    Str(String),
    /// A float literal.
    Number(f64),
    /// An integer literal.
    Integer(i64),
    /// A duration literal, in nanoseconds.
    Duration(i64),
    /// A boolean literal.
    Bool(bool),
    /// A regular expression literal.
    Regex(String),
    /// `*` (in a select list or a call).
    Wildcard,
    /// A function call.
    Call(String, Vec<Expr>),
    /// A binary operation.
    Binary(Box<Expr>, BinOp, Box<Expr>),
    /// A parenthesized expression.
    Paren(Box<Expr>),
}

impl Expr {
    /// The regex a select-list item reads the fields (and tags) of: `/re/` itself, the
    /// first argument of `f(/re/)`, or of the aggregate a transformation takes
    /// (`derivative(mean(/re/))`); `None` for anything else.
    pub fn field_regex(&self) -> Option<&str> {
        match self {
            Expr::Regex(re) => Some(re),
            Expr::Call(_, args) => match args.first()? {
                Expr::Regex(re) => Some(re),
                Expr::Call(_, inner) => match inner.first()? {
                    Expr::Regex(re) => Some(re),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }
}

/// One item of a select list.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The expression.
    pub expr: Expr,
    /// `AS alias`.
    pub alias: Option<String>,
}

/// A measurement named in FROM, or a regex (`/re/`, `db.rp./re/`) standing for every
/// measurement it matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Database (`db.rp.m` / `db..m`).
    pub db: Option<String>,
    /// Retention policy.
    pub rp: Option<String>,
    /// Measurement name, or the pattern when `regex`.
    pub name: String,
    /// Whether `name` is a regular expression.
    pub regex: bool,
}

/// `fill(...)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Fill {
    /// `fill(null)` (default).
    Null,
    /// `fill(none)`.
    None,
    /// `fill(previous)`.
    Previous,
    /// `fill(linear)`.
    Linear,
    /// `fill(N)`.
    Value(f64, bool),
}

/// GROUP BY dimensions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dimensions {
    /// `time(interval, offset)` in ns.
    pub time: Option<(i64, i64)>,
    /// Tag keys.
    pub tags: Vec<String>,
    /// `GROUP BY *`.
    pub all_tags: bool,
    /// `GROUP BY /re/`: the tag keys each matches.
    pub tag_regexes: Vec<String>,
}

/// A SELECT statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// The select list.
    pub fields: Vec<Field>,
    /// FROM: the measurement the executor reads (the first of `sources`; the innermost
    /// statement's for a subquery).
    pub source: Source,
    /// FROM: every measurement or regex it names (`FROM cpu, /^m/`), in order.
    pub sources: Vec<Source>,
    /// WHERE.
    pub condition: Option<Expr>,
    /// GROUP BY.
    pub dims: Dimensions,
    /// fill().
    pub fill: Fill,
    /// ORDER BY time DESC.
    pub descending: bool,
    /// LIMIT (0 = none).
    pub limit: usize,
    /// OFFSET.
    pub offset: usize,
    /// SLIMIT (0 = none).
    pub slimit: usize,
    /// SOFFSET.
    pub soffset: usize,
    /// `tz('…')`: the zone `GROUP BY time()` aligns to and RFC3339 times are shown in.
    pub location: Option<crate::tz::Location>,
    /// `INTO target`: the answer is written there instead of returned.
    pub into: Option<Target>,
    /// `FROM (SELECT …)`: the rows the statement reads instead of a measurement's (then
    /// `source` is the innermost statement's measurement, which names the answer).
    pub subquery: Option<Box<Select>>,
}

/// The target of `SELECT … INTO`.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Database (`db.rp.m` / `db..m`); the request's when absent.
    pub db: Option<String>,
    /// Retention policy; the request's (or the default) when absent.
    pub rp: Option<String>,
    /// Measurement; `None` for `:MEASUREMENT` (each series keeps its source's name).
    pub measurement: Option<String>,
}

/// `WITH KEY ...` of SHOW TAG VALUES.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyFilter {
    /// `= "k"`
    Eq(String),
    /// `!= "k"`
    Neq(String),
    /// `IN ("a", "b")`
    In(Vec<String>),
    /// `=~ /re/`
    Regex(String, bool),
}

/// What a SHOW … CARDINALITY counts.
#[derive(Debug, Clone, PartialEq)]
pub enum Counted {
    /// SERIES
    Series,
    /// MEASUREMENT
    Measurements,
    /// TAG KEY
    TagKeys,
    /// TAG VALUES … WITH KEY
    TagValues(KeyFilter),
    /// FIELD KEY
    FieldKeys,
}

/// A SHOW statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Show {
    /// SHOW DATABASES
    Databases,
    /// SHOW RETENTION POLICIES [ON db]
    RetentionPolicies {
        /// ON db
        db: Option<String>,
    },
    /// SHOW MEASUREMENTS
    Measurements {
        /// ON db
        db: Option<String>,
        /// WITH MEASUREMENT = x / =~ /re/ (pattern, is regex)
        with: Option<(String, bool)>,
        /// WHERE (on tags: the measurements with a series it holds for)
        condition: Option<Expr>,
        /// LIMIT
        limit: usize,
        /// OFFSET
        offset: usize,
    },
    /// SHOW TAG KEYS
    TagKeys {
        /// ON db
        db: Option<String>,
        /// FROM m, … (empty: no FROM)
        from: Vec<Source>,
        /// WHERE (on tags: the keys of the series it holds for)
        condition: Option<Expr>,
        /// LIMIT
        limit: usize,
        /// OFFSET
        offset: usize,
    },
    /// SHOW TAG VALUES
    TagValues {
        /// ON db
        db: Option<String>,
        /// FROM m, … (empty: no FROM)
        from: Vec<Source>,
        /// WITH KEY
        key: KeyFilter,
        /// WHERE
        condition: Option<Expr>,
        /// LIMIT
        limit: usize,
        /// OFFSET
        offset: usize,
    },
    /// SHOW FIELD KEYS
    FieldKeys {
        /// ON db
        db: Option<String>,
        /// FROM m, … (empty: no FROM)
        from: Vec<Source>,
        /// LIMIT (per measurement)
        limit: usize,
        /// OFFSET (per measurement)
        offset: usize,
    },
    /// SHOW SERIES / MEASUREMENT / TAG KEY / TAG VALUES / FIELD KEY [EXACT] CARDINALITY
    Cardinality {
        /// What is counted.
        of: Counted,
        /// EXACT
        exact: bool,
        /// ON db
        db: Option<String>,
        /// FROM m, … (empty: no FROM)
        from: Vec<Source>,
        /// WHERE (on tags)
        condition: Option<Expr>,
        /// LIMIT (of each answer series' one row)
        limit: usize,
        /// OFFSET (of each answer series' one row)
        offset: usize,
    },
    /// SHOW SERIES
    Series {
        /// ON db
        db: Option<String>,
        /// FROM m, … (empty: no FROM)
        from: Vec<Source>,
        /// WHERE
        condition: Option<Expr>,
        /// LIMIT
        limit: usize,
        /// OFFSET
        offset: usize,
    },
    /// SHOW QUERIES
    Queries,
    /// SHOW CONTINUOUS QUERIES (Ferry has none: a 1.x continuous query is a task here)
    ContinuousQueries,
    /// SHOW SUBSCRIPTIONS (Ferry has none)
    Subscriptions,
    /// SHOW USERS (Ferry has no 1.x users: v1 credentials are tokens)
    Users,
    /// SHOW GRANTS FOR user
    Grants(String),
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// SELECT
    Select(Box<Select>),
    /// SHOW ...
    Show(Show),
    /// CREATE DATABASE name
    CreateDatabase(String),
    /// DROP DATABASE name
    DropDatabase(String),
    /// DROP MEASUREMENT, DROP SERIES, DELETE
    Delete(Delete),
    /// KILL QUERY qid [ON host] (the host is ignored: one node)
    KillQuery(u64),
    /// A statement Ferry parses but does not answer (`EXPLAIN [ANALYZE] SELECT …`, SHOW
    /// STATS, DIAGNOSTICS, SHARDS, SHARD GROUPS): its name and why, for the error.
    Unsupported {
        /// The statement's name.
        name: String,
        /// Why Ferry does not answer it.
        why: &'static str,
    },
}

/// What a deleting statement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteKind {
    /// `DROP MEASUREMENT m`
    DropMeasurement,
    /// `DROP SERIES [FROM …] [WHERE tag conditions]` (every time)
    DropSeries,
    /// `DELETE [FROM …] [WHERE tag and time conditions]`
    Delete,
}

/// A measurement named in the FROM of a deleting statement (no database or retention
/// policy: they apply to every retention policy of the request's database).
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteSource {
    /// A measurement name.
    Name(String),
    /// `/regex/`: every measurement it matches.
    Regex(String),
}

/// `DROP MEASUREMENT`, `DROP SERIES` or `DELETE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    /// Which statement.
    pub kind: DeleteKind,
    /// FROM (DROP MEASUREMENT: its one measurement); empty = every measurement.
    pub sources: Vec<DeleteSource>,
    /// WHERE.
    pub condition: Option<Expr>,
}
