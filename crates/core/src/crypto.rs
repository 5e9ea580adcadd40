//! Keys for one session: SPAKE2 over the code's words, HKDF to purpose-bound keys, explicit
//! key confirmation, and the AEAD that seals signaling messages.
//!
//! Pure functions and small types; no I/O. Key material never reaches a log: the key types
//! print as `Key(..)`.

use std::fmt;
use std::marker::PhantomData;

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password as PakePassword, Spake2};

use crate::code::{Nameplate, Password};
use crate::wordlist;

/// Version of the session protocol, bound into every derivation and confirmation.
pub const SESSION_VERSION: &str = "toss-session-v1";

/// Which end of the session this is; bound into keys so that the two directions differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Allocated the room and makes the WebRTC offer.
    Sender,
    /// Joined with the code and answers.
    Receiver,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Role::Sender => "sender",
            Role::Receiver => "receiver",
        }
    }

    /// The other end.
    pub fn peer(self) -> Role {
        match self {
            Role::Sender => Role::Receiver,
            Role::Receiver => Role::Sender,
        }
    }
}

/// What a key may be used for.
pub trait KeyPurpose {}
/// Proves knowledge of the shared key to the other side.
#[derive(Debug)]
pub enum Confirm {}
/// Seals signaling messages in one direction.
#[derive(Debug)]
pub enum Seal {}
impl KeyPurpose for Confirm {}
impl KeyPurpose for Seal {}

/// A 256-bit key usable only for its purpose `P`.
pub struct Key<P: KeyPurpose> {
    bytes: [u8; 32],
    _purpose: PhantomData<P>,
}

impl<P: KeyPurpose> fmt::Debug for Key<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// A SPAKE2 exchange in progress.
pub struct Pake {
    state: Spake2<Ed25519Group>,
    nameplate: Nameplate,
}

impl fmt::Debug for Pake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pake(..)")
    }
}

/// The keys both sides share after a successful PAKE.
#[derive(Debug)]
pub struct SessionKeys {
    role: Role,
    nameplate: Nameplate,
    confirm_mine: Key<Confirm>,
    confirm_theirs: Key<Confirm>,
    seal_out: Key<Seal>,
    seal_in: Key<Seal>,
    bind_mine: Key<Confirm>,
    bind_theirs: Key<Confirm>,
    verification: String,
}

/// Binds the encrypted peer connection to the code: each side MACs both DTLS certificate
/// fingerprints as it sees them, so that a connection whose certificates were swapped on
/// the way (a man in the middle) fails even if every signaling message looked genuine.
#[derive(Debug)]
pub struct ChannelBinder {
    role: Role,
    nameplate: Nameplate,
    mine: Key<Confirm>,
    theirs: Key<Confirm>,
}

/// Why a crypto step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The PAKE message or confirmation did not check out: different codes.
    #[error("the keys do not match")]
    Mismatch,
    /// A sealed message did not open: tampered, replayed, reordered or from another key.
    #[error("a sealed message failed to open")]
    BadSeal,
    /// Not base64 or too short.
    #[error("malformed sealed data")]
    Malformed,
}

/// The SPAKE2 identity of a room: the protocol version and the nameplate.
fn pake_identity(nameplate: &Nameplate) -> String {
    format!("{SESSION_VERSION}/{nameplate}")
}

impl Pake {
    /// Starts the symmetric SPAKE2 exchange; returns the message to send to the peer.
    pub fn start(nameplate: &Nameplate, password: &Password) -> (Pake, Vec<u8>) {
        let (state, outbound) = Spake2::<Ed25519Group>::start_symmetric(
            &PakePassword::new(password.words().as_bytes()),
            &Identity::new(pake_identity(nameplate).as_bytes()),
        );
        (
            Pake {
                state,
                nameplate: nameplate.clone(),
            },
            outbound,
        )
    }

    /// Finishes with the peer's message and derives every session key.
    ///
    /// # Errors
    /// [`CryptoError::Mismatch`] when the peer's message is malformed. A wrong password is
    /// only detected by [`SessionKeys::check_confirmation`].
    pub fn finish(self, inbound: &[u8], role: Role) -> Result<SessionKeys, CryptoError> {
        let shared = self
            .state
            .finish(inbound)
            .map_err(|_| CryptoError::Mismatch)?;
        Ok(SessionKeys::derive(&shared, role, self.nameplate))
    }
}

