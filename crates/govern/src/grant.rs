//! Grants (共享授权): requests, reviews, and the check on every read.
//!
//! The catalogue decides: 无条件共享 is granted at once, 有条件共享 waits for the provider's
//! reviewer, 不予共享 is refused with its stated basis. Fields graded L3/L4 (较敏感/敏感) are
//! masked unless the request asks for them in clear and a reviewer approves that, so an
//! unconditional resource never hands out sensitive fields unmasked without review.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};
use miaopi_catalog::{Pack, Sensitivity, ShareType};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::audit::{ActorKind, AuditEntry, append_in};
use crate::identity::Account;
use crate::secret::{new_id, parse_ts, ts};
use crate::{GovernError, Governance};

/// China Standard Time (UTC+8): a grant "until 2025-12-31" lasts to the end of that day in
/// Shenzhen, not in UTC.
const CST_OFFSET_S: i32 = 8 * 3600;

/// 用途: what data is read for. Reads are bound to the purpose of their grant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Purpose {
    /// 办理政务服务事项: the matter's code.
    Matter(String),
    /// 履行法定职责: the duty, in words.
    Duty(String),
}

impl Purpose {
    pub fn kind(&self) -> &'static str {
        match self {
            Purpose::Matter(_) => "matter",
            Purpose::Duty(_) => "duty",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Purpose::Matter(v) | Purpose::Duty(v) => v,
        }
    }

    /// Parses `matter:<code>` or `duty:<text>` (the [`Display`](fmt::Display) form).
    pub fn parse(text: &str) -> Option<Purpose> {
        let (kind, value) = text.split_once(':')?;
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        match kind.trim() {
            "matter" => Some(Purpose::Matter(value.to_owned())),
            "duty" => Some(Purpose::Duty(value.to_owned())),
            _ => None,
        }
    }

    /// 中文说明, e.g. `办理事项 senior_allowance`.
    pub fn label_zh(&self) -> String {
        match self {
            Purpose::Matter(code) => format!("办理事项 {code}"),
            Purpose::Duty(duty) => format!("履行职责：{duty}"),
        }
    }

    fn from_parts(kind: &str, value: String) -> Result<Purpose, GovernError> {
        match kind {
            "matter" => Ok(Purpose::Matter(value)),
            "duty" => Ok(Purpose::Duty(value)),
            other => Err(GovernError::Corrupt(format!("purpose kind {other:?}"))),
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.value())
    }
}

/// 共享申请: what a consumer asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRequest {
    pub consumer_id: String,
    /// The resource's code in the catalogue.
    pub resource: String,
    /// 申请的信息项.
    pub fields: Vec<String>,
    /// Fields among `fields` wanted in clear (only L3/L4 fields are masked at all).
    #[serde(default)]
    pub unmasked_fields: Vec<String>,
    pub purpose: Purpose,
    /// 有效期至 (inclusive, China Standard Time).
    pub valid_until: NaiveDate,
    /// 申请理由 / 依据, for the reviewer.
    #[serde(default)]
    pub justification: String,
}

/// 申请状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// 待审核
    Pending,
    /// 已同意
    Approved,
    /// 未同意 / 不予共享
    Refused,
}

impl RequestState {
    pub fn as_str(&self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Refused => "refused",
        }
    }

    pub fn label_zh(&self) -> &'static str {
        match self {
            RequestState::Pending => "待审核",
            RequestState::Approved => "已同意",
            RequestState::Refused => "未同意",
        }
    }

    fn parse(s: &str) -> Result<RequestState, GovernError> {
        match s {
            "pending" => Ok(RequestState::Pending),
            "approved" => Ok(RequestState::Approved),
            "refused" => Ok(RequestState::Refused),
            other => Err(GovernError::Corrupt(format!("request state {other:?}"))),
        }
    }
}

