//! The capabilities a client asks for on its first line (after the NUL of a push command, or
//! after the first `want`), read the same way for receive-pack and upload-pack.

use crate::format::pktline::SideBand;

/// The capability words of one request, in the order sent; unknown ones are kept and ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities(Vec<String>);

impl Capabilities {
    /// Reads a space-separated list.
    pub fn parse(list: &str) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.add(list);
        caps
    }

    /// Adds the words of a space-separated list.
    pub fn add(&mut self, list: &str) {
        self.0
            .extend(list.split_ascii_whitespace().map(str::to_string));
    }

    /// Whether the word `name` was sent (exactly, without a value).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|cap| cap == name)
    }

    /// The value of the last `name=<value>` sent.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find_map(|cap| cap.strip_prefix(name)?.strip_prefix('='))
    }

    /// The side band asked for: `side-band-64k` wins over `side-band`.
    pub fn side_band(&self) -> Option<SideBand> {
        if self.has("side-band-64k") {
            Some(SideBand::Large)
        } else if self.has("side-band") {
            Some(SideBand::Small)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_words_values_and_the_side_band() {
        let caps = Capabilities::parse(
            " side-band report-status  object-format=sha1 agent=git/2.47 side-band-64k",
        );
        assert!(caps.has("report-status"));
        assert!(!caps.has("report"));
        assert!(!caps.has("object-format"));
        assert_eq!(caps.value("object-format"), Some("sha1"));
        assert_eq!(caps.value("agent"), Some("git/2.47"));
        assert_eq!(caps.value("side-band"), None);
        assert_eq!(caps.side_band(), Some(SideBand::Large));
        assert_eq!(
            Capabilities::parse("side-band").side_band(),
            Some(SideBand::Small)
        );
        assert_eq!(Capabilities::parse("").side_band(), None);
    }
}
