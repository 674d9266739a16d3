//! Functions that answer several rows per window or transform a series: `top`, `bottom`,
//! `distinct`, `sample` and the transformations (`derivative`, `non_negative_derivative`,
//! `difference`, `non_negative_difference`, `moving_average`, `cumulative_sum`, `elapsed`;
//! the technical-analysis ones of `ta.rs` and the Holt-Winters forecasts of
//! `holt_winters.rs` run here over what those modules compute).
//!
//! Both run the statement's inner query through the plain executor (raw points, or one
//! aggregate per `GROUP BY time` window), then reduce each output series the way 1.6 does.
//! Several transformations in one statement are computed separately (each with its own
//! LIMIT/OFFSET) and joined on time, as 1.6 does. The plain executor comes in as a
//! [`Plain`] from the executor, which calls [`special`].

//!
//! One job a file: `transforms.rs` the transformations, `selectors.rs` the multi-row
//! selectors, `sample.rs` `sample()` beside other calls, `shared.rs` what they share.

mod sample;
mod selectors;
mod shared;
mod transforms;

use crate::ast::{Expr, Select};
use crate::exec::context::Res;
use crate::exec::time::is_time_ref;
use crate::functions::{MULTI_ROW, TRANSFORMS};
use crate::result::Series;
use selectors::multi;
use shared::call_name;
pub(crate) use shared::Plain;
use transforms::{in_expressions, transforms};

/// Whether `e` calls a transformation anywhere outside another call's arguments but a math
/// function's.
fn holds_transform(e: &Expr) -> bool {
    match e {
        Expr::Call(name, args) => {
            TRANSFORMS.contains(&name.as_str())
                || crate::functions::math(name).is_some() && args.iter().any(holds_transform)
        }
        Expr::Binary(l, _, r) => holds_transform(l) || holds_transform(r),
        Expr::Paren(x) => holds_transform(x),
        _ => false,
    }
}

/// Answers the statement when it uses one of this module's functions; `None` otherwise.
pub(crate) fn special(s: &Select, plain: &dyn Plain) -> Option<Res<Vec<Series>>> {
    let names: Vec<Option<&str>> = s.fields.iter().map(|f| call_name(&f.expr)).collect();
    let transform = names.iter().flatten().any(|n| TRANSFORMS.contains(n));
    // a transformation inside arithmetic (`derivative(mean(x), 1s) * 8`)
    let nested = s.fields.iter().any(|f| {
        !call_name(&f.expr).is_some_and(|n| TRANSFORMS.contains(&n)) && holds_transform(&f.expr)
    });
    if nested {
        return Some(in_expressions(s, plain));
    }
    if !transform && !names.iter().flatten().any(|n| MULTI_ROW.contains(n)) {
        return None;
    }
    // A `time` field is the time column every answer has already (1.6 drops it from the
    // fields, as the plain executor does): it is neither a field beside the call nor a
    // second `time` column.
    let without_time;
    let s = if s.fields.iter().any(|f| is_time_ref(&f.expr)) {
        let mut t = s.clone();
        t.fields.retain(|f| !is_time_ref(&f.expr));
        without_time = t;
        &without_time
    } else {
        s
    };
    Some(if transform {
        transforms(s, plain)
    } else {
        multi(s, plain)
    })
}
