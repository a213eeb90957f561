//! Search result entries, read without panicking: ldap3's own
//! `SearchEntry::construct` panics on anything but a well-formed entry, and
//! a search may also return continuation references (Active Directory sends
//! them for subtree searches) or intermediate messages. A server's answer
//! must never take a hub task down, so those are skipped here.

use std::collections::BTreeMap;

use ldap3::ResultEntry;
use ldap3::asn1::{StructureTag, TagClass};

/// The `SearchResultEntry` protocol op (RFC 4511: `[APPLICATION 4]`).
const SEARCH_RESULT_ENTRY: u64 = 4;

/// One entry of a search result: its DN and its text-valued attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) dn: String,
    /// Attribute name as the server spelled it, to its UTF-8 values (binary
    /// values, which JSON `auth_state` cannot hold, are left out).
    pub(super) attrs: BTreeMap<String, Vec<String>>,
}

impl Entry {
    /// The entry in `result`; `None` for a reference, an intermediate
    /// message or anything malformed.
    pub(super) fn read(result: ResultEntry) -> Option<Self> {
        let tag = result
            .0
            .match_class(TagClass::Application)?
            .match_id(SEARCH_RESULT_ENTRY)?;
        let mut parts = tag.expect_constructed()?.into_iter();
        let dn = text(parts.next()?)?;
        let mut attrs = BTreeMap::new();
        for attribute in parts.next()?.expect_constructed()? {
            let mut attribute = attribute.expect_constructed()?.into_iter();
            let name = text(attribute.next()?)?;
            let values = attribute
                .next()?
                .expect_constructed()?
                .into_iter()
                .filter_map(text)
                .collect();
            attrs.insert(name, values);
        }
        Some(Self { dn, attrs })
    }

    /// The values of `name` (attribute names are case-insensitive).
    pub(super) fn attribute(&self, name: &str) -> Option<&[String]> {
        self.attrs
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, values)| values.as_slice())
    }
}

/// An octet string as UTF-8 text.
fn text(tag: StructureTag) -> Option<String> {
    String::from_utf8(tag.expect_primitive()?).ok()
}

#[cfg(test)]
mod tests {
    use ldap3::asn1::PL;

    use super::*;

    fn octets(text: &[u8]) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id: 4,
            payload: PL::P(text.to_vec()),
        }
    }

    fn sequence(items: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id: 16,
            payload: PL::C(items),
        }
    }

    fn op(id: u64, items: Vec<StructureTag>) -> ResultEntry {
        ResultEntry::new(StructureTag {
            class: TagClass::Application,
            id,
            payload: PL::C(items),
        })
    }

    #[test]
    fn reads_an_entry_and_skips_binary_values() {
        let mail = sequence(vec![
            octets(b"mail"),
            StructureTag {
                class: TagClass::Universal,
                id: 17,
                payload: PL::C(vec![octets(b"a@example.org"), octets(&[0xff, 0xfe])]),
            },
        ]);
        let entry = Entry::read(op(4, vec![octets(b"uid=a,dc=x"), sequence(vec![mail])])).unwrap();
        assert_eq!(entry.dn, "uid=a,dc=x");
        assert_eq!(
            entry.attribute("MAIL"),
            Some(&["a@example.org".to_owned()][..])
        );
        assert_eq!(entry.attribute("cn"), None);
    }

    #[test]
    fn references_and_malformed_answers_are_skipped_not_a_panic() {
        // A continuation reference ([APPLICATION 19]) and an intermediate
        // response ([APPLICATION 25]).
        assert_eq!(
            Entry::read(op(19, vec![octets(b"ldap://other/dc=x")])),
            None
        );
        assert_eq!(Entry::read(op(25, vec![])), None);
        // No attribute list, a DN that is not UTF-8, a primitive where a
        // sequence belongs.
        assert_eq!(Entry::read(op(4, vec![octets(b"uid=a")])), None);
        assert_eq!(
            Entry::read(op(4, vec![octets(&[0xff]), sequence(vec![])])),
            None
        );
        assert_eq!(
            Entry::read(op(4, vec![octets(b"uid=a"), octets(b"not a sequence")])),
            None
        );
        let primitive = ResultEntry::new(octets(b"x"));
        assert_eq!(Entry::read(primitive), None);
    }
}
