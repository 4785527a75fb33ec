//! Webhook signature checks. Every comparison is constant-time: the MAC is recomputed and
//! compared with `hmac`'s `verify_slice`, never with `==`.
//!
//! Inside the host the MACs are computed by the host's `crypto` import (contract 0.2.0), with
//! the machine's own instructions; compiled natively (unit tests, tools), by the `hmac` crate.

use base64::Engine as _;

/// Why a signature did not verify. The message is safe to log: it never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// The request carried no signature header.
    Missing,
    /// The header was not in the expected format (prefix, hex or base64).
    Malformed(&'static str),
    /// The signature did not match the body.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureError::Missing => write!(f, "the signature header is missing"),
            SignatureError::Malformed(why) => write!(f, "the signature header is malformed: {why}"),
            SignatureError::Mismatch => write!(f, "the signature does not match the body"),
        }
    }
}

/// HMAC-SHA256 of `message` under `secret`.
pub fn hmac_sha256(secret: &[u8], message: &[u8]) -> [u8; 32] {
    mac::compute(mac::Algorithm::HmacSha256, secret, message).try_into().expect("HMAC-SHA256 is 32 bytes")
}

/// HMAC-SHA1 of `message` under `secret`.
pub fn hmac_sha1(secret: &[u8], message: &[u8]) -> [u8; 20] {
    mac::compute(mac::Algorithm::HmacSha1, secret, message).try_into().expect("HMAC-SHA1 is 20 bytes")
}

/// Check a hex HMAC-SHA256 signature such as Meta's `X-Hub-Signature-256: sha256=<hex>`.
///
/// `prefix` is the text before the hex digits (`"sha256="`, or `""` for none). The hex digits may
/// be upper- or lower-case.
pub fn verify_hmac_sha256_hex(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
    prefix: &str,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let digits = header
        .strip_prefix(prefix)
        .ok_or(SignatureError::Malformed("it does not start with the expected prefix"))?;
    let expected = hex::decode(digits).map_err(|_| SignatureError::Malformed("it is not hex"))?;
    mac::verify(mac::Algorithm::HmacSha256, secret, body, &expected).then_some(()).ok_or(SignatureError::Mismatch)
}

/// Check a base64 HMAC-SHA1 signature such as Twilio's `X-Twilio-Signature`, computed over
/// `message` (for Twilio: the full URL followed by the sorted POST parameters, see
/// [`twilio_signed_message`]).
pub fn verify_hmac_sha1_base64(
    secret: &[u8],
    message: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let expected = base64::engine::general_purpose::STANDARD
        .decode(header)
        .map_err(|_| SignatureError::Malformed("it is not base64"))?;
    mac::verify(mac::Algorithm::HmacSha1, secret, message, &expected).then_some(()).ok_or(SignatureError::Mismatch)
}

/// The MACs: from the host's `crypto` import inside the host, from the `hmac` crate outside.
#[cfg(target_arch = "wasm32")]
mod mac {
    pub use crate::bindings::switchboard::connector0_2_0::crypto::{MacAlgorithm as Algorithm, mac as compute, verify_mac as verify};
}

/// The MACs: from the host's `crypto` import inside the host, from the `hmac` crate outside.
#[cfg(not(target_arch = "wasm32"))]
mod mac {
    use hmac::{Hmac, Mac};

    /// The MACs providers sign with (as the contract's `mac-algorithm`).
    #[derive(Clone, Copy)]
    pub enum Algorithm {
        HmacSha256,
        HmacSha1,
    }

    fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> M {
        let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
        mac.update(message);
        mac
    }

    pub fn compute(algorithm: Algorithm, key: &[u8], message: &[u8]) -> Vec<u8> {
        match algorithm {
            Algorithm::HmacSha256 => keyed::<Hmac<sha2::Sha256>>(key, message).finalize().into_bytes().to_vec(),
            Algorithm::HmacSha1 => keyed::<Hmac<sha1::Sha1>>(key, message).finalize().into_bytes().to_vec(),
        }
    }

    pub fn verify(algorithm: Algorithm, key: &[u8], message: &[u8], tag: &[u8]) -> bool {
        match algorithm {
            Algorithm::HmacSha256 => keyed::<Hmac<sha2::Sha256>>(key, message).verify_slice(tag).is_ok(),
            Algorithm::HmacSha1 => keyed::<Hmac<sha1::Sha1>>(key, message).verify_slice(tag).is_ok(),
        }
    }
}

/// The string Twilio signs: the full URL, then each POST parameter's name and value
/// concatenated, sorted by name (and by value for repeated names), each pair once.
pub fn twilio_signed_message(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut out = String::from(url);
    for (k, v) in sorted {
        out.push_str(k);
        out.push_str(v);
    }
    out
}

