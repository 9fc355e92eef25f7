//! 行政区划代码: administrative division codes.
//!
//! Province, city and district codes (6 digits) follow GB/T 2260 (中华人民共和国行政区划代码).
//! Street (街道, 9 digits) and community (社区, 12 digits) codes follow the National Bureau of
//! Statistics' 统计用区划代码, which extend a GB/T 2260 district code by 3 digits per level.

use serde::Serialize;

/// 深圳市: Shenzhen, GB/T 2260.
pub const SHENZHEN: u32 = 440300;

/// 福田区: Futian District of Shenzhen, GB/T 2260.
pub const FUTIAN: u32 = 440304;

/// 街道: a street-level division (街道办事处 or an equivalent unit) with its 9-digit
/// statistics code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Street {
    /// 统计用区划代码 (9 digits): the district code followed by 3 digits.
    pub code: u32,
    /// 名称: official name, e.g. `"南园街道"`.
    pub name: &'static str,
}

/// 福田区的 10 个街道: the ten streets of Futian District, in code order.
///
/// Code 440304003 is unused, so the codes are not contiguous. The bonded zone is a street-level
/// unit but not a 街道 and is kept apart in [`FUTIAN_BONDED_ZONE`].
pub const FUTIAN_STREETS: [Street; 10] = [
    Street {
        code: 440304001,
        name: "南园街道",
    },
    Street {
        code: 440304002,
        name: "园岭街道",
    },
    Street {
        code: 440304004,
        name: "福田街道",
    },
    Street {
        code: 440304005,
        name: "沙头街道",
    },
    Street {
        code: 440304006,
        name: "香蜜湖街道",
    },
    Street {
        code: 440304007,
        name: "梅林街道",
    },
    Street {
        code: 440304008,
        name: "莲花街道",
    },
    Street {
        code: 440304009,
        name: "华富街道",
    },
    Street {
        code: 440304010,
        name: "福保街道",
    },
    Street {
        code: 440304011,
        name: "华强北街道",
    },
];

/// 福田保税区: Futian Free Trade (bonded) Zone, a street-level unit of Futian District.
pub const FUTIAN_BONDED_ZONE: Street = Street {
    code: 440304400,
    name: "福田保税区",
};

// `const` items are copied at each use, so a `&'static` into them needs a `static` home.
static FUTIAN_STREET_LEVEL_UNITS: [Street; 11] = {
    let s = FUTIAN_STREETS;
    [
        s[0],
        s[1],
        s[2],
        s[3],
        s[4],
        s[5],
        s[6],
        s[7],
        s[8],
        s[9],
        FUTIAN_BONDED_ZONE,
    ]
};

/// Looks up a street-level unit of Futian District by its 9-digit code.
///
/// Finds the ten [`FUTIAN_STREETS`] and also [`FUTIAN_BONDED_ZONE`], because an address in the
/// bonded zone is a valid Futian address and validators must not reject it.
pub fn futian_street(code: u32) -> Option<&'static Street> {
    FUTIAN_STREET_LEVEL_UNITS
        .iter()
        .find(|street| street.code == code)
}

/// Whether a 6-digit GB/T 2260 code is Shenzhen itself (440300) or one of its districts (4403xx).
pub fn is_shenzhen_region(region_code: u32) -> bool {
    (SHENZHEN..SHENZHEN + 100).contains(&region_code)
}

/// 省级行政区划代码: the first two digits of GB/T 2260 codes and their official names.
///
/// This is also the set of first two digits that GB 11643 resident ID numbers may start with.
pub const PROVINCES: [(u32, &str); 34] = [
    (11, "北京市"),
    (12, "天津市"),
    (13, "河北省"),
    (14, "山西省"),
    (15, "内蒙古自治区"),
    (21, "辽宁省"),
    (22, "吉林省"),
    (23, "黑龙江省"),
    (31, "上海市"),
    (32, "江苏省"),
    (33, "浙江省"),
    (34, "安徽省"),
    (35, "福建省"),
    (36, "江西省"),
    (37, "山东省"),
    (41, "河南省"),
    (42, "湖北省"),
    (43, "湖南省"),
    (44, "广东省"),
    (45, "广西壮族自治区"),
    (46, "海南省"),
    (50, "重庆市"),
    (51, "四川省"),
    (52, "贵州省"),
    (53, "云南省"),
    (54, "西藏自治区"),
    (61, "陕西省"),
    (62, "甘肃省"),
    (63, "青海省"),
    (64, "宁夏回族自治区"),
    (65, "新疆维吾尔自治区"),
    (71, "台湾省"),
    (81, "香港特别行政区"),
    (82, "澳门特别行政区"),
];

