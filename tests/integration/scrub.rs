//! Scrubbing shows the past, never the future: at every history position k
//! of a few runs, live and replayed, the drawn table counts no more polls
//! or busy time than the first k events say, and the lanes draw nothing
//! after the moment of transition k.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use taskscope::app::{App, Session};
use taskscope::probe::{Change, Event};

use crate::util as common;

const WIDTH: u16 = 120;
const HEIGHT: u16 = 35;

/// Polls and busy time per task after `events`, counted here from scratch.
fn expected(events: &[Event]) -> Vec<(u64, Duration)> {
    let now = events.last().map_or(Duration::ZERO, |e| e.t);
    let mut tasks: Vec<(u64, Duration, Option<Duration>)> = Vec::new();
    for e in events {
        let i = e.task as usize;
        if tasks.len() <= i {
            tasks.resize(i + 1, (0, Duration::ZERO, None));
        }
        let t = &mut tasks[i];
        match (&e.change, t.2) {
            (Change::Running { .. }, None) => {
                t.0 += 1;
                t.2 = Some(e.t);
            }
            (Change::Running { .. }, Some(_)) => {}
            (_, Some(start)) => {
                t.1 += e.t - start;
                t.2 = None;
            }
            _ => {}
        }
    }
    tasks
        .into_iter()
        .map(|(polls, busy, running)| (polls, busy + running.map_or(Duration::ZERO, |s| now - s)))
        .collect()
}

fn row_text(buf: &Buffer, y: u16, x: u16, width: u16) -> String {
    (x..x + width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect::<String>()
        .trim()
        .to_string()
}

/// `5.0 ms`, `300 ms`, `12.35 s` back to a duration, and the rounding of
/// that format.
fn parse_time(text: &str) -> (Duration, Duration) {
    let (num, unit) = text.split_once(' ').unwrap_or_else(|| panic!("{text:?}"));
    let v: f64 = num.parse().unwrap();
    let ms = if unit == "s" { v * 1000.0 } else { v };
    let rounding = if unit == "s" {
        5.0
    } else if v >= 100.0 {
        0.5
    } else {
        0.05
    };
    (
        Duration::from_secs_f64(ms / 1000.0),
        Duration::from_secs_f64(rounding / 1000.0),
    )
}

fn draw(app: &App) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    terminal.draw(|f| f.render_widget(app, f.area())).unwrap();
    terminal.backend().buffer().clone()
}

/// The rows of the task table and the lanes (everything between the
/// narration line and the status line).
fn panels(buf: &Buffer) -> Vec<String> {
    let top = (0..HEIGHT)
        .find(|&y| row_text(buf, y, 0, WIDTH).starts_with("┌ tasks"))
        .expect("a task table");
    (top..HEIGHT - 2)
        .map(|y| row_text(buf, y, 0, WIDTH))
        .collect()
}

