//! Matching on an object key by prefix and/or suffix: what S3 notification
//! routes and S3 Batch Operations routes share.

/// A key matcher: the decoded key starts with `prefix` and ends with `suffix`
/// (either may be empty, matching any key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct KeyMatch {
    prefix: String,
    suffix: String,
}

impl KeyMatch {
    pub(super) fn set_prefix(&mut self, prefix: &str) {
        self.prefix = prefix.into();
    }

    pub(super) fn set_suffix(&mut self, suffix: &str) {
        self.suffix = suffix.into();
    }

    /// Whether `key` matches.
    pub(super) fn matches(&self, key: &str) -> bool {
        key.starts_with(&self.prefix) && key.ends_with(&self.suffix)
    }

    /// Whether every key this matches is also matched by `earlier`.
    pub(super) fn shadowed_by(&self, earlier: &KeyMatch) -> bool {
        self.prefix.starts_with(&earlier.prefix) && self.suffix.ends_with(&earlier.suffix)
    }

    /// The matcher as route listings show it.
    pub(super) fn describe(&self) -> String {
        match (self.prefix.is_empty(), self.suffix.is_empty()) {
            (true, true) => "any key".to_owned(),
            (false, true) => format!("prefix {:?}", self.prefix),
            (true, false) => format!("suffix {:?}", self.suffix),
            (false, false) => format!("prefix {:?} suffix {:?}", self.prefix, self.suffix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(prefix: &str, suffix: &str) -> KeyMatch {
        let mut k = KeyMatch::default();
        k.set_prefix(prefix);
        k.set_suffix(suffix);
        k
    }

    #[test]
    fn matches_shadows_and_describes() {
        let pdf = key("in/", ".pdf");
        assert!(pdf.matches("in/a.pdf"));
        assert!(!pdf.matches("in/a.csv"));
        assert!(!pdf.matches("out/a.pdf"));
        assert!(key("in/2026/", ".pdf").shadowed_by(&pdf));
        assert!(!key("in/", "").shadowed_by(&pdf));
        assert!(pdf.shadowed_by(&KeyMatch::default()));
        assert_eq!(pdf.describe(), r#"prefix "in/" suffix ".pdf""#);
        assert_eq!(key("", ".pdf").describe(), r#"suffix ".pdf""#);
        assert_eq!(KeyMatch::default().describe(), "any key");
    }
}
