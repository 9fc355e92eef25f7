//! Governed reads (共享授权): what a caller may see of a person's or enterprise's data, for a
//! purpose, masked by default — and the audit entry that every such read appends before the
//! answer leaves. The API and the console both read personal data only through here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use miaopi_govern::{AuditEntry, GovernError, Purpose};
use miaopi_index::{Key, KeyKind, Profile, mask_value};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, current_request_id};
use crate::state::AppState;

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

/// What one caller may see of one resource: fields, and which of them unmasked.
#[derive(Debug, Default, Clone)]
pub struct Visible {
    pub fields: BTreeSet<String>,
    pub unmasked: BTreeSet<String>,
}

/// Per resource: what the caller may see. `None` means everything, unmasked (the data's own
/// subject reading it).
pub type Visibility = Option<BTreeMap<String, Visible>>;

/// Asks governance, resource by resource, what a consumer may read for a purpose.
pub async fn consumer_visibility(
    state: &AppState,
    consumer_id: &str,
    wanted: Vec<(String, Vec<String>)>,
    purpose: &Purpose,
) -> ApiResult<BTreeMap<String, Visible>> {
    let now = Utc::now();
    let mut out = BTreeMap::new();
    for (resource, fields) in wanted {
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        match state
            .gov
            .authorize(consumer_id, &resource, &fields, purpose, now)
            .await
        {
            Ok(auth) => {
                out.insert(
                    resource.to_string(),
                    Visible {
                        fields: auth.fields.iter().cloned().collect(),
                        unmasked: auth.unmasked_fields.iter().cloned().collect(),
                    },
                );
            }
            Err(GovernError::NotGranted { .. }) => {}
            Err(e) => return Err(ApiError::internal("checking a grant", e)),
        }
    }
    Ok(out)
}

/// The masked view that console users and defaults get: every field, none unmasked; every
/// resource behind an edge or a link.
fn masked_everything(profile: &Profile) -> BTreeMap<String, Visible> {
    let mut out: BTreeMap<String, Visible> = BTreeMap::new();
    for f in &profile.facts {
        out.entry(f.resource.clone())
            .or_default()
            .fields
            .insert(f.field.clone());
    }
    for resource in profile_resources(profile) {
        out.entry(resource).or_default();
    }
    out
}

/// Every resource a profile draws on: its facts', golden values', edges' and links'.
fn profile_resources(profile: &Profile) -> BTreeSet<String> {
    profile
        .facts
        .iter()
        .map(|f| f.resource.clone())
        .chain(profile.golden.values().map(|g| g.resource.clone()))
        .chain(profile.edges.iter().map(|e| e.resource.clone()))
        .chain(profile.links.iter().map(|l| l.resource.clone()))
        .collect()
}

/// A profile cut to what is visible: facts and golden values of granted fields only, masked
/// unless unmasked; person keys masked unless the caller may see resident IDs unmasked. Works
/// in place: a read allocates only the masked values.
pub fn cut_profile(mut profile: Profile, visible: &BTreeMap<String, Visible>) -> Profile {
    let sees = |resource: &str, field: &str| {
        visible
            .get(resource)
            .is_some_and(|v| v.fields.contains(field))
    };
    let unmasked = |resource: &str, field: &str| {
        visible
            .get(resource)
            .is_some_and(|v| v.unmasked.contains(field))
    };
    // A golden value is masked at the level of the facts it came from (before they are cut).
    let golden_levels: BTreeMap<String, u8> = profile
        .golden
        .iter()
        .map(|(field, g)| {
            let level = profile
                .facts
                .iter()
                .find(|f| &f.field == field && f.resource == g.resource)
                .map_or(4, |f| f.sensitivity);
            (field.clone(), level)
        })
        .collect();
    profile.facts.retain(|f| sees(&f.resource, &f.field));
    // A relation or a link's evidence says as much as the record behind it: only from a
    // resource the caller may read.
    profile.edges.retain(|e| visible.contains_key(&e.resource));
    profile.links.retain(|l| visible.contains_key(&l.resource));
    for f in &mut profile.facts {
        if !unmasked(&f.resource, &f.field) {
            f.value = mask_value(&f.field, &f.value, f.sensitivity);
        }
    }
    profile.golden.retain(|field, g| sees(&g.resource, field));
    for (field, g) in &mut profile.golden {
        let level = golden_levels.get(field).copied().unwrap_or(4);
        g.conflicts.retain(|c| sees(&c.resource, field));
        if !unmasked(&g.resource, field) {
            g.value = mask_value(field, &g.value, level);
            for c in &mut g.conflicts {
                c.value = mask_value(field, &c.value, level);
            }
        }
    }
    let ids_unmasked = visible
        .values()
        .any(|v| v.unmasked.iter().any(|f| f == "resident_id"));
    if !ids_unmasked {
        let mut keys_only = Profile::new(profile.entity_id.clone(), profile.kind);
        keys_only.keys = std::mem::take(&mut profile.keys);
        profile.keys = keys_only.masked().keys;
    }
    profile
}

/// Appends one read to the audit chain. A read that cannot be audited is not served.
pub async fn audit_read(
    state: &AppState,
    caller: &Caller,
    subject: &str,
    action: &str,
    fields: Vec<String>,
    purpose: &str,
) -> ApiResult<()> {
    audit_reads(
        state,
        caller,
        &[subject.to_string()],
        action,
        &fields,
        purpose,
    )
    .await
}

