//! Department files written by other hands (issue 20), through the file path in each unit's own
//! format: the value conventions a clerk reads at once are read, each with its fix recorded, and
//! the repaired keys link to the register; only the genuinely ambiguous is quarantined.
//!
//! The district is generated clean, then rewritten the way units write: expected values are the
//! generator's own (the value before we messed it up) and the published standards (GB/T 2261.1
//! sex codes; 1 万元 = 10,000 元), never the output of the code under test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use miaopi_batch::{BatchOutcome, Home};
use miaopi_model::{ResidentId, Uscc};
use miaopi_synth::NoiseConfig;
use miaopi_testkit::{pack, runtime, small_district};

// ---------------------------------------------------------------------------------------------
// Files as the units write them.

/// A text file's encoding as written.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    Utf8,
    Utf8Bom,
    Gbk,
    /// Excel's "Unicode 文本": UTF-16LE with a BOM, tab-separated, CRLF.
    Utf16LeTabs,
}

/// A CSV file: header and records, every cell as text.
struct Table {
    /// The resource, whose field labels are the header.
    resource: &'static str,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    crlf: bool,
}

fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if cur.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

fn join_csv(fields: &[String], delim: char) -> String {
    fields
        .iter()
        .map(|f| {
            if f.contains([delim, '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(&delim.to_string())
}

impl Table {
    fn read(path: &Path, form: Form, resource: &'static str) -> Table {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = match form {
            Form::Utf8 => String::from_utf8(bytes).unwrap(),
            Form::Utf8Bom => String::from_utf8(bytes[3..].to_vec()).unwrap(),
            Form::Gbk => encoding_rs::GBK.decode(&bytes).0.into_owned(),
            Form::Utf16LeTabs => unreachable!("the generator writes no UTF-16"),
        };
        let crlf = text.contains("\r\n");
        let mut lines = text.lines().filter(|l| !l.is_empty());
        let header = split_csv(lines.next().unwrap());
        let rows: Vec<Vec<String>> = lines.map(split_csv).collect();
        assert!(
            rows.iter().all(|r| r.len() == header.len()),
            "{}",
            path.display()
        );
        Table {
            resource,
            header,
            rows,
            crlf,
        }
    }

    /// The column of a field (by its label, which heads the unit's file).
    fn col(&self, name: &str) -> usize {
        let label = &pack()
            .resource(self.resource)
            .and_then(|r| r.field(name))
            .unwrap_or_else(|| panic!("no field {name} in {}", self.resource))
            .label;
        self.header
            .iter()
            .position(|h| h == label)
            .unwrap_or_else(|| panic!("no column {label} in {:?}", self.header))
    }

    fn write(&self, path: &Path, form: Form) {
        let (delim, eol) = match form {
            Form::Utf16LeTabs => ('\t', "\r\n"),
            _ if self.crlf => (',', "\r\n"),
            _ => (',', "\n"),
        };
        let mut text = String::new();
        for r in std::iter::once(&self.header).chain(&self.rows) {
            text.push_str(&join_csv(r, delim));
            text.push_str(eol);
        }
        let bytes = match form {
            Form::Utf8 => text.into_bytes(),
            Form::Utf8Bom => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
            Form::Gbk => encoding_rs::GBK.encode(&text).0.into_owned(),
            Form::Utf16LeTabs => {
                let mut b = vec![0xFF, 0xFE];
                for unit in text.encode_utf16() {
                    b.extend_from_slice(&unit.to_le_bytes());
                }
                b
            }
        };
        std::fs::write(path, bytes).unwrap();
    }
}

/// `2030-01-05` → `二〇三〇年一月五日`, as hand-written forms and scanned certificates put it.
fn chinese_numeral_date(d: NaiveDate) -> String {
    const DIGITS: [char; 10] = ['〇', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    let year: String = d
        .year()
        .to_string()
        .chars()
        .map(|c| DIGITS[c.to_digit(10).unwrap() as usize])
        .collect();
    let small = |n: u32| -> String {
        let (tens, ones) = (n / 10, n % 10);
        let mut s = String::new();
        if tens > 1 {
            s.push(DIGITS[tens as usize]);
        }
        if tens > 0 {
            s.push('十');
        }
        if ones > 0 {
            s.push(DIGITS[ones as usize]);
        }
        s
    };
    format!("{year}年{}月{}日", small(d.month()), small(d.day()))
}

/// OCR's look-alike letters for digits in an identifier: O for 0, l for 1, Z for 2, S for 5,
/// B for 8 (every occurrence but in the check position).
fn ocr(id: &str, letters: &[(char, char)]) -> String {
    let n = id.chars().count();
    id.chars()
        .enumerate()
        .map(|(i, c)| {
            if i + 1 == n {
                return c;
            }
            letters
                .iter()
                .find(|(digit, _)| *digit == c)
                .map_or(c, |(_, letter)| *letter)
        })
        .collect()
}

/// `12.5` × 10,000 as exact decimal text (`125000`).
fn times_ten_thousand(decimal: &str) -> String {
    let (int, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    let mut frac = frac.to_string();
    while frac.len() < 4 {
        frac.push('0');
    }
    let (moved, rest) = frac.split_at(4);
    let int = format!("{int}{moved}").trim_start_matches('0').to_string();
    let int = if int.is_empty() { "0".to_string() } else { int };
    if rest.is_empty() {
        int
    } else {
        format!("{int}.{rest}")
    }
}

/// Decimal text without trailing zeros (`50.000000` → `50`), to compare values, not scales.
fn plain_decimal(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// The district, rewritten.

/// One rewritten value and what intake must make of it.
struct Case {
    resource: &'static str,
    /// A column and value that find the record in `dwd` (its business key after repair).
    find: (&'static str, String),
    field: &'static str,
    /// The generator's value (`None`: the typed "no end").
    expected: Option<String>,
    fix: &'static str,
    /// For key fields: the key status intake must give.
    key_status: Option<&'static str>,
}

struct Messy {
    dir: tempfile::TempDir,
    cases: Vec<Case>,
    /// A licence whose day-first validity is ambiguous (day ≤ 12): quarantined.
    ambiguous_licence: String,
    /// Population-register records (police, UTF-16 export): resident ID → GB/T 2261.1 sex code.
    hukou_sex: BTreeMap<String, String>,
    /// The property owner whose ID, with look-alike letters, also passes as a credit code:
    /// (the ID, the text as written).
    phantom: (String, String),
    /// Social-insurance records with the employer's organisation code in place of its credit
    /// code: the credit code the generator wrote.
    org_coded_employers: BTreeSet<String>,
}

fn sources() -> PathBuf {
    messy().dir.path().join("sources")
}

fn messy() -> &'static Messy {
    static MESSY: OnceLock<Messy> = OnceLock::new();
    MESSY.get_or_init(|| {
        let mut cfg = small_district(400);
        cfg.insurance_months = 1;
        cfg.noise = NoiseConfig::clean();
        let dir = miaopi_testkit::generate(&cfg);
        let src = dir.path().join("sources");
        let mut cases = Vec::new();

        // 公安交警: driving licences, UTF-8 with BOM.
        let path = src.join("traffic_police/driving_licences.csv");
        let mut t = Table::read(&path, Form::Utf8Bom, "driving_licences");
        let (no, id, until) = (
            t.col("licence_no"),
            t.col("resident_id"),
            t.col("valid_until"),
        );
        // 交警's house style is `2020/1/2`.
        let date = |s: &str| {
            NaiveDate::parse_from_str(s, "%Y/%m/%d")
                .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
                .unwrap_or_else(|e| panic!("{s}: {e}"))
        };
        let mut rows = 0..t.rows.len();
        let mut next = |want: &dyn Fn(NaiveDate) -> bool| {
            rows.by_ref()
                // Licences renewed twice are already written 长期 by the generator.
                .find(|&r| !t.rows[r][until].starts_with("长期") && want(date(&t.rows[r][until])))
                .expect("a licence with such a validity")
        };
        let plain = next(&|_| true);
        let spaced = next(&|_| true);
        let lettered = next(&|_| true);
        let day_first = next(&|d| d.day() > 12);
        let numerals = next(&|_| true);
        let ambiguous = next(&|d| d.day() <= 12 && d.day() != d.month());
        fn set(t: &mut Table, r: usize, at: usize, text: String) -> Vec<String> {
            let original = t.rows[r].clone();
            t.rows[r][at] = text;
            original
        }
        let hyphens = |s: &str| format!("{}-{}-{}", &s[..6], &s[6..14], &s[14..]);
        let spaces = |s: &str| format!(" {} {}  {} ", &s[..6], &s[6..14], &s[14..]);
        let letters = [('0', 'O'), ('1', 'l'), ('2', 'Z'), ('5', 'S'), ('8', 'B')];
        let written = [
            hyphens(&t.rows[plain][id]),
            spaces(&t.rows[spaced][id]),
            ocr(&t.rows[lettered][id], &letters),
        ];
        for ((r, id_text), (until_text, fix)) in
            [plain, spaced, lettered].into_iter().zip(written).zip([
                ("长期", "id_separators_removed"),
                ("长期有效", "id_separators_removed"),
                ("9999-12-31", "id_look_alike_letters"),
            ])
        {
            let original = set(&mut t, r, id, id_text);
            set(&mut t, r, until, until_text.to_string());
            cases.push(Case {
                resource: "driving_licences",
                find: ("licence_no", original[no].clone()),
                field: "resident_id",
                expected: Some(original[id].clone()),
                fix,
                key_status: Some("valid"),
            });
            cases.push(Case {
                resource: "driving_licences",
                find: ("licence_no", original[no].clone()),
                field: "valid_until",
                expected: None,
                fix: "open_ended",
                key_status: None,
            });
        }
        for (r, numerals, fix) in [
            (day_first, false, "day_first_date"),
            (numerals, true, "chinese_numeral_date"),
        ] {
            let d = date(&t.rows[r][until]);
            let written = if numerals {
                chinese_numeral_date(d)
            } else {
                format!("{}/{:02}/{}", d.day(), d.month(), d.year())
            };
            let original = set(&mut t, r, until, written);
            cases.push(Case {
                resource: "driving_licences",
                find: ("licence_no", original[no].clone()),
                field: "valid_until",
                expected: Some(date(&original[until]).to_string()),
                fix,
                key_status: None,
            });
        }
        let d = date(&t.rows[ambiguous][until]);
        let ambiguous_licence = set(
            &mut t,
            ambiguous,
            until,
            format!("{:02}/{:02}/{}", d.day(), d.month(), d.year()),
        )[no]
            .clone();
        t.write(&path, Form::Utf8Bom);

        // 市场监管局: the enterprise register, UTF-8. Capital in 人民币…万元 and in 元; credit
        // codes grouped with spaces, lower case, and with O for 0.
        let path = src.join("market_regulation/enterprise_registrations.csv");
        let mut t = Table::read(&path, Form::Utf8, "enterprise_registrations");
        let (uscc, capital) = (t.col("uscc"), t.col("registered_capital"));
        let with_capital: Vec<usize> = (0..t.rows.len())
            .filter(|&r| !t.rows[r][capital].is_empty())
            .take(4)
            .collect();
        assert_eq!(
            with_capital.len(),
            4,
            "enough enterprises with a registered capital"
        );
        for (i, &r) in with_capital.iter().enumerate() {
            let original = t.rows[r].clone();
            let code = &original[uscc];
            match i {
                0 => t.rows[r][capital] = format!("人民币{}万元", original[capital]),
                1 => t.rows[r][capital] = format!("{}元", times_ten_thousand(&original[capital])),
                2 => {
                    let grouped: Vec<String> = code
                        .as_bytes()
                        .chunks(4)
                        .map(|c| String::from_utf8(c.to_vec()).unwrap())
                        .collect();
                    t.rows[r][uscc] = grouped.join(" ").to_lowercase();
                }
                _ => t.rows[r][uscc] = ocr(code, &[('0', 'O')]),
            }
            let (field, fix, status) = match i {
                0 | 1 => ("registered_capital", "unit_converted", None),
                2 => ("uscc", "id_separators_removed", Some("valid")),
                _ => ("uscc", "id_look_alike_letters", Some("valid")),
            };
            cases.push(Case {
                resource: "enterprise_registrations",
                find: ("uscc", code.clone()),
                field,
                expected: Some(if field == "uscc" {
                    code.clone()
                } else {
                    original[capital].clone()
                }),
                fix,
                key_status: status,
            });
        }
        let registered_codes: Vec<String> = t.rows.iter().map(|r| r[uscc].clone()).collect();
        t.write(&path, Form::Utf8);

        // 规自局: property registrations, UTF-8. Areas with their unit; an owner's resident ID
        // with look-alike letters that also passes as a credit code.
        let path = src.join("planning/property_registrations.csv");
        let mut t = Table::read(&path, Form::Utf8, "property_registrations");
        let (unit_no, owner, area) = (
            t.col("property_unit_no"),
            t.col("owner_id"),
            t.col("area_m2"),
        );
        for (r, suffix) in [(0, "㎡"), (1, "平方米"), (2, "平米")] {
            let original = t.rows[r].clone();
            t.rows[r][area] = format!("{}{suffix}", original[area]);
            cases.push(Case {
                resource: "property_registrations",
                find: ("property_unit_no", original[unit_no].clone()),
                field: "area_m2",
                expected: Some(original[area].clone()),
                fix: "unit_converted",
                key_status: None,
            });
        }
        // B for 8 and l for 1 read as credit-code characters (l upper-cased): search the owners'
        // IDs for such a reading that passes the credit code's check (about one in 31 does).
        let phantom = (3..t.rows.len())
            .filter(|&r| ResidentId::parse(&t.rows[r][owner]).is_ok())
            .find_map(|r| {
                let id = t.rows[r][owner].clone();
                [('8', 'B'), ('1', 'l')]
                    .iter()
                    .flat_map(|&(digit, letter)| {
                        (0..17)
                            .filter(|&i| id.as_bytes()[i] == digit as u8)
                            .map(|i| {
                                let mut s = id.clone();
                                s.replace_range(i..=i, &letter.to_string());
                                s
                            })
                            .collect::<Vec<_>>()
                    })
                    .find(|s| Uscc::parse(&s.to_uppercase()).is_ok())
                    .map(|s| (r, id.clone(), s))
            })
            .map(|(r, id, written)| {
                t.rows[r][owner] = written.clone();
                cases.push(Case {
                    resource: "property_registrations",
                    find: ("property_unit_no", t.rows[r][unit_no].clone()),
                    field: "owner_id",
                    expected: Some(id.clone()),
                    fix: "id_look_alike_letters",
                    key_status: Some("valid"),
                });
                (id, written)
            })
            .expect("an owner ID whose look-alike reading passes as a credit code");
        t.write(&path, Form::Utf8);

        // 公安分局: the population register, exported from Excel as "Unicode 文本" (UTF-16LE,
        // tab-separated) instead of the catalogue's GBK CSV, sex written M/F.
        let path = src.join("police/hukou_residents.csv");
        let mut t = Table::read(&path, Form::Gbk, "hukou_residents");
        let (rid, sex) = (t.col("resident_id"), t.col("sex"));
        let mut hukou_sex = BTreeMap::new();
        for row in &mut t.rows {
            let (letter, code) = match row[sex].as_str() {
                "男" | "1" => ("M", "1"),
                "女" | "2" => ("F", "2"),
                other => panic!("sex {other}"),
            };
            row[sex] = letter.to_string();
            hukou_sex.insert(row[rid].clone(), code.to_string());
        }
        t.write(&path, Form::Utf16LeTabs);

        // 人社局: contributions naming the employer by its pre-2016 organisation code.
        let path = std::fs::read_dir(src.join("human_resources"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("social_insurance_"))
            })
            .min()
            .expect("a month of social insurance");
        let mut t = Table::read(&path, Form::Utf8, "social_insurance_contributions");
        let employer = t.col("employer_uscc");
        let mut org_coded_employers = BTreeSet::new();
        for row in t
            .rows
            .iter_mut()
            .filter(|r| registered_codes.contains(&r[employer]))
        {
            if org_coded_employers.len() == 3 {
                break;
            }
            let code = row[employer].clone();
            if org_coded_employers.contains(&code) {
                continue;
            }
            row[employer] = format!("{}-{}", &code[8..16], &code[16..17]);
            org_coded_employers.insert(code);
        }
        assert_eq!(
            org_coded_employers.len(),
            3,
            "contributions of registered employers"
        );
        t.write(&path, Form::Utf8);

        Messy {
            dir,
            cases,
            ambiguous_licence,
            hukou_sex,
            phantom,
            org_coded_employers,
        }
    })
}

async fn strings(home: &Home, sql: &str) -> Vec<Vec<Option<String>>> {
    miaopi_testkit::text_rows(home, sql).await
}

/// Whether the fixes JSON of a `dwd` record holds a fix of `kind` on `field`.
fn has_fix(fixes: Option<&str>, field: &str, kind: &str) -> bool {
    let Some(json) = fixes else { return false };
    let list: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
    list.iter()
        .any(|f| f["field"] == field && f["kind"] == kind)
}

async fn ingest_all(home: &Home) -> Vec<(PathBuf, miaopi_batch::BatchReport)> {
    miaopi_testkit::ingest(home, &sources(), |_| true).await
}

// ---------------------------------------------------------------------------------------------

#[test]
fn values_a_clerk_reads_at_once_are_read_with_the_fix_recorded() {
    let m = messy();
    let rt = runtime();
    let home_dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let home = Home::open(home_dir.path()).await.unwrap();
        let reports = ingest_all(&home).await;
        for (path, r) in &reports {
            assert_eq!(r.outcome, BatchOutcome::Committed);
            assert_eq!(
                r.rows_read,
                r.rows_accepted + r.rows_quarantined,
                "{}",
                path.display()
            );
            // Nothing but the one genuinely ambiguous date is quarantined.
            let expected: BTreeMap<String, u64> = if r.resource == "driving_licences" {
                [("ambiguous_date".to_string(), 1)].into()
            } else {
                BTreeMap::new()
            };
            assert_eq!(r.reasons, expected, "{}", path.display());
        }
        for c in &m.cases {
            let status = match c.key_status {
                Some(_) => format!("{}_key_status", c.field),
                None => "''".to_string(),
            };
            let sql = format!(
                "SELECT CAST({field} AS VARCHAR), CAST({status} AS VARCHAR), fixes FROM dwd.{t} \
                 WHERE {k} = '{v}'",
                field = c.field,
                t = c.resource,
                k = c.find.0,
                v = c.find.1
            );
            let rows = strings(&home, &sql).await;
            assert_eq!(
                rows.len(),
                1,
                "{}.{} {}: one record",
                c.resource,
                c.field,
                c.find.1
            );
            let [value, status, fixes] = rows[0].as_slice() else {
                unreachable!()
            };
            let value = value.as_deref().map(plain_decimal);
            assert_eq!(
                value,
                c.expected.as_deref().map(plain_decimal),
                "{}.{} of {}",
                c.resource,
                c.field,
                c.find.1
            );
            if let Some(want) = c.key_status {
                assert_eq!(status.as_deref(), Some(want), "{}.{}", c.resource, c.field);
            }
            assert!(
                has_fix(fixes.as_deref(), c.field, c.fix),
                "{}.{} of {}: fix {} recorded in {fixes:?}",
                c.resource,
                c.field,
                c.find.1,
                c.fix
            );
        }
        // The ambiguous one says why, in Chinese, with both readings.
        let q = strings(
            &home,
            "SELECT raw, reason_codes, reasons_zh FROM quarantine.driving_licences",
        )
        .await;
        assert_eq!(q.len(), 1);
        assert!(q[0][0].as_deref().unwrap().contains(&m.ambiguous_licence));
        assert_eq!(q[0][1].as_deref(), Some("ambiguous_date"));
        assert!(
            q[0][2].as_deref().unwrap().contains("日月顺序不明"),
            "{:?}",
            q[0][2]
        );
    });
}

#[test]
fn an_excel_unicode_text_export_reads_like_the_declared_encoding() {
    let m = messy();
    let rt = runtime();
    let home_dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let home = Home::open(home_dir.path()).await.unwrap();
        let reports = miaopi_testkit::ingest(&home, &sources(), |r| r == "hukou_residents").await;
        let [(_, r)] = reports.as_slice() else {
            panic!("one hukou file")
        };
        assert_eq!(r.rows_read, m.hukou_sex.len() as u64, "every record read");
        assert_eq!(r.rows_quarantined, 0, "{:?}", r.reasons);
        let rows = strings(
            &home,
            "SELECT resident_id, sex, fixes, name FROM dwd.hukou_residents",
        )
        .await;
        assert_eq!(rows.len(), m.hukou_sex.len());
        for row in &rows {
            let id = row[0].as_deref().unwrap();
            assert_eq!(row[1].as_deref(), Some(m.hukou_sex[id].as_str()), "{id}");
            assert!(has_fix(row[2].as_deref(), "sex", "code_label_to_code"));
            // Chinese text survived the UTF-16 round: names are Han characters, not mojibake.
            let name = row[3].as_deref().unwrap();
            assert!(
                name.chars()
                    .all(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c) || c == '·'),
                "{name}"
            );
        }
    });
}

