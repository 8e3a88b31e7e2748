#!/usr/bin/env bash
# One command from a fresh clone on Debian: install the prerequisites, build the `eddy`
# binary (release) and run its main job on an embedded broker: continuous SQL. First the
# durable log's own demo, then a SQL script (the page-views example: a stream-table join,
# an aggregation materialised into a topic, a windowed count), then the SQL server: events
# fed through ksqlDB's REST API, a windowed aggregation materialised into a topic, its live
# results, a pull query, and how to open the shell. Extra arguments go to `eddy demo`, e.g.
#
#   ./scripts/demo.sh --records 100000
#
# EDDY_DEMO_PROFILE=debug builds the debug binary instead (CI, which has it built already);
# EDDY_DEMO_SKIP_SETUP=1 skips scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${EDDY_DEMO_SKIP_SETUP:-}" ]]; then
  bash scripts/setup.sh
fi
if ! command -v cargo >/dev/null 2>&1 && [[ -f "$HOME/.cargo/env" ]]; then
  # shellcheck disable=SC1091
  source "$HOME/.cargo/env"
fi
profile="${EDDY_DEMO_PROFILE:-release}"
if [[ "$profile" == "release" ]]; then
  echo "demo: building eddy (release; the first build takes a few minutes)"
  cargo build --release --bin eddy
else
  cargo build -q --bin eddy
fi
eddy="${CARGO_TARGET_DIR:-target}/$profile/eddy"
data="$(mktemp -d)"
server_pid=
trap 'if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi; rm -rf "$data"' EXIT
echo
echo "demo: the durable log (eddy demo)"
"$eddy" demo --data-dir "$data/log" "$@"
echo
echo "demo: continuous SQL on an embedded broker (eddy sql run examples/page_views_per_region.sql)"
"$eddy" sql run --data-dir "$data/sql" examples/page_views_per_region.sql

echo
echo "demo: the SQL server (eddy server start: the broker, the engine and ksqlDB's REST API)"
"$eddy" server start --data-dir "$data/server" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  >"$data/server.log" 2>&1 &
server_pid=$!
url=
for _ in $(seq 300); do
  url="$(grep -oE 'REST API on http://[0-9.]+:[0-9]+' "$data/server.log" | cut -d' ' -f4 || true)"
  [[ -n "$url" ]] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$url" ]]; then
  echo "demo: the server did not start:"
  cat "$data/server.log"
  exit 1
fi
head -n 1 "$data/server.log"
sql() { "$eddy" sql --server "$url" -e "$1"; }

echo
echo "demo: a stream of page views, and views per page and minute materialised into a topic"
sql "CREATE STREAM pageviews (user_id STRING KEY, page STRING)
       WITH (kafka_topic='pageviews', partitions=2, value_format='JSON');
     CREATE TABLE views_per_minute WITH (kafka_topic='views_per_minute') AS
       SELECT page, COUNT(*) AS views, LATEST_BY_OFFSET(user_id) AS last_viewer
       FROM pageviews WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY page;"

echo
echo "demo: 8 events through POST /inserts-stream (HTTP/2), one ack each"
t=1700000040000 # a minute's start: six events in its window, two in the next
{
  echo '{"target": "pageviews"}'
  for i in 0 1 2 3 4 5 6 7; do
    pages=(/home /pricing /home /docs /home /pricing /home /docs)
    printf '{"ROWTIME": %d, "USER_ID": "u%d", "PAGE": "%s"}\n' $((t + i * 10000)) $((i % 3)) "${pages[$i]}"
  done
} | curl -sS --http2-prior-knowledge "$url/inserts-stream" --data-binary @- | tr '\n' ' '
echo

echo
echo "demo: the live results (a push query, stopped after 4 rows)"
sql "SET 'auto.offset.reset' = 'earliest';
     SELECT page, TIMESTAMPTOSTRING(WINDOWSTART, 'HH:mm:ss', 'UTC') AS minute, views, last_viewer
       FROM views_per_minute EMIT CHANGES LIMIT 4;"

echo
echo "demo: a pull query (one key's windows, as they are now)"
pull="SELECT page, TIMESTAMPTOSTRING(WINDOWSTART, 'HH:mm:ss', 'UTC') AS minute, views
        FROM views_per_minute WHERE page = '/home';"
for _ in $(seq 100); do # until the query has counted all eight events
  answer="$(sql "$pull")"
  [[ "$answer" == *"|3 "* ]] && break
  sleep 0.1
done
echo "$answer"

echo
echo "demo: the queries the server runs (they come back after a restart)"
sql "SHOW QUERIES;"
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=
tail -n 1 "$data/server.log"
echo
echo "demo: done. To try it yourself: '$eddy server start' and, in another terminal,"
echo "      '$eddy sql --server http://127.0.0.1:8088' (or '$eddy sql' alone: the engine in"
echo "      that process, data in ./eddy-data). Type 'help' at the eddy> prompt."
