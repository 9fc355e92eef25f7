//! Shared machinery of the text formats (CSV, JSON Lines): the file's encoding (declared or
//! detected) and a physical-line reader whose memory never exceeds the line limit.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use encoding_rs::{Encoding, GB18030, UTF_8};
use miaopi_catalog::TextEncoding;

/// How many leading bytes decide the encoding when the catalogue does not declare one.
pub(crate) const DETECT_BYTES: usize = 64 * 1024;
/// How many leading bytes are checked for NUL (a text file never has one; a binary file soon
/// does).
pub(crate) const BINARY_PROBE_BYTES: usize = 8 * 1024;
/// The most of an over-long line kept as the quarantined record's `raw` text: enough to see what
/// the line was, without storing a megabyte per broken row.
pub(crate) const TOO_LONG_PREVIEW_BYTES: usize = 64 * 1024;

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// The encoding a text file is decoded with (字符编码).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextCodec {
    Utf8,
    /// GBK as declared by the catalogue, decoded as its superset GB18030 so that characters
    /// outside GBK (rare surnames in 4-byte form) still decode.
    DeclaredGbk,
    /// Detected: not UTF-8, so GB18030 (the national standard every Chinese system can write).
    DetectedGb18030,
}

impl TextCodec {
    /// The name reported by `Reader::encoding` and in `BadEncoding` problems: what the unit
    /// is told its file should have been.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TextCodec::Utf8 => "UTF-8",
            TextCodec::DeclaredGbk => "GBK",
            TextCodec::DetectedGb18030 => "GB18030",
        }
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            TextCodec::Utf8 => UTF_8,
            TextCodec::DeclaredGbk | TextCodec::DetectedGb18030 => GB18030,
        }
    }

    /// Decodes a whole line or record at once; `None` if any byte is invalid (no silent U+FFFD:
    /// a replaced character in a name or ID would be a wrong value, not a readable one).
    pub(crate) fn decode(self, bytes: &[u8]) -> Option<Cow<'_, str>> {
        match self {
            // std's validator is faster than a decoder and borrows: no copy for UTF-8 files.
            TextCodec::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
            _ => self
                .encoding()
                .decode_without_bom_handling_and_without_replacement(bytes),
        }
    }

    /// The bytes as text with invalid sequences replaced, for the quarantine's `raw`.
    pub(crate) fn decode_lossy(self, bytes: &[u8]) -> String {
        self.encoding()
            .decode_without_bom_handling(bytes)
            .0
            .into_owned()
    }
}

/// Chooses the codec: the override, else the catalogue's, else detection on `sample` (the
/// file's first bytes). A UTF-8 BOM always means UTF-8, even against a GBK declaration: the
/// three bytes are meaningless at the start of a GBK file, and a unit that re-saved its export in
/// Excel sends UTF-8 whatever the catalogue says.
pub(crate) fn choose_codec(declared: Option<TextEncoding>, sample: &[u8]) -> TextCodec {
    if sample.starts_with(UTF8_BOM) {
        return TextCodec::Utf8;
    }
    match declared {
        Some(TextEncoding::Utf8 | TextEncoding::Utf8Bom) => TextCodec::Utf8,
        Some(TextEncoding::Gbk) => TextCodec::DeclaredGbk,
        None => detect(sample),
    }
}

/// UTF-8 unless more lines of the sample read only as GB18030 than read only as UTF-8.
///
/// Every line with non-ASCII bytes votes for the encoding(s) it decodes in: valid UTF-8 → UTF-8
/// (GBK Chinese text is almost never valid UTF-8 by accident, most of its lead bytes being UTF-8
/// continuation bytes), else valid GB18030 → GB18030, else (damaged either way) no vote. Ties,
/// and all-ASCII samples, go to UTF-8.
///
/// The simpler rule "valid UTF-8 in the whole sample, else GB18030" lets a few damaged rows near
/// the top of a UTF-8 file (one in a hundred in a generated social-insurance file, whose data is
/// ASCII and whose only Chinese is the header) switch the whole file to GB18030, which decodes
/// UTF-8 Chinese into *valid but wrong* characters.
fn detect(sample: &[u8]) -> TextCodec {
    let mut lines: Vec<&[u8]> = sample.split(|&b| b == b'\n').collect();
    // A sample cut at DETECT_BYTES may end inside a character: its last line is incomplete.
    if sample.len() >= DETECT_BYTES && lines.len() > 1 {
        lines.pop();
    }
    let (mut utf8, mut gb) = (0usize, 0usize);
    for line in lines {
        if line.is_ascii() {
            continue;
        }
        if std::str::from_utf8(line).is_ok() {
            utf8 += 1;
        } else if GB18030
            .decode_without_bom_handling_and_without_replacement(line)
            .is_some()
        {
            gb += 1;
        }
    }
    if gb > utf8 {
        TextCodec::DetectedGb18030
    } else {
        TextCodec::Utf8
    }
}

