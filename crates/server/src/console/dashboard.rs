//! 首页 (仪表盘): intake per unit over time, quality per resource, decisions per matter per day
//! with approval rate and latency — each as an SVG chart with the figures in a table beside it.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use miaopi_meta::{BatchState, MetaStore};

use super::charts::{Chart, Series, bar_chart, line_chart};
use super::{Chrome, PageResult, Viewer, internal, render};
use crate::state::AppState;

/// At most this many units get their own line in the intake-over-time chart; the rest are
/// summed as 其他 so the legend stays readable.
const MAX_UNIT_LINES: usize = 6;

pub struct UnitRow {
    pub name: String,
    pub batches: u64,
    pub read: u64,
    pub accepted: u64,
    pub quarantined: u64,
    pub last: String,
}

pub struct QualityRow {
    pub code: String,
    pub name: String,
    pub read: u64,
    pub quarantined: u64,
    pub quarantine_rate: String,
    pub completeness: String,
    pub fixes: u64,
}

pub struct DecisionRow {
    pub matter: String,
    pub day: String,
    pub decisions: u64,
    pub approved: u64,
    pub conditional: u64,
    pub rejected: u64,
    pub manual: u64,
    pub approval_rate: String,
    pub mean_ms: String,
    pub max_ms: String,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    intake_units_svg: String,
    intake_days_svg: String,
    quarantine_svg: String,
    completeness_svg: String,
    decisions_svg: String,
    approval_svg: String,
    latency_svg: String,
    units: Vec<UnitRow>,
    quality: Vec<QualityRow>,
    decisions: Vec<DecisionRow>,
    total_rows: u64,
    total_batches: usize,
    total_decisions: u64,
}

fn pct(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

fn pct_text(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.1}%"))
}

fn ms_text(us: Option<f64>) -> String {
    us.map_or_else(|| "—".into(), |us| format!("{:.1}", us / 1000.0))
}

