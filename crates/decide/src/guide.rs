//! 办事指南: the service guide, generated from the package so the published conditions, the
//! data checked and the materials asked for can never disagree with the rules.

use std::collections::BTreeSet;
use std::fmt::Write;

use miaopi_catalog::Pack;

use crate::manifest::{DerivedKind, FormType};
use crate::package::{Package, ResolvedFact};

fn unit_name(pack: &Pack, code: &str) -> String {
    pack.unit(code)
        .map(|u| u.name.clone())
        .unwrap_or_else(|| code.to_owned())
}

fn fact_line(pack: &Pack, f: &ResolvedFact, party_label: &str) -> String {
    match f.binding() {
        Some(b) => {
            let resource = pack
                .resource(&b.resource)
                .map(|r| r.name.clone())
                .unwrap_or_else(|| b.resource.clone());
            let field = b
                .field
                .as_ref()
                .and_then(|name| pack.resource(&b.resource)?.field(name))
                .map(|field| format!("「{}」", field.label))
                .unwrap_or_default();
            let cycle = pack
                .resource(&b.resource)
                .map(|r| r.update_cycle.label_zh())
                .unwrap_or("");
            let fed = b
                .fed_by
                .as_ref()
                .map(|_| "；本平台已作出且有效的批准同样计入，无需等待部门数据更新")
                .unwrap_or("");
            format!(
                "{}：{}「{}」{}（{}，{}更新{fed}）",
                f.name,
                unit_name(pack, &b.unit),
                resource,
                field,
                b.aggregate.label_zh(),
                cycle
            )
        }
        None => format!("{}：{}的公民身份号码", f.name, party_label),
    }
}

