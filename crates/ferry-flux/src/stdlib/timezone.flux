// The `timezone` package's constant InfluxDB writes in Flux (stdlib/timezone/timezone.flux).

utc = {zone: "UTC", offset: 0h}
