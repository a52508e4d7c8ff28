//! Backups at rest: AES-256-GCM in chunks, so an archive of any size is sealed and opened as
//! it streams, never held whole in memory.
//!
//! The object is a header (`BERTHBK1` and a random 8-byte nonce prefix) followed by segments,
//! each [`SEGMENT`] bytes of plaintext sealed with its own nonce: the prefix, then the
//! segment's number as a 32-bit big-endian counter whose top bit marks the last segment. A
//! reordered, dropped or repeated segment fails its tag, and so does a cut at a segment
//! boundary: the segment that is then last was not sealed as the last one.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::rand::{SecureRandom, SystemRandom};

/// Plaintext bytes per segment.
pub const SEGMENT: usize = 64 * 1024;
const TAG: usize = 16;
const MAGIC: &[u8; 8] = b"BERTHBK1";
/// The header's length: the magic and the nonce prefix.
pub const HEADER: usize = 16;
const LAST: u32 = 1 << 31;

/// Why an object could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptError {
    /// The key is not 32 bytes.
    #[error("a backup key is 32 bytes")]
    BadKey,
    /// No random numbers.
    #[error("the system gave no random bytes")]
    Random,
    /// Not an object of ours, or cut short before the first segment.
    #[error("not a Berth backup object")]
    NotOurs,
    /// A segment does not open: the object was changed, truncated or reordered.
    #[error("segment {0} does not open: the object is damaged")]
    Damaged(u32),
    /// More segments than a counter holds.
    #[error("the object is too large")]
    TooLarge,
}

fn key(raw: &[u8]) -> Result<LessSafeKey, CryptError> {
    UnboundKey::new(&AES_256_GCM, raw).map(LessSafeKey::new).map_err(|_| CryptError::BadKey)
}

fn nonce(prefix: &[u8; 8], counter: u32, last: bool) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(prefix);
    bytes[8..].copy_from_slice(&(counter | if last { LAST } else { 0 }).to_be_bytes());
    Nonce::assume_unique_for_key(bytes)
}

/// A fresh 32-byte key.
pub fn generate_key() -> Result<[u8; 32], CryptError> {
    let mut raw = [0u8; 32];
    SystemRandom::new().fill(&mut raw).map_err(|_| CryptError::Random)?;
    Ok(raw)
}

/// Seals a stream: feed plaintext with [`Sealer::update`], end with [`Sealer::finish`]; each
/// returns the ciphertext ready to be written.
pub struct Sealer {
    key: LessSafeKey,
    prefix: [u8; 8],
    counter: u32,
    pending: Vec<u8>,
    header_sent: bool,
}

impl Sealer {
    /// A sealer under `raw` (32 bytes) with a random nonce prefix.
    pub fn new(raw: &[u8]) -> Result<Self, CryptError> {
        let mut prefix = [0u8; 8];
        SystemRandom::new().fill(&mut prefix).map_err(|_| CryptError::Random)?;
        Ok(Self {
            key: key(raw)?,
            prefix,
            counter: 0,
            pending: Vec::with_capacity(SEGMENT),
            header_sent: false,
        })
    }

    fn header(&mut self, out: &mut Vec<u8>) {
        if !self.header_sent {
            out.extend_from_slice(MAGIC);
            out.extend_from_slice(&self.prefix);
            self.header_sent = true;
        }
    }

    fn seal(&mut self, mut segment: Vec<u8>, last: bool, out: &mut Vec<u8>) -> Result<(), CryptError> {
        let n = nonce(&self.prefix, self.counter, last);
        self.key.seal_in_place_append_tag(n, Aad::empty(), &mut segment).map_err(|_| CryptError::TooLarge)?;
        out.extend_from_slice(&segment);
        self.counter = self.counter.checked_add(1).filter(|c| *c < LAST).ok_or(CryptError::TooLarge)?;
        Ok(())
    }

