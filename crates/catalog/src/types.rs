//! The catalogue's closed vocabularies (GB/T 21063, GB/T 43697 and local practice).
//!
//! Every enum deserialises from the snake_case key used in pack files (`share_type =
//! "conditional"`), displays as that key, and gives its Chinese catalogue label with
//! [`label_zh`](ShareType::label_zh).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares a catalogue enum: serde key, Chinese label, `ALL` and `as_str` in one place, so a
/// variant can never get a key without a label.
macro_rules! catalog_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $key:literal, $zh:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $key)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// 中文名称: the label used in the catalogue and in the console.
            pub fn label_zh(&self) -> &'static str {
                match self {
                    $( Self::$variant => $zh, )+
                }
            }

            /// The key used in pack files and APIs.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $( Self::$variant => $key, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

catalog_enum! {
    /// 文件格式: the format a resource arrives in.
    FileFormat {
        /// CSV 文本文件
        Csv = "csv", "CSV 文件";
        /// JSON Lines: one JSON object per line
        Jsonl = "jsonl", "JSON Lines 文件";
        /// Excel 工作簿
        Xlsx = "xlsx", "Excel 工作簿";
        /// Parquet 列式文件
        Parquet = "parquet", "Parquet 列式文件";
    }
}

catalog_enum! {
    /// 字符编码: text encoding of a CSV resource.
    TextEncoding {
        /// UTF-8
        Utf8 = "utf8", "UTF-8";
        /// UTF-8 带 BOM (as Excel writes it)
        Utf8Bom = "utf8_bom", "UTF-8（带 BOM）";
        /// GBK (GB 2312 superset), common in older systems
        Gbk = "gbk", "GBK";
    }
}

catalog_enum! {
    /// 数据类型: the data type of a field (信息项).
    DataType {
        /// 字符串
        String = "string", "字符串";
        /// 整数
        Integer = "integer", "整数";
        /// 小数 (exact decimal, e.g. money)
        Decimal = "decimal", "小数";
        /// 日期
        Date = "date", "日期";
        /// 年月 (e.g. a contribution month)
        Month = "month", "年月";
        /// 布尔 (是/否)
        Boolean = "boolean", "布尔";
    }
}

catalog_enum! {
    /// 接受的写法: a convention a date field accepts beyond the standard forms (which every date
    /// field reads: `2026-01-05`, `2026/1/5`, `20260105`, `2026年1月5日`, `二〇二六年一月五日`,
    /// and day-first `25/03/2026` where the day is above 12).
    Convention {
        /// 长期有效: `长期`, `长期有效`, `永久`, `9999-12-31` mean "no end date" and are stored as
        /// no value (null) — never as a sentinel date; a required field so written is present.
        OpenEnd = "open_end", "长期有效读作无终止日期";
        /// 日在前: the unit writes `DD/MM/YYYY`, so `03/05/2026` is 3 May (without it such a date
        /// is ambiguous and quarantined).
        DayFirst = "day_first", "日/月/年写法按日在前读取";
    }
}

catalog_enum! {
    /// 计量单位 of a numeric field: values are stored in this unit, and values written with
    /// another unit of the same quantity (`50万元` in a 元 field, `89.5平方米`) are converted.
    MeasureUnit {
        /// 元 (人民币)
        Yuan = "yuan", "元";
        /// 万元 (人民币)
        TenThousandYuan = "wan_yuan", "万元";
        /// 平方米
        SquareMetre = "m2", "平方米";
    }
}

catalog_enum! {
    /// 实体角色: what entity a field identifies, so linking knows which columns carry keys.
    EntityRole {
        /// 公民身份号码 (GB 11643)
        PersonId = "person_id", "公民身份号码";
        /// 统一社会信用代码 (GB 32100)
        CreditCode = "credit_code", "统一社会信用代码";
        /// 证件号: a resident ID or a credit code
        PartyId = "party_id", "证件号（身份证号或统一社会信用代码）";
        /// 地址编码 (standard address)
        AddressCode = "address_code", "地址编码";
        /// 房屋编码 (e.g. 不动产单元号)
        HouseId = "house_id", "房屋编码";
        /// 楼栋编码
        BuildingCode = "building_code", "楼栋编码";
    }
}

catalog_enum! {
    /// 敏感级别: personal-information sensitivity of a field (four levels, provincial practice).
    Sensitivity {
        /// L1 不敏感: may be opened
        L1 = "L1", "不敏感";
        /// L2 低敏感: opened masked, with approval
        L2 = "L2", "低敏感";
        /// L3 较敏感: opened masked, with approval
        L3 = "L3", "较敏感";
        /// L4 敏感: never opened
        L4 = "L4", "敏感";
    }
}

impl Sensitivity {
    /// The level as a number, 1 (L1 不敏感) to 4 (L4 敏感), as masking rules compare it.
    pub fn level(self) -> u8 {
        match self {
            Sensitivity::L1 => 1,
            Sensitivity::L2 => 2,
            Sensitivity::L3 => 3,
            Sensitivity::L4 => 4,
        }
    }
}

catalog_enum! {
    /// 数据分级: data grade (GB/T 43697-2024).
    Grade {
        /// 核心数据
        Core = "core", "核心";
        /// 重要数据
        Important = "important", "重要";
        /// 一般数据
        General = "general", "一般";
    }
}

