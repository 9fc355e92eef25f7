//! 本平台在效批准: the platform's own approvals in force, as the facts fed by their matter
//! (`fed_by` in a package) count them — an approved 高龄津贴 is "在发放名册" before the
//! civil-affairs roster lists the person, a newborn registered through 秒批 "已有户籍" before the
//! police register shows the child.
//!
//! [`ApprovalsInForce`] is held in memory by the [`Platform`](crate::Platform): loaded from the
//! meta store at open, updated by every group of decisions the platform stores, and reloaded
//! when another process stored decisions in between.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use miaopi_decide::{
    ApprovalInForce, FactBinding, FactSource, FactSourceError, FactValue, Package, Packages,
    Receipt, Subject, SubjectKey, period_of,
};

use chrono::{DateTime, FixedOffset};

/// Which party roles of which matters some fact is fed by: matter → roles.
pub fn fed_roles(packages: &Packages) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in packages.iter() {
        for fed in package
            .facts
            .iter()
            .filter_map(|f| f.binding().and_then(|b| b.fed_by.as_ref()))
        {
            out.entry(fed.matter.clone())
                .or_default()
                .insert(fed.party.clone());
        }
    }
    out
}

/// Whether any fact of a package counts the platform's approvals.
pub fn has_fed_facts(package: &Package) -> bool {
    package
        .facts
        .iter()
        .any(|f| f.binding().is_some_and(|b| b.fed_by.is_some()))
}

/// (matter, role, key) under which an approval is filed.
type Filing = (String, String, String);

/// The approvals in force of the matters that facts are fed by, by party key.
#[derive(Debug, Default, Clone)]
pub struct ApprovalsInForce {
    by_party: HashMap<Filing, Vec<ApprovalInForce>>,
    filed: HashMap<String, Vec<Filing>>,
    /// The meta store's decision high-water mark this copy reflects; `None` = reload.
    pub(crate) high_water: Option<i64>,
}

impl ApprovalsInForce {
    /// How many approvals are held.
    pub fn len(&self) -> usize {
        self.filed.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.filed.is_empty()
    }

    /// Files an approval under each fed role's key (nothing for a decision that is not an
    /// approval, of a matter no fact is fed by, or in no period: only a period has a decision
    /// in force).
    pub fn add(
        &mut self,
        receipt: &Receipt,
        package: &Package,
        fed: &BTreeMap<String, BTreeSet<String>>,
    ) {
        let Some(roles) = fed.get(&receipt.matter.code) else {
            return;
        };
        if !receipt.outcome.is_approval() || self.filed.contains_key(&receipt.receipt_id) {
            return;
        }
        let Some(period) = period_of(package, &receipt.application) else {
            return;
        };
        let approval = ApprovalInForce {
            receipt_id: receipt.receipt_id.clone(),
            matter: receipt.matter.code.clone(),
            unit: package.manifest.department.clone(),
            applicant: receipt.application.applicant.clone(),
            period: Some(period),
            decided_at: receipt.decided_at,
            application_date: receipt.application.application_date,
        };
        let mut filings = Vec::new();
        for role in roles {
            let Some(Some(key)) = receipt.parties.get(role) else {
                continue;
            };
            let filing = (
                receipt.matter.code.clone(),
                role.clone(),
                key.as_str().to_owned(),
            );
            self.by_party
                .entry(filing.clone())
                .or_default()
                .push(approval.clone());
            filings.push(filing);
        }
        self.filed.insert(receipt.receipt_id.clone(), filings);
    }

    /// Forgets an approval (superseded).
    pub fn remove(&mut self, receipt_id: &str) {
        for filing in self.filed.remove(receipt_id).unwrap_or_default() {
            if let Some(list) = self.by_party.get_mut(&filing) {
                list.retain(|a| a.receipt_id != receipt_id);
                if list.is_empty() {
                    self.by_party.remove(&filing);
                }
            }
        }
    }

    /// The approvals of `matter` whose party `role` has `key`.
    pub fn get(&self, matter: &str, role: &str, key: &SubjectKey) -> Vec<ApprovalInForce> {
        self.by_party
            .get(&(matter.to_owned(), role.to_owned(), key.as_str().to_owned()))
            .cloned()
            .unwrap_or_default()
    }
}

/// A fact source with the platform's approvals: department data from `inner`, approvals from
/// the set in force plus those approved earlier in the same group of decisions (`pending`).
pub(crate) struct WithApprovals<'a, S> {
    pub inner: S,
    pub approvals: &'a ApprovalsInForce,
    pub pending: &'a ApprovalsInForce,
}

impl<S: FactSource> FactSource for WithApprovals<'_, S> {
    fn fetch(
        &self,
        subject: &Subject,
        binding: &FactBinding,
        at: DateTime<FixedOffset>,
    ) -> Result<FactValue, FactSourceError> {
        self.inner.fetch(subject, binding, at)
    }

    fn approvals_in_force(
        &self,
        matter: &str,
        role: &str,
        key: &SubjectKey,
    ) -> Vec<ApprovalInForce> {
        let mut out = self.approvals.get(matter, role, key);
        for a in self.pending.get(matter, role, key) {
            if !out.iter().any(|o| o.receipt_id == a.receipt_id) {
                out.push(a);
            }
        }
        out
    }
}

/// Whether a decision counted other approvals than `source` now holds for its fed facts (so
/// it must be decided again before it is stored). Its own approval in force — the one it
/// re-decides — never counts.
pub(crate) fn counts_stale_approvals(
    receipt: &Receipt,
    package: &Package,
    source: &dyn FactSource,
) -> bool {
    let period = period_of(package, &receipt.application);
    package.facts.iter().any(|f| {
        let Some(fed) = f.binding().and_then(|b| b.fed_by.as_ref()) else {
            return false;
        };
        let Some(Some(key)) = receipt.parties.get(&fed.party) else {
            return false;
        };
        let now: BTreeSet<String> = source
            .approvals_in_force(&fed.matter, &fed.party, key)
            .into_iter()
            .filter(|a| {
                !a.is_redecided_by(
                    &receipt.matter.code,
                    &receipt.application.applicant,
                    period.as_ref(),
                )
            })
            .map(|a| a.receipt_id)
            .collect();
        let counted: BTreeSet<String> = receipt
            .facts
            .get(&f.name)
            .map(|v| {
                v.provenance
                    .iter()
                    .filter(|p| p.resource == miaopi_decide::PLATFORM_DECISIONS)
                    .map(|p| p.batch_id.clone())
                    .collect()
            })
            .unwrap_or_default();
        now != counted
    })
}
