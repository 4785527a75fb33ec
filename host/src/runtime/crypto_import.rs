//! The contract's `crypto` import (0.2.0): MACs computed by the host, with the machine's own
//! instructions, for connectors to check webhook signatures with.

use super::bindings::v0_2::switchboard::connector0_2_0::crypto as wit;
use super::state::CallState;
use hmac::{Hmac, Mac};

impl wit::Host for CallState {
    fn mac(&mut self, algorithm: wit::MacAlgorithm, key: Vec<u8>, message: Vec<u8>) -> Vec<u8> {
        match algorithm {
            wit::MacAlgorithm::HmacSha256 => keyed::<Hmac<sha2::Sha256>>(&key, &message).finalize().into_bytes().to_vec(),
            wit::MacAlgorithm::HmacSha1 => keyed::<Hmac<sha1::Sha1>>(&key, &message).finalize().into_bytes().to_vec(),
        }
    }

    fn verify_mac(&mut self, algorithm: wit::MacAlgorithm, key: Vec<u8>, message: Vec<u8>, tag: Vec<u8>) -> bool {
        // `verify_slice` compares in constant time, and refuses a tag of another length.
        match algorithm {
            wit::MacAlgorithm::HmacSha256 => keyed::<Hmac<sha2::Sha256>>(&key, &message).verify_slice(&tag).is_ok(),
            wit::MacAlgorithm::HmacSha1 => keyed::<Hmac<sha1::Sha1>>(&key, &message).verify_slice(&tag).is_ok(),
        }
    }
}

/// A MAC of `message` under `key`, ready to finish or verify.
fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> M {
    let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2, and RFC 2202, test case 2.
    #[test]
    fn macs_match_the_rfc_test_vectors() {
        let sha256 = keyed::<Hmac<sha2::Sha256>>(b"Jefe", b"what do ya want for nothing?").finalize().into_bytes();
        assert_eq!(hex::encode(sha256), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let sha1 = keyed::<Hmac<sha1::Sha1>>(b"Jefe", b"what do ya want for nothing?").finalize().into_bytes();
        assert_eq!(hex::encode(sha1), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }
}
