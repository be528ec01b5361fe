//! A drawn frame as an SVG picture (for the README and slides): the
//! dashboard draws into a buffer, and this writes that buffer's cells with
//! their colours.

use std::fmt::Write as _;

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;
const BACKGROUND: &str = "#1e1e2e";
const FOREGROUND: &str = "#cdd6f4";

fn hex(c: Color) -> Option<&'static str> {
    Some(match c {
        Color::Reset => return None,
        Color::Black => "#45475a",
        Color::Red => "#f38ba8",
        Color::Green => "#a6e3a1",
        Color::Yellow => "#f9e2af",
        Color::Blue => "#89b4fa",
        Color::Magenta => "#f5c2e7",
        Color::Cyan => "#94e2d5",
        Color::Gray | Color::White => "#cdd6f4",
        Color::DarkGray => "#7f849c",
        Color::LightRed => "#eba0ac",
        Color::LightGreen => "#a6e3a1",
        Color::LightYellow => "#f9e2af",
        Color::LightBlue => "#74c7ec",
        Color::LightMagenta => "#cba6f7",
        Color::LightCyan => "#89dceb",
        _ => FOREGROUND,
    })
}

/// A cell's text (drawn from sanitized text already; XML needs more).
fn escape(s: &str) -> String {
    crate::text::xml(s)
}

/// The buffer as a standalone SVG document.
pub fn from_buffer(buf: &Buffer) -> String {
    let area = buf.area;
    let w = format!("{:.1}", area.width as f32 * CELL_W);
    let h = format!("{:.1}", area.height as f32 * CELL_H);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" fill="{BACKGROUND}"/>"#
    );
    for y in 0..area.height {
        let mut x = 0;
        while x < area.width {
            let cell = &buf[(area.x + x, area.y + y)];
            // A run of cells with the same style becomes one text element.
            let style = (cell.fg, cell.bg, cell.modifier);
            let start = x;
            let mut text = String::new();
            while x < area.width {
                let c = &buf[(area.x + x, area.y + y)];
                if (c.fg, c.bg, c.modifier) != style {
                    break;
                }
                text.push_str(c.symbol());
                x += 1;
            }
            let px = format!("{:.1}", start as f32 * CELL_W);
            let py = y as f32 * CELL_H;
            let width = format!("{:.1}", (x - start) as f32 * CELL_W);
            let reversed = style.2.contains(Modifier::REVERSED);
            let (fg, bg) = if reversed {
                (
                    hex(style.1).or(Some(BACKGROUND)),
                    hex(style.0).or(Some(FOREGROUND)),
                )
            } else {
                (hex(style.0), hex(style.1))
            };
            if let Some(bg) = bg {
                let _ = writeln!(
                    out,
                    r#"<rect x="{px}" y="{py}" width="{width}" height="{CELL_H}" fill="{bg}"/>"#
                );
            }
            if text.trim().is_empty() {
                continue;
            }
            let weight = if style.2.contains(Modifier::BOLD) {
                r#" font-weight="bold""#
            } else {
                ""
            };
            let italic = if style.2.contains(Modifier::ITALIC) {
                r#" font-style="italic""#
            } else {
                ""
            };
            let _ = writeln!(
                out,
                r#"<text x="{px}" y="{:.1}" fill="{}"{weight}{italic} xml:space="preserve" textLength="{width}">{}</text>"#,
                py + CELL_H * 0.75,
                fg.unwrap_or(FOREGROUND),
                escape(&text)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}
