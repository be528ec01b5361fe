//! Every bundled lesson's run screen, drawn into ratatui's TestBackend at
//! its middle and at its end, at 120x35, 80x24 and 60x16: no text is cut
//! without `…`, and every task is reachable by scrolling (its row in the
//! table, its lane in the lanes). And the cell styles that carry meaning.

use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use taskscope::app::{App, Message, Session};
use taskscope::keys::Key;

use crate::util;

const SIZES: [(u16, u16); 3] = [(120, 35), (80, 24), (60, 16)];

/// A run of lesson `name` (recorded headless), as a session to replay.
fn recorded(name: &str) -> Session {
    let scenario = Arc::new(util::bundled(name));
    let log = taskscope::headless::record(scenario.clone(), util::options())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    Session::replay(scenario, log)
}

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| f.render_widget(app, f.area())).unwrap();
    terminal.backend().buffer().clone()
}

/// Row `y` of `buf` as text.
fn row(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect()
}

fn rows(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height).map(|y| row(buf, y)).collect()
}

/// Whether `shown` is `full`, or a cut of it that says so (a prefix of
/// it, ending in `…`).
fn whole_or_marked(shown: &str, full: &str) -> bool {
    let shown = shown.trim_end();
    let full = full.trim_end();
    // Whole, or cut with `…`: at its end, or in its middle (its start and
    // its end kept, as lane labels are).
    shown == full
        || shown.split_once('…').is_some_and(|(head, tail)| {
            !head.trim_end().is_empty()
                && full.starts_with(head.trim_end())
                && full.ends_with(tail)
                && head.trim_end().len() + tail.len() < full.len()
        })
}

/// Whether the paragraph that starts on line `at` with `label` shows
/// `full` whole or marked as cut, on one line or on two (the second one
/// column in); how many lines it takes.
fn paragraph(lines: &[String], at: usize, label: &str, full: &str) -> Option<usize> {
    let mut text = lines[at].strip_prefix(label)?.trim_end().to_string();
    for k in 1..=2 {
        if whole_or_marked(&text, full) {
            return Some(k);
        }
        let next = lines.get(at + k)?.strip_prefix(' ')?;
        text.push(' ');
        text.push_str(next.trim_end());
    }
    None
}

/// Everything wrong with one frame of `app`'s run screen: a line cut
/// without `…`, a label, name, state or step that is neither whole nor
/// marked as cut.
fn problems(app: &App, buf: &Buffer) -> Vec<String> {
    let session = app.session.as_ref().unwrap();
    let lines = rows(buf);
    let w = buf.area.width as usize;
    let mut bad = Vec::new();
    let mut block = false;
    for (y, l) in lines.iter().enumerate() {
        let cells: Vec<char> = l.chars().collect();
        let last = cells[w - 1];
        let first = cells[0];
        if first == '┌' {
            block = true;
        }
        if !block {
            // A line across the screen keeps its last column free: text
            // there was cut without the mark.
            if last != ' ' && last != '…' {
                bad.push(format!("line {y} runs to the edge: {l:?}"));
            }
        } else if matches!(first, '┌' | '└') {
            // A border: its title ends before the corner.
            let before = cells[w - 2];
            if !matches!(before, '─' | ' ' | '…') {
                bad.push(format!("title cut at the corner, line {y}: {l:?}"));
            }
        } else if first == '│' && !lanes_row(&lines, y) {
            let before = cells[w - 2];
            if before != ' ' && before != '…' {
                bad.push(format!("text runs into the border, line {y}: {l:?}"));
            }
        }
        if first == '└' {
            block = false;
        }
    }
    // The lesson, what to watch for and the narration, one after the
    // other above the table.
    let lesson = taskscope::text::one_line(session.scenario.lesson());
    let at = lines
        .iter()
        .position(|l| l.starts_with(" lesson: "))
        .unwrap_or(1);
    let Some(k) = paragraph(&lines, at, " lesson: ", &lesson) else {
        bad.push(format!("lesson {:?}, not {lesson:?}", lines[at]));
        return bad;
    };
    let watch = taskscope::text::one_line(&session.scenario.watch_for);
    let at = at + k;
    let Some(k) = paragraph(&lines, at, " watch for: ", &watch) else {
        bad.push(format!("watch for {:?}, not {watch:?}", lines[at]));
        return bad;
    };
    let said = taskscope::ui::narration::text(session);
    let table = lines.iter().position(|l| l.starts_with('┌')).unwrap_or(0);
    let shown: Vec<&str> = lines[at + k..table].iter().map(|l| l.trim()).collect();
    if !whole_or_marked(&shown.join(" "), &said) {
        bad.push(format!("narration {shown:?}, not {said:?}"));
    }
    if let Some(task) = app.selected_task() {
        let why = taskscope::ui::why::why(session, task);
        match lines.iter().find(|l| l.starts_with(" why: ")) {
            Some(l) if whole_or_marked(&l[" why: ".len()..], &why) => {}
            l => bad.push(format!("why {l:?}, not {why:?}")),
        }
    }
    bad.extend(table_problems(app, &lines));
    bad.extend(lane_label_problems(app, &lines));
    bad
}

