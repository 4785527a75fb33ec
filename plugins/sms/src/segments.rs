//! SMS segment counting: GSM-7 (160 characters, 153 per part when concatenated) or UCS-2 (70,
//! 67 per part). Characters of the GSM 03.38 extension table count twice.

const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// The encoding a text needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The GSM 7-bit alphabet.
    Gsm7,
    /// UCS-2 (UTF-16 code units).
    Ucs2,
}

/// The encoding and the number of segments for `text`.
pub fn count(text: &str) -> (Encoding, u32) {
    let gsm_units: Option<usize> = text.chars().try_fold(0usize, |n, c| {
        if GSM_BASIC.contains(c) {
            Some(n + 1)
        } else if GSM_EXTENDED.contains(c) {
            Some(n + 2)
        } else {
            None
        }
    });
    match gsm_units {
        Some(units) => (Encoding::Gsm7, parts(units, 160, 153)),
        None => (Encoding::Ucs2, parts(text.encode_utf16().count(), 70, 67)),
    }
}

fn parts(units: usize, single: usize, multi: usize) -> u32 {
    if units <= single { 1 } else { units.div_ceil(multi) as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm_and_ucs2() {
        assert_eq!(count(""), (Encoding::Gsm7, 1));
        assert_eq!(count(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(count(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(count(&"a".repeat(306)), (Encoding::Gsm7, 2));
        assert_eq!(count(&"a".repeat(307)), (Encoding::Gsm7, 3));
        assert_eq!(count(&"€".repeat(80)), (Encoding::Gsm7, 1), "extension characters count twice");
        assert_eq!(count(&"€".repeat(81)), (Encoding::Gsm7, 2));
        assert_eq!(count(&"é".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(count(&"ç".repeat(70)), (Encoding::Ucs2, 1));
        assert_eq!(count(&"ç".repeat(71)), (Encoding::Ucs2, 2));
        assert_eq!(count(&"😀".repeat(35)), (Encoding::Ucs2, 1), "an emoji is two UTF-16 units");
        assert_eq!(count(&"😀".repeat(36)), (Encoding::Ucs2, 2));
    }
}
