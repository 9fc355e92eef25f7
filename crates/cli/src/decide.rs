//! `miaopi matter list|test|guide`, `miaopi decide`, `miaopi replay`, `miaopi cert verify`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use miaopi_apply::{Platform, masked_key, parse_receipt};
use miaopi_catalog::Pack;
use miaopi_decide::datum::Datum;
use miaopi_decide::{
    Application, Backdating, DsntkEngine, Outcome, Package, Packages, PartyKind, Receipt,
    SubjectKey, Tri, load_public_key, render_guide, replay_receipt, run_package_tests,
    verify_certificate,
};
use miaopi_meta::{MetaStore, SqliteMeta};

/// Now, in Asia/Shanghai (the decision time and the default application date).
pub fn now() -> DateTime<FixedOffset> {
    chrono::Utc::now().with_timezone(&miaopi_decide::dates::shanghai())
}

fn matters_dir(pack_dir: &Path) -> PathBuf {
    pack_dir.join("matters")
}

/// Loads, validates and tests every package (a package failing its tests is refused).
pub fn load_packages(pack_dir: &Path, pack: &Pack) -> Result<Packages> {
    Packages::load(&matters_dir(pack_dir), pack, &DsntkEngine).map_err(|errors| {
        anyhow!(
            "事项包校验失败 the matter packages have {} error(s):\n{errors}",
            errors.0.len()
        )
    })
}

fn parse_date(s: Option<&str>) -> Result<NaiveDate> {
    match s {
        None => Ok(now().date_naive()),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .with_context(|| format!("日期 {s:?} 的格式应为 YYYY-MM-DD")),
    }
}

pub fn matter_list(pack_dir: &Path, pack: &Pack) -> Result<ExitCode> {
    let packages = load_packages(pack_dir, pack)?;
    println!(
        "{:<22} {:<26} {:<8} {:<25} {:<8} {:>4}  包哈希 (SM3)",
        "事项 code", "名称", "版本", "有效期", "办件类型", "条件"
    );
    for p in packages.iter() {
        let m = &p.manifest;
        let validity = format!(
            "{} 至 {}",
            m.valid_from,
            m.valid_to
                .map(|d| d.to_string())
                .unwrap_or_else(|| "长期".into())
        );
        println!(
            "{:<22} {:<26} {:<8} {:<25} {:<8} {:>4}  {}…",
            m.code,
            m.name,
            m.version,
            validity,
            m.kind.label_zh(),
            m.conditions.len(),
            &p.hash[..16.min(p.hash.len())]
        );
    }
    println!("共 {} 个事项包（均已通过校验和测试用例）", packages.len());
    Ok(ExitCode::SUCCESS)
}

pub fn matter_test(pack_dir: &Path, pack: &Pack, code: Option<&str>) -> Result<ExitCode> {
    let root = matters_dir(pack_dir);
    let mut dirs: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(&root).with_context(|| format!("reading {}", root.display()))? {
        let code_dir = entry?.path();
        let name = code_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !code_dir.is_dir() || name.starts_with('.') || code.is_some_and(|c| c != name) {
            continue;
        }
        for v in std::fs::read_dir(&code_dir)? {
            let v = v?.path();
            if v.is_dir() {
                dirs.push(v);
            }
        }
    }
    dirs.sort();
    if dirs.is_empty() {
        bail!(
            "没有找到事项包 no matter package{} under {}",
            code.map(|c| format!(" {c}")).unwrap_or_default(),
            root.display()
        );
    }
    let mut failed = 0usize;
    for dir in &dirs {
        let package = match Package::load_unchecked(dir, pack, &DsntkEngine) {
            Ok(p) => p,
            Err(errors) => {
                failed += 1;
                println!("✗ {}: 事项包无法加载", dir.display());
                for e in &errors.0 {
                    println!("    {e}");
                }
                continue;
            }
        };
        let report = run_package_tests(&package);
        let mark = if report.ok() { "✓" } else { "✗" };
        println!("{mark} {}", report.summary());
        for c in report.cases.iter().filter(|c| !c.passed) {
            println!("    用例失败 case {:?}: {}", c.name, c.problems.join("; "));
        }
        for r in report.uncovered_rows() {
            println!(
                "    规则行未覆盖 uncovered row: {} 第 {} 行（{}）",
                r.decision, r.row, r.label
            );
        }
        for o in report.uncovered_outcomes() {
            println!(
                "    结论未覆盖 uncovered outcome: {}（{}）",
                o.as_str(),
                o.label_zh()
            );
        }
        if !report.ok() {
            failed += 1;
        }
    }
    if failed == 0 {
        println!("全部通过：{} 个事项包", dirs.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("未通过：{failed} / {} 个事项包", dirs.len());
        Ok(ExitCode::FAILURE)
    }
}

pub fn matter_guide(pack_dir: &Path, pack: &Pack, code: &str, date: Option<&str>) -> Result<()> {
    let packages = load_packages(pack_dir, pack)?;
    let on = parse_date(date)?;
    let package = packages
        .in_force(code, on)
        .with_context(|| format!("事项 {code} 在 {on} 没有生效的版本"))?;
    print!("{}", render_guide(package, pack));
    Ok(())
}

/// `--form FILE`: a JSON object of the matter's form inputs, typed by the package.
fn read_form(path: &Path, package: &Package) -> Result<BTreeMap<String, Datum>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
        .with_context(|| format!("{}: 表单应为 JSON 对象（表单项名 → 值）", path.display()))?;
    Ok(miaopi_apply::form_from_json(package, &json)?)
}

