//! The transport on smol: tasks run on smol's global executor, so [`spawn`] works from any thread
//! (inside `smol::block_on` or not).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use igra_proto::Signer;
use smol::net::{TcpListener, TcpStream};

use super::engine::{self, Runtime};
use super::{TransportConfig, TransportError, TransportHandle};

/// Validates `config`, binds its listener, and starts the transport's tasks on smol's global executor.
/// The listener is bound when this returns: [`TransportHandle::local_addr`] is its address.
pub async fn spawn(
    config: TransportConfig,
    signer: Arc<dyn Signer + Send + Sync>,
) -> Result<TransportHandle, TransportError> {
    config.validate(&*signer)?;
    let bind = |source| TransportError::Bind { addr: config.listen, source };
    let listener = TcpListener::bind(config.listen).await.map_err(bind)?;
    let local_addr = listener.local_addr().map_err(bind)?;
    Ok(engine::start(&Smol, listener, local_addr, config, signer))
}

/// Smol as the engine's runtime.
#[derive(Clone)]
struct Smol;

impl Runtime for Smol {
    type Stream = TcpStream;
    type Listener = TcpListener;

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(task).detach();
    }

    async fn sleep(&self, duration: Duration) {
        smol::Timer::after(duration).await;
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok((stream, addr))
    }
}