pub async fn dashboard(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    // Citizens have their own start page.
    if viewer.is_citizen() {
        return Ok(Redirect::to("/console/apply").into_response());
    }
    viewer.require(viewer.is_account(), "仪表盘仅供控制台工作人员使用")?;
    let chrome = viewer.chrome("首页", "/console");
    let meta = &state.platform.meta;
    let batches = meta
        .batches()
        .await
        .map_err(|e| internal(viewer.chrome("首页", "/console"), "reading batches", e))?;
    let quality = meta
        .quality()
        .await
        .map_err(|e| internal(viewer.chrome("首页", "/console"), "reading quality", e))?;
    let stats = meta
        .decision_day_stats()
        .await
        .map_err(|e| internal(viewer.chrome("首页", "/console"), "reading decisions", e))?;
    let pack = &state.pack;
    let unit_name = |code: &str| {
        pack.unit(code)
            .map_or_else(|| code.to_string(), |u| u.short_name.clone())
    };

    // Intake per unit, and per unit per day.
    let mut per_unit: BTreeMap<String, UnitRow> = BTreeMap::new();
    let mut per_unit_day: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut days: BTreeSet<String> = BTreeSet::new();
    for b in batches.iter().filter(|b| b.state == BatchState::Committed) {
        let row = per_unit.entry(b.unit.clone()).or_insert_with(|| UnitRow {
            name: unit_name(&b.unit),
            batches: 0,
            read: 0,
            accepted: 0,
            quarantined: 0,
            last: String::new(),
        });
        row.batches += 1;
        row.read += b.rows_read.unwrap_or(0);
        row.accepted += b.rows_accepted.unwrap_or(0);
        row.quarantined += b.rows_quarantined.unwrap_or(0);
        let at = b.finished_at.as_deref().unwrap_or(&b.started_at);
        let shown: String = at.chars().take(19).collect::<String>().replace('T', " ");
        if shown > row.last {
            row.last = shown;
        }
        let day: String = b.started_at.chars().take(10).collect();
        days.insert(day.clone());
        *per_unit_day.entry((b.unit.clone(), day)).or_default() += b.rows_read.unwrap_or(0);
    }
    let mut units: Vec<(String, UnitRow)> = per_unit.into_iter().collect();
    units.sort_by(|a, b| b.1.read.cmp(&a.1.read).then(a.0.cmp(&b.0)));
    let intake_units_svg = bar_chart(&Chart {
        title: "各单位汇聚行数".into(),
        categories: units.iter().map(|(_, u)| u.name.clone()).collect(),
        series: vec![
            Series {
                name: "入库".into(),
                values: units.iter().map(|(_, u)| u.accepted as f64).collect(),
            },
            Series {
                name: "隔离".into(),
                values: units.iter().map(|(_, u)| u.quarantined as f64).collect(),
            },
        ],
        y_label: "行数".into(),
        y_max: None,
    });
    let days: Vec<String> = days.into_iter().collect();
    let mut day_series: Vec<Series> = units
        .iter()
        .take(MAX_UNIT_LINES)
        .map(|(code, u)| Series {
            name: u.name.clone(),
            values: days
                .iter()
                .map(|d| {
                    per_unit_day
                        .get(&(code.clone(), d.clone()))
                        .copied()
                        .unwrap_or(0) as f64
                })
                .collect(),
        })
        .collect();
    if units.len() > MAX_UNIT_LINES {
        day_series.push(Series {
            name: "其他".into(),
            values: days
                .iter()
                .map(|d| {
                    units
                        .iter()
                        .skip(MAX_UNIT_LINES)
                        .map(|(code, _)| {
                            per_unit_day
                                .get(&(code.clone(), d.clone()))
                                .copied()
                                .unwrap_or(0)
                        })
                        .sum::<u64>() as f64
                })
                .collect(),
        });
    }
    let intake_days_svg = line_chart(&Chart {
        title: "每日汇聚行数（按单位）".into(),
        categories: days.clone(),
        series: day_series,
        y_label: "行数".into(),
        y_max: None,
    });

    // Quality per resource.
    let quality_rows: Vec<(QualityRow, Option<f64>, Option<f64>)> = quality
        .iter()
        .map(|q| {
            let rate = pct(q.rows_quarantined, q.rows_read);
            // Completeness: the mean, over the resource's fields, of filled / accepted rows.
            let filled: Vec<f64> = q
                .fields
                .iter()
                .filter_map(|(_, filled, _)| pct(*filled, q.rows_accepted))
                .collect();
            let completeness =
                (!filled.is_empty()).then(|| filled.iter().sum::<f64>() / filled.len() as f64);
            let name = pack
                .resource(&q.resource)
                .map_or_else(|| q.resource.clone(), |r| r.name.clone());
            (
                QualityRow {
                    code: q.resource.clone(),
                    name,
                    read: q.rows_read,
                    quarantined: q.rows_quarantined,
                    quarantine_rate: pct_text(rate),
                    completeness: pct_text(completeness),
                    fixes: q.fixes,
                },
                rate,
                completeness,
            )
        })
        .collect();
    let quarantine_svg = bar_chart(&Chart {
        title: "各资源隔离率".into(),
        categories: quality_rows
            .iter()
            .map(|(r, _, _)| r.name.clone())
            .collect(),
        series: vec![Series {
            name: "隔离率".into(),
            values: quality_rows
                .iter()
                .map(|(_, rate, _)| rate.unwrap_or(f64::NAN))
                .collect(),
        }],
        y_label: "隔离率（%）".into(),
        y_max: None,
    });
    let completeness_svg = bar_chart(&Chart {
        title: "各资源字段完整率".into(),
        categories: quality_rows
            .iter()
            .map(|(r, _, _)| r.name.clone())
            .collect(),
        series: vec![Series {
            name: "完整率".into(),
            values: quality_rows
                .iter()
                .map(|(_, _, c)| c.unwrap_or(f64::NAN))
                .collect(),
        }],
        y_label: "完整率（%）".into(),
        y_max: Some(100.0),
    });

    // Decisions per matter per day.
    let matter_name = |code: &str| {
        state
            .platform
            .packages
            .iter()
            .find(|p| p.manifest.code == code)
            .map_or_else(|| code.to_string(), |p| p.manifest.name.clone())
    };
    let decision_days: Vec<String> = stats
        .iter()
        .map(|s| s.day.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let matters: Vec<String> = stats
        .iter()
        .map(|s| s.matter.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let by_key: BTreeMap<(&str, &str), &miaopi_meta::DecisionDayStats> = stats
        .iter()
        .map(|s| ((s.matter.as_str(), s.day.as_str()), s))
        .collect();
    let per_matter_day = |f: &dyn Fn(&miaopi_meta::DecisionDayStats) -> f64| -> Vec<Series> {
        matters
            .iter()
            .map(|m| Series {
                name: matter_name(m),
                values: decision_days
                    .iter()
                    .map(|d| {
                        by_key
                            .get(&(m.as_str(), d.as_str()))
                            .map_or(f64::NAN, |s| f(s))
                    })
                    .collect(),
            })
            .collect()
    };
    let decisions_svg = line_chart(&Chart {
        title: "每日办件量（按事项）".into(),
        categories: decision_days.clone(),
        series: per_matter_day(&|s| s.decisions as f64),
        y_label: "件数".into(),
        y_max: None,
    });
    let latency_svg = line_chart(&Chart {
        title: "平均办理用时（毫秒，按事项）".into(),
        categories: decision_days.clone(),
        series: per_matter_day(&|s| s.mean_us.map_or(f64::NAN, |us| us / 1000.0)),
        y_label: "毫秒".into(),
        y_max: None,
    });
    let mut totals: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for s in &stats {
        let t = totals.entry(s.matter.as_str()).or_default();
        t.0 += s.decisions;
        t.1 += s.approved + s.approved_conditionally;
    }
    let approval_svg = bar_chart(&Chart {
        title: "批准率（含容缺、告知承诺，按事项）".into(),
        categories: totals.keys().map(|m| matter_name(m)).collect(),
        series: vec![Series {
            name: "批准率".into(),
            values: totals
                .values()
                .map(|(n, a)| pct(*a, *n).unwrap_or(f64::NAN))
                .collect(),
        }],
        y_label: "批准率（%）".into(),
        y_max: Some(100.0),
    });
    let decisions: Vec<DecisionRow> = stats
        .iter()
        .rev()
        .map(|s| DecisionRow {
            matter: matter_name(&s.matter),
            day: s.day.clone(),
            decisions: s.decisions,
            approved: s.approved,
            conditional: s.approved_conditionally,
            rejected: s.rejected,
            manual: s.manual_review,
            approval_rate: pct_text(pct(s.approved + s.approved_conditionally, s.decisions)),
            mean_ms: ms_text(s.mean_us),
            max_ms: ms_text(s.max_us.map(|v| v as f64)),
        })
        .collect();

    Ok(render(&DashboardPage {
        chrome,
        intake_units_svg,
        intake_days_svg,
        quarantine_svg,
        completeness_svg,
        decisions_svg,
        approval_svg,
        latency_svg,
        total_rows: units.iter().map(|(_, u)| u.read).sum(),
        total_batches: batches.len(),
        total_decisions: stats.iter().map(|s| s.decisions).sum(),
        units: units.into_iter().map(|(_, u)| u).collect(),
        quality: quality_rows.into_iter().map(|(r, _, _)| r).collect(),
        decisions,
    }))
}