/// A request as stored, with its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRequestRecord {
    pub request_id: String,
    pub consumer_id: String,
    pub resource: String,
    /// 提供方: the resource's unit.
    pub unit_code: String,
    pub share_type: ShareType,
    pub fields: Vec<String>,
    /// Fields among `fields` graded L3/L4: masked unless unmasked by review.
    pub sensitive_fields: Vec<String>,
    /// Sensitive fields asked for in clear.
    pub unmasked_fields: Vec<String>,
    pub purpose: Purpose,
    pub justification: String,
    pub valid_until: NaiveDate,
    pub state: RequestState,
    /// 中文说明 of the state: why it waits, why it was refused.
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    /// Account id of the reviewer.
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub review_note: Option<String>,
    pub grant_id: Option<String>,
}

/// One granted field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantedField {
    pub name: String,
    /// 脱敏: served masked.
    pub masked: bool,
}

/// 共享授权: fields of a resource a consumer may read for a purpose, until a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grant_id: String,
    pub request_id: String,
    pub consumer_id: String,
    pub resource: String,
    pub purpose: Purpose,
    pub fields: Vec<GrantedField>,
    pub valid_until: NaiveDate,
    pub granted_at: DateTime<Utc>,
    /// The end of `valid_until` in China Standard Time.
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Grant {
    /// Not revoked and not expired at `now`.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum GrantDecision {
    /// 已授权 (无条件共享).
    Granted {
        request: GrantRequestRecord,
        grant: Grant,
    },
    /// 待提供方审核.
    Pending { request: GrantRequestRecord },
    /// 不予共享.
    Refused { request: GrantRequestRecord },
}

impl GrantDecision {
    pub fn request(&self) -> &GrantRequestRecord {
        match self {
            GrantDecision::Granted { request, .. }
            | GrantDecision::Pending { request }
            | GrantDecision::Refused { request } => request,
        }
    }

    pub fn grant(&self) -> Option<&Grant> {
        match self {
            GrantDecision::Granted { grant, .. } => Some(grant),
            _ => None,
        }
    }
}

/// The answer to "may this consumer read these fields now, for this purpose".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub consumer_id: String,
    pub resource: String,
    pub purpose: Purpose,
    /// Fields that may be read (all granted fields when none were named), sorted.
    pub fields: Vec<String>,
    /// Those of `fields` that may be read in clear; the rest must be masked.
    pub unmasked_fields: Vec<String>,
    /// Fields asked for but not granted.
    pub denied_fields: Vec<String>,
    /// The grants that allow it.
    pub grant_ids: Vec<String>,
}

impl Authorization {
    pub fn is_masked(&self, field: &str) -> bool {
        !self.unmasked_fields.iter().any(|f| f == field)
    }
}

/// The instant a grant valid "until `date`" ends: the following midnight in China Standard
/// Time.
fn end_of_day_cst(date: NaiveDate) -> Result<DateTime<Utc>, GovernError> {
    let offset = FixedOffset::east_opt(CST_OFFSET_S)
        .ok_or_else(|| GovernError::Corrupt("time zone offset".into()))?;
    let next = date
        .succ_opt()
        .ok_or_else(|| GovernError::Invalid(format!("有效期截止日期无效：{date}")))?;
    next.and_time(NaiveTime::MIN)
        .and_local_timezone(offset)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| GovernError::Invalid(format!("有效期截止日期无效：{date}")))
}

fn today_cst(now: DateTime<Utc>) -> Result<NaiveDate, GovernError> {
    let offset = FixedOffset::east_opt(CST_OFFSET_S)
        .ok_or_else(|| GovernError::Corrupt("time zone offset".into()))?;
    Ok(now.with_timezone(&offset).date_naive())
}

fn to_json(items: &[String]) -> Result<String, GovernError> {
    serde_json::to_string(items).map_err(|e| GovernError::Corrupt(e.to_string()))
}

fn from_json(s: &str) -> Result<Vec<String>, GovernError> {
    serde_json::from_str(s).map_err(|e| GovernError::Corrupt(format!("list {s:?}: {e}")))
}

