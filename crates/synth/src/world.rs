//! The simulated district: the *true* state from which every source record is derived.
//!
//! Generation order matters for consistency: places first (streets → communities → roads →
//! buildings → addresses), then households and their people (ages coherent within a family),
//! then the life events (marriages, births, deaths), then enterprises and employment, then the
//! per-unit facts (licences, degrees, certificates, credit records).

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, Days, Months, NaiveDate};
use miaopi_catalog::Pack;
use miaopi_model::{ResidentId, Sex, Uscc};
use rand::seq::SliceRandom;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::SynthConfig;
use crate::names::{NameGenerator, WeightedTable};

pub type PersonIdx = u32;

#[derive(Debug, Clone)]
pub struct Community {
    pub code: String,
    pub name: String,
    pub street_code: String,
    pub street_name: String,
    pub center: (f64, f64),
}

#[derive(Debug, Clone)]
pub struct Road {
    pub name: String,
    pub community: u32,
}

/// 楼栋用途 codes of the `building_use` table.
pub const USE_RESIDENTIAL: u8 = 1;
pub const USE_COMMERCIAL: u8 = 2;
pub const USE_OFFICE: u8 = 3;
pub const USE_INDUSTRIAL: u8 = 4;
pub const USE_MIXED: u8 = 5;

#[derive(Debug, Clone)]
pub struct Building {
    pub code: String,
    pub name: String,
    pub community: u32,
    pub road: u32,
    pub number: u32,
    pub floors: u16,
    pub use_code: u8,
    pub built_year: u16,
    pub lon: f64,
    pub lat: f64,
    /// The building's own (door) address.
    pub door_address: u32,
    /// Rooms are the addresses `first_room .. first_room + rooms`.
    pub first_room: u32,
    pub rooms: u32,
    pub seq: u32,
}

#[derive(Debug, Clone)]
pub struct Address {
    pub code: String,
    pub building: u32,
    /// 0 for the building's door address.
    pub unit: u8,
    pub room: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HukouStatus {
    /// 正常
    Normal,
    /// 迁出
    MovedOut,
    /// 死亡注销
    Deceased,
}

#[derive(Debug, Clone)]
pub struct Person {
    pub id: ResidentId,
    pub name: String,
    pub sex: Sex,
    /// GB 3304 code (1 = 汉族).
    pub ethnicity: u8,
    pub birth: NaiveDate,
    pub death: Option<NaiveDate>,
    pub household: u32,
    /// 与户主关系 code.
    pub relation: &'static str,
    /// Holds Futian 户籍 (a hukou record exists, whatever its status).
    pub hukou: bool,
    /// A newborn whose 户籍 is not yet registered (a 新生儿入户 applicant's child).
    pub hukou_pending: bool,
    pub hukou_moved_in: Option<NaiveDate>,
    pub moved_out: bool,
    pub phone: u64,
    pub spouse: Option<PersonIdx>,
    pub mother: Option<PersonIdx>,
    pub father: Option<PersonIdx>,
    pub employer: Option<u32>,
    pub employed_since: Option<NaiveDate>,
    pub employed_until: Option<NaiveDate>,
    pub salary: u32,
    /// For non-户籍 residents: 居住登记 date and 居住证 expiry.
    pub residence_since: Option<NaiveDate>,
    pub permit_until: Option<NaiveDate>,
    /// Highest education: index into `EDUCATION_LEVELS`.
    pub education: Option<u8>,
    pub full_time: bool,
    /// Marked as a newly introduced talent (新引进人才).
    pub new_talent: bool,
}

impl Person {
    pub fn alive_on(&self, d: NaiveDate) -> bool {
        self.death.is_none_or(|x| x > d) && self.birth <= d
    }

    /// Lives in the district on the as-of date.
    pub fn resident(&self, as_of: NaiveDate) -> bool {
        self.alive_on(as_of) && !self.moved_out
    }

