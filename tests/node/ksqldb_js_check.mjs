// ksqldb-js (npm `ksqldb-js`: axios for /ksql and pull(), Node's http2 for push()) against an
// Eddy server's REST API.
//
// Checks /info and /healthcheck, creates a stream with createStream() (and reads its command's
// /status with inspectQueryStatus()) and a persistent query with createStreamAs(), inserts
// rows with ksql(INSERT ...) and insertStream() (/inserts-stream), lists streams and queries,
// runs pull queries on a table, runs a push query with LIMIT through pull() (HTTP/1.1, one JSON array) and through push()
// (HTTP/2 cleartext, one callback per DATA frame), terminates an open push query with
// terminate(), checks that errors reject with the client's ksqlDBError, and terminates and
// drops the persistent query.
//
// Every check runs even when an earlier one failed (except the set-up they need), so one run
// lists every difference. Exits non-zero with one FAIL line per failed check; prints
// "ksqldb_js_check: OK" when all pass.
//
//   node tests/node/ksqldb_js_check.mjs --url http://127.0.0.1:8088 --node-modules DIR
// where DIR is the node_modules holding ksqldb-js (scripts/setup.sh installs it).

import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { url: { type: 'string' }, 'node-modules': { type: 'string' } },
});
if (!args.url || !args['node-modules']) {
  console.error('usage: ksqldb_js_check.mjs --url URL --node-modules DIR');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(args['node-modules']), '..', 'index.js'));
const KsqlDB = require('ksqldb-js');
// The axios ksqldb-js uses (the prefix's): no request may hang the script.
require('axios').defaults.timeout = 20000;
const { ksqlDBError } = require('ksqldb-js/ksqldb/customErrors.js');

const failures = [];
// ksqldb-js parses each DATA frame of push() in an event handler: a throw there is uncaught.
const uncaught = [];
process.on('uncaughtException', (e) => uncaught.push(`${e.name}: ${e.message}`));

const client = new KsqlDB({ ksqldbURL: args.url });
const state = {};
// What JS_UPPER holds once the four inserts went through (id 0 is filtered out).
const UPPER_ROWS = [[1, 'ANN'], [2, 'BOB'], [3, 'CY']];

function describe(e) {
  if (e instanceof ksqlDBError) return `ksqlDBError ${JSON.stringify({ ...e, message: e.message })}`;
  if (e?.response) return `${e.message}: ${JSON.stringify(e.response.data)}`;
  return `${e?.name}: ${e?.message}`;
}

async function check(name, fn) {
  uncaught.length = 0;
  let detail = null;
  try {
    await fn();
  } catch (e) {
    detail = describe(e);
  }
  if (uncaught.length) {
    detail = `${detail ? `${detail}; ` : ''}uncaught in the client: ${uncaught.join('; ')}`;
  }
  if (detail === null) {
    console.log(`ksqldb_js_check: ok: ${name}`);
  } else {
    failures.push(`${name}: ${detail}`);
    console.error(`ksqldb_js_check: FAIL: ${name}: ${detail}`);
  }
}

async function must(name, fn) {
  await check(name, fn);
  if (failures.length) finish();
}

function finish() {
  if (failures.length) {
    console.error(`ksqldb_js_check: ${failures.length} check(s) failed:`);
    for (const f of failures) console.error(`  - ${f}`);
    process.exit(1);
  }
  console.log('ksqldb_js_check: OK');
  process.exit(0);
}

/// JSON with every object's keys sorted, so comparisons ignore key order.
function canonical(value) {
  return JSON.stringify(value, (_, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v,
  );
}

function expect(actual, wanted, what) {
  const [a, w] = [canonical(actual), canonical(wanted)];
  if (a !== w) throw new Error(`${what}: expected ${w}, got ${a}`);
}

async function rejects(promise, what) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error(`${what} did not reject`);
}

/// push(): the callback's chunks until `count` came (or `ms` passed), and the id its promise
/// resolved to (undefined if it did not: it resolves on the first DATA frame, if that parses).
async function pushChunks(sql, count, ms) {
  const chunks = [];
  let enough;
  const done = new Promise((resolve) => (enough = resolve));
  const timer = setTimeout(enough, ms);
  const queryId = client.push(sql, (chunk) => {
    chunks.push(chunk);
    if (chunks.length >= count) enough();
  });
  await done;
  clearTimeout(timer);
  const unresolved = new Promise((resolve) => setTimeout(() => resolve(undefined), 1000));
  return { chunks, queryId: await Promise.race([queryId, unresolved]) };
}

