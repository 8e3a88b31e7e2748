"""ksql-python-ng (PyPI `ksql-python-ng`, module `ksql`: the maintained fork of ksql-python for
ksqlDB 0.29) against an Eddy server's REST API.

Creates a stream (`/ksql`), a second stream over the same topic with `create_stream`, a
persistent query with `create_stream_as`, inserts rows, lists streams, queries and
properties, runs push queries with `query()` over HTTP/1.1 (`/query`) and HTTP/2
(`/query-stream`, with and without the client's row parsing), writes rows with
`inserts_stream` (`/inserts-stream`), runs pull queries on a table, closes one with
`close_query` (`/close-query`), keeps one open past the client's read timeout waiting for a
new row, checks that errors surface as the client reports them (`KSQLError` with
ksqlDB's error code, `ValueError` for a failed `/query`), and drops the stream with the
client's `utils.drop_stream` (DESCRIBE EXTENDED, TERMINATE, DROP).

Every check runs even when an earlier one failed (except the set-up they need), so one run
lists every difference. Exits non-zero with one "FAIL" line per failed check; prints
"ksql_python_check: OK" when all pass.
"""

import argparse
import json
import sys
import threading
import time
import traceback

from ksql import KSQLAPI, utils
from ksql.errors import KSQLError

FAILURES = []

# What PY_UPPER holds once the four inserts went through (id 0 is filtered out).
UPPER_ROWS = [[1, "ANN"], [2, "BOB"], [3, "CY"]]


def check(name, fn):
    try:
        fn()
        print(f"ksql_python_check: ok: {name}")
    except Exception as e:  # noqa: BLE001 - every failure is reported, none hides the rest
        detail = "".join(traceback.format_exception_only(type(e), e)).strip()
        FAILURES.append(f"{name}: {detail}")
        print(f"ksql_python_check: FAIL: {name}: {detail}", file=sys.stderr)


def must(name, fn):
    """A set-up step the later checks need: stop at once if it fails."""
    check(name, fn)
    if FAILURES:
        finish()


def finish():
    if FAILURES:
        print(f"ksql_python_check: {len(FAILURES)} check(s) failed:", file=sys.stderr)
        for failure in FAILURES:
            print(f"  - {failure}", file=sys.stderr)
        sys.exit(1)
    print("ksql_python_check: OK")
    sys.exit(0)


def expect(actual, wanted, what):
    if actual != wanted:
        raise AssertionError(f"{what}: expected {wanted!r}, got {actual!r}")