/// Whether line `y` is inside the lanes' box.
fn lanes_row(lines: &[String], y: usize) -> bool {
    let top = lines[..=y].iter().rposition(|l| l.starts_with('┌'));
    top.is_some_and(|t| lines[t].starts_with("┌ lanes"))
}

/// The table's rows: each cell whole or marked as cut, checked against
/// the words the row means to show.
fn table_problems(app: &App, lines: &[String]) -> Vec<String> {
    let session = app.session.as_ref().unwrap();
    let model = session.model();
    let mut bad = Vec::new();
    let Some(h) = lines.iter().position(|l| l.starts_with("│task ")) else {
        return vec!["no table header".into()];
    };
    let header = &lines[h];
    let col = |name: &str| {
        header
            .find(&format!(" {name} "))
            .map(|b| header[..b + 1].chars().count())
    };
    let chars = |l: &str, from: usize, to: usize| -> String {
        l.chars().skip(from).take(to.saturating_sub(from)).collect()
    };
    let (state_at, step_at) = (col("state"), col("step"));
    let holding = session.holding();
    for l in lines[h + 1..].iter().take_while(|l| l.starts_with('│')) {
        let name_cell = chars(l, 3, state_at.unwrap_or(20) - 1);
        let name_token = name_cell.split("  ").next().unwrap_or("").trim();
        let name_token = name_token.split(' ').next().unwrap_or("");
        let Some(idx) = (0..model.tasks.len() as u32).find(|i| {
            let n = taskscope::text::visible(&model.tasks[*i as usize].name).into_owned();
            whole_or_marked(name_token, &n)
        }) else {
            bad.push(format!("a name neither whole nor marked: {l:?}"));
            continue;
        };
        if let (Some(s), Some(t)) = (state_at, step_at) {
            let holds = holding.iter().any(|x| x.1 == idx);
            let state = taskscope::app::words::state_text(session, idx, holds);
            let shown = chars(l, s, t - 1);
            if !whole_or_marked(shown.trim(), &state) {
                bad.push(format!("state {shown:?}, not {state:?}: {l:?}"));
            }
            let (label, note) = taskscope::app::words::step_text(session, idx);
            let step = format!("{label} {note}");
            let end = l.chars().count() - 1;
            let figures = header
                .find(" polls ")
                .map_or(end, |b| header[..b].chars().count());
            let shown = chars(l, t, figures.min(end));
            if !whole_or_marked(shown.trim(), step.trim()) {
                bad.push(format!("step {shown:?}, not {step:?}: {l:?}"));
            }
        }
    }
    bad
}

