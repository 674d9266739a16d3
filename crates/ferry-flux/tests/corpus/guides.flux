//---- valid: downsample task fixed
option task = {name: "downsample", every: 10m}

data = () => from(bucket: "example-bucket")
    |> range(start: -task.every)
    |> filter(fn: (r) => r._measurement == "mem" and r._field == "used_percent")

data()
    |> aggregateWindow(every: task.every, fn: mean)
    |> to(bucket: "example-downsampled-bucket")
//---- valid: downsample task negative every (runtime-only error)
option task = {name: "downsample", every: 10m}

data = () => from(bucket: "example-bucket")
    |> range(start: -task.every)
    |> filter(fn: (r) => r._measurement == "mem" and r._field == "used_percent")

data()
    |> aggregateWindow(every: -task.every, fn: mean)
    |> to(bucket: "example-downsampled-bucket")
//---- invalid: seed script stray bracket
option task = {name: "downsample", every: 10m}

data = () => from(bucket: "example-bucket")
    |> range(start: -task.every)

data()
    |> aggregateWindow(every: task.every, fn: mean)
    |> to(bucket: "example-downsampled-bucket"])
//---- valid: edge replication with types
import "types"
import "influxdata/influxdb/tasks"
import "influxdata/influxdb/secrets"

option task = {name: "replicate", every: 1h, offset: 5m}

numeric = from(bucket: "edge")
    |> range(start: tasks.lastSuccess(orTime: -1h))
    |> filter(fn: (r) => types.isType(v: r._value, type: "float") or types.isType(v: r._value, type: "int"))
    |> aggregateWindow(every: 5m, fn: mean)

nonNumeric = from(bucket: "edge")
    |> range(start: tasks.lastSuccess(orTime: -1h))
    |> filter(fn: (r) => types.isType(v: r._value, type: "string") or types.isType(v: r._value, type: "bool"))
    |> aggregateWindow(every: 5m, fn: last)

token = secrets.get(key: "cloud-token")

union(tables: [numeric, nonNumeric])
    |> to(bucket: "cloud", host: "https://cloud.example.com", org: "my-org", token: token)
//---- valid: import "secrets" is a semantic error only
import "secrets"

token = secrets.get(key: "x")
//---- valid: CQ conversion task
option task = {name: "cq-mean-1h", every: 1h}

from(bucket: "my-db/")
    |> range(start: -task.every)
    |> filter(fn: (r) => r._measurement == "example-measurement")
    |> filter(fn: (r) => r._field == "example-field")
    |> aggregateWindow(every: 1h, fn: mean)
    |> set(key: "_measurement", value: "average-example-measurement")
    |> to(org: "example-org", bucket: "my-db/downsample")
//---- valid: CQ with map and group
option task = {name: "cq", every: 30m, offset: -1m}

from(bucket: "telegraf/autogen")
    |> range(start: -task.every)
    |> filter(fn: (r) => r._measurement == "cpu")
    |> group(columns: ["host"])
    |> map(fn: (r) => ({r with _measurement: "cpu_mean"}))
    |> to(bucket: "telegraf/downsampled")
//---- valid: task with cron
option task = {name: "nightly", cron: "0 0 * * *", retry: 3, concurrency: 1}

from(bucket: "b") |> range(start: -1d) |> count() |> yield(name: "count")
//---- valid: experimental to
import "experimental"

from(bucket: "b")
    |> range(start: -1h)
    |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
    |> experimental.to(bucket: "wide")
//---- valid: tutorial basic query
from(bucket: "example-bucket")
    |> range(start: -1h)
    |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage_system" and r.cpu == "cpu-total")
    |> yield()
//---- valid: window then mean then duplicate
from(bucket: "example-bucket")
    |> range(start: -1h)
    |> filter(fn: (r) => r._measurement == "cpu")
    |> window(every: 5m)
    |> mean()
    |> duplicate(column: "_stop", as: "_time")
    |> window(every: inf)
//---- valid: join two streams
a = from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._field == "a")
b = from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._field == "b")

join(tables: {a: a, b: b}, on: ["_time", "host"], method: "inner")
    |> map(fn: (r) => ({_time: r._time, _value: r._value_a / r._value_b}))
//---- valid: custom aggregate function
p99 = (column="_value", tables=<-) => tables |> quantile(q: 0.99, column: column)

from(bucket: "b")
    |> range(start: -1h)
    |> aggregateWindow(every: 1m, fn: p99)
//---- valid: block-bodied custom function
multByX = (tables=<-, x) => {
    result = tables |> map(fn: (r) => ({r with _value: r._value * x}))
    return result
}

