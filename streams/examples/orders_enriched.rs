//! Orders enriched with customers: a stream-table join on the customer id.
//!
//! `cargo run -p eddy-streams --example orders_enriched` (embedded broker), or
//! `cargo run -p eddy-streams --example orders_enriched -- --bootstrap-servers 127.0.0.1:9092` (Kafka)

mod common;

use eddy_streams::serdes::Serdes;
use eddy_streams::{App, AppConfig, StreamsBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    id: u64,
    amount_cents: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Customer {
    name: String,
    tier: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EnrichedOrder {
    id: u64,
    amount_cents: i64,
    customer: Option<String>,
    tier: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let env = common::env()?;
    let backend = env.backend.clone();
    env.create_topics(&["orders", "customers", "orders-enriched"], 3)?;

    let builder = StreamsBuilder::new();
    let customers = builder.table(
        "customers",
        Serdes::string(),
        Serdes::json::<Customer>(),
        "customers-store",
    );
    builder
        .stream("orders", Serdes::string(), Serdes::json::<Order>()) // keyed by customer id
        .left_join_table(&customers, |order, customer| EnrichedOrder {
            id: order.id,
            amount_cents: order.amount_cents,
            customer: customer.map(|c| c.name.clone()),
            tier: customer.map(|c| c.tier.clone()),
        })
        .with_value_serde(Serdes::json())
        .to("orders-enriched");
    let topology = builder.build()?;
    println!("{}", topology.describe());

    let json = |v: &dyn erased::Json| v.bytes();
    let customer = |id: &str, name: &str, tier: &str| {
        (
            id.as_bytes().to_vec(),
            json(&Customer {
                name: name.into(),
                tier: tier.into(),
            }),
            0,
        )
    };
    common::produce(
        &backend,
        "customers",
        &[
            customer("c1", "Ann", "gold"),
            customer("c2", "Bob", "basic"),
        ],
    )?;
    let order = |customer: &str, id: u64, amount_cents: i64| {
        (
            customer.as_bytes().to_vec(),
            json(&Order { id, amount_cents }),
            10,
        )
    };
    common::produce(
        &backend,
        "orders",
        &[
            order("c1", 1, 1_250),
            order("c2", 2, 99),
            order("c9", 3, 500),
        ],
    )?;

    let config = AppConfig {
        state_dir: env.state_dir(),
        ..AppConfig::new("orders", backend.clone())
    };
    let app = App::new(topology, config).start()?;
    let mut enriched: Vec<EnrichedOrder> = Vec::new();
    common::wait_for("three enriched orders", || {
        enriched = common::read_topic(&backend, "orders-enriched")?
            .into_iter()
            .map(|(_, v)| Ok(serde_json::from_slice(&v.unwrap_or_default())?))
            .collect::<anyhow::Result<_>>()?;
        Ok(enriched.len() == 3)
    })?;
    app.stop()?;
    enriched.sort_by_key(|o| o.id);
    for order in &enriched {
        println!("{order:?}");
    }
    anyhow::ensure!(
        enriched[0].customer.as_deref() == Some("Ann") && enriched[2].customer.is_none()
    );
    Ok(())
}

/// JSON bytes of the example's types, without naming each type at the call site.
mod erased {
    pub trait Json {
        fn bytes(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn bytes(&self) -> Vec<u8> {
            serde_json::to_vec(self).expect("plain structs serialise")
        }
    }
}
