//! Identities: consumers (数据使用方) with API keys and OAuth2 client credentials, console
//! accounts (控制台账号) with roles, and sessions.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::secret::{
    hash_secret, new_id, parse_ts, random_hex, sm3_hex, ts, verify_against_nothing, verify_secret,
};
use crate::{GovernError, Governance};

/// Prefix of API keys: `mpk_<consumer_id>_<secret>`.
const API_KEY_PREFIX: &str = "mpk_";
/// Random bytes in an API key, client secret or token (256 bits).
const SECRET_BYTES: usize = 32;
/// Characters of an API key's secret kept in clear to find its row; the other 56 hex
/// characters (224 bits) are still unguessable.
const KEY_PREFIX_CHARS: usize = 8;
/// Console passwords must have at least this many characters.
pub(crate) const MIN_PASSWORD_CHARS: usize = 8;

/// 数据使用方: a department or system that reads the platform's data through the API, bound
/// to grants and a rate limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    pub consumer_id: String,
    /// 名称, e.g. 福田区人力资源局.
    pub name: String,
    /// 单位代码 in the catalogue, when the consumer is one of the pack's units.
    pub unit_code: Option<String>,
    /// Requests per minute; 0 suspends the consumer.
    pub rate_limit_per_minute: u32,
}

/// A console role (控制台角色).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// 系统管理员: everything, including reviewing any unit's requests.
    Administrator,
    /// 提供方审核员: reviews conditional share requests for one provider unit's resources.
    ProviderReviewer { unit_code: String },
    /// 事项设计员: maintains 秒批 matter packages.
    MatterDesigner,
    /// 审计员: reads and verifies the audit chain.
    Auditor,
}

impl Role {
    /// The key stored and used in APIs.
    pub fn key(&self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::ProviderReviewer { .. } => "provider_reviewer",
            Role::MatterDesigner => "matter_designer",
            Role::Auditor => "auditor",
        }
    }

    /// The 中文名称 of several roles, joined with 、.
    pub fn labels_zh(roles: &[Role]) -> String {
        roles
            .iter()
            .map(Role::label_zh)
            .collect::<Vec<_>>()
            .join("、")
    }

    /// 中文名称 for the console.
    pub fn label_zh(&self) -> String {
        match self {
            Role::Administrator => "系统管理员".to_owned(),
            Role::ProviderReviewer { unit_code } => format!("提供方审核员（{unit_code}）"),
            Role::MatterDesigner => "事项设计员".to_owned(),
            Role::Auditor => "审计员".to_owned(),
        }
    }

    fn from_row(role: &str, unit_code: String) -> Result<Role, GovernError> {
        Ok(match role {
            "administrator" => Role::Administrator,
            "provider_reviewer" => Role::ProviderReviewer { unit_code },
            "matter_designer" => Role::MatterDesigner,
            "auditor" => Role::Auditor,
            other => return Err(GovernError::Corrupt(format!("role {other:?}"))),
        })
    }

    fn unit_code(&self) -> &str {
        match self {
            Role::ProviderReviewer { unit_code } => unit_code,
            _ => "",
        }
    }
}

/// 控制台账号.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub account_id: String,
    pub username: String,
    /// 显示名称.
    pub display_name: String,
    pub roles: Vec<Role>,
}

impl Account {
    pub fn is_administrator(&self) -> bool {
        self.roles.contains(&Role::Administrator)
    }

    /// Whether this account may review share requests for resources of `unit_code`: an
    /// administrator, or a reviewer of exactly that unit.
    pub fn may_review(&self, unit_code: &str) -> bool {
        self.roles.iter().any(|r| match r {
            Role::Administrator => true,
            Role::ProviderReviewer { unit_code: u } => u == unit_code,
            _ => false,
        })
    }
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// A console user.
    Account(Account),
    /// A citizen (群众), identified by resident ID (GB 11643, canonical form).
    Citizen { resident_id: String },
    /// A consumer using a session instead of a key or token.
    Consumer(Consumer),
}

/// An OAuth2 access token (client credentials grant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds of validity from issue.
    pub expires_in: u64,
    pub expires_at: DateTime<Utc>,
    pub consumer_id: String,
}

