//! The demo's identities: console accounts for every role, and two consumers (one with grants,
//! one without). Idempotent: running it again creates nothing twice.

use chrono::{DateTime, Days, Utc};
use miaopi_catalog::{Pack, ShareType};
use serde::{Deserialize, Serialize};

use crate::grant::{GrantRequest, Purpose};
use crate::identity::{Consumer, MIN_PASSWORD_CHARS, Role};
use crate::secret::random_below;
use crate::{GovernError, Governance};

/// The demo consumer with grants: the district's human resources bureau, deciding talent
/// subsidies.
const HR_CONSUMER_NAME: &str = "福田区人力资源局";
const HR_UNIT: &str = "human_resources";
const HR_MATTER: &str = "talent_subsidy";
/// Unconditional resources it is granted, when the pack has them.
const HR_GRANTED: [&str; 3] = [
    "education_degrees",
    "dishonest_debtors",
    "enterprise_registrations",
];
/// A conditional resource it asks for, left pending for the provider's reviewer.
const HR_PENDING: &str = "hukou_residents";
/// The demo consumer without any grant.
const UNGRANTED_CONSUMER_NAME: &str = "未获授权的演示应用";
const DEMO_RATE_LIMIT: u32 = 600;
/// Demo grants last a year.
const DEMO_GRANT_DAYS: u64 = 365;
/// Generated passwords: no 0/O, 1/l/I, so they can be read off a terminal.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const PASSWORD_CHARS: usize = 16;

/// Choices for [`Governance::bootstrap_demo_with`].
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// The `admin` password; generated when `None`.
    pub admin_password: Option<String>,
}

/// A demo console account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoAccount {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// The password, when this run created the account; `None` when it existed already (only
    /// its hash is stored, so it cannot be shown again).
    pub password: Option<String>,
}

/// A demo consumer and fresh credentials for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoConsumer {
    pub consumer: Consumer,
    /// A new API key, issued on every run (the earlier demo keys are revoked), so the caller
    /// always has one to print.
    pub api_key: String,
    /// A new OAuth2 client secret (client id = consumer id).
    pub client_secret: String,
    /// Resources it holds grants on.
    pub granted_resources: Vec<String>,
    /// Resources it has asked for that wait for review.
    pub pending_resources: Vec<String>,
}

/// Everything the demo needs to log in and call the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoCredentials {
    pub accounts: Vec<DemoAccount>,
    pub consumers: Vec<DemoConsumer>,
}

impl DemoCredentials {
    pub fn account(&self, username: &str) -> Option<&DemoAccount> {
        self.accounts.iter().find(|a| a.username == username)
    }

    /// The consumer with grants.
    pub fn granted_consumer(&self) -> Option<&DemoConsumer> {
        self.consumers
            .iter()
            .find(|c| !c.granted_resources.is_empty())
    }

    /// The consumer without grants.
    pub fn ungranted_consumer(&self) -> Option<&DemoConsumer> {
        self.consumers
            .iter()
            .find(|c| c.granted_resources.is_empty() && c.pending_resources.is_empty())
    }
}

/// A new random password (for the demo and for `miaopi admin`).
pub fn generate_password() -> Result<String, GovernError> {
    (0..PASSWORD_CHARS)
        .map(|_| {
            random_below(PASSWORD_ALPHABET.len() as u32)
                .map(|i| char::from(PASSWORD_ALPHABET[i as usize]))
        })
        .collect()
}

impl Governance {
    /// Creates the demo's identities (see [`Governance::bootstrap_demo_with`]) with a
    /// generated `admin` password.
    pub async fn bootstrap_demo(
        &self,
        pack: &Pack,
        now: DateTime<Utc>,
    ) -> Result<DemoCredentials, GovernError> {
        self.bootstrap_demo_with(pack, &DemoOptions::default(), now)
            .await
    }

