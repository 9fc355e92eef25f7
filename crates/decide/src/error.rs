//! Errors: package problems (located by file and item) and decision-time failures.

use std::fmt;
use std::path::PathBuf;

use chrono::NaiveDate;

use crate::facts::FactSourceError;

/// 事项包错误: one problem in a matter package, located by file and item.
///
/// Displays as `file: item: message`, e.g. `futian/matters/senior_allowance/2024.1/rules.dmn:
/// decision 月津贴 row 3 (R3): no test case matches this rule row`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PackageError {
    /// The file concerned.
    pub file: PathBuf,
    /// The item within it (a fact, a decision row, a test case), when there is one.
    pub item: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PackageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file.display())?;
        if let Some(item) = &self.item {
            write!(f, "{item}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in one or more packages (all reported at once).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PackageErrors(pub Vec<PackageError>);

impl fmt::Display for PackageErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl PackageErrors {
    /// Number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none (never for a returned `Err`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, PackageError> {
        self.0.iter()
    }
}

/// Why a decision, replay or recheck could not be made. None of these is a rejection: the
/// caller retries or routes the application to a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    /// No package of the matter is loaded.
    #[error("unknown matter {0}")]
    UnknownMatter(String),
    /// No version of the matter applies on the date.
    #[error("no version of matter {code} is in force on {date}")]
    NoVersionInForce {
        /// 事项 code.
        code: String,
        /// Application date.
        date: NaiveDate,
    },
    /// A receipt names a package version that is not loaded.
    #[error("package {code} {version} is not loaded")]
    PackageNotFound {
        /// 事项 code.
        code: String,
        /// Version.
        version: String,
    },
    /// A receipt's package hash differs from the loaded package's: the rules changed.
    #[error("package {code} {version}: receipt hash {expected}, loaded package hash {found}")]
    HashMismatch {
        /// 事项 code.
        code: String,
        /// Version.
        version: String,
        /// Hash in the receipt.
        expected: String,
        /// Hash of the loaded package.
        found: String,
    },
    /// The application itself is malformed (undeclared form input, wrong type ...).
    #[error("invalid application: {0}")]
    InvalidApplication(String),
    /// A fact source failed.
    #[error(transparent)]
    FactSource(#[from] FactSourceError),
    /// A fact source answered with a value of the wrong type.
    #[error("fact {fact}: the source returned a {found} value where {expected} was bound")]
    FactType {
        /// Fact name.
        fact: String,
        /// Bound type.
        expected: String,
        /// Type found.
        found: String,
    },
    /// Party keys depend on each other in a cycle.
    #[error("party keys depend on each other in a cycle at {0}")]
    Cycle(String),
    /// Recheck of a receipt that is not an approval on commitment.
    #[error("receipt {0} is not an approval on commitment (告知承诺)")]
    NotOnCommitment(String),
    /// 申请日期 after the day of the decision.
    #[error("申请日期 {date} 晚于今天（{today}），不能预先申请")]
    FutureApplicationDate {
        /// The date asked for.
        date: NaiveDate,
        /// The day of the decision (Asia/Shanghai).
        today: NaiveDate,
    },
    /// 申请日期 before the day of the decision, with no officer's backdating.
    #[error(
        "申请日期 {date} 早于今天（{today}）：只有窗口工作人员可以补录较早的申请日期，并须说明理由"
    )]
    PastApplicationDate {
        /// The date asked for.
        date: NaiveDate,
        /// The day of the decision (Asia/Shanghai).
        today: NaiveDate,
    },
    /// A backdated application outside the matter's window.
    #[error("申请日期 {date} 超出本事项的补录期限（最早 {earliest}，即 {window_days} 天内）")]
    BackdateBeyondWindow {
        /// The date asked for.
        date: NaiveDate,
        /// The earliest date allowed.
        earliest: NaiveDate,
        /// The matter's window.
        window_days: u32,
    },
    /// Backdating without a reason (or officer).
    #[error("补录较早的申请日期须写明理由")]
    BackdateReasonRequired,
}

impl DecideError {
    /// A stable machine code for the errors a caller can cause (front ends answer with it);
    /// `None` for the platform's own failures.
    pub fn client_code(&self) -> Option<&'static str> {
        Some(match self {
            DecideError::UnknownMatter(_) => "unknown_matter",
            DecideError::NoVersionInForce { .. } => "no_version_in_force",
            DecideError::InvalidApplication(_) => "invalid_application",
            DecideError::FutureApplicationDate { .. } => "future_application_date",
            DecideError::PastApplicationDate { .. } => "backdate_counter_only",
            DecideError::BackdateBeyondWindow { .. } => "backdate_beyond_window",
            DecideError::BackdateReasonRequired => "backdate_reason_required",
            _ => return None,
        })
    }
}