/// Length of the BOM to skip at the start of a file decoded with `codec`.
pub(crate) fn bom_len(codec: TextCodec, sample: &[u8]) -> usize {
    if codec == TextCodec::Utf8 && sample.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    }
}

/// The UTF-16 encoding a byte-order mark at the start of `sample` announces, if any. Excel's
/// "Unicode 文本" export (tab-separated UTF-16LE with a BOM) is the common source.
pub(crate) fn utf16_bom(sample: &[u8]) -> Option<&'static Encoding> {
    match sample {
        [0xFF, 0xFE, ..] => Some(encoding_rs::UTF_16LE),
        [0xFE, 0xFF, ..] => Some(encoding_rs::UTF_16BE),
        _ => None,
    }
}

/// The file transcoded from UTF-16 to UTF-8, in an anonymous temporary file (gone when closed),
/// so the line readers see the UTF-8 every other text file is read as. Line numbers are the
/// same; an invalid sequence (a lone surrogate) becomes U+FFFD, which intake then rejects in the
/// value like any replacement character. Returns the new file and its length.
pub(crate) fn transcode_utf16(
    file: &mut File,
    encoding: &'static Encoding,
) -> io::Result<(File, u64)> {
    use std::io::Write;
    file.seek(SeekFrom::Start(0))?;
    let mut decoder = encoding.new_decoder_with_bom_removal();
    let mut out = io::BufWriter::new(tempfile::tempfile()?);
    let mut input = vec![0u8; READ_BUFFER_BYTES];
    let mut text = String::with_capacity(READ_BUFFER_BYTES * 2);
    loop {
        let n = file.read(&mut input)?;
        let last = n == 0;
        let mut read = 0;
        loop {
            text.clear();
            let (result, used, _) = decoder.decode_to_string(&input[read..n], &mut text, last);
            read += used;
            out.write_all(text.as_bytes())?;
            if result == encoding_rs::CoderResult::InputEmpty {
                break;
            }
        }
        if last {
            break;
        }
    }
    let mut file = out.into_inner().map_err(|e| e.into_error())?;
    let len = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    Ok((file, len))
}

/// Reads up to `n` bytes from the start of `file` (fewer only at end of file).
pub(crate) fn read_prefix(file: &mut File, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    file.by_ref().take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// What one call of [`LineReader::read_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineRead {
    /// No more bytes.
    Eof,
    /// A whole line (its terminator included, if it had one) was appended.
    Line,
    /// The line's content was longer than the limit: its first `limit` bytes were appended and
    /// the rest, up to and including the newline, was read and thrown away.
    TooLong { bytes: u64 },
}

/// Physical lines of a file, with the byte offset and line number needed to go back to a line.
pub(crate) struct LineReader {
    src: BufReader<File>,
    /// Bytes consumed from the start of the file.
    offset: u64,
    /// Physical lines consumed (the next line's number is `line_no + 1`).
    line_no: u64,
    scratch: Vec<u8>,
}

/// Big enough that a syscall moves many lines; small enough to be irrelevant per reader.
const READ_BUFFER_BYTES: usize = 256 * 1024;
/// The chunk in which the tail of an over-long line is discarded.
const DISCARD_CHUNK_BYTES: u64 = 64 * 1024;

