//! JSON Lines: one JSON object per line, keys matched to fields like CSV headers.
//!
//! JSON has no header, so the file-level column check of CSV does not apply: a missing key is
//! `Null` (the standardiser enforces `required`), and a key that names no field is ignored but
//! reported by `Reader::unknown_keys`. A line that is not one JSON object, or that names a field
//! twice (by label and by name, say), is a `MalformedJson` bad record.
//!
//! Values are taken from the line's own text (serde_json's `RawValue`), so numbers keep their
//! exact digits instead of passing through `f64`.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue as JsonRaw;

use super::text::{LineRead, LineReader, TextCodec, strip_terminator};
use super::{FieldMap, MidFileError};
use crate::record::{BadRecord, RawRecord, RawValue, ReadItem, RecordProblem};

/// Unknown keys kept for `Reader::unknown_keys`: enough to tell a unit what it sends, bounded so
/// that a file with a fresh key on every line cannot grow the set without limit.
const MAX_UNKNOWN_KEYS: usize = 1000;

pub(crate) struct JsonlRows {
    lines: LineReader,
    codec: TextCodec,
    fields: FieldMap,
    limit: u64,
    buf: Vec<u8>,
    record: u64,
    unknown: BTreeSet<String>,
    /// Which fields the current line has set (to catch a field given twice).
    seen: Vec<bool>,
}

impl JsonlRows {
    pub(crate) fn new(lines: LineReader, codec: TextCodec, fields: &FieldMap, limit: u64) -> Self {
        JsonlRows {
            lines,
            codec,
            fields: fields.clone(),
            limit,
            buf: Vec::with_capacity(1024),
            record: 0,
            unknown: BTreeSet::new(),
            seen: vec![false; fields.len()],
        }
    }

    /// Bytes of the file consumed so far.
    pub(crate) fn offset(&self) -> u64 {
        self.lines.offset()
    }

    pub(crate) fn codec(&self) -> TextCodec {
        self.codec
    }

    pub(crate) fn unknown_keys(&self) -> &BTreeSet<String> {
        &self.unknown
    }

    pub(crate) fn next_item(&mut self) -> Option<Result<ReadItem, MidFileError>> {
        loop {
            self.buf.clear();
            let read = match self.lines.read_line(&mut self.buf, self.limit) {
                Ok(r) => r,
                Err(e) => return Some(Err(e.into())),
            };
            let line = self.lines.line_no();
            match read {
                LineRead::Eof => return None,
                LineRead::TooLong { bytes } => {
                    self.record += 1;
                    let raw = self.codec.decode_lossy(&self.buf);
                    let problem = RecordProblem::LineTooLong {
                        bytes,
                        limit: self.limit,
                    };
                    return Some(Ok(self.bad(line, raw, problem)));
                }
                LineRead::Line => {}
            }
            if strip_terminator(&self.buf)
                .iter()
                .all(u8::is_ascii_whitespace)
            {
                continue;
            }
            self.record += 1;
            return Some(Ok(self.parse(line)));
        }
    }

    fn bad(&self, line: u64, raw: String, problem: RecordProblem) -> ReadItem {
        ReadItem::Bad(BadRecord {
            line,
            record: self.record,
            raw,
            problem,
        })
    }

    fn parse(&mut self, line: u64) -> ReadItem {
        let content = strip_terminator(&self.buf);
        let Some(text) = self.codec.decode(content) else {
            let problem = RecordProblem::BadEncoding {
                encoding: self.codec.name().to_string(),
            };
            return self.bad(line, self.codec.decode_lossy(content), problem);
        };
        let object = match serde_json::from_str::<JsonObject<'_>>(&text) {
            Ok(o) => o,
            Err(e) => {
                let problem = RecordProblem::MalformedJson {
                    detail: e.to_string(),
                };
                return self.bad(line, text.into_owned(), problem);
            }
        };
        self.seen.iter_mut().for_each(|s| *s = false);
        let mut values = vec![RawValue::Null; self.fields.len()];
        for (key, raw) in object.0 {
            let Some(f) = self.fields.lookup(&key) else {
                if self.unknown.len() < MAX_UNKNOWN_KEYS && !self.unknown.contains(key.as_ref()) {
                    self.unknown.insert(key.into_owned());
                }
                continue;
            };
            if self.seen[f] {
                let problem = RecordProblem::MalformedJson {
                    detail: format!("字段「{}」出现了两次", self.fields.label(f)),
                };
                return self.bad(line, text.into_owned(), problem);
            }
            self.seen[f] = true;
            values[f] = json_value(raw.get());
        }
        ReadItem::Record(RawRecord {
            line,
            record: self.record,
            values,
            raw: text.into_owned(),
        })
    }
}

