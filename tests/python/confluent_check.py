#!/usr/bin/env python3
"""confluent-kafka (librdkafka's Python client) against a running Eddy broker.

Run by tests/kafka_python.rs with the venv made by scripts/setup.sh:

    confluent_check.py --bootstrap HOST:PORT --topic T --group G [--records N]

The topic must exist and be empty. Steps:
1. an idempotent producer (enable.idempotence=True, acks=all) writes N keyed records: every
   delivery report succeeds, and no two records share a (partition, offset);
2. a group consumer with manual commits reads about half of them and commits exactly what it
   processed (synchronously), then closes;
3. the group's committed offsets are read back (OffsetFetch) and match those commits;
4. a new consumer in the same group resumes from the committed offsets and reads the rest:
   each record exactly once over both consumers, in offset order per partition, with the
   key, value and offset it was acknowledged with; it commits, and the committed offsets then
   equal the high watermarks.

Exits 0 and prints "confluent_check: OK ..." on success; prints what went wrong and exits 1
on any mismatch, 2 on bad arguments. Every wait is bounded.
"""

import argparse
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

DEADLINE_S = 60.0


def fail(message):
    print(f"confluent_check: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def produce(bootstrap, topic, count):
    """Produces records 0..count; returns {number: (partition, offset)}."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "broker.address.family": "v4",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "partitioner": "murmur2_random",
            "message.timeout.ms": 30000,
        }
    )
    delivered = {}
    errors = []

    def report(err, msg):
        number = int(msg.key().decode().split("-", 1)[1])
        if err is not None:
            errors.append((number, str(err)))
        else:
            delivered[number] = (msg.partition(), msg.offset())

    for i in range(count):
        while True:
            try:
                producer.produce(topic, key=f"key-{i}", value=f"value-{i}", on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(DEADLINE_S)
    if remaining:
        fail(f"{remaining} records still unacknowledged after {DEADLINE_S} s")
    if errors:
        fail(f"{len(errors)} deliveries failed, first: record {errors[0][0]}: {errors[0][1]}")
    if len(delivered) != count:
        fail(f"{len(delivered)} delivery reports for {count} records")
    places = set(delivered.values())
    if len(places) != count:
        fail(f"{count - len(places)} records share a (partition, offset) with another")
    return delivered


def group_consumer(bootstrap, group):
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "broker.address.family": "v4",
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "enable.partition.eof": False,
        }
    )


def consume(consumer, want, acknowledged, seen, label):
    """Reads `want` records, checking each against `acknowledged` (number -> place) and
    against `seen` (number -> consumer label) for duplicates. Returns {partition: next offset}
    of what it processed."""
    by_place = {place: number for number, place in acknowledged.items()}
    positions = {}
    got = 0
    deadline = time.monotonic() + DEADLINE_S
    while got < want:
        if time.monotonic() > deadline:
            fail(f"{label}: read {got} of {want} records within {DEADLINE_S} s")
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error() is not None:
            fail(f"{label}: consumer error {msg.error()}")
        partition, offset = msg.partition(), msg.offset()
        key, value = msg.key().decode(), msg.value().decode()
        number = by_place.get((partition, offset))
        if number is None:
            fail(f"{label}: record at {partition}/{offset} was never acknowledged there")
        if key != f"key-{number}" or value != f"value-{number}":
            fail(f"{label}: {partition}/{offset} holds {key}={value}, expected record {number}")
        if number in seen:
            fail(f"{label}: record {number} at {partition}/{offset} again (first read by {seen[number]})")
        expected_next = positions.get(partition)
        if expected_next is not None and offset != expected_next:
            fail(f"{label}: partition {partition} went from offset {expected_next - 1} to {offset}")
        seen[number] = label
        positions[partition] = offset + 1
        got += 1
    return positions


def commit(consumer, topic, positions, label):
    offsets = [TopicPartition(topic, p, o) for p, o in sorted(positions.items())]
    if not offsets:
        return
    try:
        result = consumer.commit(offsets=offsets, asynchronous=False)
    except KafkaException as e:
        fail(f"{label}: synchronous commit of {positions} failed: {e}")
    for tp in result or []:
        if tp.error is not None:
            fail(f"{label}: commit of partition {tp.partition} failed: {tp.error}")


def committed_offsets(bootstrap, group, topic, partitions):
    reader = group_consumer(bootstrap, group)
    try:
        tps = reader.committed([TopicPartition(topic, p) for p in partitions], timeout=20)
    finally:
        reader.close()
    out = {}
    for tp in tps:
        if tp.error is not None:
            fail(f"OffsetFetch for partition {tp.partition}: {tp.error}")
        out[tp.partition] = tp.offset
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--records", type=int, default=5000)
    args = parser.parse_args()
    count = args.records
    if count < 2:
        parser.error("--records must be at least 2")

    started = time.monotonic()
    acknowledged = produce(args.bootstrap, args.topic, count)
    partitions = sorted({p for p, _ in acknowledged.values()})
    ends = {p: 1 + max(o for q, o in acknowledged.values() if q == p) for p in partitions}

    # First consumer: about half, committed exactly, then close (leaves the group).
    seen = {}
    first = group_consumer(args.bootstrap, args.group)
    first.subscribe([args.topic])
    half = count // 2
    processed = consume(first, half, acknowledged, seen, "first consumer")
    commit(first, args.topic, processed, "first consumer")
    first.close()

    committed = committed_offsets(args.bootstrap, args.group, args.topic, partitions)
    for p in partitions:
        want = processed.get(p, -1001)  # librdkafka reports "no commit" as -1001 (OFFSET_INVALID)
        if committed.get(p) != want:
            fail(f"partition {p}: committed offset {committed.get(p)}, expected {want}")

    # Second consumer: resumes at the committed offsets and reads exactly the rest.
    second = group_consumer(args.bootstrap, args.group)
    second.subscribe([args.topic])
    first_offsets = {}
    by_place = {place: number for number, place in acknowledged.items()}
    rest = count - half
    got = 0
    positions = {}
    deadline = time.monotonic() + DEADLINE_S
    while got < rest:
        if time.monotonic() > deadline:
            fail(f"second consumer: read {got} of {rest} records within {DEADLINE_S} s")
        msg = second.poll(0.5)
        if msg is None:
            continue
        if msg.error() is not None:
            fail(f"second consumer: consumer error {msg.error()}")
        p, o = msg.partition(), msg.offset()
        number = by_place.get((p, o))
        if number is None:
            fail(f"second consumer: record at {p}/{o} was never acknowledged there")
        if msg.key().decode() != f"key-{number}" or msg.value().decode() != f"value-{number}":
            fail(f"second consumer: {p}/{o} does not hold record {number}")
        if number in seen:
            fail(
                f"second consumer: re-read record {number} at {p}/{o}; the first consumer had "
                f"committed {processed.get(p)} for partition {p}"
            )
        if p not in first_offsets:
            first_offsets[p] = o
            start = processed.get(p, 0)
            if o != start:
                fail(f"second consumer: partition {p} started at offset {o}, committed was {start}")
        elif o != positions[p]:
            fail(f"second consumer: partition {p} went from offset {positions[p] - 1} to {o}")
        seen[number] = "second consumer"
        positions[p] = o + 1
        got += 1
    commit(second, args.topic, positions, "second consumer")
    extra = second.poll(1.0)
    if extra is not None and extra.error() is None:
        fail(f"second consumer: an unexpected extra record at {extra.partition()}/{extra.offset()}")
    second.close()

    if len(seen) != count:
        fail(f"{len(seen)} distinct records consumed of {count}")
    committed = committed_offsets(args.bootstrap, args.group, args.topic, partitions)
    if committed != ends:
        fail(f"final committed offsets {committed} differ from the log ends {ends}")
    print(
        f"confluent_check: OK: {count} records on partitions {partitions}, "
        f"{half} read and committed by the first consumer, {rest} resumed by the second, "
        f"in {time.monotonic() - started:.1f} s",
        flush=True,
    )


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        fail(f"Kafka error: {e}")
