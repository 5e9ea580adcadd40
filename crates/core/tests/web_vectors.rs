//! Writes the test vectors that pin the web peer's crypto (`web/src/crypto.js`) to the core's:
//! a SPAKE2 exchange with fixed randomness for a code and for the nearby password, the
//! commitment, every derived key, the confirmations, sealed messages both ways, the channel
//! bindings, how hostile SPAKE2 messages end, and BLAKE3 of fixed data. `web/test/crypto.test.js`
//! must reproduce every byte of `web/test/fixtures/vectors.json`.
//!
//! The file is generated, never edited: when what the core computes differs from the file on
//! disk, this test rewrites the file and fails, so that the change is seen and committed
//! together with the code that caused it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};
use spake2::{Ed25519Group, Group};
use toss_core::crypto::{
    check_commitment, pake_commitment, ChannelBinder, Opener, Pake, Role, Sealer, SessionKeys,
    SESSION_VERSION,
};
use toss_core::{wordlist, Code, Nameplate, Password};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Where the web peer's tests read the vectors.
fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web/test/fixtures/vectors.json")
}

#[derive(Serialize)]
struct Vectors {
    about: &'static str,
    session_version: &'static str,
    /// `wordlist::WORDS`, which the code and the verification words are made of.
    wordlist: Vec<&'static str>,
    /// The SPAKE2 crate's blinding points, with the seeds python-spake2 derives them from.
    spake2_points: Vec<Spake2Point>,
    /// Honest exchanges: both sides end with the same keys.
    exchanges: Vec<Exchange>,
    /// The receiver typed another code than the sender's.
    wrong_code: WrongCode,
    /// Messages a peer could send instead of an honest one, each given to the sender of the
    /// first exchange (started afresh from its fixed randomness).
    hostile_pake_messages: Vec<HostileMessage>,
    blake3: Vec<Blake3Vector>,
}

#[derive(Serialize)]
struct Spake2Point {
    name: &'static str,
    seed: &'static str,
    compressed_hex: String,
}

#[derive(Serialize)]
struct Exchange {
    name: &'static str,
    nameplate: String,
    spake2_identity: String,
    spake2_password: String,
    sender: Side,
    receiver: Side,
    /// Both sides derive the same key set; the names are the HKDF info strings.
    keys_hex: BTreeMap<String, String>,
    verification_words: String,
    /// The sender's commitment to its PAKE message, as the `commit` message carries it.
    commit_hash_b64: String,
    sealed_sender_to_receiver: Vec<Sealed>,
    sealed_receiver_to_sender: Vec<Sealed>,
    channel_binding: Binding,
}

#[derive(Serialize)]
struct Side {
    /// The 64 bytes SPAKE2 draws from the system RNG (curve25519-dalek's `Scalar::random`).
    randomness_hex: String,
    /// What the `pake` message carries: a side byte `S` and a compressed Edwards point.
    pake_msg_b64: String,
    /// The SPAKE2 output, from which HKDF derives the session keys.
    spake2_key_hex: String,
    /// What the `confirm` message carries.
    confirm_mac_b64: String,
}

#[derive(Serialize)]
struct WrongCode {
    nameplate: String,
    spake2_identity: String,
    sender_password: String,
    receiver_password: String,
    sender: SideKeys,
    receiver: SideKeys,
}

#[derive(Serialize)]
struct SideKeys {
    randomness_hex: String,
    pake_msg_b64: String,
    spake2_key_hex: String,
    keys_hex: BTreeMap<String, String>,
    verification_words: String,
    confirm_mac_b64: String,
    /// Whether this side accepts the other's confirmation (never, with two codes).
    accepts_peer_confirmation: bool,
}

#[derive(Serialize)]
struct Sealed {
    plaintext: String,
    /// What the `sealed` message carries: base64 of the 8-byte counter and the ciphertext.
    data_b64: String,
}

#[derive(Serialize)]
struct Binding {
    sender_fingerprint: String,
    receiver_fingerprint: String,
    /// The first data-channel message of each side: `.` and base64 of the MAC.
    sender_message: String,
    receiver_message: String,
}

#[derive(Serialize)]
struct HostileMessage {
    what: &'static str,
    pake_msg_hex: String,
    /// The sender's SPAKE2 key from it, or null where the core refuses the message.
    spake2_key_hex: Option<String>,
}