/// Checks the frame of `app` at its cursor against the first `k` events:
/// the same panels as a recording of only those events, figures no higher
/// than they say, and no lane cell after the moment of transition k.
fn check_frame(label: &str, app: &App, events: &[Event], k: usize) {
    let buf = &draw(app);
    let session = app.session.as_ref().unwrap();
    let log = taskscope::recording::Log {
        info: session.history.info().clone(),
        events: events[..k].to_vec(),
        dropped: 0,
        stalled: None,
        runtime: None,
        complete: true,
    };
    let mut only_k = Session::replay(session.scenario.clone(), log);
    only_k.history.seek(u64::MAX);
    // Whether the run is over is known from the whole log (the lanes fit a
    // finished run's axis to its end).
    only_k.ended = k == events.len() && session.ended;
    let only_k = App::with_session(only_k);
    assert_eq!(
        panels(buf),
        panels(&draw(&only_k)),
        "{label} k={k}: the table and lanes are those of the first {k} events"
    );
    let want = expected(&events[..k]);
    // The table: find the header, then the polls and busy columns.
    let header_y = (0..HEIGHT)
        .find(|&y| row_text(buf, y, 0, WIDTH).contains("polls busy"))
        .unwrap_or_else(|| panic!("{label} k={k}: no table header"));
    let header = row_text(buf, header_y, 0, WIDTH);
    let col = |name: &str| -> u16 {
        let at = header.find(name).unwrap();
        header[..at].chars().count() as u16
    };
    let (polls_x, busy_x) = (col("polls"), col("busy"));
    let model = session.model();
    let mut y = header_y + 1;
    loop {
        let name_cell = row_text(buf, y, 1, 16);
        if name_cell.is_empty() || name_cell.starts_with('└') || name_cell.starts_with('─') {
            break;
        }
        let name = name_cell.chars().skip(2).collect::<String>();
        let idx = model
            .tasks
            .iter()
            .position(|t| t.name.starts_with(&name))
            .unwrap_or_else(|| panic!("{label} k={k}: row {name:?}"));
        y += 1;
        // Threads and processes have no polls (the OS runs them).
        let Ok(polls) = row_text(buf, y - 1, polls_x, 5).parse::<u64>() else {
            assert!(
                model.tasks[idx].kind.is_os(),
                "{label} k={k}: {name}'s polls"
            );
            continue;
        };
        let y = y - 1;
        let (busy, rounding) = parse_time(&row_text(buf, y, busy_x, 8));
        let (want_polls, want_busy) = want.get(idx).copied().unwrap_or_default();
        assert_eq!(polls, want_polls, "{label} k={k}: {name}'s polls");
        assert!(
            busy <= want_busy + rounding,
            "{label} k={k}: {name} busy {busy:?} > {want_busy:?} from the first {k} events"
        );
    }
    // The lanes: nothing right of the column of transition k's moment.
    let lanes_top = (0..HEIGHT)
        .find(|&y| row_text(buf, y, 0, WIDTH).starts_with("┌ lanes"))
        .unwrap_or_else(|| panic!("{label} k={k}: no lanes"));
    let cols = (WIDTH - 2 - 14) as usize;
    let now = session.now();
    assert_eq!(
        now,
        events[..k].last().map_or(Duration::ZERO, |e| e.t),
        "{label} k={k}: the moment shown is transition k's"
    );
    let fit = session.ended && session.history.at_live_edge();
    let window = taskscope::ui::lanes::window(now, cols, fit, None);
    let last = ((now - window.start).as_nanos() / window.scale.as_nanos()) as u16;
    for y in lanes_top + 1..HEIGHT {
        if row_text(buf, y, 0, 1).starts_with('└') {
            break;
        }
        let from = (1 + 14 + last + 1).min(WIDTH - 1);
        let beyond = row_text(buf, y, from, WIDTH - 1 - from);
        assert!(
            beyond.is_empty(),
            "{label} k={k}: lane row {y} draws after {now:?}: {beyond:?}"
        );
    }
}

fn check_every_position(label: &str, mut session: Session) {
    let events: Vec<Event> = session.history.events().map(|(_, e)| e.clone()).collect();
    assert!(events.len() > 10, "{label}");
    for k in 0..=events.len() {
        session.history.seek(k as u64);
        let app = App::with_session(session);
        check_frame(label, &app, &events, k);
        session = app.session.unwrap();
    }
}

fn live_to_the_end(name: &str) -> Session {
    let scenario = Arc::new(common::bundled(name));
    let mut s = Session::start(
        scenario,
        common::options(),
        false,
        taskscope::speed::Speed::MAX,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !s.ended {
        assert!(Instant::now() < deadline, "{name} never ended");
        s.tick();
        std::thread::sleep(Duration::from_millis(5));
    }
    s
}

#[test]
fn every_position_of_a_replay_shows_only_what_happened_until_then() {
    let _limit = crate::util::limit();
    for name in [
        "breakfast-concurrent",
        "blocking-the-loop",
        "channel-pipeline",
    ] {
        let scenario = Arc::new(common::bundled(name));
        let log = taskscope::headless::record(scenario.clone(), common::options()).unwrap();
        check_every_position(&format!("replay {name}"), Session::replay(scenario, log));
    }
}

#[test]
fn every_position_of_a_live_run_shows_only_what_happened_until_then() {
    let _limit = crate::util::limit();
    for name in [
        "breakfast-concurrent",
        "blocking-the-loop",
        "channel-pipeline",
        "spawn-blocking-rescue",
    ] {
        check_every_position(&format!("live {name}"), live_to_the_end(name));
    }
}