/// The URL forms Twilio's own validators accept for one URL: as given, and with the scheme's
/// default port added or removed (`:443` for https, `:80` for http).
pub fn twilio_url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_string()];
    let (scheme, default) = if url.starts_with("https://") { ("https://", "443") } else if url.starts_with("http://") { ("http://", "80") } else { return variants };
    let rest = &url[scheme.len()..];
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    match hostport.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || hostport.starts_with('[') => {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                variants.push(format!("{scheme}{userinfo}{host}{tail}"));
            }
        }
        _ => variants.push(format!("{scheme}{userinfo}{hostport}:{default}{tail}")),
    }
    variants
}

/// Check `X-Twilio-Signature` for a request to `url` with these form parameters, accepting the
/// URL forms Twilio's validators accept.
pub fn verify_twilio(auth_token: &str, url: &str, params: &[(String, String)], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut last = Err(SignatureError::Mismatch);
    for candidate in twilio_url_variants(url) {
        last = verify_hmac_sha1_base64(auth_token.as_bytes(), twilio_signed_message(&candidate, params).as_bytes(), Some(header));
        if last.is_ok() {
            return last;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_accepts_the_right_signature_and_rejects_others() {
        let sig = hex::encode(hmac_sha256(b"secret", b"body"));
        let header = format!("sha256={sig}");
        assert_eq!(verify_hmac_sha256_hex(b"secret", b"body", Some(&header), "sha256="), Ok(()));
        assert_eq!(
            verify_hmac_sha256_hex(b"secret", b"body!", Some(&header), "sha256="),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_hmac_sha256_hex(b"other", b"body", Some(&header), "sha256="),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify_hmac_sha256_hex(b"secret", b"body", None, "sha256="), Err(SignatureError::Missing));
        assert!(matches!(
            verify_hmac_sha256_hex(b"secret", b"body", Some(&sig), "sha256="),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify_hmac_sha256_hex(b"secret", b"body", Some("sha256=zz"), "sha256="),
            Err(SignatureError::Malformed(_))
        ));
        let upper = format!("sha256={}", sig.to_uppercase());
        assert_eq!(verify_hmac_sha256_hex(b"secret", b"body", Some(&upper), "sha256="), Ok(()));
    }

    #[test]
    fn sha1_base64_round_trips() {
        let sig = base64::engine::general_purpose::STANDARD.encode(hmac_sha1(b"token", b"msg"));
        assert_eq!(verify_hmac_sha1_base64(b"token", b"msg", Some(&sig)), Ok(()));
        assert_eq!(verify_hmac_sha1_base64(b"token", b"msh", Some(&sig)), Err(SignatureError::Mismatch));
        assert!(matches!(verify_hmac_sha1_base64(b"token", b"msg", Some("%%%")), Err(SignatureError::Malformed(_))));
    }

    fn pairs(text: &str) -> Vec<(String, String)> {
        text.split('&').map(|p| p.split_once('=').unwrap()).map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn twilio_official_vectors() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = pairs("CallSid=CA1234567890ABCDE&Caller=+14158675309&Digits=1234&From=+14158675309&To=+18005551212");
        assert_eq!(
            twilio_signed_message(url, &params),
            "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212"
        );
        assert_eq!(verify_twilio("12345", url, &params, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")), Ok(()));
        assert_eq!(verify_twilio("12345", "https://mycompany.com:1234/myapp.php?foo=1&bar=2", &params, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")), Ok(()));
        assert_eq!(verify_twilio("12345", url, &params, Some("kvajT1Ptam85bY51eRf/AJRuM3w=")), Ok(()), "with :443");
        assert_eq!(verify_twilio("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", &params, Some("0ZXoZLH/DfblKGATFgpif+LLRf4=")), Ok(()), "with :80");
        assert_eq!(verify_twilio("12345", "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2", &params, Some("CukzLTc1tT5dXEDIHm/tKBanW10=")), Ok(()));
        assert_eq!(verify_twilio("wrong", url, &params, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")), Err(SignatureError::Mismatch));
        let duplicates = pairs("Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234");
        assert_eq!(twilio_signed_message(url, &duplicates), "https://mycompany.com/myapp.php?foo=1&bar=2Digits1234Digits5678SidCA123SidAccountAC123");
        assert_eq!(verify_twilio("12345", url, &duplicates, Some("IK+Dwps556ElfBT0I3Rgjkr1wJU=")), Ok(()));
        let json_url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        assert_eq!(verify_twilio("12345", json_url, &[], Some("a9nBmqA0ju/hNViExpshrM61xv4=")), Ok(()));
    }

    #[test]
    fn twilio_message_sorts_parameters() {
        let params = vec![
            ("To".to_string(), "+1".to_string()),
            ("Body".to_string(), "hi".to_string()),
            ("From".to_string(), "+2".to_string()),
        ];
        assert_eq!(twilio_signed_message("https://x/y", &params), "https://x/yBodyhiFrom+2To+1");
    }
}
