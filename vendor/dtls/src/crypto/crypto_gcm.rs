// AES-GCM (Galois Counter Mode)
// The most widely used block cipher worldwide.
// Mandatory as of TLS 1.2 (2008) and used by default by most clients.
// RFC 5288 year 2008 https://tools.ietf.org/html/rfc5288

// https://github.com/RustCrypto/AEADs
// https://docs.rs/aes-gcm/0.8.0/aes_gcm/

use std::io::Cursor;

use rand::Rng;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};

use super::*;
use crate::content::*;
use crate::error::*;
use crate::record_layer::record_layer_header::*; // what about Aes256Gcm?

const CRYPTO_GCM_TAG_LENGTH: usize = 16;
const CRYPTO_GCM_NONCE_LENGTH: usize = 12;
const CRYPTO_GCM_EXPLICIT_NONCE_LENGTH: usize = 8;

// State needed to handle encrypted input/output.
// The AEAD is ring's AES-128-GCM: its AES-NI and carry-less-multiply code processes several
// blocks at once, where the RustCrypto GHASH it replaces took one block at a time and was the
// largest single cost of a bulk transfer. Each record is copied once, then sealed or opened in
// place.
#[derive(Clone)]
pub struct CryptoGcm {
    local_gcm: LessSafeKey,
    remote_gcm: LessSafeKey,
    local_write_iv: Vec<u8>,
    remote_write_iv: Vec<u8>,
}

fn aes_128_gcm_key(key: &[u8]) -> Result<LessSafeKey> {
    UnboundKey::new(&AES_128_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| {
            Error::Other(format!(
                "AES-128-GCM needs a 16-byte key, got {}",
                key.len()
            ))
        })
}

impl CryptoGcm {
    pub fn new(
        local_key: &[u8],
        local_write_iv: &[u8],
        remote_key: &[u8],
        remote_write_iv: &[u8],
    ) -> Result<Self> {
        Ok(CryptoGcm {
            local_gcm: aes_128_gcm_key(local_key)?,
            local_write_iv: local_write_iv.to_vec(),
            remote_gcm: aes_128_gcm_key(remote_key)?,
            remote_write_iv: remote_write_iv.to_vec(),
        })
    }

    pub fn encrypt(&self, pkt_rlh: &RecordLayerHeader, raw: &[u8]) -> Result<Vec<u8>> {
        let payload = &raw[RECORD_LAYER_HEADER_SIZE..];
        let raw = &raw[..RECORD_LAYER_HEADER_SIZE];

        let mut nonce = [0u8; CRYPTO_GCM_NONCE_LENGTH];
        nonce[..4].copy_from_slice(&self.local_write_iv[..4]);
        rand::rng().fill(&mut nonce[4..]);

        let additional_data = generate_aead_additional_data(pkt_rlh, payload.len());

        let sealed_at = RECORD_LAYER_HEADER_SIZE + CRYPTO_GCM_EXPLICIT_NONCE_LENGTH;
        let mut r = Vec::with_capacity(sealed_at + payload.len() + CRYPTO_GCM_TAG_LENGTH);
        r.extend_from_slice(raw);
        r.extend_from_slice(&nonce[4..]);
        r.extend_from_slice(payload);

        let tag = self
            .local_gcm
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&additional_data),
                &mut r[sealed_at..],
            )
            .map_err(|e| Error::Other(e.to_string()))?;
        r.extend_from_slice(tag.as_ref());

        // Update recordLayer size to include explicit nonce
        let r_len = (r.len() - RECORD_LAYER_HEADER_SIZE) as u16;
        r[RECORD_LAYER_HEADER_SIZE - 2..RECORD_LAYER_HEADER_SIZE]
            .copy_from_slice(&r_len.to_be_bytes());

        Ok(r)
    }

    pub fn decrypt(&self, r: &[u8]) -> Result<Vec<u8>> {
        let mut reader = Cursor::new(r);
        let h = RecordLayerHeader::unmarshal(&mut reader)?;
        if h.content_type == ContentType::ChangeCipherSpec {
            // Nothing to encrypt with ChangeCipherSpec
            return Ok(r.to_vec());
        }

        let sealed_at = RECORD_LAYER_HEADER_SIZE + CRYPTO_GCM_EXPLICIT_NONCE_LENGTH;
        if r.len() < sealed_at + CRYPTO_GCM_TAG_LENGTH {
            return Err(Error::ErrNotEnoughRoomForNonce);
        }

        let mut nonce = [0u8; CRYPTO_GCM_NONCE_LENGTH];
        nonce[..4].copy_from_slice(&self.remote_write_iv[..4]);
        nonce[4..].copy_from_slice(&r[RECORD_LAYER_HEADER_SIZE..sealed_at]);

        let out = &r[sealed_at..];

        let additional_data = generate_aead_additional_data(&h, out.len() - CRYPTO_GCM_TAG_LENGTH);

        let mut d = Vec::with_capacity(RECORD_LAYER_HEADER_SIZE + out.len());
        d.extend_from_slice(&r[..RECORD_LAYER_HEADER_SIZE]);
        d.extend_from_slice(out);

        let plain_len = self
            .remote_gcm
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&additional_data),
                &mut d[RECORD_LAYER_HEADER_SIZE..],
            )
            .map_err(|e| Error::Other(e.to_string()))?
            .len();
        d.truncate(RECORD_LAYER_HEADER_SIZE + plain_len);

        Ok(d)
    }
}

