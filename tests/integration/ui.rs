//! Frames of the dashboard, drawn into ratatui's TestBackend from fixed
//! event logs (tests/fixtures, recorded with `run --headless --events`) and
//! compared with insta snapshots.

use std::sync::Arc;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use taskscope::app::{App, Message, Session};
use taskscope::keys::Key;
use taskscope::scenario::bundled;

use crate::util as common;

fn session(name: &str) -> Session {
    let scenario = Arc::new(bundled::get(name).unwrap().unwrap());
    let path = format!("tests/fixtures/{name}.jsonl");
    let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let log = taskscope::recording::read(&path, file).unwrap();
    Session::replay(scenario, log)
}

fn draw(app: &App, w: u16, h: u16) -> TestBackend {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| f.render_widget(app, f.area())).unwrap();
    terminal.backend().clone()
}

/// The app showing `name`'s log with the cursor after `pos` transitions.
fn at(name: &str, pos: u64) -> App {
    let mut s = session(name);
    s.history.seek(pos);
    App::with_session(s)
}

#[test]
fn run_screen_while_the_blocker_holds_the_worker() {
    let _limit = crate::util::limit();
    // After the blocker's poll starts: it holds worker 0, the bystander is ready.
    let s = session("blocking-the-loop");
    let events: Vec<_> = s.history.events().map(|(_, e)| e.clone()).collect();
    let blocker = common::task_index(&events, "blocker");
    let pos = events
        .iter()
        .position(|e| {
            e.task == blocker && matches!(e.change, taskscope::probe::Change::Running { .. })
        })
        .unwrap() as u64
        + 1;
    let app = at("blocking-the-loop", pos);
    insta::assert_snapshot!(draw(&app, 120, 35));
}

#[test]
fn run_screen_at_the_end_of_breakfast() {
    let _limit = crate::util::limit();
    let app = at("breakfast-concurrent", u64::MAX);
    insta::assert_snapshot!(draw(&app, 120, 35));
}

#[test]
fn run_screen_on_the_smallest_terminal() {
    let _limit = crate::util::limit();
    let app = at("channel-pipeline", 30);
    insta::assert_snapshot!(draw(&app, 60, 16));
}

#[test]
fn a_terminal_too_small_says_so() {
    let _limit = crate::util::limit();
    let app = at("channel-pipeline", 30);
    let frame = draw(&app, 40, 10).to_string();
    assert!(frame.contains("terminal too small: 40x10"), "{frame}");
    assert!(frame.contains("60x16"));
}

#[test]
fn help_lists_every_key_of_the_screen_under_it() {
    let _limit = crate::util::limit();
    let mut app = at("breakfast-concurrent", 10);
    app.update(Message::Key(Key::Char('?')));
    let frame = draw(&app, 120, 35);
    let text = frame.to_string();
    assert_eq!(app.screen_context(), taskscope::keys::Context::Replay);
    for b in taskscope::keys::bindings(app.screen_context(), false) {
        assert!(text.contains(b.does), "help shows {:?}", b.does);
    }
    insta::assert_snapshot!(frame);
}

#[test]
fn task_detail_shows_transitions_and_metrics() {
    let _limit = crate::util::limit();
    let mut app = at("blocking-the-loop", u64::MAX);
    app.update(Message::Key(Key::Enter));
    insta::assert_snapshot!(draw(&app, 120, 35));
}

#[test]
fn the_picker_lists_the_bundled_scenarios() {
    let _limit = crate::util::limit();
    let app = App::picker(Default::default(), false, None);
    let frame = draw(&app, 120, 35);
    let text = frame.to_string();
    for (name, _) in bundled::ALL {
        assert!(text.contains(name), "{name} is in the picker");
    }
    insta::assert_snapshot!(frame);
}

