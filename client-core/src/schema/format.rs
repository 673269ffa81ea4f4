//! The `format`s a questionnaire uses (`date`, `date-time`, `email`, and `time`), checked as
//! `jsonschema` 0.61 checks them (ported from its `keywords/format.rs`, MIT), for the compact
//! validator.
//!
//! One known difference: in an e-mail's domain, an IDNA label (`xn--…`) is accepted when its
//! Punycode decodes; `jsonschema` also checks the decoded characters against RFC 5892, which
//! needs Unicode tables the phone's module is meant to leave out. The server refuses such an
//! address if it breaks RFC 5892 (the response then comes back for correction).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use email_address::EmailAddress;

pub(crate) fn is_valid_date(date: &str) -> bool {
    let bytes = date.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (
        digits(&bytes[0..4]),
        digits(&bytes[5..7]),
        digits(&bytes[8..10]),
    ) else {
        return false;
    };
    if !(1..=12).contains(&month) || day == 0 {
        return false;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    day <= match month {
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 31,
    }
}

/// The number written by ASCII digits only.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

pub(crate) fn is_valid_time(time: &str) -> bool {
    let bytes = time.as_bytes();
    let len = bytes.len();
    if len < 9 || bytes[2] != b':' || bytes[5] != b':' {
        return false;
    }
    let (Some(hour), Some(minute), Some(second)) = (
        digits(&bytes[..2]),
        digits(&bytes[3..5]),
        digits(&bytes[6..8]),
    ) else {
        return false;
    };
    if hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 8;
    if i < len && bytes[i] == b'.' {
        i += 1;
        let start = i;
        while i < len && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if i == len {
        return false;
    }
    let sign: i32 = match bytes[i] {
        b'Z' | b'z' => return i == len - 1 && (second != 60 || (hour == 23 && minute == 59)),
        b'+' => -1,
        b'-' => 1,
        _ => return false,
    };
    // `±HH:MM`
    if len - i != 6 {
        return false;
    }
    i += 1;
    if bytes[i + 2] != b':' {
        return false;
    }
    let (Some(off_h), Some(off_m)) = (digits(&bytes[i..i + 2]), digits(&bytes[i + 3..i + 5]))
    else {
        return false;
    };
    if off_h > 23 || off_m > 59 {
        return false;
    }
    if second != 60 {
        return true;
    }
    // A leap second is only 23:59:60 in UTC.
    let mut utc_h = hour as i32 + sign * off_h as i32;
    let mut utc_m = minute as i32 + sign * off_m as i32;
    utc_h += utc_m / 60;
    utc_m %= 60;
    if utc_m < 0 {
        utc_m += 60;
        utc_h -= 1;
    }
    utc_h = (utc_h + 24) % 24;
    utc_h == 23 && utc_m == 59
}

pub(crate) fn is_valid_datetime(datetime: &str) -> bool {
    let Some(t) = datetime.bytes().position(|b| b == b'T' || b == b't') else {
        return false;
    };
    let (date, time) = datetime.split_at(t);
    is_valid_date(date) && is_valid_time(&time[1..])
}

pub(crate) fn is_valid_email(email: &str) -> bool {
    // `email_address` rejects an empty quoted local part, which RFC 5321 allows.
    if let Some(domain) = email.strip_prefix("\"\"@") {
        return is_valid_email(&format!("\"a\"@{domain}"));
    }
    let Ok(parsed) = EmailAddress::from_str(email) else {
        return false;
    };
    if !parsed.local_part().is_ascii() {
        return false;
    }
    let domain = parsed.domain();
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        match literal.get(..5) {
            Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
                literal[5..].parse::<Ipv6Addr>().is_ok()
            }
            _ => literal.parse::<Ipv4Addr>().is_ok(),
        }
    } else {
        is_valid_hostname(domain)
    }
}

fn is_valid_hostname(hostname: &str) -> bool {
    let bytes = hostname.as_bytes();
    if bytes.is_empty() || bytes.len() > 253 || bytes[bytes.len() - 1] == b'.' {
        return false;
    }
    bytes.split(|&b| b == b'.').all(|label| {
        let plain = !label.is_empty()
            && label.len() <= 63
            && label[0] != b'-'
            && label[label.len() - 1] != b'-'
            && label
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-');
        let hyphens34 = label.len() >= 4 && label[2] == b'-' && label[3] == b'-';
        let punycode = label.len() >= 4 && label.starts_with(b"xn--");
        plain
            && (!hyphens34 || punycode)
            && (!punycode || decodes(std::str::from_utf8(&label[4..]).unwrap_or("\u{0}")))
    })
}

/// Whether a Punycode payload (RFC 3492) decodes.
fn decodes(input: &str) -> bool {
    const BASE: u32 = 36;
    const TMIN: u32 = 1;
    const TMAX: u32 = 26;
    let bytes = input.as_bytes();
    let (basic, encoded) = match bytes.iter().rposition(|&b| b == b'-') {
        Some(p) if p > 0 => (&bytes[..p], &bytes[p + 1..]),
        _ => (&bytes[..0], bytes),
    };
    if !basic.is_ascii() {
        return false;
    }
    let adapt = |mut delta: u32, count: u32, first: bool| {
        delta /= if first { 700 } else { 2 };
        delta += delta / count;
        let mut k = 0;
        while delta > ((BASE - TMIN) * TMAX) / 2 {
            delta /= BASE - TMIN;
            k += BASE;
        }
        k + ((BASE - TMIN + 1) * delta) / (delta + 38)
    };
    let decode = || -> Option<()> {
        let mut len = basic.len() as u32;
        let (mut code_point, mut index, mut bias, mut position) = (128u32, 0u32, 72u32, 0);
        while position < encoded.len() {
            let previous = index;
            let mut weight: u32 = 1;
            let mut k = BASE;
            loop {
                let byte = *encoded.get(position)?;
                let digit = match byte {
                    b'0'..=b'9' => u32::from(byte - b'0') + 26,
                    b'A'..=b'Z' => u32::from(byte - b'A'),
                    b'a'..=b'z' => u32::from(byte - b'a'),
                    _ => return None,
                };
                position += 1;
                index = index.checked_add(digit.checked_mul(weight)?)?;
                let threshold = if k <= bias {
                    TMIN
                } else if k >= bias + TMAX {
                    TMAX
                } else {
                    k - bias
                };
                if digit < threshold {
                    break;
                }
                weight = weight.checked_mul(BASE - threshold)?;
                k += BASE;
            }
            let count = len + 1;
            bias = adapt(index - previous, count, previous == 0);
            code_point = code_point.checked_add(index / count)?;
            index %= count;
            char::from_u32(code_point)?;
            len += 1;
            index += 1;
        }
        Some(())
    };
    decode().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_times_and_addresses() {
        assert!(is_valid_date("2024-02-29"));
        assert!(!is_valid_date("2023-02-29"));
        assert!(!is_valid_date("2023-2-28"));
        assert!(is_valid_datetime("2025-03-14T18:30:00+01:00"));
        assert!(!is_valid_datetime("2025-03-14T18:30:00"));
        assert!(is_valid_datetime("2016-12-31T23:59:60Z"));
        assert!(!is_valid_datetime("2016-12-31T22:59:60Z"));
        assert!(is_valid_email("nom@exemple.fr"));
        assert!(!is_valid_email("nom@exemple."));
        assert!(!is_valid_email("nom@ab--cd.fr"));
        assert!(is_valid_email("a@[127.0.0.1]"));
    }
}
