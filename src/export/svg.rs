//! A timeline picture for slides: one lane per worker and per task,
//! coloured by state, with a time axis, a legend, a title and the
//! scenario's notes as labels.

use std::fmt::Write as _;
use std::time::Duration;

use super::timeline::{Span, TaskLine, Timeline};
use crate::format::rounded;
use crate::model::RunInfo;
use crate::probe::{TaskIdx, Wait};
use crate::scenario::Scenario;

const WIDTH: f64 = 1000.0;
const LABEL_W: f64 = 140.0;
const ROW_H: f64 = 26.0;
const BAR_H: f64 = 14.0;
/// Tasks drawn at most; the rest are counted.
const MAX_ROWS: usize = 60;

const RUNNING: &str = "#40a02b";
const HOLDING: &str = "#d20f39";
const READY: &str = "#df8e1d";

fn wait_color(w: Wait) -> &'static str {
    match w {
        Wait::Timer => "#1e66f5",
        Wait::Io => "#179299",
        Wait::Channel | Wait::Lock | Wait::Join => "#8839ef",
        Wait::Blocking | Wait::Process => "#04a5e5",
        Wait::Yield => "#e5c890",
        Wait::Other => "#9ca0b0",
        Wait::Signal => "#fe640b",
    }
}

/// Text for the picture: names and notes come from files.
fn escape(s: &str) -> String {
    crate::text::xml(s)
}

/// A round step for the time axis (1, 2 or 5 times a power of ten): about
/// eight ticks.
fn tick_step(total: Duration) -> Duration {
    let target = total.as_nanos().max(8) / 8;
    let mut power: u128 = 1;
    loop {
        for m in [1, 2, 5] {
            if m * power >= target {
                return Duration::from_nanos((m * power) as u64);
            }
        }
        power *= 10;
    }
}

/// The whole picture.
pub fn render(timeline: &Timeline, info: &RunInfo, scenario: Option<&Scenario>) -> String {
    let end = timeline.end.max(Duration::from_millis(1));
    let shown = timeline.tasks.len().min(MAX_ROWS);
    let cpus = timeline.cpus();
    let rows = cpus.len() + timeline.workers.len() + shown;
    let top = 60.0;
    let height = top + rows as f64 * ROW_H + 90.0;
    let mut p = Picture {
        s: String::new(),
        end,
    };
    heading(&mut p.s, timeline, info, height);
    p.axis(top, top + rows as f64 * ROW_H);
    let mut y = top;
    for (cpu, slices) in &cpus {
        p.cpu_row(timeline, *cpu, slices, y);
        y += ROW_H;
    }
    for (w, runs) in timeline.workers.iter().enumerate() {
        p.worker_row(timeline, w, runs, y);
        y += ROW_H;
    }
    for task in timeline.tasks.iter().take(shown) {
        p.task_row(task, scenario, y);
        y += ROW_H;
    }
    let mut s = p.s;
    if timeline.tasks.len() > shown {
        let _ = writeln!(
            s,
            r##"<text x="10" y="{:.1}" fill="#555555">... and {} more tasks</text>"##,
            y + 14.0,
            timeline.tasks.len() - shown
        );
        y += ROW_H;
    }
    legend(&mut s, y);
    s.push_str("</svg>\n");
    s
}

/// The picture's opening: its size, a white background and the title.
fn heading(s: &mut String, timeline: &Timeline, info: &RunInfo, height: f64) {
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let title = format!(
        "{} · {} ({} worker{}) · {} clock · done at {}",
        info.scenario,
        info.flavor,
        info.workers,
        if info.workers == 1 { "" } else { "s" },
        info.clock,
        rounded(timeline.end)
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="24" font-size="16" font-weight="bold">{}</text>"#,
        escape(&title)
    );
}

/// The legend under the lanes, from `y` down, wrapped to the width.
fn legend(s: &mut String, y: f64) {
    let legend: [(&str, &str); 8] = [
        (RUNNING, "running"),
        (HOLDING, "running, holding its worker (cpu, block)"),
        (READY, "ready (woken, waiting for a worker)"),
        (wait_color(Wait::Timer), "waiting: timer"),
        (wait_color(Wait::Io), "waiting: io"),
        (wait_color(Wait::Channel), "waiting: channel, lock, join"),
        (
            wait_color(Wait::Blocking),
            "waiting: thread, blocking pool, process",
        ),
        (wait_color(Wait::Yield), "waiting: yield"),
    ];
    let mut lx = 10.0;
    let mut ly = y + 24.0;
    for (color, label) in legend {
        let w = 24.0 + label.chars().count() as f64 * 6.2;
        if lx + w > WIDTH - 10.0 {
            lx = 10.0;
            ly += 20.0;
        }
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="14" height="10" fill="{color}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
            ly - 9.0,
            lx + 18.0,
            escape(label)
        );
        lx += w;
    }
}

/// The picture as it is drawn: its text so far, and the end of the time
/// axis (which sets where a moment goes).
struct Picture {
    s: String,
    end: Duration,
}

impl Picture {
    /// Where time `t` is across the picture.
    fn x_of(&self, t: Duration) -> f64 {
        LABEL_W + (WIDTH - LABEL_W - 20.0) * (t.as_secs_f64() / self.end.as_secs_f64())
    }

