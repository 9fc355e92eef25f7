//! Pointing at the place of an error: line numbers, and the item (field, unit, entry) and key
//! an offset in a TOML file falls in.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};

use crate::load::file_stem;

/// Where in a file an error is: line, resource and field, each if known.
#[derive(Debug, Default, Clone)]
pub(crate) struct Loc {
    pub(crate) line: Option<usize>,
    pub(crate) resource: Option<String>,
    pub(crate) field: Option<String>,
}

impl Loc {
    pub(crate) fn line(line: Option<usize>) -> Self {
        Loc {
            line,
            ..Loc::default()
        }
    }

    pub(crate) fn resource(resource: &str, line: Option<usize>) -> Self {
        Loc {
            line,
            resource: Some(resource.to_owned()),
            field: None,
        }
    }

    pub(crate) fn field(resource: &str, field: &str, line: Option<usize>) -> Self {
        Loc {
            line,
            resource: Some(resource.to_owned()),
            field: Some(field.to_owned()),
        }
    }
}

/// A file's text, kept for turning byte offsets into line numbers.
pub(crate) struct Doc {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
}

impl Doc {
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    pub(crate) fn stem(&self) -> String {
        file_stem(&self.path)
    }
}

/// Where each key and table of a TOML document is, for pointing errors at lines.
#[derive(Debug, Default)]
pub(crate) struct Outline {
    /// Byte offset where the table starts (its header, or `0` for the document).
    pub(crate) start: usize,
    /// Line of the table header.
    pub(crate) line: usize,
    /// Key → (line of the key, bytes from the key to the end of its value).
    keys: BTreeMap<String, (usize, Range<usize>)>,
    /// String values by key, to name the item an error is in.
    strings: BTreeMap<String, String>,
    /// Sub-tables and arrays of tables by key.
    tables: BTreeMap<String, Vec<Outline>>,
}

impl Outline {
    pub(crate) fn build(doc: &Doc, table: &DeTable<'_>, span: Range<usize>) -> Outline {
        let mut out = Outline {
            start: span.start,
            line: doc.line_of(span.start),
            ..Outline::default()
        };
        for (key, value) in table.iter() {
            let name = key.get_ref().to_string();
            let (k, v) = (key.span(), value.span());
            out.keys.insert(
                name.clone(),
                (doc.line_of(k.start), k.start..v.end.max(k.end)),
            );
            match value.get_ref() {
                DeValue::String(s) => {
                    out.strings.insert(name, s.to_string());
                }
                DeValue::Table(t) => {
                    out.tables.insert(name, vec![Outline::build(doc, t, v)]);
                }
                DeValue::Array(items) => {
                    let tables: Vec<Outline> = items
                        .iter()
                        .filter_map(|item| match item.get_ref() {
                            DeValue::Table(t) => Some(Outline::build(doc, t, item.span())),
                            _ => None,
                        })
                        .collect();
                    if !tables.is_empty() {
                        out.tables.insert(name, tables);
                    }
                }
                _ => {}
            }
        }
        out
    }

    pub(crate) fn items(&self, key: &str) -> &[Outline] {
        self.tables.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(crate) fn item(&self, key: &str, index: usize) -> Option<&Outline> {
        self.items(key).get(index)
    }

    /// Line of `key` in this table, or of the table's header when the key is absent.
    pub(crate) fn line_of(&self, key: &str) -> usize {
        self.keys.get(key).map_or(self.line, |(line, _)| *line)
    }

    /// The item of array `key` an offset falls in: items are in file order and a table runs
    /// until the next header, so it is the last one starting at or before the offset.
    pub(crate) fn item_at(&self, key: &str, offset: usize) -> Option<(usize, &Outline)> {
        self.items(key)
            .iter()
            .enumerate()
            .rev()
            .find(|(_, t)| t.start <= offset)
    }

    /// The key whose text (key through value) contains the offset.
    pub(crate) fn key_at(&self, offset: usize) -> Option<&str> {
        self.keys
            .iter()
            .find(|(_, (_, span))| span.contains(&offset))
            .map(|(k, _)| k.as_str())
    }

    pub(crate) fn string(&self, key: &str) -> Option<&str> {
        self.strings.get(key).map(String::as_str)
    }
}

/// Which kind of pack file is being parsed, to describe where in it an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Meta,
    Units,
    Regions,
    CodeTable,
    Resource,
}

/// Where in a file's items an error is, for the message: `unit police`, `entry 2`, and the
/// key whose value is wrong.
#[derive(Debug, Default)]
pub(crate) struct Context {
    pub(crate) items: Vec<String>,
    pub(crate) key: Option<String>,
}

impl Context {
    pub(crate) fn message(&self, message: &str) -> String {
        let mut parts = self.items.clone();
        // serde names the key itself in messages such as "unknown field `x`".
        if let Some(key) = &self.key
            && !message.contains(&format!("`{key}`"))
        {
            parts.push(key.clone());
        }
        parts.push(message.to_owned());
        parts.join(": ")
    }
}

/// Describes where an error offset lies in a document: the line, the resource and field for
/// resource files, the item for other files, and the key whose value is wrong.
pub(crate) fn describe(
    kind: Kind,
    doc: &Doc,
    outline: &Outline,
    offset: Option<usize>,
) -> (Loc, Context) {
    let mut loc = Loc {
        line: offset.map(|o| doc.line_of(o)),
        // Resource files are named after their resource, so the stem names it even when the
        // file does not parse.
        resource: (kind == Kind::Resource).then(|| {
            outline
                .string("code")
                .map_or_else(|| doc.stem(), str::to_owned)
        }),
        field: None,
    };
    let mut context = Context::default();
    let Some(offset) = offset else {
        return (loc, context);
    };
    // An item without its naming key is named by its position.
    let name = |(i, t): (usize, &Outline), key: &str| {
        t.string(key)
            .map_or_else(|| format!("#{}", i + 1), str::to_owned)
    };
    let mut inner = outline;
    match kind {
        Kind::Meta => {}
        Kind::Resource => {
            if let Some(field) = outline.item_at("field", offset) {
                loc.field = Some(name(field, "name"));
                inner = field.1;
            }
        }
        Kind::Units => {
            if let Some(unit) = outline.item_at("unit", offset) {
                context.items.push(format!("unit {}", name(unit, "code")));
                inner = unit.1;
            }
        }
        Kind::Regions => {
            if let Some(street) = outline.item_at("street", offset) {
                context
                    .items
                    .push(format!("street {}", name(street, "code")));
                inner = street.1;
                if let Some(c) = street.1.item_at("community", offset) {
                    context.items.push(format!("community {}", name(c, "code")));
                    inner = c.1;
                }
            } else if let Some(d) = outline.item_at("district", offset) {
                context.items.push("district".to_owned());
                inner = d.1;
            }
        }
        Kind::CodeTable => {
            if let Some(e) = outline.item_at("entry", offset) {
                context.items.push(format!("entry {}", name(e, "code")));
                inner = e.1;
            }
        }
    }
    context.key = inner.key_at(offset).map(str::to_owned);
    (loc, context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_count_bytes_safely() {
        let doc = Doc {
            path: PathBuf::from("x.toml"),
            text: "a = \"福田\"\nb = 1\n".into(),
        };
        assert_eq!(doc.line_of(0), 1);
        // An offset inside a multi-byte character must not panic.
        assert_eq!(doc.line_of(6), 1);
        assert_eq!(doc.line_of(13), 2);
        assert_eq!(doc.line_of(10_000), 3);
    }
}
