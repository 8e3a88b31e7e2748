//! The queries, in the eddy-streams DSL.

use std::time::Duration;

use eddy_streams::serdes::Serdes;
use eddy_streams::{EmitStrategy, StreamsBuilder, TimeWindows, Topology, Windowed};

use super::model::{AuctionCount, Bid, Event, Format, HotItems, NewUser, Q8Agg, Q8Side, serde_of};

pub const BIDS: &str = "bids";
pub const PERSONS_AUCTIONS: &str = "persons-auctions";
pub const Q5_SIZE_MS: i64 = 10_000;
pub const Q5_ADVANCE_MS: i64 = 2_000;
pub const Q7_SIZE_MS: i64 = 10_000;
pub const Q8_SIZE_MS: i64 = 10_000;

/// q1's conversion: dollars to euros (Nexmark's 0.908), prices in cents.
pub fn to_euros(price: i64) -> i64 {
    (price as f64 * 0.908) as i64
}

pub fn q2_keeps(bid: &Bid) -> bool {
    bid.auction % 123 == 0
}

/// q7's reducer: the higher bid, the earlier one on ties.
pub fn higher_bid(a: Bid, b: Bid) -> Bid {
    if b.price > a.price { b } else { a }
}

pub fn bids_stream(builder: &StreamsBuilder, format: Format) -> eddy_streams::KStream<String, Bid> {
    builder.stream::<String, Bid>(BIDS, Serdes::string(), serde_of(format))
}

pub fn q0(format: Format, out: &str) -> anyhow::Result<Topology> {
    let builder = StreamsBuilder::new();
    bids_stream(&builder, format).to(out);
    Ok(builder.build()?)
}

pub fn q1(format: Format, out: &str) -> anyhow::Result<Topology> {
    let builder = StreamsBuilder::new();
    bids_stream(&builder, format)
        .map_values(|b: Bid| Bid {
            price: to_euros(b.price),
            ..b
        })
        .with_value_serde(serde_of(format))
        .to(out);
    Ok(builder.build()?)
}

pub fn q2(format: Format, out: &str) -> anyhow::Result<Topology> {
    let builder = StreamsBuilder::new();
    bids_stream(&builder, format)
        .filter(|_, b| q2_keeps(b))
        .to(out);
    Ok(builder.build()?)
}

/// Hot items: bids per auction per hopping window (10 s, every 2 s), emitted when the
/// window closes; then, keyed by window start, the largest count and its auctions (a
/// key-value aggregate whose record cache sends its latest update per window at each commit:
/// the last update per window is the result).
pub fn q5(format: Format, out: &str) -> anyhow::Result<Topology> {
    let builder = StreamsBuilder::new();
    let windows = TimeWindows::of_size_with_no_grace(Duration::from_millis(Q5_SIZE_MS as u64))
        .advance_by(Duration::from_millis(Q5_ADVANCE_MS as u64))?;
    bids_stream(&builder, format)
        .group_by(|_, b| b.auction, Serdes::i64())
        .windowed_by(windows)
        .emit_strategy(EmitStrategy::OnWindowClose)
        .count("q5-counts")
        .to_stream()
        .map(|w: Windowed<i64>, count: i64| {
            (
                w.window.start,
                AuctionCount {
                    auction: w.key,
                    count,
                },
            )
        })
        .with_key_serde(Serdes::i64())
        .with_value_serde(serde_of(format))
        .group_by_key()
        .aggregate(
            "q5-hot",
            HotItems::default,
            |_, c: &AuctionCount, hot: HotItems| hot.add(c.auction, c.count),
            serde_of(format),
        )
        .to_stream()
        .to(out);
    Ok(builder.build()?)
}

/// Highest bid per 10 s tumbling window: all bids under their one (empty) key, reduced to
/// the highest (the earliest of equal ones), emitted when the window closes.
pub fn q7(format: Format, out: &str) -> anyhow::Result<Topology> {
    let builder = StreamsBuilder::new();
    bids_stream(&builder, format)
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(
            Q7_SIZE_MS as u64,
        )))
        .emit_strategy(EmitStrategy::OnWindowClose)
        .reduce("q7-max", higher_bid)
        .to_stream()
        .to(out);
    Ok(builder.build()?)
}

/// New users: persons and auctions keyed by person id (auctions by seller), aggregated per
/// 10 s tumbling window, emitted on close; a window holding the person's registration and
/// at least one of its auctions is a result.
pub fn q8(format: Format, out: &str) -> anyhow::Result<Topology> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, Event>(PERSONS_AUCTIONS, Serdes::string(), serde_of(format))
        .flat_map(|_, e: Event| match e {
            Event::Person(p) => Some((p.id, Q8Side::Person(p.name))),
            Event::Auction(a) => Some((a.seller, Q8Side::Auction)),
            Event::Bid(_) => None,
        })
        .with_key_serde(Serdes::i64())
        .with_value_serde(serde_of(format))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(
            Q8_SIZE_MS as u64,
        )))
        .emit_strategy(EmitStrategy::OnWindowClose)
        .aggregate(
            "q8-window",
            Q8Agg::default,
            |_, side: &Q8Side, agg: Q8Agg| agg.add(side),
            serde_of(format),
        )
        .to_stream()
        .filter(|_, agg| agg.name.is_some() && agg.auctions > 0)
        .map_values_with_key(|w: &Windowed<i64>, agg: Q8Agg| NewUser {
            window_start: w.window.start,
            id: w.key,
            name: agg.name.unwrap_or_default(),
        })
        .with_value_serde(serde_of(format))
        .to(out);
    Ok(builder.build()?)
}
