//! Reads of one table described by DataFusion expressions, never by SQL text: what a service
//! builds from a caller's parameters (a field name checked against the catalogue, a value to
//! compare), so that no parameter is ever quoted into a query.

use deltalake::datafusion::logical_expr::{Expr, SortExpr};
use deltalake::datafusion::prelude::SessionContext;

use crate::{AsOf, Lake, LakeError, Layer, RecordBatch, check_name};

/// One read of one table: the rows where `filter` holds, in `order_by`, `skip` of them left
/// out and at most `fetch` returned, each as the `columns` expressions.
#[derive(Debug, Clone)]
pub struct TableRead {
    pub layer: Layer,
    pub table: String,
    pub columns: Vec<Expr>,
    pub filter: Option<Expr>,
    pub order_by: Vec<SortExpr>,
    pub skip: usize,
    pub fetch: Option<usize>,
}

impl Lake {
    /// Runs a [`TableRead`] on the table's latest version. A table nobody has written yet
    /// reads as no rows. Only that one table is opened.
    pub async fn read_table(&self, read: TableRead) -> Result<Vec<RecordBatch>, LakeError> {
        check_name(&read.table)?;
        if !self.has_table(read.layer, &read.table) {
            return Ok(Vec::new());
        }
        let table_name = format!("{}.{}", read.layer.as_str(), read.table);
        let sql = |e: deltalake::datafusion::error::DataFusionError| {
            LakeError::Sql(format!("{table_name}: {e}"))
        };
        let ctx = SessionContext::new();
        let Some(provider) = self
            .provider(&ctx, read.layer, &read.table, &AsOf::Latest)
            .await?
        else {
            return Ok(Vec::new());
        };
        let mut df = ctx.read_table(provider).map_err(sql)?;
        if let Some(filter) = read.filter {
            df = df.filter(filter).map_err(sql)?;
        }
        if !read.order_by.is_empty() {
            df = df.sort(read.order_by).map_err(sql)?;
        }
        df.select(read.columns)
            .and_then(|df| df.limit(read.skip, read.fetch))
            .map_err(sql)?
            .collect()
            .await
            .map_err(sql)
    }
}
