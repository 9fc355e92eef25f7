//! The built-in spec for people in Chinese government records (人员匹配).

use crate::spec::{
    BlockingRule, ComparisonSpec, DecisionThresholds, IdColumns, KeyPart, LinkSpec, Method,
    Training, Transform,
};

/// 姓名: full name, simplified Chinese.
pub const NAME: &str = "name";
/// 性别: `1`/`2`, `男`/`女` or `M`/`F`.
pub const SEX: &str = "sex";
/// 出生日期: ISO `YYYY-MM-DD` (other digit layouts are read too).
pub const BIRTH_DATE: &str = "birth_date";
/// 身份证号: resident ID number, GB 11643, 18 or 15 characters, possibly damaged.
pub const RESIDENT_ID: &str = "resident_id";
/// 地址码: region or community code of the address (e.g. a 社区 code).
pub const ADDRESS_CODE: &str = "address_code";

/// The columns [`person_spec`] reads, in a convenient order for building a [`crate::Dataset`].
pub const PERSON_COLUMNS: [&str; 5] = [NAME, SEX, BIRTH_DATE, RESIDENT_ID, ADDRESS_CODE];

fn comparison(name: &str, columns: &[&str], method: Method, tf_adjustment: bool) -> ComparisonSpec {
    ComparisonSpec {
        name: name.to_owned(),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        method,
        tf_adjustment,
    }
}

