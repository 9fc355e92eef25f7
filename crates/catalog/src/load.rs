//! Loading a pack from its files and checking it.
//!
//! Loading never stops at the first problem: each file is parsed on its own and every check runs
//! on whatever did parse, so one `miaopi catalog check` run lists everything to fix. Checks that
//! depend on a file that failed to parse are skipped rather than reported, because their errors
//! would only echo the parse error.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use miaopi_model as model;
use serde::de::DeserializeOwned;
use toml::de::DeTable;

use crate::error::{PackError, PackErrors};
use crate::locate::{Doc, Kind, Loc, Outline, describe};
use crate::pack::{CodeEntry, CodeTable, Field, Pack, PackMeta, Regions, Resource, Unit};
use crate::types::{Classification, DataType, FileFormat, ShareType};

/// Code tables the loader derives from `regions.toml`; a file of that name would compete.
pub(crate) const DERIVED_TABLES: [&str; 2] = ["street", "community"];

pub(crate) fn load(dir: &Path) -> Result<Pack, PackErrors> {
    let mut ld = Loader::new(dir);
    if !dir.is_dir() {
        let message = if dir.exists() {
            "pack path is not a directory"
        } else {
            "pack directory not found"
        };
        ld.err(dir, Loc::default(), message);
        return Err(PackErrors(ld.errors));
    }
    let meta = ld.load_meta();
    let units = ld.load_units();
    let regions = ld.load_regions(meta.as_ref());
    let tables = ld.load_code_tables(regions.as_ref());
    let resources = ld.load_resources(&units, &tables);
    match (meta, units.units, regions, ld.errors.is_empty()) {
        (Some(meta), Some(units), Some(regions), true) => Ok(Pack {
            root: dir.to_path_buf(),
            meta,
            units,
            regions,
            code_tables: tables.tables,
            resources,
        }),
        // A missing part always left an error behind; the guard keeps `Err(empty)` impossible.
        _ if ld.errors.is_empty() => Err(PackErrors(vec![PackError {
            file: ld.shown(dir),
            line: None,
            resource: None,
            field: None,
            message: "pack is incomplete".into(),
        }])),
        _ => Err(PackErrors(ld.errors)),
    }
}

/// A file made of head keys and `[[KEY]]` items, parsed item by item.
trait Split: DeserializeOwned {
    type Item: DeserializeOwned;
    const KEY: &'static str;
    fn set_items(&mut self, items: Vec<Self::Item>);
}

impl Split for Resource {
    type Item = Field;
    const KEY: &'static str = "field";
    fn set_items(&mut self, items: Vec<Field>) {
        self.fields = items;
    }
}

impl Split for CodeTable {
    type Item = CodeEntry;
    const KEY: &'static str = "entry";
    fn set_items(&mut self, items: Vec<CodeEntry>) {
        self.entries = items;
    }
}

/// `units.toml`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitsFile {
    #[serde(default)]
    unit: Vec<Unit>,
}

impl Split for UnitsFile {
    type Item = Unit;
    const KEY: &'static str = "unit";
    fn set_items(&mut self, items: Vec<Unit>) {
        self.unit = items;
    }
}

struct Units {
    /// `None` when `units.toml` could not be read or parsed: unit checks are then skipped.
    units: Option<Vec<Unit>>,
}

struct Tables {
    tables: BTreeMap<String, CodeTable>,
    /// False when `codes/` could not be read: every table name is then unknowable.
    listed: bool,
    /// Names of all tables, including files that failed to parse, so fields naming them do not
    /// get a second, misleading "unknown code table" error.
    known: BTreeSet<String>,
}

struct Loader {
    root: PathBuf,
    /// Paths are shown relative to this directory (the pack's parent) when the pack path is
    /// absolute; a relative pack path is already what the user typed, so it is kept.
    shown_base: Option<PathBuf>,
    errors: Vec<PackError>,
}

