//! Nexmark on eddy-streams (embedded backend), next to a hand-written single-threaded
//! baseline over the same events in memory (not a timed test).
//!
//! ```text
//! cargo bench -p eddy-streams --bench nexmark [-- --events N] [--q8-events N] [--delay-us US]
//!     [--queries q0,q1,q2,q5,q7,q8] [--engines rocksdb,memory] [--json] [--seed S]
//! ```
//!
//! - A seeded, deterministic Nexmark generator (the Beam/Flink generator's rules: persons,
//!   auctions and bids in proportions 1:3:46 per 50 events; auctions name recent persons as
//!   sellers, bids recent auctions and persons, with hot auctions/sellers/bidders; event `i`
//!   is a pure function of the seed and `i`, and its time is `base + i * delay`: base is the
//!   run's start rounded down to a minute, delay 100 µs by default (Beam's default rate of
//!   10k events/s).
//! - Values use a small fixed binary serde (little-endian integers, length-prefixed UTF-8);
//!   `--json` switches every value to `Serdes::json()`.
//! - Each query's input is produced into a 1-partition topic first (`bids` holds the first
//!   N bids; `persons-auctions` the first N persons and auctions, in event order); then the
//!   app is started and timed from `App::start` until its `processed` metric has counted
//!   every input record (plus the records of its repartition topics), with the process' CPU
//!   time (getrusage: user + sys, all threads, the broker's included) over the same span.
//! - The output topic is read back and compared with the baseline's results; any difference
//!   fails the run.
//!
//! Goals (from the issue): >= 1M events/s per core for q0-q2, >= 300k for q5, q7, q8.
// getrusage is the only unsafe code here.
#![allow(unsafe_code)]

/// The app's allocator: mimalloc, as a throughput-minded Rust service would pick (the
/// figures with glibc's malloc: `--features bench-system-alloc`, see docs/benchmarks.md).
#[cfg(not(feature = "bench-system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use bytes::Bytes;
use eddy_broker::{Durability, NewRecord};
use eddy_streams::runtime::StoreEngine;
use eddy_streams::serdes::{Serde, SerdeRef, Serdes};
use eddy_streams::{
    App, AppConfig, Backend, EmbeddedBackend, EmitStrategy, StreamsBuilder, TimeWindows, Topology,
    Windowed,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------
// The model.

/// A new person (Nexmark's `Person`, without `extra`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Person {
    id: i64,
    name: String,
    email: String,
    credit_card: String,
    city: String,
    state: String,
    date_time: i64,
}

/// A new auction (Nexmark's `Auction`, without `description` and `extra`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Auction {
    id: i64,
    item_name: String,
    initial_bid: i64,
    reserve: i64,
    date_time: i64,
    expires: i64,
    seller: i64,
    category: i64,
}

/// A bid (Nexmark's `Bid`, without `extra`). Prices are in cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Bid {
    auction: i64,
    bidder: i64,
    price: i64,
    channel: String,
    url: String,
    date_time: i64,
}

/// One Nexmark event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Event {
    Person(Person),
    Auction(Auction),
    Bid(Bid),
}

/// q5: an auction's bid count in one window (the second step's input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct AuctionCount {
    auction: i64,
    count: i64,
}

/// q5: the largest bid count of a window and the auctions that have it (ascending).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct HotItems {
    count: i64,
    auctions: Vec<i64>,
}

impl HotItems {
    fn add(mut self, auction: i64, count: i64) -> Self {
        if count > self.count {
            self.count = count;
            self.auctions.clear();
        }
        if count == self.count
            && let Err(at) = self.auctions.binary_search(&auction)
        {
            self.auctions.insert(at, auction);
        }
        self
    }
}

/// q8: what a person id contributes to a window: the person's registration, or an auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Q8Side {
    Person(String),
    Auction,
}

/// q8: per person id and window, the name if the person registered in it, and its auctions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Q8Agg {
    name: Option<String>,
    auctions: i64,
}

impl Q8Agg {
    fn add(mut self, side: &Q8Side) -> Self {
        match side {
            Q8Side::Person(name) => self.name = Some(name.clone()),
            Q8Side::Auction => self.auctions += 1,
        }
        self
    }
}

/// q8's result: a person who registered and opened an auction in the same window.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct NewUser {
    window_start: i64,
    id: i64,
    name: String,
}

// ---------------------------------------------------------------------------------------
// A fixed binary serde: little-endian i64s, strings as a u16 length and UTF-8 bytes.

trait Bin: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn take(r: &mut Reader<'_>) -> Option<Self>;
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let n = u16::from_le_bytes(self.bytes(2)?.try_into().ok()?) as usize;
        String::from_utf8(self.bytes(n)?.to_vec()).ok()
    }
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let n = u16::try_from(s.len()).expect("generated strings are short");
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Bin for Person {
    fn put(&self, out: &mut Vec<u8>) {
        put_i64(out, self.id);
        put_str(out, &self.name);
        put_str(out, &self.email);
        put_str(out, &self.credit_card);
        put_str(out, &self.city);
        put_str(out, &self.state);
        put_i64(out, self.date_time);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Some(Self {
            id: r.i64()?,
            name: r.string()?,
            email: r.string()?,
            credit_card: r.string()?,
            city: r.string()?,
            state: r.string()?,
            date_time: r.i64()?,
        })
    }
}

