//! XLSForm languages (`label::English (en)`, `label::english`, `LABEL::EN`, `label:Tetun`)
//! to the format's language codes (`x-languages`: 2 or 3 lower-case letters).

/// The code a language column names: the code in brackets (`English (en)`, `Deutsch(de)`,
/// `Français (fr-BE)` → `fr`), else the text itself when it is a code (`EN`, `tet`), else a
/// language name this table knows (`english`, `Tetun`). `None` when it is none of those.
pub(super) fn code_of(spec: &str) -> Option<String> {
    let s = spec.trim();
    if let (Some(open), true) = (s.rfind('('), s.ends_with(')')) {
        if let Some(code) = as_code(&s[open + 1..s.len() - 1]) {
            return Some(code);
        }
        return by_name(&s[..open]);
    }
    as_code(s).or_else(|| by_name(s))
}

/// `en`, `EN`, `fr-BE`, `zh_Hans`, `tet` → the primary subtag, lower case.
fn as_code(s: &str) -> Option<String> {
    let primary = s.trim().split(['-', '_']).next()?;
    let ok = (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic());
    ok.then(|| primary.to_ascii_lowercase())
}

/// Language names as forms write them, in English and in the language itself.
const NAMES: &[(&str, &str)] = &[
    ("afrikaans", "af"),
    ("amharic", "am"),
    ("arabic", "ar"),
    ("العربية", "ar"),
    ("armenian", "hy"),
    ("azerbaijani", "az"),
    ("bambara", "bm"),
    ("bangla", "bn"),
    ("bengali", "bn"),
    ("burmese", "my"),
    ("catalan", "ca"),
    ("chichewa", "ny"),
    ("chinese", "zh"),
    ("中文", "zh"),
    ("creole", "ht"),
    ("dari", "prs"),
    ("deutsch", "de"),
    ("dutch", "nl"),
    ("english", "en"),
    ("español", "es"),
    ("espanol", "es"),
    ("farsi", "fa"),
    ("français", "fr"),
    ("francais", "fr"),
    ("french", "fr"),
    ("fula", "ff"),
    ("fulfulde", "ff"),
    ("georgian", "ka"),
    ("german", "de"),
    ("greek", "el"),
    ("haitian", "ht"),
    ("hausa", "ha"),
    ("hebrew", "he"),
    ("hindi", "hi"),
    ("igbo", "ig"),
    ("indonesian", "id"),
    ("italian", "it"),
    ("italiano", "it"),
    ("japanese", "ja"),
    ("kazakh", "kk"),
    ("khmer", "km"),
    ("kinyarwanda", "rw"),
    ("kirundi", "rn"),
    ("korean", "ko"),
    ("kurdish", "ku"),
    ("lingala", "ln"),
    ("luganda", "lg"),
    ("malagasy", "mg"),
    ("malay", "ms"),
    ("mongolian", "mn"),
    ("nederlands", "nl"),
    ("nepali", "ne"),
    ("oromo", "om"),
    ("pashto", "ps"),
    ("persian", "fa"),
    ("polish", "pl"),
    ("português", "pt"),
    ("portugues", "pt"),
    ("portuguese", "pt"),
    ("romanian", "ro"),
    ("russian", "ru"),
    ("русский", "ru"),
    ("sango", "sg"),
    ("shona", "sn"),
    ("sinhala", "si"),
    ("somali", "so"),
    ("spanish", "es"),
    ("swahili", "sw"),
    ("kiswahili", "sw"),
    ("tagalog", "tl"),
    ("tajik", "tg"),
    ("tamil", "ta"),
    ("tetum", "tet"),
    ("tetun", "tet"),
    ("thai", "th"),
    ("tigrinya", "ti"),
    ("turkish", "tr"),
    ("ukrainian", "uk"),
    ("urdu", "ur"),
    ("uzbek", "uz"),
    ("vietnamese", "vi"),
    ("wolof", "wo"),
    ("xhosa", "xh"),
    ("yoruba", "yo"),
    ("zulu", "zu"),
];

fn by_name(name: &str) -> Option<String> {
    let name = name.trim().to_lowercase();
    NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, code)| code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_columns_name_a_code_in_every_spelling() {
        let cases = [
            ("English (en)", Some("en")),
            ("English(en)", Some("en")),
            ("Deutsch (de)", Some("de")),
            ("Français (fr-BE)", Some("fr")),
            ("en", Some("en")),
            ("EN", Some("en")),
            ("english", Some("en")),
            ("English", Some("en")),
            ("chinese", Some("zh")),
            ("Tetun", Some("tet")),
            ("Arabic (ar)", Some("ar")),
            ("Klingon", None),
            ("Klingon (tlh)", Some("tlh")),
            ("", None),
        ];
        for (spec, want) in cases {
            assert_eq!(code_of(spec).as_deref(), want, "{spec}");
        }
    }
}
