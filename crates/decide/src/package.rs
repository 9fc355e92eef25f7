//! Matter packages (`packs/<pack>/matters/<code>/<version>/`): loading, content hashing,
//! validation against the catalogue and the DMN model, and the registry of versions.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use miaopi_catalog::{EntityRole, Pack, Resource};
use serde::{Deserialize, Serialize};
use sm3::{Digest, Sm3};

use crate::datum::{Datum, DatumType};
use crate::engine::{
    CompiledModel, DecisionEngine, EngineInfo, LogicDescription, ModelDescription, RULE_COLUMN,
};
use crate::error::{DecideError, PackageError, PackageErrors};
use crate::facts::{FactBinding, FedBinding};
use crate::manifest::{
    Aggregate, CrossCheck, DerivedKind, FactSpec, FedBy, FormType, KeyAttribute, KeySource,
    Manifest, PartyKind,
};
use crate::testing::{self, TestCase};

/// The manifest file of a package.
pub const MANIFEST_FILE: &str = "matter.toml";
/// The DMN rules of a package.
pub const RULES_FILE: &str = "rules.dmn";
/// The test cases of a package.
pub const TESTS_FILE: &str = "tests.toml";
/// The DMN input that always holds the application date.
pub const APPLICATION_DATE: &str = "申请日期";
/// The outcome decision's output naming the outcome.
pub const OUTCOME_OUTPUT: &str = "结论";
/// The values the outcome output may take.
pub const BASE_OUTCOMES: [&str; 3] = ["approved", "rejected", "manual_review"];

/// Where a fact's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FactOrigin {
    /// A catalogue resource, through a [`FactSource`](crate::facts::FactSource).
    Resource(Box<FactBinding>),
    /// The party's resident ID itself.
    KeyAttribute {
        /// Which attribute.
        attribute: KeyAttribute,
    },
}

/// A fact binding resolved against the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedFact {
    /// Fact name (DMN input).
    pub name: String,
    /// Party role.
    pub party: String,
    /// Source.
    pub origin: FactOrigin,
    /// Value type.
    pub value_type: DatumType,
    /// Cross-check applied after fetching.
    pub cross_check: Option<CrossCheck>,
    /// 提供方简称 and 资源名称 for reasons (`公安分局`, `户籍人口`); `公民身份号码` for key attributes.
    pub source_label: String,
}

impl ResolvedFact {
    /// The resource binding, unless the fact is read from the key.
    pub fn binding(&self) -> Option<&FactBinding> {
        match &self.origin {
            FactOrigin::Resource(b) => Some(b),
            FactOrigin::KeyAttribute { .. } => None,
        }
    }
}

/// 实施机关 as the certificate names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issuer {
    /// Unit code.
    pub unit: String,
    /// 单位全称.
    pub name: String,
    /// 统一社会信用代码 (the 颁发机构代码 of certificate identifiers).
    pub org_code: String,
}

/// 事项包: a loaded, validated matter package.
pub struct Package {
    /// The package directory.
    pub dir: PathBuf,
    /// `matter.toml`.
    pub manifest: Manifest,
    /// SM3 over the package's files (hex): what a receipt pins.
    pub hash: String,
    /// The engine that compiled the rules.
    pub engine: EngineInfo,
    /// Facts, resolved against the catalogue, in manifest order.
    pub facts: Vec<ResolvedFact>,
    /// Parameters, typed.
    pub parameters: BTreeMap<String, Datum>,
    /// Test cases from `tests.toml`.
    pub tests: Vec<TestCase>,
    /// 实施机关.
    pub issuer: Issuer,
    pub(crate) model: Arc<dyn CompiledModel>,
}

