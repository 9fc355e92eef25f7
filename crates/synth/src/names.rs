//! Names: surnames with Shenzhen-like frequencies, given-name characters, and the character
//! tables the noise layer needs (traditional forms, same-pinyin groups).

use rand::{Rng, RngExt};

/// Surnames with weights in per-mille, skewed towards Guangdong (陈, 黄, 林, 李 are more common in
/// Shenzhen than nationally). Compound surnames are included because masking rules treat them
/// differently (`欧阳**`).
pub const SURNAMES: &[(&str, u32)] = &[
    ("陈", 72),
    ("李", 68),
    ("张", 55),
    ("刘", 52),
    ("黄", 45),
    ("王", 50),
    ("林", 35),
    ("杨", 28),
    ("吴", 24),
    ("周", 20),
    ("郑", 18),
    ("赵", 16),
    ("徐", 14),
    ("孙", 12),
    ("马", 11),
    ("朱", 12),
    ("胡", 13),
    ("郭", 11),
    ("何", 16),
    ("罗", 17),
    ("高", 10),
    ("梁", 17),
    ("谢", 15),
    ("宋", 7),
    ("唐", 9),
    ("许", 10),
    ("韩", 6),
    ("冯", 8),
    ("邓", 13),
    ("曹", 6),
    ("彭", 9),
    ("曾", 14),
    ("肖", 9),
    ("田", 5),
    ("董", 5),
    ("潘", 7),
    ("袁", 6),
    ("蔡", 9),
    ("蒋", 6),
    ("余", 8),
    ("于", 4),
    ("杜", 4),
    ("叶", 10),
    ("程", 5),
    ("魏", 4),
    ("苏", 6),
    ("吕", 4),
    ("丁", 4),
    ("任", 4),
    ("卢", 7),
    ("姚", 4),
    ("沈", 4),
    ("钟", 9),
    ("姜", 3),
    ("崔", 3),
    ("谭", 6),
    ("陆", 3),
    ("范", 4),
    ("汪", 4),
    ("廖", 7),
    ("石", 4),
    ("金", 3),
    ("韦", 4),
    ("贾", 3),
    ("夏", 3),
    ("付", 3),
    ("方", 4),
    ("邹", 5),
    ("熊", 3),
    ("白", 2),
    ("孟", 2),
    ("秦", 2),
    ("邱", 6),
    ("侯", 2),
    ("江", 4),
    ("尹", 2),
    ("薛", 2),
    ("段", 2),
    ("雷", 3),
    ("龙", 2),
    ("黎", 4),
    ("史", 2),
    ("陶", 2),
    ("贺", 2),
    ("毛", 2),
    ("顾", 2),
    ("龚", 2),
    ("邵", 2),
    ("万", 2),
    ("覃", 2),
    ("严", 2),
    ("欧阳", 2),
    ("司马", 1),
    ("上官", 1),
    ("诸葛", 1),
];

pub const MALE_GIVEN: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "刚", "平", "辉", "鹏", "华", "飞", "鑫",
    "波", "斌", "宇", "浩", "凯", "健", "俊", "帆", "旭", "宁", "龙", "林", "阳", "博", "文", "志",
    "建", "国", "峰", "晨", "昊", "轩", "睿", "泽", "子", "梓", "宏", "嘉", "振", "德", "海", "家",
];

pub const FEMALE_GIVEN: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "英", "玲", "婷", "雪", "慧", "莹", "琳",
    "颖", "倩", "洁", "萍", "红", "燕", "梅", "琴", "欣", "怡", "佳", "悦", "思", "涵", "雨", "萱",
    "诗", "语", "晓", "彤", "晶", "月", "兰", "凤", "珊", "璐", "蕾", "薇", "雯", "妍", "瑶", "桐",
];

