//! Streaming reads of lake tables as text rows.

use arrow_array::{Array, StringArray};
use arrow_schema::DataType;
use futures::StreamExt;
use miaopi_lake::datafusion::prelude::SessionContext;

use crate::EntityError;

fn sql_error(e: impl std::fmt::Display) -> EntityError {
    EntityError::Sql(e.to_string())
}

/// A query's result, one record batch at a time, every column cast to text: for callers that
/// must `await` between batches (writing each to a table) instead of collecting the rows.
pub struct TextBatches {
    stream: miaopi_lake::datafusion::physical_plan::SendableRecordBatchStream,
}

/// One batch of a [`TextBatches`] stream.
pub struct TextBatch {
    pub columns: Vec<StringArray>,
    pub rows: usize,
}

impl TextBatch {
    /// Row `i`'s values into `out` (`None` for null).
    pub fn row<'a>(&'a self, i: usize, out: &mut Vec<Option<&'a str>>) {
        out.clear();
        out.extend(
            self.columns
                .iter()
                .map(|c| if c.is_null(i) { None } else { Some(c.value(i)) }),
        );
    }
}

impl TextBatches {
    pub async fn open(ctx: &SessionContext, sql: &str) -> Result<TextBatches, EntityError> {
        let df = ctx.sql(sql).await.map_err(sql_error)?;
        let stream = df.execute_stream().await.map_err(sql_error)?;
        Ok(TextBatches { stream })
    }

    pub async fn next(&mut self) -> Result<Option<TextBatch>, EntityError> {
        let Some(batch) = self.stream.next().await else {
            return Ok(None);
        };
        let batch = batch.map_err(sql_error)?;
        let columns: Vec<StringArray> = batch
            .columns()
            .iter()
            .map(|c| {
                let text = miaopi_lake::arrow::compute::cast(c, &DataType::Utf8)
                    .map_err(|e| EntityError::Arrow(e.to_string()))?;
                text.as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .ok_or_else(|| EntityError::Arrow("a column did not cast to text".into()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(TextBatch {
            columns,
            rows: batch.num_rows(),
        }))
    }
}

/// Runs `sql` and calls `row` for every result row, every column as text (`None` for null),
/// batch by batch, so a table of any size streams through in bounded memory. Returns the rows.
pub async fn for_each_row(
    ctx: &SessionContext,
    sql: &str,
    mut row: impl FnMut(&[Option<&str>]),
) -> Result<u64, EntityError> {
    let mut batches = TextBatches::open(ctx, sql).await?;
    let mut rows = 0u64;
    while let Some(batch) = batches.next().await? {
        let mut values: Vec<Option<&str>> = Vec::with_capacity(batch.columns.len());
        for i in 0..batch.rows {
            batch.row(i, &mut values);
            row(&values);
            rows += 1;
        }
    }
    Ok(rows)
}

/// Quotes an identifier for DataFusion SQL.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `SELECT <lineage>, <every field of the resource as text> FROM dwd.<resource>`: the field
/// values start at column `lineage.len()`, in catalogue order.
pub fn select_fields_as_text(resource: &miaopi_catalog::Resource, lineage: &[&str]) -> String {
    let fields: Vec<String> = resource
        .fields
        .iter()
        .map(|f| format!("CAST({} AS VARCHAR)", ident(&f.name)))
        .collect();
    format!(
        "SELECT {}, {} FROM dwd.{}",
        lineage.join(", "),
        fields.join(", "),
        ident(&resource.code)
    )
}