/// The lanes' labels: each whole or marked as cut.
fn lane_label_problems(app: &App, lines: &[String]) -> Vec<String> {
    let session = app.session.as_ref().unwrap();
    let model = session.model();
    let mut labels: Vec<String> = model
        .tasks
        .iter()
        .map(|t| taskscope::text::visible(&t.name).into_owned())
        .collect();
    labels.extend((0..64).map(|w| format!("worker {w}")));
    labels.extend((0..1024).map(|c| format!("cpu {c}")));
    for m in &session.scenario.mutexes {
        labels.push(format!("lock {m}"));
    }
    for c in &session.scenario.channels {
        labels.push(format!("chan {}", c.name));
    }
    let mut bad = Vec::new();
    let Some(top) = lines.iter().position(|l| l.starts_with("┌ lanes")) else {
        return vec!["no lanes".into()];
    };
    for l in lines[top + 1..].iter().take_while(|l| l.starts_with('│')) {
        let label: String = l.chars().skip(1).take(13).collect();
        let label = label.trim();
        if label.is_empty() {
            continue;
        }
        // A task's lane label has its letter first.
        let bare = match label.split_once(' ') {
            Some((letter, rest)) if letter.chars().count() == 1 => rest,
            _ => label,
        };
        if !labels
            .iter()
            .any(|full| whole_or_marked(bare, full) || whole_or_marked(label, full))
        {
            bad.push(format!(
                "lane label {label:?} neither whole nor marked: {l:?}"
            ));
        }
    }
    bad
}

/// The row of the table drawn reversed (the selection), as text.
fn selected_row(buf: &Buffer) -> Option<String> {
    let lines = rows(buf);
    let lanes = lines.iter().position(|l| l.starts_with("┌ lanes"))? as u16;
    (0..lanes)
        .find(|&y| {
            buf[(1, y)].modifier.contains(Modifier::REVERSED) && row(buf, y).starts_with('│')
        })
        .map(|y| row(buf, y))
}

/// The label of the lane drawn reversed (the selected task's).
fn selected_lane(buf: &Buffer) -> Option<String> {
    let lines = rows(buf);
    let top = lines.iter().position(|l| l.starts_with("┌ lanes"))?;
    (top as u16 + 1..buf.area.height)
        .find(|&y| buf[(1, y)].modifier.contains(Modifier::REVERSED))
        .map(|y| row(buf, y).chars().skip(1).take(13).collect())
}

/// Selects task row `i` of the table by keys (the viewer takes over
/// from the following view): to the top, then down, each run of presses
/// taken together as the dashboard takes them.
fn select(app: &mut App, i: usize) {
    let rows = app.visible_tasks().len();
    app.update_all(std::iter::repeat_n(Message::Key(Key::PageUp), rows + 1));
    app.update_all(std::iter::repeat_n(Message::Key(Key::Down), i));
}

/// Checks lesson `name` at its middle and end at every size, and that
/// every task (or, of thousands, a sample from first to last) is
/// reachable: its row selected in the table and its lane in view.
fn fits_and_reaches(name: &str) {
    let mut app = App::with_session(recorded(name));
    let len = app.session.as_ref().unwrap().history.len();
    for (moment, pos) in [("middle", len / 2), ("end", u64::MAX)] {
        app.session.as_mut().unwrap().history.seek(pos);
        for (w, h) in SIZES {
            let buf = draw(&app, w, h);
            let bad = problems(&app, &buf);
            assert!(
                bad.is_empty(),
                "{name} at its {moment}, {w}x{h}:\n{}\n{}",
                bad.join("\n"),
                rows(&buf).join("\n")
            );
            reach_every_task(&mut app, name, moment, w, h);
        }
    }
}

