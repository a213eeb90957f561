//! Names of named servers and their display names, with upstream 6.0's rules:
//! server names are "safe slugs" that fit in URLs and DNS labels, display names
//! are free text shown in the UI.

use unicode_normalization::UnicodeNormalization;

/// Longest server name upstream accepts for new servers.
pub const MAX_SERVER_NAME_LEN: usize = 30;

/// Whether `name` is a valid name for a *new* server: 1–30 characters of `[a-z0-9-]`,
/// starting with a letter, ending with a letter or digit, no `--`.
#[must_use]
pub fn is_valid_server_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    bytes.len() <= MAX_SERVER_NAME_LEN
        && first.is_ascii_lowercase()
        && (last.is_ascii_lowercase() || last.is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !name.contains("--")
}

/// NFC-normalizes a display name, as upstream does before checking and storing it.
#[must_use]
pub fn normalize_display_name(name: &str) -> String {
    name.nfc().collect()
}

/// Whether a (normalized) display name is acceptable: 1–255 characters, printable,
/// spaces only single and inside.
///
/// Upstream checks Unicode general categories; without a category table this treats
/// control, whitespace other than the space, format (zero-width, bidi), private-use
/// and non-characters as unprintable, which covers the same cases in practice.
#[must_use]
pub fn is_valid_display_name(name: &str) -> bool {
    let count = name.chars().count();
    if count == 0 || count > 255 {
        return false;
    }
    if name.contains("  ") || name.starts_with(' ') || name.ends_with(' ') {
        return false;
    }
    name.chars().all(|c| c == ' ' || is_printable(c))
}

fn is_printable(c: char) -> bool {
    let code = u32::from(c);
    let format = matches!(code, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0x1_BCA0..=0x1_BCA3 | 0xE_0001 | 0xE_0020..=0xE_007F);
    let private = matches!(code, 0xE000..=0xF8FF | 0xF_0000..=0x10_FFFF);
    let nonchar = matches!(code, 0xFDD0..=0xFDEF) || code & 0xFFFE == 0xFFFE;
    !(c.is_control() || c.is_whitespace() || format || private || nonchar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_follow_the_safe_slug_rules() {
        for ok in [
            "a",
            "gpu",
            "my-server-2",
            "x1",
            "abcdefghijklmnopqrstuvwxyz0123",
        ] {
            assert!(is_valid_server_name(ok), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "-a",
            "a-",
            "a--b",
            "GPU",
            "a_b",
            "a b",
            "a/b",
            "é",
            "a.b",
            "abcdefghijklmnopqrstuvwxyz01234",
        ] {
            assert!(!is_valid_server_name(bad), "{bad}");
        }
    }

    #[test]
    fn display_names_are_printable_with_single_inner_spaces() {
        for ok in ["My Server", "GPU (A100)", "Ünïcødé ✓", "日本語", "x"] {
            assert!(is_valid_display_name(ok), "{ok}");
        }
        let long = "x".repeat(256);
        for bad in [
            "",
            " a",
            "a ",
            "a  b",
            "a\tb",
            "a\nb",
            "a\u{200B}b",
            "a\u{202E}b",
            "a\u{E000}",
            long.as_str(),
        ] {
            assert!(!is_valid_display_name(bad), "{bad:?}");
        }
        assert!(is_valid_display_name(&"é".repeat(255)));
    }

    #[test]
    fn display_names_are_nfc_normalized() {
        assert_eq!(normalize_display_name("e\u{301}"), "\u{e9}");
    }
}