catalog_enum! {
    /// 共享类型: share type. Sharing is the rule; 不予共享 needs a stated legal basis.
    ShareType {
        /// 无条件共享
        Unconditional = "unconditional", "无条件共享";
        /// 有条件共享: the provider approves each request against the share condition
        Conditional = "conditional", "有条件共享";
        /// 不予共享
        None = "none", "不予共享";
    }
}

catalog_enum! {
    /// 开放类型: open type (open data to the public).
    OpenType {
        /// 无条件开放
        Open = "open", "无条件开放";
        /// 有条件开放
        Conditional = "conditional", "有条件开放";
        /// 不予开放
        Closed = "closed", "不予开放";
    }
}

catalog_enum! {
    /// 更新周期: how often the provider refreshes a resource.
    UpdateCycle {
        /// 实时
        Realtime = "realtime", "实时";
        /// 每日
        Daily = "daily", "每日";
        /// 每周
        Weekly = "weekly", "每周";
        /// 每月
        Monthly = "monthly", "每月";
        /// 每季
        Quarterly = "quarterly", "每季";
        /// 每年
        Yearly = "yearly", "每年";
    }
}

impl UpdateCycle {
    /// 最长时效 (天): the age after which the resource counts as stale.
    ///
    /// Each value is one cycle plus a day of grace (a month may have 31 days, a quarter 92, a
    /// year 366), so a provider that delivers on the last day of its cycle is still fresh.
    pub fn max_age_days(&self) -> u32 {
        match self {
            Self::Realtime => 1,
            Self::Daily => 2,
            Self::Weekly => 8,
            Self::Monthly => 32,
            Self::Quarterly => 93,
            Self::Yearly => 366,
        }
    }
}

catalog_enum! {
    /// 共享方式: how consumers receive a shared resource.
    ShareMethod {
        /// 接口共享 (API)
        Interface = "interface", "接口";
        /// 文件共享 (file exchange)
        File = "file", "文件";
        /// 数据库共享 (database exchange)
        Database = "database", "数据库";
    }
}

catalog_enum! {
    /// 信息资源分类: resource classification (GB/T 21063).
    Classification {
        /// 基础信息资源
        Base = "base", "基础信息资源";
        /// 主题信息资源
        Theme = "theme", "主题信息资源";
        /// 部门信息资源
        Department = "department", "部门信息资源";
    }
}

catalog_enum! {
    /// 基础信息资源类别: the base database a base resource feeds (国发〔2016〕51号).
    BaseClass {
        /// 人口基础信息
        Population = "population", "人口";
        /// 法人单位基础信息
        LegalPerson = "legal_person", "法人";
        /// 自然资源和空间地理基础信息
        Geography = "geography", "自然资源和空间地理";
        /// 社会信用基础信息
        Credit = "credit", "社会信用";
        /// 电子证照基础信息
        Certificate = "certificate", "电子证照";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct One<T> {
        v: T,
    }

    fn parse<T: for<'de> Deserialize<'de>>(key: &str) -> Result<T, toml::de::Error> {
        toml::from_str::<One<T>>(&format!("v = \"{key}\"")).map(|o| o.v)
    }

    /// Round-trips every variant of `T` through its TOML key.
    fn round_trip<T>(all: &[T])
    where
        T: for<'de> Deserialize<'de> + PartialEq + fmt::Debug + fmt::Display + Copy,
    {
        for v in all {
            assert_eq!(parse::<T>(&v.to_string()).unwrap(), *v);
        }
    }

    #[test]
    fn keys_round_trip() {
        round_trip(FileFormat::ALL);
        round_trip(TextEncoding::ALL);
        round_trip(DataType::ALL);
        round_trip(EntityRole::ALL);
        round_trip(Sensitivity::ALL);
        round_trip(Grade::ALL);
        round_trip(ShareType::ALL);
        round_trip(OpenType::ALL);
        round_trip(UpdateCycle::ALL);
        round_trip(ShareMethod::ALL);
        round_trip(Classification::ALL);
        round_trip(BaseClass::ALL);
        round_trip(Convention::ALL);
        round_trip(MeasureUnit::ALL);
    }

    #[test]
    fn keys_match_pack_format() {
        assert_eq!(TextEncoding::Utf8Bom.as_str(), "utf8_bom");
        assert_eq!(Sensitivity::L4.as_str(), "L4");
        assert_eq!(BaseClass::LegalPerson.as_str(), "legal_person");
        assert!(parse::<Sensitivity>("l4").is_err());
        assert!(parse::<ShareType>("conditionl").is_err());
    }

    #[test]
    fn chinese_labels() {
        assert_eq!(ShareType::Unconditional.label_zh(), "无条件共享");
        assert_eq!(ShareType::None.label_zh(), "不予共享");
        assert_eq!(OpenType::Closed.label_zh(), "不予开放");
        assert_eq!(UpdateCycle::Daily.label_zh(), "每日");
        assert_eq!(UpdateCycle::Quarterly.label_zh(), "每季");
        assert_eq!(Sensitivity::L4.label_zh(), "敏感");
        assert_eq!(Grade::Core.label_zh(), "核心");
        assert_eq!(BaseClass::Geography.label_zh(), "自然资源和空间地理");
    }

    #[test]
    fn max_age_days() {
        let days: Vec<u32> = UpdateCycle::ALL.iter().map(|c| c.max_age_days()).collect();
        assert_eq!(days, [1, 2, 8, 32, 93, 366]);
    }
}
