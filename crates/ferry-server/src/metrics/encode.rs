//! Helpers that write one metric family through the Prometheus library's encoder: the
//! collectors of the other files read their subsystem's current values and hand them here.

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// The one series of a family without labels.
pub(crate) fn single<V>(v: V) -> [([(&'static str, &'static str); 0], V); 1] {
    [([], v)]
}

/// One family of `kind`: each series' labels and its metric.
fn family<L: EncodeLabelSet, M: EncodeMetric>(
    enc: &mut DescriptorEncoder,
    (name, help, kind): (&str, &str, MetricType),
    series: impl IntoIterator<Item = (L, M)>,
) -> std::fmt::Result {
    let mut family = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, metric) in series {
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A counter family: the library appends `_total` to `name`.
pub(crate) fn counter<L, V>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, V)>,
) -> std::fmt::Result
where
    L: EncodeLabelSet,
    V: prometheus_client::encoding::EncodeCounterValue,
{
    let metrics = series.into_iter().map(|(l, v)| (l, ConstCounter::new(v)));
    family(enc, (name, help, MetricType::Counter), metrics)
}

/// A gauge family.
pub(crate) fn gauge<L, V>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, V)>,
) -> std::fmt::Result
where
    L: EncodeLabelSet,
    V: prometheus_client::encoding::EncodeGaugeValue,
{
    let metrics = series.into_iter().map(|(l, v)| (l, ConstGauge::new(v)));
    family(enc, (name, help, MetricType::Gauge), metrics)
}

/// An untyped family, whose samples carry `name` exactly: for InfluxDB 2's counters whose
/// names do not end in `_total` (the library would append it to a counter's name, and
/// dashboards made for influxd query those names).
pub(crate) fn untyped<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, u64)>,
) -> std::fmt::Result {
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Unknown)?;
    for (labels, v) in series {
        family.encode_family(&labels)?.encode_gauge(&v)?;
    }
    Ok(())
}
