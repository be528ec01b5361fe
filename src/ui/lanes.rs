//! Lanes: one row per worker and one per task, by state over time and
//! scrolling with it, like `go tool trace` in a terminal. The cells come
//! from the history up to the cursor ([`crate::model::lanes`]); every glyph
//! reads without colour (the legend is on the block's bottom edge).

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

use super::theme;
use crate::app::{App, Session};
use crate::format;
use crate::model::Model;
use crate::model::lanes::{self, Cell, CpuCell, Window, WorkerCell};
use crate::probe::TaskIdx;

const LABEL: u16 = 14;
/// The window shows at most this much time before it scrolls.
const WINDOW: Duration = Duration::from_secs(10);
/// Column widths are these times ten to a power: the axis is at most a
/// quarter longer than the run while it plays.
const STEPS: &[u64] = &[10, 12, 15, 20, 25, 30, 40, 50, 60, 80];

/// The window of time a lanes area `cols` wide shows when the moment shown
/// is `now`: at `zoom`'s scale, ending at `now`, or (None) automatic: the
/// whole run, scrolling after [`WINDOW`]; `fit` (a run that has ended)
/// makes the automatic axis end at `now`.
pub fn window(now: Duration, cols: usize, fit: bool, zoom: Option<Duration>) -> Window {
    if let Some(scale) = zoom {
        let cols = cols.max(1);
        let width = scale * cols as u32;
        let end = now.max(width);
        return Window {
            start: end.saturating_sub(width),
            scale,
            cols,
            until: now,
        };
    }
    let cols = cols.max(1);
    let span = now.min(WINDOW).max(Duration::from_micros(100));
    let need = (span.as_nanos() as u64).div_ceil(cols as u64).max(1);
    let scale_ns = if fit && now <= WINDOW {
        need
    } else {
        let mut pow = 1u64;
        loop {
            if let Some(s) = STEPS.iter().map(|s| s * pow).find(|s| *s >= need * 10) {
                break s / 10;
            }
            pow = pow.saturating_mul(10);
        }
    };
    let scale = Duration::from_nanos(scale_ns.max(1));
    let width = scale * cols as u32;
    let end = now.max(width);
    Window {
        start: end.saturating_sub(width),
        scale,
        cols,
        until: now,
    }
}

/// A letter for each task on the worker lanes, as unique as can be: its
/// initial if free, else another letter of its name, else any free one.
pub fn lane_letters(model: &Model) -> Vec<char> {
    const MANY: usize = 300;
    let mut used = std::collections::HashSet::new();
    model
        .tasks
        .iter()
        .map(|t| {
            // Of the name as shown: never a control or bidi character.
            let initial = crate::text::visible(&t.name).chars().next().unwrap_or('?');
            if model.tasks.len() > MANY {
                return initial;
            }
            let letters = t.name.chars().filter(char::is_ascii_alphanumeric);
            // Upper case first: the task lanes' waits use lower-case letters.
            let candidates = letters
                .clone()
                .map(|c| c.to_ascii_uppercase())
                .chain('A'..='Z')
                .chain('0'..='9')
                .chain(letters.map(|c| c.to_ascii_lowercase()))
                .chain('a'..='z');
            let pick = candidates
                .into_iter()
                .find(|c| !used.contains(c))
                .unwrap_or(initial);
            used.insert(pick);
            pick
        })
        .collect()
}

pub fn render(app: &App, session: &Session, visible: &[u32], area: Rect, buf: &mut Buffer) {
    let now = session.now();
    let cols = area.width.saturating_sub(LABEL + 2).max(1) as usize;
    let fit = session.ended && session.history.at_live_edge();
    let w = window(now, cols, fit, app.zoom);
    app.lanes_scale.set(w.scale);
    app.lanes_auto.set(window(now, cols, fit, None).scale);
    let block = block(session, &w, cols, app.zoom.is_some());
    let inner = block.inner(area);
    block.render(area, buf);
    let model = session.model();
    let letters = lane_letters(session.history.live());
    let letter = |t: TaskIdx| letters.get(t as usize).copied().unwrap_or('?');
    if app.cpu_view {
        // The CPUs, then the workers (which task each polls), then which
        // row each letter is.
        let cpus = lanes::compute_cpus(&session.history, session.history.cursor(), &w);
        let workers = lanes::compute(
            &session.history,
            session.history.cursor(),
            &w,
            &[],
            |spec, step| session.holds_worker(spec, step),
        );
        cpu_lanes(model, &cpus, &workers.workers, &letter, inner, buf);
        return;
    }
    let workers = model.workers.len();
    // The tasks shown in the table, as many as fit, the selected one among
    // them.
    let rows = (inner.height as usize).saturating_sub(workers);
    let first = app
        .selected
        .min(visible.len().saturating_sub(1))
        .saturating_sub(rows.saturating_sub(1));
    let shown: Vec<u32> = visible.iter().skip(first).take(rows).copied().collect();
    let cells = lanes::compute(
        &session.history,
        session.history.cursor(),
        &w,
        &shown,
        |spec, step| session.holds_worker(spec, step),
    );
    let y = worker_lanes(&cells.workers, &letter, inner, buf);
    task_lanes(model, &shown, &cells.tasks, &letter, inner, y, buf);
}

