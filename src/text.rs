//! Text from files (scenario names, notes, messages, replayed logs) on its
//! way to any output: the one place that decides which characters may not
//! pass through as themselves, how they are shown instead, and how wide text
//! is on a terminal.
//!
//! Control characters (C0, DEL, C1), bidi controls, line separators and
//! noncharacters are made visible (`\e`-style escapes would be ambiguous,
//! so every one is written `\u{1b}`, except `\t`, `\n` and `\r`). Widths are
//! terminal columns (wide characters count two), and cutting happens on the
//! sanitized text, so a cut never leaves an escape sequence open. JSON
//! output keeps the exact text but writes the same characters as `\uXXXX`.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

use unicode_width::UnicodeWidthChar;

/// Longest name of a task your program names, and longest panic message,
/// in characters: longer ones are cut where they are made, and a
/// recording holds no longer (its rows' names may have a little more, as
/// `/blocking-12`).
pub const MAX_NAME_CHARS: usize = 1024;

/// Whether `c` must never reach an output as itself: it would steer a
/// terminal (C0, DEL, C1 controls), reorder the text around it (bidi
/// controls), break lines, make XML invalid (noncharacters), or take no
/// room at all (zero-width and other invisible format characters, fillers
/// and tags), so that two names that differ would look the same.
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fdd0}'..='\u{fdef}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    ) || (c as u32 & 0xfffe) == 0xfffe
}