/// The commitment the sender makes to its PAKE message before it sees the receiver's:
/// SHA-256 over the protocol version, the nameplate and the message. Revealed only after
/// the receiver's message has arrived, so that nobody in the middle can choose a message
/// of theirs after seeing both honest ones; with a public password (nearby devices), that
/// choice is what would let them search for matching verification words.
pub fn pake_commitment(nameplate: &Nameplate, msg: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut h = Sha256::new();
    for part in [
        SESSION_VERSION.as_bytes(),
        b"pake-commit",
        nameplate.as_str().as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.update(msg);
    h.finalize().to_vec()
}

/// Whether a revealed PAKE message is the one committed to, in constant time.
pub fn check_commitment(nameplate: &Nameplate, commitment: &[u8], msg: &[u8]) -> bool {
    let want = pake_commitment(nameplate, msg);
    want.len() == commitment.len()
        && want
            .iter()
            .zip(commitment)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn hkdf_key<P: KeyPurpose>(hk: &Hkdf<Sha256>, info: &str) -> Key<P> {
    let mut bytes = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte output limit.
    let _ = hk.expand(info.as_bytes(), &mut bytes);
    Key {
        bytes,
        _purpose: PhantomData,
    }
}

impl SessionKeys {
    fn derive(shared: &[u8], role: Role, nameplate: Nameplate) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(SESSION_VERSION.as_bytes()), shared);
        let confirm = |r: Role| hkdf_key::<Confirm>(&hk, &format!("confirm/{}", r.label()));
        let seal = |from: Role| {
            hkdf_key::<Seal>(
                &hk,
                &format!("seal/{}->{}", from.label(), from.peer().label()),
            )
        };
        let bind = |r: Role| hkdf_key::<Confirm>(&hk, &format!("bind/{}", r.label()));
        let mut verify = [0u8; 2];
        let _ = hk.expand(b"verification-words", &mut verify);
        Self {
            role,
            confirm_mine: confirm(role),
            confirm_theirs: confirm(role.peer()),
            seal_out: seal(role),
            seal_in: seal(role.peer()),
            bind_mine: bind(role),
            bind_theirs: bind(role.peer()),
            verification: format!(
                "{} {}",
                wordlist::WORDS[usize::from(verify[0])],
                wordlist::WORDS[usize::from(verify[1])]
            ),
            nameplate,
        }
    }

    /// Two words both sides show, so that people can check they reached each other.
    pub fn verification(&self) -> &str {
        &self.verification
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The MAC over everything a confirmation binds: version, the confirming role and
    /// the nameplate.
    fn confirmation_mac(&self, key: &Key<Confirm>, role: Role) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.bytes)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in [SESSION_VERSION, role.label(), self.nameplate.as_str()] {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        mac
    }

    /// This side's key confirmation, to send to the peer.
    pub fn my_confirmation(&self) -> Vec<u8> {
        self.confirmation_mac(&self.confirm_mine, self.role)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    /// Checks the peer's key confirmation in constant time.
    ///
    /// # Errors
    /// [`CryptoError::Mismatch`] when the peer used another code.
    pub fn check_confirmation(&self, theirs: &[u8]) -> Result<(), CryptoError> {
        self.confirmation_mac(&self.confirm_theirs, self.role.peer())
            .verify_slice(theirs)
            .map_err(|_| CryptoError::Mismatch)
    }

    /// Splits into the sealing and opening halves for the signaling channel, and the
    /// binder that later ties the peer connection to the same keys.
    pub fn into_channel(self) -> (Sealer, Opener, ChannelBinder) {
        (
            Sealer {
                cipher: ChaCha20Poly1305::new((&self.seal_out.bytes).into()),
                next: 0,
            },
            Opener {
                cipher: ChaCha20Poly1305::new((&self.seal_in.bytes).into()),
                next: 0,
            },
            ChannelBinder {
                role: self.role,
                nameplate: self.nameplate,
                mine: self.bind_mine,
                theirs: self.bind_theirs,
            },
        )
    }
}

impl ChannelBinder {
    /// The MAC over version, the binding role, the nameplate and both fingerprints, in the
    /// order sender's certificate, receiver's certificate.
    fn mac(
        &self,
        key: &Key<Confirm>,
        role: Role,
        sender_fp: &str,
        receiver_fp: &str,
    ) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.bytes)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in [
            SESSION_VERSION,
            "channel-binding",
            role.label(),
            self.nameplate.as_str(),
            sender_fp,
            receiver_fp,
        ] {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        mac
    }

    /// This side's binding over the fingerprints as this side sees them.
    pub fn my_binding(&self, sender_fp: &str, receiver_fp: &str) -> Vec<u8> {
        self.mac(&self.mine, self.role, sender_fp, receiver_fp)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    /// Checks the peer's binding against the fingerprints as this side sees them.
    ///
    /// # Errors
    /// [`CryptoError::Mismatch`] when the peer saw other certificates (or other keys).
    pub fn check_binding(
        &self,
        theirs: &[u8],
        sender_fp: &str,
        receiver_fp: &str,
    ) -> Result<(), CryptoError> {
        self.mac(&self.theirs, self.role.peer(), sender_fp, receiver_fp)
            .verify_slice(theirs)
            .map_err(|_| CryptoError::Mismatch)
    }
}

fn nonce(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_be_bytes());
    n
}

