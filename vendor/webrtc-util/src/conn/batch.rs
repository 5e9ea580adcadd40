//! Sending many datagrams to one address in few system calls, and receiving many in one.
//!
//! A transport above UDP (SCTP over DTLS, say) that has several packets ready at once hands
//! them over together ([`super::Conn::send_batch_to`]). On Linux a plain UDP socket then
//! sends runs of equal-sized datagrams as one segmentation-offload send (`UDP_SEGMENT`,
//! "GSO": one trip through the stack for up to 64 datagrams), and everything else with
//! `sendmmsg` (one system call for up to 64 datagrams). Where the kernel or the device has
//! no segmentation offload, or refuses a segment size (one larger than the interface's MTU:
//! an offloaded send is never fragmented), the same datagrams go by `sendmmsg` instead, and
//! that size is not offered to it again. On other systems, and for any other kind of
//! connection, the datagrams are sent one by one (the trait's default).
//!
//! Receiving, a plain UDP socket on Linux takes every datagram waiting, up to one per buffer
//! given, in one `recvmmsg` ([`super::Conn::recv_batch_from`]). A reader that cuts trains
//! ([`super::Received::datagrams`]) may first turn on generic receive offload (`UDP_GRO`):
//! the kernel then keeps a train of equal-sized datagrams from one source together (an
//! offloaded send over loopback, or one a network device coalesced) and hands it over in one
//! buffer with its segment size, instead of taking each datagram through its stack alone.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Most datagrams in one `sendmmsg` or one segmentation-offload send (the kernel's limit
/// for the latter is 64 on older kernels).
const MAX_DATAGRAMS: usize = 64;

/// Most payload bytes in one segmentation-offload send: the largest UDP payload, less room
/// for headers.
const MAX_OFFLOAD_BYTES: usize = 65_000;

/// The segment sizes the system was found to offload: sizes up to this go as one
/// segmentation-offload send. It starts unbounded and only shrinks: to a size below one the
/// system refused, or to 0 where it has no offload at all.
#[derive(Debug)]
pub(crate) struct Offload(AtomicUsize);

impl Offload {
    pub(crate) const fn untried() -> Self {
        Offload(AtomicUsize::new(usize::MAX))
    }

    #[cfg(test)]
    const fn unavailable() -> Self {
        Offload(AtomicUsize::new(0))
    }

