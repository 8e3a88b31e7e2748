"""kafka-python (a pure-Python Kafka client, no librdkafka) against an Eddy broker.

Creates a topic through the admin client, produces keyed records with acks=all, reads them
back in a consumer group with manual commits, resumes from the committed offsets in a new
consumer, and checks ListOffsets by time. Exits non-zero with a message on any mismatch;
prints "kafka_python_check: OK" at the end.
"""

import argparse
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic


def fail(message):
    print(f"kafka_python_check: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()
    partitions = 3

    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, client_id="kafka-python-check")
    admin.create_topics([NewTopic(args.topic, num_partitions=partitions, replication_factor=1)])
    if args.topic not in admin.list_topics():
        fail(f"topic {args.topic} not listed after creation")

    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=5)
    base_ts = int(time.time() * 1000) - 100_000
    futures = []
    for i in range(args.records):
        futures.append(
            producer.send(
                args.topic,
                key=f"key-{i % 50}".encode(),
                value=f"value-{i}".encode(),
                timestamp_ms=base_ts + i,
            )
        )
    producer.flush()
    sent = {}
    for i, future in enumerate(futures):
        meta = future.get(timeout=30)
        sent[(meta.partition, meta.offset)] = f"value-{i}".encode()
    producer.close()
    if len(sent) != args.records:
        fail(f"{len(sent)} distinct (partition, offset) acknowledgements for {args.records} records")

    half = args.records // 2
    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=20_000,
    )
    seen = {}
    for message in consumer:
        seen[(message.partition, message.offset)] = message.value
        if len(seen) >= half:
            break
    # Commit exactly what was consumed, per partition.
    positions = {}
    for (partition, offset) in seen:
        positions[partition] = max(positions.get(partition, -1), offset + 1)
    from kafka.structs import OffsetAndMetadata

    consumer.commit({TopicPartition(args.topic, p): OffsetAndMetadata(o, "", -1) for p, o in positions.items()})
    committed = {p: consumer.committed(TopicPartition(args.topic, p)) for p in positions}
    if committed != positions:
        fail(f"committed {committed}, expected {positions}")
    consumer.close()

    resumed = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    for message in resumed:
        key = (message.partition, message.offset)
        if key in seen:
            fail(f"record {key} read again after its offset was committed")
        if message.offset < positions.get(message.partition, 0):
            fail(f"resumed below the committed offset at {key}")
        seen[key] = message.value
        if len(seen) == args.records:
            break
    resumed.close()
    if seen != sent:
        missing = set(sent) - set(seen)
        fail(f"consumed {len(seen)} records, produced {len(sent)}; missing e.g. {sorted(missing)[:5]}")

    # ListOffsets by time: the first record at or after base_ts + half.
    probe = KafkaConsumer(bootstrap_servers=args.bootstrap)
    tps = [TopicPartition(args.topic, p) for p in range(partitions)]
    found = probe.offsets_for_times({tp: base_ts + half for tp in tps})
    ends = probe.end_offsets(tps)
    probe.close()
    if sum(ends.values()) != args.records:
        fail(f"end offsets {ends} do not add up to {args.records}")
    for tp, hit in found.items():
        if hit is None:
            continue
        if hit.timestamp < base_ts + half:
            fail(f"offsets_for_times returned timestamp {hit.timestamp} below the target on {tp}")
    if all(hit is None for hit in found.values()):
        fail("offsets_for_times found no record in any partition")
    print("kafka_python_check: OK", flush=True)


if __name__ == "__main__":
    main()
