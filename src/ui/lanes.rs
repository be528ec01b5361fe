//! Lanes: one row per worker, per mutex and channel, and per task, by
//! state over time and scrolling with it, like `go tool trace` in a
//! terminal. The cells come from the history up to the cursor
//! ([`crate::model::lanes`]); every glyph reads without colour, and the
//! legend on the block's bottom edge names every glyph drawn. The rows
//! scroll with the selected task (`▲ N more`, `▼ N more` on the edges).

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

use super::{fit, theme};
use crate::app::{App, Session};
use crate::format;
use crate::model::Model;
use crate::model::lanes::resources::ResourceCell;
use crate::model::lanes::{self, Cell, CpuCell, Window, WorkerCell};
use crate::probe::TaskIdx;

mod letters;
pub use letters::lane_letters;

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
        // Strictly more than span / cols: the last moment (a task's end)
        // falls inside the last column, not just past it.
        span.as_nanos() as u64 / cols as u64 + 1
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

/// One lane as drawn: its label and its cells.
struct Lane {
    label: String,
    style: Style,
    cells: Vec<(char, Style)>,
}

/// The lanes on screen: which rows of how many, and what they are.
struct Shown {
    lanes: Vec<Lane>,
    above: usize,
    below: usize,
}

/// The first of `total` rows to show in `rows`, so that row `focus` is
/// in view (the top when it is None or the first task is selected),
/// moving from `old` no more than it must.
pub fn scroll_top(
    total: usize,
    rows: usize,
    focus: Option<usize>,
    top_first: bool,
    old: usize,
) -> usize {
    if total <= rows || rows == 0 {
        return 0;
    }
    let max = total - rows;
    let Some(f) = focus.filter(|_| !top_first) else {
        return 0;
    };
    if f < rows {
        return 0;
    }
    let top = old.min(max);
    if f < top {
        f
    } else if f >= top + rows {
        (f + 1 - rows).min(max)
    } else {
        top
    }
}

/// The lanes' rows that stay above the tasks' (workers, mutexes and
/// channels; in the CPU view the CPUs and workers, about), and all rows.
pub fn rows_wanted(app: &App, session: &Session, tasks: usize) -> (u16, u16) {
    let workers = session.history.live().workers.len();
    let s = &session.scenario;
    let pinned = if app.cpu_view {
        workers + s.runtime.cpus.unwrap_or(2)
    } else {
        workers + s.mutexes.len() + s.channels.len()
    };
    let all = if app.cpu_view {
        pinned + tasks.min(8)
    } else {
        pinned + tasks
    };
    (pinned.min(999) as u16, all.min(999) as u16)
}

pub fn render(app: &App, session: &Session, visible: &[u32], area: Rect, buf: &mut Buffer) {
    let now = session.now();
    let cols = area.width.saturating_sub(LABEL + 2).max(1) as usize;
    let fit_run = session.ended && session.history.at_live_edge();
    let w = window(now, cols, fit_run, app.zoom);
    app.drawn.lanes_scale.set(w.scale);
    app.drawn
        .lanes_auto
        .set(window(now, cols, fit_run, None).scale);
    let rows = usize::from(area.height.saturating_sub(2));
    let letters = lane_letters(session.history.live());
    let letter = |t: TaskIdx| letters.get(t as usize).copied().unwrap_or('?');
    let shown = if app.cpu_view {
        cpu_view(app, session, &w, rows, &letter)
    } else {
        task_view(app, session, visible, &w, rows, &letter)
    };
    let mut used = 0u64;
    // A lane without a label is words (there is nothing to draw), not glyphs.
    for lane in shown.lanes.iter().filter(|l| !l.label.is_empty()) {
        for (c, _) in &lane.cells {
            if let Some(i) = theme::legend_entry(*c) {
                used |= 1 << i;
            }
        }
    }
    let block = block(&w, cols, app.zoom.is_some(), &shown, used, area.width);
    let inner = block.inner(area);
    block.render(area, buf);
    for (y, lane) in (inner.y..inner.y + inner.height).zip(&shown.lanes) {
        let label = fit::cut_middle(&lane.label, LABEL as usize - 1, 3);
        buf.set_string(inner.x, y, label, lane.style);
        for (c, (ch, style)) in lane.cells.iter().enumerate() {
            if *ch == '\0' {
                continue;
            }
            let x = inner.x + LABEL + c as u16;
            if x < inner.x + inner.width {
                buf.set_string(x, y, ch.to_string(), *style);
            }
        }
    }
}