    fn ceiling(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Records that the system refused to offload segments of `size` bytes with `err`.
    fn refused(&self, size: usize, err: &io::Error) {
        let size_refused = matches!(
            err.raw_os_error(),
            Some(nix::libc::EINVAL | nix::libc::EMSGSIZE)
        );
        let ceiling = if size_refused {
            // The segment size (with headers) is over the interface's MTU (EMSGSIZE, or
            // EINVAL on older kernels); smaller ones may still be taken. Sent one by one,
            // such datagrams are fragmented, or refused as ever on a socket that must not
            // fragment.
            size.saturating_sub(1)
        } else {
            0
        };
        self.0.fetch_min(ceiling, Ordering::Relaxed);
        log::debug!("UDP segmentation offload refused for {size}-byte segments ({err}); sending those with sendmmsg");
    }
}

/// Shared by every socket of the process: the kernel's support is the same for all, and a
/// size one interface refuses costs the others only the cheaper `sendmmsg`.
static OFFLOAD: Offload = Offload::untried();

/// Whether an error from a segmentation-offload send means the system cannot offload that
/// send (rather than that the datagrams cannot be sent at all).
fn offload_refused(err: &io::Error) -> bool {
    use nix::libc::{EINVAL, EIO, EMSGSIZE, ENOPROTOOPT, EOPNOTSUPP};
    matches!(
        err.raw_os_error(),
        Some(code) if [EINVAL, EMSGSIZE, EIO, ENOPROTOOPT, EOPNOTSUPP].contains(&code)
    )
}

/// The two ways to send several datagrams at once, to one fixed address: the system calls
/// in use, or a stand-in in the tests below that answers as a kernel may (short counts,
/// refusals, a full buffer).
pub(crate) trait Transmit {
    /// Sends a prefix of `datagrams` (`sendmmsg`); returns how many were sent, at least one.
    fn many(&mut self, datagrams: &[&[u8]]) -> io::Result<usize>;
    /// Sends `datagrams`, all of `segment` bytes but the last (which may be shorter), in one
    /// segmentation-offload send: all of them or none.
    fn offloaded(&mut self, datagrams: &[&[u8]], segment: usize) -> io::Result<()>;
}

/// How many of `datagrams`, from the first, make one segmentation-offload send: equal
/// sizes, then at most one shorter, within the limits; 0 when fewer than two would.
fn offload_run(datagrams: &[&[u8]], ceiling: usize) -> usize {
    let Some(first) = datagrams.first() else {
        return 0;
    };
    let segment = first.len();
    if segment == 0 || segment > ceiling {
        return 0;
    }
    let mut count = 0;
    let mut bytes = 0;
    for datagram in datagrams.iter().take(MAX_DATAGRAMS) {
        if datagram.is_empty()
            || datagram.len() > segment
            || bytes + datagram.len() > MAX_OFFLOAD_BYTES
        {
            break;
        }
        count += 1;
        bytes += datagram.len();
        if datagram.len() < segment {
            break;
        }
    }
    if count >= 2 {
        count
    } else {
        0
    }
}

/// How many of `datagrams`, from the first, to send with `sendmmsg`: up to where an
/// offloadable run starts.
fn plain_run(datagrams: &[&[u8]], ceiling: usize) -> usize {
    let limit = datagrams.len().min(MAX_DATAGRAMS);
    (1..limit)
        .find(|&i| offload_run(&datagrams[i..], ceiling) > 0)
        .unwrap_or(limit)
}

/// A batch being sent: what is left of it survives a full socket buffer.
pub(crate) struct Batch<'a> {
    datagrams: &'a [&'a [u8]],
    sent: usize,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(datagrams: &'a [&'a [u8]]) -> Self {
        Batch { datagrams, sent: 0 }
    }

    /// Sends as much of the rest as the socket takes. `Ok` once everything is sent;
    /// `WouldBlock` when the socket's buffer is full (call again once it is writable: what
    /// was sent stays sent); any other error as the system gave it.
    pub(crate) fn step(&mut self, send: &mut impl Transmit, offload: &Offload) -> io::Result<()> {
        while self.sent < self.datagrams.len() {
            let rest = &self.datagrams[self.sent..];
            let run = offload_run(rest, offload.ceiling());
            if run > 0 {
                match send.offloaded(&rest[..run], rest[0].len()) {
                    Ok(()) => {
                        self.sent += run;
                        continue;
                    }
                    Err(err) if offload_refused(&err) => offload.refused(rest[0].len(), &err),
                    Err(err) => return Err(err),
                }
            }
            let count = plain_run(rest, offload.ceiling());
            let sent = send.many(&rest[..count])?;
            self.sent += sent.clamp(1, count);
        }
        Ok(())
    }
}

/// Sends every one of `datagrams` from `socket` to `target`, in order, in as few system calls
/// as the system allows.
pub(crate) async fn send_to(
    socket: &UdpSocket,
    datagrams: &[&[u8]],
    target: SocketAddr,
) -> io::Result<()> {
    send_to_with(socket, datagrams, target, &OFFLOAD).await
}

async fn send_to_with(
    socket: &UdpSocket,
    datagrams: &[&[u8]],
    target: SocketAddr,
    offload: &Offload,
) -> io::Result<()> {
    let mut batch = Batch::new(datagrams);
    let mut send = imp::System::new(socket, target);
    loop {
        socket.writable().await?;
        match socket.try_io(Interest::WRITABLE, || batch.step(&mut send, offload)) {
            Ok(()) => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Err(err) => return Err(err),
        }
    }
}

