//! The runtime panel: tokio-metrics' RuntimeMonitor figures, and which
//! workers are held right now.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use super::status::fmt_time;
use super::theme;
use crate::app::Session;
use crate::model::State;

pub fn render(session: &Session, area: Rect, buf: &mut Buffer) {
    let mut lines = Vec::new();
    let model = session.model();
    let rt = &session.scenario.runtime;
    lines.push(Line::from(format!(
        "{} worker(s), {}",
        rt.workers,
        rt.flavor.as_str()
    )));
    match &session.sample {
        Some(s) => {
            let r = &s.runtime;
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
            lines.push(Line::from(format!("polls     {:>5} /sample", r.polls)));
            lines.push(Line::from(format!("steals    {:>5}", r.steals)));
            lines.push(Line::from(Span::styled(
                "tokio-metrics, every 250 ms (wall time)",
                theme::DIM,
            )));
        }
        None => lines.push(Line::from(Span::styled(
            "(no runtime sample yet)",
            theme::DIM,
        ))),
    }
    lines.push(Line::from(""));
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
    for (label, n) in ["running", "ready  ", "waiting", "done   "]
        .iter()
        .zip(counts)
    {
        lines.push(Line::from(format!("{label} {n:>6}")));
    }
    lines.push(Line::from(format!("switches {:>5}", model.switches)));
    for (w, task, held) in session.holding() {
        let name = model
            .task(task)
            .map_or("?".to_string(), |t| t.name.to_string());
        lines.push(Line::from(Span::styled(
            format!("worker {w} HELD {} by {name}", fmt_time(held)),
            theme::ERROR,
        )));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(Span::styled(" runtime ", theme::HEADER)))
        .render(area, buf);
}
