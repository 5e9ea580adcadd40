#[cfg(target_os = "linux")]
pub(crate) mod batch;
pub mod conn_bridge;
pub mod conn_disconnected_packet;
pub mod conn_pipe;
pub mod conn_udp;
pub mod conn_udp_listener;
pub mod dont_fragment;

#[cfg(test)]
mod conn_bridge_test;
#[cfg(test)]
mod conn_pipe_test;
// conn_test (a DNS lookup of a public STUN server's name) is left out here: these tests
// talk only to loopback.

//TODO: remove this conditional test
#[cfg(not(target_os = "windows"))]
#[cfg(test)]
mod conn_udp_listener_test;

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::net::ToSocketAddrs;

use crate::error::Result;

/// The longest train of datagrams one receive with offload may hand over: the largest UDP
/// payload.
pub const RECEIVE_OFFLOAD_BYTES: usize = 65_535;

/// What [`Conn::recv_batch_from`] wrote into one buffer: a datagram, or, with receive
/// offload, a train of datagrams of one size from one source (the last may be shorter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// The bytes written into the buffer.
    pub len: usize,
    /// Where they came from.
    pub from: SocketAddr,
    /// The size of each datagram of a train; 0 for a single datagram.
    pub segment: usize,
}

impl Received {
    /// A single datagram of `len` bytes from `from`.
    pub fn one(len: usize, from: SocketAddr) -> Self {
        Received {
            len,
            from,
            segment: 0,
        }
    }

    /// The datagrams in `buf` (the buffer this was received into), in order.
    pub fn datagrams<'a>(&self, buf: &'a [u8]) -> std::slice::Chunks<'a, u8> {
        let bytes = &buf[..self.len.min(buf.len())];
        // A single datagram is one chunk of its own length (an empty one, none).
        let size = if self.segment == 0 { bytes.len() } else { self.segment };
        bytes.chunks(size.max(1))
    }
}

#[async_trait]
pub trait Conn {
    async fn connect(&self, addr: SocketAddr) -> Result<()>;
    async fn recv(&self, buf: &mut [u8]) -> Result<usize>;
    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)>;
    async fn send(&self, buf: &[u8]) -> Result<usize>;
    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> Result<usize>;

    /// Sends each of `bufs` as a datagram of its own, in order, as [`Conn::send`] would one
    /// by one; a connection that can send several in one system call does so. An error
    /// leaves the datagrams before the failing one sent.
    async fn send_batch(&self, bufs: &[&[u8]]) -> Result<()> {
        for buf in bufs {
            self.send(buf).await?;
        }
        Ok(())
    }

    /// [`Conn::send_batch`] to `target`, as [`Conn::send_to`] would one by one.
    async fn send_batch_to(&self, bufs: &[&[u8]], target: SocketAddr) -> Result<()> {
        for buf in bufs {
            self.send_to(buf, target).await?;
        }
        Ok(())
    }

    /// Receives at least one datagram, one into each of `bufs` from the first, writing each
    /// one's length and source into `received` (as long as `bufs`); returns how many. A
    /// connection that can take several waiting datagrams in one system call does so; the
    /// default takes one, as [`Conn::recv_from`]. After [`Conn::enable_receive_offload`]
    /// said yes, a buffer may hold a train of datagrams ([`Received::datagrams`] cuts it).
    async fn recv_batch_from(
        &self,
        bufs: &mut [&mut [u8]],
        received: &mut [Received],
    ) -> Result<usize> {
        let (Some(buf), Some(slot)) = (bufs.first_mut(), received.first_mut()) else {
            return Ok(0);
        };
        let (len, from) = self.recv_from(buf).await?;
        *slot = Received::one(len, from);
        Ok(1)
    }

    /// Asks that [`Conn::recv_batch_from`] hand over a train of equal-sized datagrams from
    /// one source in one buffer where the system coalesced them (UDP generic receive
    /// offload: one trip through the network stack for the train); returns whether it will.
    /// The caller then gives buffers of [`RECEIVE_OFFLOAD_BYTES`] and cuts each with
    /// [`Received::datagrams`], and must read the connection only that way. The default,
    /// and any system without the offload, says no and changes nothing.
    fn enable_receive_offload(&self) -> bool {
        false
    }

    fn local_addr(&self) -> Result<SocketAddr>;
    fn remote_addr(&self) -> Option<SocketAddr>;
    async fn close(&self) -> Result<()>;
    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync);
}

/// A Listener is a generic network listener for connection-oriented protocols.
/// Multiple connections may invoke methods on a Listener simultaneously.
#[async_trait]
pub trait Listener {
    /// accept waits for and returns the next connection to the listener.
    async fn accept(&self) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr)>;

    /// close closes the listener.
    /// Any blocked accept operations will be unblocked and return errors.
    async fn close(&self) -> Result<()>;

    /// addr returns the listener's network address.
    async fn addr(&self) -> Result<SocketAddr>;
}

pub async fn lookup_host<T>(use_ipv4: bool, host: T) -> Result<SocketAddr>
where
    T: ToSocketAddrs,
{
    for remote_addr in tokio::net::lookup_host(host).await? {
        if (use_ipv4 && remote_addr.is_ipv4()) || (!use_ipv4 && remote_addr.is_ipv6()) {
            return Ok(remote_addr);
        }
    }

    Err(std::io::Error::other(format!(
        "No available {} IP address found!",
        if use_ipv4 { "ipv4" } else { "ipv6" },
    ))
    .into())
}