impl std::fmt::Debug for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Package")
            .field("code", &self.manifest.code)
            .field("version", &self.manifest.version)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl Package {
    /// Loads and validates a package, then runs its tests: refused if any test fails, any rule
    /// row is matched by no test, or a reachable outcome is never expected by a test.
    pub fn load(
        dir: &Path,
        pack: &Pack,
        engine: &dyn DecisionEngine,
    ) -> Result<Package, PackageErrors> {
        let package = Package::load_unchecked(dir, pack, engine)?;
        let report = testing::run_package_tests(&package);
        let errors = report.errors(&package);
        if errors.is_empty() {
            Ok(package)
        } else {
            Err(PackageErrors(errors))
        }
    }

    /// Loads and validates a package without running its tests (for `miaopi matter test`,
    /// which reports test results itself).
    pub fn load_unchecked(
        dir: &Path,
        pack: &Pack,
        engine: &dyn DecisionEngine,
    ) -> Result<Package, PackageErrors> {
        let mut v = Validator {
            dir: dir.to_path_buf(),
            errors: Vec::new(),
        };
        let hash = match hash_dir(dir) {
            Ok(h) => h,
            Err(e) => {
                v.err(dir, None, format!("cannot read package: {e}"));
                return Err(PackageErrors(v.errors));
            }
        };
        let manifest_text = v.read(MANIFEST_FILE);
        let rules_text = v.read(RULES_FILE);
        let tests_text = v.read(TESTS_FILE);
        let (Some(manifest_text), Some(rules_text), Some(tests_text)) =
            (manifest_text, rules_text, tests_text)
        else {
            return Err(PackageErrors(v.errors));
        };
        let manifest: Manifest = match toml::from_str(&manifest_text) {
            Ok(m) => m,
            Err(e) => {
                v.file_err(MANIFEST_FILE, None, e.to_string().trim_end().to_owned());
                return Err(PackageErrors(v.errors));
            }
        };
        let model = match engine.compile(&rules_text) {
            Ok(m) => Some(m),
            Err(e) => {
                v.file_err(RULES_FILE, None, e.to_string());
                None
            }
        };
        let issuer = v.check_metadata(&manifest, pack);
        let facts = v.resolve_facts(&manifest, pack);
        let parameters = v.parameters(&manifest);
        v.check_names_and_parties(&manifest, &facts);
        v.check_derived(&manifest, &facts);
        if let Some(model) = &model {
            v.check_model(&manifest, &facts, &parameters, model.description());
        }
        v.check_paths(&manifest, &facts);
        let tests = match testing::parse_tests(&tests_text, &manifest, &facts) {
            Ok(t) => t,
            Err(errs) => {
                for (item, message) in errs {
                    v.file_err(TESTS_FILE, item, message);
                }
                Vec::new()
            }
        };
        match (model, issuer, v.errors.is_empty()) {
            (Some(model), Some(issuer), true) => Ok(Package {
                dir: dir.to_path_buf(),
                manifest,
                hash,
                engine: engine.info(),
                facts,
                parameters,
                tests,
                issuer,
                model,
            }),
            _ => Err(PackageErrors(v.errors)),
        }
    }

    /// What the compiled rules contain.
    pub fn model(&self) -> &ModelDescription {
        self.model.description()
    }

    /// A fact by name.
    pub fn fact(&self, name: &str) -> Option<&ResolvedFact> {
        self.facts.iter().find(|f| f.name == name)
    }

    /// Whether the version applies to an application dated `date`.
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.manifest.valid_from <= date && self.manifest.valid_to.is_none_or(|to| date <= to)
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// SM3 over every file of the package directory (recursively, hidden files skipped), in
/// byte order of their relative paths; each contributes `path NUL length(u64 BE) bytes`, so
/// renaming, moving or editing any file changes the hash.
pub fn hash_dir(dir: &Path) -> std::io::Result<String> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    let mut h = Sm3::new();
    for rel in files {
        let bytes = fs::read(dir.join(&rel))?;
        h.update(rel.as_bytes());
        h.update([0u8]);
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(&bytes);
    }
    Ok(hex(&h.finalize()))
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push(rel);
        }
    }
    Ok(())
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

struct Validator {
    dir: PathBuf,
    errors: Vec<PackageError>,
}

fn fits(kind: PartyKind, role: EntityRole) -> bool {
    matches!(
        (kind, role),
        (
            PartyKind::Person,
            EntityRole::PersonId | EntityRole::PartyId
        ) | (
            PartyKind::Enterprise,
            EntityRole::CreditCode | EntityRole::PartyId
        ) | (PartyKind::Address, EntityRole::AddressCode)
            | (PartyKind::Building, EntityRole::BuildingCode)
    )
}

impl Validator {
    fn err(&mut self, file: &Path, item: Option<String>, message: impl Into<String>) {
        self.errors.push(PackageError {
            file: file.to_path_buf(),
            item,
            message: message.into(),
        });
    }

    fn file_err(&mut self, file: &str, item: Option<String>, message: impl Into<String>) {
        let path = self.dir.join(file);
        self.err(&path, item, message);
    }

    fn read(&mut self, file: &str) -> Option<String> {
        match fs::read_to_string(self.dir.join(file)) {
            Ok(s) => Some(s),
            Err(e) => {
                self.file_err(file, None, format!("cannot read: {e}"));
                None
            }
        }
    }