#[derive(Serialize)]
struct Blake3Vector {
    what: &'static str,
    /// The data is `length` bytes, byte `i` being `i % 251`.
    length: usize,
    hash_hex: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fixed "random" bytes, named so that nobody takes them for anything else.
fn randomness(label: &str) -> [u8; 64] {
    Sha512::digest(format!("toss web vectors: {label}")).into()
}

/// A certificate fingerprint as webrtc-rs writes it (`ab:cd:...`).
fn fingerprint(label: &str) -> String {
    let digest = Sha256::digest(label.as_bytes());
    let parts: Vec<String> = digest.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

fn keys_hex(keys: &SessionKeys) -> BTreeMap<String, String> {
    keys.key_bytes()
        .into_iter()
        .map(|(info, bytes)| (info, hex(&bytes)))
        .collect()
}

/// Seals each plaintext and checks that the other side opens it, in order.
fn seal_all(sealer: &mut Sealer, opener: &mut Opener, plaintexts: &[&str]) -> Vec<Sealed> {
    plaintexts
        .iter()
        .map(|plaintext| {
            let data_b64 = sealer.seal(plaintext.as_bytes());
            assert_eq!(
                opener.open(&data_b64).expect("the peer opens it"),
                plaintext.as_bytes()
            );
            Sealed {
                plaintext: (*plaintext).to_owned(),
                data_b64,
            }
        })
        .collect()
}

fn binding(sender: &ChannelBinder, receiver: &ChannelBinder) -> Binding {
    let (sfp, rfp) = (
        fingerprint("sender's DTLS certificate"),
        fingerprint("receiver's DTLS certificate"),
    );
    let s = sender.my_binding(&sfp, &rfp);
    let r = receiver.my_binding(&sfp, &rfp);
    receiver
        .check_binding(&s, &sfp, &rfp)
        .expect("the receiver accepts the sender's binding");
    sender
        .check_binding(&r, &sfp, &rfp)
        .expect("the sender accepts the receiver's binding");
    Binding {
        sender_message: format!(".{}", B64.encode(s)),
        receiver_message: format!(".{}", B64.encode(r)),
        sender_fingerprint: sfp,
        receiver_fingerprint: rfp,
    }
}

fn exchange(name: &'static str, nameplate: &Nameplate, password: &Password) -> Exchange {
    let (s_rand, r_rand) = (
        randomness(&format!("{name} sender")),
        randomness(&format!("{name} receiver")),
    );
    let (s_pake, s_msg) = Pake::start_with_randomness(nameplate, password, s_rand);
    let (r_pake, r_msg) = Pake::start_with_randomness(nameplate, password, r_rand);
    let commitment = pake_commitment(nameplate, &s_msg);
    assert!(check_commitment(nameplate, &commitment, &s_msg));
    assert!(!check_commitment(nameplate, &commitment, &r_msg));
    let (s_key, s_keys) = s_pake
        .finish_revealing_secret(&r_msg, Role::Sender)
        .expect("the sender finishes");
    let (r_key, r_keys) = r_pake
        .finish_revealing_secret(&s_msg, Role::Receiver)
        .expect("the receiver finishes");
    assert_eq!(s_key, r_key);
    assert_eq!(keys_hex(&s_keys), keys_hex(&r_keys));
    assert_eq!(s_keys.verification(), r_keys.verification());
    let (s_mac, r_mac) = (s_keys.my_confirmation(), r_keys.my_confirmation());
    r_keys.check_confirmation(&s_mac).expect("sender confirmed");
    s_keys
        .check_confirmation(&r_mac)
        .expect("receiver confirmed");
    let keys = keys_hex(&s_keys);
    let verification_words = s_keys.verification().to_owned();
    let (mut s_seal, mut s_open, s_bind) = s_keys.into_channel();
    let (mut r_seal, mut r_open, r_bind) = r_keys.into_channel();
    let sealed_sender_to_receiver = seal_all(
        &mut s_seal,
        &mut r_open,
        &[
            r#"{"kind":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n","large_packets":true,"round":0}"#,
            r#"{"kind":"candidate","candidate":{"candidate":"candidate:1 1 udp 2130706431 192.168.1.2 50000 typ host","sdpMid":"0","sdpMLineIndex":0}}"#,
            r#"{"kind":"cancel"}"#,
        ],
    );
    let sealed_receiver_to_sender = seal_all(
        &mut r_seal,
        &mut s_open,
        &[
            r#"{"kind":"answer","sdp":"v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\n","large_packets":false,"round":0}"#,
            r#"{"kind":"candidate","candidate":{"candidate":"candidate:2 1 udp 1694498815 203.0.113.7 61000 typ srflx raddr 0.0.0.0 rport 0","sdpMid":"0","sdpMLineIndex":0}}"#,
            "",
        ],
    );
    Exchange {
        name,
        nameplate: nameplate.to_string(),
        spake2_identity: format!("{SESSION_VERSION}/{nameplate}"),
        spake2_password: password.words(),
        sender: Side {
            randomness_hex: hex(&s_rand),
            pake_msg_b64: B64.encode(&s_msg),
            spake2_key_hex: hex(&s_key),
            confirm_mac_b64: B64.encode(s_mac),
        },
        receiver: Side {
            randomness_hex: hex(&r_rand),
            pake_msg_b64: B64.encode(&r_msg),
            spake2_key_hex: hex(&r_key),
            confirm_mac_b64: B64.encode(r_mac),
        },
        keys_hex: keys,
        verification_words,
        commit_hash_b64: B64.encode(commitment),
        sealed_sender_to_receiver,
        sealed_receiver_to_sender,
        channel_binding: binding(&s_bind, &r_bind),
    }
}

/// One side of an exchange, given the peer's confirmation to judge.
fn side_keys(
    randomness: &[u8; 64],
    msg: &[u8],
    spake2_key: &[u8],
    keys: &SessionKeys,
    peer_confirmation: &[u8],
) -> SideKeys {
    SideKeys {
        randomness_hex: hex(randomness),
        pake_msg_b64: B64.encode(msg),
        spake2_key_hex: hex(spake2_key),
        keys_hex: keys_hex(keys),
        verification_words: keys.verification().to_owned(),
        confirm_mac_b64: B64.encode(keys.my_confirmation()),
        accepts_peer_confirmation: keys.check_confirmation(peer_confirmation).is_ok(),
    }
}

fn wrong_code() -> WrongCode {
    let sender: Code = "42-orbit-lemon".parse().expect("valid");
    let receiver: Code = "42-orbit-melon".parse().expect("valid");
    let nameplate = sender.nameplate();
    let (s_rand, r_rand) = (
        randomness("wrong code sender"),
        randomness("wrong code receiver"),
    );
    let (s_pake, s_msg) = Pake::start_with_randomness(nameplate, sender.password(), s_rand);
    let (r_pake, r_msg) = Pake::start_with_randomness(nameplate, receiver.password(), r_rand);
    let (s_key, s_keys) = s_pake
        .finish_revealing_secret(&r_msg, Role::Sender)
        .expect("a wrong code still finishes");
    let (r_key, r_keys) = r_pake
        .finish_revealing_secret(&s_msg, Role::Receiver)
        .expect("a wrong code still finishes");
    assert_ne!(s_key, r_key);
    let (s_mac, r_mac) = (s_keys.my_confirmation(), r_keys.my_confirmation());
    let out = WrongCode {
        nameplate: nameplate.to_string(),
        spake2_identity: format!("{SESSION_VERSION}/{nameplate}"),
        sender_password: sender.password().words(),
        receiver_password: receiver.password().words(),
        sender: side_keys(&s_rand, &s_msg, &s_key, &s_keys, &r_mac),
        receiver: side_keys(&r_rand, &r_msg, &r_key, &r_keys, &s_mac),
    };
    assert!(!out.sender.accepts_peer_confirmation && !out.receiver.accepts_peer_confirmation);
    out
}

/// The encoding of a point whose y is below 2^64, with the sign bit of x.
fn small_y(y: u64, x_negative: bool) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&y.to_le_bytes());
    if x_negative {
        out[31] |= 0x80;
    }
    out
}

