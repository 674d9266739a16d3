#!/usr/bin/env bash
# Makes the fixture of tests/test_upgrade.py: a small data dir written by an OLD ferry, plus
# expected.json (what was created in it), as a .tar.gz.
#
#   tests/data/make_old_datadir.sh OLD_FERRY_BINARY OUT.tar.gz
#
# The checked-in tests/data/datadir-388151c.tar.gz was made with the ferry of commit 388151c
# (the last one before the catalog got schema versions):
#
#   git worktree add /tmp/wt-old 388151c
#   (cd /tmp/wt-old && CARGO_TARGET_DIR=/tmp/target-old cargo build --release -p ferry)
#   tests/data/make_old_datadir.sh /tmp/target-old/release/ferry tests/data/datadir-388151c.tar.gz
#
# Everything goes through the old node's HTTP API on 127.0.0.1 (a free port):
#   start 1: points (all field types) -> 2nd bucket with a retention period, a DBRP mapping,
#            a remote (with a token: stored in clear by that release), a replication to it
#            (maxQueueSizeBytes, maxAgeSeconds, addTags, backfillFrom), an org secret, a query
#            task (inactive), an extra token with a few permissions -> SIGTERM (the store
#            persists the points to Parquet)
#   start 2: more points -> SIGKILL (those live only in the bucket log)
# The tarball holds datadir/ (without http-addr and any lock file) and expected.json.
# Needs bash, curl, python3 (stdlib only), tar, gzip.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 OLD_FERRY_BINARY OUT.tar.gz" >&2
    exit 2
fi
FERRY=$(realpath "$1")
OUT=$(realpath -m "$2")
[ -x "$FERRY" ] || { echo "$FERRY is not an executable" >&2; exit 2; }

ORG=upgrade-org
BUCKET=upgrade-bucket
TOKEN=upgrade-operator-token-0123456789abcdef
ARCHIVE=archive-7d
ARCHIVE_RETENTION=604800
REMOTE_TOKEN=old-release-clear-remote-token-5b1f0c
SECRET_KEY=upgrade_secret
SECRET_VALUE=old-release-clear-secret-value-9d27e4
DBRP_DB=legacy_db
DBRP_RP=legacy_rp

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-old-datadir.XXXXXX")
D="$WORK/datadir"
PID=
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

URL=
start() {
    rm -f "$D/http-addr"
    local args=(serve --data-dir "$D" --http-bind 127.0.0.1:0)
    if [ "$1" = init ]; then
        args+=(--init-org "$ORG" --init-bucket "$BUCKET" --init-token "$TOKEN")
    fi
    # a persist interval far longer than the run: only SIGTERM persists
    args+=(--persist-interval-secs 3600)
    # no FERRY_* settings from the caller's environment
    local unset=()
    for v in $(compgen -e | grep '^FERRY_' || true); do unset+=(-u "$v"); done
    env "${unset[@]}" HOME="$WORK" \
        "$FERRY" "${args[@]}" >>"$WORK/ferry.log" 2>&1 </dev/null &
    PID=$!
    for _ in $(seq 1 300); do
        kill -0 "$PID" 2>/dev/null || { cat "$WORK/ferry.log" >&2; echo "old ferry exited" >&2; exit 1; }
        if [ -s "$D/http-addr" ]; then
            URL="http://$(cat "$D/http-addr")"
            if [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/ping")" = 204 ]; then return; fi
        fi
        sleep 0.1
    done
    echo "old ferry did not start" >&2
    exit 1
}
stop() { # stop SIGNAL
    kill "-$1" "$PID"
    wait "$PID" 2>/dev/null || true  # (quiet: "Killed")
    PID=
}

# api METHOD PATH [JSON] -> body on stdout; fails unless the status is 2xx
api() {
    local out code
    out=$(mktemp "$WORK/resp.XXXXXX")
    code=$(curl -sS -o "$out" -w '%{http_code}' -X "$1" -H "Authorization: Token $TOKEN" \
        -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "$URL$2")
    case "$code" in
        2??) cat "$out" ;;
        *) echo "$1 $2 -> $code: $(cat "$out")" >&2; exit 1 ;;
    esac
}
# jget KEY < JSON  (KEY like .id or .buckets.0.id)
jget() {
    python3 -c 'import json,sys
v = json.load(sys.stdin)
for k in sys.argv[1].strip(".").split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}
write_points() { # FILE
    local code
    code=$(curl -sS -o "$WORK/write.out" -w '%{http_code}' -X POST -H "Authorization: Token $TOKEN" \
        --data-binary "@$1" "$URL/api/v2/write?org=$ORG&bucket=$BUCKET&precision=ns")
    [ "$code" = 204 ] || { echo "write -> $code: $(cat "$WORK/write.out")" >&2; exit 1; }
}

