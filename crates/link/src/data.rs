//! Records in memory: named columns of optional text, each row with a caller's reference.

use crate::error::LinkError;

/// A set of records to link: column names and rows of `Option<String>` values, each row tagged
/// with the caller's record reference (a lake row id, a line number …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dataset {
    columns: Vec<String>,
    references: Vec<u64>,
    rows: Vec<Vec<Option<String>>>,
}

impl Dataset {
    /// An empty dataset with these columns.
    pub fn new<I, S>(columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Dataset {
            columns: columns.into_iter().map(Into::into).collect(),
            references: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Appends a record. An empty or all-blank value counts as missing, like `None`.
    pub fn push(&mut self, reference: u64, values: Vec<Option<String>>) -> Result<(), LinkError> {
        if values.len() != self.columns.len() {
            return Err(LinkError::RowWidth {
                reference,
                expected: self.columns.len(),
                found: values.len(),
            });
        }
        let values = values
            .into_iter()
            .map(|v| v.filter(|s| !s.trim().is_empty()))
            .collect();
        self.references.push(reference);
        self.rows.push(values);
        Ok(())
    }

    /// Column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Position of a column.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The reference of the record at `row`.
    pub fn reference(&self, row: usize) -> Option<u64> {
        self.references.get(row).copied()
    }

    pub(crate) fn references(&self) -> &[u64] {
        &self.references
    }

    /// The value at `row` in `column` (by position), if present.
    pub fn value(&self, row: usize, column: usize) -> Option<&str> {
        self.rows
            .get(row)
            .and_then(|r| r.get(column))
            .and_then(|v| v.as_deref())
    }
}
