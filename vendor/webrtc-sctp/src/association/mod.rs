#[cfg(test)]
mod association_test;

mod association_internal;
mod association_stats;
mod plpmtud;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use association_internal::*;
use association_stats::*;
use bytes::{Bytes, BytesMut};
use portable_atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize};
use rand::random;
use tokio::sync::{broadcast, mpsc, Mutex};
use util::Conn;

use crate::chunk::chunk_abort::ChunkAbort;
use crate::chunk::chunk_cookie_ack::ChunkCookieAck;
use crate::chunk::chunk_cookie_echo::ChunkCookieEcho;
use crate::chunk::chunk_error::ChunkError;
use crate::chunk::chunk_forward_tsn::{ChunkForwardTsn, ChunkForwardTsnStream};
use crate::chunk::chunk_heartbeat::ChunkHeartbeat;
use crate::chunk::chunk_heartbeat_ack::ChunkHeartbeatAck;
use crate::chunk::chunk_init::ChunkInit;
use crate::chunk::chunk_payload_data::{ChunkPayloadData, PayloadProtocolIdentifier};
use crate::chunk::chunk_reconfig::ChunkReconfig;
use crate::chunk::chunk_selective_ack::ChunkSelectiveAck;
use crate::chunk::chunk_shutdown::ChunkShutdown;
use crate::chunk::chunk_shutdown_ack::ChunkShutdownAck;
use crate::chunk::chunk_shutdown_complete::ChunkShutdownComplete;
use crate::chunk::chunk_type::*;
use crate::chunk::Chunk;
use crate::error::{Error, Result};
use crate::error_cause::*;
use crate::packet::Packet;
use crate::param::param_heartbeat_info::ParamHeartbeatInfo;
use crate::param::param_outgoing_reset_request::ParamOutgoingResetRequest;
use crate::param::param_reconfig_response::{ParamReconfigResponse, ReconfigResult};
use crate::param::param_state_cookie::ParamStateCookie;
use crate::param::param_supported_extensions::ParamSupportedExtensions;
use crate::param::Param;
use crate::queue::control_queue::ControlQueue;
use crate::queue::payload_queue::PayloadQueue;
use crate::queue::pending_queue::PendingQueue;
use crate::stream::*;
use crate::timer::ack_timer::*;
use crate::timer::rtx_timer::*;
use crate::util::*;

/// The largest SCTP packet one DTLS record carries (2^14 bytes of plaintext).
pub(crate) const RECEIVE_MTU: usize = 16384;
/// MTU for inbound packet (from DTLS)
// The largest safe SCTP packet: starting from the IPv6 minimum MTU of
// 1280 (where on-path fragmentation is unavailable), subtract
// 40 (IPv6 header) + 8 (UDP) + 4 (TURN ChannelData) + 13 (DTLS record
// header) + 24 (GCM cipher) = 1191, the same derivation and value as
// libwebrtc's kMaxSafeMTUSize. There is no PMTUD, so this initial
// value never adapts; anything larger makes delivery depend on IP
// fragmentation surviving the path (#806).
pub(crate) const INITIAL_MTU: u32 = 1191;
/// initial MTU for outgoing packets (to DTLS)
pub(crate) const INITIAL_RECV_BUF_SIZE: u32 = 1024 * 1024;
pub(crate) const COMMON_HEADER_SIZE: u32 = 12;
pub(crate) const DATA_CHUNK_HEADER_SIZE: u32 = 16;
pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: u32 = 65536;

/// other constants
pub(crate) const ACCEPT_CH_SIZE: usize = 16;
/// Most packets the write loop hands to the connection below at once.
const WRITE_BATCH: usize = 64;

/// association state enums
#[derive(Debug, Copy, Clone, PartialEq)]
pub(crate) enum AssociationState {
    Closed = 0,
    CookieWait = 1,
    CookieEchoed = 2,
    Established = 3,
    ShutdownAckSent = 4,
    ShutdownPending = 5,
    ShutdownReceived = 6,
    ShutdownSent = 7,
}