/// Seals outbound messages, numbering them so that the peer can refuse replays.
pub struct Sealer {
    cipher: ChaCha20Poly1305,
    next: u64,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer").field("next", &self.next).finish()
    }
}

impl Sealer {
    /// Seals `plaintext` as base64 of `counter || ciphertext`.
    pub fn seal(&mut self, plaintext: &[u8]) -> String {
        let counter = self.next;
        self.next += 1;
        let sealed = self
            .cipher
            .encrypt(
                (&nonce(counter)).into(),
                Payload {
                    msg: plaintext,
                    aad: SESSION_VERSION.as_bytes(),
                },
            )
            .unwrap_or_else(|_| unreachable!("ChaCha20Poly1305 sealing has no failure mode"));
        let mut out = counter.to_be_bytes().to_vec();
        out.extend_from_slice(&sealed);
        B64.encode(out)
    }
}

/// Opens inbound messages in order; anything replayed, reordered or forged fails.
pub struct Opener {
    cipher: ChaCha20Poly1305,
    next: u64,
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener").field("next", &self.next).finish()
    }
}

impl Opener {
    /// Opens the next message.
    ///
    /// # Errors
    /// [`CryptoError::BadSeal`] for anything but the next genuine message.
    pub fn open(&mut self, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let raw = B64.decode(sealed).map_err(|_| CryptoError::Malformed)?;
        if raw.len() < 8 + 16 {
            return Err(CryptoError::Malformed);
        }
        let (counter, ciphertext) = raw.split_at(8);
        let mut c = [0u8; 8];
        c.copy_from_slice(counter);
        let counter = u64::from_be_bytes(c);
        if counter != self.next {
            return Err(CryptoError::BadSeal);
        }
        let plain = self
            .cipher
            .decrypt(
                (&nonce(counter)).into(),
                Payload {
                    msg: ciphertext,
                    aad: SESSION_VERSION.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::BadSeal)?;
        self.next += 1;
        Ok(plain)
    }
}

/// Fixed test vectors (`crates/core/tests/web_vectors.rs`, which pins the web peer's crypto
/// to this file) need the exchange to be deterministic and its keys visible. Only tests can
/// reach these: a session with chosen randomness would be no secret from whoever chose it.
#[cfg(any(test, feature = "test-utils"))]
mod vectors {
    use super::{
        pake_identity, CryptoError, Ed25519Group, Identity, Nameplate, Pake, PakePassword,
        Password, Role, SessionKeys, Spake2,
    };

    /// Hands out exactly the bytes it was given, as the system RNG would have.
    struct FixedRandomness {
        bytes: [u8; 64],
        used: usize,
    }

    impl rand::RngCore for FixedRandomness {
        fn next_u32(&mut self) -> u32 {
            let mut b = [0u8; 4];
            self.fill_bytes(&mut b);
            u32::from_le_bytes(b)
        }

