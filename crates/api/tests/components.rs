//! The HTTP servers pass the component contract's compliance test
//! (`tributary_component::compliance`): bound when built, ready, answering, stopped on the signal.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tributary_api::{ApiConfig, ApiServer, OperationsServer};
use tributary_component::compliance::{self, Environment, Fixture};
use tributary_component::{BoxError, Component};

/// `GET /healthz` answers 200 on `address`.
async fn healthz(address: std::net::SocketAddr) -> Result<(), BoxError> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    if !answer.starts_with("HTTP/1.1 200") {
        return Err(format!("GET /healthz: {answer}").into());
    }
    Ok(())
}

/// Each server is built on a port of its own; `feed` asks it for its health.
#[derive(Default)]
struct Server {
    operations: bool,
    address: parking_lot::Mutex<Option<std::net::SocketAddr>>,
}

#[async_trait::async_trait]
impl Fixture for Server {
    async fn build(&self, _: &Environment) -> Result<Box<dyn Component>, BoxError> {
        let listen = "127.0.0.1:0".parse()?;
        let (address, server): (_, Box<dyn Component>) = if self.operations {
            let s = OperationsServer::bind(listen, None).await?;
            (s.address(), Box::new(s))
        } else {
            let cache = tributary_cache::Cache::new(
                tributary_cache::open(&Default::default())?,
                std::time::Duration::from_secs(60),
            );
            let s = ApiServer::bind(listen, cache, ApiConfig::default(), Default::default(), None).await?;
            (s.address(), Box::new(s))
        };
        *self.address.lock() = Some(address);
        Ok(server)
    }

    async fn feed(&self, _: &Environment, _: u32) -> Result<(), BoxError> {
        let address = self.address.lock().ok_or("not built")?;
        healthz(address).await
    }

    fn reports_runs(&self) -> bool {
        false
    }

    async fn check(&self, _: &Environment) -> Result<(), BoxError> {
        // Stopped: the port no longer answers.
        let address = self.address.lock().ok_or("not built")?;
        match healthz(address).await {
            Ok(()) => Err(format!("{address} still answers after the stop").into()),
            Err(_) => Ok(()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_is_a_component() {
    compliance::check(&Server::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operations_server_is_a_component() {
    compliance::check(&Server { operations: true, ..Default::default() }).await.unwrap();
}
