//! 地址标准化: free-text addresses to the standard form of the district's address register.
//!
//! Units write the same door differently: without the `深圳市` or `深圳市福田区` prefix, with
//! full-width digits (`１２３号`), with `座` or `幢` for `栋`, with `3号楼` for `3栋`. The
//! standard form (`标准地址`) is
//!
//! ```text
//! 深圳市福田区 + 街道 + 社区 + 道路 + 门牌号「号」 + 楼栋 + 单元号「单元」 + 房号
//! 深圳市福田区南园街道南华社区深南路123号深南花园3栋2单元1501
//! ```
//!
//! [`normalise`] splits a text into these parts and rebuilds the standard form from them. It
//! never fails: a part it cannot recognise is `None` and the text it could not split is kept
//! as written, so an odd address still reaches linking rather than being lost.

use std::borrow::Cow;

use miaopi_catalog::Pack;

use crate::standardize::text;

/// 地址要素: an address split into the parts of the standard form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressParts {
    /// 街道名称 (`南园街道`), when the text names one of the district's streets or its
    /// community implies it.
    pub street: Option<String>,
    /// 街道代码 (9 digits) of [`street`](Self::street).
    pub street_code: Option<String>,
    /// 社区名称 (`南华社区`).
    pub community: Option<String>,
    /// 社区代码 (12 digits) of [`community`](Self::community).
    pub community_code: Option<String>,
    /// 道路 (`深南路`): the text before the door number.
    pub road: Option<String>,
    /// 门牌号 without `号` (`123`, `12-1`).
    pub number: Option<String>,
    /// 楼栋 (`深南花园3栋`, `福华大厦`): between the door number and the unit.
    pub building: Option<String>,
    /// 单元号 without `单元` (`2`).
    pub unit: Option<String>,
    /// 房号 (`1501`), without a trailing `室` or `房`.
    pub room: Option<String>,
    /// 标准地址: the standard form rebuilt from the parts.
    pub standard: String,
}

/// The district's place names, compiled once for many addresses.
#[derive(Debug, Clone)]
pub struct AddressNormaliser {
    /// `深圳市`: the pack label without the district name (empty when the label does not end
    /// with it).
    city: String,
    /// `福田区`.
    district: String,
    /// Streets: (name, alias without `街道`, code), longest name first so that a name that is a
    /// prefix of another cannot shadow it.
    streets: Vec<Place>,
    /// Communities with the index of their street in `streets`, longest name first.
    communities: Vec<(Place, usize)>,
}

#[derive(Debug, Clone)]
struct Place {
    name: String,
    alias: String,
    code: String,
}

impl AddressNormaliser {
    /// Compiles the pack's regions.
    pub fn new(pack: &Pack) -> AddressNormaliser {
        let district = pack.regions.district.name.clone();
        let city = pack
            .meta
            .label
            .strip_suffix(district.as_str())
            .unwrap_or("")
            .to_string();
        let mut streets: Vec<Place> = pack
            .regions
            .streets
            .iter()
            .map(|s| Place {
                alias: s.name.strip_suffix("街道").unwrap_or(&s.name).to_string(),
                name: s.name.clone(),
                code: s.code.clone(),
            })
            .collect();
        streets.sort_by_key(|p| std::cmp::Reverse(p.name.len()));
        let mut communities = Vec::new();
        for s in &pack.regions.streets {
            let Some(si) = streets.iter().position(|p| p.code == s.code) else {
                continue;
            };
            for c in &s.communities {
                communities.push((
                    Place {
                        alias: c.name.strip_suffix("社区").unwrap_or(&c.name).to_string(),
                        name: c.name.clone(),
                        code: c.code.clone(),
                    },
                    si,
                ));
            }
        }
        communities.sort_by_key(|(p, _)| std::cmp::Reverse(p.name.len()));
        AddressNormaliser {
            city,
            district,
            streets,
            communities,
        }
    }