fn opt_ts(row: &SqliteRow, col: &str) -> Result<Option<DateTime<Utc>>, GovernError> {
    row.try_get::<Option<String>, _>(col)?
        .map(|s| parse_ts(&s))
        .transpose()
}

fn parse_date(s: &str) -> Result<NaiveDate, GovernError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| GovernError::Corrupt(format!("date {s:?}: {e}")))
}

fn share_type_from(s: &str) -> Result<ShareType, GovernError> {
    ShareType::ALL
        .iter()
        .copied()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| GovernError::Corrupt(format!("share type {s:?}")))
}

fn request_from_row(row: &SqliteRow) -> Result<GrantRequestRecord, GovernError> {
    Ok(GrantRequestRecord {
        request_id: row.try_get("request_id")?,
        consumer_id: row.try_get("consumer_id")?,
        resource: row.try_get("resource")?,
        unit_code: row.try_get("unit_code")?,
        share_type: share_type_from(&row.try_get::<String, _>("share_type")?)?,
        fields: from_json(&row.try_get::<String, _>("fields_json")?)?,
        sensitive_fields: from_json(&row.try_get::<String, _>("sensitive_json")?)?,
        unmasked_fields: from_json(&row.try_get::<String, _>("unmasked_json")?)?,
        purpose: Purpose::from_parts(
            &row.try_get::<String, _>("purpose_kind")?,
            row.try_get("purpose_value")?,
        )?,
        justification: row.try_get("justification")?,
        valid_until: parse_date(&row.try_get::<String, _>("valid_until")?)?,
        state: RequestState::parse(&row.try_get::<String, _>("state")?)?,
        reason: row.try_get("reason")?,
        requested_at: parse_ts(&row.try_get::<String, _>("requested_at")?)?,
        reviewed_by: row.try_get("reviewed_by")?,
        reviewed_at: opt_ts(row, "reviewed_at")?,
        review_note: row.try_get("review_note")?,
        grant_id: row.try_get("grant_id")?,
    })
}

/// The grant an approved request gives: sensitive fields masked unless asked for in clear.
fn grant_for(request: &GrantRequestRecord, now: DateTime<Utc>) -> Result<Grant, GovernError> {
    let fields = request
        .fields
        .iter()
        .map(|name| GrantedField {
            name: name.clone(),
            masked: request.sensitive_fields.contains(name)
                && !request.unmasked_fields.contains(name),
        })
        .collect();
    Ok(Grant {
        grant_id: new_id("grt")?,
        request_id: request.request_id.clone(),
        consumer_id: request.consumer_id.clone(),
        resource: request.resource.clone(),
        purpose: request.purpose.clone(),
        fields,
        valid_until: request.valid_until,
        granted_at: now,
        expires_at: end_of_day_cst(request.valid_until)?,
        revoked_at: None,
    })
}

