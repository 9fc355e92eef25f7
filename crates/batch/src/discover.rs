//! Which catalogue resource a file is: by its unit directory and the resource's `files` glob.

use std::path::{Path, PathBuf};

use miaopi_catalog::{Pack, Resource};

/// A file matched to its resource.
#[derive(Debug, Clone)]
pub struct SourceFile<'p> {
    pub path: PathBuf,
    pub resource: &'p Resource,
}

/// A file that matches no resource of the pack (reported, never silently skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrecognised {
    pub path: PathBuf,
    pub reason: String,
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first)
        || !name[first.len()..].ends_with(last)
        || name.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Finds the resource of one file by its unit directory and its name together: the file name
/// must match the resource's `files` glob and the file's parent directory must be the
/// resource's unit (提供单位). A name that matches but lies in another directory is an error that
/// names both, never a guess: a file in the wrong unit's directory was sent by someone else than
/// the catalogue says, and its rows must not be credited to the unit that did not send them.
pub fn resource_for<'p>(pack: &'p Pack, path: &Path) -> Result<&'p Resource, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let matches: Vec<&Resource> = pack
        .resources
        .iter()
        .filter(|r| glob_match(&r.files, &name))
        .collect();
    if matches.is_empty() {
        return Err(format!(
            "{name} 不匹配资源目录中任何资源的文件名模式 (matches no resource's file pattern)"
        ));
    }
    let in_unit: Vec<&Resource> = matches
        .iter()
        .copied()
        .filter(|r| r.unit == parent)
        .collect();
    match in_unit.as_slice() {
        [one] => Ok(one),
        [] => {
            let expected: Vec<String> = matches
                .iter()
                .map(|r| format!("{}（{}）应放在提供单位目录 {}/ 下", r.name, r.code, r.unit))
                .collect();
            let unit_zh = pack.units.iter().find(|u| u.code == parent).map_or_else(
                || "不是资源目录中的提供单位".to_owned(),
                |u| format!("是{}的目录", u.name),
            );
            Err(format!(
                "{name} 按文件名对应{}，但所在目录 {parent} {unit_zh} (file name and unit directory disagree)",
                expected.join("；")
            ))
        }
        many => Err(format!(
            "{name} 匹配提供单位 {parent} 的多个资源：{}",
            many.iter()
                .map(|r| r.code.as_str())
                .collect::<Vec<_>>()
                .join("、")
        )),
    }
}

/// Expands the given paths (files, or directories walked recursively in name order) into the
/// files to ingest, each matched to its resource.
pub fn discover<'p>(pack: &'p Pack, paths: &[PathBuf]) -> (Vec<SourceFile<'p>>, Vec<Unrecognised>) {
    let mut files = Vec::new();
    for p in paths {
        walk(p, &mut files);
    }
    files.sort();
    files.dedup();
    let mut found = Vec::new();
    let mut unrecognised = Vec::new();
    for path in files {
        match resource_for(pack, &path) {
            Ok(resource) => found.push(SourceFile { path, resource }),
            Err(reason) => unrecognised.push(Unrecognised { path, reason }),
        }
    }
    (found, unrecognised)
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            out.push(path.to_path_buf());
            return;
        };
        let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        for c in children {
            let hidden = c
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !hidden {
                walk(&c, out);
            }
        }
    } else {
        // Missing files are kept so the caller reports them instead of skipping them.
        out.push(path.to_path_buf());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("hukou_residents*.csv", "hukou_residents.csv"));
        assert!(glob_match(
            "social_insurance_contributions*.csv",
            "social_insurance_contributions_202401.csv"
        ));
        assert!(!glob_match("hukou_residents*.csv", "hukou_residents.jsonl"));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(glob_match("exact.csv", "exact.csv"));
        assert!(!glob_match("exact.csv", "exact.csv.bak"));
    }

    #[test]
    fn the_futian_pack_recognises_generated_names() {
        let pack = Pack::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../packs/futian"
        )))
        .unwrap();
        let r = resource_for(
            &pack,
            Path::new("sources/human_resources/social_insurance_contributions_202605.csv"),
        )
        .unwrap();
        assert_eq!(r.code, "social_insurance_contributions");
        let r = resource_for(
            &pack,
            Path::new("x/civil_affairs/marriage_registrations_2019.xlsx"),
        )
        .unwrap();
        assert_eq!(r.code, "marriage_registrations");
        assert!(resource_for(&pack, Path::new("x/police/notes.txt")).is_err());
    }
}