fn push_escape(out: &mut String, c: char) {
    match c {
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        _ => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `s` with every hidden character written as a visible escape.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hidden(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Runs of whitespace (newlines too) as one space, then [`visible`]: a
/// paragraph shown on one line.
pub fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    visible(&joined).into_owned()
}

/// Terminal columns of one character of sanitized text.
fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// Terminal columns `s` takes once sanitized.
pub fn width(s: &str) -> usize {
    visible(s).chars().map(char_width).sum()
}

/// [`visible`] text cut to at most `cols` columns; a cut ends in `…`.
pub fn fit(s: &str, cols: usize) -> String {
    let shown = visible(s);
    if shown.chars().map(char_width).sum::<usize>() <= cols {
        return shown.into_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in shown.chars() {
        let w = char_width(c);
        // One column stays free for the ellipsis.
        if used + w + 1 > cols {
            break;
        }
        out.push(c);
        used += w;
    }
    if cols > 0 {
        out.push('…');
    }
    out
}

/// [`fit`] and padded with spaces to exactly `cols` columns (left aligned),
/// for a table cell.
pub fn cell(s: &str, cols: usize) -> String {
    let mut out = fit(s, cols);
    let used: usize = out.chars().map(char_width).sum();
    out.extend(std::iter::repeat_n(' ', cols.saturating_sub(used)));
    out
}

/// [`visible`] text escaped for XML (SVG): no control character at all,
/// and `&`, `<`, `>`, `"`, `'` as entities.
pub fn xml(s: &str) -> String {
    let shown = visible(s);
    let mut out = String::with_capacity(shown.len());
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A serde_json formatter that also writes every [`is_hidden`] character
/// as a `\uXXXX` escape (serde_json escapes only C0 and `"` and `\`): the
/// same text, but no raw control byte in the file.
pub struct SafeJson<F>(pub F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for SafeJson<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some((at, c)) = rest.char_indices().find(|(_, c)| is_hidden(*c)) {
            writer.write_all(&rest.as_bytes()[..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }

    // PrettyFormatter's layout, passed through.
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// `value` as one line of JSON, hidden characters escaped.
pub fn write_json(out: &mut impl io::Write, value: &impl serde::Serialize) -> io::Result<()> {
    let mut ser =
        serde_json::Serializer::with_formatter(out, SafeJson(serde_json::ser::CompactFormatter));
    value.serialize(&mut ser).map_err(io::Error::other)
}

/// `value` as indented JSON, hidden characters escaped.
pub fn pretty_json(value: &impl serde::Serialize) -> io::Result<String> {
    let mut out = Vec::new();
    write_pretty_json(&mut out, value)?;
    String::from_utf8(out).map_err(io::Error::other)
}

/// [`pretty_json`], written to `out` as it is made (a million tasks'
/// summary is never held whole).
pub fn write_pretty_json(out: impl io::Write, value: &impl serde::Serialize) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(
        out,
        SafeJson(serde_json::ser::PrettyFormatter::new()),
    );
    value
        .serialize(&mut ser)
        .map_err(|e| match e.io_error_kind() {
            Some(kind) => io::Error::new(kind, e),
            None => io::Error::other(e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_made_visible_and_plain_text_is_untouched() {
        let _limit = crate::test_limit::limit();
        assert_eq!(visible("eggs"), "eggs");
        assert!(matches!(visible("ünïcødé 漢字"), Cow::Borrowed(_)));
        assert_eq!(visible("\u{1b}]0;pwned\u{7}"), "\\u{1b}]0;pwned\\u{7}");
        assert_eq!(visible("a\tb\nc\r"), "a\\tb\\nc\\r");
        assert_eq!(visible("\u{9b}2J\u{7f}"), "\\u{9b}2J\\u{7f}");
        assert_eq!(visible("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(visible("\u{fffe}\u{1fffe}"), "\\u{fffe}\\u{1fffe}");
        // Characters that take no room: names that differ look different.
        for c in [
            '\u{200b}',
            '\u{200d}',
            '\u{2060}',
            '\u{2064}',
            '\u{feff}',
            '\u{ad}',
            '\u{3164}',
            '\u{115f}',
            '\u{fff9}',
            '\u{e0041}',
            '\u{fe0f}',
        ] {
            let shown = visible(&format!("a{c}b")).into_owned();
            assert_eq!(shown, format!("a\\u{{{:x}}}b", c as u32));
        }
    }

    #[test]
    fn widths_count_terminal_columns() {
        let _limit = crate::test_limit::limit();
        assert_eq!(width("abc"), 3);
        assert_eq!(width("漢字"), 4);
        assert_eq!(width("e\u{301}"), 1);
        // The escape is what is shown, so it is what is measured.
        assert_eq!(width("\u{1b}"), "\\u{1b}".len());
    }

    #[test]
    fn cutting_happens_on_the_sanitized_text_and_keeps_columns() {
        let _limit = crate::test_limit::limit();
        assert_eq!(fit("breakfast", 20), "breakfast");
        assert_eq!(fit("breakfast", 5), "brea…");
        // A wide character that would straddle the edge is left out.
        assert_eq!(fit("漢字漢字", 4), "漢…");
        assert_eq!(width(&cell("漢字漢字", 4)), 4);
        let cut = fit("\u{1b}]0;pwned\u{7}rest", 8);
        assert!(!cut.chars().any(is_hidden), "{cut:?}");
        assert_eq!(cut, "\\u{1b}]…");
        assert_eq!(cell("ab", 4), "ab  ");
        assert_eq!(cell("漢", 4), "漢  ");
    }

    #[test]
    fn paragraphs_become_one_visible_line() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            one_line("  Start the eggs,\n  then toast. "),
            "Start the eggs, then toast."
        );
        assert_eq!(one_line("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
    }

    #[test]
    fn xml_text_has_no_control_character_and_no_markup() {
        let _limit = crate::test_limit::limit();
        assert_eq!(xml("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        let doc = format!("<t>{}</t>", xml("\u{1}\u{1b}[2J\u{fffe}\u{7}"));
        assert!(roxmltree::Document::parse(&doc).is_ok(), "{doc}");
    }

    #[test]
    fn json_keeps_the_text_and_escapes_every_hidden_character() {
        let _limit = crate::test_limit::limit();
        let text = "a\u{1b}b\u{9b}c\u{202e}d\u{7f}e\u{1fffe}漢";
        let mut out = Vec::new();
        write_json(&mut out, &serde_json::json!({ "name": text })).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert!(!line.chars().any(is_hidden), "{line}");
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["name"], text);
        let pretty = pretty_json(&serde_json::json!({ "name": text })).unwrap();
        assert!(pretty.contains("\n  \"name\""), "{pretty}");
        assert!(!pretty.contains('\u{9b}'));
    }
}