    /// Splits `text` into its parts and rebuilds the standard form.
    pub fn normalise(&self, text: &str) -> AddressParts {
        let cleaned = clean(text);
        let split = self.split(&cleaned);
        let mut standard = String::with_capacity(cleaned.len() + 24);
        self.write_standard(&split, &mut standard);
        let street = split.street.and_then(|i| self.streets.get(i));
        let community = split.community.and_then(|i| self.communities.get(i));
        let owned = |s: Option<&str>| s.map(str::to_string);
        AddressParts {
            street: street.map(|p| p.name.clone()),
            street_code: street.map(|p| p.code.clone()),
            community: community.map(|(p, _)| p.name.clone()),
            community_code: community.map(|(p, _)| p.code.clone()),
            road: owned(split.road),
            number: owned(split.number),
            building: split.building.map(Cow::into_owned),
            unit: owned(split.unit),
            room: owned(split.room),
            standard,
        }
    }

    /// The standard form of `text`: borrowed when `text` already is one (one allocation
    /// for the comparison, none for the result).
    pub fn standard_form<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let cleaned = clean(text);
        let split = self.split(&cleaned);
        let mut standard = String::with_capacity(cleaned.len() + 24);
        self.write_standard(&split, &mut standard);
        if standard == text {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(standard)
        }
    }

    /// Finds the parts in a cleaned text, as slices of it.
    fn split<'a>(&self, cleaned: &'a str) -> Split<'a> {
        let mut rest = cleaned;
        // 深圳市福田区 prefix: any of 深圳市福田区 / 福田区 / 深圳市 / nothing.
        if !self.city.is_empty() {
            rest = rest.strip_prefix(self.city.as_str()).unwrap_or(rest);
        }
        if !self.district.is_empty() {
            rest = rest.strip_prefix(self.district.as_str()).unwrap_or(rest);
        }

        // 街道: the full name, or the alias (南园) when a community of that street follows, so
        // that a road that merely starts like a street (福田路) is not taken for one.
        let mut street = None;
        if let Some((i, p)) = self
            .streets
            .iter()
            .enumerate()
            .find(|(_, p)| rest.starts_with(p.name.as_str()))
        {
            street = Some(i);
            rest = &rest[p.name.len()..];
        } else {
            for (i, p) in self.streets.iter().enumerate() {
                if let Some(after) = rest.strip_prefix(p.alias.as_str())
                    && self.community_at(after, Some(i)).is_some()
                {
                    street = Some(i);
                    rest = after;
                    break;
                }
            }
        }

        // 社区: a community of the street found (or of any street, which then names the street).
        let mut community = None;
        if let Some((ci, len)) = self.community_at(rest, street) {
            street = street.or(self.communities.get(ci).map(|(_, si)| *si));
            community = Some(ci);
            rest = &rest[len..];
        }
        let mut split = Split {
            street,
            community,
            rest,
            ..Split::default()
        };
        split_door(rest, &mut split);
        split
    }

    /// Writes the standard form of the parts.
    fn write_standard(&self, split: &Split<'_>, out: &mut String) {
        out.push_str(&self.city);
        out.push_str(&self.district);
        if let Some(street) = split.street.and_then(|i| self.streets.get(i)) {
            out.push_str(&street.name);
        }
        if let Some((community, _)) = split.community.and_then(|i| self.communities.get(i)) {
            out.push_str(&community.name);
        }
        let Some(number) = split.number else {
            // No door number: keep the rest as written (already cleaned).
            out.push_str(split.rest);
            return;
        };
        out.push_str(split.road.unwrap_or(""));
        out.push_str(number);
        out.push('号');
        if let Some(building) = &split.building {
            out.push_str(building);
        }
        if let Some(unit) = split.unit {
            out.push_str(unit);
            out.push_str("单元");
        }
        out.push_str(split.room.unwrap_or(""));
    }

    /// The community whose name starts `s`, among the given street's when one was found:
    /// (index, bytes used).
    fn community_at(&self, s: &str, street: Option<usize>) -> Option<(usize, usize)> {
        self.communities
            .iter()
            .position(|(p, si)| {
                street.is_none_or(|want| want == *si) && s.starts_with(p.name.as_str())
            })
            .map(|ci| (ci, self.communities[ci].0.name.len()))
    }
}

