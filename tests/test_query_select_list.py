"""Differential tests of the select list as influxd 1.6 reads and compiles it, before it
reads any data: constants (`SELECT v, 1` is an error, not a constant column), comparison
and logical operators (a parse error in a select list), regexes that select the fields and
tags they match (`SELECT /usage/`, `mean(/usage/)`, `derivative(/usage/)`) and the tags to
group by (`GROUP BY /reg/`), transformations inside arithmetic and beside aggregates
(`non_negative_derivative(mean(x), 1s) * 8`), and the columns' names. Run on the ties data
of test_query_ties.py (docs/ARCHITECTURE.md, InfluxQL, "The select list")."""

from __future__ import annotations

import json

import pytest

from test_query import ask, peers, same  # noqa: F401 (fixture)
from test_query_ties import R, TDB, tpeers  # noqa: F401 (fixture)


def same_answer(pair, q):
    """Ferry's and influxd's answers to `q`, errors included: the same status and document."""
    ferry, influx = pair
    a = ask(ferry.url, q, token=ferry.token, db=TDB)
    b = ask(influx.url, q, db=TDB)
    assert a.status_code == b.status_code, (q, a.text, b.text)
    same(a.json(), b.json())
    return b.json()


# A field that reads nothing once 1.6 has folded its constants is refused, in the order 1.6
# compiles the fields (an earlier call's own error first); an operation on two constants it
# cannot fold is refused with its own error; `now()` is no field's.
CONSTANTS = [
    "SELECT v, 1 FROM wk",
    "SELECT 1 FROM wk",
    "SELECT 1 FROM nosuch",
    "SELECT v, 'a' FROM wk",
    "SELECT v, true FROM wk",
    "SELECT v, 2s FROM wk",
    "SELECT v, (1) FROM wk",
    "SELECT v, -1 FROM wk",
    "SELECT distinct(v), 1 FROM wk",
    "SELECT 1, distinct(v) FROM wk",
    "SELECT count(v), 1 FROM wk",
    "SELECT mean(v), 1 FROM wk",
    "SELECT top(v, 2), 1 FROM wk",
    "SELECT mean(v, 1), 1 FROM wk",
    "SELECT 1, mean(v, 1) FROM wk",
    "SELECT max(v) FROM (SELECT v, 1 FROM wk)",
    "SELECT v, 'a' FROM wk WHERE time > now() GROUP BY time(1m)",
    "SELECT 1 + 1 FROM wk",
    "SELECT v, 1.5 + 2 FROM wk",
    "SELECT v, 'a' + 'b' FROM wk",
    "SELECT v, 2s - 1s FROM wk",
    "SELECT v, 1 + 2s FROM wk",
    "SELECT sin(1.3) FROM wk",
    "SELECT v, pow(2, 3) FROM wk",
    "SELECT 2s + 1 FROM wk",
    "SELECT v, 1 + 'a' FROM wk",
    "SELECT v, 'a' + 1 FROM wk",
    "SELECT v, 1 + true FROM wk",
    "SELECT v, true + true FROM wk",
    "SELECT now() FROM wk",
    "SELECT v, now() FROM wk",
    # what stays allowed
    "SELECT v + 1 FROM wk",
    "SELECT v + (1) FROM wk",
    "SELECT (v + 1) * (2) FROM wk",
    "SELECT pow(v, 2), pow(2, v) FROM wk",
    "SELECT mean(v) + 1 FROM wk",
    "SELECT derivative(1) FROM wk",
]

# Comparison and logical operators are refused by 1.6's parser in a select list, the field
# they stand in named by its position (the last one found outside another)
OPERATORS = [
    "SELECT v < 1 FROM wk",
    "SELECT v, true AND false FROM wk",
    "SELECT v =~ /a/ FROM wk",
    "SELECT v OR w FROM wk",
    "SELECT (v = 1) FROM wk",
    "SELECT mean(v = 1) FROM wk",
    "SELECT (v = 1) + (w < 2) FROM wk",
    "SELECT v FROM wk WHERE v + (1 = 1) > 0",
]