from(bucket: "b") |> range(start: -1m) |> multByX(x: 2.0)
//---- valid: reduce
from(bucket: "b")
    |> range(start: -1h)
    |> reduce(fn: (r, accumulator) => ({sum: r._value + accumulator.sum, count: accumulator.count + 1}), identity: {sum: 0.0, count: 0})
//---- valid: schema queries
import "influxdata/influxdb/schema"

schema.measurements(bucket: "telegraf")
//---- valid: schema tag values with predicate
import "influxdata/influxdb/schema"

schema.tagValues(bucket: "telegraf", tag: "host", predicate: (r) => r._measurement == "cpu", start: -7d)
//---- valid: v1 databases
import "influxdata/influxdb/v1"

v1.databases()
//---- valid: buckets
buckets()
//---- valid: strings package
import "strings"

from(bucket: "b")
    |> range(start: -1h)
    |> filter(fn: (r) => strings.hasPrefix(v: r.host, prefix: "web"))
    |> map(fn: (r) => ({r with host: strings.toUpper(v: r.host)}))
//---- valid: date truncate
import "date"

now_trunc = date.truncate(t: now(), unit: 1d)

from(bucket: "b") |> range(start: now_trunc)
//---- valid: array from
import "array"

array.from(rows: [{_time: 2021-01-01T00:00:00Z, _value: 1.0}, {_time: 2021-01-01T00:01:00Z, _value: 2.0}])
//---- valid: difference and derivative
from(bucket: "b")
    |> range(start: -1h)
    |> difference(nonNegative: true, columns: ["_value"])
    |> derivative(unit: 1s, nonNegative: true)
//---- valid: fill and timeShift
from(bucket: "b")
    |> range(start: -1h)
    |> fill(usePrevious: true)
    |> timeShift(duration: -1h)
    |> truncateTimeColumn(unit: 1m)
//---- valid: sort limit top
from(bucket: "b")
    |> range(start: -1h)
    |> sort(columns: ["_value"], desc: true)
    |> limit(n: 10, offset: 2)
    |> top(n: 3)
//---- valid: group except and drop
from(bucket: "b")
    |> range(start: -1h)
    |> group(columns: ["_start", "_stop"], mode: "except")
    |> drop(columns: ["_start", "_stop"])
    |> drop(fn: (column) => column =~ /^_/)
//---- valid: rename keep
from(bucket: "b")
    |> range(start: -1h)
    |> rename(columns: {_value: "value", host: "server"})
    |> keep(columns: ["_time", "value"])
//---- valid: histogramQuantile
from(bucket: "b")
    |> range(start: -1h)
    |> filter(fn: (r) => r._measurement == "prometheus" and r._field =~ /bucket/)
    |> histogramQuantile(quantile: 0.95)
//---- valid: stateDuration
from(bucket: "b")
    |> range(start: -1h)
    |> stateDuration(fn: (r) => r._value > 90.0, column: "over", unit: 1m)
//---- valid: profiler option
import "profiler"

option profiler.enabledProfilers = ["query", "operator"]

from(bucket: "b") |> range(start: -1h)
//---- valid: tasks lastSuccess option
import "influxdata/influxdb/tasks"

option tasks.lastSuccessTime = 2024-01-01T00:00:00Z

from(bucket: "b") |> range(start: tasks.lastSuccess(orTime: -1h))
//---- valid: option now
option now = () => 2022-01-01T00:00:00Z

from(bucket: "b") |> range(start: -1h)
//---- valid: option location
import "timezone"

option location = timezone.location(name: "America/Los_Angeles")

from(bucket: "b") |> range(start: -1d) |> aggregateWindow(every: 1d, fn: sum)
//---- valid: two yields
data = from(bucket: "b") |> range(start: -1h)

data |> mean() |> yield(name: "mean")
data |> max() |> yield(name: "max")
//---- valid: tableFind getColumn
x = from(bucket: "b")
    |> range(start: -1h)
    |> tableFind(fn: (key) => key._field == "usage")
    |> getColumn(column: "_value")
//---- valid: findRecord
last = from(bucket: "b")
    |> range(start: -1h)
    |> last()
    |> findRecord(fn: (key) => true, idx: 0)

last._value
//---- valid: movingAverage
from(bucket: "b") |> range(start: -1h) |> movingAverage(n: 5) |> timedMovingAverage(every: 1m, period: 5m)
//---- valid: math package
import "math"

from(bucket: "b")
    |> range(start: -1h)
    |> map(fn: (r) => ({r with _value: math.round(x: r._value * 100.0) / 100.0}))
//---- valid: experimental addDuration
import "experimental"

t = experimental.addDuration(d: 1mo, to: 2021-01-31T00:00:00Z)
//---- valid: display
import "array"

array.from(rows: [{v: display(v: {a: 1, b: [1, 2]})}])