fn reach_every_task(app: &mut App, name: &str, moment: &str, w: u16, h: u16) {
    let tasks = app.visible_tasks();
    let n = tasks.len();
    let picks: Vec<usize> = if n <= 64 {
        (0..n).collect()
    } else {
        vec![0, 1, n / 3, n / 2, n - 2, n - 1]
    };
    for i in picks {
        select(app, i);
        assert_eq!(app.selected, i, "{name}: the selection moves to row {i}");
        let buf = draw(app, w, h);
        let text = rows(&buf).join("\n");
        let session = app.session.as_ref().unwrap();
        let full =
            taskscope::text::visible(&session.model().tasks[tasks[i] as usize].name).into_owned();
        let row = selected_row(&buf)
            .unwrap_or_else(|| panic!("{name} {moment} {w}x{h}: row {i} not shown:\n{text}"));
        let shown = row.chars().skip(3).collect::<String>();
        let shown = shown.split(' ').next().unwrap_or("");
        assert!(
            whole_or_marked(shown, &full),
            "{name} {moment} {w}x{h}: row {i} shows {shown:?}, not {full:?}:\n{text}"
        );
        let lane = selected_lane(&buf).unwrap_or_else(|| {
            panic!("{name} {moment} {w}x{h}: lane of row {i} not shown:\n{text}")
        });
        let lane = lane.trim();
        let bare = lane.split_once(' ').map_or(lane, |(_, rest)| rest);
        assert!(
            whole_or_marked(bare, &full) || whole_or_marked(lane, &full),
            "{name} {moment} {w}x{h}: lane {lane:?} for {full:?}:\n{text}"
        );
        // What is out of view is counted on the edges.
        if n > 1 && i == n - 1 {
            let first = taskscope::text::visible(&session.model().tasks[tasks[0] as usize].name)
                .into_owned();
            let table_shows_first = text
                .lines()
                .take_while(|l| !l.starts_with("┌ lanes"))
                .any(|l| l.starts_with("│") && l.contains(&format!(" {first} ")));
            assert!(
                table_shows_first || text.contains("▲ "),
                "{name} {moment} {w}x{h}: rows above are hidden without ▲ N more:\n{text}"
            );
        }
    }
}

macro_rules! every_lesson {
    ($($test:ident: $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                let _limit = crate::util::limit();
                fits_and_reaches($name);
            }
        )*

        #[test]
        fn every_bundled_lesson_is_drawn_here() {
            let _limit = crate::util::limit();
            let drawn = [$($name),*];
            for (name, _) in taskscope::scenario::bundled::ALL {
                assert!(drawn.contains(name), "{name} has no screen test here");
            }
        }
    };
}

every_lesson! {
    blocking_the_loop_fits_and_reaches_every_task: "blocking-the-loop",
    breakfast_concurrent_fits_and_reaches_every_task: "breakfast-concurrent",
    breakfast_processes_fits_and_reaches_every_task: "breakfast-processes",
    breakfast_sequential_fits_and_reaches_every_task: "breakfast-sequential",
    breakfast_threads_fits_and_reaches_every_task: "breakfast-threads",
    channel_pipeline_fits_and_reaches_every_task: "channel-pipeline",
    cooperative_yields_fits_and_reaches_every_task: "cooperative-yields",
    create_task_fits_and_reaches_every_task: "create-task",
    greedy_cpu_fits_and_reaches_every_task: "greedy-cpu",
    io_vs_cpu_fits_and_reaches_every_task: "io-vs-cpu",
    many_tasks_fits_and_reaches_every_task: "many-tasks",
    mutex_contention_fits_and_reaches_every_task: "mutex-contention",
    panic_in_task_fits_and_reaches_every_task: "panic-in-task",
    preemption_fits_and_reaches_every_task: "preemption",
    scale_100k_fits_and_reaches_every_task: "scale-100k",
    spawn_blocking_rescue_fits_and_reaches_every_task: "spawn-blocking-rescue",
    work_stealing_fits_and_reaches_every_task: "work-stealing",
}

/// The moment `t` of lesson `name`, drawn as the live screen would be.
fn at(name: &str, t: Duration) -> App {
    let mut s = recorded(name);
    s.show_at(t);
    s.looks_live = true;
    App::with_session(s)
}

/// The table row of task `name` at 120x35.
fn task_row(app: &App, name: &str) -> String {
    let text = rows(&draw(app, 120, 35));
    text.into_iter()
        .find(|l| l.starts_with('│') && l.contains(&format!(" {name} ")))
        .unwrap_or_else(|| panic!("no row for {name}"))
}