# A regex in the select list is `*` of the fields and tags whose names it matches; in a
# call, one call per matching field
REGEX_FIELDS = [
    "SELECT /w/ FROM wk",
    "SELECT /o/ FROM wk",
    "SELECT /^[vh]/ FROM wk",
    "SELECT v, /w/ FROM wk",
    "SELECT /w/, v FROM wk",
    "SELECT /w/ AS x FROM wk",
    "SELECT /zz/ FROM wk",
    "SELECT *, /w/ FROM wk",
    "SELECT /w/ FROM wk GROUP BY host",
    "SELECT /w|host/ FROM wk GROUP BY host",
    "SELECT /w/ + 1 FROM wk",
    "SELECT max(v), /w/ FROM wk",
    "SELECT /w/ FROM (SELECT v, w FROM wk)",
    "SELECT /v/ FROM wk, one",
    "SELECT /./ FROM m",
    "SELECT /./ FROM /m|d/",
    "SELECT /v/ FROM m WHERE host = 'a'",
    "SELECT /host/ FROM m",
    "SELECT /v/::field FROM m",
    "SELECT /(?i)V/ FROM m",
    "SELECT mean(/w/) FROM wk",
    "SELECT mean(/v/) AS x FROM m",
    "SELECT max(/./) FROM m",
    "SELECT count(/./) FROM m",
    "SELECT count(/nomatch/) FROM m",
    "SELECT first(/./), last(/n/) FROM m",
    "SELECT mean(/v/), /n/ FROM m",
    "SELECT top(/w/, 2) FROM wk",
    "SELECT distinct(/s/) FROM m",
    "SELECT count(distinct(/s/)) FROM m",
    "SELECT percentile(/./, 50) FROM m",
    f"SELECT mean(/v|n/) FROM m WHERE {R} GROUP BY time(2s)",
    "SELECT mean(/v/) FROM (SELECT v, n FROM m)",
    "SELECT derivative(/w/) FROM wk",
    f"SELECT derivative(mean(/v/), 1s) FROM m WHERE {R} GROUP BY time(2s)",
]


# A transformation is a value like any other inside arithmetic (Grafana's bits per second:
# `non_negative_derivative(mean(x), 1s) * 8`), and an aggregate may stand beside it: each
# call computed on its own, joined on time, a selector's row without GROUP BY time dated at
# the range's start as when calls are several
TRANSFORM_EXPRESSIONS = [
    f"SELECT derivative(mean(v), 1s) * 8 FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT non_negative_derivative(max(n), 1s) * 8 FROM m WHERE {R} GROUP BY time(2s), host",
    f"SELECT difference(max(v)) + 1 FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT derivative(mean(v), 1s) - derivative(mean(n), 1s) FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT derivative(mean(v)) / mean(v) * 100 FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT difference(max(n)) * count(n) FROM m WHERE {R} GROUP BY time(2s), host SLIMIT 2",
    "SELECT derivative(v) * 2 FROM m WHERE host = 'a'",
    "SELECT abs(derivative(v)) FROM m WHERE host = 'a'",
    "SELECT 1 - difference(n) FROM m WHERE host = 'a'",
    "SELECT difference(n) + difference(n) FROM m WHERE host = 'a'",
    "SELECT difference(n) * 2, derivative(v) FROM m WHERE host = 'a'",
    "SELECT cumulative_sum(n) * 1.5 AS x FROM m WHERE host = 'a'",
    "SELECT difference(v) + 1 FROM m WHERE host = 'a' ORDER BY time DESC LIMIT 2",
    "SELECT (difference(n) + 1) * 2 FROM m GROUP BY host SLIMIT 2",
    f"SELECT derivative(mean(v)), mean(v) FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT mean(v), derivative(mean(v)) FROM m WHERE {R} GROUP BY time(1s)",
    f"SELECT derivative(mean(v)), mean(v) FROM m WHERE {R} GROUP BY time(1s) LIMIT 2 OFFSET 1",
    f"SELECT derivative(mean(v)), mean(v) FROM m WHERE {R} GROUP BY time(1s) ORDER BY time DESC LIMIT 2",
    f"SELECT derivative(mean(v)), mean(v) FROM m WHERE {R} GROUP BY time(1s) fill(0)",
    "SELECT derivative(mean(v)), mean(v) FROM m WHERE time >= 1700006396000000000 AND "
    "time < 1700006406000000000 GROUP BY time(2s) fill(none)",
    f"SELECT derivative(mean(v)), max(v) FROM m WHERE {R} GROUP BY time(2s), region",
    f"SELECT cumulative_sum(count(v)), count(v) FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT derivative(mean(v)), percentile(v, 50) FROM m WHERE {R} GROUP BY time(2s)",
    "SELECT derivative(v), mean(v) FROM m WHERE host = 'a'",
    f"SELECT derivative(v), mean(v) FROM m WHERE {R} AND host = 'a'",
    "SELECT derivative(v), max(v) FROM m WHERE host = 'a'",
    "SELECT elapsed(v), last(v) FROM m WHERE host = 'a'",
    "SELECT derivative(v), mean(v) FROM m GROUP BY host SLIMIT 2",
    "SELECT derivative(v) + mean(v) FROM m WHERE host = 'a'",
    "SELECT difference(n), count(n) FROM m WHERE host = 'a' ORDER BY time DESC",
    # refused as 1.6 refuses them
    "SELECT moving_average(v, 2) + v FROM m WHERE host = 'a'",
    f"SELECT derivative(mean(v)), v FROM m WHERE {R} GROUP BY time(2s)",
    f"SELECT derivative(mean(v)), top(v, 2) FROM m WHERE {R} GROUP BY time(2s)",
    "SELECT derivative(v), distinct(v) FROM m",
    "SELECT derivative(mean(v)), mean(v) FROM m",
    "SELECT derivative(*) * 2 FROM m WHERE host = 'a'",
]