/// Simplified → traditional for the characters the generator uses. Source systems of some
/// units (and Hong Kong/Taiwan-educated clerks) write names in traditional characters.
pub const TRADITIONAL: &[(char, char)] = &[
    ('陈', '陳'),
    ('张', '張'),
    ('刘', '劉'),
    ('黄', '黃'),
    ('杨', '楊'),
    ('吴', '吳'),
    ('郑', '鄭'),
    ('赵', '趙'),
    ('孙', '孫'),
    ('马', '馬'),
    ('郭', '郭'),
    ('罗', '羅'),
    ('谢', '謝'),
    ('许', '許'),
    ('韩', '韓'),
    ('冯', '馮'),
    ('邓', '鄧'),
    ('蒋', '蔣'),
    ('叶', '葉'),
    ('苏', '蘇'),
    ('吕', '呂'),
    ('卢', '盧'),
    ('钟', '鍾'),
    ('谭', '譚'),
    ('陆', '陸'),
    ('邹', '鄒'),
    ('龚', '龔'),
    ('贺', '賀'),
    ('严', '嚴'),
    ('欧', '歐'),
    ('阳', '陽'),
    ('龙', '龍'),
    ('伟', '偉'),
    ('强', '強'),
    ('军', '軍'),
    ('杰', '傑'),
    ('涛', '濤'),
    ('刚', '剛'),
    ('辉', '輝'),
    ('鹏', '鵬'),
    ('华', '華'),
    ('飞', '飛'),
    ('凯', '凱'),
    ('宁', '寧'),
    ('国', '國'),
    ('轩', '軒'),
    ('泽', '澤'),
    ('丽', '麗'),
    ('艳', '艷'),
    ('莹', '瑩'),
    ('颖', '穎'),
    ('洁', '潔'),
    ('红', '紅'),
    ('悦', '悅'),
    ('诗', '詩'),
    ('语', '語'),
    ('晓', '曉'),
    ('兰', '蘭'),
    ('凤', '鳳'),
    ('瑶', '瑤'),
    ('静', '靜'),
    ('万', '萬'),
    ('顾', '顧'),
    ('汪', '汪'),
    ('诸', '諸'),
    ('韦', '韋'),
];

/// Groups of characters read with the same pinyin (tone ignored): a clerk typing by pinyin
/// picks the wrong one. Only the name's given part is altered, so surnames stay blockable.
pub const HOMOPHONES: &[&[&str]] = &[
    &["伟", "玮", "炜"],
    &["军", "君", "钧"],
    &["杰", "洁", "捷"],
    &["涛", "韬", "滔"],
    &["明", "铭", "鸣"],
    &["华", "桦", "骅"],
    &["飞", "菲", "非"],
    &["斌", "彬", "滨"],
    &["宇", "雨", "语", "羽"],
    &["浩", "昊", "皓"],
    &["凯", "楷", "铠"],
    &["俊", "骏", "峻"],
    &["龙", "隆"],
    &["林", "琳", "霖", "麟"],
    &["阳", "杨", "洋"],
    &["文", "雯", "汶"],
    &["志", "智", "治"],
    &["建", "健", "剑"],
    &["峰", "锋", "枫", "凤"],
    &["晨", "辰", "臣"],
    &["轩", "萱", "宣"],
    &["泽", "择"],
    &["宏", "鸿", "红", "虹"],
    &["嘉", "佳", "家"],
    &["芳", "方", "芬"],
    &["敏", "民", "珉"],
    &["静", "婧", "靖"],
    &["丽", "莉", "俐", "立"],
    &["艳", "燕", "雁", "彦"],
    &["娟", "鹃", "涓"],
    &["英", "瑛", "莺"],
    &["玲", "凌", "铃", "灵"],
    &["婷", "亭", "庭"],
    &["慧", "惠", "蕙"],
    &["莹", "盈", "滢"],
    &["颖", "影", "莺"],
    &["倩", "茜"],
    &["萍", "平", "苹"],
    &["梅", "玫", "媚"],
    &["琴", "勤", "芹"],
    &["欣", "馨", "新", "鑫"],
    &["怡", "仪", "宜"],
    &["悦", "越", "月", "玥"],
    &["思", "斯", "丝"],
    &["涵", "晗", "含", "寒"],
    &["诗", "师", "时"],
    &["晓", "小", "筱"],
    &["彤", "桐", "童"],
    &["晶", "京", "菁"],
    &["兰", "岚", "蓝"],
    &["珊", "姗", "杉"],
    &["璐", "露", "路"],
    &["蕾", "磊", "雷"],
    &["薇", "微", "维"],
    &["妍", "研", "言"],
    &["瑶", "遥", "谣"],
    &["鹏", "朋", "彭"],
    &["辉", "晖", "徽"],
    &["帆", "凡", "繁"],
    &["宁", "凝"],
    &["波", "博", "柏"],
    &["睿", "瑞", "锐"],
    &["梓", "子", "紫"],
    &["振", "震", "镇"],
];

/// Weighted pick from a `(item, weight)` table whose cumulative sums are precomputed.
pub struct WeightedTable<T: Copy> {
    items: Vec<T>,
    cumulative: Vec<u64>,
}