/// Workers, then the mutexes and channels, then the tasks of the table:
/// the rows around the selected task's.
fn task_view(
    app: &App,
    session: &Session,
    visible: &[u32],
    w: &Window,
    rows: usize,
    letter: &dyn Fn(TaskIdx) -> char,
) -> Shown {
    let model = session.model();
    let cursor = session.history.cursor();
    let s = &session.scenario;
    let uses = |spec, step| session.step_use(spec, step);
    let resources = lanes::resources::compute(
        &session.history,
        cursor,
        w,
        s.mutexes.len(),
        s.channels.len(),
        uses,
    );
    let pinned = model
        .workers
        .len()
        .max(session.history.live().workers.len())
        + resources.len();
    let selected = app.selected.min(visible.len().saturating_sub(1));
    // The workers, mutexes and channels stay at the top while they leave
    // a row for the tasks; the tasks scroll beneath them. (Else the whole
    // list scrolls.)
    let (fixed, task_rows) = if pinned < rows {
        (pinned, rows - pinned)
    } else {
        (0, rows)
    };
    let total = if fixed > 0 {
        visible.len()
    } else {
        pinned + visible.len()
    };
    let focus = (!visible.is_empty()).then_some(selected + if fixed > 0 { 0 } else { pinned });
    let top = scroll_top(
        total,
        task_rows,
        focus,
        selected == 0,
        app.drawn.lanes_top.get(),
    );
    app.drawn.lanes_top.set(top);
    let end = (top + task_rows).min(total);
    // Where the window's task rows start in `visible` (the list's first
    // `pinned` rows are not tasks when the whole list scrolls).
    let skip = if fixed > 0 { 0 } else { pinned };
    // Only the task rows on screen are computed (100,000 would not be).
    let tasks: Vec<u32> = visible
        .iter()
        .skip(top.saturating_sub(skip))
        .take(end.saturating_sub(skip.max(top)))
        .copied()
        .collect();
    let cells = lanes::compute(&session.history, cursor, w, &tasks, |spec, step| {
        session.holds_worker(spec, step)
    });
    let mut lanes: Vec<Lane> = Vec::new();
    let pinned_lanes = cells
        .workers
        .iter()
        .enumerate()
        .map(|(n, row)| worker_lane(n, row, letter))
        .chain(
            resources
                .iter()
                .enumerate()
                .map(|(i, row)| resource_lane(session, i, row, letter)),
        );
    for (i, lane) in pinned_lanes.enumerate() {
        if fixed > 0 || (i >= top && i < end) {
            lanes.push(lane);
        }
    }
    let chosen = visible.get(selected).copied();
    lanes.extend(task_lanes(session, w, &tasks, &cells.tasks, chosen, letter));
    Shown {
        lanes,
        above: top,
        below: total - end,
    }
}

/// The CPUs, then the workers (which task each polls), then which row
/// each letter is: the rows around the selected task's.
fn cpu_view(
    app: &App,
    session: &Session,
    w: &Window,
    rows: usize,
    letter: &dyn Fn(TaskIdx) -> char,
) -> Shown {
    let model = session.model();
    let cursor = session.history.cursor();
    let cpus = lanes::compute_cpus(&session.history, cursor, w);
    let workers = lanes::compute(&session.history, cursor, w, &[], |spec, step| {
        session.holds_worker(spec, step)
    });
    let mut all: Vec<Lane> = Vec::new();
    if cpus.is_empty() {
        // Only threads, processes and pinned workers have a known CPU.
        let virtual_clock = session.scenario.runtime.clock == crate::scenario::Clock::Virtual;
        let none = if virtual_clock {
            "the virtual clock keeps no time of the OS's: no CPU lanes (v: lanes by task)"
        } else if session.ended && session.history.at_live_edge() {
            "this run had no thread or process of its own on a CPU (v: lanes by task)"
        } else {
            "no thread or process of this run on a CPU yet (v: lanes by task)"
        };
        all.push(Lane {
            label: String::new(),
            style: theme::DIM,
            cells: fit::cut(none, w.cols.saturating_sub(1))
                .chars()
                .map(|c| (c, theme::DIM))
                .collect(),
        });
    }
    let mut seen: Vec<TaskIdx> = Vec::new();
    for (cpu, row) in &cpus {
        all.push(cpu_lane(*cpu, row, letter, &mut seen));
    }
    for (n, row) in workers.workers.iter().enumerate() {
        all.push(worker_lane(n, row, letter));
    }
    let pinned = all.len();
    let chosen = app.selected_task();
    let mut focus = None;
    for task in seen {
        if Some(task) == chosen {
            focus = Some(all.len());
        }
        let name = model
            .task(task)
            .map_or("?".into(), |t| crate::text::visible(&t.name).into_owned());
        all.push(Lane {
            label: format!("{} {name}", letter(task)),
            style: theme::cpu_row(task),
            cells: Vec::new(),
        });
    }
    let total = all.len();
    let top = scroll_top(
        total,
        rows,
        focus,
        pinned >= rows && app.selected == 0,
        app.drawn.lanes_top.get(),
    );
    app.drawn.lanes_top.set(top);
    let end = (top + rows).min(total);
    Shown {
        lanes: all.into_iter().skip(top).take(rows).collect(),
        above: top,
        below: total - end,
    }
}