    /// Takes `plaintext`; returns whatever whole segments are now sealed.
    pub fn update(&mut self, mut plaintext: &[u8]) -> Result<Vec<u8>, CryptError> {
        let mut out = Vec::new();
        self.header(&mut out);
        while !plaintext.is_empty() {
            let room = SEGMENT - self.pending.len();
            let take = room.min(plaintext.len());
            self.pending.extend_from_slice(&plaintext[..take]);
            plaintext = &plaintext[take..];
            // A full segment is sealed only once more data arrives: until then it may be the last.
            if self.pending.len() == SEGMENT && !plaintext.is_empty() {
                let segment = std::mem::replace(&mut self.pending, Vec::with_capacity(SEGMENT));
                self.seal(segment, false, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Seals the last segment.
    pub fn finish(mut self) -> Result<Vec<u8>, CryptError> {
        let mut out = Vec::new();
        self.header(&mut out);
        let segment = std::mem::take(&mut self.pending);
        self.seal(segment, true, &mut out)?;
        Ok(out)
    }
}

/// Opens a stream sealed by [`Sealer`]: feed ciphertext with [`Opener::update`], end with
/// [`Opener::finish`]; each returns the plaintext it could open.
pub struct Opener {
    key: LessSafeKey,
    prefix: Option<[u8; 8]>,
    counter: u32,
    pending: Vec<u8>,
}

impl Opener {
    /// An opener under `raw` (32 bytes).
    pub fn new(raw: &[u8]) -> Result<Self, CryptError> {
        Ok(Self { key: key(raw)?, prefix: None, counter: 0, pending: Vec::new() })
    }

    /// Opens `segment` (ciphertext and tag) in place and appends its plaintext to `out`.
    fn open(
        key: &LessSafeKey,
        prefix: Option<[u8; 8]>,
        counter: &mut u32,
        segment: &mut [u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), CryptError> {
        let prefix = prefix.ok_or(CryptError::NotOurs)?;
        let n = nonce(&prefix, *counter, last);
        let plain = key.open_in_place(n, Aad::empty(), segment).map_err(|_| CryptError::Damaged(*counter))?;
        out.extend_from_slice(plain);
        *counter = counter.checked_add(1).ok_or(CryptError::TooLarge)?;
        Ok(())
    }

    /// Takes `ciphertext`; returns the plaintext of every segment known not to be the last.
    /// Segments are opened where they lie in the pending buffer, which is shifted once per
    /// call: a large piece (a whole ranged read) costs one pass over it, not one per segment.
    pub fn update(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptError> {
        self.pending.extend_from_slice(ciphertext);
        let mut at = 0;
        if self.prefix.is_none() {
            if self.pending.len() < HEADER {
                return Ok(Vec::new());
            }
            if &self.pending[..8] != MAGIC {
                return Err(CryptError::NotOurs);
            }
            let mut prefix = [0u8; 8];
            prefix.copy_from_slice(&self.pending[8..HEADER]);
            self.prefix = Some(prefix);
            at = HEADER;
        }
        // A whole segment followed by more bytes cannot be the last one.
        let ready = (self.pending.len() - at).saturating_sub(1) / (SEGMENT + TAG);
        let mut out = Vec::with_capacity(ready * SEGMENT);
        while self.pending.len() - at > SEGMENT + TAG {
            let segment = &mut self.pending[at..at + SEGMENT + TAG];
            Self::open(&self.key, self.prefix, &mut self.counter, segment, false, &mut out)?;
            at += SEGMENT + TAG;
        }
        self.pending.drain(..at);
        Ok(out)
    }

    /// Opens the last segment; fails if the object was cut short.
    pub fn finish(mut self) -> Result<Vec<u8>, CryptError> {
        let mut out = Vec::new();
        if self.prefix.is_none() || self.pending.len() < TAG {
            return Err(CryptError::NotOurs);
        }
        Self::open(&self.key, self.prefix, &mut self.counter, &mut self.pending, true, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal_all(key: &[u8], data: &[u8], chunk: usize) -> Vec<u8> {
        let mut sealer = Sealer::new(key).unwrap();
        let mut out = Vec::new();
        for piece in data.chunks(chunk.max(1)) {
            out.extend(sealer.update(piece).unwrap());
        }
        out.extend(sealer.finish().unwrap());
        out
    }

    fn open_all(key: &[u8], data: &[u8], chunk: usize) -> Result<Vec<u8>, CryptError> {
        let mut opener = Opener::new(key)?;
        let mut out = Vec::new();
        for piece in data.chunks(chunk.max(1)) {
            out.extend(opener.update(piece)?);
        }
        out.extend(opener.finish()?);
        Ok(out)
    }

    #[test]
    fn what_is_sealed_opens_whatever_the_chunking() {
        let key = generate_key().unwrap();
        for size in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT, 3 * SEGMENT + 17] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            for (seal_chunk, open_chunk) in [(1000, 777), (SEGMENT, SEGMENT + TAG), (size + 1, 5)] {
                let sealed = seal_all(&key, &data, seal_chunk);
                let segments = size.div_ceil(SEGMENT).max(1);
                assert_eq!(sealed.len(), HEADER + size + segments * TAG, "size {size}");
                assert_eq!(open_all(&key, &sealed, open_chunk).unwrap(), data, "size {size}");
            }
        }
    }

    #[test]
    fn a_flipped_byte_does_not_open() {
        let key = generate_key().unwrap();
        let data = vec![7u8; 2 * SEGMENT + 5];
        let mut sealed = seal_all(&key, &data, 4096);
        let middle = sealed.len() / 2;
        sealed[middle] ^= 1;
        assert_eq!(open_all(&key, &sealed, 4096), Err(CryptError::Damaged(1)));
    }

    #[test]
    fn an_object_cut_at_a_segment_boundary_does_not_open() {
        let key = generate_key().unwrap();
        let data = vec![7u8; 2 * SEGMENT + 5];
        let sealed = seal_all(&key, &data, 4096);
        let cut = &sealed[..HEADER + 2 * (SEGMENT + TAG)];
        assert!(matches!(open_all(&key, cut, 4096), Err(CryptError::Damaged(_))));
    }

    #[test]
    fn another_key_does_not_open() {
        let sealed = seal_all(&generate_key().unwrap(), b"site files", 3);
        assert_eq!(open_all(&generate_key().unwrap(), &sealed, 3), Err(CryptError::Damaged(0)));
    }
}
