//! Lake rows as JSON objects, for answers and pages.

use crate::error::{ApiError, ApiResult};

/// Arrow batches as JSON objects (one per row).
pub fn batches_to_json(
    batches: &[miaopi_lake::arrow::array::RecordBatch],
) -> ApiResult<Vec<serde_json::Map<String, serde_json::Value>>> {
    let mut buf = Vec::new();
    {
        let mut writer = miaopi_lake::arrow::json::ArrayWriter::new(&mut buf);
        for b in batches {
            writer
                .write(b)
                .map_err(|e| ApiError::internal("encoding records", e))?;
        }
        writer
            .finish()
            .map_err(|e| ApiError::internal("encoding records", e))?;
    }
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&buf).map_err(|e| ApiError::internal("encoding records", e))
}