impl<T: Copy> WeightedTable<T> {
    pub fn new(pairs: impl IntoIterator<Item = (T, u64)>) -> Self {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0u64;
        for (item, weight) in pairs {
            if weight == 0 {
                continue;
            }
            total += weight;
            items.push(item);
            cumulative.push(total);
        }
        assert!(total > 0, "a weighted table needs a positive total weight");
        WeightedTable { items, cumulative }
    }

    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> T {
        let total = *self.cumulative.last().unwrap_or(&1);
        let x = rng.random_range(0..total);
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.items[i.min(self.items.len() - 1)]
    }
}

pub struct NameGenerator {
    surnames: WeightedTable<&'static str>,
}

impl Default for NameGenerator {
    fn default() -> Self {
        Self::new()
    }
}

impl NameGenerator {
    pub fn new() -> Self {
        NameGenerator {
            surnames: WeightedTable::new(SURNAMES.iter().map(|&(s, w)| (s, w as u64))),
        }
    }

    pub fn surname<R: Rng + ?Sized>(&self, rng: &mut R) -> &'static str {
        self.surnames.pick(rng)
    }

    /// A given name of one or two characters; two-character names dominate among people born
    /// after 1980, which is what makes exact-name blocking useless for linking.
    pub fn given<R: Rng + ?Sized>(&self, rng: &mut R, male: bool, birth_year: i32) -> String {
        let pool = if male { MALE_GIVEN } else { FEMALE_GIVEN };
        let two_chars = rng.random_bool(if birth_year >= 1980 { 0.8 } else { 0.55 });
        let mut s = String::with_capacity(6);
        s.push_str(pool[rng.random_range(0..pool.len())]);
        if two_chars {
            s.push_str(pool[rng.random_range(0..pool.len())]);
        }
        s
    }

    pub fn full<R: Rng + ?Sized>(&self, rng: &mut R, male: bool, birth_year: i32) -> String {
        let mut s = self.surname(rng).to_string();
        s.push_str(&self.given(rng, male, birth_year));
        s
    }
}

/// The number of leading characters that form the surname (compound surnames have two).
pub fn surname_len(name: &str) -> usize {
    let compound = SURNAMES
        .iter()
        .any(|&(s, _)| s.chars().count() == 2 && name.starts_with(s));
    if compound { 2 } else { 1 }
}

pub fn to_traditional(name: &str) -> Option<String> {
    let mut changed = false;
    let out: String = name
        .chars()
        .map(
            |c| match TRADITIONAL.iter().find(|&&(s, t)| s == c && s != t) {
                Some(&(_, t)) => {
                    changed = true;
                    t
                }
                None => c,
            },
        )
        .collect();
    changed.then_some(out)
}

/// Replaces one given-name character by another with the same pinyin.
pub fn homophone<R: Rng + ?Sized>(rng: &mut R, name: &str) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    let start = surname_len(name);
    let candidates: Vec<usize> = (start..chars.len())
        .filter(|&i| group_of(chars[i]).is_some())
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let i = candidates[rng.random_range(0..candidates.len())];
    let group = group_of(chars[i])?;
    let others: Vec<char> = group
        .iter()
        .filter_map(|s| s.chars().next())
        .filter(|&c| c != chars[i])
        .collect();
    let replacement = others[rng.random_range(0..others.len())];
    let mut out = chars;
    out[i] = replacement;
    Some(out.into_iter().collect())
}

/// Whether [`homophone`] can alter this name.
pub fn has_homophone(name: &str) -> bool {
    name.chars()
        .skip(surname_len(name))
        .any(|c| group_of(c).is_some())
}

fn group_of(c: char) -> Option<&'static [&'static str]> {
    HOMOPHONES
        .iter()
        .copied()
        .find(|g| g.iter().any(|s| s.starts_with(c)))
}

/// ASCII → full-width (U+FF01..U+FF5E); space → ideographic space.
pub fn to_full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' => '\u{3000}',
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn traditional_changes_known_characters_only() {
        assert_eq!(to_traditional("陈伟").as_deref(), Some("陳偉"));
        assert_eq!(to_traditional("王敏"), None);
    }

    #[test]
    fn homophone_keeps_surname_and_length() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..100 {
            let out = homophone(&mut rng, "欧阳伟").unwrap();
            assert!(out.starts_with("欧阳"));
            assert_eq!(out.chars().count(), 3);
            assert_ne!(out, "欧阳伟");
        }
    }

    #[test]
    fn full_width_digits() {
        assert_eq!(to_full_width("12号 A"), "１２号　Ａ");
    }

    #[test]
    fn weighted_table_respects_weights() {
        let t = WeightedTable::new([("a", 1u64), ("b", 0), ("c", 3)]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let c = (0..4000).filter(|_| t.pick(&mut rng) == "c").count();
        assert!((2800..3200).contains(&c), "{c}");
    }
}