/// 省级名称: the name of a province-level division from its two-digit code, e.g. `44` → `"广东省"`.
pub fn province_name(two_digit: u32) -> Option<&'static str> {
    PROVINCES
        .iter()
        .find(|(code, _)| *code == two_digit)
        .map(|(_, name)| *name)
}

/// Whether `two_digit` is a province-level code listed in [`PROVINCES`].
pub fn is_province_code(two_digit: u32) -> bool {
    province_name(two_digit).is_some()
}

/// 社区所属街道: the 9-digit street code of a 12-digit community (社区) code, which is the street
/// code followed by 3 digits.
///
/// Returns 0 (no street) when `community_code` is not 12 digits, so that a malformed code can
/// never be mistaken for a real street; use [`try_community_street`] to tell the cases apart.
pub fn community_street(community_code: u64) -> u32 {
    try_community_street(community_code).unwrap_or(0)
}

/// Like [`community_street`], but `None` when `community_code` is not 12 digits.
pub fn try_community_street(community_code: u64) -> Option<u32> {
    const TWELVE_DIGITS: std::ops::RangeInclusive<u64> = 100_000_000_000..=999_999_999_999;
    if !TWELVE_DIGITS.contains(&community_code) {
        return None;
    }
    u32::try_from(community_code / 1000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn futian_streets_match_the_statistics_codes() {
        let expected = [
            (440304001, "南园街道"),
            (440304002, "园岭街道"),
            (440304004, "福田街道"),
            (440304005, "沙头街道"),
            (440304006, "香蜜湖街道"),
            (440304007, "梅林街道"),
            (440304008, "莲花街道"),
            (440304009, "华富街道"),
            (440304010, "福保街道"),
            (440304011, "华强北街道"),
        ];
        let actual: Vec<(u32, &str)> = FUTIAN_STREETS.iter().map(|s| (s.code, s.name)).collect();
        assert_eq!(actual, expected);
        for street in &FUTIAN_STREETS {
            assert_eq!(street.code / 1000, FUTIAN, "{street:?} is under Futian");
            assert_eq!(futian_street(street.code), Some(street));
        }
    }

    #[test]
    fn futian_street_lookup() {
        assert_eq!(futian_street(440304001).map(|s| s.name), Some("南园街道"));
        assert_eq!(futian_street(440304400), Some(&FUTIAN_BONDED_ZONE));
        assert_eq!(futian_street(440304003), None, "003 is unused");
        assert_eq!(futian_street(440305001), None, "another district");
        assert_eq!(futian_street(0), None);
    }

    #[test]
    fn shenzhen_codes() {
        assert!(is_shenzhen_region(SHENZHEN));
        assert!(is_shenzhen_region(FUTIAN));
        assert!(is_shenzhen_region(440399));
        assert!(!is_shenzhen_region(440299));
        assert!(!is_shenzhen_region(440400));
        assert!(!is_shenzhen_region(4403));
        assert!(
            !is_shenzhen_region(440304001),
            "a street code is not a region code"
        );
    }

    #[test]
    fn provinces() {
        assert_eq!(province_name(11), Some("北京市"));
        assert_eq!(province_name(44), Some("广东省"));
        assert_eq!(province_name(82), Some("澳门特别行政区"));
        for unused in [
            0, 10, 16, 20, 24, 30, 38, 40, 47, 49, 55, 60, 66, 70, 72, 80, 83, 99,
        ] {
            assert_eq!(province_name(unused), None, "{unused}");
        }
        assert!(
            PROVINCES.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted and unique"
        );
    }

    #[test]
    fn community_to_street() {
        assert_eq!(community_street(440304001001), 440304001);
        assert_eq!(community_street(440304011999), 440304011);
        assert_eq!(try_community_street(440304001001), Some(440304001));
        assert_eq!(try_community_street(44030400100), None, "11 digits");
        assert_eq!(try_community_street(4403040010010), None, "13 digits");
        assert_eq!(community_street(u64::MAX), 0);
        assert_eq!(community_street(0), 0);
    }
}
