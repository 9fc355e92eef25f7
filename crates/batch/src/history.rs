//! Record history (数据历史): every changed version of a record, with its validity.
//!
//! `dwd` is append-only: each batch adds the rows it received. For a resource with a record
//! `key` in the catalogue, the view `hist.<resource>` keeps, per record, only the rows whose
//! standardised values differ from the record's previous row (re-sent unchanged records are not
//! new versions), and adds `valid_from` (when the platform received that version) and
//! `valid_to` (when the next version arrived; null while current). The state of the data as of
//! a time T is then `WHERE valid_from <= T AND (valid_to IS NULL OR valid_to > T)`.
//!
//! Rows whose key is missing cannot be matched to earlier versions: each is its own record.
//! Within one batch, rows are ordered by their place in the file, so an older version sent
//! before the current one (a stale row) is valid for no time at all.

use miaopi_catalog::{Pack, Resource};

/// Quotes an identifier for SQL (field names are snake_case ASCII, checked by the catalogue).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The `SELECT` defining `hist.<resource>`, or `None` for a resource without a record key.
pub fn history_view(resource: &Resource) -> Option<String> {
    if resource.key.is_empty() {
        return None;
    }
    let key_null = resource
        .key
        .iter()
        .map(|k| format!("{} IS NULL", ident(k)))
        .collect::<Vec<_>>()
        .join(" OR ");
    let key_text = resource
        .key
        .iter()
        .map(|k| format!("CAST({} AS VARCHAR)", ident(k)))
        .collect::<Vec<_>>()
        .join(", ");
    // Nulls are spelt out so that (a, NULL, b) and (a, b, NULL) differ.
    let values = resource
        .fields
        .iter()
        .map(|f| format!("coalesce(CAST({} AS VARCHAR), '\\N')", ident(&f.name)))
        .collect::<Vec<_>>()
        .join(", ");
    let order = "ORDER BY ingested_at, batch_id, record";
    Some(format!(
        "WITH v AS (\
           SELECT *, \
             CASE WHEN {key_null} THEN concat_ws(':', batch_id, CAST(record AS VARCHAR)) \
                  ELSE concat_ws(chr(31), {key_text}) END AS record_key, \
             concat_ws(chr(31), {values}) AS record_values \
           FROM dwd.{table}), \
         c AS (SELECT *, lag(record_values) OVER (PARTITION BY record_key {order}) AS previous_values FROM v), \
         changed AS (SELECT * FROM c WHERE previous_values IS NULL OR previous_values <> record_values) \
         SELECT *, ingested_at AS valid_from, \
           lead(ingested_at) OVER (PARTITION BY record_key {order}) AS valid_to \
         FROM changed",
        table = ident(&resource.code),
    ))
}

/// Every history view of the pack, as (`hist.<resource>`, `SELECT …`).
pub fn history_views(pack: &Pack) -> Vec<(String, String)> {
    pack.resources
        .iter()
        .filter_map(|r| history_view(r).map(|sql| (format!("hist.{}", r.code), sql)))
        .collect()
}