#[test]
fn the_filter_keeps_matching_tasks() {
    let _limit = crate::util::limit();
    let mut app = at("breakfast-concurrent", u64::MAX);
    for k in [Key::Char('/'), Key::Char('t'), Key::Char('o'), Key::Enter] {
        app.update(Message::Key(k));
    }
    assert_eq!(app.visible_tasks().len(), 1);
    let text = draw(&app, 120, 35).to_string();
    assert!(
        text.contains("toast") && !text.contains("coffee "),
        "{text}"
    );
}

#[test]
fn scrubbing_back_and_forth_moves_one_transition() {
    let _limit = crate::util::limit();
    let mut app = at("breakfast-concurrent", u64::MAX);
    let end = app.session.as_ref().unwrap().history.len();
    app.update(Message::Key(Key::Left));
    app.update(Message::Key(Key::Left));
    assert_eq!(app.session.as_ref().unwrap().history.cursor(), end - 2);
    app.update(Message::Key(Key::Right));
    assert_eq!(app.session.as_ref().unwrap().history.cursor(), end - 1);
    assert!(draw(&app, 120, 35).to_string().contains("REPLAY · PAUSED"));
}

/// Just after the blocker's poll starts in blocking-the-loop, a moment later
/// (so the held time shows), drawn as the live screen would be.
fn blocker_holding() -> App {
    let mut s = session("blocking-the-loop");
    s.show_at(std::time::Duration::from_millis(220));
    s.looks_live = true;
    App::with_session(s)
}

#[test]
fn the_run_screen_shows_the_lesson_and_what_to_watch_for_at_every_size() {
    let _limit = crate::util::limit();
    let app = blocker_holding();
    let lesson = "A blocking call inside async code stalls everyone on that thread.";
    for (w, h) in [(120, 35), (80, 24), (60, 16)] {
        let text = draw(&app, w, h).to_string();
        let line = text
            .lines()
            .find(|l| l.contains(" lesson: "))
            .unwrap_or_else(|| panic!("{w}x{h}:\n{text}"));
        let shown = line.trim_matches('"').trim_end();
        let said = shown.trim_start().trim_start_matches("lesson: ");
        // Whole, or cut with the mark.
        assert!(
            said == lesson
                || said
                    .strip_suffix('…')
                    .is_some_and(|s| lesson.starts_with(s.trim_end())),
            "{w}x{h}: {shown:?}\n{text}"
        );
        assert!(text.contains(" watch for: "), "{w}x{h}:\n{text}");
        assert!(text.contains(" why: "), "{w}x{h}:\n{text}");
    }
}

#[test]
fn blocking_the_loop_while_held_at_120x35() {
    let _limit = crate::util::limit();
    insta::assert_snapshot!(draw(&blocker_holding(), 120, 35));
}

#[test]
fn blocking_the_loop_while_held_at_80x24() {
    let _limit = crate::util::limit();
    insta::assert_snapshot!(draw(&blocker_holding(), 80, 24));
}

#[test]
fn blocking_the_loop_while_held_at_60x16() {
    let _limit = crate::util::limit();
    insta::assert_snapshot!(draw(&blocker_holding(), 60, 16));
}

#[test]
fn helper_threads_are_rows_and_lanes_of_their_own() {
    let _limit = crate::util::limit();
    let mut s = session("breakfast-threads");
    s.show_at(std::time::Duration::from_millis(250));
    s.looks_live = true;
    let app = App::with_session(s);
    let text = draw(&app, 120, 35).to_string();
    for row in ["eggs/thread", "toast/thread", "coffee/thread"] {
        assert!(text.contains(row), "{row}:\n{text}");
    }
    insta::assert_snapshot!(draw(&app, 120, 35));
}

