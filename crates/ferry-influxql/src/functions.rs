//! The functions the executor implements, by how it answers them: one list that the planner
//! (`exec/plan.rs`), the transformations and selectors (`funcs.rs`) and, outside this crate,
//! the continuous-query importer read, so what is "supported" cannot drift between them.

/// Aggregates a plan computes per window (`exec/plan.rs`).
pub const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "mean",
    "median",
    "min",
    "max",
    "first",
    "last",
    "spread",
    "stddev",
    "mode",
    "percentile",
    "integral",
];

/// Transformations over an inner aggregate or raw series (`funcs.rs`; the technical-analysis
/// ones in `ta.rs`, the Holt-Winters forecasts in `holt_winters.rs`).
pub const TRANSFORMS: &[&str] = &[
    "derivative",
    "non_negative_derivative",
    "difference",
    "non_negative_difference",
    "moving_average",
    "cumulative_sum",
    "elapsed",
    "exponential_moving_average",
    "double_exponential_moving_average",
    "triple_exponential_moving_average",
    "triple_exponential_derivative",
    "relative_strength_index",
    "kaufmans_efficiency_ratio",
    "kaufmans_adaptive_moving_average",
    "chande_momentum_oscillator",
    "holt_winters",
    "holt_winters_with_fit",
];

/// Selectors that return several rows per window (`funcs.rs`).
pub const MULTI_ROW: &[&str] = &["top", "bottom", "distinct", "sample"];

/// Row-wise math (1.6's `query/math.go`), over a field or an aggregate (`exec/expr.rs`):
/// `atan2`, `log` and `pow` take two arguments, the others one.
pub const MATH: &[&str] = &[
    "abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "exp", "floor", "ln", "log", "log2",
    "log10", "pow", "round", "sin", "sqrt", "tan",
];

/// `name` as one of [`MATH`], if it is one.
pub fn math(name: &str) -> Option<&'static str> {
    MATH.iter().copied().find(|m| *m == name)
}

/// Every function a SELECT may call, `now()` included, in the order the lists above give.
pub fn supported() -> impl Iterator<Item = &'static str> {
    AGGREGATES
        .iter()
        .chain(TRANSFORMS)
        .chain(MULTI_ROW)
        .chain(MATH)
        .copied()
        .chain(["now"])
}

/// Whether a SELECT may call `name`.
pub fn is_supported(name: &str) -> bool {
    supported().any(|f| f == name)
}
