//! Datagrams that are never fragmented: for path MTU discovery in the transport above, a
//! datagram larger than the path must be lost (or refused at once when larger than the
//! local link), not split into IP fragments that would make it arrive anyway.
//! Toss's routed namespace test shows it at work: probing settles under a 1500-byte path's
//! MTU, and no packet is fragmented.

use std::sync::Arc;

use tokio::net::UdpSocket;

use super::Conn;

/// Sets the don't-fragment bit on every datagram sent through `conn`, and has the system
/// ignore the path MTU it has learned, so that a send larger than the local link fails
/// (`EMSGSIZE`) rather than being fragmented (Linux `IP_PMTUDISC_PROBE`, for IPv4 and
/// IPv6). Returns whether it could: only a plain UDP socket on Linux, as yet.
pub fn set_dont_fragment(conn: &Arc<dyn Conn + Send + Sync>) -> bool {
    let Some(socket) = conn.as_any().downcast_ref::<UdpSocket>() else {
        return false;
    };
    imp::set(socket)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::os::fd::AsRawFd;

    use nix::libc;
    use tokio::net::UdpSocket;

    pub(super) fn set(socket: &UdpSocket) -> bool {
        let (level, name, value) = match socket.local_addr() {
            Ok(addr) if addr.is_ipv6() => (
                libc::IPPROTO_IPV6,
                libc::IPV6_MTU_DISCOVER,
                libc::IPV6_PMTUDISC_PROBE,
            ),
            Ok(_) => (
                libc::IPPROTO_IP,
                libc::IP_MTU_DISCOVER,
                libc::IP_PMTUDISC_PROBE,
            ),
            Err(_) => return false,
        };
        // SAFETY: a valid socket descriptor, and a c_int option value of the right size.
        let result = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                std::ptr::addr_of!(value).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        result == 0
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use tokio::net::UdpSocket;

    pub(super) fn set(_socket: &UdpSocket) -> bool {
        false
    }
}