impl LineReader {
    /// Starts reading `file` at byte `offset` (past a BOM) with line 1.
    pub(crate) fn new(mut file: File, offset: u64) -> io::Result<Self> {
        file.seek(SeekFrom::Start(offset))?;
        Ok(LineReader {
            src: BufReader::with_capacity(READ_BUFFER_BYTES, file),
            offset,
            line_no: 0,
            scratch: Vec::new(),
        })
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Goes back (or forward) to a line start seen before, so a record that swallowed the
    /// following lines (an unclosed quote) can give them back.
    pub(crate) fn rewind(&mut self, offset: u64, line_no: u64) -> io::Result<()> {
        self.src.seek(SeekFrom::Start(offset))?;
        self.offset = offset;
        self.line_no = line_no;
        Ok(())
    }

    /// Appends the next physical line to `buf` if its content (without `\n` or `\r\n`) has at
    /// most `limit` bytes. Never holds more than `limit` + 2 bytes of one line in memory.
    pub(crate) fn read_line(&mut self, buf: &mut Vec<u8>, limit: u64) -> io::Result<LineRead> {
        let start = buf.len();
        // `read_until` finds the newline with the standard library's vectorised memchr; `take`
        // is what bounds it.
        let n = (&mut self.src)
            .take(limit.saturating_add(2))
            .read_until(b'\n', buf)? as u64;
        self.offset += n;
        if n == 0 {
            return Ok(LineRead::Eof);
        }
        self.line_no += 1;
        let ended = buf.last() == Some(&b'\n');
        if ended || n < limit.saturating_add(2) {
            // A whole line (or the file's last, unterminated one).
            let content = n - terminator_len(&buf[start..]) as u64;
            if content <= limit {
                return Ok(LineRead::Line);
            }
            buf.truncate(start + preview_len(limit));
            return Ok(LineRead::TooLong { bytes: content });
        }
        // The terminator may straddle the read and the discarded tail (`\r` | `\n`).
        let mut last_two = match &buf[start..] {
            [.., a, b] => [*a, *b],
            _ => [0, 0],
        };
        buf.truncate(start + preview_len(limit));
        let mut total = n;
        loop {
            self.scratch.clear();
            let m = (&mut self.src)
                .take(DISCARD_CHUNK_BYTES)
                .read_until(b'\n', &mut self.scratch)? as u64;
            self.offset += m;
            total += m;
            if let [.., a, b] = self.scratch.as_slice() {
                last_two = [*a, *b];
            } else if let [b] = self.scratch.as_slice() {
                last_two = [last_two[1], *b];
            }
            if m == 0 || self.scratch.last() == Some(&b'\n') {
                break;
            }
        }
        let term = match last_two {
            [b'\r', b'\n'] => 2,
            [_, b'\n'] => 1,
            _ => 0,
        };
        Ok(LineRead::TooLong {
            bytes: total - term,
        })
    }
}

fn preview_len(limit: u64) -> usize {
    usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .min(TOO_LONG_PREVIEW_BYTES)
}

/// Length of the line terminator at the end of `line`: `\r\n`, `\n`, or (last line of a file) a
/// lone `\r` or nothing.
pub(crate) fn terminator_len(line: &[u8]) -> usize {
    match line {
        [.., b'\r', b'\n'] => 2,
        [.., b'\n'] | [.., b'\r'] => 1,
        _ => 0,
    }
}

/// The line without its terminator.
pub(crate) fn strip_terminator(line: &[u8]) -> &[u8] {
    &line[..line.len() - terminator_len(line)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert_eq!(detect(b"a,b\n1,2\n"), TextCodec::Utf8);
        assert_eq!(detect("身份证号,姓名\n".as_bytes()), TextCodec::Utf8);
        let (gbk, _, _) = encoding_rs::GBK.encode("身份证号,姓名,性别\n张三,男\n");
        assert_eq!(detect(&gbk), TextCodec::DetectedGb18030);
        // Damaged rows in a UTF-8 file whose data is ASCII do not turn it into GB18030.
        let mut mixed = "身份证号,姓名,性别\n".as_bytes().to_vec();
        for _ in 0..10 {
            mixed.extend_from_slice(b"1,\xC3\x28\xFF2,3\n4,5,6\n");
        }
        assert_eq!(detect(&mixed), TextCodec::Utf8);
        // Nor in a GBK file (0xFF is invalid in both).
        let mut gbk = gbk.into_owned();
        gbk.extend_from_slice(b"1,\xFF\xFF,3\r\n");
        assert_eq!(detect(&gbk), TextCodec::DetectedGb18030);
        // A character cut by the end of a full sample is not a vote.
        let long = "姓名\n".repeat(DETECT_BYTES / 5);
        let cut = &long.as_bytes()[..DETECT_BYTES];
        assert!(std::str::from_utf8(cut).is_err());
        assert_eq!(detect(cut), TextCodec::Utf8);
    }

    #[test]
    fn utf16_is_transcoded_to_utf8() {
        let text = "身份证号\t姓名\r\n110105194912310021\t张三\r\n";
        for (bom, encode) in [
            (
                [0xFF, 0xFE],
                Box::new(|c: u16| c.to_le_bytes()) as Box<dyn Fn(u16) -> [u8; 2]>,
            ),
            ([0xFE, 0xFF], Box::new(|c: u16| c.to_be_bytes())),
        ] {
            let mut bytes = bom.to_vec();
            for unit in text.encode_utf16() {
                bytes.extend_from_slice(&encode(unit));
            }
            assert!(utf16_bom(&bytes).is_some());
            let mut file = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut file, &bytes).unwrap();
            let (mut utf8, len) = transcode_utf16(&mut file, utf16_bom(&bytes).unwrap()).unwrap();
            let mut back = String::new();
            utf8.read_to_string(&mut back).unwrap();
            assert_eq!(back, text);
            assert_eq!(len, text.len() as u64);
        }
        assert!(utf16_bom(b"\xEF\xBB\xBFa").is_none());
    }

    #[test]
    fn terminators() {
        assert_eq!(strip_terminator(b"a,b\r\n"), b"a,b");
        assert_eq!(strip_terminator(b"a,b\n"), b"a,b");
        assert_eq!(strip_terminator(b"a,b"), b"a,b");
        assert_eq!(strip_terminator(b"\n"), b"");
    }
}