/// The encoding of y = p + offset, p = 2^255 - 19 (for -1 <= offset <= 18): from 0 up, a y
/// the field holds as `offset` but written as a number of at least p, i.e. non-canonically.
fn y_near_p(offset: i8) -> [u8; 32] {
    let mut out = [0xff; 32];
    out[0] = 0xed_u8.wrapping_add_signed(offset);
    out[31] = 0x7f;
    out
}

fn hostile_messages(first: &Exchange) -> Vec<HostileMessage> {
    let code: Code = format!("{}-{}", first.nameplate, first.spake2_password)
        .parse()
        .expect("valid");
    let randomness: [u8; 64] = (0..64)
        .map(|i| {
            u8::from_str_radix(&first.sender.randomness_hex[2 * i..2 * i + 2], 16).expect("hex")
        })
        .collect::<Vec<_>>()
        .try_into()
        .expect("64 bytes");
    let genuine = B64.decode(&first.receiver.pake_msg_b64).expect("base64");
    let with_side = |element: &[u8]| {
        let mut msg = vec![b'S'];
        msg.extend_from_slice(element);
        msg
    };
    // The first y that is on no point of the curve.
    let off_curve = (2u64..)
        .map(|y| small_y(y, false))
        .find(|b| Ed25519Group::bytes_to_element(b).is_none())
        .expect("half of all y are off the curve");
    let cases: Vec<(&'static str, Vec<u8>)> = vec![
        ("the honest receiver's message", genuine.clone()),
        ("one byte short", genuine[..32].to_vec()),
        ("one byte too long", [&genuine[..], &[0]].concat()),
        (
            "side byte A instead of S",
            [&[b'A'][..], &genuine[1..]].concat(),
        ),
        (
            "side byte B instead of S",
            [&[b'B'][..], &genuine[1..]].concat(),
        ),
        (
            "a y coordinate with no point on the curve",
            with_side(&off_curve),
        ),
        ("the identity point", with_side(&small_y(1, false))),
        (
            "the identity with the sign bit of x set (x = -0)",
            with_side(&small_y(1, true)),
        ),
        (
            "the identity written non-canonically as y = p + 1",
            with_side(&y_near_p(1)),
        ),
        ("a point of order 4 (y = 0)", with_side(&small_y(0, false))),
        (
            "a point of order 4 written non-canonically as y = p",
            with_side(&y_near_p(0)),
        ),
        ("the point of order 2 (y = -1)", with_side(&y_near_p(-1))),
        (
            "a y of at least p with no point on the curve",
            with_side(
                &(2..=18)
                    .map(y_near_p)
                    .find(|b| Ed25519Group::bytes_to_element(b).is_none())
                    .expect("some y in p + 2..p + 18 is off the curve"),
            ),
        ),
        (
            "the honest element plus the point of order 2 (a torsion component)",
            {
                let honest = Ed25519Group::bytes_to_element(&genuine[1..]).expect("valid");
                let order2 = Ed25519Group::bytes_to_element(&y_near_p(-1)).expect("valid");
                with_side(&Ed25519Group::element_to_bytes(&Ed25519Group::add(
                    &honest, &order2,
                )))
            },
        ),
    ];
    cases
        .into_iter()
        .map(|(what, msg)| {
            let (pake, _) =
                Pake::start_with_randomness(code.nameplate(), code.password(), randomness);
            let spake2_key_hex = pake
                .finish_revealing_secret(&msg, Role::Sender)
                .ok()
                .map(|(key, _)| hex(&key));
            HostileMessage {
                what,
                pake_msg_hex: hex(&msg),
                spake2_key_hex,
            }
        })
        .collect()
}

