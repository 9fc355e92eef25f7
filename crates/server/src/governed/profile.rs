//! A person's or enterprise's profile as a caller may see it: cut to the grant, masked by
//! default, audited before it leaves.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use miaopi_govern::{GovernError, Purpose};
use miaopi_index::{Key, KeyKind, Profile, mask_value};

use super::audit::audit_read;
use super::purpose::{parse_purpose, purpose_text};
use crate::error::{ApiError, ApiResult};
use crate::governed::identity::Caller;
use crate::state::AppState;

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