    /// A bar from `from` to `to` in the lane at `y`, its `title` shown on
    /// hover.
    fn bar(&mut self, y: f64, from: Duration, to: Duration, color: &str, title: &str) {
        let (x1, x2) = (self.x_of(from), self.x_of(to));
        let _ = writeln!(
            self.s,
            r#"<rect x="{x1:.2}" y="{:.1}" width="{:.2}" height="{BAR_H}" fill="{color}"><title>{}</title></rect>"#,
            y + (ROW_H - BAR_H) / 2.0,
            (x2 - x1).max(0.5),
            escape(title)
        );
    }

    /// The time axis just above `top`, with grid lines down to
    /// `grid_bottom`.
    fn axis(&mut self, top: f64, grid_bottom: f64) {
        let step = tick_step(self.end);
        let axis_y = top - 12.0;
        let mut t = Duration::ZERO;
        while t <= self.end {
            let x = self.x_of(t);
            let _ = writeln!(
                self.s,
                r##"<line x1="{x:.1}" y1="{axis_y:.1}" x2="{x:.1}" y2="{grid_bottom:.1}" stroke="#dddddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#555555">{}</text>"##,
                axis_y - 4.0,
                rounded(t)
            );
            t += step;
        }
    }

    /// Worker `w`'s lane at `y`: a bar per poll it ran.
    fn worker_row(
        &mut self,
        timeline: &Timeline,
        w: usize,
        runs: &[(Duration, Duration, TaskIdx)],
        y: f64,
    ) {
        let _ = writeln!(
            self.s,
            r#"<text x="10" y="{:.1}" font-weight="bold">worker {w}</text>"#,
            y + ROW_H / 2.0 + 4.0
        );
        for (from, to, task) in runs {
            let line = timeline.tasks.get(*task as usize);
            let name = line.map_or("?".to_string(), |t| t.name.to_string());
            self.bar(
                y,
                *from,
                *to,
                "#7287fd",
                &format!("{name} {}..{}", rounded(*from), rounded(*to)),
            );
        }
    }

    /// CPU `cpu`'s lane at `y`: a bar per time slice a thread or process
    /// of the run had on it, the rows in turn in two colours.
    fn cpu_row(
        &mut self,
        timeline: &Timeline,
        cpu: u16,
        slices: &[(Duration, Duration, TaskIdx)],
        y: f64,
    ) {
        let _ = writeln!(
            self.s,
            r#"<text x="10" y="{:.1}" font-weight="bold">cpu {cpu}</text>"#,
            y + ROW_H / 2.0 + 4.0
        );
        for (from, to, row) in slices {
            let name = timeline
                .tasks
                .get(*row as usize)
                .map_or("?".to_string(), |t| t.name.to_string());
            let color = if row % 2 == 0 { "#e5a50a" } else { "#1c71d8" };
            self.bar(
                y,
                *from,
                *to,
                color,
                &format!("{name} on cpu {cpu} {}..{}", rounded(*from), rounded(*to)),
            );
        }
    }

    /// A task's lane at `y`: a bar per interval, coloured by state, and
    /// its steps' notes.
    fn task_row(&mut self, task: &TaskLine, scenario: Option<&Scenario>, y: f64) {
        let _ = writeln!(
            self.s,
            r#"<text x="10" y="{:.1}">{}</text>"#,
            y + ROW_H / 2.0 + 4.0,
            escape(&task.name)
        );
        let holds = |spec: u32, step: u32| scenario.is_some_and(|sc| sc.holds_worker(spec, step));
        for iv in &task.intervals {
            let (color, what) = match iv.span {
                Span::Running { .. } if holds(task.spec, iv.step) => {
                    (HOLDING, "holding its worker".to_string())
                }
                Span::Running { worker } if crate::event::is_cpu(worker) => {
                    (RUNNING, "on a CPU".to_string())
                }
                Span::Running { worker } => (RUNNING, format!("running on worker {worker}")),
                Span::Ready if task.kind.is_os() => {
                    (READY, "runnable: waiting for a CPU".to_string())
                }
                Span::Ready => (READY, "ready".to_string()),
                Span::Waiting(w) => (wait_color(w), format!("waiting ({})", w.as_str())),
            };
            self.bar(
                y,
                iv.start,
                iv.end,
                color,
                &format!("{what} {}..{}", rounded(iv.start), rounded(iv.end)),
            );
        }
        self.notes(task, scenario, y);
    }

    /// A task's notes in its lane at `y`, where they fit without
    /// overlapping the previous one.
    fn notes(&mut self, task: &TaskLine, scenario: Option<&Scenario>, y: f64) {
        let mut free_from = 0.0;
        for (t, step) in &task.steps {
            let note = scenario
                .and_then(|sc| sc.tasks.get(task.spec as usize))
                .and_then(|ts| ts.steps.get(*step as usize))
                .and_then(|st| st.note.as_deref());
            let Some(note) = note else { continue };
            let x = self.x_of(*t);
            if x < free_from {
                continue;
            }
            let _ = writeln!(
                self.s,
                r##"<text x="{:.1}" y="{:.1}" font-size="9" fill="#333333">{}</text>"##,
                x + 2.0,
                y + 5.0,
                escape(note)
            );
            free_from = x + crate::text::width(note) as f64 * 5.0 + 8.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_about_eight_per_picture() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            tick_step(Duration::from_millis(600)),
            Duration::from_millis(100)
        );
        assert_eq!(tick_step(Duration::from_secs(6)), Duration::from_secs(1));
        assert_eq!(
            tick_step(Duration::from_millis(40)),
            Duration::from_millis(5)
        );
    }
}