impl Bin for Auction {
    fn put(&self, out: &mut Vec<u8>) {
        put_i64(out, self.id);
        put_str(out, &self.item_name);
        for v in [
            self.initial_bid,
            self.reserve,
            self.date_time,
            self.expires,
            self.seller,
            self.category,
        ] {
            put_i64(out, v);
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Some(Self {
            id: r.i64()?,
            item_name: r.string()?,
            initial_bid: r.i64()?,
            reserve: r.i64()?,
            date_time: r.i64()?,
            expires: r.i64()?,
            seller: r.i64()?,
            category: r.i64()?,
        })
    }
}

impl Bin for Bid {
    fn put(&self, out: &mut Vec<u8>) {
        put_i64(out, self.auction);
        put_i64(out, self.bidder);
        put_i64(out, self.price);
        put_str(out, &self.channel);
        put_str(out, &self.url);
        put_i64(out, self.date_time);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Some(Self {
            auction: r.i64()?,
            bidder: r.i64()?,
            price: r.i64()?,
            channel: r.string()?,
            url: r.string()?,
            date_time: r.i64()?,
        })
    }
}

impl Bin for Event {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Event::Person(p) => {
                out.push(0);
                p.put(out);
            }
            Event::Auction(a) => {
                out.push(1);
                a.put(out);
            }
            Event::Bid(b) => {
                out.push(2);
                b.put(out);
            }
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        match r.u8()? {
            0 => Person::take(r).map(Event::Person),
            1 => Auction::take(r).map(Event::Auction),
            2 => Bid::take(r).map(Event::Bid),
            _ => None,
        }
    }
}

impl Bin for AuctionCount {
    fn put(&self, out: &mut Vec<u8>) {
        put_i64(out, self.auction);
        put_i64(out, self.count);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Some(Self {
            auction: r.i64()?,
            count: r.i64()?,
        })
    }
}

impl Bin for HotItems {
    fn put(&self, out: &mut Vec<u8>) {
        put_i64(out, self.count);
        put_i64(out, self.auctions.len() as i64);
        for a in &self.auctions {
            put_i64(out, *a);
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        let count = r.i64()?;
        let n = usize::try_from(r.i64()?).ok()?;
        let auctions = (0..n).map(|_| r.i64()).collect::<Option<Vec<_>>>()?;
        Some(Self { count, auctions })
    }
}

impl Bin for Q8Side {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Q8Side::Person(name) => {
                out.push(0);
                put_str(out, name);
            }
            Q8Side::Auction => out.push(1),
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        match r.u8()? {
            0 => r.string().map(Q8Side::Person),
            1 => Some(Q8Side::Auction),
            _ => None,
        }
    }
}

impl Bin for Q8Agg {
    fn put(&self, out: &mut Vec<u8>) {
        match &self.name {
            Some(name) => {
                out.push(1);
                put_str(out, name);
            }
            None => out.push(0),
        }
        put_i64(out, self.auctions);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        let name = match r.u8()? {
            0 => None,
            1 => Some(r.string()?),
            _ => return None,
        };
        Some(Self {
            name,
            auctions: r.i64()?,
        })
    }
}

impl Bin for NewUser {
    fn put(&self, out: &mut Vec<u8>) {
        put_i64(out, self.window_start);
        put_i64(out, self.id);
        put_str(out, &self.name);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Some(Self {
            window_start: r.i64()?,
            id: r.i64()?,
            name: r.string()?,
        })
    }
}

/// [`Bin`] as an eddy-streams serde.
struct BinSerde<T>(PhantomData<fn() -> T>);

impl<T: Bin> Serde<T> for BinSerde<T> {
    fn serialize(&self, value: &T) -> eddy_state::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(96);
        value.put(&mut out);
        Ok(out)
    }

    fn deserialize(&self, bytes: &[u8]) -> eddy_state::Result<T> {
        let mut r = Reader(bytes);
        match T::take(&mut r) {
            Some(v) if r.0.is_empty() => Ok(v),
            _ => Err(eddy_state::Error::Decode {
                what: "nexmark value",
                reason: format!(
                    "{} bytes are not a {}",
                    bytes.len(),
                    std::any::type_name::<T>()
                ),
            }),
        }
    }
}

/// How values are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Binary,
    Json,
}

fn serde_of<T>(format: Format) -> SerdeRef<T>
where
    T: Bin + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    match format {
        Format::Binary => Arc::new(BinSerde::<T>(PhantomData)),
        Format::Json => Serdes::json(),
    }
}

// ---------------------------------------------------------------------------------------
// The generator (after Beam's `NexmarkUtils`/`GeneratorConfig`, which Flink's Nexmark uses).