impl Loader {
    fn new(dir: &Path) -> Self {
        let shown_base = if dir.is_absolute() {
            dir.parent().map(Path::to_path_buf)
        } else {
            None
        };
        Loader {
            root: dir.to_path_buf(),
            shown_base,
            errors: Vec::new(),
        }
    }

    fn shown(&self, path: &Path) -> PathBuf {
        self.shown_base
            .as_deref()
            .and_then(|base| path.strip_prefix(base).ok())
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(path)
            .to_path_buf()
    }

    fn err(&mut self, file: &Path, loc: Loc, message: impl Into<String>) {
        self.errors.push(PackError {
            file: self.shown(file),
            line: loc.line,
            resource: loc.resource,
            field: loc.field,
            message: message.into(),
        });
    }

    fn read(&mut self, path: &Path) -> Option<Doc> {
        match fs::read_to_string(path) {
            Ok(text) => Some(Doc {
                path: path.to_path_buf(),
                text,
            }),
            Err(e) => {
                let message = match e.kind() {
                    io::ErrorKind::NotFound => "missing file".to_owned(),
                    io::ErrorKind::InvalidData => "not valid UTF-8".to_owned(),
                    _ => format!("cannot read: {e}"),
                };
                self.err(path, Loc::default(), message);
                None
            }
        }
    }

    /// Checks a document's syntax and maps where its keys and tables are.
    fn outline(&mut self, doc: &Doc, kind: Kind) -> Option<Outline> {
        match DeTable::parse(&doc.text) {
            Ok(table) => Some(Outline::build(doc, table.get_ref(), 0..doc.text.len())),
            Err(e) => {
                // The recoverable parse keeps what precedes the error, which is enough to name
                // the item (field, unit, entry) it is in.
                let (partial, _) = DeTable::parse_recoverable(&doc.text);
                let outline = Outline::build(doc, partial.get_ref(), 0..doc.text.len());
                let offset = e.span().map(|s| s.start);
                let (loc, mut context) = describe(kind, doc, &outline, offset);
                context.key = None;
                let message = context.message(&format!("invalid TOML: {}", e.message().trim()));
                self.err(&doc.path, loc, message);
                None
            }
        }
    }

    /// Parses a whole document into `T`, reporting a syntax or type error with its line and,
    /// where the offending text lies inside an item, the item's name.
    fn parse<T: DeserializeOwned>(&mut self, doc: &Doc, kind: Kind) -> Option<(T, Outline)> {
        let outline = self.outline(doc, kind)?;
        let value = self.deserialize::<T>(doc, kind, &outline, 0..doc.text.len())?;
        Some((value, outline))
    }