# Points: fixed times (2024-03-01T12:00:00Z on), every field type, escapes, a max unsigned.
T=1709294400000000000
cat >"$WORK/persisted.lp" <<EOF
cpu,host=a,region=eu usage=0.5,count=3i,ucount=7u,state="ok",up=true $((T))
cpu,host=b,region=us usage=1.25,count=-4i,ucount=18446744073709551615u,state="warn \"quoted\", comma",up=false $((T + 1000000000))
cpu,host=a,region=eu usage=0.75,count=5i,ucount=0u,state="ok",up=true $((T + 60000000000))
mem,host=a free=1024i,used_pct=12.5 $((T))
disk,host=a,path=/var/lib space_left=17179869184u,healthy=true $((T + 5))
weather,city=new\ york,station=central\,park temp=-3.5,note="snow, light" $((T + 3600000000000))
EOF
cat >"$WORK/log_only.lp" <<EOF
cpu,host=c,region=eu usage=2.5,count=9i,ucount=1u,state="late: héllo ✓",up=false $((T + 7200000000000))
mem,host=b free=2048i,used_pct=50 $((T + 7200000000001))
net,iface=eth0 rx=123u,tx=456u,ok=true,err="" $((T + 7260000000000))
EOF

mkdir -p "$D"
start init
"$FERRY" --version >"$WORK/version" 2>/dev/null || echo unknown >"$WORK/version"

ORG_ID=$(api GET "/api/v2/orgs?org=$ORG" | jget .orgs.0.id)
BUCKET_ID=$(api GET "/api/v2/buckets?org=$ORG&name=$BUCKET" | jget .buckets.0.id)
write_points "$WORK/persisted.lp"

ARCHIVE_ID=$(api POST /api/v2/buckets "{\"orgID\":\"$ORG_ID\",\"name\":\"$ARCHIVE\",\"description\":\"kept a week\",\"retentionRules\":[{\"type\":\"expire\",\"everySeconds\":$ARCHIVE_RETENTION}]}" | jget .id)

DBRP_ID=$(api POST /api/v2/dbrps "{\"orgID\":\"$ORG_ID\",\"bucketID\":\"$BUCKET_ID\",\"database\":\"$DBRP_DB\",\"retention_policy\":\"$DBRP_RP\",\"default\":true}" | jget .id)

REMOTE_ID=$(api POST /api/v2/remotes "{\"orgID\":\"$ORG_ID\",\"name\":\"old-remote\",\"description\":\"nobody listens\",\"remoteURL\":\"http://127.0.0.1:9\",\"remoteAPIToken\":\"$REMOTE_TOKEN\",\"remoteOrgID\":\"0123456789abcdef\"}" | jget .id)

REPLICATION_ID=$(api POST /api/v2/replications "{\"orgID\":\"$ORG_ID\",\"name\":\"old-replication\",\"remoteID\":\"$REMOTE_ID\",\"localBucketID\":\"$BUCKET_ID\",\"remoteBucketName\":\"cloud-bucket\",\"maxQueueSizeBytes\":40000000,\"maxAgeSeconds\":0,\"addTags\":{\"edge\":\"e1\"},\"backfillFrom\":\"2024-01-01T00:00:00Z\"}" | jget .id)

api PATCH "/api/v2/orgs/$ORG_ID/secrets" "{\"$SECRET_KEY\":\"$SECRET_VALUE\"}" >/dev/null

TASK_QUERY='SELECT last(\"usage\") AS \"usage\" FROM \"cpu\" WHERE time >= :start: AND time < :stop: GROUP BY \"host\"'
TASK_ID=$(api POST /api/v2/tasks "{\"orgID\":\"$ORG_ID\",\"name\":\"old-query-task\",\"description\":\"last usage per host\",\"status\":\"inactive\",\"every\":\"1h\",\"offset\":\"5m\",\"kind\":\"query\",\"latestCompleted\":\"2024-01-01T00:00:00Z\",\"spec\":{\"query\":\"$TASK_QUERY\",\"database\":\"$DBRP_DB\",\"measurement\":\"cpu_last\",\"destination\":{\"bucket\":\"$BUCKET\"}}}" | jget .id)