/// 办事指南 (Markdown, Chinese) for a package, naming units from the catalogue.
pub fn render_guide(package: &Package, pack: &Pack) -> String {
    let m = &package.manifest;
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(s, "# {} 办事指南\n", m.name);
    let _ = writeln!(s, "## 基本信息\n");
    let _ = writeln!(s, "| 项目 | 内容 |\n|---|---|");
    let rows = [
        ("事项名称", m.name.clone()),
        ("事项编码", m.catalog_code.clone()),
        ("办件类型", m.kind.label_zh().to_owned()),
        ("主管部门", unit_name(pack, &m.department)),
        ("实施机关", unit_name(pack, &m.implementing_unit)),
        ("服务对象", m.service_object.clone()),
        ("法定时限", format!("{} 个工作日", m.statutory_limit_days)),
        (
            "承诺时限",
            if m.promised_limit_days == 0 {
                "即办（符合条件的，系统秒批）".to_owned()
            } else {
                format!("{} 个工作日", m.promised_limit_days)
            },
        ),
        ("收费", m.fee.clone()),
        ("办理结果", format!("电子证照：{}", m.certificate.name)),
        (
            "适用期间",
            format!(
                "{} 起{}",
                m.valid_from,
                m.valid_to.map(|d| format!("至 {d}")).unwrap_or_default()
            ),
        ),
        (
            "规则版本",
            format!("{}（SM3 {}）", m.version, &package.hash),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    let _ = writeln!(s, "\n## 设定和实施依据\n");
    for b in &m.legal_basis {
        let _ = writeln!(s, "- {b}");
    }

    let _ = writeln!(s, "\n## 申请条件（系统自动核验，申请人无需提交证明）\n");
    let model = package.model();
    for (i, c) in m.conditions.iter().enumerate() {
        let _ = writeln!(s, "{}. **{}**（规则：`{}`）", i + 1, c.label, c.decision);
        let mut facts: BTreeSet<String> = BTreeSet::new();
        for input in model.inputs_of(&c.decision) {
            let name = m
                .derived
                .iter()
                .find(|d| d.name == input)
                .map(|d| d.from.clone())
                .unwrap_or(input);
            facts.insert(name);
        }
        // In manifest order, as the package author wrote them.
        for f in package.facts.iter().filter(|f| facts.contains(&f.name)) {
            let party = m
                .parties
                .iter()
                .find(|p| p.role == f.party)
                .map(|p| p.label.as_str())
                .unwrap_or("当事人");
            let _ = writeln!(s, "   - 核验数据：{}", fact_line(pack, f, party));
        }
    }
    let _ = writeln!(
        s,
        "\n缺少、相互冲突或超过更新周期未更新的数据不作为否定依据，申请转人工审核。"
    );

    if !package.parameters.is_empty() {
        let _ = writeln!(s, "\n## 标准与参数\n");
        let _ = writeln!(s, "| 参数 | 取值 | 说明 |\n|---|---|---|");
        for p in &m.parameters {
            if let Some(v) = package.parameters.get(&p.name) {
                let _ = writeln!(
                    s,
                    "| {} | {}{} | {} |",
                    p.name,
                    v.display_zh(),
                    p.unit.as_deref().unwrap_or(""),
                    p.description.as_deref().unwrap_or("")
                );
            }
        }
    }
    if !m.derived.is_empty() {
        let _ = writeln!(s, "\n## 计算规则\n");
        for d in &m.derived {
            let how = match d.kind {
                DerivedKind::Years => {
                    "按周岁计算：生日当天满一岁；2月29日出生的，非闰年以2月28日为生日"
                }
                DerivedKind::Months => "按整月计算：次月同日届满，无同日的以该月末日届满",
                DerivedKind::Days => "按自然日计算",
            };
            let _ = writeln!(s, "- {}：自「{}」至申请之日，{}", d.name, d.from, how);
        }
    }

    let _ = writeln!(s, "\n## 申请人需填写或提交\n");
    if m.form.is_empty() {
        let _ = writeln!(s, "- 无需填写其他信息，凭身份认证在线申请。");
    }
    for f in &m.form {
        let kind = match f.form_type {
            FormType::Text => "文本",
            FormType::Date => "日期",
            FormType::Int => "数字",
            FormType::Bool => "是/否",
        };
        let _ = writeln!(
            s,
            "- {}（{}，{}）：{}",
            f.name,
            kind,
            if f.required { "必填" } else { "选填" },
            f.label
        );
    }

    if let Some(t) = &m.tolerance {
        let _ = writeln!(s, "\n## 容缺受理\n");
        let _ = writeln!(
            s,
            "下列数据暂缺时，申请人签署容缺承诺后可先予批准，并须在申请之日起 {} 日内补交相应材料；失信被执行人不适用容缺受理。\n",
            t.deadline_days
        );
        let mut materials: Vec<(&str, Vec<&str>)> = Vec::new();
        for i in &t.items {
            match materials.iter_mut().find(|(m, _)| *m == i.material) {
                Some((_, facts)) => facts.push(&i.fact),
                None => materials.push((&i.material, vec![&i.fact])),
            }
        }
        for (material, facts) in materials {
            let _ = writeln!(s, "- {}：补交 {}", facts.join("、"), material);
        }
    }
    if let Some(c) = &m.commitment {
        let _ = writeln!(s, "\n## 告知承诺\n");
        let _ = writeln!(
            s,
            "系统暂无法核实下列条件时，申请人可书面承诺符合条件，先予批准；申请之日起 {} 日内核查，承诺不实的撤销批准并记入信用记录。失信被执行人或曾作出虚假承诺的申请人不适用。\n",
            c.verify_within_days
        );
        for code in &c.conditions {
            if let Some(cond) = m.conditions.iter().find(|x| &x.code == code) {
                let _ = writeln!(s, "- {}", cond.label);
            }
        }
        let _ = writeln!(s, "\n承诺书：{}", c.text);
    }
    let _ = writeln!(s, "\n## 办理结果\n");
    let _ = writeln!(
        s,
        "批准的，签发电子证照「{}」（国密 SM2 签章，可离线验证）{}。",
        m.certificate.name,
        m.certificate
            .validity_days
            .map(|d| format!("，有效期 {d} 日"))
            .unwrap_or_else(|| "，长期有效".into())
    );
    if !m.details.is_empty() {
        let names: Vec<String> = m
            .details
            .iter()
            .map(|d| {
                format!(
                    "{}{}",
                    d.name,
                    d.unit
                        .as_deref()
                        .map(|u| format!("（{u}）"))
                        .unwrap_or_default()
                )
            })
            .collect();
        let _ = writeln!(s, "核定内容：{}。", names.join("、"));
    }
    s
}
