//! Hex digests: how every layer names content (the state's checksums, planned files' input
//! fingerprints, the sandbox's artifacts). A leaf: it uses nothing of the crate.

use sha2::Digest;

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    // By table, not `write!` per byte: `generate` formats tens of thousands of digests.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}
