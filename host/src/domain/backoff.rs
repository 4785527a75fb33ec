//! Retry schedule for deliveries: exponential backoff with jitter, honouring the provider's
//! retry-after.

/// Delay before retry number `attempt` (1 for the first retry), in milliseconds. `jitter` is a
/// number in [0, 1) (random in production); the delay is spread over the upper half of the
/// exponential step so retries from many messages do not arrive together. A provider's
/// retry-after is a floor.
pub fn retry_delay_ms(attempt: u32, base_ms: u64, cap_ms: u64, retry_after_ms: Option<u64>, jitter: f64) -> u64 {
    let step = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(30)).min(cap_ms);
    let spread = (step as f64 * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))) as u64;
    spread.max(retry_after_ms.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::retry_delay_ms;

    #[test]
    fn grows_caps_and_honours_retry_after() {
        assert_eq!(retry_delay_ms(1, 1000, 60_000, None, 0.0), 500);
        assert_eq!(retry_delay_ms(1, 1000, 60_000, None, 0.999_999), 999);
        assert_eq!(retry_delay_ms(3, 1000, 60_000, None, 0.0), 2000);
        assert_eq!(retry_delay_ms(20, 1000, 60_000, None, 0.0), 30_000);
        assert_eq!(retry_delay_ms(1, 1000, 60_000, Some(7000), 0.0), 7000);
    }
}
