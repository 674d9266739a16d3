//---- valid: universe join on two columns
t1 = from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._field == "used")
t2 = from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._field == "total")

join(tables: {t1: t1, t2: t2}, on: ["_time", "host"], method: "inner")
    |> map(fn: (r) => ({r with _value: float(v: r._value_t1) / float(v: r._value_t2) * 100.0}))
//---- valid: join package outer join with a block body
import "array"
import "join"

left = array.from(rows: [{_time: 2022-01-01T00:00:00Z, _value: 1, label: "a"}])
right = array.from(rows: [{_time: 2022-01-01T00:00:00Z, _value: 0.4, id: "a"}])

join.full(
    left: left,
    right: right,
    on: (l, r) => l.label == r.id and l._time == r._time,
    as: (l, r) => {
        time = if exists l._time then l._time else r._time
        label = if exists l.label then l.label else r.id

        return {_time: time, label: label, v_left: l._value, v_right: r._value}
    },
)
//---- valid: join.time piped with a method
import "join"

a = from(bucket: "b") |> range(start: -1h)
b = from(bucket: "c") |> range(start: -1h)

a |> join.time(right: b, as: (l, r) => ({l with other: r._value}), method: "left")
//---- invalid: join with a record missing a closing brace
join(tables: {t1: t1, t2: t2, on: ["_time"])
//---- valid: stateCount and stateDuration
from(bucket: "b")
    |> range(start: -1h)
    |> stateCount(fn: (r) => r._value > 80.0, column: "over")
    |> stateDuration(fn: (r) => r._value > 80.0, column: "overFor", unit: 1m)
//---- valid: timedMovingAverage and histogramQuantile
from(bucket: "b")
    |> range(start: -1h)
    |> timedMovingAverage(every: 2m, period: 4m)

from(bucket: "prom")
    |> range(start: -1h)
    |> histogramQuantile(quantile: 0.9, countColumn: "_value", upperBoundColumn: "le", minValue: 0.0)
//---- valid: extracting scalars from tables
t = from(bucket: "b") |> range(start: -1h)
first = t |> tableFind(fn: (key) => key._field == "used") |> getRecord(idx: 0)
values = t |> tableFind(fn: (key) => true) |> getColumn(column: "_value")
rec = t |> findRecord(fn: (key) => key.host == "a", idx: 0)
col = t |> findColumn(fn: (key) => key.host == "a", column: "_value")
n = length(arr: values)

t |> filter(fn: (r) => contains(value: r.host, set: ["a", "b"]) and r._value > first._value)
//---- valid: keyValues, display and timezone
import "timezone"

option location = timezone.location(name: "Europe/Paris")

s = display(v: {a: 1, b: [1, 2]})

from(bucket: "b") |> range(start: -1h) |> keyValues(keyColumns: ["host", "region"])