/// Receives at least one datagram into `bufs` (one each, as many as are waiting, up to one
/// per buffer: `recvmmsg`), writing each one's length and source into `received`; returns
/// how many. A datagram longer than its buffer is cut to it, as `recv_from` does.
pub(crate) async fn recv_from(
    socket: &UdpSocket,
    bufs: &mut [&mut [u8]],
    received: &mut [super::Received],
) -> io::Result<usize> {
    let count = bufs.len().min(received.len()).min(MAX_DATAGRAMS);
    if count == 0 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    loop {
        socket.readable().await?;
        match socket.try_io(Interest::READABLE, || {
            imp::recv_many(socket, &mut bufs[..count], &mut received[..count])
        }) {
            Ok(n) => return Ok(n),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Err(err) => return Err(err),
        }
    }
}

/// Turns on generic receive offload for `socket` (`UDP_GRO`); whether the system took it.
pub(crate) fn enable_receive_offload(socket: &UdpSocket) -> bool {
    match imp::enable_receive_offload(socket) {
        Ok(()) => true,
        Err(err) => {
            log::debug!("UDP receive offload unavailable ({err}); datagrams come one by one");
            false
        }
    }
}

mod imp {
    use std::io;
    use std::mem;
    use std::net::SocketAddr;
    use std::os::fd::{AsRawFd, RawFd};

    use nix::libc;
    use socket2::SockAddr;
    use tokio::net::UdpSocket;

    /// The system calls, on one socket, to one address.
    pub(super) struct System {
        fd: RawFd,
        to: SockAddr,
    }

    impl System {
        pub(super) fn new(socket: &UdpSocket, target: SocketAddr) -> Self {
            System {
                fd: socket.as_raw_fd(),
                to: SockAddr::from(target),
            }
        }

        fn header(&self, iov: &mut [libc::iovec]) -> libc::msghdr {
            // SAFETY: msghdr is plain data; all-zero is its empty value.
            let mut header: libc::msghdr = unsafe { mem::zeroed() };
            header.msg_name = self.to.as_ptr() as *mut libc::c_void;
            header.msg_namelen = self.to.len();
            header.msg_iov = iov.as_mut_ptr();
            header.msg_iovlen = iov.len() as _;
            header
        }
    }