    /// Idempotently creates: `admin` (系统管理员), `auditor` (审计员), `designer` (事项设计员),
    /// one `reviewer-<unit>` (提供方审核员) per unit with conditional resources; the consumer
    /// 福田区人力资源局 with unconditional grants on a few resources for the talent-subsidy
    /// matter and a conditional request left pending, and a consumer with no grants. Returns
    /// passwords of accounts created now, and a fresh API key and client secret per consumer.
    pub async fn bootstrap_demo_with(
        &self,
        pack: &Pack,
        options: &DemoOptions,
        now: DateTime<Utc>,
    ) -> Result<DemoCredentials, GovernError> {
        if let Some(p) = &options.admin_password
            && p.chars().count() < MIN_PASSWORD_CHARS
        {
            return Err(GovernError::Invalid(format!(
                "管理员密码至少需要 {MIN_PASSWORD_CHARS} 个字符"
            )));
        }
        let mut planned: Vec<(String, String, Vec<Role>)> = vec![
            (
                "admin".into(),
                "系统管理员".into(),
                vec![Role::Administrator],
            ),
            ("auditor".into(), "审计员".into(), vec![Role::Auditor]),
            (
                "designer".into(),
                "事项设计员".into(),
                vec![Role::MatterDesigner],
            ),
        ];
        for unit in &pack.units {
            let conditional = pack
                .resources_of(&unit.code)
                .any(|r| r.share_type == ShareType::Conditional);
            if conditional {
                planned.push((
                    format!("reviewer-{}", unit.code),
                    format!("{}审核员", unit.short_name),
                    vec![Role::ProviderReviewer {
                        unit_code: unit.code.clone(),
                    }],
                ));
            }
        }
        let mut accounts = Vec::with_capacity(planned.len());
        for (username, display_name, roles) in planned {
            let password = if self.account_by_username(&username).await?.is_some() {
                None
            } else {
                let password = match (&options.admin_password, username.as_str()) {
                    (Some(p), "admin") => p.clone(),
                    _ => generate_password()?,
                };
                self.create_account(&username, &password, &display_name, &roles)
                    .await?;
                Some(password)
            };
            accounts.push(DemoAccount {
                username,
                display_name,
                roles,
                password,
            });
        }

        let existing = self.consumers().await?;
        let find_or_create = |name: &'static str, unit: Option<&'static str>| {
            let found = existing.iter().find(|c| c.name == name).cloned();
            async move {
                match found {
                    Some(c) => Ok::<Consumer, GovernError>(c),
                    None => self.create_consumer(name, unit, DEMO_RATE_LIMIT).await,
                }
            }
        };
        let hr_unit = pack.unit(HR_UNIT).map(|_| HR_UNIT);
        let hr = find_or_create(HR_CONSUMER_NAME, hr_unit).await?;
        let ungranted = find_or_create(UNGRANTED_CONSUMER_NAME, None).await?;

        let valid_until = now
            .date_naive()
            .checked_add_days(Days::new(DEMO_GRANT_DAYS))
            .ok_or_else(|| GovernError::Invalid("演示授权的有效期超出范围".into()))?;
        let asked: Vec<String> = self
            .requests_of(&hr.consumer_id)
            .await?
            .into_iter()
            .map(|r| r.resource)
            .collect();
        let mut wanted: Vec<&str> = HR_GRANTED
            .iter()
            .copied()
            .filter(|code| {
                pack.resource(code)
                    .is_some_and(|r| r.share_type == ShareType::Unconditional)
            })
            .collect();
        if wanted.is_empty() {
            // Another pack: any three unconditional resources will do.
            wanted = pack
                .resources
                .iter()
                .filter(|r| r.share_type == ShareType::Unconditional)
                .take(3)
                .map(|r| r.code.as_str())
                .collect();
        }
        if pack
            .resource(HR_PENDING)
            .is_some_and(|r| r.share_type == ShareType::Conditional)
        {
            wanted.push(HR_PENDING);
        }
        for code in wanted {
            if asked.iter().any(|a| a == code) {
                continue;
            }
            let Some(resource) = pack.resource(code) else {
                continue;
            };
            let request = GrantRequest {
                consumer_id: hr.consumer_id.clone(),
                resource: code.to_owned(),
                fields: resource.fields.iter().map(|f| f.name.clone()).collect(),
                unmasked_fields: Vec::new(),
                purpose: Purpose::Matter(HR_MATTER.to_owned()),
                valid_until,
                justification: "新引进人才租房和生活补贴秒批核验（演示）".to_owned(),
            };
            self.request_grant(pack, &request, now).await?;
        }

        let mut consumers = Vec::new();
        for consumer in [hr, ungranted] {
            self.revoke_api_keys(&consumer.consumer_id).await?;
            let api_key = self.issue_api_key(&consumer.consumer_id).await?;
            let client_secret = self.issue_client_secret(&consumer.consumer_id).await?;
            let mut granted_resources: Vec<String> = self
                .grants_of(&consumer.consumer_id)
                .await?
                .into_iter()
                .filter(|g| g.is_valid_at(now))
                .map(|g| g.resource)
                .collect();
            granted_resources.sort();
            granted_resources.dedup();
            let pending_resources = self
                .requests_of(&consumer.consumer_id)
                .await?
                .into_iter()
                .filter(|r| r.state == crate::RequestState::Pending)
                .map(|r| r.resource)
                .collect();
            consumers.push(DemoConsumer {
                consumer,
                api_key,
                client_secret,
                granted_resources,
                pending_resources,
            });
        }
        Ok(DemoCredentials {
            accounts,
            consumers,
        })
    }
}