await check('inspectServerInfo() (/info), inspectServerHealth() (/healthcheck)', async () => {
  const info = (await client.inspectServerInfo()).data.KsqlServerInfo;
  expect(info.serverStatus, 'RUNNING', 'KsqlServerInfo.serverStatus');
  if (typeof info.version !== 'string' || !info.version) throw new Error(`version ${info.version}`);
  const health = (await client.inspectServerHealth()).data;
  expect(health.isHealthy, true, 'healthcheck isHealthy');
});

await must('createStream()', async () => {
  const res = await client.createStream('JS_USERS', ['id INT KEY', 'name STRING'], 'js_users', 'json', 1);
  expect(res.data[0]['@type'], 'currentStatus', '@type');
  expect(res.data[0].commandStatus.status, 'SUCCESS', 'commandStatus.status');
  expect(res.data[0].commandId, 'stream/JS_USERS/create', 'commandId');
  const status = (await client.inspectQueryStatus(res.data[0].commandId)).data;
  expect(status, { status: 'SUCCESS', message: 'Stream created' }, 'inspectQueryStatus() (/status/...)');
});

await must('createStreamAs() (a persistent query with a WHERE)', async () => {
  const id = await client.createStreamAs(
    'JS_UPPER',
    ['id', 'UCASE(name) AS n'],
    'JS_USERS',
    { kafka_topic: 'js_upper', value_format: 'json', partitions: 1 },
    'id > 0',
  );
  if (typeof id !== 'string' || !id.startsWith('CSAS_JS_UPPER_')) {
    throw new Error(`commandStatus.queryId ${JSON.stringify(id)} is not CSAS_JS_UPPER_<n>`);
  }
  state.queryId = id;
});

await must('ksql(INSERT INTO ... VALUES) x4', async () => {
  for (const [id, name] of [[1, 'ann'], [2, 'bob'], [0, 'zed'], [3, 'cy']]) {
    // ksqlDB answers INSERT VALUES with an empty array; ksql() returns its first element.
    expect(await client.ksql(`INSERT INTO JS_USERS (id, name) VALUES (${id}, '${name}');`), undefined, 'answer');
  }
});

await check('ksql(LIST STREAMS)', async () => {
  const entity = await client.ksql('LIST STREAMS;');
  expect(entity['@type'], 'streams', '@type');
  const listed = Object.fromEntries(
    entity.streams.map((s) => [s.name, [s.topic, s.type, s.valueFormat]]).sort(),
  );
  expect(listed, { JS_UPPER: ['js_upper', 'STREAM', 'JSON'], JS_USERS: ['js_users', 'STREAM', 'JSON'] }, 'streams');
});

await check('ksql(SHOW QUERIES)', async () => {
  const entity = await client.ksql('SHOW QUERIES;');
  expect(entity['@type'], 'queries', '@type');
  expect(entity.queries.map((q) => [q.id, q.queryType, q.state]), [[state.queryId, 'PERSISTENT', 'RUNNING']], 'queries');
  expect(entity.queries[0].sinks, ['JS_UPPER'], 'sinks');
  // ksqlDB: the sink's Kafka topic (ListQueriesExecutor: getResultTopic().getKafkaTopicName()).
  expect(entity.queries[0].sinkKafkaTopics, ['js_upper'], 'sinkKafkaTopics');
});

await check('pull(... EMIT CHANGES LIMIT 3) (/query-stream over HTTP/1.1, application/json)', async () => {
  const [header, ...rows] = await client.pull('SELECT * FROM JS_UPPER EMIT CHANGES LIMIT 3;');
  expect(header.columnNames, ['ID', 'N'], 'columnNames');
  expect(header.columnTypes, ['INTEGER', 'STRING'], 'columnTypes');
  if (!header.queryId?.startsWith('transient_JS_UPPER_')) throw new Error(`queryId ${header.queryId}`);
  expect(rows, UPPER_ROWS, 'rows');
});

await check('push(... EMIT CHANGES LIMIT 3) (/query-stream over h2c, one callback per DATA frame)', async () => {
  const { chunks, queryId } = await pushChunks('SELECT * FROM JS_UPPER EMIT CHANGES LIMIT 3;', 4, 10000);
  if (!chunks.length) throw new Error('push() called back with no DATA frame');
  const header = JSON.parse(chunks[0]);
  expect(header.columnNames, ['ID', 'N'], 'columnNames');
  expect(chunks.slice(1), UPPER_ROWS.map((r) => `${JSON.stringify(r)}\n`), 'chunks after the header');
  expect(queryId, header.queryId, 'the id push() resolved to');
});