    pub fn hukou_status(&self) -> HukouStatus {
        if self.death.is_some() {
            HukouStatus::Deceased
        } else if self.moved_out {
            HukouStatus::MovedOut
        } else {
            HukouStatus::Normal
        }
    }
}

/// A person known only from one record (an ex-spouse or legal representative living elsewhere).
#[derive(Debug, Clone)]
pub struct Outsider {
    pub id: ResidentId,
    pub name: String,
    pub sex: Sex,
}

#[derive(Debug, Clone)]
pub struct Household {
    pub no: String,
    pub hukou: bool,
    pub members: Vec<PersonIdx>,
    pub home: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Person(PersonIdx),
    Outsider(u32),
    Enterprise(u32),
}

#[derive(Debug, Clone)]
pub struct Marriage {
    pub husband: Party,
    pub wife: Party,
    pub married_on: NaiveDate,
    pub divorced_on: Option<NaiveDate>,
    /// Registered with 福田区民政局 (so the 民政 data holds it).
    pub registered_here: bool,
}

/// 市场主体类型 codes of the `enterprise_kind` table.
pub const KIND_LLC: &str = "1100";
pub const KIND_JOINT_STOCK: &str = "1200";
pub const KIND_SOLE: &str = "4000";
pub const KIND_PARTNERSHIP: &str = "4500";
pub const KIND_INDIVIDUAL: &str = "9600";

#[derive(Debug, Clone)]
pub struct Enterprise {
    pub uscc: Uscc,
    pub name: String,
    pub trade_name: String,
    pub kind: &'static str,
    pub legal_rep: Party,
    pub capital_10k: u32,
    pub established: NaiveDate,
    pub address: u32,
    pub industry: char,
    /// 登记状态 code: 1 存续, 2 吊销, 3 注销, 4 迁出.
    pub status: &'static str,
}

#[derive(Debug, Clone)]
pub struct Property {
    pub unit_no: String,
    pub address: u32,
    pub owners: Vec<Party>,
    pub area_m2_x100: u32,
    pub use_code: &'static str,
    pub registered_on: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct Rental {
    pub filing_no: String,
    pub lessor: Party,
    pub tenant: PersonIdx,
    pub address: u32,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub rent: u32,
}

#[derive(Debug, Clone)]
pub struct Degree {
    pub person: PersonIdx,
    /// Index into `EDUCATION_LEVELS`.
    pub level: u8,
    pub institution: &'static str,
    pub graduated: NaiveDate,
    pub full_time: bool,
    pub certificate_no: String,
}

/// (学历 code, 学位 code or "", years after 18 to graduate)
pub const EDUCATION_LEVELS: &[(&str, &str, u32)] = &[
    ("31", "", 3),   // 大学专科
    ("21", "4", 4),  // 大学本科, 学士
    ("14", "3", 7),  // 研究生(硕士)
    ("11", "2", 11), // 研究生(博士)
];
pub const LEVEL_BACHELOR: u8 = 1;

#[derive(Debug, Clone)]
pub struct Licence {
    pub person: PersonIdx,
    pub licence_no: String,
    pub class: &'static str,
    pub first_issued: NaiveDate,
    pub status: &'static str,
    /// Points in each of the last three scoring cycles, oldest first.
    pub cycle_points: [u8; 3],
}

#[derive(Debug, Clone)]
pub struct Crime {
    pub person: PersonIdx,
    pub category: &'static str,
    pub date: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct Exam {
    pub person: PersonIdx,
    pub exam_type: &'static str,
    pub date: NaiveDate,
    pub score: u8,
    pub passed: bool,
}

#[derive(Debug, Clone)]
pub struct Disability {
    pub person: PersonIdx,
    pub category: u8,
    pub level: u8,
    pub issued: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct AllowanceFamily {
    pub family_no: String,
    pub members: Vec<PersonIdx>,
    pub start: NaiveDate,
    pub amount: u32,
}

#[derive(Debug, Clone)]
pub struct SeniorPayment {
    pub person: PersonIdx,
    pub start: NaiveDate,
    pub amount: u32,
}

#[derive(Debug, Clone)]
pub struct TalentCert {
    pub person: PersonIdx,
    pub category: &'static str,
    pub certified: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct SubsidyPayment {
    pub person: PersonIdx,
    pub amount: u32,
    pub paid: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct Debtor {
    pub party: Party,
    pub case_no: String,
    pub listed: NaiveDate,
    pub status: &'static str,
}

#[derive(Debug, Clone)]
pub struct Birth {
    pub child: PersonIdx,
    pub certificate_no: String,
    pub hospital: &'static str,
    pub issued: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct Enrolment {
    pub person: PersonIdx,
    pub school: String,
    pub grade: &'static str,
    pub enrolled: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct Component {
    pub code: String,
    pub kind: &'static str,
    pub address: Option<u32>,
    pub lon: f64,
    pub lat: f64,
    pub status: &'static str,
    pub responsible: &'static str,
}

/// The whole simulated district.
pub struct World {
    pub as_of: NaiveDate,
    pub communities: Vec<Community>,
    pub roads: Vec<Road>,
    pub buildings: Vec<Building>,
    pub addresses: Vec<Address>,
    pub people: Vec<Person>,
    pub outsiders: Vec<Outsider>,
    pub households: Vec<Household>,
    pub marriages: Vec<Marriage>,
    pub enterprises: Vec<Enterprise>,
    pub properties: Vec<Property>,
    pub rentals: Vec<Rental>,
    pub degrees: Vec<Degree>,
    pub licences: Vec<Licence>,
    pub crimes: Vec<Crime>,
    pub exams: Vec<Exam>,
    pub disabilities: Vec<Disability>,
    pub allowance_families: Vec<AllowanceFamily>,
    pub senior_payments: Vec<SeniorPayment>,
    pub talent_certs: Vec<TalentCert>,
    pub subsidies: Vec<SubsidyPayment>,
    pub debtors: Vec<Debtor>,
    pub births: Vec<Birth>,
    pub enrolments: Vec<Enrolment>,
    pub components: Vec<Component>,
    /// Old addresses of people who moved within the district (for stale records).
    pub previous_home: HashMap<PersonIdx, u32>,
    /// Old phone numbers (for conflicting values across units).
    pub previous_phone: HashMap<PersonIdx, u64>,
}

/// Birthplace region codes (GB/T 2260 county level) of residents not born in Shenzhen, weighted
/// like Shenzhen's migrant origins (Guangdong, Hunan, Guangxi, Hubei, Jiangxi first).
const BIRTH_REGIONS: &[(u32, u64)] = &[
    (440106, 3),
    (440104, 2),
    (440513, 4),
    (445202, 4),
    (441402, 3),
    (440882, 3),
    (441302, 2),
    (440604, 2),
    (441900, 2),
    (442000, 2),
    (430102, 3),
    (430421, 3),
    (430524, 3),
    (431002, 2),
    (430602, 2),
    (420106, 3),
    (421003, 2),
    (420902, 2),
    (450102, 3),
    (450302, 2),
    (450521, 2),
    (360102, 2),
    (360702, 3),
    (362202, 1),
    (510104, 2),
    (511302, 2),
    (410102, 2),
    (411302, 2),
    (350102, 1),
    (350582, 1),
    (330106, 1),
    (320106, 1),
    (370102, 1),
    (130102, 1),
    (610113, 1),
    (500103, 2),
    (210102, 1),
    (220102, 1),
    (230102, 1),
    (340104, 1),
    (520102, 1),
    (530102, 1),
    (460105, 1),
    (110105, 1),
    (310115, 1),
    (120101, 1),
    (140105, 1),
    (150102, 1),
];

/// Shenzhen district codes as the first-registration region of people born there.
const SHENZHEN_REGIONS: &[(u32, u64)] = &[
    (440304, 5),
    (440301, 2),
    (440303, 2),
    (440305, 2),
    (440306, 1),
    (440307, 1),
];

const ROAD_WORDS: &[&str] = &[
    "深南",
    "福华",
    "福中",
    "益田",
    "金田",
    "彩田",
    "新洲",
    "皇岗",
    "华富",
    "红荔",
    "莲花",
    "北环",
    "滨河",
    "香梅",
    "农林",
    "侨香",
    "景田",
    "上步",
    "华强",
    "振兴",
    "燕南",
    "八卦",
    "园岭",
    "百花",
    "笋岗",
    "梅林",
    "上梅林",
    "下梅林",
    "福强",
    "福民",
    "福星",
    "沙嘴",
    "沙头",
    "上沙",
    "下沙",
    "石厦",
    "福荣",
    "福田",
    "民田",
    "竹子林",
    "香蜜",
    "安托山",
    "侨城",
    "新闻",
    "泰然",
    "车公庙",
    "保税",
    "广深",
    "紫竹",
    "翠竹",
    "荔枝",
    "莲园",
];
const ROAD_SUFFIX: &[&str] = &[
    "路", "路", "路", "大道", "街", "一路", "二路", "三路", "四路",
];
const ESTATE_WORDS: &[&str] = &[
    "花园", "大厦", "苑", "小区", "家园", "公寓", "广场", "中心", "雅居", "名苑", "新村",
];
const UNIVERSITIES: &[&str] = &[
    "深圳大学",
    "南方科技大学",
    "哈尔滨工业大学（深圳）",
    "北京大学",
    "清华大学",
    "中山大学",
    "华南理工大学",
    "暨南大学",
    "武汉大学",
    "华中科技大学",
    "湖南大学",
    "中南大学",
    "广西大学",
    "南昌大学",
    "四川大学",
    "郑州大学",
    "厦门大学",
    "浙江大学",
    "南京大学",
    "复旦大学",
    "广东工业大学",
    "深圳职业技术大学",
    "广东外语外贸大学",
    "华南师范大学",
];
pub const HOSPITALS: &[&str] = &[
    "深圳市福田区妇幼保健院",
    "深圳市妇幼保健院",
    "北京大学深圳医院",
    "香港大学深圳医院",
    "深圳市第二人民医院",
    "深圳市福田区第二人民医院",
    "中国医学科学院肿瘤医院深圳医院",
];
const INDUSTRY_WORDS: &[(char, &str, &str)] = &[
    ('F', "贸易", "商行"),
    ('I', "科技", "网络工作室"),
    ('L', "商务咨询", "咨询服务部"),
    ('H', "餐饮管理", "餐饮店"),
    ('K', "物业管理", "房产中介"),
    ('M', "技术服务", "设计工作室"),
    ('R', "文化传播", "文化工作室"),
    ('C', "电子", "电子加工厂"),
    ('E', "建设工程", "装修队"),
    ('J', "投资", "财务代理"),
    ('O', "家政服务", "家政服务部"),
    ('P', "教育科技", "培训部"),
    ('G', "物流", "快递服务部"),
    ('Q', "健康管理", "诊所"),
];
const TRADE_CHARS: &[&str] = &[
    "华", "鑫", "盛", "达", "源", "丰", "泰", "宏", "兴", "信", "恒", "福", "安", "嘉", "瑞", "新",
    "金", "德", "明", "通", "聚", "辉", "创", "汇", "博", "智", "永", "和", "诚", "联", "海", "鹏",
    "凯", "天", "龙", "星", "宇", "美", "佳", "腾", "森", "峰", "锦", "顺", "利",
];
const COMPONENT_KINDS: &[(&str, u64)] = &[
    ("0101", 35),
    ("0201", 25),
    ("0301", 10),
    ("0401", 15),
    ("0501", 4),
    ("0601", 6),
    ("0701", 3),
    ("0801", 2),
];
const COMPONENT_OWNERS: &[&str] = &[
    "福田区城市管理和综合执法局",
    "深圳市水务集团",
    "深圳供电局",
    "深圳市消防救援支队",
    "深圳市公安局交通警察局",
    "深圳巴士集团",
];
/// 违法犯罪记录 categories with weights.
const CRIME_CATEGORIES: &[(&str, u64)] = &[
    ("01", 5),
    ("02", 15),
    ("03", 10),
    ("04", 15),
    ("05", 10),
    ("06", 20),
    ("07", 15),
    ("99", 10),
];

/// Reference values the scenarios and the matters share (MATTERS.md); in the platform they
/// live as matter parameters, here they shape the simulation.
pub const SENIOR_AGE: u32 = 80;
pub const TALENT_WINDOW_DAYS: u64 = 365;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    if n >= 0 {
        d.checked_add_days(Days::new(n as u64)).unwrap_or(d)
    } else {
        d.checked_sub_days(Days::new((-n) as u64)).unwrap_or(d)
    }
}

fn add_years(d: NaiveDate, years: i32) -> NaiveDate {
    if years >= 0 {
        d.checked_add_months(Months::new(years as u32 * 12))
            .unwrap_or(d)
    } else {
        d.checked_sub_months(Months::new((-years) as u32 * 12))
            .unwrap_or(d)
    }
}

fn random_date<R: Rng + ?Sized>(rng: &mut R, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days();
    if span <= 0 {
        return from;
    }
    add_days(from, rng.random_range(0..=span))
}

pub fn age_on(birth: NaiveDate, on: NaiveDate) -> u32 {
    miaopi_model::resident_id::age_on(birth, on)
}

/// Builds the world deterministically from the pack's regions and the configuration.
pub fn build(pack: &Pack, cfg: &SynthConfig) -> World {
    let mut b = Builder::new(pack, cfg);
    b.geography();
    b.population();
    b.marriages_and_births();
    b.enterprises();
    b.employment();
    b.education();
    b.property_and_rentals();
    b.unit_facts();
    b.components();
    b.world
}

struct Builder<'a> {
    cfg: &'a SynthConfig,
    rng: ChaCha8Rng,
    names: NameGenerator,
    world: World,
    used_ids: HashSet<(u32, NaiveDate, u16)>,
    residential_rooms: Vec<u32>,
    business_rooms: Vec<u32>,
    phones_used: HashSet<u64>,
    pack_communities: Vec<Community>,
}

impl<'a> Builder<'a> {
    fn new(pack: &Pack, cfg: &'a SynthConfig) -> Self {
        let mut pack_communities = Vec::new();
        for (street, community) in pack.communities() {
            pack_communities.push(Community {
                code: community.code.clone(),
                name: community.name.clone(),
                street_code: street.code.clone(),
                street_name: street.name.clone(),
                center: (0.0, 0.0),
            });
        }
        Builder {
            cfg,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed_0ff0_71a4),
            names: NameGenerator::new(),
            world: World {
                as_of: cfg.as_of,
                communities: Vec::new(),
                roads: Vec::new(),
                buildings: Vec::new(),
                addresses: Vec::new(),
                people: Vec::new(),
                outsiders: Vec::new(),
                households: Vec::new(),
                marriages: Vec::new(),
                enterprises: Vec::new(),
                properties: Vec::new(),
                rentals: Vec::new(),
                degrees: Vec::new(),
                licences: Vec::new(),
                crimes: Vec::new(),
                exams: Vec::new(),
                disabilities: Vec::new(),
                allowance_families: Vec::new(),
                senior_payments: Vec::new(),
                talent_certs: Vec::new(),
                subsidies: Vec::new(),
                debtors: Vec::new(),
                births: Vec::new(),
                enrolments: Vec::new(),
                components: Vec::new(),
                previous_home: HashMap::new(),
                previous_phone: HashMap::new(),
            },
            used_ids: HashSet::new(),
            residential_rooms: Vec::new(),
            business_rooms: Vec::new(),
            phones_used: HashSet::new(),
            pack_communities,
        }
    }

    fn as_of(&self) -> NaiveDate {
        self.cfg.as_of
    }

    // ---------------------------------------------------------------- places

    fn geography(&mut self) {
        let communities = std::mem::take(&mut self.pack_communities);
        assert!(!communities.is_empty(), "the pack has no communities");
        // Futian spans roughly 113.99–114.09 E, 22.50–22.58 N; communities are laid on a grid.
        let n = communities.len();
        let cols = (n as f64).sqrt().ceil() as usize;
        for (i, mut c) in communities.into_iter().enumerate() {
            let (row, col) = (i / cols, i % cols);
            c.center = (
                113.995 + 0.09 * (col as f64 + 0.5) / cols as f64,
                22.505 + 0.07 * (row as f64 + 0.5) / cols as f64,
            );
            self.world.communities.push(c);
        }
        // About one building per 100 residents and ~1.2 residential rooms per household.
        let households_expected = (self.cfg.people as f64 / 2.5).ceil();
        let rooms_needed = (households_expected * 1.25) as u64 + 50;
        let buildings_needed = (self.cfg.people / 100).max(3 * n as u64);
        let residential_share = 0.72;
        let residential_buildings = (buildings_needed as f64 * residential_share) as u64;
        let rooms_per_residential = (rooms_needed / residential_buildings.max(1)).max(4);

        let mut used_roads = HashSet::new();
        for ci in 0..n {
            let roads_here = 3 + self.rng.random_range(0..3);
            for _ in 0..roads_here {
                // Prefer a name not used elsewhere; a long road crossing communities shares it.
                let mut attempts = 0;
                let name = loop {
                    let w = ROAD_WORDS[self.rng.random_range(0..ROAD_WORDS.len())];
                    let s = ROAD_SUFFIX[self.rng.random_range(0..ROAD_SUFFIX.len())];
                    let name = format!("{w}{s}");
                    attempts += 1;
                    if used_roads.insert(name.clone()) || attempts >= 20 {
                        break name;
                    }
                };
                self.world.roads.push(Road {
                    name,
                    community: ci as u32,
                });
            }
        }
        let roads_by_community: Vec<Vec<u32>> = (0..n)
            .map(|ci| {
                self.world
                    .roads
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.community == ci as u32)
                    .map(|(i, _)| i as u32)
                    .collect()
            })
            .collect();

        let mut seq_in_community = vec![0u32; n];
        let mut addr_seq_in_community = vec![0u32; n];
        for bi in 0..buildings_needed {
            let ci = (bi as usize) % n;
            seq_in_community[ci] += 1;
            let seq = seq_in_community[ci];
            let use_code = if bi < residential_buildings {
                USE_RESIDENTIAL
            } else {
                match self.rng.random_range(0..100) {
                    0..=34 => USE_COMMERCIAL,
                    35..=69 => USE_OFFICE,
                    70..=79 => USE_INDUSTRIAL,
                    _ => USE_MIXED,
                }
            };
            let community = &self.world.communities[ci];
            let street_no: u32 = community.street_code[6..].parse().unwrap_or(0);
            let community_no: u32 = community.code[9..].parse().unwrap_or(0);
            let code = format!("{street_no:03}{community_no:03}{seq:04}");
            let roads = &roads_by_community[ci];
            let road = roads[self.rng.random_range(0..roads.len())];
            let number = 1 + 2 * self.rng.random_range(0..600);
            let (floors, units, per_floor) = if use_code == USE_RESIDENTIAL {
                let floors = self.rng.random_range(6..34);
                let units = self.rng.random_range(1..4) as u8;
                let per_floor =
                    (rooms_per_residential / (floors as u64 * units as u64)).clamp(1, 8);
                (floors as u16, units, per_floor as u16)
            } else {
                (
                    self.rng.random_range(3..45) as u16,
                    1,
                    1 + self.rng.random_range(0..3) as u16,
                )
            };
            let estate = ESTATE_WORDS[self.rng.random_range(0..ESTATE_WORDS.len())];
            let road_word = self.world.roads[road as usize].name.clone();
            let name = if use_code == USE_RESIDENTIAL {
                format!(
                    "{}{}{}栋",
                    road_word.trim_end_matches(['路', '街']),
                    estate,
                    1 + seq % 9
                )
            } else {
                format!(
                    "{}{}",
                    road_word.trim_end_matches(['路', '街']),
                    ["大厦", "商务中心", "广场", "科技园"][self.rng.random_range(0..4)]
                )
            };
            let (cx, cy) = community.center;
            let lon = cx + self.rng.random_range(-0.004..0.004);
            let lat = cy + self.rng.random_range(-0.003..0.003);
            let built_year = self.rng.random_range(1983..2024) as u16;
            let bidx = self.world.buildings.len() as u32;
            let mut new_address = |world: &mut World, unit: u8, room: u16| -> u32 {
                addr_seq_in_community[ci] += 1;
                let code = format!(
                    "{}{:07}",
                    world.communities[ci].code, addr_seq_in_community[ci]
                );
                world.addresses.push(Address {
                    code,
                    building: bidx,
                    unit,
                    room,
                });
                (world.addresses.len() - 1) as u32
            };
            let door = new_address(&mut self.world, 0, 0);
            let first_room = self.world.addresses.len() as u32;
            let mut rooms = 0u32;
            for unit in 1..=units {
                // Commercial buildings get a few leasable units on some floors only.
                let floors_used = if use_code == USE_RESIDENTIAL {
                    floors
                } else {
                    floors.min(6)
                };
                for floor in 1..=floors_used {
                    for r in 1..=per_floor {
                        let room = floor * 100 + r;
                        let a = new_address(&mut self.world, unit, room);
                        if use_code == USE_RESIDENTIAL || (use_code == USE_MIXED && floor > 2) {
                            self.residential_rooms.push(a);
                        } else {
                            self.business_rooms.push(a);
                        }
                        rooms += 1;
                    }
                }
            }
            self.world.buildings.push(Building {
                code,
                name,
                community: ci as u32,
                road,
                number,
                floors,
                use_code,
                built_year,
                lon,
                lat,
                door_address: door,
                first_room,
                rooms,
                seq,
            });
        }
        self.residential_rooms.shuffle(&mut self.rng);
    }