    /// Parses a document whose items are `[[T::KEY]]` tables one item at a time, so that
    /// every broken item is reported, not just the first one serde meets.
    fn parse_split<T: Split>(&mut self, doc: &Doc, kind: Kind) -> Option<(T, Outline)> {
        let outline = self.outline(doc, kind)?;
        let len = doc.text.len();
        let starts: Vec<usize> = outline.items(T::KEY).iter().map(|t| t.start).collect();
        // Items written as an inline array have no headers to split at.
        let headed = starts
            .iter()
            .all(|&s| doc.text.get(s..).is_some_and(|t| t.starts_with("[[")));
        if !headed {
            let value = self.deserialize::<T>(doc, kind, &outline, 0..len)?;
            return Some((value, outline));
        }
        let head_end = starts.first().copied().unwrap_or(len);
        let head = self.deserialize::<T>(doc, kind, &outline, 0..head_end);
        let mut items = Vec::with_capacity(starts.len());
        let mut all_ok = true;
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(len);
            // Skip the `[[key]]` header line: the body alone is a table of the item's keys.
            let body = doc
                .text
                .get(start..end)
                .and_then(|t| t.find('\n'))
                .map_or(end, |nl| start + nl + 1);
            match self.deserialize::<T::Item>(doc, kind, &outline, body..end) {
                Some(item) => items.push(item),
                None => all_ok = false,
            }
        }
        let mut head = head?;
        if !all_ok {
            return None;
        }
        head.set_items(items);
        Some((head, outline))
    }

    /// Deserialises `doc.text[range]`, reporting an error at its place in the whole document.
    fn deserialize<T: DeserializeOwned>(
        &mut self,
        doc: &Doc,
        kind: Kind,
        outline: &Outline,
        range: Range<usize>,
    ) -> Option<T> {
        let Some(text) = doc.text.get(range.clone()) else {
            self.err(
                &doc.path,
                Loc::default(),
                "cannot split the file into items",
            );
            return None;
        };
        match toml::from_str::<T>(text) {
            Ok(value) => Some(value),
            Err(e) => {
                // A span-less error (e.g. a missing key) belongs to the start of the range.
                let offset = range.start + e.span().map_or(0, |s| s.start);
                let (loc, mut context) = describe(kind, doc, outline, Some(offset));
                let message = e.message().trim();
                // A missing key has no text of its own: the offset is just the item's start.
                if e.span().is_none() || message.starts_with("missing field") {
                    context.key = None;
                }
                let message = context.message(message);
                self.err(&doc.path, loc, message);
                None
            }
        }
    }

    fn load_meta(&mut self) -> Option<PackMeta> {
        let doc = self.read(&self.root.join("pack.toml"))?;
        let (meta, outline) = self.parse::<PackMeta>(&doc, Kind::Meta)?;
        if !is_slug(&meta.name) {
            let loc = Loc::line(Some(outline.line_of("name")));
            self.err(&doc.path, loc, "name must be snake_case ASCII");
        }
        if !is_digits(&meta.region_code, 6) {
            let loc = Loc::line(Some(outline.line_of("region_code")));
            self.err(
                &doc.path,
                loc,
                format!(
                    "region_code \"{}\" is not a 6-digit GB/T 2260 code",
                    meta.region_code
                ),
            );
        }
        Some(meta)
    }

    fn load_units(&mut self) -> Units {
        let Some(doc) = self.read(&self.root.join("units.toml")) else {
            return Units { units: None };
        };
        let Some((file, outline)) = self.parse_split::<UnitsFile>(&doc, Kind::Units) else {
            return Units { units: None };
        };
        if file.unit.is_empty() {
            self.err(&doc.path, Loc::default(), "no [[unit]] defined");
        }
        let mut codes: HashMap<&str, usize> = HashMap::new();
        let mut org_codes: HashMap<&str, &str> = HashMap::new();
        for (i, u) in file.unit.iter().enumerate() {
            let item = outline.item("unit", i);
            let line = |key: &str| item.map(|t| t.line_of(key));
            let at = |key: &str| Loc::line(line(key));
            if !is_slug(&u.code) {
                self.err(
                    &doc.path,
                    at("code"),
                    format!("unit \"{}\": code must be snake_case ASCII", u.code),
                );
            }
            if let Some(first) = codes.insert(&u.code, i) {
                let first_line = outline.item("unit", first).map(|t| t.line_of("code"));
                self.err(
                    &doc.path,
                    at("code"),
                    format!(
                        "duplicate unit code \"{}\" (first defined{})",
                        u.code,
                        on_line(first_line)
                    ),
                );
            }
            for (key, value) in [("name", &u.name), ("short_name", &u.short_name)] {
                if value.trim().is_empty() {
                    self.err(
                        &doc.path,
                        at(key),
                        format!("unit {}: {key} is empty", u.code),
                    );
                }
            }
            if let Err(e) = model::Uscc::parse(&u.org_code) {
                self.err(
                    &doc.path,
                    at("org_code"),
                    format!(
                        "unit {}: org_code \"{}\" is not a valid unified social credit code \
                         (GB 32100): {e}",
                        u.code, u.org_code
                    ),
                );
            } else if let Some(other) = org_codes.insert(&u.org_code, &u.code) {
                self.err(
                    &doc.path,
                    at("org_code"),
                    format!(
                        "unit {}: org_code \"{}\" is also unit {other}'s",
                        u.code, u.org_code
                    ),
                );
            }
        }
        Units {
            units: Some(file.unit),
        }
    }

    fn load_regions(&mut self, meta: Option<&PackMeta>) -> Option<Regions> {
        let doc = self.read(&self.root.join("regions.toml"))?;
        let (regions, outline) = self.parse::<Regions>(&doc, Kind::Regions)?;
        let path = doc.path.as_path();
        let district = &regions.district;
        let district_line = outline.item("district", 0).map(|t| t.line_of("code"));
        if !is_digits(&district.code, 6) {
            self.err(
                path,
                Loc::line(district_line),
                format!(
                    "district code \"{}\" is not a 6-digit GB/T 2260 code",
                    district.code
                ),
            );
        }
        if let Some(meta) = meta
            && meta.region_code != district.code
        {
            self.err(
                path,
                Loc::line(district_line),
                format!(
                    "district code \"{}\" differs from pack.toml's region_code \"{}\"",
                    district.code, meta.region_code
                ),
            );
        }
        if regions.streets.is_empty() {
            self.err(path, Loc::default(), "no [[street]] defined");
        }
        // Only Futian's streets are known to miaopi-model; other districts get the structural
        // checks alone until the model knows them too.
        let futian = district.code == model::region::FUTIAN.to_string();
        let mut streets: HashMap<&str, usize> = HashMap::new();
        let mut communities: HashMap<&str, &str> = HashMap::new();
        for (i, street) in regions.streets.iter().enumerate() {
            let item = outline.item("street", i);
            let at = |key: &str| Loc::line(item.map(|t| t.line_of(key)));
            let code = street.code.as_str();
            if !is_digits(code, 9) || !code.starts_with(&district.code) {
                self.err(
                    path,
                    at("code"),
                    format!(
                        "street {code}: code must be 9 digits extending the district code {}",
                        district.code
                    ),
                );
            } else if futian {
                match code
                    .parse::<u32>()
                    .ok()
                    .and_then(model::region::futian_street)
                {
                    None => self.err(
                        path,
                        at("code"),
                        format!("street {code}: not a Futian street (统计用区划代码)"),
                    ),
                    Some(known) if known.name != street.name => self.err(
                        path,
                        at("name"),
                        format!(
                            "street {code}: name \"{}\" differs from the official \"{}\"",
                            street.name, known.name
                        ),
                    ),
                    Some(_) => {}
                }
            }
            if streets.insert(code, i).is_some() {
                self.err(path, at("code"), format!("duplicate street code {code}"));
            }
            for (j, community) in street.communities.iter().enumerate() {
                let item = item.and_then(|t| t.item("community", j));
                let at = |key: &str| Loc::line(item.map(|t| t.line_of(key)));
                let c = community.code.as_str();
                if !is_digits(c, 12) || !c.starts_with(code) {
                    self.err(
                        path,
                        at("code"),
                        format!(
                            "community {c} ({}): code must be 12 digits extending its street's \
                             code {code}",
                            community.name
                        ),
                    );
                }
                if let Some(other) = communities.insert(c, code) {
                    self.err(
                        path,
                        at("code"),
                        format!("duplicate community code {c} (also under street {other})"),
                    );
                }
                if community.name.trim().is_empty() {
                    self.err(path, at("name"), format!("community {c}: name is empty"));
                }
            }
        }
        Some(regions)
    }

    fn load_code_tables(&mut self, regions: Option<&Regions>) -> Tables {
        let dir = self.root.join("codes");
        let mut tables = Tables {
            tables: BTreeMap::new(),
            listed: dir.is_dir(),
            known: BTreeSet::new(),
        };
        for path in self.toml_files(&dir) {
            let stem = file_stem(&path);
            tables.known.insert(stem.clone());
            if DERIVED_TABLES.contains(&stem.as_str()) {
                self.err(
                    &path,
                    Loc::default(),
                    format!(
                        "code table \"{stem}\" is reserved: it is derived from regions.toml, \
                         delete this file"
                    ),
                );
                continue;
            }
            let Some(doc) = self.read(&path) else {
                continue;
            };
            let Some((table, outline)) = self.parse_split::<CodeTable>(&doc, Kind::CodeTable)
            else {
                continue;
            };
            if table.name != stem {
                self.err(
                    &path,
                    Loc::line(Some(outline.line_of("name"))),
                    format!(
                        "code table name \"{}\" differs from the file name \"{stem}.toml\"",
                        table.name
                    ),
                );
            }
            let entry_lines: Vec<usize> = outline.items("entry").iter().map(|t| t.line).collect();
            self.check_code_table(&path, &table, &entry_lines);
            tables.tables.insert(stem, table);
        }
        if let Some(regions) = regions {
            let regions_file = self.root.join("regions.toml");
            for table in derived_tables(regions) {
                // Lines are not tracked here: the duplicate it reports is a name, found by search.
                self.check_code_table(&regions_file, &table, &[]);
                tables.known.insert(table.name.clone());
                tables.tables.insert(table.name.clone(), table);
            }
        } else {
            // regions.toml already reported its error; fields using these tables are fine.
            tables
                .known
                .extend(DERIVED_TABLES.iter().map(|s| s.to_string()));
        }
        tables
    }

    fn check_code_table(&mut self, path: &Path, table: &CodeTable, entry_lines: &[usize]) {
        let name = &table.name;
        if table.entries.is_empty() {
            self.err(
                path,
                Loc::default(),
                format!("code table {name}: no [[entry]] defined"),
            );
        }
        let mut codes: HashMap<&str, usize> = HashMap::new();
        let mut values: HashMap<&str, usize> = HashMap::new();
        for (i, e) in table.entries.iter().enumerate() {
            let at = Loc::line(entry_lines.get(i).copied());
            if e.code.trim().is_empty() || e.label.trim().is_empty() {
                self.err(
                    path,
                    at.clone(),
                    format!(
                        "code table {name}: entry {} has an empty code or label",
                        i + 1
                    ),
                );
            }
            if codes.insert(e.code.as_str(), i).is_some() {
                self.err(
                    path,
                    at.clone(),
                    format!("code table {name}: duplicate code \"{}\"", e.code),
                );
                continue;
            }
            // `lookup` must be unambiguous: no spelling may name two different entries.
            for v in e.values() {
                let v = v.trim();
                match values.insert(v, i) {
                    Some(j) if j != i => {
                        let other = &table.entries[j];
                        self.err(
                            path,
                            at.clone(),
                            format!(
                                "code table {name}: \"{v}\" names both {} ({}) and {} ({})",
                                other.code, other.label, e.code, e.label
                            ),
                        );
                    }
                    _ => {}
                }
            }
        }
    }

    fn load_resources(&mut self, units: &Units, tables: &Tables) -> Vec<Resource> {
        let dir = self.root.join("resources");
        let mut loaded: Vec<(Resource, Outline, PathBuf)> = Vec::new();
        // Codes of every resource file, parsed or not, so `related` checks do not cascade.
        let mut known: BTreeSet<String> = BTreeSet::new();
        for unit_dir in self.unit_dirs(&dir) {
            let dir_name = file_name(&unit_dir);
            for path in self.toml_files(&unit_dir) {
                known.insert(file_stem(&path));
                let Some(doc) = self.read(&path) else {
                    continue;
                };
                let Some((mut r, outline)) = self.parse_split::<Resource>(&doc, Kind::Resource)
                else {
                    continue;
                };
                r.source_file = path.clone();
                known.insert(r.code.clone());
                self.check_resource(&path, &dir_name, &r, &outline, units, tables);
                loaded.push((r, outline, path));
            }
        }
        if loaded.is_empty() && known.is_empty() && dir.is_dir() {
            self.err(&dir, Loc::default(), "no resources defined");
        }

        let mut codes: HashMap<&str, &Path> = HashMap::new();
        let mut catalog_codes: HashMap<&str, &Path> = HashMap::new();
        let mut errors = Vec::new();
        for (r, outline, path) in &loaded {
            let at = |key: &str| Loc::resource(&r.code, Some(outline.line_of(key)));
            if let Some(first) = codes.insert(&r.code, path) {
                errors.push((
                    path,
                    at("code"),
                    format!(
                        "duplicate resource code \"{}\" (also in {})",
                        r.code,
                        self.shown(first).display()
                    ),
                ));
            }
            if let Some(first) = catalog_codes.insert(&r.catalog_code, path) {
                errors.push((
                    path,
                    at("catalog_code"),
                    format!(
                        "duplicate catalog_code \"{}\" (also in {})",
                        r.catalog_code,
                        self.shown(first).display()
                    ),
                ));
            }
            for rel in &r.related {
                if rel == &r.code {
                    errors.push((
                        path,
                        at("related"),
                        "related lists the resource itself".into(),
                    ));
                } else if !known.contains(rel) {
                    errors.push((
                        path,
                        at("related"),
                        format!("unknown related resource \"{rel}\""),
                    ));
                }
            }
        }
        for (path, loc, message) in errors {
            self.err(path, loc, message);
        }
        loaded.into_iter().map(|(r, _, _)| r).collect()
    }

    /// Checks of one resource that need nothing but the resource, the units and the tables.
    fn check_resource(
        &mut self,
        path: &Path,
        dir_name: &str,
        r: &Resource,
        outline: &Outline,
        units: &Units,
        tables: &Tables,
    ) {
        let code = r.code.as_str();
        let at = |key: &str| Loc::resource(code, Some(outline.line_of(key)));
        let stem = file_stem(path);
        // Without fields every key would be unknown; "no [[field]]" is the one error to report.
        for k in r.key.iter().filter(|_| !r.fields.is_empty()) {
            if r.field(k).is_none() {
                self.err(
                    path,
                    at("key"),
                    format!("key field \"{k}\" is not a field of the resource"),
                );
            }
        }
        if r.key.len()
            != r.key
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        {
            self.err(path, at("key"), "key lists a field twice");
        }
        if !is_slug(code) {
            self.err(path, at("code"), "code must be snake_case ASCII");
        }
        if stem != code {
            self.err(
                path,
                at("code"),
                format!("file name \"{stem}.toml\" differs from the resource code \"{code}\""),
            );
        }
        let unit_known = units
            .units
            .as_ref()
            .is_none_or(|us| us.iter().any(|u| u.code == r.unit));
        if !unit_known {
            self.err(
                path,
                at("unit"),
                format!("unknown unit \"{}\" (not in units.toml)", r.unit),
            );
        }
        if r.unit != dir_name {
            self.err(
                path,
                at("unit"),
                format!(
                    "unit \"{}\" differs from the directory \"resources/{dir_name}\"",
                    r.unit
                ),
            );
        }
        for (key, value) in [
            ("catalog_code", &r.catalog_code),
            ("name", &r.name),
            ("summary", &r.summary),
            ("files", &r.files),
        ] {
            if value.trim().is_empty() {
                self.err(path, at(key), format!("{key} is empty"));
            }
        }
        match (r.classification, r.base_class) {
            (Classification::Base, None) => self.err(
                path,
                at("classification"),
                "a base resource (基础信息资源) needs a base_class",
            ),
            (Classification::Theme | Classification::Department, Some(_)) => self.err(
                path,
                at("base_class"),
                format!(
                    "base_class is only for base resources, not {}",
                    r.classification
                ),
            ),
            _ => {}
        }
        let has_condition = r
            .share_condition
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty());
        match r.share_type {
            ShareType::Conditional if !has_condition => self.err(
                path,
                at("share_type"),
                "share_type conditional (有条件共享) needs a share_condition",
            ),
            ShareType::None if !has_condition => self.err(
                path,
                at("share_type"),
                "share_type none (不予共享) needs its legal basis in share_condition",
            ),
            _ => {}
        }
        match (r.format, r.encoding) {
            (FileFormat::Csv, None) => self.err(
                path,
                at("format"),
                "format csv needs an encoding (utf8, utf8_bom or gbk)",
            ),
            (FileFormat::Jsonl | FileFormat::Xlsx | FileFormat::Parquet, Some(enc)) => self.err(
                path,
                at("encoding"),
                format!("encoding {enc} is only for csv, not {}", r.format),
            ),
            _ => {}
        }
        if r.fields.is_empty() {
            self.err(path, Loc::resource(code, None), "no [[field]] defined");
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut labels: HashMap<&str, &str> = HashMap::new();
        for (i, f) in r.fields.iter().enumerate() {
            let item = outline.item("field", i);
            let at = |key: &str| Loc::field(code, &f.name, item.map(|t| t.line_of(key)));
            if !is_snake_case(&f.name) {
                self.err(path, at("name"), "field name must be snake_case ASCII");
            }
            if let Some(first) = names.insert(&f.name, i) {
                self.err(
                    path,
                    at("name"),
                    format!("duplicate field name (also field {})", first + 1),
                );
            }
            if f.label.trim().is_empty() {
                self.err(path, at("label"), "label is empty");
            } else if let Some(other) = labels.insert(f.label.trim(), &f.name) {
                self.err(
                    path,
                    at("label"),
                    format!("duplicate label \"{}\" (also field {other})", f.label),
                );
            }
            if let Some(table) = &f.code_table
                && tables.listed
                && !tables.known.contains(table)
            {
                self.err(
                    path,
                    at("code_table"),
                    format!("unknown code table \"{table}\""),
                );
            }
            if let Some(role) = f.role
                && f.data_type != DataType::String
            {
                self.err(
                    path,
                    at("role"),
                    format!("role {role} needs type string, not {}", f.data_type),
                );
            }
            if let Some(max) = f.max_length {
                if f.data_type != DataType::String {
                    self.err(
                        path,
                        at("max_length"),
                        format!("max_length needs type string, not {}", f.data_type),
                    );
                } else if max == 0 {
                    self.err(path, at("max_length"), "max_length must be at least 1");
                }
            }
            if !f.accepts.is_empty() && f.data_type != DataType::Date {
                self.err(
                    path,
                    at("accepts"),
                    format!("accepts needs type date, not {}", f.data_type),
                );
            }
            if f.unit.is_some() && !matches!(f.data_type, DataType::Integer | DataType::Decimal) {
                self.err(
                    path,
                    at("unit"),
                    format!("unit needs type integer or decimal, not {}", f.data_type),
                );
            }
        }
    }

    /// The `*.toml` files of a directory, sorted so errors come in a stable order. A missing
    /// directory is an error; other files are left alone (a README may sit beside the tables).
    fn toml_files(&mut self, dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .dir_entries(dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "toml") && !p.is_dir())
            .collect();
        files.sort();
        files
    }

    /// The unit directories under `resources/`; a TOML file directly in it is misplaced.
    fn unit_dirs(&mut self, dir: &Path) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        for p in self.dir_entries(dir) {
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "toml") {
                self.err(
                    &p,
                    Loc::resource(&file_stem(&p), None),
                    "resource files belong in resources/<unit>/",
                );
            }
        }
        dirs.sort();
        dirs
    }

    fn dir_entries(&mut self, dir: &Path) -> Vec<PathBuf> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                let message = if e.kind() == io::ErrorKind::NotFound {
                    "missing directory".to_owned()
                } else {
                    format!("cannot read directory: {e}")
                };
                self.err(dir, Loc::default(), message);
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            match entry {
                // Hidden files are editor and VCS droppings, never pack content.
                Ok(e) if !file_name(&e.path()).starts_with('.') => out.push(e.path()),
                Ok(_) => {}
                Err(e) => self.err(dir, Loc::default(), format!("cannot read directory: {e}")),
            }
        }
        out
    }
}