impl From<u8> for AssociationState {
    fn from(v: u8) -> AssociationState {
        match v {
            1 => AssociationState::CookieWait,
            2 => AssociationState::CookieEchoed,
            3 => AssociationState::Established,
            4 => AssociationState::ShutdownAckSent,
            5 => AssociationState::ShutdownPending,
            6 => AssociationState::ShutdownReceived,
            7 => AssociationState::ShutdownSent,
            _ => AssociationState::Closed,
        }
    }
}

impl fmt::Display for AssociationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match *self {
            AssociationState::Closed => "Closed",
            AssociationState::CookieWait => "CookieWait",
            AssociationState::CookieEchoed => "CookieEchoed",
            AssociationState::Established => "Established",
            AssociationState::ShutdownPending => "ShutdownPending",
            AssociationState::ShutdownSent => "ShutdownSent",
            AssociationState::ShutdownReceived => "ShutdownReceived",
            AssociationState::ShutdownAckSent => "ShutdownAckSent",
        };
        write!(f, "{s}")
    }
}

/// retransmission timer IDs
#[derive(Default, Debug, Copy, Clone, PartialEq)]
pub(crate) enum RtxTimerId {
    #[default]
    T1Init,
    T1Cookie,
    T2Shutdown,
    T3RTX,
    Reconfig,
    PmtuProbe,
}

impl fmt::Display for RtxTimerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match *self {
            RtxTimerId::T1Init => "T1Init",
            RtxTimerId::T1Cookie => "T1Cookie",
            RtxTimerId::T2Shutdown => "T2Shutdown",
            RtxTimerId::T3RTX => "T3RTX",
            RtxTimerId::Reconfig => "Reconfig",
            RtxTimerId::PmtuProbe => "PmtuProbe",
        };
        write!(f, "{s}")
    }
}

/// ack mode (for testing)
#[derive(Default, Debug, Copy, Clone, PartialEq)]
pub(crate) enum AckMode {
    #[default]
    Normal,
    NoDelay,
    AlwaysDelay,
}

impl fmt::Display for AckMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match *self {
            AckMode::Normal => "Normal",
            AckMode::NoDelay => "NoDelay",
            AckMode::AlwaysDelay => "AlwaysDelay",
        };
        write!(f, "{s}")
    }
}

/// ack transmission state
#[derive(Default, Debug, Copy, Clone, PartialEq)]
pub(crate) enum AckState {
    #[default]
    Idle, // ack timer is off
    Immediate, // will send ack immediately
    Delay,     // ack timer is on (ack is being delayed)
}

impl fmt::Display for AckState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match *self {
            AckState::Idle => "Idle",
            AckState::Immediate => "Immediate",
            AckState::Delay => "Delay",
        };
        write!(f, "{s}")
    }
}

/// Config collects the arguments to create_association construction into
/// a single structure
pub struct Config {
    pub net_conn: Arc<dyn Conn + Send + Sync>,
    pub max_receive_buffer_size: u32,
    pub max_message_size: u32,
    /// SCTP packet size budget for outgoing packets, i.e. the wire
    /// size before DTLS/UDP/IP overhead. 0 means the default
    /// (`INITIAL_MTU`, 1191: safe for 1280 byte paths). There is no
    /// PMTUD, so the value never adapts; values above the real path
    /// budget make delivery depend on IP fragmentation (#806).
    pub mtu: u32,
    /// Largest packet size that path MTU discovery (RFC 8899) may prove and then use, in
    /// the same terms as `mtu`; 0 (or anything not above `mtu`) sends no probes. Only for
    /// a transport whose sends of a datagram larger than the path fail rather than being
    /// fragmented (the don't-fragment bit set on its socket).
    pub probe_mtu_up_to: u32,
    pub name: String,
    pub remote_port: u16,
    pub local_port: u16,
}

