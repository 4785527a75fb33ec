//! Identifiers chosen by people (tenants, channels, connectors): lower-case slugs.

/// Check that `value` is a slug: 1 to 64 characters of `a-z`, `0-9` and `-`, not starting with `-`.
pub fn check_slug(value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && !value.starts_with('-')
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "is `{value}`; use 1 to 64 lower-case letters, digits and dashes, not starting with a dash"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_slug;

    #[test]
    fn slugs() {
        assert!(check_slug("acme-whatsapp-1").is_ok());
        for bad in ["", "-x", "Acme", "a b", "a_b", &"x".repeat(65)] {
            assert!(check_slug(bad).is_err(), "{bad}");
        }
    }
}