const PERSON_PROPORTION: i64 = 1;
const AUCTION_PROPORTION: i64 = 3;
const BID_PROPORTION: i64 = 46;
const TOTAL_PROPORTION: i64 = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION;
const FIRST_PERSON_ID: i64 = 1000;
const FIRST_AUCTION_ID: i64 = 1000;
const FIRST_CATEGORY_ID: i64 = 10;
const NUM_CATEGORIES: i64 = 5;
const NUM_ACTIVE_PEOPLE: i64 = 1000;
const NUM_IN_FLIGHT_AUCTIONS: i64 = 100;
const PERSON_ID_LEAD: i64 = 10;
const AUCTION_ID_LEAD: i64 = 10;
/// One in this many auctions goes to a hot seller, one in this many bids to a hot bidder.
const HOT_SELLERS_RATIO: i64 = 4;
const HOT_BIDDERS_RATIO: i64 = 4;
/// One in this many bids goes to a hot auction.
const HOT_AUCTIONS_RATIO: i64 = 2;
/// Hot ids are multiples of these.
const HOT_SELLER_STRIDE: i64 = 100;
const HOT_BIDDER_STRIDE: i64 = 100;
const HOT_AUCTION_STRIDE: i64 = 100;
/// Event time of event 0 is the run's start rounded down to a multiple of this (and so of
/// every window size used). Not a fixed date: the broker's retention (7 days) would delete
/// old-timestamped input under a slow query's feet.
const BASE_TIME_ALIGN_MS: i64 = 60_000;

const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
const HOT_URLS: [&str; 4] = [
    "https://www.nexmark.com/googl/item.htm?query=1",
    "https://www.nexmark.com/faceb/item.htm?query=1",
    "https://www.nexmark.com/baidu/item.htm?query=1",
    "https://www.nexmark.com/apple/item.htm?query=1",
];

/// SplitMix64, seeded per event (as Beam seeds a `Random` per event id).
struct Rng(u64);

impl Rng {
    fn for_event(seed: u64, id: i64) -> Self {
        Self(seed ^ (id as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: i64) -> i64 {
        (self.next() % n as u64) as i64
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn letters(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'a' + self.below(26) as u8))
            .collect()
    }
    /// Nexmark's price: 10^(0..6) dollars, in cents.
    fn price(&mut self) -> i64 {
        (10f64.powf(self.unit() * 6.0) * 100.0).round() as i64
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as i64) as usize]
    }
}

#[derive(Debug, Clone, Copy)]
struct Generator {
    seed: u64,
    delay_us: i64,
    base_ms: i64,
}

impl Generator {
    fn timestamp(&self, id: i64) -> i64 {
        self.base_ms + id * self.delay_us / 1000
    }

    /// The `k`-th bid's event id.
    fn bid_event(k: i64) -> i64 {
        (k / BID_PROPORTION) * TOTAL_PROPORTION
            + PERSON_PROPORTION
            + AUCTION_PROPORTION
            + k % BID_PROPORTION
    }

    /// The `k`-th person-or-auction's event id.
    fn person_or_auction_event(k: i64) -> i64 {
        let n = PERSON_PROPORTION + AUCTION_PROPORTION;
        (k / n) * TOTAL_PROPORTION + k % n
    }

    fn last_base0_person_id(id: i64) -> i64 {
        let epoch = id / TOTAL_PROPORTION;
        let offset = (id % TOTAL_PROPORTION).min(PERSON_PROPORTION - 1);
        epoch * PERSON_PROPORTION + offset
    }

    fn last_base0_auction_id(id: i64) -> i64 {
        let mut epoch = id / TOTAL_PROPORTION;
        let mut offset = id % TOTAL_PROPORTION;
        if offset < PERSON_PROPORTION {
            epoch -= 1;
            offset = AUCTION_PROPORTION - 1;
        } else if offset >= PERSON_PROPORTION + AUCTION_PROPORTION {
            offset = AUCTION_PROPORTION - 1;
        } else {
            offset -= PERSON_PROPORTION;
        }
        epoch * AUCTION_PROPORTION + offset
    }

    /// A recent person (or one of the next few).
    fn next_base0_person_id(id: i64, rng: &mut Rng) -> i64 {
        let people = Self::last_base0_person_id(id) + 1;
        let active = people.min(NUM_ACTIVE_PEOPLE);
        people - active + rng.below(active + PERSON_ID_LEAD)
    }

    /// A recent auction (or one of the next few).
    fn next_base0_auction_id(id: i64, rng: &mut Rng) -> i64 {
        let max = Self::last_base0_auction_id(id);
        let min = (max - NUM_IN_FLIGHT_AUCTIONS).max(0);
        min + rng.below(max - min + 1 + AUCTION_ID_LEAD)
    }

    fn event(&self, id: i64) -> Event {
        let offset = id % TOTAL_PROPORTION;
        if offset < PERSON_PROPORTION {
            Event::Person(self.person(id))
        } else if offset < PERSON_PROPORTION + AUCTION_PROPORTION {
            Event::Auction(self.auction(id))
        } else {
            Event::Bid(self.bid(id))
        }
    }