///Association represents an SCTP association
///13.2.  Parameters Necessary per Association (i.e., the TCB)
///Peer : Tag value to be sent in every packet and is received
///Verification: in the INIT or INIT ACK chunk.
///Tag :
///
///My : Tag expected in every inbound packet and sent in the
///Verification: INIT or INIT ACK chunk.
///
///Tag :
///State : A state variable indicating what state the association
/// : is in, i.e., COOKIE-WAIT, COOKIE-ECHOED, ESTABLISHED,
/// : SHUTDOWN-PENDING, SHUTDOWN-SENT, SHUTDOWN-RECEIVED,
/// : SHUTDOWN-ACK-SENT.
///
/// No Closed state is illustrated since if a
/// association is Closed its TCB SHOULD be removed.
pub struct Association {
    name: String,
    state: Arc<AtomicU8>,
    // TODO: Convert into `u32`, as there is no reason why the `max_message_size` should need to be
    // changed after the Assocaition has been created. Note that even if there was a use case for
    // this, it is not used anywhere in the code base.
    //
    // Using atomics where not necessary -- especially in a hot path such as `prepare_write` -- may
    // negatively impact performance, and adds unneeded complexity to the code.
    max_message_size: Arc<AtomicU32>,
    inflight_queue_length: Arc<AtomicUsize>,
    will_send_shutdown: Arc<AtomicBool>,
    awake_write_loop_ch: Arc<mpsc::Sender<()>>,
    close_loop_ch_rx: Mutex<broadcast::Receiver<()>>,
    accept_ch_rx: Mutex<mpsc::Receiver<Arc<Stream>>>,
    net_conn: Arc<dyn Conn + Send + Sync>,
    bytes_received: Arc<AtomicUsize>,
    bytes_sent: Arc<AtomicUsize>,
    path_mtu: Arc<AtomicU32>,
    path_mtu_settled: Arc<AtomicBool>,

    pub(crate) association_internal: Arc<Mutex<AssociationInternal>>,
}

impl Association {
    /// server accepts a SCTP stream over a conn
    pub async fn server(config: Config) -> Result<Self> {
        let (a, mut handshake_completed_ch_rx) = Association::new(config, false).await?;

        if let Some(err_opt) = handshake_completed_ch_rx.recv().await {
            if let Some(err) = err_opt {
                Err(err)
            } else {
                Ok(a)
            }
        } else {
            Err(Error::ErrAssociationHandshakeClosed)
        }
    }

    /// Client opens a SCTP stream over a conn
    pub async fn client(config: Config) -> Result<Self> {
        let (a, mut handshake_completed_ch_rx) = Association::new(config, true).await?;

        if let Some(err_opt) = handshake_completed_ch_rx.recv().await {
            if let Some(err) = err_opt {
                Err(err)
            } else {
                Ok(a)
            }
        } else {
            Err(Error::ErrAssociationHandshakeClosed)
        }
    }

    /// Shutdown initiates the shutdown sequence. The method blocks until the
    /// shutdown sequence is completed and the connection is closed, or until the
    /// passed context is done, in which case the context's error is returned.
    pub async fn shutdown(&self) -> Result<()> {
        log::debug!("[{}] closing association..", self.name);

        let state = self.get_state();
        if state != AssociationState::Established {
            return Err(Error::ErrShutdownNonEstablished);
        }

        // Attempt a graceful shutdown.
        self.set_state(AssociationState::ShutdownPending);

        if self.inflight_queue_length.load(Ordering::SeqCst) == 0 {
            // No more outstanding, send shutdown.
            self.will_send_shutdown.store(true, Ordering::SeqCst);
            let _ = self.awake_write_loop_ch.try_send(());
            self.set_state(AssociationState::ShutdownSent);
        }

        {
            let mut close_loop_ch_rx = self.close_loop_ch_rx.lock().await;
            let _ = close_loop_ch_rx.recv().await;
        }

        Ok(())
    }

    /// Close ends the SCTP Association and cleans up any state
    pub async fn close(&self) -> Result<()> {
        log::debug!("[{}] closing association..", self.name);

        let _ = self.net_conn.close().await;

        let mut ai = self.association_internal.lock().await;
        ai.close().await
    }

