//! The transport on tokio. Call [`spawn`] inside a tokio runtime with the time and I/O drivers enabled.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use igra_proto::Signer;
use tokio::io::{AsyncRead as _, AsyncWrite as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;

use super::engine::{self, Runtime};
use super::{TransportConfig, TransportError, TransportHandle};

/// Validates `config`, binds its listener, and starts the transport's tasks on the current tokio
/// runtime. The listener is bound when this returns: [`TransportHandle::local_addr`] is its address.
pub async fn spawn(
    config: TransportConfig,
    signer: Arc<dyn Signer + Send + Sync>,
) -> Result<TransportHandle, TransportError> {
    config.validate(&*signer)?;
    let runtime = Tokio(Handle::try_current().map_err(|_| TransportError::NoRuntime)?);
    let bind = |source| TransportError::Bind { addr: config.listen, source };
    let listener = TcpListener::bind(config.listen).await.map_err(bind)?;
    let local_addr = listener.local_addr().map_err(bind)?;
    Ok(engine::start(&runtime, listener, local_addr, config, signer))
}

/// Tokio as the engine's runtime.
#[derive(Clone)]
struct Tokio(Handle);

impl Runtime for Tokio {
    type Stream = Compat;
    type Listener = TcpListener;

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        drop(self.0.spawn(task));
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<Compat> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Compat(stream))
    }

    async fn accept(listener: &TcpListener) -> io::Result<(Compat, SocketAddr)> {
        let (stream, addr) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok((Compat(stream), addr))
    }
}

/// A tokio TCP stream seen through the `futures-io` traits the engine uses.
struct Compat(TcpStream);

impl futures_lite::AsyncRead for Compat {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.0).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }
}

impl futures_lite::AsyncWrite for Compat {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