#[test]
fn the_lock_holder_and_its_queue_are_named() {
    let _limit = crate::util::limit();
    let mut s = session("mutex-contention");
    s.show_at(std::time::Duration::from_millis(100));
    s.looks_live = true;
    let mut app = App::with_session(s);
    app.update(Message::Key(Key::Down)); // cook-2, queued for the stove
    let text = draw(&app, 120, 35).to_string();
    assert!(
        text.contains("why: cook-2: waiting") && text.contains("for stove, held by cook-1"),
        "{text}"
    );
    insta::assert_snapshot!(draw(&app, 80, 24));
}

#[test]
fn a_long_detail_opens_at_its_top_and_scrolls_to_its_end() {
    let _limit = crate::util::limit();
    let mut app = at("channel-pipeline", u64::MAX);
    app.update(Message::Key(Key::Enter));
    let text = draw(&app, 80, 24).to_string();
    assert!(text.contains("tokio id"), "it opens at its top:\n{text}");
    assert!(text.contains("PgUp/PgDn"), "{text}");
    app.update(Message::Key(Key::End));
    let end = draw(&app, 80, 24).to_string();
    assert!(
        end.contains("done (ok)"),
        "End shows the newest line:\n{end}"
    );
    for _ in 0..5 {
        app.update(Message::Key(Key::Up));
    }
    assert_ne!(draw(&app, 80, 24).to_string(), end, "↑ scrolls");
}

/// The filter matches the words of a row's step too: `/stove` finds the
/// cooks whose step locks or fries on the stove, as their rows say.
#[test]
fn the_filter_finds_the_words_of_a_rows_step() {
    let _limit = crate::util::limit();
    let mut app = at("mutex-contention", 12);
    for k in "/stove".chars().map(Key::Char).chain([Key::Enter]) {
        app.update(Message::Key(k));
    }
    let shown = app.visible_tasks();
    assert!(!shown.is_empty(), "no row found by its step");
    let s = app.session.as_ref().unwrap();
    for idx in 0..s.model().tasks.len() as u32 {
        let step = s
            .step_of(idx)
            .map(|(a, note)| format!("{} {}", s.scenario.label(a), note.unwrap_or("")))
            .unwrap_or_default();
        assert_eq!(
            shown.contains(&idx),
            step.contains("stove"),
            "task {idx}, step {step:?}"
        );
    }
}

/// Esc from a lesson goes back to the picker on that lesson, not the first
/// (`taskscope run mutex-contention`, then Esc).
#[test]
fn esc_from_a_lesson_goes_back_to_the_picker_on_that_lesson() {
    let _limit = crate::util::limit();
    let mut app = App::with_session(session("mutex-contention"));
    app.session.as_mut().unwrap().looks_live = true;
    app.update(Message::Key(Key::Esc));
    let text = draw(&app, 120, 35).to_string();
    let chosen = text.lines().find(|l| l.contains("│▶")).unwrap_or("");
    assert!(chosen.contains("mutex-contention"), "{text}");
}

#[test]
fn events_the_recorder_lost_are_said_on_the_status_line() {
    let _limit = common::limit();
    let path = "tests/fixtures/breakfast-concurrent.jsonl";
    let text = std::fs::read_to_string(path).unwrap();
    let lossy = text.replace("\"events_dropped\":0", "\"events_dropped\":47356");
    assert_ne!(text, lossy, "the fixture's end line counts dropped events");
    let log = taskscope::recording::read(path, lossy.as_bytes()).unwrap();
    let scenario = Arc::new(bundled::get("breakfast-concurrent").unwrap().unwrap());
    let app = App::with_session(Session::replay(scenario, log));
    let frame = format!("{:?}", draw(&app, 160, 35));
    assert!(
        frame.contains("· 47356 events lost (the recorder fell behind: some rows may be stale)"),
        "{frame}"
    );
    let whole = taskscope::recording::read(path, text.as_bytes()).unwrap();
    let scenario = Arc::new(bundled::get("breakfast-concurrent").unwrap().unwrap());
    let app = App::with_session(Session::replay(scenario, whole));
    assert!(!format!("{:?}", draw(&app, 160, 35)).contains("lost"));
}