    async fn new(config: Config, is_client: bool) -> Result<(Self, mpsc::Receiver<Option<Error>>)> {
        let net_conn = Arc::clone(&config.net_conn);

        let (awake_write_loop_ch_tx, awake_write_loop_ch_rx) = mpsc::channel(1);
        let (accept_ch_tx, accept_ch_rx) = mpsc::channel(ACCEPT_CH_SIZE);
        let (handshake_completed_ch_tx, handshake_completed_ch_rx) = mpsc::channel(1);
        let (close_loop_ch_tx, close_loop_ch_rx) = broadcast::channel(1);
        let (close_loop_ch_rx1, close_loop_ch_rx2) =
            (close_loop_ch_tx.subscribe(), close_loop_ch_tx.subscribe());
        let awake_write_loop_ch = Arc::new(awake_write_loop_ch_tx);

        let ai = AssociationInternal::new(
            config,
            close_loop_ch_tx,
            accept_ch_tx,
            handshake_completed_ch_tx,
            Arc::clone(&awake_write_loop_ch),
        );

        let bytes_received = Arc::new(AtomicUsize::new(0));
        let bytes_sent = Arc::new(AtomicUsize::new(0));
        let name = ai.name.clone();
        let state = Arc::clone(&ai.state);
        let max_message_size = Arc::clone(&ai.max_message_size);
        let inflight_queue_length = Arc::clone(&ai.inflight_queue_length);
        let will_send_shutdown = Arc::clone(&ai.will_send_shutdown);
        let path_mtu = Arc::clone(&ai.path_mtu);
        let path_mtu_settled = Arc::clone(&ai.path_mtu_settled);

        let mut init = ChunkInit {
            initial_tsn: ai.my_next_tsn,
            num_outbound_streams: ai.my_max_num_outbound_streams,
            num_inbound_streams: ai.my_max_num_inbound_streams,
            initiate_tag: ai.my_verification_tag,
            advertised_receiver_window_credit: ai.max_receive_buffer_size,
            ..Default::default()
        };
        init.set_supported_extensions();

        let association_internal = Arc::new(Mutex::new(ai));
        {
            let weak = Arc::downgrade(&association_internal);
            let mut ai = association_internal.lock().await;
            ai.t1init = Some(RtxTimer::new(
                weak.clone(),
                RtxTimerId::T1Init,
                MAX_INIT_RETRANS,
            ));
            ai.t1cookie = Some(RtxTimer::new(
                weak.clone(),
                RtxTimerId::T1Cookie,
                MAX_INIT_RETRANS,
            ));
            ai.t2shutdown = Some(RtxTimer::new(
                weak.clone(),
                RtxTimerId::T2Shutdown,
                NO_MAX_RETRANS,
            )); // retransmit forever
            ai.t3rtx = Some(RtxTimer::new(
                weak.clone(),
                RtxTimerId::T3RTX,
                NO_MAX_RETRANS,
            )); // retransmit forever
            ai.treconfig = Some(RtxTimer::new(
                weak.clone(),
                RtxTimerId::Reconfig,
                NO_MAX_RETRANS,
            )); // retransmit forever
            ai.tprobe = Some(RtxTimer::new(
                weak.clone(),
                RtxTimerId::PmtuProbe,
                NO_MAX_RETRANS,
            )); // each probe restarts it
            ai.ack_timer = Some(AckTimer::new(weak, ACK_INTERVAL));

            tokio::spawn(Association::read_loop(
                name.clone(),
                Arc::clone(&bytes_received),
                Arc::clone(&net_conn),
                close_loop_ch_rx1,
                Arc::clone(&association_internal),
            ));

            tokio::spawn(Association::write_loop(
                name.clone(),
                Arc::clone(&bytes_sent),
                Arc::clone(&net_conn),
                close_loop_ch_rx2,
                Arc::clone(&association_internal),
                awake_write_loop_ch_rx,
            ));

            if is_client {
                ai.set_state(AssociationState::CookieWait);
                ai.stored_init = Some(init);
                ai.send_init()?;
                let rto = ai.rto_mgr.get_rto();
                if let Some(t1init) = &ai.t1init {
                    t1init.start(rto).await;
                }
            }
        }

        Ok((
            Association {
                name,
                state,
                max_message_size,
                inflight_queue_length,
                will_send_shutdown,
                awake_write_loop_ch,
                close_loop_ch_rx: Mutex::new(close_loop_ch_rx),
                accept_ch_rx: Mutex::new(accept_ch_rx),
                net_conn,
                bytes_received,
                bytes_sent,
                path_mtu,
                path_mtu_settled,
                association_internal,
            },
            handshake_completed_ch_rx,
        ))
    }