async fn insert_grant(conn: &mut sqlx::SqliteConnection, grant: &Grant) -> Result<(), GovernError> {
    sqlx::query(
        "INSERT INTO gov_grants (grant_id, request_id, consumer_id, resource, purpose_kind,
             purpose_value, valid_until, granted_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&grant.grant_id)
    .bind(&grant.request_id)
    .bind(&grant.consumer_id)
    .bind(&grant.resource)
    .bind(grant.purpose.kind())
    .bind(grant.purpose.value())
    .bind(grant.valid_until.to_string())
    .bind(ts(grant.granted_at))
    .bind(ts(grant.expires_at))
    .execute(&mut *conn)
    .await?;
    for f in &grant.fields {
        sqlx::query("INSERT INTO gov_grant_fields (grant_id, field, masked) VALUES (?, ?, ?)")
            .bind(&grant.grant_id)
            .bind(&f.name)
            .bind(i64::from(f.masked))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Unique, trimmed, non-empty, in the order given.
fn distinct(items: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty() && seen.insert(s.to_string()))
        .map(str::to_owned)
        .collect()
}

impl Governance {
    /// A consumer asks for fields of a resource for a purpose until a date. The resource's
    /// catalogue share type decides: 无条件共享 → granted at once (sensitive fields masked;
    /// asking for them in clear sends the request to review); 有条件共享 → pending until a
    /// reviewer of the resource's unit (or an administrator) approves; 不予共享 → refused with
    /// the catalogue's stated basis. The request and its outcome go on the audit chain.
    pub async fn request_grant(
        &self,
        pack: &Pack,
        req: &GrantRequest,
        now: DateTime<Utc>,
    ) -> Result<GrantDecision, GovernError> {
        self.require_consumer(&req.consumer_id).await?;
        let resource = pack
            .resource(req.resource.trim())
            .ok_or_else(|| GovernError::UnknownResource(req.resource.clone()))?;
        let fields = distinct(&req.fields);
        if fields.is_empty() {
            return Err(GovernError::Invalid("至少需要申请一个信息项".into()));
        }
        let mut sensitive = Vec::new();
        for name in &fields {
            let field = resource
                .field(name)
                .ok_or_else(|| GovernError::UnknownField {
                    resource: resource.code.clone(),
                    field: name.clone(),
                })?;
            if matches!(field.sensitivity, Sensitivity::L3 | Sensitivity::L4) {
                sensitive.push(name.clone());
            }
        }
        let mut unmasked = Vec::new();
        for name in distinct(&req.unmasked_fields) {
            if !fields.contains(&name) {
                return Err(GovernError::Invalid(format!(
                    "要求明文的信息项“{name}”不在申请的信息项中"
                )));
            }
            // Fields below L3 are served in clear anyway; only sensitive ones need a say.
            if sensitive.contains(&name) {
                unmasked.push(name);
            }
        }
        if req.purpose.value().trim().is_empty() {
            return Err(GovernError::Invalid(
                "必须说明用途（事项编码或法定职责）".into(),
            ));
        }
        if req.valid_until < today_cst(now)? {
            return Err(GovernError::Invalid(format!(
                "有效期截止日期 {} 已过",
                req.valid_until
            )));
        }
        // Checked now, so that an unrepresentable date fails the request, not a later review.
        end_of_day_cst(req.valid_until)?;
        let provider = pack
            .unit(&resource.unit)
            .map_or(resource.unit.as_str(), |u| u.name.as_str());
        let condition = resource.share_condition.as_deref().unwrap_or("").trim();
        let (state, reason) = match resource.share_type {
            ShareType::None => (
                RequestState::Refused,
                if condition.is_empty() {
                    format!("信息资源“{}”为不予共享", resource.name)
                } else {
                    format!("信息资源“{}”为不予共享：{condition}", resource.name)
                },
            ),
            ShareType::Conditional => (
                RequestState::Pending,
                if condition.is_empty() {
                    format!("有条件共享，须经提供方（{provider}）审核同意")
                } else {
                    format!("有条件共享，须经提供方（{provider}）审核同意。共享条件：{condition}")
                },
            ),
            ShareType::Unconditional if !unmasked.is_empty() => (
                RequestState::Pending,
                format!(
                    "无条件共享，但申请明文读取敏感信息项（{}），须经提供方（{provider}）审核同意",
                    unmasked.join("、")
                ),
            ),
            ShareType::Unconditional => {
                (RequestState::Approved, "无条件共享，已自动授权".to_owned())
            }
        };
        let mut request = GrantRequestRecord {
            request_id: new_id("req")?,
            consumer_id: req.consumer_id.clone(),
            resource: resource.code.clone(),
            unit_code: resource.unit.clone(),
            share_type: resource.share_type,
            fields,
            sensitive_fields: sensitive,
            unmasked_fields: unmasked,
            purpose: req.purpose.clone(),
            justification: req.justification.trim().to_owned(),
            valid_until: req.valid_until,
            state,
            reason,
            requested_at: parse_ts(&ts(now))?,
            reviewed_by: None,
            reviewed_at: None,
            review_note: None,
            grant_id: None,
        };
        let grant = match state {
            RequestState::Approved => {
                let grant = grant_for(&request, request.requested_at)?;
                request.grant_id = Some(grant.grant_id.clone());
                Some(grant)
            }
            _ => None,
        };

        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO gov_grant_requests (request_id, consumer_id, resource, unit_code,
                 share_type, fields_json, sensitive_json, unmasked_json, purpose_kind,
                 purpose_value, justification, valid_until, state, reason, requested_at, grant_id)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&request.request_id)
        .bind(&request.consumer_id)
        .bind(&request.resource)
        .bind(&request.unit_code)
        .bind(request.share_type.as_str())
        .bind(to_json(&request.fields)?)
        .bind(to_json(&request.sensitive_fields)?)
        .bind(to_json(&request.unmasked_fields)?)
        .bind(request.purpose.kind())
        .bind(request.purpose.value())
        .bind(&request.justification)
        .bind(request.valid_until.to_string())
        .bind(request.state.as_str())
        .bind(&request.reason)
        .bind(ts(request.requested_at))
        .bind(&request.grant_id)
        .execute(&mut *tx)
        .await?;
        if let Some(grant) = &grant {
            insert_grant(&mut tx, grant).await?;
        }
        let entry = AuditEntry {
            actor_kind: ActorKind::Consumer,
            actor_id: request.consumer_id.clone(),
            action: "grant_request".into(),
            resources: vec![request.resource.clone()],
            fields: request.fields.clone(),
            purpose: request.purpose.to_string(),
            request_id: request.request_id.clone(),
            detail: format!("{}：{}", state.label_zh(), request.reason),
            at: request.requested_at,
            ..AuditEntry::default()
        };
        append_in(
            &mut tx,
            std::slice::from_ref(&entry),
            self.checkpoint_interval,
        )
        .await?;
        tx.commit().await?;

        Ok(match grant {
            Some(grant) => GrantDecision::Granted { request, grant },
            None if state == RequestState::Refused => GrantDecision::Refused { request },
            None => GrantDecision::Pending { request },
        })
    }

    /// Requests waiting for review, oldest first; only those for `unit_code`'s resources when
    /// given.
    pub async fn pending_requests(
        &self,
        unit_code: Option<&str>,
    ) -> Result<Vec<GrantRequestRecord>, GovernError> {
        let rows = match unit_code {
            Some(unit) => {
                sqlx::query(
                    "SELECT * FROM gov_grant_requests WHERE state = 'pending' AND unit_code = ?
                     ORDER BY requested_at, request_id",
                )
                .bind(unit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT * FROM gov_grant_requests WHERE state = 'pending'
                     ORDER BY requested_at, request_id",
                )
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(request_from_row).collect()
    }

    /// Every request of a consumer, newest first.
    pub async fn requests_of(
        &self,
        consumer_id: &str,
    ) -> Result<Vec<GrantRequestRecord>, GovernError> {
        let rows = sqlx::query(
            "SELECT * FROM gov_grant_requests WHERE consumer_id = ?
             ORDER BY requested_at DESC, request_id",
        )
        .bind(consumer_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    pub async fn grant_request(
        &self,
        request_id: &str,
    ) -> Result<Option<GrantRequestRecord>, GovernError> {
        let row = sqlx::query("SELECT * FROM gov_grant_requests WHERE request_id = ?")
            .bind(request_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    /// A reviewer approves or refuses a pending request. The reviewer's roles are read afresh
    /// from the store: an administrator, or a reviewer of the resource's unit, may review.
    /// Approval creates the grant (unmasking exactly the sensitive fields asked for in clear).
    pub async fn review_request(
        &self,
        request_id: &str,
        reviewer: &Account,
        approve: bool,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<GrantRequestRecord, GovernError> {
        let mut request = self
            .grant_request(request_id)
            .await?
            .ok_or_else(|| GovernError::UnknownRequest(request_id.to_owned()))?;
        let reviewer = self
            .account(&reviewer.account_id)
            .await?
            .ok_or_else(|| GovernError::UnknownAccount(reviewer.account_id.clone()))?;
        if !reviewer.may_review(&request.unit_code) {
            return Err(GovernError::ReviewerNotAllowed {
                username: reviewer.username,
                unit_code: request.unit_code,
            });
        }
        if request.state != RequestState::Pending {
            return Err(GovernError::AlreadyReviewed {
                request_id: request.request_id,
                state: request.state.label_zh().to_owned(),
            });
        }
        if approve && request.valid_until < today_cst(now)? {
            return Err(GovernError::Invalid(format!(
                "申请的有效期（至 {}）已过，不能同意",
                request.valid_until
            )));
        }
        let now = parse_ts(&ts(now))?;
        let note = note.trim();
        let grant = if approve {
            Some(grant_for(&request, now)?)
        } else {
            None
        };
        request.state = if approve {
            RequestState::Approved
        } else {
            RequestState::Refused
        };
        request.reason = match (approve, note.is_empty()) {
            (true, _) => format!("提供方审核同意（{}）", reviewer.display_name),
            (false, true) => format!("提供方未同意（{}）", reviewer.display_name),
            (false, false) => format!("提供方未同意（{}）：{note}", reviewer.display_name),
        };
        request.reviewed_by = Some(reviewer.account_id.clone());
        request.reviewed_at = Some(now);
        request.review_note = Some(note.to_owned());
        request.grant_id = grant.as_ref().map(|g| g.grant_id.clone());

        let mut tx = self.pool.begin().await?;
        // The state check is in the update itself, so of two concurrent reviews one wins and
        // the other is told it came too late.
        let updated = sqlx::query(
            "UPDATE gov_grant_requests SET state = ?, reason = ?, reviewed_by = ?, reviewed_at = ?,
                 review_note = ?, grant_id = ?
             WHERE request_id = ? AND state = 'pending'",
        )
        .bind(request.state.as_str())
        .bind(&request.reason)
        .bind(&request.reviewed_by)
        .bind(ts(now))
        .bind(note)
        .bind(&request.grant_id)
        .bind(&request.request_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(GovernError::AlreadyReviewed {
                request_id: request.request_id,
                state: "已被他人处理".to_owned(),
            });
        }
        if let Some(grant) = &grant {
            insert_grant(&mut tx, grant).await?;
        }
        let entry = AuditEntry {
            actor_kind: ActorKind::Account,
            actor_id: reviewer.account_id.clone(),
            action: "grant_review".into(),
            resources: vec![request.resource.clone()],
            fields: request.fields.clone(),
            purpose: request.purpose.to_string(),
            request_id: request.request_id.clone(),
            detail: request.reason.clone(),
            at: now,
            ..AuditEntry::default()
        };
        append_in(
            &mut tx,
            std::slice::from_ref(&entry),
            self.checkpoint_interval,
        )
        .await?;
        tx.commit().await?;
        Ok(request)
    }

    /// Revokes a grant at `now` (an administrator or a reviewer of the resource's unit).
    pub async fn revoke_grant(
        &self,
        grant_id: &str,
        by: &Account,
        now: DateTime<Utc>,
    ) -> Result<(), GovernError> {
        let row = sqlx::query(
            "SELECT g.resource, g.consumer_id, r.unit_code FROM gov_grants g
             JOIN gov_grant_requests r ON r.request_id = g.request_id WHERE g.grant_id = ?",
        )
        .bind(grant_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| GovernError::Invalid(format!("未知的共享授权：{grant_id}")))?;
        let unit_code: String = row.try_get("unit_code")?;
        let by = self
            .account(&by.account_id)
            .await?
            .ok_or_else(|| GovernError::UnknownAccount(by.account_id.clone()))?;
        if !by.may_review(&unit_code) {
            return Err(GovernError::ReviewerNotAllowed {
                username: by.username,
                unit_code,
            });
        }
        let now = parse_ts(&ts(now))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE gov_grants SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(grant_id)
        .execute(&mut *tx)
        .await?;
        let entry = AuditEntry {
            actor_kind: ActorKind::Account,
            actor_id: by.account_id.clone(),
            action: "grant_revoke".into(),
            resources: vec![row.try_get("resource")?],
            detail: format!(
                "撤销数据使用方 {} 的授权 {grant_id}",
                row.try_get::<String, _>("consumer_id")?
            ),
            at: now,
            ..AuditEntry::default()
        };
        append_in(
            &mut tx,
            std::slice::from_ref(&entry),
            self.checkpoint_interval,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every grant of a consumer (also expired and revoked ones), newest first.
    pub async fn grants_of(&self, consumer_id: &str) -> Result<Vec<Grant>, GovernError> {
        let rows = sqlx::query(
            "SELECT * FROM gov_grants WHERE consumer_id = ? ORDER BY granted_at DESC, grant_id",
        )
        .bind(consumer_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let grant_id: String = row.try_get("grant_id")?;
            let field_rows = sqlx::query(
                "SELECT field, masked FROM gov_grant_fields WHERE grant_id = ? ORDER BY field",
            )
            .bind(&grant_id)
            .fetch_all(&self.pool)
            .await?;
            let fields = field_rows
                .iter()
                .map(|f| {
                    Ok(GrantedField {
                        name: f.try_get("field")?,
                        masked: f.try_get::<i64, _>("masked")? != 0,
                    })
                })
                .collect::<Result<Vec<_>, GovernError>>()?;
            out.push(Grant {
                grant_id,
                request_id: row.try_get("request_id")?,
                consumer_id: row.try_get("consumer_id")?,
                resource: row.try_get("resource")?,
                purpose: Purpose::from_parts(
                    &row.try_get::<String, _>("purpose_kind")?,
                    row.try_get("purpose_value")?,
                )?,
                fields,
                valid_until: parse_date(&row.try_get::<String, _>("valid_until")?)?,
                granted_at: parse_ts(&row.try_get::<String, _>("granted_at")?)?,
                expires_at: parse_ts(&row.try_get::<String, _>("expires_at")?)?,
                revoked_at: opt_ts(row, "revoked_at")?,
            });
        }
        Ok(out)
    }

    /// The check on every read: which of `fields` (all granted fields when `fields` is empty)
    /// this consumer may read from `resource` for `purpose` at `now`, and which of them in
    /// clear. Grants for the same resource and purpose add up; a field is in clear if any of
    /// them unmasks it. No valid grant, or none of the named fields granted, is
    /// [`GovernError::NotGranted`] with the reason in Chinese.
    pub async fn authorize(
        &self,
        consumer_id: &str,
        resource: &str,
        fields: &[&str],
        purpose: &Purpose,
        now: DateTime<Utc>,
    ) -> Result<Authorization, GovernError> {
        let rows = sqlx::query(
            "SELECT g.grant_id, f.field, f.masked FROM gov_grants g
             JOIN gov_grant_fields f ON f.grant_id = g.grant_id
             WHERE g.consumer_id = ? AND g.resource = ? AND g.purpose_kind = ?
               AND g.purpose_value = ? AND g.revoked_at IS NULL AND g.expires_at > ?
             ORDER BY g.grant_id, f.field",
        )
        .bind(consumer_id)
        .bind(resource)
        .bind(purpose.kind())
        .bind(purpose.value())
        .bind(ts(now))
        .fetch_all(&self.pool)
        .await?;
        let not_granted = |reason: String| GovernError::NotGranted {
            consumer_id: consumer_id.to_owned(),
            resource: resource.to_owned(),
            reason,
        };
        if rows.is_empty() {
            return Err(not_granted(
                self.why_no_grant(consumer_id, resource, purpose, now)
                    .await?,
            ));
        }
        // field → masked (false wins: one grant in clear is enough).
        let mut granted: BTreeMap<String, bool> = BTreeMap::new();
        let mut grant_ids = BTreeSet::new();
        for row in &rows {
            let field: String = row.try_get("field")?;
            let masked = row.try_get::<i64, _>("masked")? != 0;
            grant_ids.insert(row.try_get::<String, _>("grant_id")?);
            granted
                .entry(field)
                .and_modify(|m| *m = *m && masked)
                .or_insert(masked);
        }
        let asked: BTreeSet<&str> = fields.iter().map(|f| f.trim()).collect();
        let (allowed, denied): (Vec<String>, Vec<String>) = if asked.is_empty() {
            (granted.keys().cloned().collect(), Vec::new())
        } else {
            let (a, d): (Vec<&str>, Vec<&str>) =
                asked.iter().partition(|f| granted.contains_key(**f));
            (
                a.into_iter().map(str::to_owned).collect(),
                d.into_iter().map(str::to_owned).collect(),
            )
        };
        if allowed.is_empty() {
            return Err(not_granted(format!(
                "未授权读取信息项：{}",
                denied.join("、")
            )));
        }
        let unmasked_fields = allowed
            .iter()
            .filter(|f| granted.get(f.as_str()) == Some(&false))
            .cloned()
            .collect();
        Ok(Authorization {
            consumer_id: consumer_id.to_owned(),
            resource: resource.to_owned(),
            purpose: purpose.clone(),
            fields: allowed,
            unmasked_fields,
            denied_fields: denied,
            grant_ids: grant_ids.into_iter().collect(),
        })
    }

    /// Why no grant applies, for the refusal message: none at all, another purpose, expired,
    /// or revoked.
    async fn why_no_grant(
        &self,
        consumer_id: &str,
        resource: &str,
        purpose: &Purpose,
        now: DateTime<Utc>,
    ) -> Result<String, GovernError> {
        let rows = sqlx::query(
            "SELECT purpose_kind, purpose_value, valid_until, revoked_at FROM gov_grants
             WHERE consumer_id = ? AND resource = ?",
        )
        .bind(consumer_id)
        .bind(resource)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            let pending: Option<String> = sqlx::query_scalar(
                "SELECT request_id FROM gov_grant_requests
                 WHERE consumer_id = ? AND resource = ? AND state = 'pending'",
            )
            .bind(consumer_id)
            .bind(resource)
            .fetch_optional(&self.pool)
            .await?;
            return Ok(match pending {
                Some(id) => format!("共享申请 {id} 尚待提供方审核"),
                None => "没有该信息资源的共享授权".to_owned(),
            });
        }
        let mut same_purpose = Vec::new();
        for row in &rows {
            let kind: String = row.try_get("purpose_kind")?;
            let value: String = row.try_get("purpose_value")?;
            if kind == purpose.kind() && value == purpose.value() {
                same_purpose.push(row);
            }
        }
        if same_purpose.is_empty() {
            return Ok(format!(
                "授权的用途与本次用途（{}）不符",
                purpose.label_zh()
            ));
        }
        let mut latest_until: Option<String> = None;
        for row in &same_purpose {
            if row.try_get::<Option<String>, _>("revoked_at")?.is_none() {
                let until: String = row.try_get("valid_until")?;
                if latest_until.as_ref().is_none_or(|l| *l < until) {
                    latest_until = Some(until);
                }
            }
        }
        Ok(match latest_until {
            None => "授权已被撤销".to_owned(),
            Some(until) => format!("授权已过期（有效期至 {until}，现在是 {}）", today_cst(now)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purpose_text_round_trips() {
        for p in [
            Purpose::Matter("senior_allowance".into()),
            Purpose::Duty("低保复核".into()),
        ] {
            assert_eq!(Purpose::parse(&p.to_string()), Some(p));
        }
        assert_eq!(Purpose::parse("matter:"), None);
        assert_eq!(Purpose::parse("other:x"), None);
    }

    #[test]
    fn grants_end_at_midnight_china_time() {
        let end = end_of_day_cst(NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()).unwrap();
        assert_eq!(ts(end), "2025-12-31T16:00:00.000000Z");
        let late_evening_utc = DateTime::parse_from_rfc3339("2025-12-31T17:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // 01:00 on 1 January in Shenzhen.
        assert_eq!(
            today_cst(late_evening_utc).unwrap(),
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
        );
    }
}
