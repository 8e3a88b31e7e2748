//! The generator (after Beam's `NexmarkUtils`/`GeneratorConfig`, which Flink's Nexmark uses):
//! seeded and deterministic, event `i` a pure function of the seed and `i`.

use super::model::{Auction, Bid, Event, Person};

pub const PERSON_PROPORTION: i64 = 1;
pub const AUCTION_PROPORTION: i64 = 3;
pub const BID_PROPORTION: i64 = 46;
pub const TOTAL_PROPORTION: i64 = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION;
pub const FIRST_PERSON_ID: i64 = 1000;
pub const FIRST_AUCTION_ID: i64 = 1000;
pub const FIRST_CATEGORY_ID: i64 = 10;
pub const NUM_CATEGORIES: i64 = 5;
pub const NUM_ACTIVE_PEOPLE: i64 = 1000;
pub const NUM_IN_FLIGHT_AUCTIONS: i64 = 100;
pub const PERSON_ID_LEAD: i64 = 10;
pub const AUCTION_ID_LEAD: i64 = 10;
/// One in this many auctions goes to a hot seller, one in this many bids to a hot bidder.
pub const HOT_SELLERS_RATIO: i64 = 4;
pub const HOT_BIDDERS_RATIO: i64 = 4;
/// One in this many bids goes to a hot auction.
pub const HOT_AUCTIONS_RATIO: i64 = 2;
/// Hot ids are multiples of these.
pub const HOT_SELLER_STRIDE: i64 = 100;
pub const HOT_BIDDER_STRIDE: i64 = 100;
pub const HOT_AUCTION_STRIDE: i64 = 100;
/// Event time of event 0 is the run's start rounded down to a multiple of this (and so of
/// every window size used). Not a fixed date: the broker's retention (7 days) would delete
/// old-timestamped input under a slow query's feet.
pub const BASE_TIME_ALIGN_MS: i64 = 60_000;

pub const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
pub const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
pub const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
pub const US_CITIES: [&str; 10] = [
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
pub const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
pub const HOT_URLS: [&str; 4] = [
    "https://www.nexmark.com/googl/item.htm?query=1",
    "https://www.nexmark.com/faceb/item.htm?query=1",
    "https://www.nexmark.com/baidu/item.htm?query=1",
    "https://www.nexmark.com/apple/item.htm?query=1",
];

/// SplitMix64, seeded per event (as Beam seeds a `Random` per event id).
pub struct Rng(u64);

impl Rng {
    pub fn for_event(seed: u64, id: i64) -> Self {
        Self(seed ^ (id as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: i64) -> i64 {
        (self.next() % n as u64) as i64
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn letters(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'a' + self.below(26) as u8))
            .collect()
    }
    /// Nexmark's price: 10^(0..6) dollars, in cents.
    pub fn price(&mut self) -> i64 {
        (10f64.powf(self.unit() * 6.0) * 100.0).round() as i64
    }
    pub fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as i64) as usize]
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Generator {
    pub seed: u64,
    pub delay_us: i64,
    pub base_ms: i64,
}

impl Generator {
    pub fn timestamp(&self, id: i64) -> i64 {
        self.base_ms + id * self.delay_us / 1000
    }

    /// The `k`-th bid's event id.
    pub fn bid_event(k: i64) -> i64 {
        (k / BID_PROPORTION) * TOTAL_PROPORTION
            + PERSON_PROPORTION
            + AUCTION_PROPORTION
            + k % BID_PROPORTION
    }

    /// The `k`-th person-or-auction's event id.
    pub fn person_or_auction_event(k: i64) -> i64 {
        let n = PERSON_PROPORTION + AUCTION_PROPORTION;
        (k / n) * TOTAL_PROPORTION + k % n
    }

    pub fn last_base0_person_id(id: i64) -> i64 {
        let epoch = id / TOTAL_PROPORTION;
        let offset = (id % TOTAL_PROPORTION).min(PERSON_PROPORTION - 1);
        epoch * PERSON_PROPORTION + offset
    }

    pub fn last_base0_auction_id(id: i64) -> i64 {
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
    pub fn next_base0_person_id(id: i64, rng: &mut Rng) -> i64 {
        let people = Self::last_base0_person_id(id) + 1;
        let active = people.min(NUM_ACTIVE_PEOPLE);
        people - active + rng.below(active + PERSON_ID_LEAD)
    }

    /// A recent auction (or one of the next few).
    pub fn next_base0_auction_id(id: i64, rng: &mut Rng) -> i64 {
        let max = Self::last_base0_auction_id(id);
        let min = (max - NUM_IN_FLIGHT_AUCTIONS).max(0);
        min + rng.below(max - min + 1 + AUCTION_ID_LEAD)
    }

    pub fn event(&self, id: i64) -> Event {
        let offset = id % TOTAL_PROPORTION;
        if offset < PERSON_PROPORTION {
            Event::Person(self.person(id))
        } else if offset < PERSON_PROPORTION + AUCTION_PROPORTION {
            Event::Auction(self.auction(id))
        } else {
            Event::Bid(self.bid(id))
        }
    }

    pub fn person(&self, id: i64) -> Person {
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

    pub fn auction(&self, id: i64) -> Auction {
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

    pub fn bid(&self, id: i64) -> Bid {
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
