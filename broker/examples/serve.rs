//! Runs a broker with its Kafka protocol server: `cargo run -p eddy-broker --example serve --
//! <data-dir> [listen-addr]`. The `eddy broker start` command is the full-featured version;
//! this shows the embedding API in a few lines.

use eddy_broker::{Broker, BrokerConfig, Server, ServerConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let data_dir = args.next().unwrap_or_else(|| "./eddy-data".into());
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let broker = Broker::open(BrokerConfig::new(data_dir)).await?;
    let config = ServerConfig {
        listen: listen.parse()?,
        ..ServerConfig::default()
    };
    let server = Server::bind(broker.clone(), config).await?;
    println!("listening on {}", server.local_addr());
    server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    broker.shutdown().await?;
    Ok(())
}
