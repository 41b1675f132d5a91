//! Percent-encoding of URL parts, in one place for the engine, the workers and the clients.
//!
//! - [`encode_segment`] keeps only RFC 3986's unreserved bytes (`A-Z a-z 0-9 - . _ ~`) and
//!   escapes every other byte as `%XX`, so any id or name is one safe path segment or query value.
//! - [`decode_segment`] turns `%XX` back into bytes; a `%` that does not start a valid escape
//!   stays as it is, and the bytes are read as UTF-8 (invalid sequences become U+FFFD).
//! - [`decode_query`] is the same for `application/x-www-form-urlencoded` text, where `+` is a
//!   space.

/// `text` escaped for use as one URL path segment or query value.
pub fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A raw path segment with its `%XX` escapes decoded.
pub fn decode_segment(raw: &str) -> String {
    decode(raw, false)
}

/// A query key or value with its `%XX` escapes decoded and `+` read as a space.
pub fn decode_query(raw: &str) -> String {
    decode(raw, true)
}

fn decode(raw: &str, plus_is_space: bool) -> String {
    let bytes = raw.as_bytes();
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16)).and_then(|d| u8::try_from(d).ok());
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi * 16 + lo);
                i += 3;
            }
            (b'+', _, _) if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_round_trip_and_only_unreserved_bytes_stay() {
        assert_eq!(encode_segment("a b/c?d=é~x.y_z-1"), "a%20b%2Fc%3Fd%3D%C3%A9~x.y_z-1");
        for text in ["grant:s1", "100%", "a b", "é", "../etc", ""] {
            assert_eq!(decode_segment(&encode_segment(text)), text);
        }
    }

    #[test]
    fn broken_escapes_are_kept_and_plus_is_a_space_only_in_queries() {
        assert_eq!(decode_segment("grant%3As1"), "grant:s1");
        assert_eq!(decode_segment("100%"), "100%");
        assert_eq!(decode_segment("%zz%C3%A9"), "%zzé");
        assert_eq!(decode_segment("%4"), "%4");
        assert_eq!(decode_segment("a+b"), "a+b");
        assert_eq!(decode_query("a+b%2Bc"), "a b+c");
        assert_eq!(decode_segment("%FF"), "\u{FFFD}");
    }
}
