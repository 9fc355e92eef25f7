//! Errors found while loading and checking a pack.

use std::fmt;
use std::path::PathBuf;

/// 目录包错误: one problem in a pack, located by file, line, resource and field.
///
/// Displays as `file:line: resource R, field F: message`, leaving out what is unknown, e.g.
/// `packs/futian/resources/police/hukou_residents.toml:31: resource hukou_residents, field sex:
/// unknown code table "sexx"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PackError {
    /// The file, as shown to the user: as given when the pack path is relative, otherwise
    /// relative to the pack's parent directory (`futian/units.toml`).
    pub file: PathBuf,
    /// 1-based line in `file`, when known.
    pub line: Option<usize>,
    /// 信息资源 code, for errors inside a resource file.
    pub resource: Option<String>,
    /// 信息项 name, for errors about one field.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        match (&self.resource, &self.field) {
            (Some(r), Some(field)) => write!(f, "resource {r}, field {field}: ")?,
            (Some(r), None) => write!(f, "resource {r}: ")?,
            (None, Some(field)) => write!(f, "field {field}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

/// Every error found in a pack; loading reports them all at once so one run fixes them all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PackErrors(pub Vec<PackError>);

impl PackErrors {
    /// The errors, in the order they were found (files in a stable order).
    pub fn iter(&self) -> std::slice::Iter<'_, PackError> {
        self.0.iter()
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no errors (never for an `Err` returned by `Pack::load`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a PackErrors {
    type Item = &'a PackError;
    type IntoIter = std::slice::Iter<'a, PackError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for PackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} error{} in pack", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "\n{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(resource: Option<&str>, field: Option<&str>, line: Option<usize>) -> PackError {
        PackError {
            file: PathBuf::from("packs/futian/resources/police/hukou_residents.toml"),
            line,
            resource: resource.map(String::from),
            field: field.map(String::from),
            message: "unknown code table \"sexx\"".into(),
        }
    }

    #[test]
    fn display_names_file_resource_and_field() {
        assert_eq!(
            err(Some("hukou_residents"), Some("sex"), None).to_string(),
            "packs/futian/resources/police/hukou_residents.toml: resource hukou_residents, \
             field sex: unknown code table \"sexx\""
        );
        assert_eq!(
            err(Some("hukou_residents"), None, Some(7)).to_string(),
            "packs/futian/resources/police/hukou_residents.toml:7: resource hukou_residents: \
             unknown code table \"sexx\""
        );
        assert_eq!(
            err(None, None, None).to_string(),
            "packs/futian/resources/police/hukou_residents.toml: unknown code table \"sexx\""
        );
    }

    #[test]
    fn display_lists_all() {
        let all = PackErrors(vec![err(None, None, None), err(None, None, Some(2))]);
        let text = all.to_string();
        assert!(text.starts_with("2 errors in pack\n"));
        assert_eq!(text.lines().count(), 3);
        assert_eq!(all.len(), 2);
    }
}
