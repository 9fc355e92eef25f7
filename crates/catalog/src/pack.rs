//! The catalogue as loaded from a pack: units, regions, code tables and resources.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::PackErrors;
use crate::types::{
    BaseClass, Classification, Convention, DataType, EntityRole, FileFormat, Grade, MeasureUnit,
    OpenType, Sensitivity, ShareMethod, ShareType, TextEncoding, UpdateCycle,
};

/// 目录包: a district's catalogue, loaded from `packs/<name>/` and checked.
#[derive(Debug, Clone, Serialize)]
pub struct Pack {
    /// The pack directory as given to [`Pack::load`].
    pub root: PathBuf,
    /// 目录包信息 (`pack.toml`).
    pub meta: PackMeta,
    /// 提供方 (`units.toml`), in file order.
    pub units: Vec<Unit>,
    /// 区划: district, streets, communities (`regions.toml`).
    pub regions: Regions,
    /// 代码表 by name: the files in `codes/` plus `street` and `community`, which are derived
    /// from `regions.toml`.
    pub code_tables: BTreeMap<String, CodeTable>,
    /// 信息资源, ordered by unit directory and file name.
    pub resources: Vec<Resource>,
}

impl Pack {
    /// Loads the pack in `dir` and checks it, reporting every error found (not just the first).
    pub fn load(dir: &Path) -> Result<Pack, PackErrors> {
        crate::load::load(dir)
    }

    /// 信息资源 by code (`hukou_residents`).
    pub fn resource(&self, code: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.code == code)
    }

    /// 提供方 by code (`police`).
    pub fn unit(&self, code: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.code == code)
    }

    /// 代码表 by name (`sex`, `street`, `community` ...).
    pub fn code_table(&self, name: &str) -> Option<&CodeTable> {
        self.code_tables.get(name)
    }

    /// Every 社区 with its 街道, in file order.
    pub fn communities(&self) -> impl Iterator<Item = (&Street, &Community)> {
        self.regions
            .streets
            .iter()
            .flat_map(|s| s.communities.iter().map(move |c| (s, c)))
    }

    /// The resources a unit provides, in pack order.
    pub fn resources_of<'a>(&'a self, unit: &'a str) -> impl Iterator<Item = &'a Resource> {
        self.resources.iter().filter(move |r| r.unit == unit)
    }
}

/// 目录包信息 (`pack.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackMeta {
    /// Pack name, equal to its directory name by convention (`futian`).
    pub name: String,
    /// 名称 (`深圳市福田区`).
    pub label: String,
    /// 行政区划代码 of the district (GB/T 2260), equal to `regions.toml`'s district code.
    pub region_code: String,
    /// 说明.
    #[serde(default)]
    pub description: String,
}

/// 提供方: a unit (department) that provides resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    /// English slug (GLOSSARY.md), used in paths and table names (`police`).
    pub code: String,
    /// 单位全称 (`深圳市公安局福田分局`).
    pub name: String,
    /// 简称 (`公安分局`).
    pub short_name: String,
    /// 统一社会信用代码 of the unit (GB 32100, checked on load).
    pub org_code: String,
    /// 权威性排序: survivorship rank when linked records disagree; lower wins.
    pub authority: u32,
}

/// 区划 (`regions.toml`): the district, its streets and their communities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regions {
    /// 区 (district).
    pub district: District,
    /// 街道, in file order.
    #[serde(rename = "street", default)]
    pub streets: Vec<Street>,
}

/// 区 (district).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct District {
    /// 6-digit 行政区划代码 (GB/T 2260), e.g. `440304`.
    pub code: String,
    /// 名称 (`福田区`).
    pub name: String,
}

/// 街道 (street, subdistrict).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Street {
    /// 9-digit 统计用区划代码, e.g. `440304001`.
    pub code: String,
    /// 名称 (`南园街道`).
    pub name: String,
    /// 社区, in file order.
    #[serde(rename = "community", default)]
    pub communities: Vec<Community>,
}

/// 社区 (community).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Community {
    /// 12-digit code: the street code and 3 digits, e.g. `440304001001`.
    pub code: String,
    /// 名称 (`南华社区`).
    pub name: String,
}

/// 代码表: a code table (`codes/<name>.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeTable {
    /// Name used by fields' `code_table` (`sex`), equal to the file stem.
    pub name: String,
    /// 中文名称 (`性别`).
    pub label: String,
    /// 标准 the codes come from (`GB/T 2261.1-2003`), if any.
    #[serde(default)]
    pub standard: Option<String>,
    /// 代码项, in file order.
    #[serde(rename = "entry", default)]
    pub entries: Vec<CodeEntry>,
}

/// 代码项: one code with its label and the other spellings seen in source files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeEntry {
    /// 代码 (`1`).
    pub code: String,
    /// 名称 (`男`).
    pub label: String,
    /// 别名: other spellings seen in source files (`男性`).
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl CodeEntry {
    /// Code, label and aliases: every value that names this entry.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        [self.code.as_str(), self.label.as_str()]
            .into_iter()
            .chain(self.aliases.iter().map(String::as_str))
    }
}

