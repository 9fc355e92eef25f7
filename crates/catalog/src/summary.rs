//! 目录包概况: the short summary `miaopi catalog check` prints for a good pack.

use std::fmt;

use serde::Serialize;

use crate::pack::Pack;

/// 目录包概况: counts of what a pack holds, and each unit's resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackSummary {
    /// Pack name (`futian`).
    pub name: String,
    /// 名称 (`深圳市福田区`).
    pub label: String,
    /// 提供方 count.
    pub units: usize,
    /// 信息资源 count.
    pub resources: usize,
    /// 信息项 count over all resources.
    pub fields: usize,
    /// 代码表 count, including the derived `street` and `community`.
    pub code_tables: usize,
    /// 街道 count.
    pub streets: usize,
    /// 社区 count.
    pub communities: usize,
    /// Each unit with its resources, in units.toml order.
    pub per_unit: Vec<UnitResources>,
}

/// One 提供方 and the codes of the resources it provides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitResources {
    /// Unit code (`police`).
    pub code: String,
    /// 简称 (`公安分局`).
    pub short_name: String,
    /// Resource codes, in pack order.
    pub resources: Vec<String>,
}

impl Pack {
    /// 目录包概况 for `miaopi catalog check`.
    pub fn summary(&self) -> PackSummary {
        PackSummary {
            name: self.meta.name.clone(),
            label: self.meta.label.clone(),
            units: self.units.len(),
            resources: self.resources.len(),
            fields: self.resources.iter().map(|r| r.fields.len()).sum(),
            code_tables: self.code_tables.len(),
            streets: self.regions.streets.len(),
            communities: self.communities().count(),
            per_unit: self
                .units
                .iter()
                .map(|u| UnitResources {
                    code: u.code.clone(),
                    short_name: u.short_name.clone(),
                    resources: self.resources_of(&u.code).map(|r| r.code.clone()).collect(),
                })
                .collect(),
        }
    }
}

impl fmt::Display for PackSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "目录包 pack {} ({})", self.name, self.label)?;
        let counts = [
            ("提供方", "units", self.units),
            ("信息资源", "resources", self.resources),
            ("信息项", "fields", self.fields),
            ("代码表", "code tables", self.code_tables),
            ("街道", "streets", self.streets),
            ("社区", "communities", self.communities),
        ];
        for (zh, en, n) in counts {
            // CJK glyphs are two columns wide in a terminal; pad by display width, not chars.
            let pad = 10usize.saturating_sub(zh.chars().count() * 2);
            writeln!(f, "  {zh}{:pad$} {en:<12} {n:>6}", "")?;
        }
        // No trailing newline: callers print it with `println!`.
        write!(f, "提供方 unit → 信息资源 resources")?;
        let width = self
            .per_unit
            .iter()
            .map(|u| u.code.len())
            .max()
            .unwrap_or(0);
        for u in &self.per_unit {
            let list = if u.resources.is_empty() {
                "-".to_owned()
            } else {
                u.resources.join(", ")
            };
            write!(
                f,
                "\n  {:<width$}  {} ({}): {}",
                u.code,
                u.short_name,
                u.resources.len(),
                list
            )?;
        }
        Ok(())
    }
}