/// One JSON value (valid JSON text, as serde_json checked it) as a raw value.
fn json_value(t: &str) -> RawValue {
    match t.as_bytes().first() {
        Some(b'"') => {
            let s = match t.get(1..t.len() - 1) {
                // No escapes: the text between the quotes is the string.
                Some(inner) if !inner.contains('\\') => inner.to_string(),
                _ => serde_json::from_str::<String>(t).unwrap_or_else(|_| t.to_string()),
            };
            if s.is_empty() {
                RawValue::Null
            } else {
                RawValue::Text(s)
            }
        }
        Some(b't') => RawValue::Bool(true),
        Some(b'f') => RawValue::Bool(false),
        Some(b'n') => RawValue::Null,
        Some(b'{' | b'[') => RawValue::Text(t.to_string()),
        _ => json_number(t),
    }
}

/// An integer → `Int` (beyond `i64`: `Decimal` scale 0); a plain decimal → `Decimal` with its
/// exact digits; an exponent form (or a decimal beyond `i128`) → `Float`.
fn json_number(t: &str) -> RawValue {
    if let Ok(i) = t.parse::<i64>() {
        return RawValue::Int(i);
    }
    if !t.contains(['e', 'E']) {
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if let Ok(scale) = i8::try_from(frac.len()) {
            let mut digits = String::with_capacity(t.len());
            digits.push_str(int);
            digits.push_str(frac);
            if let Ok(value) = digits.parse::<i128>() {
                return RawValue::Decimal { value, scale };
            }
        }
    }
    match t.parse::<f64>() {
        Ok(f) => RawValue::Float(f),
        Err(_) => RawValue::Text(t.to_string()),
    }
}

/// A JSON object's members in line order, values as their raw text. Keys borrow from the line
/// unless they contain escapes.
struct JsonObject<'a>(Vec<(Cow<'a, str>, &'a JsonRaw)>);

impl<'de> serde::Deserialize<'de> for JsonObject<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = JsonObject<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value: &'de JsonRaw = map.next_value()?;
            members.push((key, value));
        }
        Ok(JsonObject(members))
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_digits() {
        assert_eq!(json_number("42"), RawValue::Int(42));
        assert_eq!(json_number("-7"), RawValue::Int(-7));
        assert_eq!(
            json_number("1234.50"),
            RawValue::Decimal {
                value: 123450,
                scale: 2
            }
        );
        assert_eq!(
            json_number("-0.05"),
            RawValue::Decimal {
                value: -5,
                scale: 2
            }
        );
        assert_eq!(
            json_number("99999999999999999999"),
            RawValue::Decimal {
                value: 99999999999999999999,
                scale: 0
            }
        );
        assert_eq!(json_number("1.5e3"), RawValue::Float(1500.0));
    }

    #[test]
    fn values() {
        assert_eq!(json_value(r#""张三""#), RawValue::Text("张三".into()));
        assert_eq!(json_value(r#""a\"b""#), RawValue::Text("a\"b".into()));
        assert_eq!(json_value(r#""""#), RawValue::Null);
        assert_eq!(json_value("null"), RawValue::Null);
        assert_eq!(json_value("true"), RawValue::Bool(true));
        assert_eq!(
            json_value(r#"[1,"x"]"#),
            RawValue::Text(r#"[1,"x"]"#.into())
        );
    }

    #[test]
    fn objects_only() {
        assert!(serde_json::from_str::<JsonObject<'_>>(r#"{"a":1,"b":"x"}"#).is_ok());
        assert!(serde_json::from_str::<JsonObject<'_>>("[1]").is_err());
        assert!(serde_json::from_str::<JsonObject<'_>>(r#"{"a":1"#).is_err());
        assert!(serde_json::from_str::<JsonObject<'_>>(r#"{"a":1} x"#).is_err());
        let o = serde_json::from_str::<JsonObject<'_>>(r#"{"\u59d3名":1}"#);
        assert_eq!(
            o.map(|o| o.0[0].0.to_string()).ok().as_deref(),
            Some("姓名")
        );
    }
}
