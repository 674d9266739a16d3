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

use crate::ast::Select;
use crate::exec::context::Res;
use crate::functions::{MULTI_ROW, TRANSFORMS};
use crate::result::Series;
use selectors::multi;
use shared::call_name;
pub(crate) use shared::Plain;
use transforms::transforms;

/// Answers the statement when it uses one of this module's functions; `None` otherwise.
pub(crate) fn special(s: &Select, plain: &dyn Plain) -> Option<Res<Vec<Series>>> {
    let names: Vec<Option<&str>> = s.fields.iter().map(|f| call_name(&f.expr)).collect();
    if names.iter().flatten().any(|n| TRANSFORMS.contains(n)) {
        return Some(transforms(s, plain));
    }
    if names.iter().flatten().any(|n| MULTI_ROW.contains(n)) {
        return Some(multi(s, plain));
    }
    None
}