/// The lanes' frame: the window of time in the title, the legend of the
/// glyphs drawn on the bottom edge, and how many rows are out of view.
fn block(
    w: &Window,
    cols: usize,
    zoomed: bool,
    shown: &Shown,
    used: u64,
    width: u16,
) -> Block<'static> {
    let more = |n: usize, arrow: char| {
        (n > 0).then(|| {
            Line::from(Span::styled(format!(" {arrow} {n} more "), theme::KEY)).right_aligned()
        })
    };
    let (up, down) = (more(shown.above, '▲'), more(shown.below, '▼'));
    let room = |marker: &Option<Line>| {
        usize::from(width.saturating_sub(3)).saturating_sub(marker.as_ref().map_or(0, Line::width))
    };
    let title = fit::spans(
        vec![
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
        ],
        room(&up),
    );
    let legend = theme::legend(used);
    let mut block = Block::bordered().title(Line::from(title));
    if !legend.is_empty() {
        let text = fit::cut(&format!(" {legend}"), room(&down).saturating_sub(1));
        block = block.title_bottom(Line::from(Span::styled(format!("{text} "), theme::DIM)));
    }
    if let Some(up) = up {
        block = block.title(up);
    }
    if let Some(down) = down {
        block = block.title_bottom(down);
    }
    block
}

/// A worker's lane: which task it ran, by the task's letter.
fn worker_lane(n: usize, row: &[WorkerCell], letter: &dyn Fn(TaskIdx) -> char) -> Lane {
    let mut previous = WorkerCell::Empty;
    // Whether the poll drawn now had its steal marked: once a poll, on its
    // first column on the CPU (a column the OS took is `×`).
    let mut marked = false;
    let cells = row
        .iter()
        .map(|cell| {
            if let WorkerCell::Polling(task, ..) | WorkerCell::OffCpu(task) = *cell {
                // The same poll on after the OS gave the thread back is no
                // new poll (and no new steal).
                let same = matches!(previous,
                    WorkerCell::Polling(t, ..) | WorkerCell::OffCpu(t) if t == task);
                marked &= same;
            }
            let drawn = match *cell {
                WorkerCell::Empty => ('\0', Style::new()),
                WorkerCell::Idle => ('·', theme::DIM),
                // In the task's poll, but the OS took the thread away.
                WorkerCell::OffCpu(_) => ('×', Style::new().fg(Color::Red)),
                WorkerCell::Polling(task, holding, stolen) => {
                    let mark = stolen && !marked;
                    marked |= mark;
                    theme::polling(letter(task), holding, stolen, mark)
                }
            };
            previous = *cell;
            drawn
        })
        .collect();
    Lane {
        label: format!("worker {n}"),
        style: theme::HEADER,
        cells,
    }
}

/// Mutex `i`'s lane (who holds it), or a channel's (how many messages
/// it holds; red when full).
fn resource_lane(
    session: &Session,
    i: usize,
    row: &[ResourceCell],
    letter: &dyn Fn(TaskIdx) -> char,
) -> Lane {
    let s = &session.scenario;
    let mutexes = s.mutexes.len();
    let (label, capacity) = match s.mutexes.get(i) {
        Some(m) => (format!("lock {}", crate::text::visible(m)), 0),
        None => {
            let ch = &s.channels[i - mutexes];
            (
                format!("chan {}", crate::text::visible(&ch.name)),
                ch.capacity as u64,
            )
        }
    };
    let cells = row
        .iter()
        .map(|cell| match *cell {
            ResourceCell::Empty => ('\0', Style::new()),
            ResourceCell::Free => ('·', theme::DIM),
            ResourceCell::Held(t) => (letter(t), Style::new().fg(Color::Black).bg(Color::Magenta)),
            ResourceCell::Fill(n) => {
                let c = char::from_digit(n.min(10) as u32, 10).unwrap_or('+');
                let style = if n >= capacity {
                    Style::new()
                        .fg(Color::Red)
                        .add_modifier(ratatui::style::Modifier::BOLD)
                } else if n == 0 {
                    theme::DIM
                } else {
                    Style::new().fg(Color::Yellow)
                };
                (c, style)
            }
        })
        .collect();
    Lane {
        label,
        style: Style::new().fg(Color::Magenta),
        cells,
    }
}