/// The `street` and `community` code tables, built from `regions.toml` so the two can never
/// disagree. Labels are the official names; the names without 街道/社区 are aliases, because
/// source files often drop the suffix.
pub(crate) fn derived_tables(regions: &Regions) -> [CodeTable; 2] {
    let entry = |code: &str, name: &str, suffix: &str| CodeEntry {
        code: code.to_owned(),
        label: name.to_owned(),
        aliases: name
            .strip_suffix(suffix)
            .filter(|short| !short.is_empty())
            .map(|short| vec![short.to_owned()])
            .unwrap_or_default(),
    };
    let streets = CodeTable {
        name: "street".into(),
        label: "街道".into(),
        standard: Some("统计用区划代码".into()),
        entries: regions
            .streets
            .iter()
            .map(|s| entry(&s.code, &s.name, "街道"))
            .collect(),
    };
    let communities = CodeTable {
        name: "community".into(),
        label: "社区".into(),
        standard: Some("统计用区划代码".into()),
        entries: regions
            .streets
            .iter()
            .flat_map(|s| &s.communities)
            .map(|c| entry(&c.code, &c.name, "社区"))
            .collect(),
    };
    // Duplicate codes were reported against regions.toml already; keeping the first of each
    // keeps the tables' own checks from reporting them a second time.
    [streets, communities].map(|mut t| {
        let mut seen = BTreeSet::new();
        t.entries.retain(|e| seen.insert(e.code.clone()));
        t
    })
}