/// The person spec: columns `name`, `sex`, `birth_date`, `resident_id`, `address_code`.
///
/// Comparisons: 姓名 by characters and pinyin (homophones are a typing error, not a different
/// person), with term frequencies so that a shared rare name counts more than 王伟;
/// 出生日期 with a typo / day–month swap level and a 60-day level (a lunar birthday recorded as
/// the solar one is off by 20–50 days); 性别; 身份证号 with a transposition level; 地址码 exact;
/// and whether each record's ID carries the other record's birth date and sex, so that a
/// transposed ID that still passes the GB 11643 check but names another birth date is weak
/// evidence. Blocking: birth date; name pinyin + birth year; the valid ID.
pub fn person_spec() -> LinkSpec {
    LinkSpec {
        ids: IdColumns {
            a: "record_id".into(),
            b: "record_id".into(),
        },
        comparisons: vec![
            comparison(
                "name",
                &[NAME],
                Method::NameZh {
                    pinyin_threshold: 0.9,
                },
                true,
            ),
            comparison(
                "birth_date",
                &[BIRTH_DATE],
                Method::Date {
                    within_days: Some(60),
                },
                false,
            ),
            comparison("sex", &[SEX], Method::Sex, false),
            comparison("resident_id", &[RESIDENT_ID], Method::IdNumber, false),
            comparison("address_code", &[ADDRESS_CODE], Method::Exact, false),
            comparison(
                "id_birth_sex",
                &[RESIDENT_ID, BIRTH_DATE, SEX],
                Method::IdBirthSex,
                false,
            ),
        ],
        blocking: vec![
            BlockingRule::new(
                Some("birth_date".into()),
                vec![KeyPart::derived(BIRTH_DATE, Transform::Digits)],
            ),
            BlockingRule::new(
                Some("name_pinyin+birth_year".into()),
                vec![
                    KeyPart::derived(NAME, Transform::Pinyin),
                    KeyPart::derived(BIRTH_DATE, Transform::Year),
                ],
            ),
            BlockingRule::new(
                Some("resident_id".into()),
                vec![KeyPart::derived(RESIDENT_ID, Transform::ResidentId)],
            ),
        ],
        deterministic: Vec::new(),
        decision: DecisionThresholds::default(),
        training: Training::default(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, NaiveDate};
    use miaopi_model::ResidentId;

    use super::*;
    use crate::data::Dataset;
    use crate::engine::{Decision, dedupe, link};
    use crate::model::SplitMix64;

    const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔向汤";

    /// Given-name characters in homophone groups (same toneless pinyin).
    const HOMOPHONES: [&str; 24] = [
        "伟威薇维",
        "明鸣铭",
        "华桦",
        "丽莉俐",
        "静晶菁",
        "军君",
        "芳方",
        "强蔷",
        "磊蕾",
        "洋阳",
        "杰洁捷",
        "涛韬",
        "斌彬",
        "敏闽",
        "燕艳雁",
        "平萍",
        "刚钢",
        "勇涌",
        "霞侠",
        "娟鹃",
        "英莹瑛",
        "辉晖",
        "峰锋枫",
        "红虹宏",
    ];

    #[derive(Clone)]
    struct Person {
        name: String,
        sex_code: &'static str,
        birth: NaiveDate,
        id: ResidentId,
        address: String,
    }

    fn pick<'a>(rng: &mut SplitMix64, items: &[&'a str]) -> &'a str {
        items[rng.below(items.len() as u64) as usize]
    }

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn person(rng: &mut SplitMix64) -> Person {
        let surnames = chars(SURNAMES);
        let mut name = String::new();
        name.push(surnames[rng.below(surnames.len() as u64) as usize]);
        for _ in 0..(1 + rng.below(2)) {
            let group = chars(pick(rng, &HOMOPHONES));
            name.push(group[rng.below(group.len() as u64) as usize]);
        }
        let birth = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap()
            + chrono::Duration::days(rng.below(365 * 50) as i64);
        let sequence = rng.below(1000) as u16;
        let id = ResidentId::from_parts(440_304, birth, sequence).unwrap();
        let sex_code = if sequence % 2 == 1 { "1" } else { "2" };
        let address = format!("440304{:03}{:03}", 1 + rng.below(11), 1 + rng.below(9));
        Person {
            name,
            sex_code,
            birth,
            id,
            address,
        }
    }

    fn row(p: &Person, id: Option<String>, birth: String) -> Vec<Option<String>> {
        vec![
            Some(p.name.clone()),
            Some(p.sex_code.into()),
            Some(birth),
            id,
            Some(p.address.clone()),
        ]
    }

    fn iso(d: NaiveDate) -> String {
        d.format("%Y-%m-%d").to_string()
    }

    /// A valid ID that is `id` with two digits 10 apart swapped, carrying another birth date:
    /// the GB 11643 check cannot see such a swap.
    fn valid_transposition(id: &ResidentId) -> Option<ResidentId> {
        let s: Vec<u8> = id.as_str().bytes().collect();
        (6..8).find_map(|i| {
            let mut t = s.clone();
            t.swap(i, i + 10);
            let text = String::from_utf8(t).ok()?;
            let other = ResidentId::parse(&text).ok()?;
            (other != *id && other.birth_date() != id.birth_date()).then_some(other)
        })
    }

    /// Damage kinds applied to B's copy of a person, by index.
    const KINDS: [&str; 10] = [
        "clean",
        "name_typo",
        "homophone",
        "id_adjacent_swap",
        "id_legacy_15",
        "id_missing",
        "day_month_swap",
        "birth_digit_typo",
        "id_valid_transposition",
        "moved_and_homophone",
    ];

    fn variant(p: &Person, kind: usize, rng: &mut SplitMix64) -> Vec<Option<String>> {
        let birth = iso(p.birth);
        let id = Some(p.id.as_str().to_owned());
        match KINDS[kind] {
            "name_typo" => {
                let mut q = p.clone();
                let mut c = chars(&q.name);
                let last = c.len() - 1;
                c[last] = if c[last] == '国' { '民' } else { '国' };
                q.name = c.into_iter().collect();
                row(&q, id, birth)
            }
            "homophone" | "moved_and_homophone" => {
                let mut q = p.clone();
                let mut c = chars(&q.name);
                let last = c.len() - 1;
                let group = HOMOPHONES
                    .iter()
                    .map(|g| chars(g))
                    .find(|g| g.contains(&c[last]))
                    .unwrap();
                c[last] = *group.iter().find(|&&h| h != c[last]).unwrap();
                q.name = c.into_iter().collect();
                if KINDS[kind] == "moved_and_homophone" {
                    q.address = "440304005001".into();
                }
                row(&q, id, birth)
            }
            "id_adjacent_swap" => {
                let mut b: Vec<u8> = p.id.as_str().bytes().collect();
                let i = 14 + rng.below(2) as usize;
                if b[i] == b[i + 1] {
                    b[i] = if b[i] == b'9' { b'0' } else { b[i] + 1 };
                } else {
                    b.swap(i, i + 1);
                }
                row(p, Some(String::from_utf8(b).unwrap()), birth)
            }
            "id_legacy_15" => row(p, p.id.to_legacy_15().or(id), birth),
            "id_missing" => row(p, None, birth),
            "day_month_swap" if p.birth.day() <= 12 && p.birth.day() != p.birth.month() => {
                let swapped = format!(
                    "{}-{:02}-{:02}",
                    p.birth.year(),
                    p.birth.day(),
                    p.birth.month()
                );
                row(p, id, swapped)
            }
            "birth_digit_typo" | "day_month_swap" => {
                let mut b: Vec<u8> = birth.bytes().collect();
                b[3] = if b[3] == b'9' { b'8' } else { b[3] + 1 };
                row(p, id, String::from_utf8(b).unwrap())
            }
            "id_valid_transposition" => {
                let id =
                    valid_transposition(&p.id).map_or_else(|| p.id.to_string(), |t| t.to_string());
                row(p, Some(id), birth)
            }
            _ => row(p, id, birth),
        }
    }

    /// The person spec with a smaller u sample: tests run unoptimised.
    fn spec() -> LinkSpec {
        let mut spec = person_spec();
        spec.training.u_sample_pairs = 100_000;
        spec
    }

    struct Scenario {
        a: Dataset,
        b: Dataset,
        /// (reference in A, reference in B, damage kind) of every true pair.
        truth: Vec<(u64, u64, usize)>,
    }

    fn scenario(people: usize, seed: u64) -> Scenario {
        let mut rng = SplitMix64::new(seed);
        let population: Vec<Person> = (0..people).map(|_| person(&mut rng)).collect();
        let mut a = Dataset::new(PERSON_COLUMNS);
        let mut b = Dataset::new(PERSON_COLUMNS);
        let mut truth = Vec::new();
        // A holds the first 80%; B holds a damaged copy of every other one of them plus the
        // last 20%, who are nobody in A.
        let in_a = people * 4 / 5;
        for (i, p) in population.iter().enumerate().take(in_a) {
            a.push(i as u64, row(p, Some(p.id.to_string()), iso(p.birth)))
                .unwrap();
        }
        let mut next_b = 1_000_000u64;
        for (i, p) in population.iter().enumerate() {
            if i < in_a && i % 2 == 1 {
                continue;
            }
            let kind = (i / 2) % KINDS.len();
            let values = if i < in_a {
                truth.push((i as u64, next_b, kind));
                variant(p, kind, &mut rng)
            } else {
                row(p, Some(p.id.to_string()), iso(p.birth))
            };
            b.push(next_b, values).unwrap();
            next_b += 1;
        }
        Scenario { a, b, truth }
    }

    #[test]
    fn true_pairs_outscore_non_pairs_for_every_kind_of_damage() {
        let s = scenario(1500, 11);
        let outcome = link(&spec(), &s.a, &s.b).unwrap();
        let true_pairs: std::collections::HashMap<(u64, u64), usize> =
            s.truth.iter().map(|&(a, b, k)| ((a, b), k)).collect();

        let mut missed = Vec::new();
        let mut lowest_true = f64::INFINITY;
        for &(a, b, kind) in &s.truth {
            match outcome.pairs.iter().find(|p| p.a == a && p.b == b) {
                Some(p) if p.decision == Decision::Link => {
                    lowest_true = lowest_true.min(p.match_weight);
                }
                found => missed.push((KINDS[kind], found.map(|p| outcome.explain(p).to_string()))),
            }
        }
        assert!(missed.is_empty(), "true pairs not linked: {missed:#?}");
        let false_links: Vec<String> = outcome
            .pairs
            .iter()
            .filter(|p| !true_pairs.contains_key(&(p.a, p.b)))
            .map(|p| outcome.explain(p).to_string())
            .collect();
        assert!(false_links.is_empty(), "non-pairs kept: {false_links:#?}");
        assert!(lowest_true > outcome.model.prior_log2_odds + 7.0);
        assert!(outcome.model.em_converged);
        assert_eq!(outcome.counts.links as usize, s.truth.len());
        // The number of real matches is known here: EM's estimate is near it.
        let ratio = outcome.model.expected_matches / s.truth.len() as f64;
        assert!(
            (0.8..1.25).contains(&ratio),
            "EM expects {} matches",
            outcome.model.expected_matches
        );
    }

    #[test]
    fn homophone_scores_between_exact_and_different_name() {
        let s = scenario(1500, 12);
        let outcome = link(&spec(), &s.a, &s.b).unwrap();
        let name = &outcome.model.comparisons[0];
        let factor = |label: &str| {
            name.levels
                .iter()
                .find(|l| l.label == label)
                .map(|l| l.log2_bayes_factor)
                .unwrap()
        };
        assert!(factor("exact") > factor("same_pinyin"));
        assert!(
            factor("same_pinyin") > 0.0,
            "a homophone is evidence for a match"
        );
        assert!(factor("else") < 0.0);
        let id = &outcome.model.comparisons[3];
        assert!(
            id.levels[1].log2_bayes_factor > 0.0,
            "a transposed ID still points to a match"
        );
        assert!(id.levels[0].log2_bayes_factor > id.levels[1].log2_bayes_factor);
    }

    #[test]
    fn transposed_valid_id_with_another_birth_date_is_weak_evidence() {
        let s = scenario(1500, 13);
        // Somebody else with the same name, sex and address, whose (valid) ID is the
        // transposition of a person's ID and whose stated birth date agrees with it.
        let (index, original, other_id) = (0..s.a.len())
            .find_map(|row| {
                let id = ResidentId::parse(s.a.value(row, 3)?).ok()?;
                Some((row, id, valid_transposition(&id)?))
            })
            .unwrap();
        let values: Vec<Option<String>> = (0..5)
            .map(|c| s.a.value(index, c).map(str::to_owned))
            .collect();
        let mut b = s.b.clone();
        let mut impostor = values.clone();
        impostor[2] = Some(iso(other_id.birth_date()));
        impostor[3] = Some(other_id.to_string());
        b.push(7, impostor).unwrap();
        // The same person, same record but for the transposed ID.
        let mut typo = values;
        typo[3] = Some(other_id.to_string());
        b.push(8, typo).unwrap();
        let outcome = link(&spec(), &s.a, &b).unwrap();
        let reference = s.a.reference(index).unwrap();
        let find = |r: u64| outcome.pairs.iter().find(|p| p.a == reference && p.b == r);
        let typo_pair = find(8).expect("the typo'd record is kept");
        assert_eq!(
            typo_pair.decision,
            Decision::Link,
            "{}",
            outcome.explain(typo_pair)
        );
        let impostor_weight = find(7).map_or(f64::NEG_INFINITY, |p| p.match_weight);
        assert!(
            find(7).is_none_or(|p| p.decision != Decision::Link),
            "{}",
            outcome.explain(find(7).unwrap())
        );
        assert!(typo_pair.match_weight > impostor_weight);
        assert!(original.birth_date() != other_id.birth_date());
    }

    #[test]
    fn dedupe_clusters_a_persons_records() {
        let s = scenario(600, 14);
        // One dataset: A's records plus B's damaged copies (references do not collide).
        let mut all = s.a.clone();
        for row in 0..s.b.len() {
            let values = (0..5)
                .map(|c| s.b.value(row, c).map(str::to_owned))
                .collect();
            all.push(s.b.reference(row).unwrap(), values).unwrap();
        }
        let outcome = dedupe(&spec(), &all).unwrap();
        let clusters = outcome.clusters();
        let mut expected: Vec<Vec<u64>> = s.truth.iter().map(|&(a, b, _)| vec![a, b]).collect();
        expected.sort();
        let mut found: Vec<Vec<u64>> = clusters
            .iter()
            .map(|c| c.members.iter().map(|m| m.reference).collect())
            .collect();
        found.sort();
        assert_eq!(found, expected);
        assert!(clusters.iter().all(|c| c.links.len() == 1));
    }

    #[test]
    fn deterministic_rule_links_whatever_the_score() {
        use crate::engine::LinkMethod;
        let s = scenario(300, 15);
        let mut b = Dataset::new(PERSON_COLUMNS);
        // Same valid ID, everything else another person's.
        let id = s.a.value(0, 3).map(str::to_owned);
        b.push(
            5,
            vec![
                Some("司马光".into()),
                Some("1".into()),
                Some("1901-01-01".into()),
                id,
                None,
            ],
        )
        .unwrap();
        let plain = link(&spec(), &s.a, &b).unwrap();
        assert!(plain.links().next().is_none());
        let mut with_rule = spec();
        with_rule.deterministic.push(BlockingRule::new(
            Some("same_valid_id".into()),
            vec![KeyPart::derived(RESIDENT_ID, Transform::ResidentId)],
        ));
        let outcome = link(&with_rule, &s.a, &b).unwrap();
        let links: Vec<_> = outcome.links().collect();
        assert_eq!(links.len(), 1);
        assert_eq!(
            links[0].method,
            LinkMethod::Deterministic("same_valid_id".into())
        );
        assert!(
            links[0].match_probability < 0.5,
            "the score still says what it says"
        );
        assert_eq!(outcome.counts.deterministic_links, 1);
        assert!(outcome.blocking[0].deterministic);
    }

    #[test]
    fn person_spec_round_trips_through_toml() {
        let spec = person_spec();
        let text = spec.to_toml_string().unwrap();
        assert_eq!(LinkSpec::from_toml_str(&text).unwrap(), spec);
        assert!(text.contains("method = \"name_zh\""), "{text}");
    }
}
