//! The translation catalogue: Fluent files under `locales/{en,de}/`, compiled into the binary.
//! Every string a user sees goes through here; German and English are both complete (a test
//! compares the key sets and checks every key the templates use).

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid, static_loader};

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Unicode isolation marks around arguments would end up in HTML attributes and logs.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static EN: LanguageIdentifier = langid!("en");
static DE: LanguageIdentifier = langid!("de");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    De,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::De, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
        }
    }

    /// The language's own name, for the switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::De => "Deutsch",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Self::En),
            "de" => Some(Self::De),
            _ => None,
        }
    }

    /// Picks the best supported language from an `Accept-Language` header (RFC 9110 weights).
    pub fn negotiate(header: &str) -> Option<Self> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(lang) = Self::parse(primary)
                && q > 0.0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Self::En => &EN,
            Self::De => &DE,
        }
    }

    /// The message for `key`; a missing key shows as the key itself (and is caught by tests).
    pub fn t(self, key: &str) -> String {
        LOCALES
            .try_lookup(self.id(), key)
            .unwrap_or_else(|| key.to_string())
    }

    /// The message for `key` with named arguments.
    pub fn t_args(self, key: &str, args: &[(&'static str, String)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(k, v)| {
                // Numbers go in as numbers so that plural selection works.
                let value = match v.parse::<i64>() {
                    Ok(n) => FluentValue::from(n),
                    Err(_) => FluentValue::from(v.clone()),
                };
                (Cow::Borrowed(*k), value)
            })
            .collect();
        LOCALES
            .try_lookup_with_args(self.id(), key, &map)
            .unwrap_or_else(|| key.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn keys(file: &Path) -> BTreeSet<String> {
        let text = std::fs::read_to_string(file).expect("catalogue readable");
        text.lines()
            .filter_map(|l| {
                let (k, _) = l.split_once(" =")?;
                (!k.starts_with([' ', '#', '.']) && !k.is_empty()).then(|| k.trim().to_string())
            })
            .collect()
    }

    fn catalogue(lang: &str) -> BTreeSet<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(lang);
        let mut all = BTreeSet::new();
        for entry in std::fs::read_dir(dir).expect("locale dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "ftl") {
                all.extend(keys(&path));
            }
        }
        all
    }

    #[test]
    fn german_and_english_have_the_same_keys() {
        let en = catalogue("en");
        let de = catalogue("de");
        assert!(!en.is_empty());
        let only_en: Vec<_> = en.difference(&de).collect();
        let only_de: Vec<_> = de.difference(&en).collect();
        assert!(
            only_en.is_empty() && only_de.is_empty(),
            "only in en: {only_en:?}; only in de: {only_de:?}"
        );
    }

    /// Every `t("…")` / `t1("…"` / `t2("…"` in the templates and every `"key"` handed to
    /// messages in the source must exist in both languages.
    #[test]
    fn every_key_used_in_templates_exists() {
        let (en, de) = (catalogue("en"), catalogue("de"));
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut missing = Vec::new();
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).expect("templates dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("template");
                for marker in [".t(\"", ".t1(\"", ".t2(\""] {
                    for (i, _) in text.match_indices(marker) {
                        let rest = &text[i + marker.len()..];
                        let key = rest.split('"').next().unwrap_or("");
                        for (code, keys) in [("en", &en), ("de", &de)] {
                            if !keys.contains(key) {
                                missing.push(format!("{}: {key} ({code})", path.display()));
                            }
                        }
                    }
                }
            }
        }
        assert!(missing.is_empty(), "missing translations: {missing:#?}");
    }

    #[test]
    fn negotiation() {
        assert_eq!(Lang::negotiate("de-DE,de;q=0.9,en;q=0.8"), Some(Lang::De));
        assert_eq!(Lang::negotiate("fr-FR, en;q=0.5, de;q=0.4"), Some(Lang::En));
        assert_eq!(Lang::negotiate("fr"), None);
        assert_eq!(Lang::negotiate("en;q=0, de;q=0.1"), Some(Lang::De));
    }

    #[test]
    fn arguments_are_substituted_without_isolation_marks() {
        let s = Lang::En.t_args("welcome-user", &[("name", "Ada".into())]);
        assert!(s.contains("Ada"), "{s}");
        assert!(!s.contains('\u{2068}'));
    }
}