# Aliases are names as written, equal ones too; a generated name is made unique against
# the aliases and the names before it
COLUMN_NAMES = [
    "SELECT mean(v) AS d, max(v) AS d FROM m",
    "SELECT mean(v), mean(v) AS mean FROM m",
    "SELECT mean(v) AS mean, mean(v) FROM m",
    "SELECT mean(v), mean(v), mean(v) AS mean_1 FROM m",
    "SELECT derivative(v) AS d, difference(v) AS d FROM m WHERE host = 'a'",
    f"SELECT derivative(mean(v)) AS d, mean(v) AS d FROM m WHERE {R} GROUP BY time(2s)",
    "SELECT top(v, 2) AS t, v AS t FROM m",
    "SELECT v AS n, n FROM m",
    "SELECT abs(1) + v FROM wk",
]

# `GROUP BY /re/` groups by the tags whose keys match; `*` beside it is the fields alone
GROUP_BY_REGEX = [
    "SELECT mean(v) FROM m GROUP BY /reg/",
    "SELECT mean(v) FROM m GROUP BY /^h/, region",
    "SELECT mean(v) FROM m GROUP BY /nomatch/",
    f"SELECT mean(v) FROM m WHERE {R} GROUP BY time(2s), /./",
    "SELECT v FROM m GROUP BY /reg/ LIMIT 1",
    "SELECT * FROM m GROUP BY /reg/ LIMIT 1",
    "SELECT * FROM m, d GROUP BY /reg/ LIMIT 1",
    "SELECT mean(v) FROM m, d GROUP BY /reg/",
    "SELECT top(v, 1) FROM m GROUP BY /reg/",
    "SELECT derivative(v) FROM m WHERE host = 'a' GROUP BY /reg/",
    "SELECT mean(v) FROM m GROUP BY /reg/ SLIMIT 1",
    f"SELECT derivative(mean(v)) FROM m WHERE {R} GROUP BY time(2s), /reg/",
]


@pytest.mark.parametrize(
    "q", CONSTANTS + OPERATORS + REGEX_FIELDS + TRANSFORM_EXPRESSIONS + COLUMN_NAMES + GROUP_BY_REGEX
)
def test_select_list_same_as_influxd(tpeers, q):
    same_answer(tpeers, q)


def test_a_regex_sample_reads_the_matching_fields(tpeers):
    """sample() picks at random (in 1.6 too): one column per matching field, each with its
    own two rows in each series (a row where the other field's sample has none holds null
    there)."""
    ferry, _ = tpeers
    q = "SELECT sample(/v|w/, 2) FROM wk GROUP BY host"
    got = ask(ferry.url, q, token=ferry.token, db=TDB).json()
    series = got["results"][0]["series"]
    assert len(series) == 8, got
    for one in series:
        assert one["columns"] == ["time", "sample_v", "sample_w"], got
        for col in (1, 2):
            assert sum(row[col] is not None for row in one["values"]) == 2, got


@pytest.mark.parametrize(
    "q", CONSTANTS + OPERATORS + REGEX_FIELDS + TRANSFORM_EXPRESSIONS + COLUMN_NAMES + GROUP_BY_REGEX
)
def test_select_list_chunked_same_as_influxd(tpeers, q):
    """The same statements answered in chunks of 5 rows (a raw SELECT streams: its compile
    errors must still be the whole answer)."""
    ferry, influx = tpeers
    a = ask(ferry.url, q, token=ferry.token, db=TDB, chunked="true", chunk_size="5")
    b = ask(influx.url, q, db=TDB, chunked="true", chunk_size="5")
    assert a.status_code == b.status_code, (q, a.text, b.text)
    same([json.loads(x) for x in a.text.splitlines() if x.strip()],
         [json.loads(x) for x in b.text.splitlines() if x.strip()])
