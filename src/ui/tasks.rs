//! The task table: one row per task, only the rows in view drawn, every
//! cell fitted to its column (a cut ends in `…`), scrolling with the
//! selection (`▲ N more`, `▼ N more` on the edges).

use std::collections::HashMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

use super::status::fmt_count;
use super::{fit, theme};
use crate::app::words::{state_text, step_text};
use crate::app::{App, Session};
use crate::format;
use crate::model::State;
use crate::text;

/// The columns a table of this width shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Id,
    State,
    Step,
    Polls,
    Busy,
    Sched,
    FirstPoll,
    Idle,
    Slow,
}

impl Column {
    fn title(self) -> &'static str {
        match self {
            Column::Name => "task",
            Column::Id => "id",
            Column::State => "state",
            Column::Step => "step",
            Column::Polls => "polls",
            Column::Busy => "busy",
            Column::Sched => "sched",
            Column::FirstPoll => "1st poll",
            Column::Idle => "idle",
            Column::Slow => "slow",
        }
    }

    /// A figure's width (the rest are sized to what they show).
    fn figure(self) -> Option<u16> {
        match self {
            Column::Polls => Some(5),
            Column::Slow => Some(4),
            Column::Busy | Column::Sched | Column::FirstPoll | Column::Idle => Some(8),
            _ => None,
        }
    }
}

/// The columns for an inner width of `w` (`labelled`: tasks have steps).
fn columns(w: u16, labelled: bool) -> Vec<Column> {
    use Column::*;
    let mut c = vec![Name];
    if w >= 98 {
        c.push(Id);
    }
    c.push(State);
    if labelled {
        c.push(Step);
    }
    if w >= 70 || !labelled {
        c.push(Polls);
    }
    if w >= 98 || (!labelled && w >= 60) {
        c.extend([Busy, Sched, FirstPoll]);
    }
    if w >= 138 || (!labelled && w >= 98) {
        c.push(Idle);
    }
    if w >= 98 {
        c.push(Slow);
    }
    c
}

/// One row's cells, in the order of [`Column`]s.
struct RowText {
    name: (String, Style),
    id: String,
    state: (String, Style),
    step: (String, String),
    figures: [String; 6],
}

pub fn render(app: &App, session: &Session, visible: &[u32], area: Rect, buf: &mut Buffer) {
    let model = session.model();
    let rows = usize::from(area.height.saturating_sub(3));
    app.drawn.page.set(rows.max(1));
    let selected = app.selected.min(visible.len().saturating_sub(1));
    // Keep the selection in view, moving no more than it must.
    let old = app.drawn.table_top.get();
    let max_top = visible.len().saturating_sub(rows);
    let top = if selected < old {
        selected
    } else if rows > 0 && selected >= old + rows {
        selected + 1 - rows
    } else {
        old
    }
    .min(max_top);
    app.drawn.table_top.set(top);
    let shown: Vec<u32> = visible.iter().skip(top).take(rows).copied().collect();
    let below = visible.len().saturating_sub(top + shown.len());
    let folded = app.folds_done().then(|| folded(model));
    let block = frame(
        visible.len(),
        model.tasks.len(),
        top,
        below,
        folded,
        area.width,
    );
    let inner = block.inner(area);
    block.render(area, buf);
    let holding = session.holding();
    let texts: Vec<RowText> = shown
        .iter()
        .map(|&idx| row_text(session, idx, holding.iter().any(|h| h.1 == idx)))
        .collect();
    // One column stays free before the border.
    let room = inner.width.saturating_sub(1);
    let cols = columns(room, session.steps.labelled);
    // The name column as wide as the widest name (of a few thousand at
    // most), so it does not jump as the table scrolls.
    let widest_name = (visible.len() <= 4096).then(|| {
        visible
            .iter()
            .filter_map(|i| model.task(*i))
            .map(|t| fit::width(&text::visible(&t.name)) + 2)
            .max()
            .unwrap_or(0)
    });
    let widths = widths(&cols, &texts, room, widest_name);
    let header: Vec<(String, Style)> = cols
        .iter()
        .map(|c| (c.title().to_string(), theme::HEADER))
        .collect();
    draw_row(&cols, &widths, &header, None, inner, 0, buf);
    for (i, t) in texts.iter().enumerate() {
        let y = 1 + i as u16;
        let cells: Vec<(String, Style)> = cols.iter().map(|c| cell(*c, t)).collect();
        let row_style = (top + i == selected).then_some(theme::SELECTED);
        draw_row(&cols, &widths, &cells, row_style, inner, y, buf);
        if let Some(step_col) = cols.iter().position(|c| *c == Column::Step) {
            let x = inner.x + widths[..step_col].iter().map(|w| w + 1).sum::<u16>();
            let spans = vec![
                Span::raw(t.step.0.clone()),
                Span::styled(format!(" {}", t.step.1), theme::DIM),
            ];
            let line = Line::from(fit::spans(spans, usize::from(widths[step_col])));
            let area = Rect::new(x, inner.y + y, widths[step_col], 1);
            line.style(row_style.unwrap_or_default()).render(area, buf);
        }
    }
}

