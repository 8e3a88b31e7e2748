"""Kafka transactions against an Eddy broker, with kafka-python (its own protocol code) or
confluent-kafka (librdkafka), chosen by --client.

The topics are made by the caller: --input (1 partition, 10 plain records "in-0".."in-9"),
--output (2 partitions, empty). One run:
1. a committed transaction of 6 records to --output;
2. an aborted transaction of 6 records;
3. consume-transform-produce: the 10 input records are read in group --group, transformed
   to "out-in-<n>", and produced with the input offsets in one committed transaction;
4. a second producer with the same transactional.id fences the first, whose open
   transaction is aborted and whose commit fails.
Then a read_committed consumer must see exactly 1 and 3, a read_uncommitted one all three
transactions (and 4's fenced records), and the group's committed offset must be 10. Prints
"transactions_check: OK" at the end; exits non-zero with a message on any mismatch.
"""

import argparse
import sys
import time


def fail(message):
    print(f"transactions_check: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


class KafkaPython:
    """kafka-python's API, in the few calls the check needs."""

    def __init__(self, bootstrap):
        import kafka

        self.kafka = kafka
        self.bootstrap = bootstrap

    def producer(self, transactional_id):
        producer = self.kafka.KafkaProducer(
            bootstrap_servers=self.bootstrap, transactional_id=transactional_id
        )
        producer.init_transactions()
        return producer

    def send(self, producer, topic, partition, value):
        producer.send(topic, value=value.encode(), partition=partition)

    def flush(self, producer):
        producer.flush()

    def consumer(self, topic, partitions, isolation, group=None):
        from kafka import TopicPartition

        consumer = self.kafka.KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=group,
            enable_auto_commit=False,
            isolation_level=isolation,
            auto_offset_reset="earliest",
        )
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        return consumer

    def poll(self, consumer, deadline_s):
        values = []
        for records in consumer.poll(timeout_ms=int(deadline_s * 1000)).values():
            values.extend((r.partition, r.offset, r.value.decode()) for r in records)
        return values

    def send_offsets(self, producer, consumer, topic, offset):
        from kafka import OffsetAndMetadata, TopicPartition

        producer.send_offsets_to_transaction(
            {TopicPartition(topic, 0): OffsetAndMetadata(offset, "", -1)},
            consumer.group_metadata(),
        )

    def committed(self, consumer, topic):
        from kafka import TopicPartition

        return consumer.committed(TopicPartition(topic, 0))

    def close(self, consumer):
        consumer.close()


class Confluent:
    """confluent-kafka's API (librdkafka), in the same calls."""

    def __init__(self, bootstrap):
        import confluent_kafka

        self.ck = confluent_kafka
        self.bootstrap = bootstrap

    def producer(self, transactional_id):
        producer = self.ck.Producer(
            {"bootstrap.servers": self.bootstrap, "transactional.id": transactional_id}
        )
        producer.init_transactions(30)
        return producer

    def send(self, producer, topic, partition, value):
        producer.produce(topic, value=value.encode(), partition=partition)

    def flush(self, producer):
        producer.flush(30)

    def consumer(self, topic, partitions, isolation, group=None):
        consumer = self.ck.Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": group or f"reader-{isolation}",
                "enable.auto.commit": False,
                "isolation.level": isolation,
                "auto.offset.reset": "earliest",
            }
        )
        consumer.assign(
            [self.ck.TopicPartition(topic, p, self.ck.OFFSET_BEGINNING) for p in range(partitions)]
        )
        return consumer

    def poll(self, consumer, deadline_s):
        values = []
        for message in consumer.consume(num_messages=100, timeout=deadline_s):
            if message.error():
                fail(f"consumer error: {message.error()}")
            values.append((message.partition(), message.offset(), message.value().decode()))
        return values

    def send_offsets(self, producer, consumer, topic, offset):
        producer.send_offsets_to_transaction(
            [self.ck.TopicPartition(topic, 0, offset)], consumer.consumer_group_metadata(), 30
        )

    def committed(self, consumer, topic):
        return consumer.committed([self.ck.TopicPartition(topic, 0)], timeout=30)[0].offset

    def close(self, consumer):
        consumer.close()


def read_all(client, consumer, expected, quiet_s=1.0, limit_s=30.0):
    """Values read until `expected` have arrived and nothing more comes for `quiet_s`."""
    values = []
    started = time.time()
    last = time.time()
    while True:
        batch = client.poll(consumer, 0.2)
        if batch:
            values.extend(batch)
            last = time.time()
        if len(values) >= expected and time.time() - last >= quiet_s:
            return values
        if time.time() - started > limit_s:
            fail(f"read {len(values)} values in {limit_s}s, expected {expected}: {values}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", choices=["kafka-python", "confluent"], required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--group", required=True)
    args = parser.parse_args()
    client = KafkaPython(args.bootstrap) if args.client == "kafka-python" else Confluent(args.bootstrap)
    tid = f"{args.client}-app"

    producer = client.producer(tid)
    committed = [f"c-{i}" for i in range(6)]
    aborted = [f"a-{i}" for i in range(6)]
    for values, commit in [(committed, True), (aborted, False)]:
        producer.begin_transaction()
        for i, value in enumerate(values):
            client.send(producer, args.output, i % 2, value)
        client.flush(producer)
        if commit:
            producer.commit_transaction()
        else:
            producer.abort_transaction()

    # Consume-transform-produce, the input offsets committed with the output.
    source = client.consumer(args.input, 1, "read_committed", group=args.group)
    inputs = read_all(client, source, 10, quiet_s=0.3)
    producer.begin_transaction()
    transformed = []
    for i, (_, _, value) in enumerate(inputs):
        transformed.append(f"out-{value}")
        client.send(producer, args.output, i % 2, transformed[-1])
    client.send_offsets(producer, source, args.input, 10)
    producer.commit_transaction()
    group_offset = client.committed(source, args.input)
    if group_offset != 10:
        fail(f"the group's committed offset is {group_offset}, expected 10")
    client.close(source)

    # A successor fences the producer; the zombie's open transaction is aborted.
    producer.begin_transaction()
    client.send(producer, args.output, 0, "zombie")
    client.flush(producer)
    successor = client.producer(tid)
    try:
        producer.commit_transaction()
        fail("the fenced producer's commit succeeded")
    except Exception as e:  # each client has its own fencing error type
        if "fenc" not in str(e).lower() and "epoch" not in str(e).lower():
            fail(f"the fenced producer's commit failed with an unexpected error: {e!r}")
    del successor

    reader = client.consumer(args.output, 2, "read_committed")
    seen = sorted(v for _, _, v in read_all(client, reader, 16))
    if seen != sorted(committed + transformed):
        fail(f"read_committed saw {seen}")
    client.close(reader)
    everything = client.consumer(args.output, 2, "read_uncommitted")
    seen = sorted(v for _, _, v in read_all(client, everything, 23))
    if seen != sorted(committed + aborted + transformed + ["zombie"]):
        fail(f"read_uncommitted saw {seen}")
    client.close(everything)
    print("transactions_check: OK")


if __name__ == "__main__":
    main()