fn blake3_vectors() -> Vec<Blake3Vector> {
    [
        ("empty", 0),
        ("one byte", 1),
        ("1 MiB and one byte", (1 << 20) + 1),
    ]
    .into_iter()
    .map(|(what, length)| {
        let data: Vec<u8> = (0..length).map(|i| (i % 251) as u8).collect();
        Blake3Vector {
            what,
            length,
            hash_hex: blake3::hash(&data).to_hex().to_string(),
        }
    })
    .collect()
}

fn vectors() -> Vectors {
    let code: Code = "42-orbit-lemon".parse().expect("valid");
    let nearby: Nameplate = "7".parse().expect("valid");
    let exchanges = vec![
        exchange("code", code.nameplate(), code.password()),
        exchange("nearby", &nearby, &Password::nearby()),
    ];
    let points = [
        ("M", "M", Ed25519Group::const_m()),
        ("N", "N", Ed25519Group::const_n()),
        ("S", "symmetric", Ed25519Group::const_s()),
    ];
    Vectors {
        about: "Written by crates/core/tests/web_vectors.rs from the real core; \
                web/test/crypto.test.js reproduces every byte. Do not edit: run the Rust test.",
        session_version: SESSION_VERSION,
        wordlist: wordlist::WORDS.to_vec(),
        spake2_points: points
            .into_iter()
            .map(|(name, seed, point)| Spake2Point {
                name,
                seed,
                compressed_hex: hex(&Ed25519Group::element_to_bytes(&point)),
            })
            .collect(),
        hostile_pake_messages: hostile_messages(&exchanges[0]),
        exchanges,
        wrong_code: wrong_code(),
        blake3: blake3_vectors(),
    }
}

#[test]
fn the_web_peers_vectors_match_the_core() -> TestResult {
    let path = fixture_path();
    let want = serde_json::to_string_pretty(&vectors())? + "\n";
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &want)?;
        panic!(
            "web/test/fixtures/vectors.json differed from what the core computes and has \
             been rewritten: check that the web peer still reproduces it \
             (cd web && node --test test/), and commit the file with the change that caused it"
        );
    }
    Ok(())
}

#[test]
fn the_vectors_are_deterministic() {
    let a = serde_json::to_string(&vectors()).expect("serializes");
    let b = serde_json::to_string(&vectors()).expect("serializes");
    assert_eq!(a, b);
}
