//! The purpose of a read (用途): every read of personal data states one.

use miaopi_govern::Purpose;

use crate::error::{ApiError, ApiResult};

/// Parses a purpose: `matter:<事项编码>` or `duty:<履职事由>`.
pub fn parse_purpose(text: Option<&str>) -> ApiResult<Purpose> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(ApiError::bad_request(
            "purpose_required",
            "读取个人或法人数据须说明用途：purpose=matter:<事项编码> 或 purpose=duty:<履职事由>",
        ));
    };
    match text.split_once(':') {
        Some(("matter", code)) if !code.trim().is_empty() => {
            Ok(Purpose::Matter(code.trim().to_string()))
        }
        Some(("duty", duty)) if !duty.trim().is_empty() => {
            Ok(Purpose::Duty(duty.trim().to_string()))
        }
        _ => Err(ApiError::bad_request(
            "bad_purpose",
            format!("用途 {text:?} 的格式应为 matter:<事项编码> 或 duty:<履职事由>"),
        )),
    }
}

/// The text of a purpose as written to the audit chain.
pub fn purpose_text(purpose: &Purpose) -> String {
    match purpose {
        Purpose::Matter(code) => format!("matter:{code}"),
        Purpose::Duty(duty) => format!("duty:{duty}"),
    }
}