fn consumer_from_row(row: &SqliteRow) -> Result<Consumer, GovernError> {
    Ok(Consumer {
        consumer_id: row.try_get("consumer_id")?,
        name: row.try_get("name")?,
        unit_code: row.try_get("unit_code")?,
        rate_limit_per_minute: u32::try_from(row.try_get::<i64, _>("rate_limit_per_minute")?)
            .map_err(|_| GovernError::Corrupt("rate limit out of range".into()))?,
    })
}

pub(crate) fn expiry(now: DateTime<Utc>, ttl_s: u64) -> Result<DateTime<Utc>, GovernError> {
    i64::try_from(ttl_s)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| GovernError::Invalid(format!("有效期过长：{ttl_s} 秒")))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Governance {
    // ---- consumers ----

    /// Registers a consumer (数据使用方): a unit code from the catalogue or a free name.
    pub async fn create_consumer(
        &self,
        name: &str,
        unit_code: Option<&str>,
        rate_limit_per_minute: u32,
    ) -> Result<Consumer, GovernError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(GovernError::Invalid("数据使用方名称不能为空".into()));
        }
        let consumer = Consumer {
            consumer_id: new_id("csm")?,
            name: name.to_owned(),
            unit_code: unit_code
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned),
            rate_limit_per_minute,
        };
        sqlx::query(
            "INSERT INTO gov_consumers (consumer_id, name, unit_code, rate_limit_per_minute)
             VALUES (?, ?, ?, ?)",
        )
        .bind(&consumer.consumer_id)
        .bind(&consumer.name)
        .bind(&consumer.unit_code)
        .bind(i64::from(rate_limit_per_minute))
        .execute(&self.pool)
        .await?;
        Ok(consumer)
    }

    /// Every consumer, by name.
    pub async fn consumers(&self) -> Result<Vec<Consumer>, GovernError> {
        let rows = sqlx::query(
            "SELECT consumer_id, name, unit_code, rate_limit_per_minute FROM gov_consumers
             ORDER BY name, consumer_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(consumer_from_row).collect()
    }

    pub async fn consumer(&self, consumer_id: &str) -> Result<Option<Consumer>, GovernError> {
        let row = sqlx::query(
            "SELECT consumer_id, name, unit_code, rate_limit_per_minute FROM gov_consumers
             WHERE consumer_id = ?",
        )
        .bind(consumer_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(consumer_from_row).transpose()
    }

    pub(crate) async fn require_consumer(
        &self,
        consumer_id: &str,
    ) -> Result<Consumer, GovernError> {
        self.consumer(consumer_id)
            .await?
            .ok_or_else(|| GovernError::UnknownConsumer(consumer_id.to_owned()))
    }

    /// Issues an API key and returns it in plain text, once: `mpk_<consumer_id>_<secret>`.
    /// Only an Argon2id hash is stored. A consumer may hold several keys (rotation).
    pub async fn issue_api_key(&self, consumer_id: &str) -> Result<String, GovernError> {
        self.require_consumer(consumer_id).await?;
        let secret = random_hex(SECRET_BYTES)?;
        let key = format!("{API_KEY_PREFIX}{consumer_id}_{secret}");
        sqlx::query(
            "INSERT INTO gov_api_keys (key_id, consumer_id, key_prefix, key_hash) VALUES (?, ?, ?, ?)",
        )
        .bind(new_id("key")?)
        .bind(consumer_id)
        .bind(&secret[..KEY_PREFIX_CHARS])
        .bind(hash_secret(&key).await?)
        .execute(&self.pool)
        .await?;
        Ok(key)
    }

    /// The consumer a presented API key belongs to; `None` for a malformed, unknown or revoked
    /// key. Costs one Argon2id verification for a well-formed key of a known consumer, so
    /// callers on a hot path should cache positive answers briefly.
    pub async fn authenticate_api_key(
        &self,
        presented: &str,
    ) -> Result<Option<Consumer>, GovernError> {
        let Some((consumer_id, secret)) = presented
            .strip_prefix(API_KEY_PREFIX)
            .and_then(|rest| rest.rsplit_once('_'))
        else {
            return Ok(None);
        };
        if secret.len() != SECRET_BYTES * 2 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let hashes: Vec<String> = sqlx::query_scalar(
            "SELECT key_hash FROM gov_api_keys
             WHERE consumer_id = ? AND key_prefix = ? AND revoked = 0",
        )
        .bind(consumer_id)
        .bind(&secret[..KEY_PREFIX_CHARS])
        .fetch_all(&self.pool)
        .await?;
        if hashes.is_empty() {
            // A well-formed key of no consumer costs what a wrong key costs, so timing does
            // not tell which consumer ids and key prefixes exist.
            verify_against_nothing(presented).await;
        }
        for stored in &hashes {
            if verify_secret(presented, stored).await? {
                return self.consumer(consumer_id).await;
            }
        }
        Ok(None)
    }

    /// Revokes every API key of a consumer; returns how many were active.
    pub async fn revoke_api_keys(&self, consumer_id: &str) -> Result<u64, GovernError> {
        let done = sqlx::query(
            "UPDATE gov_api_keys SET revoked = 1 WHERE consumer_id = ? AND revoked = 0",
        )
        .bind(consumer_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// OAuth2 client credentials: the client id is the consumer id; the secret is returned once
    /// and replaces any earlier one. Argon2id-hashed at rest.
    pub async fn issue_client_secret(&self, consumer_id: &str) -> Result<String, GovernError> {
        self.require_consumer(consumer_id).await?;
        let secret = format!("mcs_{}", random_hex(SECRET_BYTES)?);
        sqlx::query("UPDATE gov_consumers SET client_secret_hash = ? WHERE consumer_id = ?")
            .bind(hash_secret(&secret).await?)
            .bind(consumer_id)
            .execute(&self.pool)
            .await?;
        Ok(secret)
    }

    /// Checks a client id and secret and returns a bearer access token valid `ttl_s` seconds
    /// from `now` (random, stored as its SM3 hash). `None` when the credentials are wrong.
    pub async fn client_credentials_token(
        &self,
        client_id: &str,
        client_secret: &str,
        now: DateTime<Utc>,
        ttl_s: u64,
    ) -> Result<Option<AccessToken>, GovernError> {
        let stored: Option<Option<String>> = sqlx::query_scalar(
            "SELECT client_secret_hash FROM gov_consumers WHERE consumer_id = ?",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(Some(stored)) = stored else {
            verify_against_nothing(client_secret).await;
            return Ok(None);
        };
        if !verify_secret(client_secret, &stored).await? {
            return Ok(None);
        }
        let expires_at = expiry(now, ttl_s)?;
        let token = format!("mpt_{}", random_hex(SECRET_BYTES)?);
        let mut tx = self.pool.begin().await?;
        // Expired tokens are of no use to anyone; dropping them keeps the table small.
        sqlx::query("DELETE FROM gov_access_tokens WHERE consumer_id = ? AND expires_at <= ?")
            .bind(client_id)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO gov_access_tokens (token_hash, consumer_id, issued_at, expires_at)
             VALUES (?, ?, ?, ?)",
        )
        .bind(sm3_hex(token.as_bytes()))
        .bind(client_id)
        .bind(ts(now))
        .bind(ts(expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(AccessToken {
            access_token: token,
            token_type: "Bearer".to_owned(),
            expires_in: ttl_s,
            expires_at,
            consumer_id: client_id.to_owned(),
        }))
    }

    /// The consumer a bearer access token belongs to, if it is known and not expired at `now`.
    pub async fn consumer_for_token(
        &self,
        bearer: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Consumer>, GovernError> {
        let consumer_id: Option<String> = sqlx::query_scalar(
            "SELECT consumer_id FROM gov_access_tokens WHERE token_hash = ? AND expires_at > ?",
        )
        .bind(sm3_hex(bearer.as_bytes()))
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?;
        match consumer_id {
            Some(id) => self.consumer(&id).await,
            None => Ok(None),
        }
    }

    // ---- console accounts ----

    /// Creates a console account. Usernames are 3–32 characters of ASCII letters, digits, `_`,
    /// `.` and `-`; passwords at least 8 characters; at least one role.
    pub async fn create_account(
        &self,
        username: &str,
        password: &str,
        display_name: &str,
        roles: &[Role],
    ) -> Result<Account, GovernError> {
        let username = username.trim();
        let valid_name = (3..=32).contains(&username.len())
            && username
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !valid_name {
            return Err(GovernError::Invalid(
                "用户名须为 3–32 位英文字母、数字或 _ . -".into(),
            ));
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(GovernError::Invalid(format!(
                "密码至少需要 {MIN_PASSWORD_CHARS} 个字符"
            )));
        }
        if roles.is_empty() {
            return Err(GovernError::Invalid("账号至少需要一个角色".into()));
        }
        if roles.iter().any(
            |r| matches!(r, Role::ProviderReviewer { unit_code } if unit_code.trim().is_empty()),
        ) {
            return Err(GovernError::Invalid("提供方审核员必须指定所属单位".into()));
        }
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        let account = Account {
            account_id: new_id("acc")?,
            username: username.to_owned(),
            display_name: display_name.trim().to_owned(),
            roles,
        };
        let password_hash = hash_secret(password).await?;
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO gov_accounts (account_id, username, display_name, password_hash)
             VALUES (?, ?, ?, ?)",
        )
        .bind(&account.account_id)
        .bind(&account.username)
        .bind(&account.display_name)
        .bind(&password_hash)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(GovernError::AccountExists(account.username));
            }
            other => {
                other?;
            }
        }
        for role in &account.roles {
            sqlx::query(
                "INSERT INTO gov_account_roles (account_id, role, unit_code) VALUES (?, ?, ?)",
            )
            .bind(&account.account_id)
            .bind(role.key())
            .bind(role.unit_code())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(account)
    }

    /// The account whose username and password these are; `None` otherwise (also for a
    /// disabled account). Unknown usernames take as long as wrong passwords.
    pub async fn authenticate_account(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Account>, GovernError> {
        let row = sqlx::query(
            "SELECT account_id, password_hash FROM gov_accounts WHERE username = ? AND disabled = 0",
        )
        .bind(username.trim())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            verify_against_nothing(password).await;
            return Ok(None);
        };
        let stored: String = row.try_get("password_hash")?;
        if !verify_secret(password, &stored).await? {
            return Ok(None);
        }
        let account_id: String = row.try_get("account_id")?;
        self.account(&account_id).await
    }

    /// An enabled account by id, with its roles.
    pub async fn account(&self, account_id: &str) -> Result<Option<Account>, GovernError> {
        let row = sqlx::query(
            "SELECT account_id, username, display_name FROM gov_accounts
             WHERE account_id = ? AND disabled = 0",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.account_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    /// An enabled account by username.
    pub async fn account_by_username(
        &self,
        username: &str,
    ) -> Result<Option<Account>, GovernError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT account_id FROM gov_accounts WHERE username = ? AND disabled = 0",
        )
        .bind(username.trim())
        .fetch_optional(&self.pool)
        .await?;
        match id {
            Some(id) => self.account(&id).await,
            None => Ok(None),
        }
    }

    /// Every enabled account, by username.
    pub async fn accounts(&self) -> Result<Vec<Account>, GovernError> {
        let rows = sqlx::query(
            "SELECT account_id, username, display_name FROM gov_accounts WHERE disabled = 0
             ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.account_from_row(row).await?);
        }
        Ok(out)
    }

    /// Replaces an account's password (rotation); its open sessions end.
    pub async fn set_password(&self, account_id: &str, password: &str) -> Result<(), GovernError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(GovernError::Invalid(format!(
                "密码至少需要 {MIN_PASSWORD_CHARS} 个字符"
            )));
        }
        let hash = hash_secret(password).await?;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE gov_accounts SET password_hash = ? WHERE account_id = ?")
            .bind(&hash)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(GovernError::UnknownAccount(account_id.to_owned()));
        }
        sqlx::query(
            "DELETE FROM gov_sessions WHERE principal_kind = 'account' AND principal_id = ?",
        )
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Cuts a consumer off: every API key revoked, the client secret removed, access tokens
    /// and sessions ended. Its grants stay on record (revoke them one by one to end them).
    pub async fn revoke_consumer(&self, consumer_id: &str) -> Result<(), GovernError> {
        self.require_consumer(consumer_id).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE gov_api_keys SET revoked = 1 WHERE consumer_id = ?")
            .bind(consumer_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE gov_consumers SET client_secret_hash = NULL WHERE consumer_id = ?")
            .bind(consumer_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM gov_access_tokens WHERE consumer_id = ?")
            .bind(consumer_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM gov_sessions WHERE principal_kind = 'consumer' AND principal_id = ?",
        )
        .bind(consumer_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables an account: it can no longer log in and its sessions stop working.
    pub async fn disable_account(&self, account_id: &str) -> Result<(), GovernError> {
        let done = sqlx::query("UPDATE gov_accounts SET disabled = 1 WHERE account_id = ?")
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(GovernError::UnknownAccount(account_id.to_owned()));
        }
        Ok(())
    }

    async fn account_from_row(&self, row: &SqliteRow) -> Result<Account, GovernError> {
        let account_id: String = row.try_get("account_id")?;
        let role_rows = sqlx::query(
            "SELECT role, unit_code FROM gov_account_roles WHERE account_id = ?
             ORDER BY role, unit_code",
        )
        .bind(&account_id)
        .fetch_all(&self.pool)
        .await?;
        let mut roles = role_rows
            .iter()
            .map(|r| Role::from_row(&r.try_get::<String, _>("role")?, r.try_get("unit_code")?))
            .collect::<Result<Vec<_>, GovernError>>()?;
        roles.sort();
        Ok(Account {
            account_id,
            username: row.try_get("username")?,
            display_name: row.try_get("display_name")?,
            roles,
        })
    }

    // ---- sessions ----

    /// Opens a session for a console user, a citizen or a consumer: an opaque random token,
    /// stored as its SM3 hash, valid `ttl_s` seconds from `now`.
    pub async fn create_session(
        &self,
        principal: &Principal,
        now: DateTime<Utc>,
        ttl_s: u64,
    ) -> Result<String, GovernError> {
        let (kind, id) = match principal {
            Principal::Account(a) => ("account", a.account_id.as_str()),
            Principal::Citizen { resident_id } => ("citizen", resident_id.as_str()),
            Principal::Consumer(c) => ("consumer", c.consumer_id.as_str()),
        };
        let expires_at = expiry(now, ttl_s)?;
        let token = format!("mps_{}", random_hex(SECRET_BYTES)?);
        sqlx::query(
            "INSERT INTO gov_sessions (token_hash, principal_kind, principal_id, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(sm3_hex(token.as_bytes()))
        .bind(kind)
        .bind(id)
        .bind(ts(now))
        .bind(ts(expires_at))
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// Who a session token belongs to at `now`; `None` when unknown, expired, ended, or its
    /// account or consumer is gone or disabled. Roles are read afresh each time.
    pub async fn session(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Principal>, GovernError> {
        let row = sqlx::query(
            "SELECT principal_kind, principal_id, expires_at FROM gov_sessions WHERE token_hash = ?",
        )
        .bind(sm3_hex(token.as_bytes()))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        if parse_ts(&row.try_get::<String, _>("expires_at")?)? <= now {
            return Ok(None);
        }
        let id: String = row.try_get("principal_id")?;
        let kind: String = row.try_get("principal_kind")?;
        Ok(match kind.as_str() {
            "account" => self.account(&id).await?.map(Principal::Account),
            "citizen" => Some(Principal::Citizen { resident_id: id }),
            "consumer" => self.consumer(&id).await?.map(Principal::Consumer),
            other => return Err(GovernError::Corrupt(format!("session kind {other:?}"))),
        })
    }

    /// Ends a session (logout). Ending an unknown session is not an error.
    pub async fn end_session(&self, token: &str) -> Result<(), GovernError> {
        sqlx::query("DELETE FROM gov_sessions WHERE token_hash = ?")
            .bind(sm3_hex(token.as_bytes()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
