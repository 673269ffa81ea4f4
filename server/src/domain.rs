//! The server's domain newtypes: parse, don't validate. Once a handler holds one, it is
//! valid; the HTTP layer decides what an invalid one answers.

use std::fmt;

use parole_client::i18n::{shown, Message};

/// A questionnaire's slug: `^[a-z0-9][a-z0-9-]{0,62}$`, used in URLs and export file names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    /// The slug, or what is wrong with `s`.
    pub fn parse(s: &str) -> Result<Slug, Message> {
        let ok = (1..=63).contains(&s.len())
            && s.bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && b == b'-'));
        if ok {
            Ok(Slug(s.to_string()))
        } else {
            let shown = shown(s);
            Err(Message::new(
                format!("identifiant invalide « {shown} » : 1 à 63 caractères parmi a-z, 0-9 et -, sans - au début"),
                format!("invalid slug `{shown}`: 1 to 63 of a-z, 0-9 and -, not starting with -"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_pattern() {
        for ok in ["a", "parole-habitants", "2025", &"a".repeat(63)] {
            assert!(Slug::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "Abc", "a_b", "é", &"a".repeat(64), "a b", "a\0"] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }
}