    /// `setsockopt(SOL_UDP, UDP_GRO, 1)`.
    pub(super) fn enable_receive_offload(socket: &UdpSocket) -> io::Result<()> {
        let on: libc::c_int = 1;
        // SAFETY: the option's value is a live c_int of the size given.
        let done = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_UDP,
                libc::UDP_GRO,
                (&on as *const libc::c_int).cast(),
                mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if done == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Room for the one control message a receive may carry: `UDP_GRO`'s segment size.
    const CONTROL_BYTES: usize = 64;

    /// The segment size in a `UDP_GRO` control message of `header`, if it has one.
    fn segment_size(header: &libc::msghdr) -> usize {
        // SAFETY: the kernel wrote `msg_controllen` bytes of well-formed control messages
        // into the buffer `msg_control` points at; CMSG_* walk only those.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(header);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_UDP && (*cmsg).cmsg_type == libc::UDP_GRO {
                    let size = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                    return usize::try_from(size).unwrap_or(0);
                }
                cmsg = libc::CMSG_NXTHDR(header, cmsg);
            }
        }
        0
    }

    /// `recvmmsg` without waiting: at least one datagram (or train), or `WouldBlock`.
    pub(super) fn recv_many(
        socket: &UdpSocket,
        bufs: &mut [&mut [u8]],
        received: &mut [super::super::Received],
    ) -> io::Result<usize> {
        let mut names: Vec<libc::sockaddr_storage> =
            // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
            (0..bufs.len()).map(|_| unsafe { mem::zeroed() }).collect();
        // u64s, so that each control buffer is aligned as a cmsghdr must be.
        let mut control = vec![[0u64; CONTROL_BYTES / 8]; bufs.len()];
        let mut iov: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let mut messages: Vec<libc::mmsghdr> = iov
            .iter_mut()
            .zip(names.iter_mut())
            .zip(control.iter_mut())
            .map(|((one, name), control)| {
                // SAFETY: msghdr is plain data; all-zero is its empty value.
                let mut header: libc::msghdr = unsafe { mem::zeroed() };
                header.msg_name = (name as *mut libc::sockaddr_storage).cast();
                header.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as _;
                header.msg_iov = one;
                header.msg_iovlen = 1;
                header.msg_control = control.as_mut_ptr().cast();
                header.msg_controllen = CONTROL_BYTES as _;
                libc::mmsghdr {
                    msg_hdr: header,
                    msg_len: 0,
                }
            })
            .collect();
        // SAFETY: every header points at a live iovec over a live buffer, and at a live
        // address buffer and control buffer of the sizes it says; the kernel writes only
        // into those.
        let got = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                messages.as_mut_ptr(),
                messages.len() as _,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        let got = got as usize;
        for (i, message) in messages.iter().take(got).enumerate() {
            let len = (message.msg_len as usize).min(bufs[i].len());
            let from = address(&names[i]).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "a datagram from no IP address")
            })?;
            let segment = segment_size(&message.msg_hdr);
            received[i] = super::super::Received {
                len,
                from,
                // A "train" of one datagram is a datagram.
                segment: if segment >= len { 0 } else { segment },
            };
        }
        Ok(got)
    }

    /// The IPv4 or IPv6 address the kernel wrote into `name`.
    fn address(name: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match libc::c_int::from(name.ss_family) {
            libc::AF_INET => {
                // SAFETY: the kernel wrote a sockaddr_in, which fits in the storage.
                let v4 = unsafe {
                    &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()
                };
                Some(SocketAddr::from((
                    std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                    u16::from_be(v4.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the kernel wrote a sockaddr_in6, which fits in the storage.
                let v6 = unsafe {
                    &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
                };
                Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                    std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr),
                    u16::from_be(v6.sin6_port),
                    v6.sin6_flowinfo,
                    v6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    fn iovec(datagram: &[u8]) -> libc::iovec {
        libc::iovec {
            iov_base: datagram.as_ptr() as *mut libc::c_void,
            iov_len: datagram.len(),
        }
    }

    impl super::Transmit for System {
        fn many(&mut self, datagrams: &[&[u8]]) -> io::Result<usize> {
            let mut iov: Vec<libc::iovec> = datagrams.iter().map(|d| iovec(d)).collect();
            let mut messages: Vec<libc::mmsghdr> = iov
                .iter_mut()
                .map(|one| libc::mmsghdr {
                    msg_hdr: self.header(std::slice::from_mut(one)),
                    msg_len: 0,
                })
                .collect();
            // SAFETY: every header points at a live iovec and at the address in `self`, and
            // each iovec at a live datagram; the kernel only reads them (and writes msg_len).
            let sent =
                unsafe { libc::sendmmsg(self.fd, messages.as_mut_ptr(), messages.len() as _, 0) };
            if sent < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(sent as usize)
        }

        fn offloaded(&mut self, datagrams: &[&[u8]], segment: usize) -> io::Result<()> {
            let segment =
                u16::try_from(segment).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            let mut iov: Vec<libc::iovec> = datagrams.iter().map(|d| iovec(d)).collect();
            let mut header = self.header(&mut iov);
            // One control message: UDP_SEGMENT with the segment size (a u16).
            // SAFETY: CMSG_SPACE only computes a size.
            let space = unsafe { libc::CMSG_SPACE(mem::size_of::<u16>() as u32) } as usize;
            let mut control = vec![0u64; space.div_ceil(8)];
            header.msg_control = control.as_mut_ptr().cast();
            header.msg_controllen = space as _;
            // SAFETY: the control buffer is aligned and as large as CMSG_SPACE says for one
            // message of a u16; CMSG_FIRSTHDR of a header with a control buffer is non-null.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(&header);
                (*cmsg).cmsg_level = libc::SOL_UDP;
                (*cmsg).cmsg_type = libc::UDP_SEGMENT;
                (*cmsg).cmsg_len = libc::CMSG_LEN(mem::size_of::<u16>() as u32) as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), segment);
            }
            // SAFETY: the header points at live iovecs, the address, and the control buffer.
            let sent = unsafe { libc::sendmsg(self.fd, &header, 0) };
            if sent < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::conn::Received;

    /// What a stand-in kernel was asked to send, in order.
    #[derive(Debug, PartialEq)]
    enum Call {
        Many(Vec<Vec<u8>>),
        Offloaded(Vec<Vec<u8>>, usize),
    }

    /// A kernel that answers from a script: each `many` takes the next count (sending that
    /// many at most) or error, each `offloaded` the next result; unscripted calls succeed.
    #[derive(Default)]
    struct Scripted {
        many: VecDeque<io::Result<usize>>,
        offloaded: VecDeque<io::Result<()>>,
        calls: Vec<Call>,
        wire: Vec<Vec<u8>>,
    }

    impl Transmit for Scripted {
        fn many(&mut self, datagrams: &[&[u8]]) -> io::Result<usize> {
            assert!(!datagrams.is_empty() && datagrams.len() <= MAX_DATAGRAMS);
            let sent = self
                .many
                .pop_front()
                .unwrap_or(Ok(datagrams.len()))?
                .min(datagrams.len());
            self.calls.push(Call::Many(
                datagrams[..sent].iter().map(|d| d.to_vec()).collect(),
            ));
            self.wire
                .extend(datagrams[..sent].iter().map(|d| d.to_vec()));
            Ok(sent)
        }

        fn offloaded(&mut self, datagrams: &[&[u8]], segment: usize) -> io::Result<()> {
            assert!(datagrams.len() >= 2 && datagrams.len() <= MAX_DATAGRAMS);
            assert!(datagrams.iter().map(|d| d.len()).sum::<usize>() <= MAX_OFFLOAD_BYTES);
            let (last, full) = datagrams.split_last().expect("two or more");
            assert!(full.iter().all(|d| d.len() == segment), "equal segments");
            assert!(
                !last.is_empty() && last.len() <= segment,
                "a last segment no longer"
            );
            self.offloaded.pop_front().unwrap_or(Ok(()))?;
            self.calls.push(Call::Offloaded(
                datagrams.iter().map(|d| d.to_vec()).collect(),
                segment,
            ));
            self.wire.extend(datagrams.iter().map(|d| d.to_vec()));
            Ok(())
        }
    }

    fn datagrams(sizes: &[usize]) -> Vec<Vec<u8>> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| (i * 7 + j) as u8).collect())
            .collect()
    }

    fn refs(datagrams: &[Vec<u8>]) -> Vec<&[u8]> {
        datagrams.iter().map(Vec::as_slice).collect()
    }

    /// Steps a batch to the end as a writer does, taking `WouldBlock` as "writable again".
    fn send_all(kernel: &mut Scripted, datagrams: &[&[u8]], offload: &Offload) -> io::Result<()> {
        let mut batch = Batch::new(datagrams);
        for _ in 0..100 {
            match batch.step(kernel, offload) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other,
            }
        }
        panic!("the batch never finished");
    }

    fn eno(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn a_message_in_equal_packets_and_a_short_last_goes_as_one_offloaded_send() {
        // A 16 KiB message in 1191-byte SCTP packets (1220 bytes sealed), then a SACK.
        let sent = datagrams(
            &[1220; 13]
                .iter()
                .copied()
                .chain([900, 60])
                .collect::<Vec<_>>(),
        );
        let mut kernel = Scripted::default();
        send_all(&mut kernel, &refs(&sent), &Offload::untried()).unwrap();
        assert_eq!(kernel.wire, sent);
        assert!(
            matches!(&kernel.calls[..], [Call::Offloaded(run, 1220), Call::Many(one)] if run.len() == 14 && one.len() == 1)
        );
    }

    #[test]
    fn without_offload_everything_goes_by_sendmmsg_in_order() {
        let sent = datagrams(&[1220; 100]);
        let mut kernel = Scripted::default();
        send_all(&mut kernel, &refs(&sent), &Offload::unavailable()).unwrap();
        assert_eq!(kernel.wire, sent);
        assert_eq!(kernel.calls.len(), 2, "64 then 36");
        assert!(kernel.calls.iter().all(|c| matches!(c, Call::Many(_))));
    }

    #[test]
    fn offload_the_system_lacks_falls_back_to_sendmmsg_and_is_not_tried_again() {
        let offload = Offload::untried();
        for code in [
            nix::libc::EIO,
            nix::libc::ENOPROTOOPT,
            nix::libc::EOPNOTSUPP,
        ] {
            let offload = Offload::untried();
            let sent = datagrams(&[1220; 20]);
            let mut kernel = Scripted {
                offloaded: VecDeque::from([Err(eno(code))]),
                ..Scripted::default()
            };
            send_all(&mut kernel, &refs(&sent), &offload).unwrap();
            assert_eq!(kernel.wire, sent, "after error {code}");
            assert_eq!(offload.ceiling(), 0);
        }
        // Once refused, a later batch goes straight to sendmmsg.
        offload.refused(1220, &eno(nix::libc::EIO));
        let sent = datagrams(&[500; 10]);
        let mut kernel = Scripted::default();
        send_all(&mut kernel, &refs(&sent), &offload).unwrap();
        assert_eq!(kernel.calls, vec![Call::Many(sent.clone())]);
    }

    #[test]
    fn a_segment_size_refused_as_too_large_is_sent_by_sendmmsg_and_smaller_ones_still_offloaded() {
        // 8249-byte datagrams on a 1500-byte link: EMSGSIZE (EINVAL on older kernels); then
        // 1220-byte ones.
        for code in [nix::libc::EMSGSIZE, nix::libc::EINVAL] {
            let offload = Offload::untried();
            let sent = datagrams(&[8249, 8249, 8249, 1220, 1220, 1220]);
            let mut kernel = Scripted {
                offloaded: VecDeque::from([Err(eno(code))]),
                ..Scripted::default()
            };
            send_all(&mut kernel, &refs(&sent), &offload).unwrap();
            assert_eq!(kernel.wire, sent);
            assert_eq!(offload.ceiling(), 8248);
            assert_eq!(kernel.calls.len(), 2);
            assert!(matches!(&kernel.calls[0], Call::Many(big) if big.len() == 3));
            assert!(matches!(&kernel.calls[1], Call::Offloaded(small, 1220) if small.len() == 3));
        }
    }

    #[test]
    fn a_short_sendmmsg_count_sends_the_rest_next_once_each_in_order() {
        let sent = datagrams(&(0..30).map(|i| 100 + i).collect::<Vec<_>>());
        let mut kernel = Scripted {
            many: VecDeque::from([
                Ok(3),
                Err(io::ErrorKind::WouldBlock.into()),
                Ok(1),
                Ok(10),
                Err(io::ErrorKind::WouldBlock.into()),
                Ok(2),
            ]),
            ..Scripted::default()
        };
        send_all(&mut kernel, &refs(&sent), &Offload::unavailable()).unwrap();
        assert_eq!(kernel.wire, sent);
    }

    #[test]
    fn an_error_that_is_not_about_offload_is_returned_and_nothing_is_sent_twice() {
        let sent = datagrams(&[1220; 5]);
        let mut kernel = Scripted {
            offloaded: VecDeque::from([Err(eno(nix::libc::EPERM))]),
            ..Scripted::default()
        };
        let err = send_all(&mut kernel, &refs(&sent), &Offload::untried()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::EPERM));
        assert!(kernel.wire.is_empty());
        let mut kernel = Scripted {
            many: VecDeque::from([Ok(2), Err(eno(nix::libc::ENETUNREACH))]),
            ..Scripted::default()
        };
        let err = send_all(&mut kernel, &refs(&sent), &Offload::unavailable()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::ENETUNREACH));
        assert_eq!(kernel.wire, sent[..2]);
    }

    #[test]
    fn runs_respect_the_limits_of_one_offloaded_send() {
        // 8249-byte datagrams: at most 7 fit in 65,000 bytes.
        let sent = datagrams(&[8249; 20]);
        let mut kernel = Scripted::default();
        send_all(&mut kernel, &refs(&sent), &Offload::untried()).unwrap();
        assert_eq!(kernel.wire, sent);
        let runs: Vec<usize> = kernel
            .calls
            .iter()
            .map(|c| match c {
                Call::Offloaded(run, _) | Call::Many(run) => run.len(),
            })
            .collect();
        assert_eq!(runs, [7, 7, 6]);
        // 100-byte datagrams: at most 64 at once.
        let sent = datagrams(&[100; 130]);
        let mut kernel = Scripted::default();
        send_all(&mut kernel, &refs(&sent), &Offload::untried()).unwrap();
        assert_eq!(kernel.wire, sent);
        assert_eq!(kernel.calls.len(), 3);
    }

    /// Receiving in batches: every datagram waiting is taken, whole, in order, with its
    /// source, over as many calls as the buffers need; IPv4 and IPv6 alike.
    #[tokio::test]
    async fn datagrams_received_in_batches_arrive_whole_in_order_with_their_source() {
        for host in ["127.0.0.1:0", "[::1]:0"] {
            let receiver = UdpSocket::bind(host).await.unwrap();
            let sender = UdpSocket::bind(host).await.unwrap();
            let sizes: Vec<usize> = (0..40).map(|i| 1 + i * 97 % 9000).collect();
            let sent = datagrams(&sizes);
            for d in &sent {
                sender
                    .send_to(d, receiver.local_addr().unwrap())
                    .await
                    .unwrap();
            }
            let mut storage = vec![vec![0u8; 9000]; 16];
            let mut bufs: Vec<&mut [u8]> = storage.iter_mut().map(Vec::as_mut_slice).collect();
            let mut received = vec![Received::one(0, receiver.local_addr().unwrap()); 16];
            let mut got = Vec::new();
            let mut calls = 0;
            while got.len() < sent.len() && calls < 100 {
                let n = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    recv_from(&receiver, &mut bufs, &mut received),
                )
                .await
                .expect("the datagrams arrive")
                .unwrap();
                assert!(n >= 1 && n <= 16);
                for i in 0..n {
                    assert_eq!(received[i].from, sender.local_addr().unwrap());
                    assert_eq!(received[i].segment, 0, "no trains without receive offload");
                    got.push(bufs[i][..received[i].len].to_vec());
                }
                calls += 1;
            }
            assert_eq!(got, sent, "over {host}");
            assert!(
                calls >= 3,
                "16 buffers take 40 datagrams in three calls or more"
            );
        }
    }

    /// A datagram longer than its buffer is cut to it, as `recv_from` cuts it.
    #[tokio::test]
    async fn a_datagram_longer_than_its_buffer_is_cut_to_it() {
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender
            .send_to(&[7u8; 3000], receiver.local_addr().unwrap())
            .await
            .unwrap();
        let mut storage = [0u8; 1000];
        let mut bufs: Vec<&mut [u8]> = vec![&mut storage];
        let mut received = vec![Received::one(0, receiver.local_addr().unwrap())];
        let n = recv_from(&receiver, &mut bufs, &mut received)
            .await
            .unwrap();
        assert_eq!((n, received[0].len), (1, 1000));
        assert!(storage.iter().all(|&b| b == 7));
    }

    /// What a buffer holds is cut into its datagrams by the segment size, the last one
    /// shorter; without one it is a single datagram.
    #[test]
    fn a_received_train_is_cut_at_its_segment_size() {
        let from: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let buf: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let one = Received::one(3000, from);
        assert_eq!(one.datagrams(&buf).collect::<Vec<_>>(), [&buf[..3000]]);
        let train = Received {
            len: 3 * 1220 + 900,
            from,
            segment: 1220,
        };
        let cut: Vec<&[u8]> = train.datagrams(&buf).collect();
        assert_eq!(
            cut,
            [
                &buf[..1220],
                &buf[1220..2440],
                &buf[2440..3660],
                &buf[3660..4560]
            ]
        );
        assert_eq!(Received::one(0, from).datagrams(&buf).count(), 0);
        // A length beyond the buffer (never from the kernel) is held to it.
        assert_eq!(Received::one(9000, from).datagrams(&buf).next(), Some(&buf[..]));
    }

    /// With receive offload on, a train sent as one segmentation-offload send over loopback
    /// arrives in one buffer with its segment size, and cuts into the datagrams sent, in
    /// order; datagrams of other sizes around it arrive as they were sent.
    #[tokio::test]
    async fn an_offloaded_train_is_received_whole_and_cut_into_its_datagrams() {
        for host in ["127.0.0.1:0", "[::1]:0"] {
            let receiver = UdpSocket::bind(host).await.unwrap();
            let sender = UdpSocket::bind(host).await.unwrap();
            assert!(
                enable_receive_offload(&receiver),
                "this kernel takes UDP_GRO"
            );
            let sizes: Vec<usize> = [1220; 13]
                .into_iter()
                .chain([900, 60, 8249, 8249, 3000, 1])
                .collect();
            let sent = datagrams(&sizes);
            let offload = Offload::untried();
            send_to_with(&sender, &refs(&sent), receiver.local_addr().unwrap(), &offload)
                .await
                .unwrap();
            assert_eq!(offload.ceiling(), usize::MAX, "the kernel took the offloaded sends");
            let mut storage = vec![vec![0u8; super::super::RECEIVE_OFFLOAD_BYTES]; 4];
            let mut bufs: Vec<&mut [u8]> = storage.iter_mut().map(Vec::as_mut_slice).collect();
            let mut received = vec![Received::one(0, receiver.local_addr().unwrap()); 4];
            let (mut got, mut trains, mut calls) = (Vec::new(), Vec::new(), 0);
            while got.len() < sent.len() && calls < 100 {
                let n = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    recv_from(&receiver, &mut bufs, &mut received),
                )
                .await
                .expect("the datagrams arrive")
                .unwrap();
                for i in 0..n {
                    assert_eq!(received[i].from, sender.local_addr().unwrap());
                    if received[i].segment != 0 {
                        trains.push((received[i].segment, received[i].len));
                    }
                    got.extend(received[i].datagrams(&bufs[i]).map(<[u8]>::to_vec));
                }
                calls += 1;
            }
            assert_eq!(got, sent, "over {host}");
            assert!(
                trains.contains(&(1220, 13 * 1220 + 900)),
                "the 1220-byte run and its shorter last came as one train over {host}: {trains:?}"
            );
        }
    }

    /// The real system calls: every datagram reaches a socket on loopback, whole and in
    /// order, with segmentation offload as the kernel has it, and without.
    #[tokio::test]
    async fn datagrams_sent_in_batches_arrive_whole_and_in_order() {
        for offload in [Offload::untried(), Offload::unavailable()] {
            let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let sizes: Vec<usize> = [1220; 13]
                .into_iter()
                .chain([900, 60, 8249, 8249, 8249, 8249, 3000, 1])
                .collect();
            let sent = datagrams(&sizes);
            send_to_with(
                &sender,
                &refs(&sent),
                receiver.local_addr().unwrap(),
                &offload,
            )
            .await
            .unwrap();
            let mut buf = vec![0u8; 65536];
            for (i, expected) in sent.iter().enumerate() {
                let (n, from) = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    receiver.recv_from(&mut buf),
                )
                .await
                .expect("every datagram arrives")
                .unwrap();
                assert_eq!(from, sender.local_addr().unwrap());
                assert_eq!(&buf[..n], &expected[..], "datagram {i}");
            }
            if offload.ceiling() != 0 {
                // Loopback offloads any size this kernel takes: a refusal here would be a
                // malformed request (the control message), silently costing the offload.
                assert_eq!(
                    offload.ceiling(),
                    usize::MAX,
                    "the kernel took the offloaded sends"
                );
            }
        }
    }
}
