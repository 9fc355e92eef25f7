//! `miaopi admin`: accounts, consumers, API keys and grants of a state directory, for a
//! production start where `miaopi serve` creates nothing by itself. Every new secret is printed
//! once and stored only as an Argon2id hash.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use miaopi_catalog::Pack;
use miaopi_govern::{
    Account, ActorKind, AuditEntry, Governance, GrantRequest, Purpose, Role, generate_password,
};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Console accounts (工作人员账号).
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Consumers (数据使用方): department systems with API keys and OAuth2 client secrets.
    Consumer {
        #[command(subcommand)]
        command: ConsumerCommand,
    },
    /// Grants (共享授权).
    Grant {
        #[command(subcommand)]
        command: GrantCommand,
    },
}

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Create an account with a generated password (printed once).
    Create {
        #[arg(long)]
        username: String,
        /// The name shown in the console (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// administrator, auditor, matter_designer or provider_reviewer:UNIT (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// Every account with its roles.
    List,
    /// A new generated password (printed once); the account's sessions end.
    Rotate { username: String },
    /// Disable an account: no more logins, its sessions stop working.
    Revoke { username: String },
}

#[derive(Subcommand)]
pub enum ConsumerCommand {
    /// Register a consumer; prints its id, an API key and an OAuth2 client secret, once.
    Create {
        #[arg(long)]
        name: String,
        /// The catalogue unit it belongs to, if any.
        #[arg(long)]
        unit: Option<String>,
        /// Requests per minute.
        #[arg(long, default_value_t = 600)]
        rate_limit: u32,
    },
    /// Every consumer.
    List,
    /// Revoke every API key of the consumer and issue a new key and client secret (printed
    /// once).
    Rotate { consumer_id: String },
    /// Cut the consumer off: keys, client secret, tokens and sessions.
    Revoke { consumer_id: String },
}

#[derive(Subcommand)]
pub enum GrantCommand {
    /// A consumer's grants (all consumers when none is named).
    List {
        #[arg(long)]
        consumer: Option<String>,
    },
    /// Ask for a grant on a consumer's behalf: 无条件共享 is granted at once, 有条件共享 waits
    /// for the provider unit's reviewer, 不予共享 is refused.
    Request {
        #[arg(long)]
        consumer: String,
        #[arg(long)]
        resource: String,
        /// Fields (repeatable; none = every field).
        #[arg(long = "field")]
        fields: Vec<String>,
        /// matter:<事项编码> or duty:<履职事由>.
        #[arg(long)]
        purpose: String,
        /// Last day of validity, YYYY-MM-DD.
        #[arg(long)]
        valid_until: String,
        /// 申请理由.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Revoke a grant, in the name of an administrator or the provider unit's reviewer (the
    /// audit chain records who).
    Revoke {
        grant_id: String,
        /// The console account revoking it.
        #[arg(long)]
        by: String,
    },
}

fn parse_role(text: &str) -> Result<Role> {
    Ok(match text.split_once(':') {
        Some(("provider_reviewer", unit)) if !unit.trim().is_empty() => Role::ProviderReviewer {
            unit_code: unit.trim().to_owned(),
        },
        None if text == "administrator" => Role::Administrator,
        None if text == "auditor" => Role::Auditor,
        None if text == "matter_designer" => Role::MatterDesigner,
        _ => bail!(
            "角色 {text:?} 无效：administrator、auditor、matter_designer 或 provider_reviewer:<单位代码>"
        ),
    })
}

async fn account(gov: &Governance, username: &str) -> Result<Account> {
    gov.account_by_username(username)
        .await?
        .ok_or_else(|| anyhow!("没有账号 {username:?}"))
}

pub async fn run(pack: &Pack, home: &Path, command: AdminCommand) -> Result<ExitCode> {
    let meta = miaopi_meta::SqliteMeta::open(&home.join("meta.db"))
        .await
        .with_context(|| format!("opening the meta store in {}", home.display()))?;
    let gov = Governance::open(&meta).await?;
    let (action, detail) = describe(&command);
    match command {
        AdminCommand::Account { command } => account_command(&gov, command).await,
        AdminCommand::Consumer { command } => consumer_command(&gov, command).await,
        AdminCommand::Grant { command } => grant_command(pack, &gov, command).await,
    }?;
    // Whoever holds the state directory is trusted, but what they did is still on the chain.
    gov.append_audit(&AuditEntry {
        actor_kind: ActorKind::System,
        actor_id: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        ),
        action,
        detail,
        at: Utc::now(),
        ..AuditEntry::default()
    })
    .await
    .context("writing the audit entry of the admin command")?;
    Ok(ExitCode::SUCCESS)
}

/// The audit action and detail of a command: what was done to whom, never a secret.
fn describe(command: &AdminCommand) -> (String, String) {
    let (action, detail) = match command {
        AdminCommand::Account { command } => match command {
            AccountCommand::Create {
                username, roles, ..
            } => ("account_create", format!("{username} {}", roles.join(","))),
            AccountCommand::List => ("account_list", String::new()),
            AccountCommand::Rotate { username } => ("account_rotate", username.clone()),
            AccountCommand::Revoke { username } => ("account_revoke", username.clone()),
        },
        AdminCommand::Consumer { command } => match command {
            ConsumerCommand::Create { name, .. } => ("consumer_create", name.clone()),
            ConsumerCommand::List => ("consumer_list", String::new()),
            ConsumerCommand::Rotate { consumer_id } => ("consumer_rotate", consumer_id.clone()),
            ConsumerCommand::Revoke { consumer_id } => ("consumer_revoke", consumer_id.clone()),
        },
        AdminCommand::Grant { command } => match command {
            GrantCommand::List { consumer } => ("grant_list", consumer.clone().unwrap_or_default()),
            GrantCommand::Request {
                consumer,
                resource,
                purpose,
                ..
            } => ("grant_request", format!("{consumer} {resource} {purpose}")),
            GrantCommand::Revoke { grant_id, by } => {
                ("grant_revoke", format!("{grant_id} by {by}"))
            }
        },
    };
    (format!("admin_{action}"), detail)
}

