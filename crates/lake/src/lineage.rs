//! Column lineage of a query plan: for each column a query returns, the table columns its values
//! come from. Masking needs it: `SELECT upper(name) AS x` returns names under another name, and
//! only the plan knows that `x` is `dwd.hukou_residents.name`.
//!
//! The walk is conservative: a plan node it does not model gives every one of its columns every
//! column read below it, marked computed, so an unknown shape masks more, never less.

use std::collections::BTreeSet;

use deltalake::datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use deltalake::datafusion::common::{DFSchema, JoinType};
use deltalake::datafusion::logical_expr::{Distinct, Expr, LogicalPlan};

/// Where the values of one output column come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnSource {
    /// `(table, column)` pairs, e.g. `("dwd.hukou_residents", "name")`.
    pub columns: BTreeSet<(String, String)>,
    /// The values are a source column's values as stored (through aliases, casts, filters,
    /// sorts, joins, `min`/`max`); false when an expression computed them from the columns.
    pub direct: bool,
}

impl ColumnSource {
    fn computed(columns: BTreeSet<(String, String)>) -> ColumnSource {
        ColumnSource {
            columns,
            direct: false,
        }
    }

    fn merge(mut self, other: &ColumnSource) -> ColumnSource {
        self.columns.extend(other.columns.iter().cloned());
        self.direct &= other.direct;
        self
    }
}

/// One [`ColumnSource`] per column of `plan`'s output, in schema order.
pub fn output_sources(plan: &LogicalPlan) -> Vec<ColumnSource> {
    let sources = modelled(plan).unwrap_or_else(|| everything_below(plan));
    if sources.len() == plan.schema().fields().len() {
        sources
    } else {
        everything_below(plan)
    }
}

/// Every output column computed from every column any scan under `plan` reads (subqueries
/// included): the answer when the node's shape is not modelled.
fn everything_below(plan: &LogicalPlan) -> Vec<ColumnSource> {
    let all = ColumnSource::computed(scanned_columns(plan));
    vec![all; plan.schema().fields().len()]
}

fn scanned_columns(plan: &LogicalPlan) -> BTreeSet<(String, String)> {
    let mut read = BTreeSet::new();
    // The closure never fails; a walk error would only mean fewer columns, so it is ignored
    // only after the set is as complete as the walk got.
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let table = scan.table_name.to_string();
            for f in scan.projected_schema.fields() {
                read.insert((table.clone(), f.name().clone()));
            }
            for filter in &scan.filters {
                for c in filter.column_refs() {
                    read.insert((table.clone(), c.name.clone()));
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    read
}

fn modelled(plan: &LogicalPlan) -> Option<Vec<ColumnSource>> {
    Some(match plan {
        LogicalPlan::TableScan(scan) => {
            let table = scan.table_name.to_string();
            scan.projected_schema
                .fields()
                .iter()
                .map(|f| ColumnSource {
                    columns: BTreeSet::from([(table.clone(), f.name().clone())]),
                    direct: true,
                })
                .collect()
        }
        LogicalPlan::Projection(p) => {
            let input = output_sources(&p.input);
            p.expr
                .iter()
                .map(|e| of_expr(e, p.input.schema(), &input))
                .collect::<Option<_>>()?
        }
        LogicalPlan::Aggregate(a) => {
            if a.group_expr
                .iter()
                .any(|e| matches!(e, Expr::GroupingSet(_)))
            {
                return None;
            }
            let input = output_sources(&a.input);
            a.group_expr
                .iter()
                .chain(&a.aggr_expr)
                .map(|e| of_expr(e, a.input.schema(), &input))
                .collect::<Option<_>>()?
        }
        LogicalPlan::Window(w) => {
            let input = output_sources(&w.input);
            let computed = w
                .window_expr
                .iter()
                .map(|e| of_expr(e, w.input.schema(), &input))
                .collect::<Option<Vec<_>>>()?;
            input.into_iter().chain(computed).collect()
        }
        LogicalPlan::Join(j) => {
            let (left, right) = (output_sources(&j.left), output_sources(&j.right));
            match j.join_type {
                JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                    left.into_iter().chain(right).collect()
                }
                JoinType::LeftSemi | JoinType::LeftAnti => left,
                JoinType::RightSemi | JoinType::RightAnti => right,
                // The mark says whether a row of the other side matched: computed from it.
                JoinType::LeftMark => {
                    let mark = ColumnSource::computed(scanned_columns(&j.right));
                    left.into_iter().chain([mark]).collect()
                }
                JoinType::RightMark => {
                    let mark = ColumnSource::computed(scanned_columns(&j.left));
                    right.into_iter().chain([mark]).collect()
                }
            }
        }
        LogicalPlan::Union(u) => {
            let mut inputs = u.inputs.iter().map(|i| output_sources(i));
            let first = inputs.next()?;
            inputs.try_fold(first, |acc, next| {
                (acc.len() == next.len()).then(|| {
                    acc.into_iter()
                        .zip(&next)
                        .map(|(a, b)| a.merge(b))
                        .collect()
                })
            })?
        }
        LogicalPlan::Filter(f) => output_sources(&f.input),
        LogicalPlan::Sort(s) => output_sources(&s.input),
        LogicalPlan::Limit(l) => output_sources(&l.input),
        LogicalPlan::Repartition(r) => output_sources(&r.input),
        LogicalPlan::SubqueryAlias(s) => output_sources(&s.input),
        LogicalPlan::Distinct(Distinct::All(input)) => output_sources(input),
        LogicalPlan::EmptyRelation(_) | LogicalPlan::Values(_) => {
            vec![ColumnSource::default(); plan.schema().fields().len()]
        }
        _ => return None,
    })
}

/// The source of one expression over `input` (whose columns' sources are `sources`).
fn of_expr(expr: &Expr, input: &DFSchema, sources: &[ColumnSource]) -> Option<ColumnSource> {
    let column = |c| -> Option<&ColumnSource> { sources.get(input.index_of_column(c).ok()?) };
    match expr {
        Expr::Column(c) => column(c).cloned(),
        Expr::Alias(a) => of_expr(&a.expr, input, sources),
        Expr::Cast(c) => of_expr(&c.expr, input, sources),
        Expr::TryCast(c) => of_expr(&c.expr, input, sources),
        Expr::AggregateFunction(f) => {
            let name = f.func.name().to_ascii_lowercase();
            if name == "count" {
                // How many rows, not what they hold.
                return Some(ColumnSource::default());
            }
            let args = &f.params.args;
            if matches!(name.as_str(), "min" | "max") && args.len() == 1 {
                return of_expr(&args[0], input, sources);
            }
            computed_from(expr, input, sources)
        }
        _ => computed_from(expr, input, sources),
    }
}

/// An expression's value computed from every column it refers to, and from every column a
/// subquery inside it reads.
fn computed_from(expr: &Expr, input: &DFSchema, sources: &[ColumnSource]) -> Option<ColumnSource> {
    let mut columns = BTreeSet::new();
    for c in expr.column_refs() {
        let source = sources.get(input.index_of_column(c).ok()?)?;
        columns.extend(source.columns.iter().cloned());
    }
    let _ = expr.apply(|e| {
        let subquery = match e {
            Expr::ScalarSubquery(s) => Some(&s.subquery),
            Expr::Exists(x) => Some(&x.subquery.subquery),
            Expr::InSubquery(x) => Some(&x.subquery.subquery),
            _ => None,
        };
        if let Some(plan) = subquery {
            columns.extend(scanned_columns(plan));
        }
        Ok(TreeNodeRecursion::Continue)
    });
    Some(ColumnSource::computed(columns))
}
