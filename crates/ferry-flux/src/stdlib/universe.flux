// Universe functions that InfluxDB defines in Flux (stdlib/universe/universe.flux), defined
// the same way on Ferry's builtins and bound with them in every query's universe.

top = (n, columns=["_value"], tables=<-) => tables |> sort(columns: columns, desc: true) |> limit(n: n)

bottom = (n, columns=["_value"], tables=<-) => tables |> sort(columns: columns, desc: false) |> limit(n: n)

timedMovingAverage = (every, period, column="_value", tables=<-) =>
    tables
        |> window(every: every, period: period)
        |> mean(column: column)
        |> duplicate(column: "_stop", as: "_time")
        |> window(every: inf)
