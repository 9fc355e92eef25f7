//! Errors. Those a person may see (a refused request, an unknown field, a bad ID number) carry a
//! Chinese message; storage and internal failures stay in English for the logs.

/// What can go wrong in governance.
#[derive(Debug, thiserror::Error)]
pub enum GovernError {
    /// The database failed (not a decision about access).
    #[error("governance store: {0}")]
    Db(#[from] sqlx::Error),

    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),

    /// Hashing a secret failed, or a stored hash cannot be read.
    #[error("secret hashing: {0}")]
    Hash(String),

    /// A stored row cannot be read back (edited by hand, or a bug).
    #[error("governance store holds an unreadable value: {0}")]
    Corrupt(String),

    /// 未知的数据使用方.
    #[error("未知的数据使用方：{0}")]
    UnknownConsumer(String),

    /// 未知的账号.
    #[error("未知的账号：{0}")]
    UnknownAccount(String),

    /// 用户名已被使用.
    #[error("用户名已被使用：{0}")]
    AccountExists(String),

    /// 资源目录中没有此信息资源.
    #[error("资源目录中没有信息资源“{0}”")]
    UnknownResource(String),

    /// 信息资源没有此信息项.
    #[error("信息资源“{resource}”没有信息项“{field}”")]
    UnknownField { resource: String, field: String },

    /// 未知的共享申请.
    #[error("未知的共享申请：{0}")]
    UnknownRequest(String),

    /// 申请已经审核过.
    #[error("共享申请 {request_id} 已处理（{state}），不能再次审核")]
    AlreadyReviewed { request_id: String, state: String },

    /// 审核人无权审核该提供方的申请.
    #[error("账号“{username}”无权审核“{unit_code}”提供的信息资源的共享申请")]
    ReviewerNotAllowed { username: String, unit_code: String },

    /// An input that cannot be accepted; the message says why, in Chinese.
    #[error("{0}")]
    Invalid(String),

    /// 身份证号不符合 GB 11643.
    #[error("公民身份号码无效：{reason}")]
    InvalidResidentId { reason: String },

    /// 请求过于频繁 (e.g. asking for another one-time code too soon).
    #[error("请求过于频繁，请 {retry_after_s} 秒后再试")]
    TooSoon { retry_after_s: u64 },

    /// 未获授权: no valid grant lets this consumer read this resource for this purpose. A
    /// decision about access, never a storage failure.
    #[error("数据使用方 {consumer_id} 无权读取信息资源“{resource}”：{reason}")]
    NotGranted {
        consumer_id: String,
        resource: String,
        reason: String,
    },
}

impl GovernError {
    /// Whether this is a refusal or a bad request (the caller's doing, to be shown to them)
    /// rather than a failure of the platform.
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            GovernError::Db(_)
                | GovernError::Random(_)
                | GovernError::Hash(_)
                | GovernError::Corrupt(_)
        )
    }
}