/// The lanes' frame: the window of time in the title, the legend on the
/// bottom edge.
fn block(session: &Session, w: &Window, cols: usize, zoomed: bool) -> Block<'static> {
    let title = Line::from(vec![
        Span::styled(
            if zoomed {
                " lanes (zoomed) "
            } else {
                " lanes "
            },
            theme::HEADER,
        ),
        Span::styled(
            format!(
                "{} .. {}, {} per column ",
                format::time(w.start),
                format::time(w.start + w.scale * cols as u32),
                format::time(w.scale)
            ),
            theme::DIM,
        ),
    ]);
    Block::bordered()
        .title(title)
        .title_bottom(Line::from(Span::styled(
            if session.steps.unnamed_waits {
                // Waits tokio does not name.
                format!(
                    " {} ",
                    theme::LANE_LEGEND.replace(" · |", " o other ~ not measured · |")
                )
            } else {
                format!(" {} ", theme::LANE_LEGEND)
            },
            theme::DIM,
        )))
}

/// Workers first, from the top of `inner`: which task each one ran, by the
/// task's letter. Returns the row below them.
fn worker_lanes(
    workers: &[Vec<WorkerCell>],
    letter: &dyn Fn(TaskIdx) -> char,
    inner: Rect,
    buf: &mut Buffer,
) -> u16 {
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    for (n, row) in workers.iter().enumerate() {
        if y >= bottom {
            break;
        }
        buf.set_stringn(
            inner.x,
            y,
            format!("worker {n}"),
            LABEL as usize,
            theme::HEADER,
        );
        for (c, cell) in row.iter().enumerate() {
            let (ch, style) = match cell {
                WorkerCell::Empty => continue,
                WorkerCell::Idle => ('·', theme::DIM),
                // In the task's poll, but the OS took the thread away.
                WorkerCell::OffCpu(_) => ('×', Style::new().fg(Color::Red)),
                WorkerCell::Polling(task, holding, moved) => {
                    let bg = if *holding { Color::Red } else { Color::Green };
                    let mut style = Style::new().fg(Color::Black).bg(bg);
                    if *moved {
                        style = style.add_modifier(Modifier::UNDERLINED | Modifier::BOLD);
                    }
                    (letter(*task), style)
                }
            };
            buf.set_string(inner.x + LABEL + c as u16, y, ch.to_string(), style);
        }
        y += 1;
    }
    y
}

/// The `shown` tasks' lanes, from row `y` of `inner` down: each task's
/// state over time.
fn task_lanes(
    model: &Model,
    shown: &[u32],
    tasks: &[Vec<Cell>],
    letter: &dyn Fn(TaskIdx) -> char,
    inner: Rect,
    mut y: u16,
    buf: &mut Buffer,
) {
    let bottom = inner.y + inner.height;
    for (&idx, row) in shown.iter().zip(tasks) {
        if y >= bottom {
            break;
        }
        let name = model.task(idx).map_or("?".to_string(), |t| {
            if t.kind.is_os() {
                crate::text::visible(&t.name).into_owned()
            } else {
                format!("{} {}", letter(idx), crate::text::visible(&t.name))
            }
        });
        buf.set_stringn(inner.x, y, name, LABEL as usize - 1, Style::new());
        let mut previous = Cell::Empty;
        for (c, cell) in row.iter().enumerate() {
            let first = !matches!(
                (previous, cell),
                (Cell::Waiting(a) | Cell::Due(a) | Cell::Overdue(a), Cell::Waiting(b)) if a == *b
            );
            let (ch, style) = theme::lane(*cell, first);
            buf.set_string(inner.x + LABEL + c as u16, y, ch.to_string(), style);
            previous = *cell;
        }
        y += 1;
    }
}

/// One lane per CPU: which thread or process of the run was on it, by the
/// row's letter (a slice begins in bold, where the OS gave it the CPU),
/// `·` none of them; then which row each letter is.
fn cpu_lanes(
    model: &Model,
    cpus: &[(u16, Vec<CpuCell>)],
    workers: &[Vec<WorkerCell>],
    letter: &dyn Fn(TaskIdx) -> char,
    inner: Rect,
    buf: &mut Buffer,
) {
    let bottom = inner.y + inner.height;
    let mut y = inner.y;
    if cpus.is_empty() && y < bottom {
        buf.set_stringn(
            inner.x,
            y,
            "no thread or process of this run has been on a CPU yet (v: back to tasks)",
            inner.width as usize,
            theme::DIM,
        );
        y += 1;
    }
    let mut seen: Vec<TaskIdx> = Vec::new();
    for (cpu, row) in cpus {
        if y >= bottom {
            break;
        }
        buf.set_stringn(
            inner.x,
            y,
            format!("cpu {cpu}"),
            LABEL as usize,
            theme::HEADER,
        );
        for (c, cell) in row.iter().enumerate() {
            let (ch, style) = match cell {
                CpuCell::Empty => continue,
                CpuCell::Idle => ('·', theme::DIM),
                CpuCell::Row(task, switched) => {
                    if !seen.contains(task) {
                        seen.push(*task);
                    }
                    let mut style = theme::cpu_row(*task);
                    if *switched {
                        style = style.add_modifier(Modifier::BOLD);
                    }
                    (letter(*task), style)
                }
            };
            buf.set_string(inner.x + LABEL + c as u16, y, ch.to_string(), style);
        }
        y += 1;
    }
    let below = Rect {
        y,
        height: bottom.saturating_sub(y),
        ..inner
    };
    y = worker_lanes(workers, letter, below, buf);
    // The key: each letter's row.
    for task in seen {
        if y >= bottom {
            break;
        }
        let name = model
            .task(task)
            .map_or("?".into(), |t| crate::text::visible(&t.name).into_owned());
        buf.set_stringn(
            inner.x,
            y,
            format!("{} {name}", letter(task)),
            inner.width as usize,
            theme::cpu_row(task),
        );
        y += 1;
    }
}