#[test]
fn io_phases_match_the_times_the_lesson_text_gives() {
    let _limit = crate::util::limit();
    let ms = Duration::from_millis;
    // breakfast-concurrent: each dish connects as its hands-on work ends;
    // the orders go out at 1 s.
    let text = util::bundled("breakfast-concurrent").description;
    assert!(text.contains("orders go out at 1 s"), "{text}");
    for (t, eggs) in [
        (450, "connecting"),
        (950, "connecting"),
        (1050, "waiting for the reply"),
        (1250, "waiting for the reply"),
    ] {
        let row = task_row(&at("breakfast-concurrent", ms(t)), "eggs");
        assert!(row.contains(eggs), "eggs at {t} ms: {row}");
        if eggs == "connecting" {
            assert!(
                row.contains("nothing sent yet") && !row.contains("boiling"),
                "{row}"
            );
        } else {
            assert!(row.contains("boiling"), "{row}");
        }
    }
    // io-vs-cpu: the fetches connect at once and send their requests at
    // 900 ms; the replies come at 1.9 s.
    let text = util::bundled("io-vs-cpu").description;
    assert!(text.contains("900 ms") && text.contains("1.9 s"), "{text}");
    for (t, phase) in [
        (100, "connecting"),
        (850, "connecting"),
        (950, "waiting for the reply"),
        (1850, "waiting for the reply"),
    ] {
        let app = at("io-vs-cpu", ms(t));
        for fetch in ["fetch-1", "fetch-2", "fetch-3"] {
            let row = task_row(&app, fetch);
            assert!(row.contains(phase), "{fetch} at {t} ms: {row}");
        }
    }
    // The lane letters: `n` connecting from the start, `i` from 900 ms.
    let app = at("io-vs-cpu", ms(1850));
    let lines = rows(&draw(&app, 120, 35));
    let top = lines.iter().position(|l| l.starts_with("┌ lanes")).unwrap();
    let lane = lines[top..]
        .iter()
        .find(|l| l.contains(" fetch-1 "))
        .unwrap_or_else(|| panic!("a fetch lane:\n{}", lines.join("\n")));
    let cells: String = lane.chars().skip(15).collect();
    let n_at = cells.chars().position(|c| c == 'n').expect("n: connecting");
    let i_at = cells
        .chars()
        .position(|c| c == 'i')
        .expect("i: waiting for the reply");
    assert!(n_at < 3 && i_at > n_at, "{lane}");
    let title = lines.iter().find(|l| l.starts_with("┌ lanes")).unwrap();
    // The window starts at 0; where 900 ms falls, the reply's wait begins.
    let per_col: f64 = title
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(" ms per column").next())
        .and_then(|s| s.trim().parse().ok())
        .expect("ms per column");
    let at_ms = cells.chars().take_while(|c| *c != 'i').count() as f64 * per_col;
    assert!(
        (at_ms - 900.0).abs() <= 2.0 * per_col,
        "i at {at_ms} ms: {lane}"
    );
}

