//! Receipts as shown (other parties masked) and whose data a decision used.

use std::collections::BTreeMap;

use miaopi_index::mask_value;

use crate::state::AppState;

/// The package a receipt was decided under, if it is loaded.
fn receipt_package<'a>(
    state: &'a AppState,
    receipt: &miaopi_decide::Receipt,
) -> Option<&'a miaopi_decide::Package> {
    state
        .platform
        .packages
        .iter()
        .find(|p| p.hash == receipt.matter.package_hash)
}

/// A receipt as shown to anyone (the applicant, a console user): the applicant's own data as
/// decided; every other party's key masked, their facts' values masked at the level the
/// catalogue gives the field, and any other person's resident ID in any text (reasons, form
/// inputs, parties) masked. The stored receipt — what replay and audit use — is untouched.
pub fn receipt_for_display(
    state: &AppState,
    receipt: &miaopi_decide::Receipt,
) -> serde_json::Value {
    let mut json = serde_json::to_value(receipt).unwrap_or_default();
    let applicant = receipt.application.applicant.as_str().to_owned();
    if let (Some(package), Some(facts)) = (
        receipt_package(state, receipt),
        json.get_mut("facts")
            .and_then(serde_json::Value::as_object_mut),
    ) {
        for f in package.facts.iter().filter(|f| f.party != "applicant") {
            let Some(fact) = facts.get_mut(&f.name) else {
                continue;
            };
            let (field, level) = match f.binding() {
                Some(b) => {
                    let field = b.field.clone().unwrap_or_else(|| f.name.clone());
                    let level = state
                        .pack
                        .resource(&b.resource)
                        .and_then(|r| r.field(&field))
                        .map_or(4, |fd| fd.sensitivity.level());
                    (field, level)
                }
                None => (f.name.clone(), 3),
            };
            let shown = receipt
                .facts
                .get(&f.name)
                .and_then(|v| v.value.as_ref())
                .map(|d| mask_value(&field, &d.display_zh(), level));
            if let Some(obj) = fact.as_object_mut() {
                obj.insert(
                    "value".into(),
                    shown.map_or(serde_json::Value::Null, serde_json::Value::String),
                );
                if obj.get("conflict").is_some_and(|c| !c.is_null()) {
                    obj.insert("conflict".into(), "（数据冲突，已脱敏）".into());
                }
            }
        }
    }
    mask_other_ids(&mut json, &applicant);
    json
}

/// Masks every valid 18-digit resident ID in every string of `json`.
pub fn mask_ids(json: &mut serde_json::Value) {
    mask_other_ids(json, "");
}

/// Masks, in every string of `json`, each valid 18-digit resident ID other than `keep`.
fn mask_other_ids(json: &mut serde_json::Value, keep: &str) {
    match json {
        serde_json::Value::String(s) => {
            if let Some(masked) = mask_ids_in(s, keep) {
                *s = masked;
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                mask_other_ids(item, keep);
            }
        }
        serde_json::Value::Object(map) => {
            for value in map.values_mut() {
                mask_other_ids(value, keep);
            }
        }
        _ => {}
    }
}

/// `text` with every resident ID but `keep` masked; `None` when nothing changed.
fn mask_ids_in(text: &str, keep: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let id_char = |i: usize, c: char| c.is_ascii_digit() || (i == 17 && matches!(c, 'X' | 'x'));
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        // Within a longer run of digits it is some other number; glued to letters it is
        // still an ID.
        let starts_run = i == 0 || !chars[i - 1].is_ascii_digit();
        if starts_run && i + 18 <= chars.len() {
            let candidate: String = chars[i..i + 18].iter().collect();
            let ends_run = chars.get(i + 18).is_none_or(|c| !c.is_ascii_digit());
            if ends_run
                && candidate.chars().enumerate().all(|(k, c)| id_char(k, c))
                && let Ok(id) = miaopi_model::ResidentId::parse(&candidate)
                && id.as_str() != keep
            {
                out.push_str(&id.masked());
                changed = true;
                i += 18;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    changed.then_some(out)
}

/// Whose data a decision used: the applicant and every party established, each with the facts
/// read about them, for one audit entry per subject.
pub fn decision_subjects(
    state: &AppState,
    receipt: &miaopi_decide::Receipt,
) -> Vec<(String, Vec<String>)> {
    let package = receipt_package(state, receipt);
    let facts_of = |role: &str| -> Vec<String> {
        match package {
            Some(p) => p
                .facts
                .iter()
                .filter(|f| f.party == role && receipt.facts.contains_key(&f.name))
                .map(|f| f.name.clone())
                .collect(),
            None => receipt.facts.keys().cloned().collect(),
        }
    };
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    out.insert(
        receipt.application.applicant.as_str().to_owned(),
        facts_of("applicant"),
    );
    for (role, key) in &receipt.parties {
        if let Some(key) = key
            && role != "applicant"
        {
            out.entry(key.as_str().to_owned())
                .or_default()
                .extend(facts_of(role));
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::mask_ids_in;

    #[test]
    fn other_peoples_ids_are_masked_in_text_and_the_applicants_kept() {
        let applicant = "11010519491231002X";
        let father = "440304198001011239";
        let text = format!("父亲 {father}；申请人 {applicant}；编号 A{father}");
        let masked = mask_ids_in(&text, applicant).unwrap();
        assert!(!masked.contains(father), "{masked}");
        assert!(masked.contains("440304********1239"), "{masked}");
        assert!(masked.contains(applicant), "{masked}");
        // Glued to letters it is masked too; inside a longer number it is not an ID.
        assert!(masked.ends_with("A440304********1239"), "{masked}");
        assert_eq!(mask_ids_in(&format!("9{father}"), applicant), None);
        assert_eq!(mask_ids_in("年龄 85 岁", applicant), None);
        // A number failing the check digit is not a resident ID.
        assert_eq!(mask_ids_in("440304198001011238", applicant), None);
    }
}
