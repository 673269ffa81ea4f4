//! A user-facing message in the interface's two languages, French first, carried whole from
//! where it is made (a validation, the server, the sync engine) to where a language is picked
//! (the CLI's output, the phone's screen): [`Message`], and [`Lang`] to pick with.
//!
//! On the wire a message is two fields, `message` (French) and `message_en` (English), as in
//! every error the API returns (`{"path", "code", "message", "message_en"}`); types that
//! carry one flatten it (`#[serde(flatten)]`).
//!
//! ```
//! use parole_client::i18n::{Lang, Message};
//! let m = Message::new("réponse requise", "answer required");
//! assert_eq!(m.pick(Lang::En), "answer required");
//! assert_eq!(m.joined(), "réponse requise / answer required");
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// A user-facing message in French and English.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// The message in French.
    #[serde(rename = "message")]
    pub fr: String,
    /// The message in English.
    #[serde(rename = "message_en")]
    pub en: String,
}

impl Message {
    pub fn new(fr: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            fr: fr.into(),
            en: en.into(),
        }
    }

    /// A message that reads the same in both languages (a technical detail from elsewhere:
    /// an operating-system error, a body the server sent).
    pub fn same(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            fr: text.clone(),
            en: text,
        }
    }

    /// The message in `lang`.
    pub fn pick(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        }
    }

    /// `"français / English"` (only `"texte"` when both are the same): the API's `error`
    /// field, kept for clients that read a single string, and log lines.
    pub fn joined(&self) -> String {
        if self.fr == self.en {
            self.fr.clone()
        } else {
            format!("{} / {}", self.fr, self.en)
        }
    }

    /// Both languages with `f` applied to each: a message around another
    /// (`m.map(|fr| format!("refusé : {fr}"), …)`).
    pub fn wrap(&self, fr: impl FnOnce(&str) -> String, en: impl FnOnce(&str) -> String) -> Self {
        Self {
            fr: fr(&self.fr),
            en: en(&self.en),
        }
    }
}

/// `"français / English"`, as [`Message::joined`].
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fr == self.en {
            f.write_str(&self.fr)
        } else {
            write!(f, "{} / {}", self.fr, self.en)
        }
    }
}

/// Someone's input, quoted in a message: at most 80 characters, control characters escaped
/// (a NUL or a newline in a path or a field is shown, not written into the message).
pub fn shown(input: &str) -> String {
    let mut out: String = input
        .chars()
        .take(80)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if input.chars().nth(80).is_some() {
        out.push('…');
    }
    out
}

/// The interface's languages, French first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// `fr` or `en` (any case, and regional forms such as `en-GB`); French otherwise.
    pub fn from_tag(tag: &str) -> Lang {
        if tag.to_ascii_lowercase().starts_with("en") {
            Lang::En
        } else {
            Lang::Fr
        }
    }

    /// Picks the text in this language (for text made at the edge, where the language is
    /// known: the CLI's own output).
    pub fn pick<'a>(self, fr: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_travels_as_message_and_message_en() {
        let m = Message::new("Âge requis / obligatoire", "Age required");
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"message": "Âge requis / obligatoire", "message_en": "Age required"})
        );
        // A French text containing " / " survives the trip: nothing is split.
        let back: Message = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.pick(Lang::Fr), "Âge requis / obligatoire");
    }

    #[test]
    fn joined_says_a_same_text_once() {
        assert_eq!(Message::same("x").joined(), "x");
        assert_eq!(Message::new("oui", "yes").to_string(), "oui / yes");
    }

    #[test]
    fn input_is_shown_short_and_escaped() {
        assert_eq!(shown("a\0b"), "a\\0b");
        assert_eq!(shown(&"é".repeat(100)).chars().count(), 81);
    }

    #[test]
    fn languages_come_from_tags() {
        assert_eq!(Lang::from_tag("en-GB"), Lang::En);
        assert_eq!(Lang::from_tag("fr"), Lang::Fr);
        assert_eq!(Lang::from_tag("de"), Lang::Fr);
    }
}