fn on_line(line: Option<usize>) -> String {
    line.map(|l| format!(" on line {l}")).unwrap_or_default()
}

pub(crate) fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn is_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

/// `lower_snake_case`: ASCII lower-case letters and digits in words joined by single
/// underscores, starting with a letter. Lake column names and file stems must be portable.
pub(crate) fn is_snake_case(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('_')
        && !s.contains("__")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Slugs (unit and resource codes, pack names) follow the same rule as field names.
fn is_slug(s: &str) -> bool {
    is_snake_case(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case() {
        for ok in ["resident_id", "area_m2", "a", "x1_y2"] {
            assert!(is_snake_case(ok), "{ok}");
        }
        for bad in [
            "",
            "Resident_id",
            "resident-id",
            "_id",
            "id_",
            "a__b",
            "1a",
            "身份证号",
            "a b",
        ] {
            assert!(!is_snake_case(bad), "{bad}");
        }
    }

    #[test]
    fn derived_tables_use_names_and_short_names() {
        let regions: Regions = toml::from_str(
            r#"
            [district]
            code = "440304"
            name = "福田区"
            [[street]]
            code = "440304001"
            name = "南园街道"
              [[street.community]]
              code = "440304001001"
              name = "南华社区"
            "#,
        )
        .unwrap();
        let [streets, communities] = derived_tables(&regions);
        assert_eq!(streets.lookup("南园").unwrap().code, "440304001");
        assert_eq!(streets.lookup(" 南园街道 ").unwrap().code, "440304001");
        assert_eq!(communities.lookup("南华").unwrap().label, "南华社区");
        assert_eq!(
            communities.lookup("440304001001").unwrap().label,
            "南华社区"
        );
    }

    #[test]
    fn paths_are_shown_as_typed_or_relative_to_the_packs_parent() {
        let relative = Loader::new(Path::new("packs/futian"));
        assert_eq!(
            relative.shown(Path::new("packs/futian/units.toml")),
            Path::new("packs/futian/units.toml")
        );
        let absolute = Loader::new(Path::new("/srv/miaopi/packs/futian"));
        assert_eq!(
            absolute.shown(Path::new("/srv/miaopi/packs/futian/units.toml")),
            Path::new("futian/units.toml")
        );
        assert_eq!(
            absolute.shown(Path::new("/elsewhere/x.toml")),
            Path::new("/elsewhere/x.toml")
        );
    }
}
