//! eddy-streams: the typed stream-processing DSL and its runtime (the Kafka Streams analogue).
//!
//! **Not built yet.** This crate will hold `StreamsBuilder`, `KStream`/`KTable`, windows, joins,
//! the `Topology` both front ends compile to, and the runtime with its `Embedded` and `Kafka`
//! backends (see the "eddy-streams" issue). It deliberately exports nothing today.