#[test]
fn a_panic_reaches_its_joiner_on_screen() {
    let _limit = crate::util::limit();
    let mut end = recorded("panic-in-task");
    end.history.seek(u64::MAX);
    let app = App::with_session(end);
    let lines = rows(&draw(&app, 120, 35));
    let text = lines.join("\n");
    let waiter = lines
        .iter()
        .find(|l| l.starts_with('│') && l.contains(" waiter "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(waiter.contains("done (JoinError)"), "{text}");
    assert!(text.contains("waiter's join got Err(JoinError)"), "{text}");
    let toast_lane = lines
        .iter()
        .find(|l| l.starts_with("│T toast"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(toast_lane.contains('✗'), "{toast_lane}");
    assert!(
        text.contains("✗ panicked"),
        "the legend names the mark:\n{text}"
    );
    // Just after the panic, and a moment later (the next transitions come
    // at once), the narration still says it.
    for t in [2000, 2200] {
        let app = at("panic-in-task", Duration::from_millis(t));
        let text = rows(&draw(&app, 120, 35)).join("\n");
        assert!(
            text.contains("toast panicked (the toast burned)") && text.contains("Err(JoinError)"),
            "at {t} ms:\n{text}"
        );
    }
}

/// A hand-made run on two workers: the boss on worker 0 spawns two
/// chunks; worker 1 steals the first, worker 0 runs the second.
fn stolen() -> App {
    use taskscope::probe::{Change, Event, Kind, Outcome, Wait};
    let ms = Duration::from_millis;
    let spawned = |t, task, name: &str, parent| Event {
        t: ms(t),
        task,
        step: 0,
        change: Change::Spawned {
            name: name.into(),
            id: u64::from(task) + 1,
            spec: if task == 0 { 0 } else { 1 },
            parent,
            kind: Kind::Task,
        },
    };
    let ev = |t, task, step, change| Event {
        t: ms(t),
        task,
        step,
        change,
    };
    let done = |t, task| {
        ev(
            t,
            task,
            0,
            Change::Done {
                outcome: Outcome::Ok,
                stats: Arc::default(),
            },
        )
    };
    let events = vec![
        spawned(0, 0, "boss", None),
        ev(0, 0, 0, Change::Running { worker: 0 }),
        spawned(1, 1, "chunk-1", Some(0)),
        spawned(1, 2, "chunk-2", Some(0)),
        ev(
            2,
            0,
            1,
            Change::Waiting {
                wait: Wait::Join,
                due: None,
            },
        ),
        ev(5, 1, 0, Change::Running { worker: 1 }),
        ev(5, 2, 0, Change::Running { worker: 0 }),
        done(200, 1),
        done(200, 2),
    ];
    let log = taskscope::recording::Log {
        info: taskscope::model::RunInfo {
            scenario: "work-stealing".into(),
            flavor: "multi_thread".into(),
            workers: 2,
            clock: "real".into(),
            worker_cpus: Vec::new(),
        },
        events,
        dropped: 0,
        stalled: None,
        runtime: None,
        complete: true,
    };
    let mut s = Session::replay(Arc::new(util::bundled("work-stealing")), log);
    s.show_at(ms(150));
    s.looks_live = true;
    App::with_session(s)
}

/// The first cell on line `y`, after the label, showing `want`.
fn lane_cell(buf: &Buffer, y: u16, want: &str) -> Option<u16> {
    (15..buf.area.width).find(|&x| buf[(x, y)].symbol() == want)
}

#[test]
fn cell_styles_carry_running_holding_the_selection_and_a_steal() {
    let _limit = crate::util::limit();
    // A steal: its first column is the glyph, the poll underlined.
    let app = stolen();
    let buf = draw(&app, 120, 35);
    let lines = rows(&buf);
    let text = lines.join("\n");
    let w1 = lines
        .iter()
        .position(|l| l.starts_with("│worker 1"))
        .expect("worker 1") as u16;
    let x = lane_cell(&buf, w1, "»").unwrap_or_else(|| panic!("the steal glyph:\n{text}"));
    assert!(
        buf[(x, w1)].modifier.contains(Modifier::UNDERLINED),
        "{text}"
    );
    assert!(
        buf[(x + 1, w1)].modifier.contains(Modifier::UNDERLINED),
        "the poll goes on underlined"
    );
    assert_ne!(
        buf[(x + 1, w1)].symbol(),
        "»",
        "the glyph marks where it starts"
    );
    let w0 = lines
        .iter()
        .position(|l| l.starts_with("│worker 0"))
        .expect("worker 0") as u16;
    // chunk-2's letter (chunk-1 took C).
    let own = lane_cell(&buf, w0, "H").unwrap_or_else(|| panic!("{text}"));
    assert!(
        !buf[(own, w0)].modifier.contains(Modifier::UNDERLINED),
        "not stolen: {text}"
    );
    assert!(
        text.contains("» stolen") && text.contains("steals so far 1"),
        "{text}"
    );

    // Holding: red and bold; running: green and bold; the selection
    // reversed across its row.
    let mut app = at("blocking-the-loop", Duration::from_millis(220));
    app.update(Message::Key(Key::Down));
    app.update(Message::Key(Key::Up));
    let buf = draw(&app, 120, 35);
    let lines = rows(&buf);
    let y = lines
        .iter()
        .position(|l| l.contains(" blocker ") && l.starts_with('│'))
        .unwrap() as u16;
    let x = lines[y as usize]
        .find("HOLDING")
        .map(|b| lines[y as usize][..b].chars().count())
        .unwrap() as u16;
    assert_eq!(buf[(x, y)].fg, Color::Red);
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
    let sel = lines
        .iter()
        .position(|l| l.contains(" sleeper ") && l.starts_with('│'))
        .unwrap() as u16;
    for x in [2u16, 20, 60, 110] {
        assert!(
            buf[(x, sel)].modifier.contains(Modifier::REVERSED),
            "the selected row is reversed at column {x}"
        );
    }
    assert!(
        !buf[(20, y)].modifier.contains(Modifier::REVERSED),
        "only the selected row"
    );
    // A task running (not holding): main spawning in create-task.
    let app = at("create-task", Duration::ZERO);
    let mut s = app.session.unwrap();
    let main_runs = s
        .history
        .events()
        .position(|(_, e)| matches!(e.change, taskscope::probe::Change::Running { .. }))
        .unwrap() as u64
        + 1;
    s.history.seek(main_runs);
    s.looks_live = true;
    let app = App::with_session(s);
    let buf = draw(&app, 120, 35);
    let lines = rows(&buf);
    let y = lines
        .iter()
        .position(|l| l.contains(" main ") && l.starts_with('│'))
        .unwrap() as u16;
    let x = lines[y as usize]
        .find("running on worker 0")
        .map(|b| lines[y as usize][..b].chars().count())
        .unwrap_or_else(|| panic!("{}", lines.join("\n"))) as u16;
    assert_eq!(buf[(x, y)].fg, Color::Green);
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
}

/// A flood of different keys (each a scrub: slow on a big run) queued
/// before Ctrl-C: Ctrl-C goes first. Without it, a frame spends a bounded
/// time on keys, and a `q` among the rest still quits.
#[test]
fn ctrl_c_and_q_are_heard_through_a_flood_of_mixed_keys() {
    let _limit = util::limit();
    let flood = |last: Key| {
        let mut keys: Vec<Message> = (0..200_000)
            .map(|i| Message::Key(if i % 2 == 0 { Key::Left } else { Key::Right }))
            .collect();
        keys.push(Message::Key(last));
        keys.extend((0..1000).map(|_| Message::Key(Key::Left)));
        keys
    };
    for last in [Key::CtrlC, Key::Char('q')] {
        let mut app = App::with_session(recorded("many-tasks"));
        let started = std::time::Instant::now();
        app.update_all(flood(last));
        assert!(app.quit, "{last:?} not heard");
        let took = started.elapsed();
        assert!(
            took < util::deadline(Duration::from_secs(2)),
            "{last:?} heard after {took:?}"
        );
    }
}

/// The end of a run of many panics: its sentence names the first few and
/// counts the rest, found in one pass (each panic looked for its joiners
/// among all tasks: 200,000 panics froze the screen, deaf to Ctrl-C).
#[test]
fn the_end_of_a_run_of_many_panics_is_drawn_at_once() {
    let _limit = util::limit();
    let scenario = Arc::new(util::inline(
        "name = \"panics\"\n[[task]]\nname = \"p\"\ncount = 40000\nsteps = [ { fail = \"x\" } ]\n",
    ));
    let log = taskscope::headless::record(scenario.clone(), util::options()).unwrap();
    let app = App::with_session(Session::replay(scenario, log));
    let mut app = app;
    app.update_all([Message::Key(Key::End)]);
    let started = std::time::Instant::now();
    let screen = rows(&draw(&app, 200, 35)).join("\n");
    let took = started.elapsed();
    assert!(screen.contains("; and 39997 more panicked"), "{screen}");
    assert!(
        took < util::deadline(Duration::from_secs(1)),
        "drawn in {took:?}"
    );
}