    fn person(&self, id: i64) -> Person {
        let mut rng = Rng::for_event(self.seed, id);
        let name = format!("{} {}", rng.pick(&FIRST_NAMES), rng.pick(&LAST_NAMES));
        let email = format!("{}@{}.com", rng.letters(7), rng.letters(5));
        let credit_card = format!(
            "{:04} {:04} {:04} {:04}",
            rng.below(10_000),
            rng.below(10_000),
            rng.below(10_000),
            rng.below(10_000)
        );
        Person {
            id: Self::last_base0_person_id(id) + FIRST_PERSON_ID,
            name,
            email,
            credit_card,
            city: rng.pick(&US_CITIES).to_string(),
            state: rng.pick(&US_STATES).to_string(),
            date_time: self.timestamp(id),
        }
    }

    fn auction(&self, id: i64) -> Auction {
        let mut rng = Rng::for_event(self.seed, id);
        let seller = if rng.below(HOT_SELLERS_RATIO) == 0 {
            (Self::last_base0_person_id(id) / HOT_SELLER_STRIDE) * HOT_SELLER_STRIDE
        } else {
            Self::next_base0_person_id(id, &mut rng)
        };
        let initial_bid = rng.price();
        let time = self.timestamp(id);
        Auction {
            id: Self::last_base0_auction_id(id) + FIRST_AUCTION_ID,
            item_name: rng.letters(20),
            initial_bid,
            reserve: initial_bid + rng.price(),
            date_time: time,
            expires: time + 10_000 + rng.below(20_000),
            seller: seller + FIRST_PERSON_ID,
            category: FIRST_CATEGORY_ID + rng.below(NUM_CATEGORIES),
        }
    }