/// Appends one entry per subject (all in the same group commit when the writer is idle).
pub async fn audit_reads(
    state: &AppState,
    caller: &Caller,
    subjects: &[String],
    action: &str,
    fields: &[String],
    purpose: &str,
) -> ApiResult<()> {
    let (actor_kind, actor_id) = caller.actor();
    let resources: Vec<String> = fields
        .iter()
        .filter_map(|f| f.split_once('.').map(|(r, _)| r.to_string()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let request_id = current_request_id();
    let at = Utc::now();
    let appends = subjects.iter().map(|subject| {
        state.audit.submit(AuditEntry {
            actor_kind,
            actor_id: actor_id.clone(),
            subject: subject.clone(),
            subject_masked: String::new(),
            action: action.to_string(),
            resources: resources.clone(),
            fields: fields.to_vec(),
            purpose: purpose.to_string(),
            request_id: request_id.clone(),
            detail: String::new(),
            at,
        })
    });
    futures::future::try_join_all(appends)
        .await
        .map_err(|e| ApiError::internal("writing the audit chain", e))?;
    Ok(())
}

/// The fields returned, as `resource.field`, for the audit entry.
pub fn fields_returned(profile: &Profile) -> Vec<String> {
    let set: BTreeSet<String> = profile
        .facts
        .iter()
        .map(|f| format!("{}.{}", f.resource, f.field))
        .collect();
    set.into_iter().collect()
}

/// The governed read of one profile by key: who may see what, cut and masked, audited.
/// `subject` is the key as the caller gave it (the audit chain records whose data it was).
pub async fn read_profile(
    state: &AppState,
    caller: &Caller,
    key: &Key,
    purpose: Option<&str>,
) -> ApiResult<Profile> {
    let subject = key.value().to_string();
    let (purpose_str, visible) = match caller {
        Caller::Citizen { resident_id } => {
            if key.kind() != KeyKind::PersonId || resident_id != &subject {
                return Err(ApiError::forbidden(
                    "not_own_data",
                    "个人只能查询本人的数据",
                ));
            }
            ("duty:本人查询".to_string(), None)
        }
        Caller::Account(_) => {
            if !(caller.is_administrator() || caller.is_auditor()) {
                return Err(ApiError::forbidden(
                    "role_required",
                    "只有管理员或审计员可以在控制台查询个人或法人数据",
                ));
            }
            let purpose = match purpose {
                Some(_) => parse_purpose(purpose)?,
                None => Purpose::Duty("控制台查询".into()),
            };
            (
                purpose_text(&purpose),
                Some(BTreeMap::<String, Visible>::new()),
            )
        }
        Caller::Consumer(c) => {
            let purpose = parse_purpose(purpose)?;
            let now = Utc::now();
            // Refuse before looking anything up, so a consumer without grants cannot even learn
            // whether a person is known.
            let grants = state
                .gov
                .grants_of(&c.consumer_id)
                .await
                .map_err(|e| ApiError::internal("reading grants", e))?;
            if !grants
                .iter()
                .any(|g| g.is_valid_at(now) && g.purpose == purpose)
            {
                return Err(ApiError::forbidden(
                    "not_granted",
                    format!(
                        "{} 没有用于“{}”的有效共享授权，请先提交共享申请",
                        c.name,
                        purpose_text(&purpose)
                    ),
                ));
            }
            (
                purpose_text(&purpose),
                Some(BTreeMap::<String, Visible>::new()),
            )
        }
    };
    let profile = state
        .platform
        .facts
        .index()
        .get_by_key(key)
        .map_err(|e| ApiError::internal("reading the entity index", e))?
        .ok_or_else(|| {
            ApiError::not_found(format!("未找到 {}", mask_value("resident_id", &subject, 4)))
        })?;
    let view = match (caller, visible) {
        (_, None) => profile,
        (Caller::Consumer(c), Some(_)) => {
            let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for f in &profile.facts {
                wanted
                    .entry(f.resource.clone())
                    .or_default()
                    .insert(f.field.clone());
            }
            // Resources behind edges or links only (an employer's `employs` edge): asked for
            // with no fields, so only a grant of the resource lets the relation through.
            for resource in profile_resources(&profile) {
                wanted.entry(resource).or_default();
            }
            let wanted: Vec<(String, Vec<String>)> = wanted
                .into_iter()
                .map(|(r, fs)| (r, fs.into_iter().collect()))
                .collect();
            let purpose = parse_purpose(Some(&purpose_str))?;
            let visible = consumer_visibility(state, &c.consumer_id, wanted, &purpose).await?;
            if visible.is_empty() {
                return Err(ApiError::forbidden(
                    "not_granted",
                    format!(
                        "{} 的共享授权不覆盖该对象的任何数据（用途 {purpose_str}）",
                        c.name
                    ),
                ));
            }
            cut_profile(profile, &visible)
        }
        (_, Some(_)) => {
            let everything = masked_everything(&profile);
            cut_profile(profile, &everything)
        }
    };
    audit_read(
        state,
        caller,
        &subject,
        "read_profile",
        fields_returned(&view),
        &purpose_str,
    )
    .await?;
    Ok(view)
}

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
