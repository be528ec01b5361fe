//! The runtime panel: the workers and the queue at the moment shown, from
//! the events (scenario time, both clocks), and on the real clock
//! tokio-metrics' RuntimeMonitor figures sampled before that moment.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use super::status::fmt_time;
use super::theme;
use crate::app::Session;
use crate::model::State;
use crate::scenario::Clock;

pub fn render(session: &Session, area: Rect, buf: &mut Buffer) {
    let mut lines = Vec::new();
    let model = session.model();
    let rt = &session.scenario.runtime;
    let now = session.now();
    lines.push(Line::from(format!(
        "{} worker(s), {}",
        rt.workers,
        rt.flavor.as_str()
    )));
    // One pass over the tasks: running, ready, waiting, done.
    let mut counts = [0usize; 4];
    for t in &model.tasks {
        counts[match t.state {
            State::Running { .. } => 0,
            State::Ready => 1,
            State::Waiting(_) => 2,
            State::Done(_) => 3,
        }] += 1;
    }
    for (w, lane) in model.workers.iter().enumerate() {
        let busy = lane.busy
            + lane
                .current
                .map_or(Default::default(), |_| now.saturating_sub(lane.since));
        let share = if now.is_zero() {
            0.0
        } else {
            busy.as_secs_f64() / now.as_secs_f64()
        };
        lines.push(Line::from(format!(
            "worker {w}  busy {:>4.0}%  {} polls",
            share.min(1.0) * 100.0,
            lane.polls
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
    lines.push(Line::from(Span::styled(
        "from the events, in scenario time",
        theme::DIM,
    )));
    for (w, task, held) in session.holding() {
        let name = model.task(task).map_or("?".to_string(), |t| {
            crate::text::visible(&t.name).into_owned()
        });
        lines.push(Line::from(Span::styled(
            format!("worker {w} HELD {} by {name}", fmt_time(held)),
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
        lines.push(Line::from(format!("steals    {:>5}", r.steals)));
        lines.push(Line::from(Span::styled(
            format!(
                "tokio-metrics, the 250 ms before {} (wall time)",
                fmt_time(s.at)
            ),
            theme::DIM,
        )));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(Span::styled(" runtime ", theme::HEADER)))
        .render(area, buf);
}
