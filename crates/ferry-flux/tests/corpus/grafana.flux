//---- valid: grafana rfc3339 range
from(bucket: "telegraf")
  |> range(start: 2024-05-01T10:00:00Z, stop: 2024-05-01T16:00:00Z)
  |> filter(fn: (r) => r._measurement == "cpu")
//---- valid: grafana rfc3339nano range
from(bucket: "telegraf")
  |> range(start: 2024-05-01T10:00:00.123456789Z, stop: 2024-05-01T16:00:00.987654321Z)
  |> aggregateWindow(every: 1m, fn: mean)
//---- valid: grafana millisecond fraction
from(bucket: "telegraf") |> range(start: 2024-05-01T10:00:00.500Z, stop: 2024-05-01T10:05:00.5Z)
//---- valid: grafana microsecond fraction
from(bucket: "telegraf") |> range(start: 2024-05-01T10:00:00.000001Z, stop: 2024-05-01T10:05:00.123400Z)
//---- valid: grafana offset times
from(bucket: "telegraf") |> range(start: 2024-05-01T10:00:00+02:00, stop: 2024-05-01T10:00:00-05:30)
//---- valid: grafana macros expanded with window
from(bucket: "telegraf")
  |> range(start: 2024-05-01T00:00:00Z, stop: 2024-05-02T00:00:00Z)
  |> filter(fn: (r) => r["_measurement"] == "mem" and r["_field"] == "used")
  |> aggregateWindow(every: 60000ms, fn: mean, createEmpty: false)
  |> yield(name: "mean")
//---- valid: grafana dashboard variable regex
from(bucket: "telegraf")
  |> range(start: 2024-05-01T00:00:00Z, stop: 2024-05-02T00:00:00Z)
  |> filter(fn: (r) => r.host =~ /^(web-1|web-2|db\.local)$/)
//---- valid: grafana set name for legend
from(bucket: "telegraf")
  |> range(start: 2024-05-01T00:00:00Z, stop: 2024-05-02T00:00:00Z)
  |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage_user")
  |> map(fn: (r) => ({_time: r._time, _value: r._value, name: r.host + " " + r.cpu}))
//---- valid: grafana all variable
from(bucket: "telegraf")
  |> range(start: 2024-05-01T00:00:00Z, stop: 2024-05-02T00:00:00Z)
  |> filter(fn: (r) => contains(value: r.host, set: ["a", "b", "c"]))
//---- valid: grafana date only start
from(bucket: "telegraf") |> range(start: 2024-05-01, stop: 2024-05-02)
//---- valid: grafana interval ms
from(bucket: "telegraf") |> range(start: -6h) |> aggregateWindow(every: 20000ms, fn: last)
//---- valid: grafana long duration
from(bucket: "telegraf") |> range(start: -2y6mo) |> aggregateWindow(every: 1mo2w, fn: mean)
//---- valid: grafana nanosecond and microsecond durations
x = 1ns
y = 10us
z = 5µs
w = 1h30m15s500ms
//---- valid: grafana sum by host
from(bucket: "telegraf")
  |> range(start: 2024-05-01T00:00:00Z, stop: 2024-05-01T01:00:00Z)
  |> group(columns: ["host"])
  |> sum()
//---- valid: grafana multi-line map with record braces
from(bucket: "telegraf")
  |> range(start: 2024-05-01T00:00:00Z, stop: 2024-05-01T01:00:00Z)
  |> map(fn: (r) => ({
      r with
      _value: r._value / 1024.0,
      unit: "KiB",
  }))
//---- valid: grafana annotations
from(bucket: "events")
  |> range(start: 2024-05-01T00:00:00Z, stop: 2024-05-01T01:00:00Z)
  |> filter(fn: (r) => r._measurement == "deploys")
  |> keep(columns: ["_time", "_value", "version"])
//---- valid: grafana leap day
from(bucket: "b") |> range(start: 2024-02-29T00:00:00Z, stop: 2024-03-01T00:00:00Z)
//---- invalid: grafana missing offset
from(bucket: "b") |> range(start: 2024-05-01T00:00:00, stop: 2024-05-02T00:00:00Z)
//---- invalid: grafana bad month
from(bucket: "b") |> range(start: 2024-13-01T00:00:00Z)
//---- invalid: grafana not a leap day
from(bucket: "b") |> range(start: 2023-02-29T00:00:00Z)
//---- invalid: grafana hour 24
from(bucket: "b") |> range(start: 2024-01-01T24:00:00Z)
//---- invalid: grafana minutes 60
from(bucket: "b") |> range(start: 2024-01-01T23:60:00Z)
//---- invalid: grafana unquoted template variable
from(bucket: "b") |> range(start: ${__from}, stop: ${__to})
//---- invalid: grafana dollar variable
from(bucket: $bucket) |> range(start: -1h)
//---- valid: grafana day 31 of a 31 day month
x = 2024-12-31T23:59:59.999999999Z
//---- invalid: grafana day 31 of a 30 day month
x = 2024-11-31T00:00:00Z
//---- valid: grafana offset with fraction
x = 2024-01-01T00:00:00.1+05:45
//---- invalid: grafana offset without colon
x = 2024-01-01T00:00:00+0545
//---- invalid: grafana space separator
x = 2024-01-01 00:00:00Z
//---- valid: grafana year 0001
x = 0001-01-01T00:00:00Z
//---- invalid: grafana offset hour out of range
x = 2024-01-01T00:00:00+24:00
//---- valid: grafana negative zero offset
x = 2024-01-01T00:00:00-00:00
//---- valid: grafana fraction 12 digits
x = 2024-01-01T00:00:00.123456789123Z
//---- valid: grafana fraction 7 digits
x = 2024-01-01T00:00:00.1234567Z