        fn next_u64(&mut self) -> u64 {
            let mut b = [0u8; 8];
            self.fill_bytes(&mut b);
            u64::from_le_bytes(b)
        }

        fn fill_bytes(&mut self, dest: &mut [u8]) {
            let end = self.used + dest.len();
            assert!(
                end <= self.bytes.len(),
                "SPAKE2 asked for more than 64 random bytes"
            );
            dest.copy_from_slice(&self.bytes[self.used..end]);
            self.used = end;
        }

        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl rand::CryptoRng for FixedRandomness {}

    impl Pake {
        /// [`Pake::start`] with the 64 random bytes SPAKE2 draws (curve25519-dalek's
        /// `Scalar::random`: little-endian, reduced modulo the group order) given instead.
        ///
        /// # Panics
        /// If the SPAKE2 crate ever draws anything but exactly those 64 bytes, which would
        /// make the vectors describe something else.
        pub fn start_with_randomness(
            nameplate: &Nameplate,
            password: &Password,
            randomness: [u8; 64],
        ) -> (Pake, Vec<u8>) {
            let mut rng = FixedRandomness {
                bytes: randomness,
                used: 0,
            };
            let (state, outbound) = Spake2::<Ed25519Group>::start_symmetric_with_rng(
                &PakePassword::new(password.words().as_bytes()),
                &Identity::new(pake_identity(nameplate).as_bytes()),
                &mut rng,
            );
            assert_eq!(rng.used, 64, "SPAKE2 drew other than 64 random bytes");
            (
                Pake {
                    state,
                    nameplate: nameplate.clone(),
                },
                outbound,
            )
        }

        /// [`Pake::finish`] that also returns the SPAKE2 key the session keys come from.
        ///
        /// # Errors
        /// As [`Pake::finish`].
        pub fn finish_revealing_secret(
            self,
            inbound: &[u8],
            role: Role,
        ) -> Result<(Vec<u8>, SessionKeys), CryptoError> {
            let shared = self
                .state
                .finish(inbound)
                .map_err(|_| CryptoError::Mismatch)?;
            let keys = SessionKeys::derive(&shared, role, self.nameplate);
            Ok((shared, keys))
        }
    }