await check('terminate(push query id) (TERMINATE transient_... through /ksql)', async () => {
  try {
    const { chunks, queryId } = await pushChunks('SELECT * FROM JS_UPPER EMIT CHANGES;', 1, 10000);
    expect(typeof queryId, 'string', `push() id (chunks ${JSON.stringify(chunks)})`);
    const entity = await client.terminate(queryId);
    // ksqlDB 0.29 (TerminateQueryExecutor): a push query is closed and answered with a
    // TerminateQueryEntity; its queryId is the statement's identifier, upper-cased.
    expect(
      [entity?.['@type'], entity?.statementText, entity?.queryId?.toUpperCase(), entity?.wasTerminated],
      ['terminate_query', `TERMINATE ${queryId};`, queryId.toUpperCase(), true],
      `answer ${JSON.stringify(entity)}`,
    );
  } finally {
    // The query's later DATA frames (if it stays open) are this check's, not the next one's.
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
});

await check('errors reject with ksqlDBError (bad SQL in ksql(), unknown stream in pull())', async () => {
  const bad = await rejects(client.ksql('SELEC nonsense;'), 'ksql(bad SQL)');
  if (!(bad instanceof ksqlDBError)) throw bad;
  expect([bad['@type'], bad.error_code], ['statement_error', 40001], 'ksql(bad SQL) error');
  if (!bad.message.includes('Syntax Error')) throw new Error(`message ${JSON.stringify(bad.message)}`);
  const unknown = await rejects(client.pull('SELECT * FROM NO_SUCH_STREAM EMIT CHANGES LIMIT 1;'), 'pull(unknown)');
  if (!(unknown instanceof ksqlDBError)) throw unknown;
  expect([unknown['@type'], unknown.error_code], ['statement_error', 40001], 'pull(unknown stream) error');
});

await must('insertStream() (/inserts-stream over h2c, one ack per row)', async () => {
  await client.ksql(
    "CREATE STREAM JS_CLICKS (user STRING KEY, page STRING) WITH (kafka_topic='js_clicks', partitions=1, value_format='JSON');",
  );
  const acks = await client.insertStream('JS_CLICKS', [
    { USER: 'ann', PAGE: '/' },
    { USER: 'bob', PAGE: '/a' },
    { USER: 'ann', PAGE: '/b' },
  ]);
  expect(acks, [0, 1, 2].map((seq) => ({ status: 'ok', seq })), 'acks');
});

await check('pull(SELECT ... FROM table WHERE key) (a pull query: the rows now)', async () => {
  await client.ksql('CREATE TABLE JS_PER_USER AS SELECT user, COUNT(*) AS n FROM JS_CLICKS GROUP BY user;');
  const started = Date.now();
  let answer;
  do {
    if (answer) await new Promise((resolve) => setTimeout(resolve, 200));
    answer = await client.pull("SELECT * FROM JS_PER_USER WHERE user = 'ann';");
  } while (JSON.stringify(answer.slice(1)) !== '[["ann",2]]' && Date.now() - started < 30000);
  const [header, ...rows] = answer;
  expect(header.columnNames, ['USER', 'N'], 'columnNames');
  expect(rows, [['ann', 2]], 'rows');
  const [, ...all] = await client.pull('SELECT * FROM JS_PER_USER;');
  expect(all.sort(), [['ann', 2], ['bob', 1]], 'every row');
});

await check('terminate(persistent query id), ksql(DROP STREAM)', async () => {
  const terminated = await client.terminate(state.queryId);
  expect([terminated['@type'], terminated.commandStatus?.status], ['currentStatus', 'SUCCESS'], 'TERMINATE');
  const dropped = await client.ksql('DROP STREAM JS_UPPER;');
  expect([dropped['@type'], dropped.commandStatus?.status], ['currentStatus', 'SUCCESS'], 'DROP STREAM');
  expect(
    (await client.ksql('SHOW QUERIES;')).queries.map((q) => q.id).filter((id) => id === state.queryId),
    [],
    'queries after TERMINATE',
  );
  expect(
    (await client.ksql('SHOW STREAMS;')).streams.map((s) => s.name).sort(),
    ['JS_CLICKS', 'JS_USERS'],
    'streams after DROP',
  );
});

finish();
