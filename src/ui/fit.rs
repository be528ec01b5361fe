//! Text that fits: every line the screen draws goes through here, so it
//! either fits its room, wraps onto the lines it may take, or ends with
//! `…`. Nothing is cut mid-word without the mark.
//!
//! A line across the screen keeps its last column free (so a line that
//! reaches it was cut, and says so).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthChar;

/// The mark of a cut.
pub const CUT: char = '…';

fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// Columns `s` takes (already sanitized text).
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `s` cut to at most `cols` columns; a cut ends in `…`.
pub fn cut(s: &str, cols: usize) -> String {
    if width(s) <= cols {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w + 1 > cols {
            break;
        }
        out.push(c);
        used += w;
    }
    if cols > 0 {
        // The mark right after the last letter kept, not after a space.
        out.truncate(out.trim_end().len());
        out.push(CUT);
    }
    out
}

/// `s` in at most `cols` columns, cut in the middle: its start, `…`, and
/// its last `tail` characters (where names like `busy-a/thread` and
/// `busy-b/thread`, `say-after-3s` and `say-after-6s` differ at one end or
/// the other).
pub fn cut_middle(s: &str, cols: usize, tail: usize) -> String {
    if width(s) <= cols {
        return s.to_string();
    }
    let end: String = {
        let chars: Vec<char> = s.chars().collect();
        chars[chars.len().saturating_sub(tail)..].iter().collect()
    };
    let room = cols.saturating_sub(width(&end));
    if room < 4 {
        return cut(s, cols);
    }
    let mut out = cut(s, room);
    out.push_str(&end);
    out
}

/// `spans` cut to at most `cols` columns; a cut ends in `…` (in the style
/// of the span it cuts).
pub fn spans<'a>(spans: Vec<Span<'a>>, cols: usize) -> Vec<Span<'a>> {
    let total: usize = spans.iter().map(|s| width(&s.content)).sum();
    if total <= cols {
        return spans;
    }
    let mut out = Vec::new();
    let mut left = cols;
    for s in spans {
        let w = width(&s.content);
        if w < left {
            left -= w;
            out.push(s);
            continue;
        }
        // This span holds the cut (the mark takes its last column).
        out.push(Span::styled(cut(&s.content, left), s.style));
        break;
    }
    out
}

/// Draws `spans` on row `area.y`, fitted to the area's width less its last
/// column.
pub fn line(spans_: Vec<Span<'_>>, style: Style, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let cols = usize::from(area.width.saturating_sub(1));
    Line::from(spans(spans_, cols))
        .style(style)
        .render(Rect { height: 1, ..area }, buf);
}

/// `text` broken at spaces into lines of at most `cols` columns: the
/// first `first` columns narrower (a label before it), at most `max`
/// lines, the last one cut with `…` if more is left.
pub fn wrap(text: &str, cols: usize, first: usize, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let room = |n: usize| {
        if n == 0 {
            cols.saturating_sub(first)
        } else {
            cols
        }
    };
    let mut words = text.split(' ').filter(|w| !w.is_empty()).peekable();
    while let Some(word) = words.next() {
        let need = width(&current) + usize::from(!current.is_empty()) + width(word);
        if need <= room(lines.len()) {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
            continue;
        }
        if current.is_empty() {
            // One word longer than a line: cut it.
            current = cut(word, room(lines.len()));
        }
        if lines.len() + 1 == max {
            // The last line: what is left, cut.
            let mut rest = current;
            for w in std::iter::once(word).chain(words.by_ref()) {
                if !rest.ends_with(CUT) {
                    rest.push(' ');
                    rest.push_str(w);
                }
            }
            lines.push(cut(&rest, room(lines.len())));
            return lines;
        }
        lines.push(std::mem::take(&mut current));
        if width(word) <= room(lines.len()) {
            current.push_str(word);
        } else {
            current = cut(word, room(lines.len()));
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// How many lines `text` takes wrapped as [`wrap`] does, up to `max`.
pub fn lines_needed(text: &str, cols: usize, first: usize, max: usize) -> usize {
    wrap(text, cols, first, max).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_ends_with_the_mark_and_keeps_to_its_room() {
        let _limit = crate::test_limit::limit();
        assert_eq!(cut("breakfast", 20), "breakfast");
        assert_eq!(cut("breakfast", 9), "breakfast");
        assert_eq!(cut("breakfast", 5), "brea…");
        let s = spans(vec![Span::raw("ab "), Span::raw("cdef")], 5);
        let text: String = s.iter().map(|s| s.content.to_string()).collect();
        assert_eq!(text, "ab c…");
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_marks_what_is_left_out() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            wrap("one pair of hands each dish", 10, 0, 3),
            vec!["one pair", "of hands", "each dish"]
        );
        assert_eq!(
            wrap("one pair of hands each dish waits", 10, 0, 2),
            vec!["one pair", "of hands…"]
        );
        // A label takes the first line's first columns.
        assert_eq!(wrap("aa bb cc", 6, 3, 3), vec!["aa", "bb cc"]);
        assert_eq!(wrap("", 6, 0, 2), vec![""]);
        for line in wrap("a verylongwordthatcannotfit here", 8, 0, 3) {
            assert!(width(&line) <= 8, "{line}");
        }
    }

    #[test]
    fn a_cut_in_the_middle_keeps_where_names_differ() {
        let _limit = crate::test_limit::limit();
        assert_eq!(cut_middle("S say-after-3s", 13, 3), "S say-aft…-3s");
        assert_eq!(cut_middle("S say-after-6s", 13, 3), "S say-aft…-6s");
        assert_eq!(cut_middle("Y busy-a/thread", 13, 3), "Y busy-a/…ead");
        assert_eq!(cut_middle("short", 13, 3), "short");
    }
}