    impl SessionKeys {
        /// Every key derived for this side, named by its HKDF info string.
        pub fn key_bytes(&self) -> Vec<(String, [u8; 32])> {
            let (me, peer) = (self.role.label(), self.role.peer().label());
            vec![
                (format!("confirm/{me}"), self.confirm_mine.bytes),
                (format!("confirm/{peer}"), self.confirm_theirs.bytes),
                (format!("seal/{me}->{peer}"), self.seal_out.bytes),
                (format!("seal/{peer}->{me}"), self.seal_in.bytes),
                (format!("bind/{me}"), self.bind_mine.bytes),
                (format!("bind/{peer}"), self.bind_theirs.bytes),
            ]
        }
    }
}

/// Base64 for PAKE and confirmation messages on the wire.
pub(crate) fn encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// The inverse of [`encode`].
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, CryptoError> {
    B64.decode(text).map_err(|_| CryptoError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: &str, b: &str) -> (SessionKeys, SessionKeys) {
        let np: Nameplate = "42".parse().expect("valid");
        let pa: crate::Code = format!("42-{a}").parse().expect("valid");
        let pb: crate::Code = format!("42-{b}").parse().expect("valid");
        let (sa, ma) = Pake::start(&np, pa.password());
        let (sb, mb) = Pake::start(&np, pb.password());
        (
            sa.finish(&mb, Role::Sender).expect("finish"),
            sb.finish(&ma, Role::Receiver).expect("finish"),
        )
    }

    #[test]
    fn same_code_confirms_and_seals_both_ways() {
        let (s, r) = pair("orbit-lemon", "orbit-lemon");
        assert_eq!(s.verification(), r.verification());
        r.check_confirmation(&s.my_confirmation())
            .expect("sender confirmed");
        s.check_confirmation(&r.my_confirmation())
            .expect("receiver confirmed");
        let (mut s_seal, mut s_open, _) = s.into_channel();
        let (mut r_seal, mut r_open, _) = r.into_channel();
        let m1 = s_seal.seal(b"offer");
        assert_eq!(r_open.open(&m1).expect("opens"), b"offer");
        let m2 = r_seal.seal(b"answer");
        assert_eq!(s_open.open(&m2).expect("opens"), b"answer");
        // A replay of the first message is refused.
        assert_eq!(r_open.open(&m1), Err(CryptoError::BadSeal));
    }

    #[test]
    fn a_commitment_binds_the_message_and_the_room() {
        let np: Nameplate = "42".parse().expect("valid");
        let other: Nameplate = "43".parse().expect("valid");
        let (_, msg) = Pake::start(&np, &Password::nearby());
        let (_, another) = Pake::start(&np, &Password::nearby());
        let commitment = pake_commitment(&np, &msg);
        assert_eq!(commitment.len(), 32);
        assert!(check_commitment(&np, &commitment, &msg));
        // Another valid message for the same public password, as a man in the middle
        // would reveal after seeing the honest one: refused.
        assert!(!check_commitment(&np, &commitment, &another));
        assert!(!check_commitment(&other, &commitment, &msg));
        assert!(!check_commitment(&np, &commitment[..31], &msg));
        // Fixed vector: the protocol document says how it is computed.
        assert_eq!(
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(pake_commitment(&np, b"m")),
            {
                use sha2::Digest;
                let mut h = Sha256::new();
                for part in [&b"toss-session-v1"[..], b"pake-commit", b"42"] {
                    h.update((part.len() as u64).to_le_bytes());
                    h.update(part);
                }
                h.update(b"m");
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(h.finalize())
            }
        );
    }

    #[test]
    fn wrong_code_fails_confirmation_on_both_sides() {
        let (s, r) = pair("orbit-lemon", "orbit-melon");
        assert_eq!(
            r.check_confirmation(&s.my_confirmation()),
            Err(CryptoError::Mismatch)
        );
        assert_eq!(
            s.check_confirmation(&r.my_confirmation()),
            Err(CryptoError::Mismatch)
        );
    }

    #[test]
    fn reflected_confirmation_is_refused() {
        let (s, _r) = pair("orbit-lemon", "orbit-lemon");
        // A server echoing the sender's own confirmation back must not pass.
        assert_eq!(
            s.check_confirmation(&s.my_confirmation()),
            Err(CryptoError::Mismatch)
        );
    }

    #[test]
    fn tampered_or_own_direction_seal_is_refused() {
        let (s, r) = pair("orbit-lemon", "orbit-lemon");
        let (mut s_seal, mut s_open, _) = s.into_channel();
        let (_r_seal, mut r_open, _) = r.into_channel();
        let m = s_seal.seal(b"offer");
        // Reflected to the sender itself: other direction's key, refused.
        assert_eq!(s_open.open(&m), Err(CryptoError::BadSeal));
        let mut raw = B64.decode(&m).expect("b64");
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(r_open.open(&B64.encode(raw)), Err(CryptoError::BadSeal));
        assert_eq!(r_open.open("!!"), Err(CryptoError::Malformed));
    }

    #[test]
    fn channel_binding_holds_only_for_the_same_certificates() {
        let (s, r) = pair("orbit-lemon", "orbit-lemon");
        let (_, _, s_bind) = s.into_channel();
        let (_, _, r_bind) = r.into_channel();
        let (sfp, rfp) = ("aa:01", "bb:02");
        r_bind
            .check_binding(&s_bind.my_binding(sfp, rfp), sfp, rfp)
            .expect("receiver accepts the sender's binding");
        s_bind
            .check_binding(&r_bind.my_binding(sfp, rfp), sfp, rfp)
            .expect("sender accepts the receiver's binding");
        // A man in the middle shows each side another certificate for the other.
        assert_eq!(
            r_bind.check_binding(&s_bind.my_binding(sfp, rfp), "ee:66", rfp),
            Err(CryptoError::Mismatch)
        );
        assert_eq!(
            s_bind.check_binding(&r_bind.my_binding(sfp, rfp), sfp, "ee:77"),
            Err(CryptoError::Mismatch)
        );
        // Reflected back to its maker, a binding does not pass.
        assert_eq!(
            s_bind.check_binding(&s_bind.my_binding(sfp, rfp), sfp, rfp),
            Err(CryptoError::Mismatch)
        );
    }
}