    async fn read_loop(
        name: String,
        bytes_received: Arc<AtomicUsize>,
        net_conn: Arc<dyn Conn + Send + Sync>,
        mut close_loop_ch: broadcast::Receiver<()>,
        association_internal: Arc<Mutex<AssociationInternal>>,
    ) {
        log::debug!("[{name}] read_loop entered");

        let mut buffer = vec![0u8; RECEIVE_MTU];
        let mut done = false;
        let mut n;
        while !done {
            tokio::select! {
                _ = close_loop_ch.recv() => break,
                result = net_conn.recv(&mut buffer) => {
                    match result {
                        Ok(m) => {
                            n=m;
                        }
                        Err(err) => {
                            log::warn!("[{name}] failed to read packets on net_conn: {err}");
                            break;
                        }
                    }
                }
            };

            // Make a buffer sized to what we read, then copy the data we
            // read from the underlying transport. We do this because the
            // user data is passed to the reassembly queue without
            // copying.
            log::debug!("[{name}] recving {n} bytes");
            let inbound = Bytes::from(buffer[..n].to_vec());
            bytes_received.fetch_add(n, Ordering::SeqCst);

            {
                let mut ai = association_internal.lock().await;
                if let Err(err) = ai.handle_inbound(&inbound).await {
                    log::warn!("[{name}] failed to handle_inbound: {err:?}");
                    done = true;
                }
            }
        }

        {
            let mut ai = association_internal.lock().await;
            if let Err(err) = ai.close().await {
                log::warn!("[{name}] failed to close association: {err:?}");
            }
        }

        log::debug!("[{name}] read_loop exited");
    }

    async fn write_loop(
        name: String,
        bytes_sent: Arc<AtomicUsize>,
        net_conn: Arc<dyn Conn + Send + Sync>,
        mut close_loop_ch: broadcast::Receiver<()>,
        association_internal: Arc<Mutex<AssociationInternal>>,
        mut awake_write_loop_ch: mpsc::Receiver<()>,
    ) {
        log::debug!("[{name}] write_loop entered");
        let done = Arc::new(AtomicBool::new(false));
        let name = Arc::new(name);
        let mut buf = BytesMut::with_capacity(16 * 1024);

        while !done.load(Ordering::Relaxed) {
            //log::debug!("[{}] gather_outbound begin", name);
            let (packets, continue_loop) = {
                let mut ai = association_internal.lock().await;
                ai.gather_outbound().await
            };
            //log::debug!("[{}] gather_outbound done with {}", name, packets.len());

            // Marshalled here rather than on a blocking thread: handing every packet to
            // another thread and back cost two thread wake-ups per packet, far more than the
            // marshalling itself. Packets go down together, up to WRITE_BATCH at a time (one
            // trip through DTLS's writer and as few system calls as the socket allows), and
            // the loop yields after each batch so that the read loop can take the association
            // in between. A path MTU probe goes on its own: its failure is not the
            // association's.
            let mut batch: Vec<Bytes> = Vec::with_capacity(packets.len().min(WRITE_BATCH));
            let mut packets = packets.into_iter().peekable();
            while let Some(raw) = packets.next() {
                let datagram = match raw.marshal_to(&mut buf) {
                    Ok(_) => buf.split().freeze(),
                    Err(err) => {
                        log::warn!("[{name}] failed to serialize a packet: {err:?}");
                        buf.clear();
                        continue;
                    }
                };
                if let Some(id) = plpmtud::probe_id(&raw) {
                    if !Self::write_batch(&name, &net_conn, &bytes_sent, &batch).await {
                        done.store(true, Ordering::Relaxed);
                        break;
                    }
                    batch.clear();
                    if let Err(err) = net_conn.send(&datagram).await {
                        // A probe larger than the local link: that size fails, and the
                        // association goes on.
                        log::debug!("[{name}] PMTU probe not sent: {err}");
                        association_internal.lock().await.probe_unsendable(id);
                    } else {
                        bytes_sent.fetch_add(datagram.len(), Ordering::SeqCst);
                    }
                } else {
                    batch.push(datagram);
                    if batch.len() < WRITE_BATCH && packets.peek().is_some() {
                        continue;
                    }
                }
                if !Self::write_batch(&name, &net_conn, &bytes_sent, &batch).await {
                    done.store(true, Ordering::Relaxed);
                    break;
                }
                batch.clear();
                tokio::task::yield_now().await;
            }
            // What a packet that could not be serialized left unsent at the end.
            if !done.load(Ordering::Relaxed)
                && !Self::write_batch(&name, &net_conn, &bytes_sent, &batch).await
            {
                done.store(true, Ordering::Relaxed);
            }

            if !continue_loop {
                break;
            }

            //log::debug!("[{}] wait awake_write_loop_ch", name);
            tokio::select! {
                _ = awake_write_loop_ch.recv() =>{}
                _ = close_loop_ch.recv() => {
                    done.store(true, Ordering::Relaxed);
                }
            };
            //log::debug!("[{}] wait awake_write_loop_ch done", name);
        }

        {
            let mut ai = association_internal.lock().await;
            if let Err(err) = ai.close().await {
                log::warn!("[{name}] failed to close association: {err:?}");
            }
        }

        log::debug!("[{name}] write_loop exited");
    }

