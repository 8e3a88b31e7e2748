//! The model: Nexmark's events and the queries' intermediate values, and their encodings (a
//! small fixed binary serde, or JSON through `Serdes::json()`).

use std::marker::PhantomData;
use std::sync::Arc;

use eddy_streams::serdes::{Serde, SerdeRef, Serdes};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A new person (Nexmark's `Person`, without `extra`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub credit_card: String,
    pub city: String,
    pub state: String,
    pub date_time: i64,
}

/// A new auction (Nexmark's `Auction`, without `description` and `extra`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auction {
    pub id: i64,
    pub item_name: String,
    pub initial_bid: i64,
    pub reserve: i64,
    pub date_time: i64,
    pub expires: i64,
    pub seller: i64,
    pub category: i64,
}

/// A bid (Nexmark's `Bid`, without `extra`). Prices are in cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bid {
    pub auction: i64,
    pub bidder: i64,
    pub price: i64,
    pub channel: String,
    pub url: String,
    pub date_time: i64,
}

/// One Nexmark event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    Person(Person),
    Auction(Auction),
    Bid(Bid),
}

/// q5: an auction's bid count in one window (the second step's input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionCount {
    pub auction: i64,
    pub count: i64,
}

/// q5: the largest bid count of a window and the auctions that have it (ascending).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotItems {
    pub count: i64,
    pub auctions: Vec<i64>,
}

impl HotItems {
    pub fn add(mut self, auction: i64, count: i64) -> Self {
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
pub enum Q8Side {
    Person(String),
    Auction,
}

/// q8: per person id and window, the name if the person registered in it, and its auctions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q8Agg {
    pub name: Option<String>,
    pub auctions: i64,
}

impl Q8Agg {
    pub fn add(mut self, side: &Q8Side) -> Self {
        match side {
            Q8Side::Person(name) => self.name = Some(name.clone()),
            Q8Side::Auction => self.auctions += 1,
        }
        self
    }
}

/// q8's result: a person who registered and opened an auction in the same window.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NewUser {
    pub window_start: i64,
    pub id: i64,
    pub name: String,
}

// ---------------------------------------------------------------------------------------
// A fixed binary serde: little-endian i64s, strings as a u16 length and UTF-8 bytes.

pub trait Bin: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn take(r: &mut Reader<'_>) -> Option<Self>;
}

pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }
    pub fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
    pub fn string(&mut self) -> Option<String> {
        let n = u16::from_le_bytes(self.bytes(2)?.try_into().ok()?) as usize;
        String::from_utf8(self.bytes(n)?.to_vec()).ok()
    }
}

pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_str(out: &mut Vec<u8>, s: &str) {
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
pub struct BinSerde<T>(PhantomData<fn() -> T>);

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
pub enum Format {
    Binary,
    Json,
}

pub fn serde_of<T>(format: Format) -> SerdeRef<T>
where
    T: Bin + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    match format {
        Format::Binary => Arc::new(BinSerde::<T>(PhantomData)),
        Format::Json => Serdes::json(),
    }
}
