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

/// The masked view that console users and defaults get: every field, none unmasked.
fn masked_everything(profile: &Profile) -> BTreeMap<String, Visible> {
    let mut out: BTreeMap<String, Visible> = BTreeMap::new();
    for f in &profile.facts {
        out.entry(f.resource.clone())
            .or_default()
            .fields
            .insert(f.field.clone());
    }
    out
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
