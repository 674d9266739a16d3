// Universe functions that InfluxDB defines in Flux (stdlib/universe/universe.flux), defined
// the same way on Ferry's builtins and bound with them in every query's universe.

// `_sortLimit(n, columns, desc)` is `sort(columns, desc) |> limit(n)` without sorting the
// rows past the n-th (stdlib/transform.rs).
top = (n, columns=["_value"], tables=<-) => tables |> _sortLimit(n: n, columns: columns, desc: true)

bottom = (n, columns=["_value"], tables=<-) => tables |> _sortLimit(n: n, columns: columns, desc: false)

timedMovingAverage = (every, period, column="_value", tables=<-) =>
    tables
        |> window(every: every, period: period)
        |> mean(column: column)
        |> duplicate(column: "_stop", as: "_time")
        |> window(every: inf)