    fn check_metadata(&mut self, m: &Manifest, pack: &Pack) -> Option<Issuer> {
        let dir_name = |p: Option<&Path>| {
            p.and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        };
        let dir = self.dir.clone();
        if let Some(v) = dir_name(Some(&dir))
            && v != m.version
        {
            self.file_err(
                MANIFEST_FILE,
                Some("version".into()),
                format!(
                    "version {:?} differs from the directory name {v:?}",
                    m.version
                ),
            );
        }
        if let Some(c) = dir_name(dir.parent())
            && c != m.code
        {
            self.file_err(
                MANIFEST_FILE,
                Some("code".into()),
                format!("code {:?} differs from the directory name {c:?}", m.code),
            );
        }
        if pack.unit(&m.department).is_none() {
            self.file_err(
                MANIFEST_FILE,
                Some("department".into()),
                format!("unknown unit {:?}", m.department),
            );
        }
        if m.valid_to.is_some_and(|to| to < m.valid_from) {
            self.file_err(
                MANIFEST_FILE,
                Some("valid_to".into()),
                "valid_to is before valid_from",
            );
        }
        if m.promised_limit_days > m.statutory_limit_days {
            self.file_err(
                MANIFEST_FILE,
                Some("promised_limit_days".into()),
                "the promised time limit exceeds the statutory one",
            );
        }
        let cert = &m.certificate;
        if cert.type_code.is_empty() || !cert.type_code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            self.file_err(
                MANIFEST_FILE,
                Some("certificate.type_code".into()),
                "must be ASCII letters and digits (part of a GB/T 36901 identifier)",
            );
        }
        if let Some(p) = &cert.issue_uscc {
            const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
            if p.chars().count() != 2 || !p.chars().all(|c| ALPHABET.contains(c)) {
                self.file_err(
                    MANIFEST_FILE,
                    Some("certificate.issue_uscc".into()),
                    format!("{p:?} is not two GB 32100 characters (e.g. \"92\")"),
                );
            }
        }
        for p in &m.parties {
            for other in &p.must_be {
                match m.parties.iter().find(|q| &q.role == other) {
                    Some(q) if q.kind == p.kind && q.role != p.role => {}
                    Some(_) => self.file_err(
                        MANIFEST_FILE,
                        Some(format!("party {}", p.role)),
                        format!("must_be {other:?} is this party itself or of another kind"),
                    ),
                    None => self.file_err(
                        MANIFEST_FILE,
                        Some(format!("party {}", p.role)),
                        format!("must_be names {other:?}, which is not a party of the matter"),
                    ),
                }
            }
        }
        if let crate::manifest::PeriodSpec::Event { form } = &m.period
            && !m.form.iter().any(|f| &f.name == form)
        {
            self.file_err(
                MANIFEST_FILE,
                Some("period".into()),
                format!("the event period names {form:?}, which is not a form input of the matter"),
            );
        }
        for item in &cert.items {
            if !m.form.iter().any(|f| f.name == item.form) {
                self.file_err(
                    MANIFEST_FILE,
                    Some(format!("certificate.item {}", item.label)),
                    format!("{:?} is not a form input of the matter", item.form),
                );
            }
        }
        match pack.unit(&m.implementing_unit) {
            Some(u) => Some(Issuer {
                unit: u.code.clone(),
                name: u.name.clone(),
                org_code: u.org_code.clone(),
            }),
            None => {
                self.file_err(
                    MANIFEST_FILE,
                    Some("implementing_unit".into()),
                    format!("unknown unit {:?}", m.implementing_unit),
                );
                None
            }
        }
    }

    fn resolve_facts(&mut self, m: &Manifest, pack: &Pack) -> Vec<ResolvedFact> {
        let mut out = Vec::new();
        for f in &m.facts {
            let item = Some(format!("fact {}", f.name));
            let Some(party) = m.parties.iter().find(|p| p.role == f.party) else {
                self.file_err(MANIFEST_FILE, item, format!("unknown party {:?}", f.party));
                continue;
            };
            if let Some(attr) = f.key_attribute {
                if f.resource.is_some() || f.field.is_some() || f.aggregate.is_some() {
                    self.file_err(
                        MANIFEST_FILE,
                        item.clone(),
                        "a key_attribute fact takes no resource, field or aggregate",
                    );
                }
                if party.kind != PartyKind::Person {
                    self.file_err(
                        MANIFEST_FILE,
                        item.clone(),
                        "key attributes are read from resident IDs: the party must be a person",
                    );
                }
                let value_type = match attr {
                    KeyAttribute::BirthDate => DatumType::Date,
                    KeyAttribute::Sex | KeyAttribute::Id => DatumType::Text,
                };
                out.push(ResolvedFact {
                    name: f.name.clone(),
                    party: f.party.clone(),
                    origin: FactOrigin::KeyAttribute { attribute: attr },
                    value_type,
                    cross_check: f.cross_check,
                    source_label: "公民身份号码".into(),
                });
                continue;
            }
            let Some(rcode) = &f.resource else {
                self.file_err(MANIFEST_FILE, item, "needs a resource or a key_attribute");
                continue;
            };
            let Some(resource) = pack.resource(rcode) else {
                self.file_err(
                    MANIFEST_FILE,
                    item,
                    format!("unknown resource {rcode:?} (not in the catalogue)"),
                );
                continue;
            };
            let Some(aggregate) = f.aggregate else {
                self.file_err(
                    MANIFEST_FILE,
                    item,
                    "needs an aggregate (exists, count, latest, earliest, min, max, list)",
                );
                continue;
            };
            let field_type = match (&f.field, aggregate.needs_field()) {
                (Some(name), _) => match resource.field(name) {
                    Some(field) => Some(DatumType::of_field(field.data_type)),
                    None => {
                        self.file_err(
                            MANIFEST_FILE,
                            item.clone(),
                            format!("resource {rcode} has no field {name:?}"),
                        );
                        continue;
                    }
                },
                (None, true) => {
                    self.file_err(
                        MANIFEST_FILE,
                        item.clone(),
                        format!("aggregate {aggregate:?} needs a field"),
                    );
                    continue;
                }
                (None, false) => None,
            };
            let Some(key_field) =
                self.key_field(f.key_field.as_deref(), party.kind, resource, &item)
            else {
                continue;
            };
            for (field, values) in &f.filter {
                self.check_filter(pack, resource, field, values, &item);
            }
            if let Some(o) = &f.order_by
                && resource.field(o).is_none()
            {
                self.file_err(
                    MANIFEST_FILE,
                    item.clone(),
                    format!("order_by: resource {rcode} has no field {o:?}"),
                );
            }
            if f.last_n.is_some() && f.order_by.is_none() {
                self.file_err(MANIFEST_FILE, item.clone(), "last_n needs order_by");
            }
            let value_type = match aggregate {
                Aggregate::Exists => DatumType::Bool,
                Aggregate::Count => DatumType::Int,
                Aggregate::List => {
                    DatumType::List(Box::new(field_type.clone().unwrap_or(DatumType::Text)))
                }
                _ => field_type.clone().unwrap_or(DatumType::Text),
            };
            if f.cross_check == Some(CrossCheck::IdBirthDate)
                && (value_type != DatumType::Date || party.kind != PartyKind::Person)
            {
                self.file_err(
                    MANIFEST_FILE,
                    item.clone(),
                    "cross_check id_birth_date needs a date fact of a person",
                );
            }
            let fed_by = f
                .fed_by
                .as_ref()
                .and_then(|fed| self.fed_binding(m, f, fed, aggregate, resource, &item));
            let unit = pack.unit(&resource.unit);
            let unit_label = unit.map(|u| u.short_name.clone()).unwrap_or_default();
            out.push(ResolvedFact {
                name: f.name.clone(),
                party: f.party.clone(),
                origin: FactOrigin::Resource(Box::new(FactBinding {
                    name: f.name.clone(),
                    party: f.party.clone(),
                    unit: resource.unit.clone(),
                    resource: resource.code.clone(),
                    field: f.field.clone(),
                    key_field,
                    aggregate,
                    filter: f.filter.clone(),
                    order_by: f.order_by.clone(),
                    last_n: f.last_n,
                    value_type: value_type.clone(),
                    max_age_days: resource.update_cycle.max_age_days(),
                    fed_by,
                    effect_of: None,
                })),
                value_type,
                cross_check: f.cross_check,
                source_label: format!("{unit_label} {}", resource.name),
            });
        }
        out
    }

    /// Checks a fact's [`FedBy`] within its package (the fed matter's own roles are checked
    /// by [`Packages::from_packages`]).
    fn fed_binding(
        &mut self,
        m: &Manifest,
        f: &FactSpec,
        fed: &FedBy,
        aggregate: Aggregate,
        resource: &Resource,
        item: &Option<String>,
    ) -> Option<FedBinding> {
        if !matches!(aggregate, Aggregate::Exists | Aggregate::Count) {
            self.file_err(
                MANIFEST_FILE,
                item.clone(),
                "fed_by: an approval adds a record, not a value: the aggregate must be exists or count",
            );
            return None;
        }
        let party = fed.party.clone().unwrap_or_else(|| f.party.clone());
        if !m.parties.iter().any(|p| p.role == party) {
            self.file_err(
                MANIFEST_FILE,
                item.clone(),
                format!("fed_by: unknown party {party:?}"),
            );
            return None;
        }
        if let Some(since) = &fed.since {
            let fits = resource.field(since).is_some_and(|fd| {
                matches!(
                    DatumType::of_field(fd.data_type),
                    DatumType::Date | DatumType::Month
                )
            });
            if !fits {
                self.file_err(
                    MANIFEST_FILE,
                    item.clone(),
                    format!(
                        "fed_by: since {since:?} is not a date or month field of {}",
                        resource.code
                    ),
                );
                return None;
            }
        }
        Some(FedBinding {
            matter: fed.matter.clone(),
            party,
            since: fed.since.clone(),
        })
    }

    fn key_field(
        &mut self,
        given: Option<&str>,
        kind: PartyKind,
        resource: &Resource,
        item: &Option<String>,
    ) -> Option<String> {
        if let Some(k) = given {
            if resource.field(k).is_none() {
                self.file_err(
                    MANIFEST_FILE,
                    item.clone(),
                    format!("key_field: resource {} has no field {k:?}", resource.code),
                );
                return None;
            }
            return Some(k.to_owned());
        }
        let candidates: Vec<&str> = resource
            .fields
            .iter()
            .filter(|f| f.role.is_some_and(|r| fits(kind, r)))
            .map(|f| f.name.as_str())
            .collect();
        match candidates.as_slice() {
            [one] => Some((*one).to_owned()),
            [] => {
                self.file_err(
                    MANIFEST_FILE,
                    item.clone(),
                    format!(
                        "resource {} has no field identifying a {kind:?} party: set key_field",
                        resource.code
                    ),
                );
                None
            }
            many => {
                self.file_err(
                    MANIFEST_FILE,
                    item.clone(),
                    format!(
                        "resource {} has several key fields ({}): set key_field",
                        resource.code,
                        many.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn check_filter(
        &mut self,
        pack: &Pack,
        resource: &Resource,
        field: &str,
        values: &[String],
        item: &Option<String>,
    ) {
        let Some(f) = resource.field(field) else {
            self.file_err(
                MANIFEST_FILE,
                item.clone(),
                format!("filter: resource {} has no field {field:?}", resource.code),
            );
            return;
        };
        if values.is_empty() {
            self.file_err(
                MANIFEST_FILE,
                item.clone(),
                format!("filter {field}: no values"),
            );
        }
        if let Some(table) = f.code_table.as_deref().and_then(|t| pack.code_table(t)) {
            for v in values {
                if table.entry(v).is_none() {
                    self.file_err(
                        MANIFEST_FILE,
                        item.clone(),
                        format!(
                            "filter {field}: {v:?} is not a code of table {}",
                            table.name
                        ),
                    );
                }
            }
        }
    }

    fn parameters(&mut self, m: &Manifest) -> BTreeMap<String, Datum> {
        let mut out = BTreeMap::new();
        for p in &m.parameters {
            match Datum::infer_toml(&p.value) {
                Ok(d) => {
                    out.insert(p.name.clone(), d);
                }
                Err(e) => self.file_err(MANIFEST_FILE, Some(format!("parameter {}", p.name)), e),
            }
        }
        out
    }

    fn check_names_and_parties(&mut self, m: &Manifest, facts: &[ResolvedFact]) {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        seen.insert(APPLICATION_DATE);
        let names = m
            .facts
            .iter()
            .map(|f| ("fact", f.name.as_str()))
            .chain(m.derived.iter().map(|d| ("derived fact", d.name.as_str())))
            .chain(m.parameters.iter().map(|p| ("parameter", p.name.as_str())))
            .chain(m.form.iter().map(|f| ("form input", f.name.as_str())));
        for (what, name) in names {
            if !seen.insert(name) {
                self.file_err(
                    MANIFEST_FILE,
                    Some(format!("{what} {name}")),
                    "name used twice (facts, derived facts, parameters, form inputs and 申请日期 share one namespace)",
                );
            }
        }
        let mut roles = BTreeSet::new();
        for p in &m.parties {
            let item = Some(format!("party {}", p.role));
            if !roles.insert(p.role.as_str()) {
                self.file_err(MANIFEST_FILE, item.clone(), "role declared twice");
            }
            match &p.key {
                KeySource::Form(n) => match m.form.iter().find(|f| &f.name == n) {
                    None => self.file_err(
                        MANIFEST_FILE,
                        item,
                        format!("key from unknown form input {n:?}"),
                    ),
                    Some(f) if f.form_type != FormType::Text => {
                        self.file_err(MANIFEST_FILE, item, format!("form input {n} is not text"))
                    }
                    _ => {}
                },
                KeySource::Fact(n) => match facts.iter().find(|f| &f.name == n) {
                    None => {
                        self.file_err(MANIFEST_FILE, item, format!("key from unknown fact {n:?}"))
                    }
                    Some(f) if f.value_type != DatumType::Text => {
                        self.file_err(MANIFEST_FILE, item, format!("fact {n} is not text"))
                    }
                    Some(_) => {}
                },
                KeySource::Applicant => {
                    if !matches!(p.kind, PartyKind::Person | PartyKind::Enterprise) {
                        self.file_err(
                            MANIFEST_FILE,
                            item,
                            "the applicant is a person or an enterprise",
                        );
                    }
                }
                KeySource::Supplied => {}
            }
        }
        // Party keys read from facts must not depend on themselves.
        for p in &m.parties {
            let mut role = p.role.clone();
            let mut hops = 0;
            while let Some(KeySource::Fact(n)) =
                m.parties.iter().find(|q| q.role == role).map(|q| &q.key)
            {
                let Some(f) = facts.iter().find(|f| &f.name == n) else {
                    break;
                };
                role = f.party.clone();
                hops += 1;
                if role == p.role || hops > m.parties.len() {
                    self.file_err(
                        MANIFEST_FILE,
                        Some(format!("party {}", p.role)),
                        "its key depends on itself through facts",
                    );
                    break;
                }
            }
        }
    }

    fn check_derived(&mut self, m: &Manifest, facts: &[ResolvedFact]) {
        for d in &m.derived {
            let item = Some(format!("derived {}", d.name));
            match facts.iter().find(|f| f.name == d.from) {
                // Declared but unresolvable: already reported on the fact itself.
                None if m.facts.iter().any(|f| f.name == d.from) => {}
                None => self.file_err(
                    MANIFEST_FILE,
                    item,
                    format!("derived from unknown fact {:?}", d.from),
                ),
                Some(f) => {
                    let ok = match d.kind {
                        DerivedKind::Years | DerivedKind::Days => f.value_type == DatumType::Date,
                        DerivedKind::Months => {
                            matches!(f.value_type, DatumType::Date | DatumType::Month)
                        }
                    };
                    if !ok {
                        self.file_err(
                            MANIFEST_FILE,
                            item,
                            format!(
                                "{:?} needs a date fact, {} is {}",
                                d.kind, f.name, f.value_type
                            ),
                        );
                    }
                }
            }
        }
    }

    fn check_model(
        &mut self,
        m: &Manifest,
        facts: &[ResolvedFact],
        parameters: &BTreeMap<String, Datum>,
        model: &ModelDescription,
    ) {
        let type_of = |name: &str| -> Option<DatumType> {
            if name == APPLICATION_DATE {
                return Some(DatumType::Date);
            }
            if let Some(f) = facts.iter().find(|f| f.name == name) {
                return Some(f.value_type.clone());
            }
            if m.facts.iter().any(|f| f.name == name) {
                // Unresolvable facts were reported already; `Any` silences follow-on errors.
                return Some(DatumType::List(Box::new(DatumType::Text)));
            }
            if m.derived.iter().any(|d| d.name == name) {
                return Some(DatumType::Int);
            }
            if let Some(p) = parameters.get(name) {
                return Some(match p {
                    Datum::Bool(_) => DatumType::Bool,
                    Datum::Int(_) | Datum::Decimal(_) => DatumType::Int,
                    Datum::Text(_) => DatumType::Text,
                    Datum::Date(_) => DatumType::Date,
                    Datum::Month(_) => DatumType::Month,
                    Datum::List(_) => DatumType::List(Box::new(DatumType::Text)),
                });
            }
            m.form
                .iter()
                .find(|f| f.name == name)
                .map(|f| match f.form_type {
                    FormType::Text => DatumType::Text,
                    FormType::Date => DatumType::Date,
                    FormType::Int => DatumType::Int,
                    FormType::Bool => DatumType::Bool,
                })
        };
        for input in &model.inputs {
            let item = Some(format!("input {}", input.name));
            match type_of(&input.name) {
                None => self.file_err(
                    RULES_FILE,
                    item,
                    "DMN input is not bound to a fact, derived fact, parameter, form input or 申请日期",
                ),
                Some(t) => {
                    let declared = input.type_ref.as_str();
                    if declared != "Any" && declared != t.type_ref() {
                        self.file_err(
                            RULES_FILE,
                            item,
                            format!("declared {declared}, but bound to a {t} value (use {} or Any)", t.type_ref()),
                        );
                    }
                }
            }
        }
        let used: BTreeSet<&str> = model.inputs.iter().map(|i| i.name.as_str()).collect();
        let key_facts: BTreeSet<&str> = m
            .parties
            .iter()
            .filter_map(|p| match &p.key {
                KeySource::Fact(n) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        let derived_from: BTreeSet<&str> = m.derived.iter().map(|d| d.from.as_str()).collect();
        for f in facts {
            let is_used = used.contains(f.name.as_str())
                || key_facts.contains(f.name.as_str())
                || derived_from.contains(f.name.as_str())
                || m.credit_fact.as_deref() == Some(f.name.as_str());
            if !is_used {
                self.file_err(
                    MANIFEST_FILE,
                    Some(format!("fact {}", f.name)),
                    "bound but used by no DMN input, party key, derived fact or credit check",
                );
            }
        }
        for d in &m.derived {
            if !used.contains(d.name.as_str()) {
                self.file_err(
                    MANIFEST_FILE,
                    Some(format!("derived {}", d.name)),
                    "not a DMN input",
                );
            }
        }
        for p in &m.parameters {
            if !used.contains(p.name.as_str()) {
                self.file_err(
                    MANIFEST_FILE,
                    Some(format!("parameter {}", p.name)),
                    "not a DMN input",
                );
            }
        }
        // Every decision table names its rows, so coverage can be measured.
        for d in &model.decisions {
            if let LogicDescription::Table { outputs, rules, .. } = &d.logic {
                let item = |row: Option<usize>| match row {
                    Some(r) => Some(format!("decision {} row {r}", d.name)),
                    None => Some(format!("decision {}", d.name)),
                };
                if !outputs.iter().any(|o| o == RULE_COLUMN) {
                    self.file_err(
                        RULES_FILE,
                        item(None),
                        format!("decision table has no {RULE_COLUMN} output naming its rows"),
                    );
                    continue;
                }
                let mut labels = BTreeSet::new();
                for r in rules {
                    match &r.label {
                        None => self.file_err(
                            RULES_FILE,
                            item(Some(r.row)),
                            format!("the {RULE_COLUMN} entry must be a non-empty string literal"),
                        ),
                        Some(l) => {
                            if !labels.insert(l.clone()) {
                                self.file_err(
                                    RULES_FILE,
                                    item(Some(r.row)),
                                    format!("rule label {l:?} used twice in the table"),
                                );
                            }
                        }
                    }
                }
            }
        }
        let mut codes = BTreeSet::new();
        let mut condition_decisions = BTreeSet::new();
        for c in &m.conditions {
            let item = Some(format!("condition {}", c.code));
            if !codes.insert(c.code.as_str()) {
                self.file_err(MANIFEST_FILE, item.clone(), "condition code used twice");
            }
            condition_decisions.insert(c.decision.as_str());
            match model.decision(&c.decision) {
                None => self.file_err(
                    MANIFEST_FILE,
                    item.clone(),
                    format!("no DMN decision named {:?}", c.decision),
                ),
                Some(d) if d.type_ref != "boolean" => self.file_err(
                    RULES_FILE,
                    Some(format!("decision {}", d.name)),
                    format!("a condition decision must be boolean, not {}", d.type_ref),
                ),
                Some(_) => {}
            }
            for placeholder in placeholders(&c.explain)
                .into_iter()
                .chain(c.explain_fails.iter().flat_map(|t| placeholders(t)))
            {
                if type_of(&placeholder).is_none() {
                    self.file_err(
                        MANIFEST_FILE,
                        item.clone(),
                        format!("explain: {{{placeholder}}} is not a fact, derived fact, parameter or form input"),
                    );
                }
            }
            let compares = c
                .explain
                .chars()
                .any(|ch| crate::manifest::COMPARISON_SIGNS.contains(&ch));
            if compares && c.explain_fails.is_none() {
                self.file_err(
                    MANIFEST_FILE,
                    item.clone(),
                    "explain states a comparison: add explain_fails, the text for when the condition fails (a failed condition must not read as if the comparison held)",
                );
            }
            if let Some(text) = &c.explain_fails
                && text
                    .chars()
                    .any(|ch| crate::manifest::COMPARISON_SIGNS.contains(&ch))
            {
                self.file_err(
                    MANIFEST_FILE,
                    item.clone(),
                    "explain_fails must say what is true, without a comparison sign",
                );
            }
        }
        if m.conditions.is_empty() {
            self.file_err(MANIFEST_FILE, None, "a matter needs at least one condition");
        }
        match model.decision(&m.outcome_decision) {
            None => self.file_err(
                MANIFEST_FILE,
                Some("outcome_decision".into()),
                format!("no DMN decision named {:?}", m.outcome_decision),
            ),
            Some(d) => {
                let item = Some(format!("decision {}", d.name));
                let required: BTreeSet<&str> =
                    d.required_decisions.iter().map(String::as_str).collect();
                if required != condition_decisions || !d.required_inputs.is_empty() {
                    self.file_err(
                        RULES_FILE,
                        item.clone(),
                        "the outcome decision must require exactly the condition decisions and no input",
                    );
                }
                match &d.logic {
                    LogicDescription::Table { outputs, rules, .. } => {
                        match outputs.iter().position(|o| o == OUTCOME_OUTPUT) {
                            None => self.file_err(
                                RULES_FILE,
                                item,
                                format!("the outcome table needs an output named {OUTCOME_OUTPUT}"),
                            ),
                            Some(col) => {
                                for r in rules {
                                    let v = r.outputs.get(col).map(|s| s.trim().trim_matches('"'));
                                    if !v.is_some_and(|v| BASE_OUTCOMES.contains(&v)) {
                                        self.file_err(
                                            RULES_FILE,
                                            Some(format!("decision {} row {}", d.name, r.row)),
                                            format!("{OUTCOME_OUTPUT} must be one of \"approved\", \"rejected\", \"manual_review\""),
                                        );
                                    }
                                }
                            }
                        }
                    }
                    _ => self.file_err(
                        RULES_FILE,
                        item,
                        "the outcome decision must be a decision table",
                    ),
                }
            }
        }
        for d in &m.details {
            let item = Some(format!("detail {}", d.name));
            match model.decision(&d.decision) {
                None => self.file_err(
                    MANIFEST_FILE,
                    item,
                    format!("no DMN decision named {:?}", d.decision),
                ),
                Some(dec) => {
                    if let (Some(out), LogicDescription::Table { outputs, .. }) =
                        (&d.output, &dec.logic)
                        && !outputs.contains(out)
                    {
                        self.file_err(
                            MANIFEST_FILE,
                            item,
                            format!("decision {} has no output {out:?}", dec.name),
                        );
                    }
                }
            }
        }
    }

    fn check_paths(&mut self, m: &Manifest, facts: &[ResolvedFact]) {
        let needs_credit = m.tolerance.is_some() || m.commitment.is_some();
        match (&m.credit_fact, needs_credit) {
            (None, true) => self.file_err(
                MANIFEST_FILE,
                Some("credit_fact".into()),
                "容缺 and 告知承诺 are refused to dishonest debtors: name the fact that says so",
            ),
            (Some(c), _) => match facts.iter().find(|f| &f.name == c) {
                None => self.file_err(
                    MANIFEST_FILE,
                    Some("credit_fact".into()),
                    format!("unknown fact {c:?}"),
                ),
                Some(f) if f.value_type != DatumType::Bool => self.file_err(
                    MANIFEST_FILE,
                    Some("credit_fact".into()),
                    format!("fact {c} must be boolean (exists)"),
                ),
                Some(_) => {}
            },
            (None, false) => {}
        }
        if let Some(t) = &m.tolerance {
            if t.deadline_days == 0 || t.deadline_days > m.statutory_limit_days.max(1) * 2 {
                self.file_err(
                    MANIFEST_FILE,
                    Some("tolerance.deadline_days".into()),
                    "the 补正 deadline must be positive and no longer than the statutory limit in calendar days (2 × working days)",
                );
            }
            if t.items.is_empty() {
                self.file_err(MANIFEST_FILE, Some("tolerance".into()), "lists no item");
            }
            for i in &t.items {
                if !facts
                    .iter()
                    .any(|f| f.name == i.fact && f.binding().is_some())
                {
                    self.file_err(
                        MANIFEST_FILE,
                        Some(format!("tolerance item {}", i.fact)),
                        "not a fact bound to a resource",
                    );
                }
            }
        }
        if let Some(c) = &m.commitment {
            for code in &c.conditions {
                if !m.conditions.iter().any(|x| &x.code == code) {
                    self.file_err(
                        MANIFEST_FILE,
                        Some(format!("commitment condition {code}")),
                        "unknown condition",
                    );
                }
            }
            if c.verify_within_days == 0 {
                self.file_err(
                    MANIFEST_FILE,
                    Some("commitment.verify_within_days".into()),
                    "must be positive",
                );
            }
        }
    }
}

/// `{name}` placeholders of an explanation template.
pub(crate) fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(after[..end].to_owned());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// A fact fed by a matter names a loaded matter, and a party role that every version of it
/// has, of the same kind.
fn fed_by_errors(by_code: &BTreeMap<String, Vec<Package>>) -> Vec<PackageError> {
    let mut errors = Vec::new();
    for package in by_code.values().flatten() {
        for fact in &package.facts {
            let Some(fed) = fact.binding().and_then(|b| b.fed_by.as_ref()) else {
                continue;
            };
            let kind = package
                .manifest
                .parties
                .iter()
                .find(|p| p.role == fed.party)
                .map(|p| p.kind);
            let message = match by_code.get(&fed.matter) {
                None => Some(format!("fed_by: no matter {:?} is loaded", fed.matter)),
                Some(versions) => versions
                    .iter()
                    .find(|v| {
                        v.manifest
                            .parties
                            .iter()
                            .find(|p| p.role == fed.party)
                            .map(|p| p.kind)
                            != kind
                    })
                    .map(|v| {
                        format!(
                            "fed_by: {} {} has no party {:?} of the same kind",
                            fed.matter, v.manifest.version, fed.party
                        )
                    }),
            };
            if let Some(message) = message {
                errors.push(PackageError {
                    file: package.file(MANIFEST_FILE),
                    item: Some(format!("fact {}", fact.name)),
                    message,
                });
            }
        }
    }
    errors
}

/// 事项包集: every loaded version of every matter.
#[derive(Debug, Default)]
pub struct Packages {
    by_code: BTreeMap<String, Vec<Package>>,
}

impl Packages {
    /// Loads every `<code>/<version>/` under `matters_dir` (with [`Package::load`]) and checks
    /// that no two versions of a matter overlap in time. All errors are reported together.
    pub fn load(
        matters_dir: &Path,
        pack: &Pack,
        engine: &dyn DecisionEngine,
    ) -> Result<Packages, PackageErrors> {
        let mut errors = Vec::new();
        let mut packages = Vec::new();
        let list = |p: &Path| -> Result<Vec<PathBuf>, PackageError> {
            let mut dirs: Vec<PathBuf> = fs::read_dir(p)
                .map_err(|e| PackageError {
                    file: p.to_path_buf(),
                    item: None,
                    message: format!("cannot read directory: {e}"),
                })?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_dir()
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            dirs.sort();
            Ok(dirs)
        };
        match list(matters_dir) {
            Err(e) => errors.push(e),
            Ok(codes) => {
                for code_dir in codes {
                    match list(&code_dir) {
                        Err(e) => errors.push(e),
                        Ok(versions) => {
                            for v in versions {
                                match Package::load(&v, pack, engine) {
                                    Ok(p) => packages.push(p),
                                    Err(e) => errors.extend(e.0),
                                }
                            }
                        }
                    }
                }
            }
        }
        match Packages::from_packages(packages) {
            Ok(p) if errors.is_empty() => Ok(p),
            Ok(_) => Err(PackageErrors(errors)),
            Err(e) => {
                errors.extend(e.0);
                Err(PackageErrors(errors))
            }
        }
    }

    /// Collects loaded packages, refusing versions of one matter whose validity overlaps.
    pub fn from_packages(packages: Vec<Package>) -> Result<Packages, PackageErrors> {
        let mut by_code: BTreeMap<String, Vec<Package>> = BTreeMap::new();
        for p in packages {
            by_code.entry(p.manifest.code.clone()).or_default().push(p);
        }
        let mut errors = fed_by_errors(&by_code);
        for versions in by_code.values_mut() {
            versions.sort_by_key(|p| p.manifest.valid_from);
            for pair in versions.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                if a.manifest
                    .valid_to
                    .is_none_or(|to| to >= b.manifest.valid_from)
                {
                    errors.push(PackageError {
                        file: b.file(MANIFEST_FILE),
                        item: Some("valid_from".into()),
                        message: format!(
                            "version {} (from {}) overlaps version {} ({} to {})",
                            b.manifest.version,
                            b.manifest.valid_from,
                            a.manifest.version,
                            a.manifest.valid_from,
                            a.manifest
                                .valid_to
                                .map(|d| d.to_string())
                                .unwrap_or_else(|| "open-ended".into())
                        ),
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(Packages { by_code })
        } else {
            Err(PackageErrors(errors))
        }
    }

    /// The version of `code` in force on `date`.
    pub fn in_force(&self, code: &str, date: NaiveDate) -> Result<&Package, DecideError> {
        let versions = self
            .by_code
            .get(code)
            .ok_or_else(|| DecideError::UnknownMatter(code.to_owned()))?;
        versions
            .iter()
            .find(|p| p.in_force_on(date))
            .ok_or_else(|| DecideError::NoVersionInForce {
                code: code.to_owned(),
                date,
            })
    }

    /// A specific version.
    pub fn get(&self, code: &str, version: &str) -> Option<&Package> {
        self.by_code
            .get(code)?
            .iter()
            .find(|p| p.manifest.version == version)
    }

    /// Every package, by code then validity.
    pub fn iter(&self) -> impl Iterator<Item = &Package> {
        self.by_code.values().flatten()
    }

    /// Number of packages.
    pub fn len(&self) -> usize {
        self.by_code.values().map(Vec::len).sum()
    }

    /// True when none is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found() {
        assert_eq!(
            placeholders("年龄 {年龄} 岁（出生日期 {出生日期}）≥ {高龄年龄} 岁"),
            ["年龄", "出生日期", "高龄年龄"]
        );
        assert!(placeholders("无占位").is_empty());
        assert_eq!(placeholders("{未闭合"), Vec::<String>::new());
    }

    #[test]
    fn hash_covers_names_and_bytes() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("a.txt"), "x").unwrap();
        fs::write(t.path().join("b.txt"), "y").unwrap();
        let h1 = hash_dir(t.path()).unwrap();
        assert_eq!(h1.len(), 64);
        assert_eq!(h1, hash_dir(t.path()).unwrap(), "stable");
        fs::write(t.path().join(".hidden"), "z").unwrap();
        assert_eq!(h1, hash_dir(t.path()).unwrap(), "hidden files ignored");
        fs::rename(t.path().join("b.txt"), t.path().join("c.txt")).unwrap();
        assert_ne!(h1, hash_dir(t.path()).unwrap(), "a rename changes the hash");
        fs::rename(t.path().join("c.txt"), t.path().join("b.txt")).unwrap();
        fs::write(t.path().join("b.txt"), "Y").unwrap();
        assert_ne!(h1, hash_dir(t.path()).unwrap(), "an edit changes the hash");
    }
}
