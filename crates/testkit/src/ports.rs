//! Free loopback ports, for a program that must be told its port before it starts (a port
//! that was just free; the kernel does not hand it out again at once).

use std::io;
use std::net::{TcpListener, UdpSocket};

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// # Errors
///
/// When no socket can be bound.
pub fn free_tcp_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
///
/// # Errors
///
/// When no socket can be bound.
pub fn free_udp_port() -> io::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}
