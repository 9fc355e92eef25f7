//! The governed service (受治理的服务): the one layer through which the API (`api/`), the
//! console (`console/`) and the CLI's server reach identities, personal data and decisions.
//! Who the caller is ([`identity`]), what a caller may see of a person's or enterprise's data
//! for a purpose, cut and masked by default ([`profile`]), the audit entry every such read
//! appends before the answer leaves ([`audit`]), receipts as shown to anyone ([`receipts`]),
//! and applications decided ([`applications`]). Front ends parse requests and render answers;
//! they decide nothing about access themselves.
//!
//! Inside: `identity` and `purpose` depend on nothing here; `audit` on `identity`; `profile`
//! and `receipts` on `audit`; `applications` on all of them.

pub mod applications;
mod audit;
pub mod identity;
mod profile;
mod purpose;
mod receipts;
pub mod rows;

pub use audit::{audit_read, audit_reads};
pub use identity::Caller;
pub use profile::{
    Visibility, Visible, consumer_visibility, cut_profile, fields_returned, read_profile,
};
pub use purpose::{parse_purpose, purpose_text};
pub use receipts::{decision_subjects, mask_ids, receipt_for_display};

#[cfg(test)]
mod tests {
    /// The front ends share this layer and never each other: a console page that called an
    /// API handler (or the reverse) could decide access differently from it.
    #[test]
    fn front_ends_reach_each_other_only_through_the_governed_layer() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut checked = 0;
        // Spelled in two halves, so that this file does not match itself.
        let (api, console, auth) = (
            concat!("crate::", "api"),
            concat!("crate::", "console::"),
            concat!("crate::", "auth"),
        );
        for (dir, forbidden) in [
            ("console", &[api][..]),
            ("api", &[console][..]),
            ("governed", &[api, console, auth][..]),
        ] {
            for entry in std::fs::read_dir(src.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                    for f in forbidden {
                        assert!(!line.contains(f), "{}: {line}", path.display());
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} files");
    }
}