    fn bid(&self, id: i64) -> Bid {
        let mut rng = Rng::for_event(self.seed, id);
        let auction = if rng.below(HOT_AUCTIONS_RATIO) == 0 {
            (Self::last_base0_auction_id(id) / HOT_AUCTION_STRIDE) * HOT_AUCTION_STRIDE
        } else {
            Self::next_base0_auction_id(id, &mut rng)
        };
        let bidder = if rng.below(HOT_BIDDERS_RATIO) == 0 {
            (Self::last_base0_person_id(id) / HOT_BIDDER_STRIDE) * HOT_BIDDER_STRIDE + 1
        } else {
            Self::next_base0_person_id(id, &mut rng)
        };
        let price = rng.price();
        let (channel, url) = if rng.below(2) == 0 {
            let i = rng.below(4) as usize;
            (HOT_CHANNELS[i].to_string(), HOT_URLS[i].to_string())
        } else {
            let c = rng.below(10_000);
            (
                format!("channel-{c}"),
                format!(
                    "https://www.nexmark.com/{}/{}/{}/item.htm?query=1&channel_id={c}",
                    rng.letters(5),
                    rng.letters(5),
                    rng.letters(5)
                ),
            )
        };
        Bid {
            auction: auction + FIRST_AUCTION_ID,
            bidder: bidder + FIRST_PERSON_ID,
            price,
            channel,
            url,
            date_time: self.timestamp(id),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The queries, in the DSL.

const BIDS: &str = "bids";
const PERSONS_AUCTIONS: &str = "persons-auctions";
const Q5_SIZE_MS: i64 = 10_000;
const Q5_ADVANCE_MS: i64 = 2_000;
const Q7_SIZE_MS: i64 = 10_000;
const Q8_SIZE_MS: i64 = 10_000;

/// q1's conversion: dollars to euros (Nexmark's 0.908), prices in cents.
fn to_euros(price: i64) -> i64 {
    (price as f64 * 0.908) as i64
}

fn q2_keeps(bid: &Bid) -> bool {
    bid.auction % 123 == 0
}

/// q7's reducer: the higher bid, the earlier one on ties.
fn higher_bid(a: Bid, b: Bid) -> Bid {
    if b.price > a.price { b } else { a }
}

fn bids_stream(builder: &StreamsBuilder, format: Format) -> eddy_streams::KStream<String, Bid> {
    builder.stream::<String, Bid>(BIDS, Serdes::string(), serde_of(format))
}

fn q0(format: Format, out: &str) -> anyhow::Result<Topology> {
    let builder = StreamsBuilder::new();
    bids_stream(&builder, format).to(out);
    Ok(builder.build()?)
}

fn q1(format: Format, out: &str) -> anyhow::Result<Topology> {
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

fn q2(format: Format, out: &str) -> anyhow::Result<Topology> {
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
fn q5(format: Format, out: &str) -> anyhow::Result<Topology> {
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
fn q7(format: Format, out: &str) -> anyhow::Result<Topology> {
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
fn q8(format: Format, out: &str) -> anyhow::Result<Topology> {
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

// ---------------------------------------------------------------------------------------
// The baselines: the same results by hand, single-threaded, over the events in memory.

/// Tumbling or hopping windows `[start, start + size)` holding `t`, as Kafka Streams cuts them.
fn window_starts(t: i64, size: i64, advance: i64) -> impl Iterator<Item = i64> {
    let first = ((t - size + advance).max(0) / advance) * advance;
    (0..)
        .map(move |i| first + i * advance)
        .take_while(move |s| *s <= t)
}

fn base_q0(bids: &[Bid]) -> Vec<Bid> {
    bids.to_vec()
}

fn base_q1(bids: &[Bid]) -> Vec<Bid> {
    bids.iter()
        .map(|b| Bid {
            price: to_euros(b.price),
            ..b.clone()
        })
        .collect()
}

fn base_q2(bids: &[Bid]) -> Vec<Bid> {
    bids.iter().filter(|b| q2_keeps(b)).cloned().collect()
}

/// q5 by hand: open windows' counts, closed (and their hot items computed) once the
/// largest time seen reaches their end. Returns the results per window start and how many
/// (auction, window) counts the first step emits.
fn base_q5(bids: &[Bid]) -> (BTreeMap<i64, HotItems>, u64) {
    let mut open: BTreeMap<i64, HashMap<i64, i64>> = BTreeMap::new();
    let mut results = BTreeMap::new();
    let mut counts_emitted = 0u64;
    let mut observed = i64::MIN;
    for b in bids {
        observed = observed.max(b.date_time);
        for start in window_starts(b.date_time, Q5_SIZE_MS, Q5_ADVANCE_MS) {
            *open.entry(start).or_default().entry(b.auction).or_insert(0) += 1;
        }
        while let Some(entry) = open.first_entry() {
            if *entry.key() + Q5_SIZE_MS > observed {
                break;
            }
            let (start, counts) = entry.remove_entry();
            counts_emitted += counts.len() as u64;
            let hot = counts
                .iter()
                .fold(HotItems::default(), |hot, (a, c)| hot.add(*a, *c));
            results.insert(start, hot);
        }
    }
    (results, counts_emitted)
}

/// q7 by hand: the highest bid per closed tumbling window, in window order.
fn base_q7(bids: &[Bid]) -> Vec<(i64, Bid)> {
    let mut open: BTreeMap<i64, Bid> = BTreeMap::new();
    let mut results = Vec::new();
    let mut observed = i64::MIN;
    for b in bids {
        observed = observed.max(b.date_time);
        for start in window_starts(b.date_time, Q7_SIZE_MS, Q7_SIZE_MS) {
            match open.get_mut(&start) {
                Some(best) => {
                    if b.price > best.price {
                        *best = b.clone();
                    }
                }
                None => {
                    open.insert(start, b.clone());
                }
            }
        }
        while let Some(entry) = open.first_entry() {
            if *entry.key() + Q7_SIZE_MS > observed {
                break;
            }
            results.push(entry.remove_entry());
        }
    }
    results
}

/// q8 by hand: per closed window, persons who registered in it and opened an auction in it.
fn base_q8(events: &[Event]) -> Vec<NewUser> {
    let mut open: BTreeMap<i64, HashMap<i64, Q8Agg>> = BTreeMap::new();
    let mut results = Vec::new();
    let mut observed = i64::MIN;
    for e in events {
        let (id, side, t) = match e {
            Event::Person(p) => (p.id, Q8Side::Person(p.name.clone()), p.date_time),
            Event::Auction(a) => (a.seller, Q8Side::Auction, a.date_time),
            Event::Bid(_) => continue,
        };
        observed = observed.max(t);
        for start in window_starts(t, Q8_SIZE_MS, Q8_SIZE_MS) {
            let agg = open.entry(start).or_default().entry(id).or_default();
            *agg = std::mem::take(agg).add(&side);
        }
        while let Some(entry) = open.first_entry() {
            if *entry.key() + Q8_SIZE_MS > observed {
                break;
            }
            let (start, people) = entry.remove_entry();
            let mut found: Vec<NewUser> = people
                .into_iter()
                .filter(|(_, agg)| agg.auctions > 0)
                .filter_map(|(id, agg)| {
                    agg.name.map(|name| NewUser {
                        window_start: start,
                        id,
                        name,
                    })
                })
                .collect();
            found.sort();
            results.extend(found);
        }
    }
    results
}

/// Runs `f` `rounds` times; its result and the best time.
fn time_best<T>(rounds: usize, mut f: impl FnMut() -> T) -> (T, f64) {
    let mut best = f64::INFINITY;
    let mut result = None;
    for _ in 0..rounds {
        let started = Instant::now();
        let r = black_box(f());
        best = best.min(started.elapsed().as_secs_f64());
        result = Some(r);
    }
    (result.expect("at least one round"), best)
}

// ---------------------------------------------------------------------------------------
// Running on the embedded backend.

/// User + system CPU time of the whole process, seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given; all-zero bytes are a valid rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn produce(
    backend: &EmbeddedBackend,
    topic: &str,
    values: impl Iterator<Item = (i64, Vec<u8>)>,
) -> anyhow::Result<u64> {
    backend.create_topic(topic, 1, false)?;
    let mut chunk = Vec::with_capacity(5_000);
    let mut n = 0u64;
    let flush = |chunk: &mut Vec<NewRecord>| -> anyhow::Result<()> {
        if !chunk.is_empty() {
            backend.block_on(
                backend
                    .broker()
                    .produce(topic, 0, chunk, Durability::Written),
            )?;
            chunk.clear();
        }
        Ok(())
    };
    for (timestamp, value) in values {
        chunk.push(NewRecord {
            key: Some(Bytes::new()),
            value: Some(Bytes::from(value)),
            headers: Vec::new(),
            timestamp: Some(timestamp),
        });
        n += 1;
        if chunk.len() == 5_000 {
            flush(&mut chunk)?;
        }
    }
    flush(&mut chunk)?;
    Ok(n)
}

/// Every record of partition 0 of `topic`: key, value, timestamp.
fn read_topic(
    backend: &EmbeddedBackend,
    topic: &str,
) -> anyhow::Result<Vec<(Bytes, Option<Bytes>, i64)>> {
    let mut out = Vec::new();
    let mut position = 0;
    loop {
        let fetched = backend.block_on(backend.broker().fetch(
            topic,
            0,
            position,
            8 << 20,
            Duration::ZERO,
        ))?;
        if fetched.records.is_empty() {
            break;
        }
        for r in eddy_broker::decode_records(&fetched.records)? {
            if r.offset >= position {
                position = r.offset + 1;
                out.push((r.key.unwrap_or_default(), r.value, r.timestamp));
            }
        }
        if position >= fetched.high_watermark {
            break;
        }
    }
    Ok(out)
}

fn decode_values<T>(
    records: &[(Bytes, Option<Bytes>, i64)],
    serde: &SerdeRef<T>,
) -> anyhow::Result<Vec<T>> {
    records
        .iter()
        .map(|(_, v, _)| {
            let v = v.as_ref().context("a tombstone in the output")?;
            Ok(serde.deserialize(v)?)
        })
        .collect()
}

struct Measured {
    /// From `App::start` until every record was processed.
    wall: f64,
    /// Process CPU time over the same span.
    cpu: f64,
    /// Commits during the span.
    commits: u64,
    /// Then `stop()`: the final commit (flushes outputs, changelogs, stores) and close.
    stop: f64,
}

struct Bench {
    backend: Arc<EmbeddedBackend>,
    state_dir: std::path::PathBuf,
}

impl Bench {
    /// End offsets of the topics, and the offsets `app` committed: for a stall's report.
    fn offsets(&self, app: &str) -> String {
        let broker = self.backend.broker();
        let committed: HashMap<String, i64> = broker
            .group_offsets(app)
            .into_iter()
            .map(|(t, _, c)| (t, c.offset))
            .collect();
        let mut topics = broker.list_topics();
        topics.sort();
        topics
            .iter()
            .map(|t| {
                format!(
                    "{t}: end {:?} committed {:?}",
                    self.backend.end_offset(t, 0),
                    committed.get(t)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Starts `topology` as application `app`, waits until it has processed `expected`
    /// records (input and repartition topics), stops it.
    fn run(
        &self,
        app: &str,
        topology: Topology,
        engine: StoreEngine,
        expected: u64,
    ) -> anyhow::Result<Measured> {
        let config = AppConfig {
            threads: 1,
            commit_interval: Duration::from_secs(1),
            store_engine: engine,
            state_dir: self.state_dir.clone(),
            ..AppConfig::new(app, self.backend.clone())
        };
        let cpu_before = cpu_seconds();
        let started = Instant::now();
        let running = App::new(topology, config).start()?;
        let (mut last, mut last_change) = (0, Instant::now());
        loop {
            let m = running.metrics();
            if m.processed >= expected {
                break;
            }
            if let Some(failure) = running.failure() {
                bail!("{app} failed: {failure}");
            }
            if m.processed != last {
                (last, last_change) = (m.processed, Instant::now());
            } else if last_change.elapsed() > Duration::from_secs(60) {
                bail!(
                    "{app} stalled at {} of {expected} records processed: {m:?}; {}",
                    m.processed,
                    self.offsets(app)
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu_before;
        let m = running.metrics();
        ensure!(
            m.processed == expected,
            "{app} processed {} records, expected {expected}",
            m.processed
        );
        ensure!(
            m.late_dropped == 0 && m.skipped == 0,
            "{app} dropped {} late and skipped {} records",
            m.late_dropped,
            m.skipped
        );
        let stopping = Instant::now();
        running.stop()?;
        Ok(Measured {
            wall,
            cpu,
            commits: m.commits,
            stop: stopping.elapsed().as_secs_f64(),
        })
    }
}

struct Row {
    query: &'static str,
    engine: &'static str,
    events: u64,
    measured: Measured,
    baseline_rate: f64,
    outputs: usize,
    goal: f64,
}

impl Row {
    fn wall_rate(&self) -> f64 {
        self.events as f64 / self.measured.wall
    }
    fn core_rate(&self) -> f64 {
        self.events as f64 / self.measured.cpu
    }
}

fn print_header() {
    println!(
        "{:<5} {:<8} {:>9} {:>8} {:>12} {:>7} {:>13} {:>7} {:>6} {:>13} {:>9} {:>8}  goal/core",
        "query",
        "engine",
        "events",
        "wall s",
        "events/s",
        "cpu s",
        "ev/s per core",
        "commits",
        "stop s",
        "baseline ev/s",
        "DSL/base",
        "outputs"
    );
}

fn print_row(r: &Row) {
    println!(
        "{:<5} {:<8} {:>9} {:>8.2} {:>12.0} {:>7.2} {:>13.0} {:>7} {:>6.2} {:>13.0} {:>9.4} {:>8}  {:>7.0}k {}",
        r.query,
        r.engine,
        r.events,
        r.measured.wall,
        r.wall_rate(),
        r.measured.cpu,
        r.core_rate(),
        r.measured.commits,
        r.measured.stop,
        r.baseline_rate,
        r.wall_rate() / r.baseline_rate,
        r.outputs,
        r.goal / 1000.0,
        if r.core_rate() >= r.goal {
            "met"
        } else {
            "MISSED"
        }
    );
}

struct Args {
    events: u64,
    q8_events: u64,
    delay_us: i64,
    seed: u64,
    format: Format,
    queries: Vec<String>,
    engines: Vec<StoreEngine>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        events: 1_000_000,
        q8_events: 1_000_000,
        delay_us: 100,
        seed: 42,
        format: Format::Binary,
        queries: ["q0", "q1", "q2", "q5", "q7", "q8"]
            .map(String::from)
            .to_vec(),
        engines: vec![StoreEngine::RocksDb, StoreEngine::Memory],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--events" => args.events = value()?.parse()?,
            "--q8-events" => args.q8_events = value()?.parse()?,
            "--delay-us" => args.delay_us = value()?.parse()?,
            "--seed" => args.seed = value()?.parse()?,
            "--json" => args.format = Format::Json,
            "--queries" => args.queries = value()?.split(',').map(String::from).collect(),
            "--engines" => {
                args.engines = value()?
                    .split(',')
                    .map(|e| match e {
                        "rocksdb" => Ok(StoreEngine::RocksDb),
                        "memory" => Ok(StoreEngine::Memory),
                        other => bail!("unknown engine {other:?}"),
                    })
                    .collect::<anyhow::Result<_>>()?
            }
            // `cargo bench` passes --bench; ignore whatever else we do not know.
            _ => {}
        }
    }
    ensure!(args.delay_us > 0, "--delay-us must be positive");
    Ok(args)
}

fn engine_name(engine: StoreEngine) -> &'static str {
    match engine {
        StoreEngine::RocksDb => "rocksdb",
        StoreEngine::Memory => "memory",
    }
}

fn check<T: PartialEq + std::fmt::Debug>(query: &str, got: &[T], want: &[T]) -> anyhow::Result<()> {
    if got.len() != want.len() {
        bail!(
            "{query}: WRONG RESULT: {} output records, the baseline has {}",
            got.len(),
            want.len()
        );
    }
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        bail!(
            "{query}: WRONG RESULT at output {i}: {:?}, the baseline has {:?}",
            got[i],
            want[i]
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let format = args.format;
    let generator = Generator {
        seed: args.seed,
        delay_us: args.delay_us,
        base_ms: eddy_broker::now_ms() / BASE_TIME_ALIGN_MS * BASE_TIME_ALIGN_MS,
    };
    let wants = |q: &str| args.queries.iter().any(|x| x == q);
    let dir = tempfile::tempdir()?;
    let backend = Arc::new(EmbeddedBackend::open(dir.path().join("broker"))?);
    let bench = Bench {
        backend: backend.clone(),
        state_dir: dir.path().join("state"),
    };
    println!(
        "nexmark on eddy-streams, embedded backend, 1 partition, 1 stream thread; values: {}; \
         event time: {} us per event; seed {}; allocator: {}",
        match format {
            Format::Binary => "fixed binary serde",
            Format::Json => "JSON",
        },
        args.delay_us,
        args.seed,
        if cfg!(feature = "bench-system-alloc") {
            "system (glibc malloc)"
        } else {
            "mimalloc"
        }
    );

    let mut rows = Vec::new();
    let bid_queries = ["q0", "q1", "q2", "q5", "q7"];
    if bid_queries.iter().any(|q| wants(q)) {
        let started = Instant::now();
        let bids: Vec<Bid> = (0..args.events as i64)
            .map(|k| generator.bid(Generator::bid_event(k)))
            .collect();
        let generated = started.elapsed().as_secs_f64();
        let serde: SerdeRef<Bid> = serde_of(format);
        let started = Instant::now();
        let mut bytes = 0usize;
        let n = produce(
            &backend,
            BIDS,
            bids.iter().map(|b| {
                let v = serde.serialize(b).expect("bids encode");
                bytes += v.len();
                (b.date_time, v)
            }),
        )?;
        let span = (bids.last().map_or(0, |b| b.date_time) - bids[0].date_time) as f64 / 1000.0;
        println!(
            "input: {n} bids ({:.1} bytes/value, {span:.1} s of event time): generated in {generated:.2} s, \
             produced to {BIDS:?} in {:.2} s",
            bytes as f64 / n as f64,
            started.elapsed().as_secs_f64()
        );
        print_header();
        let bid_serde: SerdeRef<Bid> = serde_of(format);

        type Stateless = fn(&[Bid]) -> Vec<Bid>;
        type Build = fn(Format, &str) -> anyhow::Result<Topology>;
        let stateless: [(&'static str, Stateless, Build); 3] = [
            ("q0", base_q0, q0),
            ("q1", base_q1, q1),
            ("q2", base_q2, q2),
        ];
        for (query, baseline, build) in stateless {
            if !wants(query) {
                continue;
            }
            let (want, secs) = time_best(3, || baseline(&bids));
            let out = format!("{query}-out");
            backend.create_topic(&out, 1, false)?;
            let measured = bench.run(
                &format!("nexmark-{query}"),
                build(format, &out)?,
                StoreEngine::Memory,
                n,
            )?;
            let got = decode_values(&read_topic(&backend, &out)?, &bid_serde)?;
            check(query, &got, &want)?;
            let row = Row {
                query,
                engine: "-",
                events: n,
                measured,
                baseline_rate: n as f64 / secs,
                outputs: got.len(),
                goal: 1_000_000.0,
            };
            print_row(&row);
            rows.push(row);
        }

        if wants("q5") {
            let ((want, counts), secs) = time_best(3, || base_q5(&bids));
            for &engine in &args.engines {
                let out = format!("q5-{}-out", engine_name(engine));
                backend.create_topic(&out, 1, false)?;
                let measured = bench.run(
                    &format!("nexmark-q5-{}", engine_name(engine)),
                    q5(format, &out)?,
                    engine,
                    2 * n + counts,
                )?;
                let records = read_topic(&backend, &out)?;
                let hot = decode_values(&records, &serde_of::<HotItems>(format))?;
                // The second step's record cache merges the updates of a window between
                // commits: at most one update per count, at least one per window.
                ensure!(
                    records.len() as u64 <= counts && records.len() >= want.len(),
                    "q5: WRONG RESULT: {} updates in the output, the baseline's first step emits {counts} counts for {} windows",
                    records.len(),
                    want.len()
                );
                println!(
                    "q5 {}: {} updates in the output for {} counts (record cache)",
                    engine_name(engine),
                    records.len(),
                    counts
                );
                // The result per window is its last update.
                let mut last = BTreeMap::new();
                for ((key, _, _), hot) in records.iter().zip(hot) {
                    last.insert(Serdes::i64().deserialize(key)?, hot);
                }
                let got: Vec<_> = last.into_iter().collect();
                let want: Vec<_> = want.clone().into_iter().collect();
                check("q5", &got, &want)?;
                let row = Row {
                    query: "q5",
                    engine: engine_name(engine),
                    events: n,
                    measured,
                    baseline_rate: n as f64 / secs,
                    outputs: got.len(),
                    goal: 300_000.0,
                };
                print_row(&row);
                rows.push(row);
            }
        }

        if wants("q7") {
            let (want, secs) = time_best(3, || base_q7(&bids));
            let windowed = Serdes::time_windowed(Serdes::string(), Q7_SIZE_MS);
            for &engine in &args.engines {
                let out = format!("q7-{}-out", engine_name(engine));
                backend.create_topic(&out, 1, false)?;
                let measured = bench.run(
                    &format!("nexmark-q7-{}", engine_name(engine)),
                    q7(format, &out)?,
                    engine,
                    n,
                )?;
                let records = read_topic(&backend, &out)?;
                let values = decode_values(&records, &bid_serde)?;
                let got = records
                    .iter()
                    .zip(values)
                    .map(|((k, _, _), b)| Ok((windowed.deserialize(k)?.window.start, b)))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                check("q7", &got, &want)?;
                let row = Row {
                    query: "q7",
                    engine: engine_name(engine),
                    events: n,
                    measured,
                    baseline_rate: n as f64 / secs,
                    outputs: got.len(),
                    goal: 300_000.0,
                };
                print_row(&row);
                rows.push(row);
            }
        }
    }

    if wants("q8") {
        let started = Instant::now();
        let events: Vec<Event> = (0..args.q8_events as i64)
            .map(|k| generator.event(Generator::person_or_auction_event(k)))
            .collect();
        let generated = started.elapsed().as_secs_f64();
        let serde: SerdeRef<Event> = serde_of(format);
        let started = Instant::now();
        let n = produce(
            &backend,
            PERSONS_AUCTIONS,
            events.iter().map(|e| {
                let t = match e {
                    Event::Person(p) => p.date_time,
                    Event::Auction(a) => a.date_time,
                    Event::Bid(b) => b.date_time,
                };
                (t, serde.serialize(e).expect("events encode"))
            }),
        )?;
        println!(
            "input: {n} persons and auctions: generated in {generated:.2} s, produced to \
             {PERSONS_AUCTIONS:?} in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        print_header();
        let (want, secs) = time_best(3, || base_q8(&events));
        for &engine in &args.engines {
            let out = format!("q8-{}-out", engine_name(engine));
            backend.create_topic(&out, 1, false)?;
            let measured = bench.run(
                &format!("nexmark-q8-{}", engine_name(engine)),
                q8(format, &out)?,
                engine,
                2 * n,
            )?;
            let mut got = decode_values(&read_topic(&backend, &out)?, &serde_of(format))?;
            got.sort();
            check("q8", &got, &want)?;
            let row = Row {
                query: "q8",
                engine: engine_name(engine),
                events: n,
                measured,
                baseline_rate: n as f64 / secs,
                outputs: got.len(),
                goal: 300_000.0,
            };
            print_row(&row);
            rows.push(row);
        }
    }

    println!("\nsummary (all outputs equal the baseline's):");
    print_header();
    for row in &rows {
        print_row(row);
    }
    backend.block_on(backend.broker().shutdown())?;
    Ok(())
}