/// A task's lane: its state over time (its label reversed when selected).
/// The lanes of `tasks`, whose cells are `rows` (`chosen`: the selected
/// task's).
fn task_lanes(
    session: &Session,
    w: &Window,
    tasks: &[TaskIdx],
    rows: &[Vec<Cell>],
    chosen: Option<TaskIdx>,
    letter: &dyn Fn(TaskIdx) -> char,
) -> Vec<Lane> {
    let model = session.model();
    // Your own code: how much of each column a task ran (a task that
    // runs 2 ms in 8 s is not drawn as busy).
    let own = session.steps.unnamed_waits;
    let cursor = session.history.cursor();
    let shares = own
        .then(|| lanes::run_shares(&session.history, cursor, w, tasks))
        .flatten();
    let lane = |(i, (&idx, row)): (usize, (&TaskIdx, &Vec<Cell>))| {
        let selected = chosen == Some(idx);
        if own {
            let share = shares.as_ref().and_then(|s| s.get(i));
            own_code_lane(model, idx, row, share, letter, selected)
        } else {
            task_lane(model, idx, row, letter, selected)
        }
    };
    tasks.iter().zip(rows).enumerate().map(lane).collect()
}

/// Your own code's task lane: an io wait with no reply due is a socket
/// waited on (no lesson's connect phase: `i`, not `n`), and a running
/// cell shows how much of its column (`share`, in eighths) the task ran.
fn own_code_lane(
    model: &Model,
    idx: TaskIdx,
    row: &[Cell],
    share: Option<&Vec<u8>>,
    letter: &dyn Fn(TaskIdx) -> char,
    selected: bool,
) -> Lane {
    let row: Vec<Cell> = row
        .iter()
        .map(|c| match c {
            Cell::Connecting => Cell::Waiting(crate::probe::Wait::Io),
            c => *c,
        })
        .collect();
    let mut lane = task_lane(model, idx, &row, letter, selected);
    if let Some(share) = share {
        for ((ch, _), (cell, eighths)) in lane.cells.iter_mut().zip(row.iter().zip(share)) {
            if *cell == Cell::Running {
                *ch = theme::share_glyph(*eighths);
            }
        }
    }
    lane
}

fn task_lane(
    model: &Model,
    idx: TaskIdx,
    row: &[Cell],
    letter: &dyn Fn(TaskIdx) -> char,
    selected: bool,
) -> Lane {
    let label = model.task(idx).map_or("?".to_string(), |t| {
        if t.kind.is_os() {
            crate::text::visible(&t.name).into_owned()
        } else {
            format!("{} {}", letter(idx), crate::text::visible(&t.name))
        }
    });
    let mut previous = Cell::Empty;
    let cells = row
        .iter()
        .map(|cell| {
            let first = !matches!(
                (previous, cell),
                (Cell::Waiting(a) | Cell::Due(a) | Cell::Overdue(a), Cell::Waiting(b)) if a == *b
            ) && !matches!((previous, cell), (Cell::Connecting, Cell::Connecting));
            previous = *cell;
            let (ch, style) = theme::lane(*cell, first);
            (if *cell == Cell::Empty { '\0' } else { ch }, style)
        })
        .collect();
    Lane {
        label,
        style: if selected {
            theme::SELECTED
        } else {
            Style::new()
        },
        cells,
    }
}

/// One lane per CPU: which thread or process of the run was on it, by the
/// row's letter (a slice begins in bold, where the OS gave it the CPU),
/// `·` none of them. Adds the rows seen to `seen`.
fn cpu_lane(
    cpu: u16,
    row: &[CpuCell],
    letter: &dyn Fn(TaskIdx) -> char,
    seen: &mut Vec<TaskIdx>,
) -> Lane {
    let cells = row
        .iter()
        .map(|cell| match *cell {
            CpuCell::Empty => ('\0', Style::new()),
            // Idle, or busy with a program taskscope does not watch.
            CpuCell::Idle => ('◦', theme::DIM),
            CpuCell::Row(task, switched) => {
                if !seen.contains(&task) {
                    seen.push(task);
                }
                let mut style = theme::cpu_row(task);
                if switched {
                    style = style.add_modifier(ratatui::style::Modifier::BOLD);
                }
                (letter(task), style)
            }
        })
        .collect();
    Lane {
        label: format!("cpu {cpu}"),
        style: theme::HEADER,
        cells,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steal_is_marked_once_a_poll_even_when_the_os_took_its_first_column() {
        let _limit = crate::test_limit::limit();
        use WorkerCell::{Idle, OffCpu, Polling};
        let row = [
            OffCpu(1),
            Polling(1, false, true),
            OffCpu(1),
            Polling(1, false, true),
            Idle,
            Polling(2, false, true),
            Polling(2, false, true),
        ];
        let lane = worker_lane(1, &row, &|t| if t == 1 { 'U' } else { 'C' });
        let drawn: String = lane.cells.iter().map(|(c, _)| *c).collect();
        assert_eq!(drawn, "×»×U·»C");
    }
}