/// What `miaopi decide` was asked.
pub struct DecideArgs<'a> {
    pub matter: &'a str,
    pub applicant: &'a str,
    pub form: Option<&'a Path>,
    pub date: Option<&'a str>,
    pub backdate_reason: Option<&'a str>,
    pub commitments: &'a [String],
    pub accept_pending_materials: bool,
    pub json: bool,
}

pub async fn decide(
    pack_dir: &Path,
    pack: &Pack,
    home: &Path,
    args: &DecideArgs<'_>,
) -> Result<ExitCode> {
    let packages = load_packages(pack_dir, pack)?;
    let on = parse_date(args.date)?;
    let package = packages
        .in_force(args.matter, on)
        .with_context(|| format!("事项 {} 在 {on} 没有生效的版本", args.matter))?;
    let applicant = SubjectKey::parse(PartyKind::Person, args.applicant)
        .or_else(|| SubjectKey::parse(PartyKind::Enterprise, args.applicant))
        .ok_or_else(|| {
            anyhow!(
                "申请人 {:?} 不是有效的公民身份号码或统一社会信用代码",
                args.applicant
            )
        })?;
    let form = match args.form {
        Some(path) => read_form(path, package)?,
        None => BTreeMap::new(),
    };
    let application = Application {
        matter: args.matter.to_owned(),
        application_date: on,
        applicant,
        parties: BTreeMap::new(),
        form,
        commitments: args.commitments.to_vec(),
        accept_pending_materials: args.accept_pending_materials,
        prior_false_commitment: false,
        backdated: args.backdate_reason.map(|reason| Backdating {
            officer: format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            ),
            reason: reason.to_owned(),
        }),
    };
    let platform = Platform::open(home, pack, packages, &[args.matter])
        .await
        .with_context(|| format!("opening the platform in {}", home.display()))?;
    let decided = platform
        .apply(application, now())
        .await
        .context("deciding the application")?;
    if args.json {
        let out = serde_json::json!({
            "receipt": decided.receipt,
            "repeat": decided.repeat,
            "supersedes": decided.supersedes,
            "certificate": decided.certificate.as_ref().map(|c| serde_json::json!({
                "id": c.certificate.certificate.id,
                "path": c.path,
            })),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if decided.repeat {
            println!("（本期已有决定：事实未变，答复原决定，不重复发证）");
        }
        if let Some(old) = &decided.supersedes {
            println!("（事实已变化：本决定取代回执 {old} 的决定，其证照已撤销）");
        }
        print_receipt(&decided.receipt);
        println!(
            "回执编号 receipt: {}（已存入 {}）",
            decided.receipt.receipt_id,
            home.join("meta.db").display()
        );
        if let Some(c) = &decided.certificate {
            println!(
                "电子证照 certificate: {}\n  文件: {}\n  核验: miaopi cert verify --home {} {}",
                c.certificate.certificate.id,
                c.path.display(),
                home.display(),
                c.path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The decision as a person reads it: matter, applicant, each condition with its reason, the
/// conclusion.
pub fn print_receipt(r: &Receipt) {
    println!(
        "事项：{}（{} 版本 {}，事项包 SM3 {}…）",
        r.matter.name,
        r.matter.code,
        r.matter.version,
        &r.matter.package_hash[..16.min(r.matter.package_hash.len())]
    );
    println!(
        "申请人：{}　申请日期：{}　决定时间：{}",
        masked_key(&r.application.applicant),
        r.application.application_date,
        r.decided_at.format("%Y-%m-%d %H:%M:%S%:z")
    );
    println!("办理结果：{}", r.outcome.kind().label_zh());
    println!("条件与依据：");
    for c in &r.conditions {
        let mark = match c.status {
            Tri::Holds => "✓",
            Tri::Fails => "✗",
            Tri::Unknown => "?",
        };
        println!("  {mark} {}", c.reason);
    }
    if let Some(last) = r.reasons.last() {
        println!("{last}");
    }
    if let Outcome::ManualReview { causes, .. } = &r.outcome
        && causes.is_empty()
    {
        println!("（转人工：现有数据不足以判断）");
    }
}

pub async fn replay(pack_dir: &Path, pack: &Pack, home: &Path, what: &str) -> Result<ExitCode> {
    let packages = load_packages(pack_dir, pack)?;
    let path = Path::new(what);
    let (receipt, source) = if path.is_file() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        // A file may be a bare receipt or `miaopi decide --json` output.
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: 不是 JSON 回执", path.display()))?;
        let inner = value.get("receipt").cloned().unwrap_or(value);
        (
            parse_receipt(&inner.to_string(), None)?,
            path.display().to_string(),
        )
    } else {
        let meta = SqliteMeta::open(&home.join("meta.db"))
            .await
            .with_context(|| format!("opening {}", home.join("meta.db").display()))?;
        let row = meta
            .decision(what)
            .await?
            .ok_or_else(|| anyhow!("没有回执 {what}（既不是文件，也不在 meta 库中）"))?;
        (
            parse_receipt(&row.receipt_json, Some(what))?,
            format!("meta 库 {}", home.join("meta.db").display()),
        )
    };
    let again = replay_receipt(&receipt, &packages).with_context(|| {
        format!(
            "重放失败：事项包 {} {} 不可用或已变更",
            receipt.matter.code, receipt.matter.version
        )
    })?;
    println!("回执 {}（来自 {source}）", receipt.receipt_id);
    println!(
        "原结论：{}；重放结论：{}",
        receipt.outcome.kind().label_zh(),
        again.outcome.kind().label_zh()
    );
    if again.outcome != receipt.outcome {
        println!("✗ 重放结论与原结论不一致");
        return Ok(ExitCode::FAILURE);
    }
    if again != receipt {
        println!(
            "✗ 结论一致，但重放的理由或事实与回执不一致（回执编号 {}）",
            again.receipt_id
        );
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "✓ 重放结果与原决定完全一致（仅依据回执中的事实、参数与事项包 SM3 {}…）",
        &receipt.matter.package_hash[..16.min(receipt.matter.package_hash.len())]
    );
    Ok(ExitCode::SUCCESS)
}

/// `miaopi cert verify`: the signature offline against the issuer's public key, then — when
/// the issuer's state directory is at hand — its revocation list.
pub async fn cert_verify(file: &Path, key_dir: &Path, home: &Path) -> Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let key = load_public_key(key_dir)
        .with_context(|| format!("读取颁发机构公钥 {}", key_dir.display()))?;
    match verify_certificate(&bytes, &key) {
        Ok(c) => {
            let meta_path = home.join("meta.db");
            if meta_path.exists() {
                let meta = SqliteMeta::open(&meta_path)
                    .await
                    .with_context(|| format!("opening {}", meta_path.display()))?;
                if let Some(r) = meta.certificate_revocation(&c.id).await? {
                    println!("✗ 证照已撤销：签名有效，但已于 {} 撤销", r.revoked_at);
                    println!("  证照：{}（{}）", c.name, c.id);
                    println!("  原因：{}", r.reason);
                    return Ok(ExitCode::FAILURE);
                }
            }
            let holder = match c.holder.kind {
                PartyKind::Person => miaopi_index::mask_value("resident_id", &c.holder.id, 4),
                _ => c.holder.id.clone(),
            };
            println!("✓ 验证通过：SM2 签名有效，内容未被改动");
            println!("  证照：{}（{}）", c.name, c.id);
            println!("  事项：{}（{}）", c.matter_name, c.matter_code);
            println!("  持证者：{holder}");
            println!("  颁发机构：{}（{}）", c.issuer.name, c.issuer.org_code);
            println!(
                "  有效期：{} 至 {}",
                c.valid_from,
                c.valid_to
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "长期".into())
            );
            for (k, v) in &c.details {
                println!("  {k}：{v}");
            }
            if let Some(u) = &c.new_uscc {
                println!("  统一社会信用代码：{u}");
            }
            println!("  决定回执：{}", c.receipt_id);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("✗ 验证失败：{e}（证照可能被篡改，或并非本机构签发）");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The demo's last step: one 高龄老人津贴 application, for a resident the platform's own data
/// show as 80 or older (the demo never reads the generator's scenarios).
pub async fn demo_senior_allowance(pack_dir: &Path, pack: &Pack, home: &Path) -> Result<()> {
    let lake = miaopi_lake::Lake::open(&home.join("lake"))?;
    let today = now().date_naive();
    let born_by = today
        .with_year(today.year() - 80)
        .or_else(|| {
            today
                .pred_opt()
                .and_then(|d| d.with_year(today.year() - 80))
        })
        .ok_or_else(|| anyhow!("no date 80 years before {today}"))?;
    let tables: Vec<String> = lake
        .tables()?
        .into_iter()
        .filter(|(l, _)| *l == miaopi_lake::Layer::Dwd)
        .map(|(_, t)| t)
        .collect();
    // Prefer someone the other registers do not exclude, so the demo shows a certificate.
    let mut exclude = String::new();
    for t in ["senior_allowance_roster", "death_registrations"] {
        if tables.iter().any(|x| x == t) {
            exclude.push_str(&format!(
                " AND h.resident_id NOT IN (SELECT resident_id FROM dwd.{t} WHERE resident_id IS NOT NULL)"
            ));
        }
    }
    let sql = format!(
        "SELECT h.resident_id FROM dwd.hukou_residents h \
         WHERE h.status = '1' AND h.resident_id_key_status = 'valid' \
         AND h.birth_date <= DATE '{born_by}'{exclude} ORDER BY h.resident_id LIMIT 1"
    );
    let batches = lake
        .query(&sql, &miaopi_lake::AsOf::Latest)
        .await
        .context("choosing a demo applicant")?;
    let applicant = batches.iter().find_map(|b| {
        use miaopi_lake::arrow::array::Array;
        let col = miaopi_lake::arrow::compute::cast(
            b.column(0),
            &miaopi_lake::arrow::datatypes::DataType::Utf8,
        )
        .ok()?;
        let col = col
            .as_any()
            .downcast_ref::<miaopi_lake::arrow::array::StringArray>()?;
        (!col.is_empty() && !col.is_null(0)).then(|| col.value(0).to_owned())
    });
    let Some(applicant) = applicant else {
        println!("（本模拟区没有 80 周岁以上的户籍居民，跳过高龄津贴示例）");
        return Ok(());
    };
    println!(
        "申请人 {}（户籍人口中 {born_by} 前出生者之一）申请高龄老人津贴：\n",
        miaopi_index::mask_value("resident_id", &applicant, 4)
    );
    decide(
        pack_dir,
        pack,
        home,
        &DecideArgs {
            matter: "senior_allowance",
            applicant: &applicant,
            form: None,
            date: None,
            backdate_reason: None,
            commitments: &[],
            accept_pending_materials: false,
            json: false,
        },
    )
    .await?;
    Ok(())
}
