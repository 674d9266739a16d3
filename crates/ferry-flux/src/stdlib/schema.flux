// Package influxdata/influxdb/schema (and its older alias influxdata/influxdb/v1), written in
// Flux over from/range/filter/keep/group/distinct/keys as InfluxDB's schema.flux is. A
// group() before distinct() makes one table of values whatever the input's grouping.

tagValues = (bucket, tag, predicate=(r) => true, start=-30d, stop=now()) =>
    from(bucket: bucket)
        |> range(start: start, stop: stop)
        |> filter(fn: predicate)
        |> keep(columns: [tag])
        |> group()
        |> distinct(column: tag)

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
        |> keys()
        |> keep(columns: ["_value"])
        |> group()
        |> distinct()

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