    // ---------------------------------------------------------------- people

    fn new_id(&mut self, region: u32, birth: NaiveDate, sex: Sex) -> ResidentId {
        loop {
            let mut seq: u16 = self.rng.random_range(0..1000);
            let odd = seq % 2 == 1;
            if odd != (sex == Sex::Male) {
                seq = if seq == 999 { 998 } else { seq + 1 };
                if (seq % 2 == 1) != (sex == Sex::Male) {
                    seq -= 1;
                }
            }
            if self.used_ids.insert((region, birth, seq))
                && let Ok(id) = ResidentId::from_parts(region, birth, seq)
            {
                return id;
            }
        }
    }

    fn new_phone(&mut self) -> u64 {
        const PREFIXES: &[u64] = &[
            130, 131, 132, 135, 136, 137, 138, 139, 150, 151, 152, 158, 159, 186, 188, 189, 177,
            199,
        ];
        loop {
            let p = PREFIXES[self.rng.random_range(0..PREFIXES.len())] * 100_000_000
                + self.rng.random_range(0..100_000_000u64);
            if self.phones_used.insert(p) {
                return p;
            }
        }
    }

    fn birth_region(&mut self, birth: NaiveDate, born_in_shenzhen: bool) -> u32 {
        let table = if born_in_shenzhen && birth.year() >= 1980 {
            SHENZHEN_REGIONS
        } else {
            BIRTH_REGIONS
        };
        WeightedTable::new(table.iter().copied()).pick(&mut self.rng)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_person(
        &mut self,
        household: u32,
        relation: &'static str,
        sex: Sex,
        birth: NaiveDate,
        hukou: bool,
        born_here: bool,
        surname: Option<&str>,
    ) -> PersonIdx {
        let local = born_here || (hukou && self.rng.random_bool(0.4));
        let region = self.birth_region(birth, local);
        let id = self.new_id(region, birth, sex);
        let name = match surname {
            Some(s) => format!(
                "{s}{}",
                self.names
                    .given(&mut self.rng, sex == Sex::Male, birth.year())
            ),
            None => self
                .names
                .full(&mut self.rng, sex == Sex::Male, birth.year()),
        };
        let ethnicity = if self.rng.random_bool(0.97) {
            1
        } else {
            [2u8, 3, 4, 5, 6, 8, 9, 12, 15, 16][self.rng.random_range(0..10)]
        };
        let phone = self.new_phone();
        let as_of = self.as_of();
        let hukou_moved_in = if !hukou || born_here {
            None
        } else {
            let from = add_years(birth, 18).max(date(1985, 1, 1));
            Some(random_date(&mut self.rng, from.min(as_of), as_of))
        };
        // About one migrant in fourteen never registers residence: the platform then has no fact
        // about their 户籍 or residence at all.
        let (residence_since, permit_until) =
            if hukou || age_on(birth, as_of) < 16 || self.rng.random_bool(0.07) {
                (None, None)
            } else {
                let since = random_date(
                    &mut self.rng,
                    add_years(as_of, -12).max(add_years(birth, 16)),
                    as_of,
                );
                let until = add_years(since, 3 * (1 + age_on(since, as_of) as i32 / 3));
                // Some permits lapse and are not renewed: a fact the 网约车 matter must see.
                let until = if self.rng.random_bool(0.08) {
                    add_days(as_of, -self.rng.random_range(1..400))
                } else {
                    until
                };
                (Some(since), Some(until))
            };
        self.world.people.push(Person {
            id,
            name,
            sex,
            ethnicity,
            birth,
            death: None,
            household,
            relation,
            hukou,
            hukou_pending: false,
            hukou_moved_in,
            moved_out: false,
            phone,
            spouse: None,
            mother: None,
            father: None,
            employer: None,
            employed_since: None,
            employed_until: None,
            salary: 0,
            residence_since,
            permit_until,
            education: None,
            full_time: true,
            new_talent: false,
        });
        (self.world.people.len() - 1) as PersonIdx
    }

    fn birth_for_age(&mut self, age_lo: u32, age_hi: u32) -> NaiveDate {
        let as_of = self.as_of();
        let age = self.rng.random_range(age_lo..=age_hi.max(age_lo));
        let latest = add_years(as_of, -(age as i32));
        add_days(latest, -self.rng.random_range(0..365))
    }

    /// Adult age from a Shenzhen-like pyramid (young working-age heavy).
    fn adult_age(&mut self, lo: u32, hi: u32) -> u32 {
        const BANDS: &[(u32, u64)] = &[
            (20, 65),
            (25, 105),
            (30, 125),
            (35, 110),
            (40, 90),
            (45, 75),
            (50, 60),
            (55, 45),
            (60, 35),
            (65, 28),
            (70, 19),
            (75, 12),
            (80, 8),
            (85, 5),
            (90, 2),
            (95, 1),
        ];
        let table = WeightedTable::new(
            BANDS
                .iter()
                .filter(|&&(b, _)| b + 4 >= lo && b <= hi)
                .map(|&(b, w)| (b, w)),
        );
        let band = table.pick(&mut self.rng);
        self.rng
            .random_range(band.max(lo)..=(band + 4).min(hi).max(band.max(lo)))
    }

    fn population(&mut self) {
        let target = self.cfg.people;
        let as_of = self.as_of();
        let mut living = 0u64;
        while living < target {
            let hidx = self.world.households.len() as u32;
            let home = if self.residential_rooms.is_empty() {
                // More households than planned rooms: share (crowded flats are real).
                self.rng.random_range(0..self.world.addresses.len() as u32)
            } else {
                self.residential_rooms.pop().unwrap_or(0)
            };
            let kind = self.rng.random_range(0..100);
            let mut hukou = self.rng.random_bool(0.31);
            let mut members = Vec::new();
            let surname = self.names.surname(&mut self.rng);
            match kind {
                // A newly introduced talent: young graduate, new 户籍, single.
                0..=2 => {
                    hukou = true;
                    let sex = if self.rng.random_bool(0.5) {
                        Sex::Male
                    } else {
                        Sex::Female
                    };
                    let age = self.rng.random_range(22..=36);
                    let birth = self.birth_for_age(age, age);
                    let p = self.add_person(hidx, "02", sex, birth, true, false, Some(surname));
                    let moved = add_days(as_of, -self.rng.random_range(10..700));
                    let person = &mut self.world.people[p as usize];
                    person.hukou_moved_in = Some(moved);
                    person.new_talent = true;
                    members.push(p);
                }
                // Single adult.
                3..=29 => {
                    let sex = if self.rng.random_bool(0.55) {
                        Sex::Male
                    } else {
                        Sex::Female
                    };
                    let age = self.adult_age(20, 95);
                    let birth = self.birth_for_age(age, age);
                    members.push(self.add_person(
                        hidx,
                        "02",
                        sex,
                        birth,
                        hukou,
                        false,
                        Some(surname),
                    ));
                }
                // Couple, possibly with children and grandparents.
                _ => {
                    let husband_age = self.adult_age(24, 95);
                    let wife_age =
                        (husband_age as i32 + self.rng.random_range(-6..3)).clamp(21, 99) as u32;
                    let hb = self.birth_for_age(husband_age, husband_age);
                    let wb = self.birth_for_age(wife_age, wife_age);
                    let h = self.add_person(hidx, "02", Sex::Male, hb, hukou, false, Some(surname));
                    let w = self.add_person(hidx, "10", Sex::Female, wb, hukou, false, None);
                    self.world.people[h as usize].spouse = Some(w);
                    self.world.people[w as usize].spouse = Some(h);
                    members.push(h);
                    members.push(w);
                    let mother_age = age_on(wb, as_of);
                    let children = if mother_age < 24 || kind >= 90 && mother_age > 65 {
                        0
                    } else {
                        WeightedTable::new([(0u32, 20u64), (1, 45), (2, 30), (3, 5)])
                            .pick(&mut self.rng)
                    };
                    for _ in 0..children {
                        // The mother was 22–40 at the birth; children older than 26 have left.
                        let min_gap = 22.min(mother_age);
                        let max_gap = 40.min(mother_age);
                        let gap = self.rng.random_range(min_gap..=max_gap);
                        let child_age = mother_age - gap;
                        if child_age > 26 {
                            continue;
                        }
                        let cb = if child_age == 0 {
                            random_date(&mut self.rng, add_days(as_of, -364), as_of)
                        } else {
                            self.birth_for_age(child_age, child_age)
                        };
                        if cb <= add_years(wb, 18) {
                            continue;
                        }
                        let sex = if self.rng.random_bool(0.52) {
                            Sex::Male
                        } else {
                            Sex::Female
                        };
                        let rel = if sex == Sex::Male { "20" } else { "30" };
                        let born_here = hukou || self.rng.random_bool(0.5);
                        let c =
                            self.add_person(hidx, rel, sex, cb, hukou, born_here, Some(surname));
                        let child = &mut self.world.people[c as usize];
                        child.mother = Some(w);
                        child.father = Some(h);
                        members.push(c);
                    }
                    if (80..90).contains(&kind) && husband_age < 60 {
                        // A grandparent lives with the family.
                        let ga = (husband_age + self.rng.random_range(22..34)).min(101);
                        let gsex = if self.rng.random_bool(0.6) {
                            Sex::Female
                        } else {
                            Sex::Male
                        };
                        let gb = self.birth_for_age(ga, ga);
                        let g = self.add_person(hidx, "50", gsex, gb, hukou, false, None);
                        members.push(g);
                    }
                }
            }
            // Deaths over the history window, mostly of the old; moves out of the district.
            for &m in &members {
                let p = &self.world.people[m as usize];
                let age = age_on(p.birth, as_of);
                let annual_q = if age < 50 {
                    0.001
                } else {
                    0.004 * ((age as f64 - 50.0) * 0.085).exp()
                };
                let q = (annual_q * self.cfg.years as f64).min(0.6);
                if self.rng.random_bool(q) {
                    let from = add_years(as_of, -(self.cfg.years as i32)).max(p.birth);
                    let d = random_date(&mut self.rng, from, add_days(as_of, -1));
                    self.world.people[m as usize].death = Some(d);
                } else if p.hukou && !p.new_talent && age >= 18 && self.rng.random_bool(0.015) {
                    self.world.people[m as usize].moved_out = true;
                }
            }
            living += members
                .iter()
                .filter(|&&m| self.world.people[m as usize].resident(as_of))
                .count() as u64;
            self.world.households.push(Household {
                no: format!("{:09}", 100_000_000 + hidx as u64),
                hukou,
                members,
                home,
            });
        }
        // Newborns whose 户籍 is not yet registered: recent births, registration lags.
        for i in 0..self.world.people.len() {
            let p = &self.world.people[i];
            if p.hukou && p.death.is_none() {
                let days = (as_of - p.birth).num_days();
                let pending = if days <= 30 {
                    0.7
                } else if days <= 120 {
                    0.25
                } else {
                    0.0
                };
                if pending > 0.0 && self.rng.random_bool(pending) {
                    self.world.people[i].hukou_pending = true;
                }
            }
        }
        // People who moved within the district keep an old address in some records; some
        // changed their phone number.
        for i in 0..self.world.people.len() as u32 {
            if self.rng.random_bool(0.08) && !self.world.addresses.is_empty() {
                let old = self.rng.random_range(0..self.world.addresses.len() as u32);
                self.world.previous_home.insert(i, old);
            }
            if self.rng.random_bool(0.1) {
                let old = self.new_phone();
                self.world.previous_phone.insert(i, old);
            }
        }
    }

    // ---------------------------------------------------------------- events

    fn marriages_and_births(&mut self) {
        let as_of = self.as_of();
        let people_len = self.world.people.len();
        for i in 0..people_len {
            let p = &self.world.people[i];
            if p.sex != Sex::Male {
                continue;
            }
            let Some(w) = p.spouse else { continue };
            let wife = &self.world.people[w as usize];
            // Married when the wife was 21–32, and before the first child.
            let earliest = add_years(wife.birth, 21).max(add_years(p.birth, 22));
            let first_child = self.world.households[p.household as usize]
                .members
                .iter()
                .filter_map(|&m| {
                    let c = &self.world.people[m as usize];
                    (c.mother == Some(w)).then_some(c.birth)
                })
                .min();
            let latest = first_child
                .map(|d| add_days(d, -200))
                .unwrap_or(add_years(wife.birth, 34))
                .min(as_of);
            let married_on = random_date(&mut self.rng, earliest.min(latest), latest);
            // Records before 1990 were never digitised; some couples married elsewhere.
            let registered_here = married_on >= date(1990, 1, 1) && self.rng.random_bool(0.82);
            self.world.marriages.push(Marriage {
                husband: Party::Person(i as u32),
                wife: Party::Person(w),
                married_on,
                divorced_on: None,
                registered_here,
            });
        }
        // Divorced singles: a marriage and its divorce, with a partner who lives elsewhere.
        for i in 0..people_len {
            let p = &self.world.people[i];
            let age = age_on(p.birth, as_of);
            if p.spouse.is_some() || !(30..=65).contains(&age) || !self.rng.random_bool(0.05) {
                continue;
            }
            let (psex, pbirth) = (p.sex, p.birth);
            let other_sex = if psex == Sex::Male {
                Sex::Female
            } else {
                Sex::Male
            };
            let ob = add_days(pbirth, self.rng.random_range(-1500..1500));
            let region = self.birth_region(ob, false);
            let oid = self.new_id(region, ob, other_sex);
            let oname = self
                .names
                .full(&mut self.rng, other_sex == Sex::Male, ob.year());
            self.world.outsiders.push(Outsider {
                id: oid,
                name: oname,
                sex: other_sex,
            });
            let o = Party::Outsider((self.world.outsiders.len() - 1) as u32);
            let married_on = random_date(
                &mut self.rng,
                add_years(pbirth, 23).max(date(1995, 1, 1)),
                add_years(as_of, -2),
            );
            let divorced_on = random_date(&mut self.rng, add_years(married_on, 1), as_of);
            let me = Party::Person(i as u32);
            let (husband, wife) = if psex == Sex::Male { (me, o) } else { (o, me) };
            self.world.marriages.push(Marriage {
                husband,
                wife,
                married_on,
                divorced_on: Some(divorced_on),
                registered_here: true,
            });
        }
        // Birth certificates for children born within the history window.
        let window_start = add_years(as_of, -(self.cfg.years as i32));
        let mut n = 0u32;
        for i in 0..people_len {
            let p = &self.world.people[i];
            if p.birth < window_start || p.mother.is_none() {
                continue;
            }
            n += 1;
            let letter = (b'O' + ((p.birth.year() - 2000).rem_euclid(12)) as u8) as char;
            let certificate_no = format!("{letter}44{:07}", n);
            let hospital = HOSPITALS[self.rng.random_range(0..HOSPITALS.len())];
            let issued = add_days(p.birth, self.rng.random_range(0..8)).min(as_of);
            self.world.births.push(Birth {
                child: i as u32,
                certificate_no,
                hospital,
                issued,
            });
        }
    }

    // ---------------------------------------------------------------- economy

    fn enterprises(&mut self) {
        let as_of = self.as_of();
        let count = (self.cfg.people as f64 * 0.19).ceil() as usize;
        let adults: Vec<u32> = (0..self.world.people.len() as u32)
            .filter(|&i| {
                let p = &self.world.people[i as usize];
                p.resident(as_of) && (22..=70).contains(&age_on(p.birth, as_of))
            })
            .collect();
        let mut names_used = HashSet::new();
        for _ in 0..count {
            let kind = WeightedTable::new([
                (KIND_LLC, 50u64),
                (KIND_JOINT_STOCK, 2),
                (KIND_SOLE, 5),
                (KIND_PARTNERSHIP, 3),
                (KIND_INDIVIDUAL, 40),
            ])
            .pick(&mut self.rng);
            let (industry, company_word, shop_word) =
                INDUSTRY_WORDS[self.rng.random_range(0..INDUSTRY_WORDS.len())];
            let (trade_name, name) = loop {
                let a = TRADE_CHARS[self.rng.random_range(0..TRADE_CHARS.len())];
                let b = TRADE_CHARS[self.rng.random_range(0..TRADE_CHARS.len())];
                let c = if self.rng.random_bool(0.5) {
                    TRADE_CHARS[self.rng.random_range(0..TRADE_CHARS.len())]
                } else {
                    ""
                };
                let trade = format!("{a}{b}{c}");
                let name = match kind {
                    KIND_INDIVIDUAL => format!("深圳市福田区{trade}{shop_word}"),
                    KIND_JOINT_STOCK => format!("深圳{trade}{company_word}股份有限公司"),
                    KIND_SOLE => format!("深圳市{trade}{company_word}（个人独资）"),
                    KIND_PARTNERSHIP => format!("深圳市{trade}{company_word}合伙企业（有限合伙）"),
                    _ => format!("深圳市{trade}{company_word}有限公司"),
                };
                if names_used.insert(name.clone()) {
                    break (trade, name);
                }
            };
            let legal_rep = if !adults.is_empty()
                && self
                    .rng
                    .random_bool(if kind == KIND_INDIVIDUAL { 0.9 } else { 0.6 })
            {
                Party::Person(adults[self.rng.random_range(0..adults.len())])
            } else {
                let sex = if self.rng.random_bool(0.7) {
                    Sex::Male
                } else {
                    Sex::Female
                };
                let age = self.rng.random_range(25..65);
                let birth = self.birth_for_age(age, age);
                let region = self.birth_region(birth, false);
                let id = self.new_id(region, birth, sex);
                let name = self
                    .names
                    .full(&mut self.rng, sex == Sex::Male, birth.year());
                self.world.outsiders.push(Outsider { id, name, sex });
                Party::Outsider((self.world.outsiders.len() - 1) as u32)
            };
            let established = random_date(&mut self.rng, date(1990, 1, 1), add_days(as_of, -1));
            let status = WeightedTable::new([("1", 85u64), ("2", 5), ("3", 8), ("4", 2)])
                .pick(&mut self.rng);
            let address = if self.business_rooms.is_empty() {
                0
            } else {
                self.business_rooms[self.rng.random_range(0..self.business_rooms.len())]
            };
            // GB 32100: 9 = 市场监管; 1 = 企业, 2 = 个体工商户; region; the 9-character
            // organisation code (GB 11714: 8 body characters and their check character), which
            // pre-2016 records carry on its own.
            let org_type = if kind == KIND_INDIVIDUAL { '2' } else { '1' };
            let uscc = loop {
                let mut first17 = format!("9{org_type}440300");
                let alphabet = miaopi_model::uscc::USCC_ALPHABET.as_bytes();
                // Nine draws as ever (so the rest of the world stays as it was), the ninth
                // character then replaced by the body's check character.
                let drawn: String = (0..9)
                    .map(|_| alphabet[self.rng.random_range(0..alphabet.len())] as char)
                    .collect();
                let body = &drawn[..8];
                let Some(check) = miaopi_model::organisation_code_check(body) else {
                    continue;
                };
                first17.push_str(body);
                first17.push(check);
                if let Ok(u) = Uscc::from_first17(&first17) {
                    break u;
                }
            };
            let capital_10k = if kind == KIND_INDIVIDUAL {
                self.rng.random_range(1..20)
            } else {
                [10, 50, 100, 200, 500, 1000, 5000][self.rng.random_range(0..7)]
            };
            self.world.enterprises.push(Enterprise {
                uscc,
                name,
                trade_name,
                kind,
                legal_rep,
                capital_10k,
                established,
                address,
                industry,
                status,
            });
        }
    }

    fn employment(&mut self) {
        let as_of = self.as_of();
        // Employer sizes follow a heavy tail: most firms tiny, a few employ thousands.
        let employers: Vec<(u32, u64)> = self
            .world
            .enterprises
            .iter()
            .enumerate()
            .filter(|(_, e)| e.status == "1")
            .map(|(i, e)| {
                let u: f64 = self.rng.random_range(0.0001..1.0);
                let base = if e.kind == KIND_INDIVIDUAL { 1.0 } else { 3.0 };
                (i as u32, (base * u.powf(-0.9)).min(5000.0) as u64 + 1)
            })
            .collect();
        if employers.is_empty() {
            return;
        }
        let table = WeightedTable::new(employers.iter().copied());
        for i in 0..self.world.people.len() {
            let p = &self.world.people[i];
            if !p.resident(as_of) {
                continue;
            }
            let age = age_on(p.birth, as_of);
            let retire = if p.sex == Sex::Male { 60 } else { 55 };
            let works = p.new_talent
                || ((18..retire).contains(&age)
                    && self.rng.random_bool(if age < 23 { 0.35 } else { 0.8 }));
            if !works {
                continue;
            }
            let employer = table.pick(&mut self.rng);
            let est = self.world.enterprises[employer as usize].established;
            let start_floor = add_years(p.birth, 18).max(est);
            let since = if p.new_talent {
                p.hukou_moved_in
                    .map(|d| add_days(d, -self.rng.random_range(0..60)))
                    .unwrap_or(as_of)
                    .max(start_floor)
            } else {
                random_date(&mut self.rng, start_floor.min(as_of), as_of)
            };
            let until = if self.rng.random_bool(0.04) {
                Some(random_date(&mut self.rng, since, as_of))
            } else {
                None
            };
            let salary = (4_000.0 * (self.rng.random_range(0.0..1.0f64) * 2.2).exp()) as u32;
            let person = &mut self.world.people[i];
            person.employer = Some(employer);
            person.employed_since = Some(since);
            person.employed_until = until;
            person.salary = salary.clamp(2_360, 38_000);
        }
    }

    fn education(&mut self) {
        let as_of = self.as_of();
        let mut serial = 0u64;
        for i in 0..self.world.people.len() {
            let p = &self.world.people[i];
            let age = age_on(p.birth, as_of);
            if age < 21 {
                continue;
            }
            let young = p.birth.year() >= 1975;
            let level: Option<u8> = if p.new_talent {
                let l = WeightedTable::new([(1i8, 58u64), (2, 28), (3, 7), (0, 3), (-1, 4)])
                    .pick(&mut self.rng);
                (l >= 0).then_some(l as u8)
            } else {
                let w: [(i8, u64); 5] = if young {
                    [(-1, 30), (0, 20), (1, 35), (2, 12), (3, 3)]
                } else {
                    [(-1, 65), (0, 15), (1, 15), (2, 4), (3, 1)]
                };
                let l = WeightedTable::new(w).pick(&mut self.rng);
                (l >= 0).then_some(l as u8)
            };
            let Some(level) = level else { continue };
            let full_time = if p.new_talent {
                self.rng.random_bool(0.9)
            } else {
                self.rng.random_bool(0.85)
            };
            let mut record = |b: &mut Self, lvl: u8| {
                let years = EDUCATION_LEVELS[lvl as usize].2;
                let graduated = date(b.world.people[i].birth.year() + 18 + years as i32, 6, 30);
                if graduated > as_of {
                    return;
                }
                serial += 1;
                let institution = UNIVERSITIES[b.rng.random_range(0..UNIVERSITIES.len())];
                b.world.degrees.push(Degree {
                    person: i as u32,
                    level: lvl,
                    institution,
                    graduated,
                    full_time,
                    certificate_no: format!(
                        "1{:04}{}{:06}",
                        10000 + (serial % 9000),
                        graduated.year(),
                        serial % 1_000_000
                    ),
                });
            };
            if level >= 2 {
                record(self, LEVEL_BACHELOR);
            }
            record(self, level);
            let person = &mut self.world.people[i];
            person.education = Some(level);
            person.full_time = full_time;
        }
        // Children aged 6–14 have a school record (学籍).
        for i in 0..self.world.people.len() {
            let p = &self.world.people[i];
            if !p.resident(as_of) {
                continue;
            }
            let age = age_on(p.birth, as_of);
            if !(6..=14).contains(&age) {
                continue;
            }
            let school_year_start = if as_of.month() >= 9 {
                as_of.year()
            } else {
                as_of.year() - 1
            };
            let grade_idx = (age as i32 - 6).clamp(0, 8) as usize;
            const GRADES: [&str; 9] = ["11", "12", "13", "14", "15", "16", "21", "22", "23"];
            let home = self.world.households[p.household as usize].home;
            let community = &self.world.communities[self.world.buildings
                [self.world.addresses[home as usize].building as usize]
                .community as usize];
            let school = if grade_idx < 6 {
                format!(
                    "深圳市福田区{}小学",
                    community.name.trim_end_matches("社区")
                )
            } else {
                format!(
                    "深圳市福田区{}中学",
                    community.street_name.trim_end_matches("街道")
                )
            };
            let enrolled = date(school_year_start - grade_idx as i32, 9, 1);
            self.world.enrolments.push(Enrolment {
                person: i as u32,
                school,
                grade: GRADES[grade_idx],
                enrolled,
            });
        }
    }

    fn property_and_rentals(&mut self) {
        let as_of = self.as_of();
        let mut owner_of_room: HashMap<u32, Vec<Party>> = HashMap::new();
        // Households owning their home: most 户籍 households, some others.
        for h in 0..self.world.households.len() {
            let hh = &self.world.households[h];
            let Some(&head) = hh.members.first() else {
                continue;
            };
            if owner_of_room.contains_key(&hh.home) {
                continue;
            }
            let owns = self.rng.random_bool(if hh.hukou { 0.62 } else { 0.12 });
            if owns {
                let mut owners = vec![Party::Person(head)];
                if let Some(s) = self.world.people[head as usize].spouse
                    && self.rng.random_bool(0.5)
                {
                    owners.push(Party::Person(s));
                }
                owner_of_room.insert(hh.home, owners);
            }
        }
        // Landlords: older resident adults owning several flats, and rental companies.
        let landlords: Vec<u32> = (0..self.world.people.len() as u32)
            .filter(|&i| {
                let p = &self.world.people[i as usize];
                p.hukou && p.resident(as_of) && age_on(p.birth, as_of) >= 35
            })
            .collect();
        let companies: Vec<u32> = (0..self.world.enterprises.len() as u32)
            .filter(|&i| self.world.enterprises[i as usize].kind == KIND_LLC)
            .collect();
        let mut unit_seq = 0u64;
        for bi in 0..self.world.buildings.len() {
            let b = self.world.buildings[bi].clone();
            let community = &self.world.communities[b.community as usize];
            let street_no: u32 = community.street_code[6..].parse().unwrap_or(0);
            let community_no: u32 = community.code[9..].parse().unwrap_or(0);
            for r in b.first_room..b.first_room + b.rooms {
                if self.rng.random_bool(0.04) {
                    continue; // not yet registered (new or disputed)
                }
                unit_seq += 1;
                let owners = match owner_of_room.remove(&r) {
                    Some(o) => o,
                    None => {
                        let company = b.use_code != USE_RESIDENTIAL || self.rng.random_bool(0.15);
                        if company && !companies.is_empty() {
                            vec![Party::Enterprise(
                                companies[self.rng.random_range(0..companies.len())],
                            )]
                        } else if !landlords.is_empty() {
                            // A landlord tends to own several flats: pick from a small pool.
                            let pool = landlords.len().min(1 + landlords.len() / 4);
                            vec![Party::Person(landlords[self.rng.random_range(0..pool)])]
                        } else {
                            continue;
                        }
                    }
                };
                let use_code = match b.use_code {
                    USE_RESIDENTIAL => "10",
                    USE_COMMERCIAL => "20",
                    USE_OFFICE => "30",
                    USE_INDUSTRIAL => "40",
                    _ => {
                        if self.world.addresses[r as usize].room / 100 > 2 {
                            "10"
                        } else {
                            "20"
                        }
                    }
                };
                let area = self.rng.random_range(3_500..16_000);
                let registered_on = random_date(
                    &mut self.rng,
                    date(b.built_year as i32 + 1, 1, 1).min(as_of),
                    as_of,
                );
                self.world.properties.push(Property {
                    unit_no: format!(
                        "440304{street_no:03}{community_no:03}GB{:05}F{:08}",
                        b.seq,
                        unit_seq % 100_000_000
                    ),
                    address: r,
                    owners,
                    area_m2_x100: area,
                    use_code,
                    registered_on,
                });
            }
        }
        // Renting households: most non-户籍 households not owning their home.
        let owner_by_address: HashMap<u32, (Party, u32)> = self
            .world
            .properties
            .iter()
            .map(|p| (p.address, (p.owners[0], p.area_m2_x100 / 100)))
            .collect();
        let mut filing = 0u64;
        for h in 0..self.world.households.len() {
            let hh = &self.world.households[h];
            let Some(&head) = hh.members.first() else {
                continue;
            };
            let Some(&(lessor, area_m2)) = owner_by_address.get(&hh.home) else {
                continue;
            };
            if lessor == Party::Person(head) || !self.world.people[head as usize].resident(as_of) {
                continue;
            }
            if let Party::Person(o) = lessor
                && self.world.people[head as usize].spouse == Some(o)
            {
                continue;
            }
            if !self.rng.random_bool(0.6) {
                continue; // unregistered rentals are common
            }
            let start = random_date(&mut self.rng, add_years(as_of, -3), as_of);
            let end = add_years(start, self.rng.random_range(1..4));
            filing += 1;
            self.world.rentals.push(Rental {
                filing_no: format!("深福租备{}{:07}", start.year(), filing),
                lessor,
                tenant: head,
                address: hh.home,
                start,
                end,
                // Futian rents run about 80–160 yuan per square metre and month.
                rent: area_m2 * self.rng.random_range(80..160),
            });
        }
    }

    fn unit_facts(&mut self) {
        let as_of = self.as_of();
        let mut licence_seq = 0u64;
        let mut family_seq = 0u64;
        for i in 0..self.world.people.len() {
            let p = self.world.people[i].clone();
            let age = age_on(p.birth, as_of);
            let alive = p.alive_on(as_of);
            // 驾驶证
            if (19..=75).contains(&age)
                && self
                    .rng
                    .random_bool(if p.sex == Sex::Male { 0.6 } else { 0.35 })
            {
                licence_seq += 1;
                let first = random_date(
                    &mut self.rng,
                    add_years(p.birth, 18).max(date(1990, 1, 1)),
                    as_of,
                );
                let class = WeightedTable::new([
                    ("C1", 80u64),
                    ("C2", 10),
                    ("B2", 4),
                    ("A1", 2),
                    ("A2", 2),
                    ("B1", 2),
                ])
                .pick(&mut self.rng);
                let mut points = [0u8; 3];
                for pt in points.iter_mut() {
                    *pt = WeightedTable::new([(0u8, 70u64), (3, 12), (6, 10), (9, 5), (12, 3)])
                        .pick(&mut self.rng);
                }
                let status = if points[2] >= 12 {
                    "B"
                } else if !alive {
                    "E"
                } else {
                    "A"
                };
                self.world.licences.push(Licence {
                    person: i as u32,
                    licence_no: format!("4403{:08}", licence_seq),
                    class,
                    first_issued: first,
                    status,
                    cycle_points: points,
                });
                // Would-be ride-hailing drivers sit the qualification exam.
                if alive && !p.moved_out && (21..=60).contains(&age) && self.rng.random_bool(0.06) {
                    let score = self.rng.random_range(55..=100u8);
                    self.world.exams.push(Exam {
                        person: i as u32,
                        exam_type: "01",
                        date: random_date(&mut self.rng, add_years(as_of, -2), as_of),
                        score,
                        passed: score >= 80,
                    });
                }
            }
            // 违法犯罪记录
            if age >= 18 && self.rng.random_bool(0.012) {
                let category =
                    WeightedTable::new(CRIME_CATEGORIES.iter().copied()).pick(&mut self.rng);
                let d = random_date(
                    &mut self.rng,
                    add_years(p.birth, 18).max(date(1995, 1, 1)),
                    as_of,
                );
                self.world.crimes.push(Crime {
                    person: i as u32,
                    category,
                    date: d,
                });
            }
            // 残疾人证: prevalence rises with age.
            let q = if age < 40 {
                0.008
            } else if age < 65 {
                0.018
            } else {
                0.05
            };
            if self.rng.random_bool(q) {
                let category = self.rng.random_range(1..=7);
                let level = WeightedTable::new([(1u8, 15u64), (2, 25), (3, 30), (4, 30)])
                    .pick(&mut self.rng);
                let issued = random_date(&mut self.rng, p.birth.max(date(2008, 1, 1)), as_of);
                self.world.disabilities.push(Disability {
                    person: i as u32,
                    category,
                    level,
                    issued,
                });
            }
            // 失信被执行人 (people)
            if age >= 20 && self.rng.random_bool(0.004) {
                self.push_debtor(Party::Person(i as u32));
            }
            // 高龄津贴发放名册: most living 户籍 seniors already receive it.
            if p.hukou
                && p.resident(as_of)
                && age >= crate::world::SENIOR_AGE
                && self.rng.random_bool(0.7)
            {
                let eligible_from = add_years(p.birth, SENIOR_AGE as i32);
                let start = random_date(
                    &mut self.rng,
                    eligible_from.max(date(2012, 1, 1)).min(as_of),
                    as_of,
                );
                self.world.senior_payments.push(SeniorPayment {
                    person: i as u32,
                    start,
                    amount: senior_amount(age),
                });
            }
            // 人才认定 and 补贴发放 for new talents.
            if p.new_talent && p.education.is_some_and(|l| l >= LEVEL_BACHELOR) {
                let moved = p.hukou_moved_in.unwrap_or(as_of);
                let certified = add_days(moved, self.rng.random_range(5..40)).min(as_of);
                self.world.talent_certs.push(TalentCert {
                    person: i as u32,
                    category: "X",
                    certified,
                });
                if (as_of - moved).num_days() > 60 && self.rng.random_bool(0.45) {
                    let amount = match p.education {
                        Some(3) => 30_000,
                        Some(2) => 25_000,
                        _ => 15_000,
                    };
                    let paid = random_date(&mut self.rng, add_days(moved, 30).min(as_of), as_of);
                    self.world.subsidies.push(SubsidyPayment {
                        person: i as u32,
                        amount,
                        paid,
                    });
                }
            } else if p.education.is_some_and(|l| l >= 2) && age >= 30 && self.rng.random_bool(0.02)
            {
                let category = ["A", "B", "C"][self.rng.random_range(0..3)];
                self.world.talent_certs.push(TalentCert {
                    person: i as u32,
                    category,
                    certified: random_date(&mut self.rng, date(2012, 1, 1), as_of),
                });
            }
        }
        // 失信被执行人 (enterprises)
        for e in 0..self.world.enterprises.len() {
            if self.rng.random_bool(0.005) {
                self.push_debtor(Party::Enterprise(e as u32));
            }
        }
        // 低保: poor households, far more likely when a member is disabled.
        let disabled: HashSet<u32> = self.world.disabilities.iter().map(|d| d.person).collect();
        for h in 0..self.world.households.len() {
            let hh = &self.world.households[h];
            if !hh.hukou {
                continue;
            }
            let has_disabled = hh.members.iter().any(|m| disabled.contains(m));
            if self
                .rng
                .random_bool(if has_disabled { 0.25 } else { 0.006 })
            {
                family_seq += 1;
                let members: Vec<u32> = hh
                    .members
                    .iter()
                    .copied()
                    .filter(|&m| self.world.people[m as usize].resident(as_of))
                    .collect();
                if members.is_empty() {
                    continue;
                }
                let start = random_date(&mut self.rng, date(2015, 1, 1), as_of);
                self.world.allowance_families.push(AllowanceFamily {
                    family_no: format!("DB440304{:06}", family_seq),
                    amount: 1_365 * members.len() as u32,
                    members,
                    start,
                });
            }
        }
    }

    fn push_debtor(&mut self, party: Party) {
        let as_of = self.as_of();
        let listed = random_date(&mut self.rng, date(2016, 1, 1), as_of);
        let n = self.world.debtors.len() + 1;
        let status = WeightedTable::new([("1", 85u64), ("2", 5), ("3", 10)]).pick(&mut self.rng);
        self.world.debtors.push(Debtor {
            party,
            case_no: format!("（{}）粤0304执{}号", listed.year(), 1000 + n),
            listed,
            status,
        });
    }

    fn components(&mut self) {
        let count = (self.cfg.people as f64 * 0.13).ceil() as usize;
        let table = WeightedTable::new(COMPONENT_KINDS.iter().copied());
        for n in 0..count {
            let b = self.rng.random_range(0..self.world.buildings.len());
            let building = &self.world.buildings[b];
            let kind = table.pick(&mut self.rng);
            let address = self.rng.random_bool(0.6).then_some(building.door_address);
            let community = &self.world.communities[building.community as usize];
            let status = WeightedTable::new([("1", 90u64), ("2", 6), ("3", 1), ("4", 3)])
                .pick(&mut self.rng);
            self.world.components.push(Component {
                code: format!("{}{}{:06}", &community.code[6..12], kind, n + 1),
                kind,
                address,
                lon: building.lon + self.rng.random_range(-0.0008..0.0008),
                lat: building.lat + self.rng.random_range(-0.0008..0.0008),
                status,
                responsible: COMPONENT_OWNERS[self.rng.random_range(0..COMPONENT_OWNERS.len())],
            });
        }
    }
}

/// Monthly senior allowance by age band (MATTERS.md: parameters; the values are illustrative).
pub fn senior_amount(age: u32) -> u32 {
    match age {
        0..=89 => 200,
        90..=99 => 400,
        _ => 1_000,
    }
}

impl World {
    pub fn street_and_community(&self, address: u32) -> &Community {
        let b = &self.buildings[self.addresses[address as usize].building as usize];
        &self.communities[b.community as usize]
    }