#[test]
fn a_file_in_another_units_directory_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let generated = messy()
        .dir
        .path()
        .join("sources/traffic_police/driving_licences.csv");
    let wrong = dir.path().join("police/driving_licences_2026.csv");
    let right = dir.path().join("traffic_police/driving_licences_2026.csv");
    for p in [&wrong, &right] {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(&generated, p).unwrap();
    }
    let (found, unrecognised) = miaopi_batch::discover(pack(), &[dir.path().to_path_buf()]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path, right);
    assert_eq!(found[0].resource.code, "driving_licences");
    let [u] = unrecognised.as_slice() else {
        panic!("{unrecognised:?}")
    };
    assert_eq!(u.path, wrong);
    for named in ["traffic_police", "police", "驾驶证", "深圳市公安局福田分局"] {
        assert!(u.reason.contains(named), "{named} in {}", u.reason);
    }
}

#[test]
fn repaired_keys_and_organisation_codes_link_to_the_register() {
    let m = messy();
    let rt = runtime();
    let home_dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        miaopi_testkit::ingest_and_link(home_dir.path(), &sources()).await;
        let home = Home::open(home_dir.path()).await.unwrap();
        let person_of: BTreeMap<String, String> =
            strings(&home, "SELECT resident_id, entity_id FROM base.population")
                .await
                .into_iter()
                .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
                .collect();
        let legal_of: BTreeMap<String, (String, String)> = strings(
            &home,
            "SELECT uscc, entity_id, CAST(registered AS VARCHAR) FROM base.legal_persons",
        )
        .await
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), (r[1].clone().unwrap(), r[2].clone().unwrap())))
        .collect();
        let link_of = |resource: &'static str, field: &'static str, record: String| {
            let h = &home;
            async move {
                let sql = format!(
                    "SELECT CAST(entity_id AS VARCHAR), CAST(method AS VARCHAR) FROM link.links WHERE field = '{field}' \
                     AND source_file LIKE '%/{resource}%' AND record = {record}"
                );
                let rows = strings(h, &sql).await;
                assert_eq!(rows.len(), 1, "{resource} record {record}: one link");
                (rows[0][0].clone().unwrap(), rows[0][1].clone().unwrap())
            }
        };
        // Every repaired person key links to the register person it names.
        for c in m.cases.iter().filter(|c| c.key_status.is_some() && c.field != "uscc") {
            let record = strings(
                &home,
                &format!(
                    "SELECT CAST(record AS VARCHAR) FROM dwd.{} WHERE {} = '{}'",
                    c.resource, c.find.0, c.find.1
                ),
            )
            .await[0][0]
                .clone()
                .unwrap();
            let (entity, _) = link_of(c.resource, c.field, record).await;
            let id = c.expected.as_deref().unwrap();
            assert_eq!(Some(&entity), person_of.get(id), "{}.{} {id}", c.resource, c.field);
        }
        // The repaired credit codes are registered legal persons.
        for c in m.cases.iter().filter(|c| c.field == "uscc") {
            let code = c.expected.as_deref().unwrap();
            assert_eq!(legal_of.get(code).map(|l| l.1.as_str()), Some("true"), "{code}");
        }
        // The ID that also passes as a credit code made no phantom legal person.
        let (_, written) = &m.phantom;
        assert!(!legal_of.contains_key(&written.to_uppercase()), "{written}");
        // Organisation codes link to the enterprise whose credit code embeds them.
        let org_coded = strings(
            &home,
            "SELECT CAST(record AS VARCHAR), employer_uscc FROM dwd.social_insurance_contributions \
             WHERE employer_uscc_key_status = 'uscc_is_organisation_code'",
        )
        .await;
        let mut seen = BTreeMap::new();
        for row in &org_coded {
            let written = row[1].clone().unwrap();
            let code = m
                .org_coded_employers
                .iter()
                .find(|code| written == format!("{}-{}", &code[8..16], &code[16..17]))
                .unwrap_or_else(|| panic!("{written} is not one we wrote"));
            let (entity, method) =
                link_of("social_insurance_contributions", "employer_uscc", row[0].clone().unwrap())
                    .await;
            assert_eq!(method, "organisation_code");
            assert_eq!(Some(&entity), legal_of.get(code).map(|l| &l.0), "{written}");
            *seen.entry(code.clone()).or_insert(0u64) += 1;
        }
        assert_eq!(seen.len(), m.org_coded_employers.len(), "{seen:?}");
    });
}