async fn account_command(gov: &Governance, command: AccountCommand) -> Result<()> {
    match command {
        AccountCommand::Create {
            username,
            display_name,
            roles,
        } => {
            let roles = roles
                .iter()
                .map(|r| parse_role(r))
                .collect::<Result<Vec<_>>>()?;
            let password = generate_password()?;
            let shown = display_name.unwrap_or_else(|| username.clone());
            let a = gov
                .create_account(&username, &password, &shown, &roles)
                .await?;
            println!("已创建账号 {}（{}）", a.username, Role::labels_zh(&a.roles));
            println!("密码（只显示这一次）: {password}");
        }
        AccountCommand::List => {
            for a in gov.accounts().await? {
                println!(
                    "{}\t{}\t{}",
                    a.username,
                    a.display_name,
                    Role::labels_zh(&a.roles)
                );
            }
        }
        AccountCommand::Rotate { username } => {
            let a = account(gov, &username).await?;
            let password = generate_password()?;
            gov.set_password(&a.account_id, &password).await?;
            println!("账号 {} 的新密码（只显示这一次）: {password}", a.username);
        }
        AccountCommand::Revoke { username } => {
            let a = account(gov, &username).await?;
            gov.disable_account(&a.account_id).await?;
            println!("已停用账号 {}", a.username);
        }
    }
    Ok(())
}

async fn consumer_command(gov: &Governance, command: ConsumerCommand) -> Result<()> {
    match command {
        ConsumerCommand::Create {
            name,
            unit,
            rate_limit,
        } => {
            let c = gov
                .create_consumer(&name, unit.as_deref(), rate_limit)
                .await?;
            let key = gov.issue_api_key(&c.consumer_id).await?;
            let secret = gov.issue_client_secret(&c.consumer_id).await?;
            println!("已登记数据使用方 {}（{}）", c.name, c.consumer_id);
            println!("API Key（只显示这一次）: {key}");
            println!("client_secret（只显示这一次）: {secret}");
        }
        ConsumerCommand::List => {
            for c in gov.consumers().await? {
                println!(
                    "{}\t{}\t{}\t每分钟 {} 次",
                    c.consumer_id,
                    c.name,
                    c.unit_code.as_deref().unwrap_or("-"),
                    c.rate_limit_per_minute
                );
            }
        }
        ConsumerCommand::Rotate { consumer_id } => {
            let revoked = gov.revoke_api_keys(&consumer_id).await?;
            let key = gov.issue_api_key(&consumer_id).await?;
            let secret = gov.issue_client_secret(&consumer_id).await?;
            println!("已作废 {revoked} 个旧 API Key");
            println!("新 API Key（只显示这一次）: {key}");
            println!("新 client_secret（只显示这一次）: {secret}");
        }
        ConsumerCommand::Revoke { consumer_id } => {
            gov.revoke_consumer(&consumer_id).await?;
            println!("已停用数据使用方 {consumer_id} 的全部凭据");
        }
    }
    Ok(())
}

async fn grant_command(pack: &Pack, gov: &Governance, command: GrantCommand) -> Result<()> {
    match command {
        GrantCommand::List { consumer } => {
            let consumers = match consumer {
                Some(c) => vec![c],
                None => gov
                    .consumers()
                    .await?
                    .into_iter()
                    .map(|c| c.consumer_id)
                    .collect(),
            };
            let now = Utc::now();
            for c in consumers {
                for g in gov.grants_of(&c).await? {
                    println!(
                        "{}\t{}\t{}\t{}\t至 {}\t{}",
                        g.grant_id,
                        g.consumer_id,
                        g.resource,
                        g.purpose.label_zh(),
                        g.valid_until,
                        if g.is_valid_at(now) {
                            "有效"
                        } else {
                            "失效"
                        }
                    );
                }
            }
        }
        GrantCommand::Request {
            consumer,
            resource,
            fields,
            purpose,
            valid_until,
            reason,
        } => {
            let purpose = Purpose::parse(&purpose).ok_or_else(|| {
                anyhow!("用途 {purpose:?} 应为 matter:<事项编码> 或 duty:<履职事由>")
            })?;
            let valid_until = NaiveDate::parse_from_str(&valid_until, "%Y-%m-%d")
                .with_context(|| format!("--valid-until {valid_until:?} 的格式应为 YYYY-MM-DD"))?;
            let request = GrantRequest {
                consumer_id: consumer,
                resource,
                fields,
                unmasked_fields: Vec::new(),
                purpose,
                valid_until,
                justification: reason,
            };
            let decision = gov.request_grant(pack, &request, Utc::now()).await?;
            println!("{}", serde_json::to_string_pretty(&decision)?);
        }
        GrantCommand::Revoke { grant_id, by } => {
            let by = account(gov, &by).await?;
            gov.revoke_grant(&grant_id, &by, Utc::now()).await?;
            println!("已撤销授权 {grant_id}");
        }
    }
    Ok(())
}
