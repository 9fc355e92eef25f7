//! 记录自相矛盾: a register row whose resident ID contradicts the row itself (the ID's birth
//! date or sex is not the row's). Linking keeps such a row in the person's profile (method
//! [`REGISTER_KEY_CONFLICT`]); here it becomes a [`Conflict`] on every fact read from it, so
//! that the decision goes to a person who is told what contradicts what.

use std::collections::BTreeMap;

use miaopi_decide::Provenance;
use miaopi_decide::datum::Datum;
use miaopi_decide::facts::{Conflict, ConflictingValue};
use miaopi_index::mask::mask_id;
pub use miaopi_index::model::REGISTER_KEY_CONFLICT;
use miaopi_model::{ResidentId, Sex};

/// The conflict of a register row linked as [`REGISTER_KEY_CONFLICT`]: the row's birth date
/// (or sex) against the one its ID `key_field` carries, the ID masked.
pub fn register_row_conflict(
    fields: &BTreeMap<String, Datum>,
    key_field: &str,
    provenance: &Provenance,
) -> Conflict {
    let written = match fields.get(key_field) {
        Some(Datum::Text(t)) => t.as_str(),
        _ => "",
    };
    let shown = mask_id(written);
    let from_row = |value: Datum| ConflictingValue {
        value,
        provenance: Some(provenance.clone()),
    };
    let from_id = |value: Datum| ConflictingValue {
        value,
        provenance: None,
    };
    if let Ok(id) = ResidentId::parse(written) {
        if let Some(Datum::Date(row_birth)) = fields.get("birth_date")
            && *row_birth != id.birth_date()
        {
            return Conflict {
                values: vec![
                    from_row(Datum::Date(*row_birth)),
                    from_id(Datum::Date(id.birth_date())),
                ],
                note: format!(
                    "登记记录的公民身份号码 {shown} 所含出生日期 {} 与该记录的出生日期 {row_birth} 不一致，需人工核实",
                    id.birth_date()
                ),
            };
        }
        if let Some(Datum::Text(row_sex)) = fields.get("sex")
            && let Some(sex) = Sex::from_code_or_label(row_sex)
            && sex != id.sex()
        {
            return Conflict {
                values: vec![
                    from_row(Datum::Text(sex.label_zh().to_owned())),
                    from_id(Datum::Text(id.sex().label_zh().to_owned())),
                ],
                note: format!(
                    "登记记录的公民身份号码 {shown} 所含性别「{}」与该记录的性别「{}」不一致，需人工核实",
                    id.sex().label_zh(),
                    sex.label_zh()
                ),
            };
        }
    }
    Conflict {
        values: vec![from_row(Datum::Text(shown.clone()))],
        note: format!(
            "登记记录的公民身份号码 {shown} 与该记录本身的出生日期或性别不一致，需人工核实"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn provenance() -> Provenance {
        Provenance {
            unit: "police".into(),
            resource: "hukou_residents".into(),
            batch_id: "b1".into(),
            ingested_at: chrono::FixedOffset::east_opt(8 * 3600)
                .and_then(|z| z.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single())
                .unwrap(),
            record: "7".into(),
        }
    }

    #[test]
    fn the_note_names_both_birth_dates_and_masks_the_id() {
        // 11010519491231002X with the digits at 2 and 12 swapped: born 1949-12-01 by the ID.
        let fields = BTreeMap::from([
            (
                "resident_id".to_owned(),
                Datum::Text("11310519491201002X".into()),
            ),
            (
                "birth_date".to_owned(),
                Datum::Date(NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()),
            ),
            ("sex".to_owned(), Datum::Text("2".into())),
        ]);
        let c = register_row_conflict(&fields, "resident_id", &provenance());
        assert!(
            c.note.contains("1949-12-01") && c.note.contains("1949-12-31"),
            "{}",
            c.note
        );
        assert!(!c.note.contains("11310519491201002X"), "{}", c.note);
        assert_eq!(c.values.len(), 2);
        assert!(c.values[0].provenance.is_some() && c.values[1].provenance.is_none());
    }

    #[test]
    fn a_sex_contradiction_is_named_when_the_birth_dates_agree() {
        let fields = BTreeMap::from([
            (
                "resident_id".to_owned(),
                Datum::Text("11010519491231002X".into()),
            ),
            (
                "birth_date".to_owned(),
                Datum::Date(NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()),
            ),
            ("sex".to_owned(), Datum::Text("男".into())),
        ]);
        let c = register_row_conflict(&fields, "resident_id", &provenance());
        assert!(
            c.note.contains("性别「女」") && c.note.contains("「男」"),
            "{}",
            c.note
        );
    }
}
