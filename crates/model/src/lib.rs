//! Domain types and identifiers of Chinese government data, for the miaopi platform.
//!
//! Pure code: no I/O, no clock, no randomness. Every parser returns a typed error whose
//! `code()` is a stable snake_case machine code and whose `reason_zh()` explains the problem
//! in Chinese; `Display` explains it in English.
//!
//! * [`resident_id`] — 公民身份号码, GB 11643-1999: strict and lenient parsing (lower-case `x`,
//!   full width, separators, look-alike letters, 15→18 upgrade), birth date, sex, age, ISO 7064 MOD 11-2 check.
//! * [`uscc`] — 统一社会信用代码, GB 32100-2015: the 31-character alphabet and the mod 31 check.
//! * [`org_code`] — 组织机构代码, GB 11714-1997: the pre-2016 code a credit code embeds.
//! * [`region`] — 行政区划代码, GB/T 2260 province and district codes, and the statistics
//!   bureau's street (街道) and community (社区) codes for Futian District, Shenzhen.
//! * [`cert_id`] — 电子证照标识, GB/T 36901–36905 as used in practice, with the ISO 7064
//!   MOD 37,36 check character.
//! * [`sex`] — 性别, GB/T 2261.1.
//!
//! Each checksum module documents which errors its scheme detects; the test suite proves it.

pub mod cert_id;
mod halfwidth;
pub mod lenient;
pub mod org_code;
pub mod region;
pub mod resident_id;
pub mod sex;
pub mod uscc;

pub use cert_id::{CertIdError, CertificateId};
pub use org_code::{OrgCode, OrgCodeError};
pub use resident_id::{IdFix, ParsedResidentId, ResidentId, ResidentIdError, age_on};
pub use sex::Sex;
pub use uscc::{Uscc, UsccError, organisation_code_check};
