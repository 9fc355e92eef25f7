//! A small Markdown-to-HTML renderer for the service guides that `miaopi_decide::render_guide`
//! writes: headings, paragraphs, pipe tables, ordered and bulleted lists (one nesting level by
//! indentation), `**bold**` and `` `code` ``. Everything is escaped first, so a guide can never
//! inject markup; anything the guide generator does not write is shown as plain text.

use super::charts::escape;

/// Inline spans: `**bold**` and `` `code` `` over escaped text.
fn inline(text: &str) -> String {
    let escaped = escape(text);
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped.as_str();
    loop {
        let bold = rest.find("**");
        let code = rest.find('`');
        let (at, marker, open_tag, close_tag) = match (bold, code) {
            (Some(b), Some(c)) if c < b => (c, "`", "<code>", "</code>"),
            (Some(b), _) => (b, "**", "<strong>", "</strong>"),
            (None, Some(c)) => (c, "`", "<code>", "</code>"),
            (None, None) => break,
        };
        let after = &rest[at + marker.len()..];
        match after.find(marker) {
            Some(end) if end > 0 => {
                out.push_str(&rest[..at]);
                out.push_str(open_tag);
                out.push_str(&after[..end]);
                out.push_str(close_tag);
                rest = &after[end + marker.len()..];
            }
            // An unmatched marker is literal text.
            _ => {
                out.push_str(&rest[..at + marker.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `1. text` → Some("text").
fn ordered_item(line: &str) -> Option<&str> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    line[digits..].strip_prefix(". ")
}

fn bullet_item(line: &str) -> Option<&str> {
    line.strip_prefix("- ").or_else(|| line.strip_prefix("* "))
}

fn table_cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| inline(c.trim())).collect()
}

fn is_separator(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('|') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

#[derive(PartialEq, Clone, Copy)]
enum ListKind {
    Ordered,
    Bullet,
}

impl ListKind {
    fn open(self) -> &'static str {
        match self {
            ListKind::Ordered => "<ol>",
            ListKind::Bullet => "<ul>",
        }
    }
    fn close(self) -> &'static str {
        match self {
            ListKind::Ordered => "</ol>",
            ListKind::Bullet => "</ul>",
        }
    }
}

/// Renders Markdown to an HTML fragment.
pub fn to_html(markdown: &str) -> String {
    let mut out = String::new();
    let mut paragraph: Vec<String> = Vec::new();
    // Open lists, outermost first; an `<li>` is left open so a nested list can go inside it.
    let mut lists: Vec<ListKind> = Vec::new();
    let lines: Vec<&str> = markdown.lines().collect();
    let mut i = 0;

    fn flush_paragraph(out: &mut String, paragraph: &mut Vec<String>) {
        if !paragraph.is_empty() {
            out.push_str("<p>");
            out.push_str(&paragraph.join("<br>"));
            out.push_str("</p>\n");
            paragraph.clear();
        }
    }
    fn close_lists(out: &mut String, lists: &mut Vec<ListKind>, keep: usize) {
        while lists.len() > keep {
            if let Some(kind) = lists.pop() {
                out.push_str("</li>");
                out.push_str(kind.close());
            }
        }
    }

    while i < lines.len() {
        let raw = lines[i];
        let indent = raw.len() - raw.trim_start().len();
        let line = raw.trim();
        i += 1;
        if line.is_empty() {
            flush_paragraph(&mut out, &mut paragraph);
            continue;
        }
        if let Some(level) =
            (1..=6).find(|n| line.starts_with(&"#".repeat(*n)) && line[*n..].starts_with(' '))
        {
            flush_paragraph(&mut out, &mut paragraph);
            close_lists(&mut out, &mut lists, 0);
            out.push_str(&format!(
                "<h{level}>{}</h{level}>\n",
                inline(line[level..].trim())
            ));
            continue;
        }
        if line.starts_with('|') {
            flush_paragraph(&mut out, &mut paragraph);
            close_lists(&mut out, &mut lists, 0);
            let header = table_cells(line);
            let mut rows: Vec<Vec<String>> = Vec::new();
            let has_header = i < lines.len() && is_separator(lines[i]);
            if has_header {
                i += 1;
            } else {
                rows.push(header.clone());
            }
            while i < lines.len() && lines[i].trim().starts_with('|') {
                rows.push(table_cells(lines[i]));
                i += 1;
            }
            out.push_str("<table class=\"md\">");
            if has_header {
                out.push_str("<thead><tr>");
                for c in &header {
                    out.push_str(&format!("<th>{c}</th>"));
                }
                out.push_str("</tr></thead>");
            }
            out.push_str("<tbody>");
            for r in rows {
                out.push_str("<tr>");
                for c in r {
                    out.push_str(&format!("<td>{c}</td>"));
                }
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table>\n");
            continue;
        }
        let item = ordered_item(line)
            .map(|t| (ListKind::Ordered, t))
            .or_else(|| bullet_item(line).map(|t| (ListKind::Bullet, t)));
        if let Some((kind, text)) = item {
            flush_paragraph(&mut out, &mut paragraph);
            // Two or more spaces of indentation nest under the open item.
            let depth = if indent >= 2 && !lists.is_empty() {
                2
            } else {
                1
            };
            close_lists(&mut out, &mut lists, depth);
            if lists.len() == depth && lists.last() != Some(&kind) {
                close_lists(&mut out, &mut lists, depth - 1);
            }
            if lists.len() == depth {
                out.push_str("</li>");
            } else {
                out.push_str(kind.open());
                lists.push(kind);
            }
            out.push_str("<li>");
            out.push_str(&inline(text));
            continue;
        }
        close_lists(&mut out, &mut lists, 0);
        paragraph.push(inline(line));
    }
    flush_paragraph(&mut out, &mut paragraph);
    close_lists(&mut out, &mut lists, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_tables_lists_and_paragraphs() {
        let md = "# 高龄老人津贴 办事指南\n\n## 基本信息\n\n| 项目 | 内容 |\n|---|---|\n| 事项名称 | 高龄老人津贴 |\n| 收费 | 不收费 |\n\n## 申请条件\n\n1. **具有本区户籍**（规则：`户籍满足`）\n   - 核验数据：户籍人口\n   - 核验数据：居住登记\n2. **年满80周岁**\n\n缺少数据不作为否定依据。\n";
        let html = to_html(md);
        assert!(html.contains("<h1>高龄老人津贴 办事指南</h1>"), "{html}");
        assert!(html.contains("<h2>基本信息</h2>"));
        assert!(html.contains("<thead><tr><th>项目</th><th>内容</th></tr></thead>"));
        assert!(html.contains("<td>事项名称</td><td>高龄老人津贴</td>"));
        assert!(html.contains("<ol><li><strong>具有本区户籍</strong>（规则：<code>户籍满足</code>）<ul><li>核验数据：户籍人口</li><li>核验数据：居住登记</li></ul></li><li><strong>年满80周岁</strong></li></ol>"), "{html}");
        assert!(html.contains("<p>缺少数据不作为否定依据。</p>"));
        assert_eq!(html.matches("<ol>").count(), html.matches("</ol>").count());
        assert_eq!(html.matches("<ul>").count(), html.matches("</ul>").count());
        assert_eq!(html.matches("<li>").count(), html.matches("</li>").count());
    }

    #[test]
    fn markup_in_the_text_is_escaped() {
        let html = to_html("<script>alert(1)</script> **a<b** `x`\n- <i>item</i>");
        assert!(!html.contains("<script>") && !html.contains("<i>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("<strong>a&lt;b</strong>"));
        assert!(html.contains("<li>&lt;i&gt;item&lt;/i&gt;</li>"));
    }

    #[test]
    fn unmatched_markers_are_literal() {
        assert_eq!(to_html("a ** b ` c"), "<p>a ** b ` c</p>\n");
    }
}