def rows_of_lines(text):
    """The JSON arrays in newline-delimited text (the header object left out)."""
    rows = []
    for line in text.splitlines():
        if line.strip():
            value = json.loads(line)
            if isinstance(value, list):
                rows.append(value)
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    url = args.url

    client = KSQLAPI(url)  # GETs /info (check_version)
    state = {}

    def server_info():
        expect(client.get_url(), url, "get_url()")
        version = client.get_ksql_version()
        if not isinstance(version, str) or not version:
            raise AssertionError(f"/info KsqlServerInfo.version is {version!r}")

    check("KSQLAPI(url) and get_ksql_version() (/info)", server_info)

    def create_source():
        result = client.ksql(
            "CREATE STREAM py_users (id INT KEY, name STRING) "
            "WITH (kafka_topic='py_users', partitions=1, value_format='JSON')"
        )
        expect(result[0]["@type"], "currentStatus", "@type")
        expect(result[0]["commandStatus"]["status"], "SUCCESS", "commandStatus.status")
        expect(result[0]["commandStatus"]["message"], "Stream created", "commandStatus.message")

    must("ksql(CREATE STREAM ... partitions=1)", create_source)

    # create_stream() names no partitions: it declares a stream over an existing topic.
    must(
        "create_stream() over the existing topic",
        lambda: expect(
            client.create_stream("py_users_again", ["id INT KEY", "name STRING"], "py_users"),
            True,
            "create_stream()",
        ),
    )
    must(
        "create_stream_as() (a persistent query with a WHERE)",
        lambda: expect(
            client.create_stream_as(
                "py_upper",
                ["id", "UCASE(name) AS n"],
                "py_users",
                kafka_topic="py_upper",
                conditions="id > 0",
            ),
            True,
            "create_stream_as()",
        ),
    )

    def insert_rows():
        for key, name in [(1, "ann"), (2, "bob"), (0, "zed"), (3, "cy")]:
            expect(
                client.ksql(f"INSERT INTO py_users (id, name) VALUES ({key}, '{name}')"),
                [],
                "INSERT INTO ... VALUES answer",
            )

    must("ksql(INSERT INTO ... VALUES) x4", insert_rows)

    def show_streams():
        entity = client.ksql("SHOW STREAMS")[0]
        expect(entity["@type"], "streams", "@type")
        listed = {
            s["name"]: (s["topic"], s["type"], s["valueFormat"], s["keyFormat"])
            for s in entity["streams"]
        }
        expect(
            listed,
            {
                "PY_USERS": ("py_users", "STREAM", "JSON", "KAFKA"),
                "PY_USERS_AGAIN": ("py_users", "STREAM", "JSON", "KAFKA"),
                "PY_UPPER": ("py_upper", "STREAM", "JSON", "KAFKA"),
            },
            "SHOW STREAMS",
        )
        expect(
            sorted(utils.get_all_streams(client, prefix="py_")),
            ["PY_UPPER", "PY_USERS", "PY_USERS_AGAIN"],
            "utils.get_all_streams(prefix='py_')",
        )

    check("ksql(SHOW STREAMS) and utils.get_all_streams()", show_streams)

    def show_queries():
        entity = client.ksql("SHOW QUERIES")[0]
        expect(entity["@type"], "queries", "@type")
        expect(len(entity["queries"]), 1, "number of queries")
        query = entity["queries"][0]
        state["query_id"] = query["id"]
        if not query["id"].startswith("CSAS_PY_UPPER_"):
            raise AssertionError(f"query id {query['id']!r} is not CSAS_PY_UPPER_<n>")
        expect(query["queryType"], "PERSISTENT", "queryType")
        expect(query["state"], "RUNNING", "state")
        expect(query["sinks"], ["PY_UPPER"], "sinks")
        # ksqlDB: the sink's Kafka topic (ListQueriesExecutor: getResultTopic().getKafkaTopicName())
        expect(query["sinkKafkaTopics"], ["py_upper"], "sinkKafkaTopics")

    check("ksql(SHOW QUERIES)", show_queries)

    def dependent_queries():
        query_id = state.get("query_id", "CSAS_PY_UPPER_0")
        expect(utils.get_dependent_queries(client, "PY_UPPER"), ([], [query_id]), "PY_UPPER's")
        expect(utils.get_dependent_queries(client, "PY_USERS"), ([query_id], []), "PY_USERS's")
        expect(utils.get_stream_info(client, "NO_SUCH_STREAM"), None, "unknown stream's info")

    check(
        "utils.get_dependent_queries() / get_stream_info() (DESCRIBE EXTENDED)", dependent_queries
    )

    def properties():
        listed = {p["name"]: p["value"] for p in client.get_properties()}
        expect(listed.get("auto.offset.reset"), "earliest", "auto.offset.reset")

    check("get_properties() (SHOW PROPERTIES)", properties)

    def http1_limit():
        text = "".join(client.query("SELECT * FROM py_upper EMIT CHANGES LIMIT 3"))
        decoded = json.loads(text)
        header = decoded[0]["header"]
        expect(header["schema"], "`ID` INTEGER, `N` STRING", "header.schema")
        if not header["queryId"].startswith("transient_PY_UPPER_"):
            raise AssertionError(f"header.queryId {header['queryId']!r}")
        expect([d["row"]["columns"] for d in decoded[1:-1]], UPPER_ROWS, "rows")
        expect(decoded[-1], {"finalMessage": "Limit Reached"}, "last element")

    check("query(... LIMIT 3) over HTTP/1.1 (/query)", http1_limit)

    def http2_items():
        # The client yields what each HTTP/2 DATA frame carried (README: one row per item).
        items = list(client.query("SELECT * FROM py_upper EMIT CHANGES LIMIT 3", use_http2=True))
        header = json.loads(items[0])
        expect(header["columnNames"], ["ID", "N"], "columnNames")
        expect(header["columnTypes"], ["INTEGER", "STRING"], "columnTypes")
        expect(
            items[1:],
            [json.dumps(row, separators=(",", ":")) + "\n" for row in UPPER_ROWS],
            "items after the header (one per DATA frame: ksqlDB writes each row on its own)",
        )

    check("query(... LIMIT 3, use_http2=True) (/query-stream over h2c)", http2_items)

    def http2_parsed():
        parsed = list(
            client.query("SELECT * FROM py_upper EMIT CHANGES LIMIT 3", use_http2=True, parse=True)
        )
        expect(parsed, [{"ID": r[0], "N": r[1]} for r in UPPER_ROWS], "parsed rows")

    check("query(... LIMIT 3, use_http2=True, parse=True)", http2_parsed)

    def close_query():
        stream = client.query("SELECT * FROM py_upper EMIT CHANGES", use_http2=True)
        text = ""
        while len(rows_of_lines(text)) < len(UPPER_ROWS):
            text += next(stream)
        query_id = json.loads(text.splitlines()[0])["queryId"]
        expect(rows_of_lines(text), UPPER_ROWS, "rows before close")
        expect(client.close_query(query_id), True, "close_query(open id)")
        # The response ends once the query is closed (else the client's read timeout fires).
        expect(list(stream), [], "what came after close_query")
        expect(client.close_query(query_id), False, "close_query(closed id)")
        expect(client.close_query("no_such_query"), False, "close_query(unknown id)")

    check("close_query() (/close-query) ends an open push query", close_query)

    def errors():
        try:
            client.ksql("SELEC nonsense")
        except KSQLError as e:
            expect(e.error_code, 40001, "KSQLError.error_code")
            if "Syntax Error" not in e.msg:
                raise AssertionError(f"KSQLError.msg {e.msg!r} does not say Syntax Error")
        else:
            raise AssertionError("bad SQL raised no KSQLError")
        try:
            "".join(client.query("SELECT * FROM no_such_stream EMIT CHANGES LIMIT 1"))
        except ValueError as e:
            message = str(e)
            prefix = "HTTP error encountered: 400: "
            if not message.startswith(prefix):
                raise AssertionError(f"ValueError {message!r}")
            body = json.loads(message[len(prefix):])
            expect(body["@type"], "statement_error", "@type")
            expect(body["error_code"], 40001, "error_code")
        else:
            raise AssertionError("a query of an unknown stream raised no ValueError")

    check("errors: KSQLError from /ksql, ValueError from /query", errors)

    def idle_longer_than_read_timeout():
        # ksqlDB's /query writes "\n" every second while no row comes (QueryStreamWriter,
        # query.stream.disconnect.check = 1000 ms) and the client skips those; so a push
        # query may wait for rows longer than the client's read timeout (15 s by default).
        short = KSQLAPI(url, timeout=3, check_version=False)
        stream = short.query("SELECT * FROM py_upper EMIT CHANGES")
        text = ""
        while text.count('{"row"') < len(UPPER_ROWS):
            text += next(stream)
        inserter = threading.Timer(
            5.0, lambda: client.ksql("INSERT INTO py_users (id, name) VALUES (4, 'dee')")
        )
        inserter.start()
        try:
            started = time.monotonic()
            while '{"row":{"columns":[4,"DEE"]}}' not in text:
                if time.monotonic() - started > 30:
                    raise AssertionError(f"no row 4 within 30 s; read {text!r}")
                text += next(stream)
        finally:
            inserter.join()
            stream.close()

    check(
        "query() over HTTP/1.1 waiting 5 s for a row with a 3 s read timeout",
        idle_longer_than_read_timeout,
    )

    def inserts_stream():
        client.ksql(
            "CREATE STREAM py_clicks (user STRING KEY, page STRING) "
            "WITH (kafka_topic='py_clicks', partitions=1, value_format='JSON')"
        )
        acks = client.inserts_stream(
            "py_clicks",
            [{"USER": "ann", "PAGE": "/"}, {"USER": "bob", "PAGE": "/a"}, {"USER": "ann", "PAGE": "/b"}],
        )
        expect(acks, [{"status": "ok", "seq": n} for n in range(3)], "acks")
        bad = client.inserts_stream("py_clicks", [{"USER": "cy", "PAGE": 1.5, "NOPE": 1}])
        expect(bad[0].get("status"), "error", "a bad row's ack status")

    must("inserts_stream() (/inserts-stream over h2c)", inserts_stream)

    def pull_query():
        client.ksql(
            "CREATE TABLE py_per_user AS SELECT user, COUNT(*) AS n FROM py_clicks GROUP BY user"
        )
        started = time.monotonic()
        while True:
            # /query answers a pull query with one JSON array of a header and rows.
            text = "".join(client.query("SELECT * FROM py_per_user WHERE user = 'ann'"))
            rows = [item["row"]["columns"] for item in json.loads(text) if "row" in item]
            if rows == [["ann", 2]] or time.monotonic() - started > 30:
                break
            time.sleep(0.2)
        expect(rows, [["ann", 2]], "pull query rows over /query")
        items = list(client.query("SELECT * FROM py_per_user", use_http2=True, parse=True))
        expect(
            sorted(list(i.values()) for i in items),
            [["ann", 2], ["bob", 1]],
            "pull query rows over /query-stream, parsed",
        )

    check("query() of a table without EMIT (pull queries)", pull_query)

    def drop():
        utils.drop_stream(client, "PY_UPPER")
        names = sorted(s["name"] for s in client.ksql("SHOW STREAMS")[0]["streams"])
        expect(names, ["PY_CLICKS", "PY_USERS", "PY_USERS_AGAIN"], "streams after the drop")
        left = [q["id"] for q in client.ksql("SHOW QUERIES")[0]["queries"]]
        expect([q for q in left if "PY_UPPER" in q], [], "PY_UPPER's queries after the drop")

    check("utils.drop_stream() (TERMINATE, DROP STREAM)", drop)

    finish()


if __name__ == "__main__":
    main()
