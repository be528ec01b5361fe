//! The runtime panel: the workers and the queue at the moment shown, from
//! the events (scenario time, both clocks), and on the real clock
//! tokio-metrics' RuntimeMonitor figures sampled before that moment.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use super::theme;
use crate::app::Session;
use crate::format;
use crate::model::State;
use crate::scenario::Clock;

/// The panel's essentials on one line, for screens too narrow for it.
pub fn folded(session: &Session, area: Rect, buf: &mut Buffer) {
    let model = session.model();
    let now = session.now();
    let mut parts = Vec::new();
    for (w, lane) in model.workers.iter().enumerate() {
        parts.push(format!(
            "worker {w} busy {:.0}%",
            busy_share(lane, now) * 100.0
        ));
    }
    let ready = model
        .tasks
        .iter()
        .filter(|t| t.state == State::Ready && !t.kind.is_os())
        .count();
    parts.push(format!("ready queue {ready}"));
    // What lessons ask to watch (steals, locks, channels) before switches.
    if model.workers.len() > 1 {
        parts.push(format!("steals so far {}", model.steals));
    }
    parts.extend(resource_lines(session));
    parts.push(format!("switches {}", model.switches));
    let spans = vec![
        Span::styled(" runtime: ", theme::HEADER),
        Span::styled(parts.join(" · "), theme::DIM),
    ];
    super::fit::line(spans, ratatui::style::Style::new(), area, buf);
}

/// Each mutex's holder and queue, each channel's fill (names from the
/// scenario, shown through the sanitizer).
fn resource_lines(session: &Session) -> Vec<String> {
    let s = &session.scenario;
    if s.mutexes.is_empty() && s.channels.is_empty() {
        return Vec::new();
    }
    let model = session.model();
    let name = |t: u32| {
        model.task(t).map_or("?".to_string(), |t| {
            crate::text::visible(&t.name).into_owned()
        })
    };
    let r = session.resources();
    let mut out = Vec::new();
    for (m, mutex) in s.mutexes.iter().enumerate() {
        let holder = r.holders[m].map_or("free".to_string(), |h| format!("held by {}", name(h)));
        let queue: Vec<String> = r.queues[m].iter().map(|t| name(*t)).collect();
        let mutex = crate::text::visible(mutex);
        out.push(if queue.is_empty() {
            format!("{mutex}: {holder}")
        } else {
            format!("{mutex}: {holder}, queue {}", queue.join(" "))
        });
    }
    for (c, ch) in s.channels.iter().enumerate() {
        out.push(format!(
            "{}: {} of {} full",
            crate::text::visible(&ch.name),
            r.fill[c],
            ch.capacity
        ));
    }
    out
}

/// Share of the time so far a worker spent polling.
fn busy_share(lane: &crate::model::WorkerView, now: std::time::Duration) -> f64 {
    let busy = lane.busy
        + lane
            .current
            .map_or(Default::default(), |_| now.saturating_sub(lane.since));
    if now.is_zero() {
        0.0
    } else {
        (busy.as_secs_f64() / now.as_secs_f64()).min(1.0)
    }
}

pub fn render(session: &Session, area: Rect, buf: &mut Buffer) {
    let mut lines = Vec::new();
    let model = session.model();
    let rt = &session.scenario.runtime;
    let now = session.now();
    lines.push(Line::from(format!(
        "{}, {}",
        crate::format::count(rt.workers as u64, "worker", "workers"),
        rt.flavor.as_str()
    )));
    // One pass over the tasks: running, ready, waiting, done.
    let mut counts = [0usize; 4];
    for t in model.tasks.iter().filter(|t| !t.kind.is_os()) {
        counts[match t.state {
            State::Running { .. } => 0,
            State::Ready => 1,
            State::Waiting(_) => 2,
            State::Done(_) => 3,
        }] += 1;
    }
    for (w, lane) in model.workers.iter().enumerate() {
        lines.push(Line::from(format!(
            "worker {w}  busy {:>4.0}%  {}",
            busy_share(lane, now) * 100.0,
            crate::format::count(lane.polls, "poll", "polls")
        )));
    }
    lines.push(Line::from(format!("ready queue {:>6}", counts[1])));
    for (label, n) in [
        ("running", counts[0]),
        ("waiting", counts[2]),
        ("done   ", counts[3]),
    ] {
        lines.push(Line::from(format!("{label}     {n:>6}")));
    }
    lines.push(Line::from(format!("switches    {:>6}", model.switches)));
    if model.workers.len() > 1 {
        lines.push(Line::from(format!("steals      {:>6}", model.steals)));
    }
    for line in resource_lines(session) {
        lines.push(Line::from(line));
    }
    lines.push(Line::from(Span::styled(
        "from the events, in scenario time",
        theme::DIM,
    )));
    for (w, task, held) in session.holding() {
        let name = model.task(task).map_or("?".to_string(), |t| {
            crate::text::visible(&t.name).into_owned()
        });
        lines.push(Line::from(Span::styled(
            format!("worker {w} HELD {} by {name}", format::time(held)),
            theme::ERROR,
        )));
    }
    if rt.clock == Clock::Real
        && let Some(s) = session.sample()
    {
        let r = &s.runtime;
        lines.push(Line::from(""));
        lines.push(Line::from(format!(
            "busy      {:>5.0}%",
            r.busy_ratio * 100.0
        )));
        lines.push(Line::from(format!(
            "queue     {:>5} global",
            r.global_queue
        )));
        lines.push(Line::from(format!("          {:>5} local", r.local_queues)));
        lines.push(Line::from(format!(
            "blocking  {:>5} queued",
            r.blocking_queue
        )));
        lines.push(Line::from(format!(
            "          {:>5} threads",
            r.blocking_threads
        )));
        lines.push(Line::from(format!("polls     {:>5}", r.polls)));
        lines.push(Line::from(Span::styled(
            format!(
                "tokio-metrics, the 250 ms before {} (wall time)",
                format::time(s.at)
            ),
            theme::DIM,
        )));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(Span::styled(" runtime ", theme::HEADER)))
        .render(area, buf);
}
