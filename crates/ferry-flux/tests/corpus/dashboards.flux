//---- valid: UI query builder
from(bucket: "telegraf")
  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
  |> filter(fn: (r) => r["_measurement"] == "cpu")
  |> filter(fn: (r) => r["_field"] == "usage_user" or r["_field"] == "usage_system")
  |> filter(fn: (r) => r["cpu"] == "cpu-total")
  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)
  |> yield(name: "mean")
//---- valid: UI injected v option
option v = {timeRangeStart: -1h, timeRangeStop: now(), windowPeriod: 10000ms}

from(bucket: "telegraf") |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
//---- valid: UI injected v option with times
option v = {
  bucket: "",
  timeRangeStart: 2024-03-01T10:00:00Z,
  timeRangeStop: 2024-03-01T11:00:00.000Z,
  windowPeriod: 15s,
  defaultBucket: "telegraf",
  organization: "my-org",
}
from(bucket: v.defaultBucket) |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
//---- valid: single stat last
from(bucket: "telegraf")
  |> range(start: -5m)
  |> filter(fn: (r) => r._measurement == "mem" and r._field == "used_percent")
  |> last()
//---- valid: gauge with map to int
from(bucket: "telegraf")
  |> range(start: -5m)
  |> filter(fn: (r) => r._measurement == "disk" and r._field == "used_percent" and r.path == "/")
  |> map(fn: (r) => ({r with _value: int(v: r._value)}))
  |> last()
//---- valid: table with pivot
from(bucket: "telegraf")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "system")
  |> pivot(rowKey:["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> keep(columns: ["_time", "load1", "load5", "load15", "host"])
  |> sort(columns: ["_time"], desc: true)
//---- valid: heatmap histogram
from(bucket: "telegraf")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage_idle")
  |> histogram(bins: linearBins(start: 0.0, width: 10.0, count: 10))
//---- valid: variable query tag values
import "influxdata/influxdb/v1"
v1.tagValues(bucket: v.bucket, tag: "host", predicate: (r) => true, start: -1d)
//---- valid: measurement field keys
import "influxdata/influxdb/schema"
schema.measurementFieldKeys(bucket: "telegraf", measurement: "cpu")
//---- valid: regex host filter
from(bucket: "telegraf")
  |> range(start: v.timeRangeStart)
  |> filter(fn: (r) => r.host =~ /^(server01|server02)$/)
  |> filter(fn: (r) => r._field !~ /usage_guest.*/)
//---- valid: dashboard variable interpolation
from(bucket: "telegraf")
  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
  |> filter(fn: (r) => r.host == v.hostVar and r._measurement == "${v.measurement}")
//---- valid: rate per second
from(bucket: "telegraf")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "net" and r._field == "bytes_recv")
  |> derivative(unit: 1s, nonNegative: true)
  |> map(fn: (r) => ({r with _value: r._value * 8.0 / 1000000.0}))
//---- valid: percentage computation
from(bucket: "telegraf")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "mem")
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> map(fn: (r) => ({_time: r._time, _value: float(v: r.used) / float(v: r.total) * 100.0}))
//---- valid: alert-style threshold
from(bucket: "telegraf")
  |> range(start: -1m)
  |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage_idle")
  |> map(fn: (r) => ({r with level: if r._value < 10.0 then "crit" else if r._value < 30.0 then "warn" else "ok"}))
//---- valid: count per window empty false
from(bucket: "logs")
  |> range(start: -24h)
  |> filter(fn: (r) => r._measurement == "syslog" and r.severity == "err")
  |> aggregateWindow(every: 1h, fn: count, createEmpty: false)
//---- valid: median and spread
from(bucket: "b") |> range(start: -6h) |> aggregateWindow(every: 10m, fn: median) |> spread()
//---- valid: distinct values
from(bucket: "b") |> range(start: -1h) |> keep(columns: ["host"]) |> distinct(column: "host")
//---- valid: group none then count
from(bucket: "b") |> range(start: -1h) |> group() |> count()
//---- valid: union of three
a = from(bucket: "a") |> range(start: -1h)
b = from(bucket: "b") |> range(start: -1h)
c = from(bucket: "c") |> range(start: -1h)
union(tables: [a, b, c]) |> sort(columns: ["_time"])
//---- valid: comment-heavy script
// Dashboard: system overview
// Owner: ops
from(bucket: "telegraf") // source
  // bound the query
  |> range(start: -1h) // last hour
  |> filter(fn: (r) => r._measurement == "cpu") // only cpu
  // done
//---- valid: elapsed and stateCount
from(bucket: "b") |> range(start: -1h) |> elapsed(unit: 1s) |> stateCount(fn: (r) => r._value > 0)
//---- valid: cumulative sum increase
from(bucket: "b") |> range(start: -1h) |> increase() |> cumulativeSum(columns: ["_value"])
//---- valid: string functions in map
import "strings"
from(bucket: "b") |> range(start: -1h)
  |> map(fn: (r) => ({r with label: strings.joinStr(arr: [r.host, r.region], v: "/")}))
//---- valid: toString conversions
from(bucket: "b") |> range(start: -1h) |> toString() |> map(fn: (r) => ({r with _value: r._value + "!"}))
//---- valid: exists in filter
from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => exists r.host and not exists r.region)
//---- valid: onEmpty keep
from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._value > 100, onEmpty: "keep")
//---- valid: window with offset and period
from(bucket: "b") |> range(start: -1d) |> window(every: 1h, period: 2h, offset: 30m) |> sum()
//---- valid: aggregateWindow with location
import "timezone"
from(bucket: "b") |> range(start: -7d) |> aggregateWindow(every: 1d, fn: mean, location: timezone.location(name: "Europe/Paris"))
//---- valid: calendar windows
from(bucket: "b") |> range(start: -1y) |> aggregateWindow(every: 1mo, fn: sum, timeSrc: "_start")
//---- valid: week windows
from(bucket: "b") |> range(start: -90d) |> aggregateWindow(every: 1w, fn: max)
//---- valid: sample data
import "influxdata/influxdb/sample"
sample.data(set: "airSensor") |> limit(n: 5)
//---- valid: dictionary lookup
import "dict"
levels = ["crit": 2, "warn": 1, "ok": 0]
from(bucket: "b") |> range(start: -1h) |> map(fn: (r) => ({r with lvl: dict.get(dict: levels, key: r.level, default: -1)}))
//---- valid: findColumn
vals = from(bucket: "b") |> range(start: -1h) |> findColumn(fn: (key) => key._field == "x", column: "_value")
vals[0]
//---- valid: keys and keyValues
from(bucket: "b") |> range(start: -1h) |> keys() |> keep(columns: ["_value"])
//---- valid: mode and quantile
from(bucket: "b") |> range(start: -1h) |> quantile(q: 0.95, method: "exact_selector") |> mode()
//---- valid: integral
from(bucket: "b") |> range(start: -1h) |> integral(unit: 1h, interpolate: "linear")
//---- valid: bottom and unique
from(bucket: "b") |> range(start: -1h) |> bottom(n: 2, columns: ["_value"]) |> unique(column: "host")
//---- valid: stddev and sum with columns
from(bucket: "b") |> range(start: -1h) |> stddev(mode: "population") |> sum(column: "_value")
//---- valid: range with integers and stop
from(bucket: "b") |> range(start: 1609459200, stop: 1609462800)
//---- valid: range with now arithmetic via date
import "date"
from(bucket: "b") |> range(start: date.sub(d: 1h, from: now()), stop: now())