/// Tasks whose names are counted for the folded line at most (a count
/// by name of more would take too long a frame).
const FOLD_NAMES_UP_TO: usize = 200_000;

/// The finished tasks folded away: how many, and the names most of them
/// have (`conn 3,000 · src/main.rs:40 112`; empty when none is done, or
/// too many tasks to count by name in a frame).
fn folded(model: &crate::model::Model) -> (usize, String) {
    let done = model
        .tasks
        .iter()
        .filter(|t| matches!(t.state, State::Done(_)));
    let count = done.clone().count();
    let mut names = String::new();
    if count > 0 && model.tasks.len() <= FOLD_NAMES_UP_TO {
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        for t in done {
            *by_name.entry(&t.name).or_default() += 1;
        }
        let mut most: Vec<(&str, usize)> = by_name.into_iter().collect();
        most.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = most
            .iter()
            .take(3)
            .map(|(name, n)| format!("{} {}", text::visible(name), fmt_count(*n as u64)))
            .collect();
        names = shown.join(" · ");
        if most.len() > 3 {
            names.push_str(" · …");
        }
    }
    (count, names)
}

/// The table's frame: how many tasks it shows of how many, how many
/// finished ones are folded (and their names), and how many rows are out
/// of view above and below.
fn frame(
    visible: usize,
    all: usize,
    above: usize,
    below: usize,
    folded: Option<(usize, String)>,
    width: u16,
) -> Block<'static> {
    let mut title = vec![
        Span::styled(" tasks ", theme::HEADER),
        Span::styled(format!("{visible} of {all} "), theme::DIM),
    ];
    if let Some((count, _)) = &folded {
        title.push(Span::styled(
            format!(
                "· {} done, folded (d shows them) ",
                fmt_count(*count as u64)
            ),
            theme::DIM,
        ));
    }
    let mut block = Block::bordered().title(Line::from(title));
    let more = |n: usize, arrow: char| {
        Line::from(Span::styled(format!(" {arrow} {n} more "), theme::KEY)).right_aligned()
    };
    if above > 0 {
        block = block.title(more(above, '▲'));
    }
    if below > 0 {
        block = block.title_bottom(more(below, '▼'));
    }
    if let Some((_, names)) = folded.filter(|(_, names)| !names.is_empty()) {
        // Room is left for the `▼ N more` marker (they are short: it wins).
        let room = usize::from(width).saturating_sub(if below > 0 { 18 } else { 4 });
        let line = format!(" done: {names} ");
        block = block.title_bottom(Line::from(Span::styled(fit::cut(&line, room), theme::DIM)));
    }
    block
}

/// Task `idx`'s row (`holds`: it holds its worker).
fn row_text(session: &Session, idx: u32, holds: bool) -> RowText {
    let t = &session.model().tasks[idx as usize];
    let (symbol, style) = theme::state(&t.state, holds);
    // From the events up to the moment shown: they grow live.
    let mut f = t.figures(session.now());
    // A thread or process that ended: the OS's exact figures.
    if let Some(os) = t.stats.as_ref().and_then(|s| s.os) {
        f.busy = os.cpu;
        f.scheduled = os.runqueue;
    }
    let os = t.kind.is_os();
    let count = |n: u64| if os { "-".to_string() } else { fmt_count(n) };
    RowText {
        name: (format!("{symbol} {}", text::visible(&t.name)), style),
        id: if os && t.id == 0 {
            "-".to_string()
        } else {
            t.id.to_string()
        },
        state: (state_text(session, idx, holds), style),
        step: step_text(session, idx),
        figures: [
            count(f.polls),
            format::time(f.busy),
            format::time(f.scheduled),
            if os {
                "-".into()
            } else {
                format::time(f.first_poll)
            },
            format::time(f.idle),
            count(t.slow_polls),
        ],
    }
}

fn cell(c: Column, t: &RowText) -> (String, Style) {
    let plain = |s: &String| (s.clone(), Style::new());
    match c {
        Column::Name => t.name.clone(),
        Column::Id => plain(&t.id),
        Column::State => t.state.clone(),
        // Drawn apart: a label and a dimmer note.
        Column::Step => (String::new(), Style::new()),
        Column::Polls => plain(&t.figures[0]),
        Column::Busy => plain(&t.figures[1]),
        Column::Sched => plain(&t.figures[2]),
        Column::FirstPoll => plain(&t.figures[3]),
        Column::Idle => plain(&t.figures[4]),
        Column::Slow => plain(&t.figures[5]),
    }
}