    /// The standard written form of an address (规自局 标准地址).
    pub fn full_address(&self, address: u32) -> String {
        let a = &self.addresses[address as usize];
        let b = &self.buildings[a.building as usize];
        let c = &self.communities[b.community as usize];
        let road = &self.roads[b.road as usize].name;
        let mut s = format!(
            "深圳市福田区{}{}{}{}号{}",
            c.street_name, c.name, road, b.number, b.name
        );
        if a.unit > 0 {
            s.push_str(&format!("{}单元{}", a.unit, a.room));
        }
        s
    }

    pub fn party_id(&self, party: Party) -> String {
        match party {
            Party::Person(i) => self.people[i as usize].id.to_string(),
            Party::Outsider(i) => self.outsiders[i as usize].id.to_string(),
            Party::Enterprise(i) => self.enterprises[i as usize].uscc.to_string(),
        }
    }

    pub fn party_name(&self, party: Party) -> &str {
        match party {
            Party::Person(i) => &self.people[i as usize].name,
            Party::Outsider(i) => &self.outsiders[i as usize].name,
            Party::Enterprise(i) => &self.enterprises[i as usize].name,
        }
    }

    /// The truth key of a party: `person:<ID>` or `enterprise:<USCC>`.
    pub fn party_key(&self, party: Party) -> String {
        match party {
            Party::Enterprise(_) => format!("enterprise:{}", self.party_id(party)),
            _ => format!("person:{}", self.party_id(party)),
        }
    }
}