/// The parts found in a cleaned address, borrowed from it.
#[derive(Default)]
struct Split<'a> {
    street: Option<usize>,
    community: Option<usize>,
    road: Option<&'a str>,
    number: Option<&'a str>,
    building: Option<Cow<'a, str>>,
    unit: Option<&'a str>,
    room: Option<&'a str>,
    /// The text after the community.
    rest: &'a str,
}

/// What [`clean`] converts: full-width letters, digits, spaces and hyphens.
fn half(c: char) -> Option<char> {
    text::half_width_of(c).filter(|h| h.is_ascii_alphanumeric() || *h == ' ' || *h == '-')
}

/// Character-level repairs: half-width letters and digits, no whitespace next to Chinese
/// characters (`深圳市 福田区`), and a full-width hyphen in a door number. Borrowed when the text
/// needs none of them.
fn clean(text: &str) -> Cow<'_, str> {
    let trimmed = text::trim(text);
    if !trimmed
        .chars()
        .any(|c| text::is_space(c) || half(c).is_some())
    {
        return Cow::Borrowed(trimmed);
    }
    let converted: Vec<char> = trimmed.chars().map(|c| half(c).unwrap_or(c)).collect();
    let mut out = String::with_capacity(trimmed.len());
    for (i, &c) in converted.iter().enumerate() {
        if text::is_space(c) {
            // Spaces only separate Latin words (one space between them); beside a Chinese
            // character they are noise.
            let latin = |c: Option<char>| c.is_some_and(|c| c.is_ascii() && !text::is_space(c));
            let before = out.chars().next_back();
            let after = converted[i + 1..]
                .iter()
                .copied()
                .find(|c| !text::is_space(*c));
            if latin(before) && latin(after) {
                out.push(' ');
            }
            continue;
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// Splits `道路 门牌号号 楼栋 单元号单元 房号` off the text after the community.
fn split_door<'a>(rest: &'a str, split: &mut Split<'a>) {
    // The door number is the first run of digits (with an optional `-12`) directly followed by
    // 号 — but not by 号楼, which is a building (`3号楼`).
    let bytes = rest.as_bytes();
    let mut i = 0;
    let mut door = None;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'-') {
                i += 1;
            }
            let after = &rest[i..];
            if after.starts_with('号') && !after.starts_with("号楼") {
                door = Some((start, i));
                break;
            }
        } else {
            i += 1;
        }
    }
    let Some((start, end)) = door else {
        return;
    };
    let road = &rest[..start];
    split.road = (!road.is_empty()).then_some(road);
    split.number = Some(rest[start..end].trim_matches('-'));
    let tail = &rest[end + '号'.len_utf8()..];

    // 单元: the digits before the first 单元; the building is what precedes them.
    let mut building = tail;
    if let Some(u) = tail.find("单元") {
        let before = &tail[..u];
        let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            let ds = before.len() - digits;
            split.unit = Some(&before[ds..]);
            building = &before[..ds];
            let room = tail[u + "单元".len()..].trim_end_matches(['室', '房']);
            split.room = (!room.is_empty()).then_some(room);
        }
    }
    if !building.is_empty() {
        split.building = Some(normalise_building(building));
    }
}

/// `3座`, `3幢`, `3号楼` → `3栋`: the register writes building numbers with 栋. Only a 座/幢
/// after a digit or a Latin letter (`A座`) is a building number; elsewhere the character is part
/// of a name.
fn normalise_building(s: &str) -> Cow<'_, str> {
    if !s.contains(['座', '幢', '号']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut prev: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let numbered = prev.is_some_and(|p| p.is_ascii_alphanumeric());
        match c {
            '座' | '幢' if numbered => out.push('栋'),
            '号' if numbered && chars.peek() == Some(&'楼') => {
                chars.next();
                out.push('栋');
            }
            _ => out.push(c),
        }
        prev = Some(c);
    }
    Cow::Owned(out)
}

/// Normalises one address with the pack's regions (see the module documentation). For many
/// addresses, build an [`AddressNormaliser`] once.
pub fn normalise(text: &str, pack: &Pack) -> AddressParts {
    AddressNormaliser::new(pack).normalise(text)
}