/// Each column's width in `room` columns (one space between them): the
/// figures theirs, the name, id and state as wide as what they show (up
/// to a cap), the step the rest (`widest_name`: of all the table's rows,
/// when known, so the column does not jump while scrolling).
fn widths(cols: &[Column], rows: &[RowText], room: u16, widest_name: Option<usize>) -> Vec<u16> {
    let widest = |f: &dyn Fn(&RowText) -> String, title: &str| {
        rows.iter()
            .map(|r| fit::width(&f(r)))
            .chain(std::iter::once(title.len()))
            .max()
            .unwrap_or(0) as u16
    };
    let narrow = room < 98;
    let name_cap = if narrow { 14 } else { 18 };
    // At least 16 on a wide table (the figures have room to spare).
    let name_min = if narrow { 6 } else { 16 };
    let name = match widest_name {
        Some(w) => (w.min(usize::from(name_cap)) as u16).max(widest(&|r| r.name.0.clone(), "task")),
        None => name_cap,
    }
    .clamp(name_min, name_cap);
    let id = widest(&|r| r.id.clone(), "id");
    let state = widest(&|r| r.state.0.clone(), "state").clamp(5, if narrow { 20 } else { 24 });
    let mut w: Vec<u16> = cols
        .iter()
        .map(|c| match c {
            Column::Name => name,
            Column::Id => id,
            Column::State => state,
            Column::Step => 0,
            other => other.figure().unwrap_or(0),
        })
        .collect();
    let used: u16 = w.iter().sum::<u16>() + cols.len().saturating_sub(1) as u16;
    let left = room.saturating_sub(used);
    if let Some(i) = cols.iter().position(|c| *c == Column::Step) {
        w[i] = left;
        // A step column too narrow to read: the state gives some back.
        let min = 12.min(room / 4);
        if w[i] < min
            && let Some(s) = cols.iter().position(|c| *c == Column::State)
        {
            let give = (min - w[i]).min(w[s].saturating_sub(10));
            w[s] -= give;
            w[i] += give;
        }
    } else if let Some(s) = cols.iter().position(|c| *c == Column::State) {
        w[s] += left;
    }
    w
}

/// A name cut to `cols` columns: a spawn place (`src/bin/server.rs:38`,
/// your own code's unnamed tasks) keeps its file and line, which tell
/// places apart (`‖ src/…server.rs:38`); any other name keeps its start.
fn cut_name(name: &str, cols: usize) -> String {
    let is_place = name
        .rsplit_once(':')
        .is_some_and(|(_, line)| !line.is_empty() && line.chars().all(|c| c.is_ascii_digit()));
    if !is_place {
        return fit::cut(name, cols);
    }
    let file_and_line = name.rsplit('/').next().unwrap_or(name);
    let tail = file_and_line.chars().count().min(cols.saturating_sub(5));
    fit::cut_middle(name, cols, tail)
}

/// Draws one row of cells at row `y` of `inner`, each cut to its column
/// (left aligned, figures too: a column reads from its start).
fn draw_row(
    cols: &[Column],
    widths: &[u16],
    cells: &[(String, Style)],
    row_style: Option<Style>,
    inner: Rect,
    y: u16,
    buf: &mut Buffer,
) {
    if y >= inner.height {
        return;
    }
    let y = inner.y + y;
    if let Some(style) = row_style {
        buf.set_style(Rect::new(inner.x, y, inner.width, 1), style);
    }
    let mut x = inner.x;
    for ((c, w), (text, style)) in cols.iter().zip(widths).zip(cells) {
        let shown = match c {
            Column::Name => cut_name(text, usize::from(*w)),
            _ => fit::cut(text, usize::from(*w)),
        };
        let style = row_style.map_or(*style, |r| style.patch(r));
        buf.set_string(x, y, shown, style);
        x += w + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::cut_name;

    #[test]
    fn a_spawn_place_keeps_its_file_and_line_when_cut() {
        let _limit = crate::test_limit::limit();
        assert_eq!(cut_name("‖ src/bin/server.rs:38", 18), "‖ src…server.rs:38");
        assert_eq!(
            cut_name("‖ src/bin/server.rs:38", 30),
            "‖ src/bin/server.rs:38"
        );
        assert_eq!(cut_name("‖ a-very-long-task-name", 12), "‖ a-very-lo…");
        assert_eq!(cut_name("‖ time:12s", 8), "‖ time:…");
    }
}