impl CodeTable {
    /// The entry `value` names, by code, label or alias, ignoring surrounding whitespace.
    ///
    /// Loading guarantees that no value names two entries, so the answer is unambiguous.
    pub fn lookup(&self, value: &str) -> Option<&CodeEntry> {
        let value = value.trim();
        self.entries
            .iter()
            .find(|e| e.values().any(|v| v.trim() == value))
    }

    /// Every code, label and alias mapped to its entry, for hot loops that look up millions of
    /// values (keys are trimmed; look up trimmed values).
    pub fn index(&self) -> HashMap<&str, &CodeEntry> {
        let mut map = HashMap::new();
        for e in &self.entries {
            for v in e.values() {
                map.entry(v.trim()).or_insert(e);
            }
        }
        map
    }

    /// The entry with exactly this code.
    pub fn entry(&self, code: &str) -> Option<&CodeEntry> {
        self.entries.iter().find(|e| e.code == code)
    }
}

/// 信息资源: a resource (data set) a unit provides, with its catalogue metadata (GB/T 21063).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// English slug (`hukou_residents`), unique in the pack; the file stem and the lake table name.
    pub code: String,
    /// 资源代码 (GB/T 21063), unique in the pack.
    pub catalog_code: String,
    /// 资源名称 (`户籍人口`).
    pub name: String,
    /// 提供方代码: the unit's code; also the directory the file lives in.
    pub unit: String,
    /// 资源摘要.
    pub summary: String,
    /// 信息资源分类: 基础 / 主题 / 部门.
    pub classification: Classification,
    /// 基础信息资源类别, for base resources.
    #[serde(default)]
    pub base_class: Option<BaseClass>,
    /// 共享类型.
    pub share_type: ShareType,
    /// 共享条件 (conditional sharing) or the legal basis for not sharing.
    #[serde(default)]
    pub share_condition: Option<String>,
    /// 共享方式.
    pub share_method: ShareMethod,
    /// 开放类型.
    pub open_type: OpenType,
    /// 更新周期.
    pub update_cycle: UpdateCycle,
    /// 数据分级 (GB/T 43697).
    pub grade: Grade,
    /// 发布日期.
    #[serde(deserialize_with = "toml_date")]
    pub published_on: NaiveDate,
    /// 关联资源代码: codes of related resources in the same pack.
    #[serde(default)]
    pub related: Vec<String>,
    /// 文件格式.
    pub format: FileFormat,
    /// 字符编码; required for CSV and meaningless otherwise.
    #[serde(default)]
    pub encoding: Option<TextEncoding>,
    /// Glob of the file names this resource arrives as (`hukou_residents*.csv`).
    pub files: String,
    /// 记录主键: the fields that identify one record across batches (`["resident_id"]`), so
    /// that a changed record becomes a new version of the same record. Empty: every row is
    /// its own record (events such as monthly contributions).
    #[serde(default)]
    pub key: Vec<String>,
    /// 信息项, in column order.
    #[serde(rename = "field", default)]
    pub fields: Vec<Field>,
    /// The file this resource was loaded from.
    #[serde(skip_deserializing)]
    pub source_file: PathBuf,
}

impl Resource {
    /// 信息项 by name (`resident_id`).
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The column headers of the unit's files, in column order.
    pub fn labels(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.label.as_str()).collect()
    }

    /// 信息项 that identify an entity in the given role.
    pub fn fields_with_role(&self, role: EntityRole) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(move |f| f.role == Some(role))
    }
}

/// 信息项: one field (column) of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// snake_case ASCII name, unique in the resource; the lake column name (`resident_id`).
    pub name: String,
    /// 信息项名称: the column header in the unit's files (`身份证号`), unique in the resource.
    pub label: String,
    /// 数据类型 (TOML key `type`).
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// 是否必填.
    pub required: bool,
    /// 敏感级别.
    pub sensitivity: Sensitivity,
    /// 实体角色: the entity this field identifies, if any.
    #[serde(default)]
    pub role: Option<EntityRole>,
    /// 代码表 the values come from, if any.
    #[serde(default)]
    pub code_table: Option<String>,
    /// 最大长度 in characters, if bounded.
    #[serde(default)]
    pub max_length: Option<u32>,
    /// 接受的写法 beyond the standard forms (date fields only).
    #[serde(default)]
    pub accepts: Vec<Convention>,
    /// 计量单位 the values are stored in (integer and decimal fields only).
    #[serde(default)]
    pub unit: Option<MeasureUnit>,
}

/// TOML has a native date type, which chrono's `NaiveDate` does not understand: accept a bare
/// local date (`2020-01-01`) and nothing else, so a time or offset is not silently dropped.
fn toml_date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    use serde::de::Error;
    let dt = toml::value::Datetime::deserialize(d)?;
    match (dt.date, dt.time, dt.offset) {
        (Some(date), None, None) => {
            NaiveDate::from_ymd_opt(i32::from(date.year), date.month.into(), date.day.into())
                .ok_or_else(|| D::Error::custom(format!("invalid date {dt}")))
        }
        _ => Err(D::Error::custom(format!(
            "expected a date like 2020-01-01, found {dt}"
        ))),
    }
}