#[cfg(test)]
mod test {
    use aes_gcm::aead::generic_array::GenericArray;
    use aes_gcm::aead::AeadInPlace;
    use aes_gcm::{Aes128Gcm, KeyInit};

    use super::*;
    use crate::record_layer::record_layer_header::ProtocolVersion;

    // Records sealed here open with the RustCrypto AES-GCM that upstream uses, and the other
    // way round, so a peer running upstream webrtc-rs (or any other stack) reads them.
    #[test]
    fn records_interoperate_with_the_rustcrypto_aead() -> Result<()> {
        let (key_a, iv_a, key_b, iv_b) = ([7u8; 16], [1u8, 2, 3, 4], [9u8; 16], [5u8, 6, 7, 8]);
        let ours = CryptoGcm::new(&key_a, &iv_a, &key_b, &iv_b)?;
        let h = RecordLayerHeader {
            content_type: ContentType::ApplicationData,
            protocol_version: ProtocolVersion {
                major: 0xfe,
                minor: 0xfd,
            },
            epoch: 1,
            sequence_number: 42,
            content_len: 300,
        };
        let payload: Vec<u8> = (0..300u32).map(|i| (i * 31) as u8).collect();
        let mut raw = Vec::new();
        h.marshal(&mut raw)?;
        raw.extend_from_slice(&payload);

        // Ours sealed, RustCrypto opens.
        let sealed = ours.encrypt(&h, &raw)?;
        let mut nonce = iv_a.to_vec();
        nonce.extend_from_slice(&sealed[RECORD_LAYER_HEADER_SIZE..RECORD_LAYER_HEADER_SIZE + 8]);
        let mut body = sealed[RECORD_LAYER_HEADER_SIZE + 8..].to_vec();
        Aes128Gcm::new(GenericArray::from_slice(&key_a))
            .decrypt_in_place(
                GenericArray::from_slice(&nonce),
                &generate_aead_additional_data(&h, payload.len()),
                &mut body,
            )
            .map_err(|e| Error::Other(e.to_string()))?;
        assert_eq!(body, payload);

        // RustCrypto sealed (as the remote side), ours opens.
        let explicit = [0xa5u8; 8];
        let mut nonce = iv_b.to_vec();
        nonce.extend_from_slice(&explicit);
        let mut body = payload.clone();
        Aes128Gcm::new(GenericArray::from_slice(&key_b))
            .encrypt_in_place(
                GenericArray::from_slice(&nonce),
                &generate_aead_additional_data(&h, payload.len()),
                &mut body,
            )
            .map_err(|e| Error::Other(e.to_string()))?;
        let mut record = raw[..RECORD_LAYER_HEADER_SIZE].to_vec();
        record.extend_from_slice(&explicit);
        record.extend_from_slice(&body);
        let opened = ours.decrypt(&record)?;
        assert_eq!(&opened[RECORD_LAYER_HEADER_SIZE..], &payload[..]);

        // A flipped bit, or a record too short to hold a tag, is refused.
        let mut tampered = record.clone();
        tampered[RECORD_LAYER_HEADER_SIZE + 20] ^= 1;
        assert!(ours.decrypt(&tampered).is_err());
        assert!(ours
            .decrypt(&record[..RECORD_LAYER_HEADER_SIZE + 8 + 15])
            .is_err());
        Ok(())
    }
}