AUTH=$(api POST /api/v2/authorizations "{\"orgID\":\"$ORG_ID\",\"description\":\"old extra token\",\"permissions\":[{\"action\":\"read\",\"resource\":{\"type\":\"buckets\",\"orgID\":\"$ORG_ID\",\"id\":\"$BUCKET_ID\"}},{\"action\":\"write\",\"resource\":{\"type\":\"buckets\",\"orgID\":\"$ORG_ID\",\"id\":\"$ARCHIVE_ID\"}},{\"action\":\"read\",\"resource\":{\"type\":\"tasks\",\"orgID\":\"$ORG_ID\"}}]}")
AUTH_ID=$(jget .id <<<"$AUTH")
AUTH_TOKEN=$(jget .token <<<"$AUTH")
stop TERM

start again
write_points "$WORK/log_only.lp"
stop KILL

# The manifest the test checks against.
PYTHONIOENCODING=utf-8 python3 - "$WORK" >"$WORK/expected.json" <<EOF
import json, sys
w = sys.argv[1]
lines = lambda f: [l for l in open(f"{w}/{f}", encoding="utf-8").read().splitlines() if l.strip()]
print(json.dumps({
    "written_by": {"commit": "388151c", "version": open(f"{w}/version").read().strip()},
    "org": {"name": "$ORG", "id": "$ORG_ID"},
    "operator_token": "$TOKEN",
    "bucket": {"name": "$BUCKET", "id": "$BUCKET_ID", "retention_seconds": 0},
    "points": {"persisted": lines("persisted.lp"), "log_only": lines("log_only.lp")},
    "retention_bucket": {"name": "$ARCHIVE", "id": "$ARCHIVE_ID", "retention_seconds": $ARCHIVE_RETENTION,
                         "description": "kept a week"},
    "dbrp": {"id": "$DBRP_ID", "database": "$DBRP_DB", "retention_policy": "$DBRP_RP",
             "bucket_id": "$BUCKET_ID", "default": True},
    "remote": {"id": "$REMOTE_ID", "name": "old-remote", "description": "nobody listens",
               "remoteURL": "http://127.0.0.1:9", "remoteOrgID": "0123456789abcdef",
               "remoteAPIToken": "$REMOTE_TOKEN"},
    "replication": {"id": "$REPLICATION_ID", "name": "old-replication", "remoteID": "$REMOTE_ID",
                    "localBucketID": "$BUCKET_ID", "remoteBucketName": "cloud-bucket",
                    "maxQueueSizeBytes": 40000000, "maxAgeSeconds": 0, "addTags": {"edge": "e1"},
                    "backfillFrom": "2024-01-01T00:00:00Z"},
    "secret": {"key": "$SECRET_KEY", "value": "$SECRET_VALUE"},
    "task": {"id": "$TASK_ID", "name": "old-query-task", "description": "last usage per host",
             "status": "inactive", "every": "1h", "offset": "5m", "kind": "query",
             "latestCompleted": "2024-01-01T00:00:00Z",
             "spec": {"query": 'SELECT last("usage") AS "usage" FROM "cpu" WHERE time >= :start: AND time < :stop: GROUP BY "host"',
                      "database": "$DBRP_DB", "measurement": "cpu_last",
                      "destination": {"bucket": "$BUCKET"}}},
    "authorization": {"id": "$AUTH_ID", "token": "$AUTH_TOKEN", "description": "old extra token",
                      "permits": ["read bucket $BUCKET", "write bucket $ARCHIVE", "read tasks"]},
}, indent=2, ensure_ascii=False))
EOF

rm -f "$D/http-addr"
find "$D" \( -iname '*lock*' \) -print -delete >&2
mkdir -p "$(dirname "$OUT")"
tar -C "$WORK" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1709294400 \
    -czf "$OUT" datadir expected.json
echo "$OUT: $(stat -c %s "$OUT") bytes" >&2
tar -tzvf "$OUT" >&2
