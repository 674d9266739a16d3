// Package influxdata/influxdb/schema (and its older alias influxdata/influxdb/v1), written in
// Flux as InfluxDB's schema.flux is. `_distinctColumn(column: c)` is `keep(columns: [c]) |>
// group() |> distinct(column: c)` and `_distinctKeys()` is `keys() |> keep(columns:
// ["_value"]) |> group() |> distinct()` (stdlib/schema.rs), answered from the series of a
// storage read without building its tables.

tagValues = (bucket, tag, predicate=(r) => true, start=-30d, stop=now()) =>
    from(bucket: bucket)
        |> range(start: start, stop: stop)
        |> filter(fn: predicate)
        |> _distinctColumn(column: tag)

measurementTagValues = (bucket, measurement, tag, start=-30d, stop=now()) =>
    tagValues(
        bucket: bucket,
        tag: tag,
        predicate: (r) => r._measurement == measurement,
        start: start,
        stop: stop,
    )

tagKeys = (bucket, predicate=(r) => true, start=-30d, stop=now()) =>
    from(bucket: bucket)
        |> range(start: start, stop: stop)
        |> filter(fn: predicate)
        |> _distinctKeys()

measurementTagKeys = (bucket, measurement, start=-30d, stop=now()) =>
    tagKeys(
        bucket: bucket,
        predicate: (r) => r._measurement == measurement,
        start: start,
        stop: stop,
    )

fieldKeys = (bucket, predicate=(r) => true, start=-30d, stop=now()) =>
    tagValues(bucket: bucket, tag: "_field", predicate: predicate, start: start, stop: stop)

measurementFieldKeys = (bucket, measurement, start=-30d, stop=now()) =>
    fieldKeys(
        bucket: bucket,
        predicate: (r) => r._measurement == measurement,
        start: start,
        stop: stop,
    )

measurements = (bucket, start=-30d, stop=now()) =>
    tagValues(bucket: bucket, tag: "_measurement", start: start, stop: stop)

// v1.databases(): the buckets as 1.x databases (each bucket's default mapping is
// database = its name, retention policy "autogen").
databases = (org="", host="", token="") =>
    buckets()
        |> map(
            fn: (r) =>
                ({
                    organizationID: r.organizationID,
                    databaseName: r.name,
                    retentionPolicy: "autogen",
                    retentionPeriod: r.retentionPeriod,
                    default: true,
                    bucketId: r.id,
                }),
        )

// fieldsAsCols(): each row's fields as columns, as InfluxDB defines it.
fieldsAsCols = (tables=<-) =>
    tables
        |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