    /// Sends `datagrams` on `net_conn` together; false (after saying why) when the
    /// connection failed and the association must end.
    async fn write_batch(
        name: &str,
        net_conn: &Arc<dyn Conn + Send + Sync>,
        bytes_sent: &AtomicUsize,
        datagrams: &[Bytes],
    ) -> bool {
        if datagrams.is_empty() {
            return true;
        }
        let slices: Vec<&[u8]> = datagrams.iter().map(Bytes::as_ref).collect();
        match net_conn.send_batch(&slices).await {
            Ok(()) => {
                let bytes: usize = slices.iter().map(|d| d.len()).sum();
                bytes_sent.fetch_add(bytes, Ordering::SeqCst);
                true
            }
            Err(err) => {
                log::warn!("[{name}] failed to write packets on net_conn: {err}");
                false
            }
        }
    }

    /// The SCTP packet size in use (it grows as path MTU discovery proves larger ones), and
    /// whether it is final (discovery finished, or was not asked for).
    pub fn path_mtu(&self) -> (u32, bool) {
        (
            self.path_mtu.load(Ordering::Relaxed),
            self.path_mtu_settled.load(Ordering::Relaxed),
        )
    }

    /// bytes_sent returns the number of bytes sent
    pub fn bytes_sent(&self) -> usize {
        self.bytes_sent.load(Ordering::SeqCst)
    }

    /// bytes_received returns the number of bytes received
    pub fn bytes_received(&self) -> usize {
        self.bytes_received.load(Ordering::SeqCst)
    }

    /// open_stream opens a stream
    pub async fn open_stream(
        &self,
        stream_identifier: u16,
        default_payload_type: PayloadProtocolIdentifier,
    ) -> Result<Arc<Stream>> {
        let mut ai = self.association_internal.lock().await;
        ai.open_stream(stream_identifier, default_payload_type)
    }

    /// accept_stream accepts a stream
    pub async fn accept_stream(&self) -> Option<Arc<Stream>> {
        let mut accept_ch_rx = self.accept_ch_rx.lock().await;
        accept_ch_rx.recv().await
    }

    /// max_message_size returns the maximum message size you can send.
    pub fn max_message_size(&self) -> u32 {
        self.max_message_size.load(Ordering::SeqCst)
    }

    /// set_max_message_size sets the maximum message size you can send.
    pub fn set_max_message_size(&self, max_message_size: u32) {
        self.max_message_size
            .store(max_message_size, Ordering::SeqCst);
    }

    /// set_state atomically sets the state of the Association.
    fn set_state(&self, new_state: AssociationState) {
        let old_state = AssociationState::from(self.state.swap(new_state as u8, Ordering::SeqCst));
        if new_state != old_state {
            log::debug!(
                "[{}] state change: '{}' => '{}'",
                self.name,
                old_state,
                new_state,
            );
        }
    }

    /// get_state atomically returns the state of the Association.
    fn get_state(&self) -> AssociationState {
        self.state.load(Ordering::SeqCst).into()
    }
}
