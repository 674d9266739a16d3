//! The `timezone` package and the `location` option: windows aligned on a zone's wall-clock
//! time (Flux's windows in a location), across a daylight-saving change.

mod common;

use common::run::{fails, rows};

const DST: &str = r#"import "array"
import "timezone"
data = array.from(rows: [
  {_time: 2021-03-14T12:00:00Z, _value: 1.0},
  {_time: 2021-03-15T02:00:00Z, _value: 2.0},
]) |> range(start: 2021-03-14T00:00:00Z, stop: 2021-03-16T00:00:00Z)
"#;

#[test]
fn a_day_in_new_york_across_the_change_to_summer_time_lasts_23_hours() {
    // local midnight is 05:00Z in EST and 04:00Z in EDT: 02:00Z on the 15th is still the 14th
    let want = ["_start=2021-03-14T05:00:00Z,_stop=2021-03-15T04:00:00Z,_value=2"];
    let by_argument = format!(
        "{DST}data |> window(every: 1d, location: timezone.location(name: \"America/New_York\")) |> count()"
    );
    assert_eq!(rows(&by_argument, &["_start", "_stop", "_value"]), want);
    let ny = DST.replacen(
        "import \"timezone\"\n",
        "import \"timezone\"\noption location = timezone.location(name: \"America/New_York\")\n",
        1,
    );
    let by_option = format!("{ny}data |> window(every: 1d) |> count()");
    assert_eq!(rows(&by_option, &["_start", "_stop", "_value"]), want);
    // aggregateWindow follows the option too; its empty windows are counted 0
    let agg = format!("{ny}data |> aggregateWindow(every: 1d, fn: count)");
    assert_eq!(
        rows(&agg, &["_time", "_value"]),
        [
            "_time=2021-03-14T05:00:00Z,_value=0",
            "_time=2021-03-15T04:00:00Z,_value=2",
            "_time=2021-03-16T00:00:00Z,_value=0",
        ]
    );
    // in UTC (the default, and timezone.utc) the two points are on two days
    for script in [
        format!("{DST}data |> window(every: 1d) |> count()"),
        format!("{DST}data |> window(every: 1d, location: timezone.utc) |> count()"),
    ] {
        assert_eq!(
            rows(&script, &["_start", "_value"]),
            [
                "_start=2021-03-14T00:00:00Z,_value=1",
                "|",
                "_start=2021-03-15T00:00:00Z,_value=1"
            ]
        );
    }
}

#[test]
fn a_fixed_offset_shifts_the_windows() {
    let script =
        format!("{DST}data |> window(every: 1d, location: timezone.fixed(offset: -2h)) |> count()");
    assert_eq!(
        rows(&script, &["_start", "_stop", "_value"]),
        [
            "_start=2021-03-14T02:00:00Z,_stop=2021-03-15T02:00:00Z,_value=1",
            "|",
            "_start=2021-03-15T02:00:00Z,_stop=2021-03-16T00:00:00Z,_value=1",
        ]
    );
}

#[test]
fn location_records_and_refusals() {
    let show = |expr: &str| {
        rows(
            &format!("import \"array\"\nimport \"timezone\"\narray.from(rows: [{{v: display(v: {expr})}}])"),
            &["v"],
        )
    };
    assert_eq!(
        show("timezone.location(name: \"Europe/Paris\")"),
        ["v={offset: 0s, zone: Europe/Paris}"]
    );
    assert_eq!(
        show("timezone.fixed(offset: -8h)"),
        ["v={offset: -8h, zone: UTC}"]
    );
    assert_eq!(show("timezone.utc"), ["v={offset: 0s, zone: UTC}"]);
    assert_eq!(show("location"), ["v={offset: 0s, zone: UTC}"]);
    let e = fails("import \"timezone\"\nx = timezone.location(name: \"Mars/Olympus\")\nx");
    assert!(
        e.contains("timezone.location: unable to find time zone Mars/Olympus"),
        "{e}"
    );
    let e = fails(&format!(
        "{}data |> window(every: 1d) |> count()",
        DST.replacen(
            "import \"timezone\"\n",
            "import \"timezone\"\nzone = \"Europe/Paris\"\noption location = timezone.location(name: zone)\n",
            1
        )
    ));
    assert!(
        e.contains("option location must not depend on the script's variables"),
        "{e}"
    );
    let e = fails(&format!(
        "{DST}data |> window(every: 1d, location: \"UTC\")"
    ));
    assert!(
        e.contains("window: argument location: expected record but found string"),
        "{e}"
    );
}

#[test]
fn date_functions_read_the_wall_clock_of_the_location() {
    let show = |script: &str| {
        rows(
            &format!("import \"array\"\nimport \"date\"\nimport \"timezone\"\n{script}"),
            &["v"],
        )
    };
    // 2021-03-14T12:00:00Z is 08:00 in New York (EDT) and 13:00 in Paris (CET)
    let t = "2021-03-14T12:00:00Z";
    assert_eq!(
        show(&format!(
            "array.from(rows: [{{v: date.hour(t: {t}, location: timezone.location(name: \"America/New_York\"))}}])"
        )),
        ["v=8"]
    );
    assert_eq!(
        show(&format!(
            "option location = timezone.location(name: \"Europe/Paris\")\narray.from(rows: [{{v: date.hour(t: {t})}}])"
        )),
        ["v=13"]
    );
    // a day truncated in New York starts at its local midnight (EST before the change)
    assert_eq!(
        show(&format!(
            "array.from(rows: [{{v: date.truncate(t: {t}, unit: 1d, location: timezone.location(name: \"America/New_York\"))}}])"
        )),
        ["v=2021-03-14T05:00:00Z"]
    );
    // one day after local midnight of the 14th is local midnight of the 15th: 23 hours later
    assert_eq!(
        show(
            "array.from(rows: [{v: date.add(d: 1d, to: 2021-03-14T05:00:00Z, location: timezone.location(name: \"America/New_York\"))}])"
        ),
        ["v=2021-03-15T04:00:00Z"]
    );
    // truncateTimeColumn follows the option
    assert_eq!(
        rows(
            &format!(
                "{}data |> truncateTimeColumn(unit: 1d)",
                DST.replacen(
                    "import \"timezone\"\n",
                    "import \"timezone\"\noption location = timezone.fixed(offset: 1h)\n",
                    1
                )
            ),
            &["_time"]
        ),
        ["_time=2021-03-13T23:00:00Z", "_time=2021-03-14T23:00:00Z"]
    );
}
