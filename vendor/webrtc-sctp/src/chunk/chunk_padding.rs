//! The PAD chunk (RFC 4820): zero bytes that fill a packet to a chosen size, used by path
//! MTU discovery to make a probe packet as large as the size it tests. Its type's two high
//! bits (`10`) tell a receiver to skip it and go on with the packet, so every SCTP stack
//! takes a padded HEARTBEAT as a plain one and answers it.

use std::any::Any;
use std::fmt;

use bytes::{Bytes, BytesMut};

use super::chunk_header::*;
use super::chunk_type::*;
use super::*;

/// A PAD chunk of `len` zero bytes after its header.
#[derive(Debug, Default, Clone)]
pub(crate) struct ChunkPadding {
    pub(crate) len: usize,
}

impl fmt::Display for ChunkPadding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.header())
    }
}

impl Chunk for ChunkPadding {
    fn header(&self) -> ChunkHeader {
        ChunkHeader {
            typ: CT_PAD,
            flags: 0,
            value_length: self.len as u16,
        }
    }

    fn unmarshal(raw: &Bytes) -> Result<Self> {
        let header = ChunkHeader::unmarshal(raw)?;
        if header.typ != CT_PAD {
            return Err(Error::ErrChunk);
        }
        Ok(ChunkPadding {
            len: header.value_length(),
        })
    }

    fn marshal_to(&self, buf: &mut BytesMut) -> Result<usize> {
        self.header().marshal_to(buf)?;
        buf.resize(buf.len() + self.len, 0);
        Ok(buf.len())
    }

    fn check(&self) -> Result<()> {
        Ok(())
    }

    fn value_length(&self) -> usize {
        self.len
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pad_chunk_is_its_header_and_zeros_and_reads_back() {
        let raw = ChunkPadding { len: 8 }.marshal().unwrap();
        assert_eq!(&raw[..], &[0x84, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ChunkPadding::unmarshal(&raw).unwrap().len, 8);
    }
}
