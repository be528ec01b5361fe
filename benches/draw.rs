//! Drawing: one frame of the run screen for a 100,000-task model, into
//! ratatui's TestBackend at 200x60. Goal: under 5 ms.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use taskscope::app::{App, Session};
use taskscope::runtime::RunOptions;
use taskscope::scenario::bundled;

fn bench(c: &mut Criterion) {
    let scenario = Arc::new(bundled::get("scale-100k").unwrap().unwrap());
    let log = taskscope::headless::record(scenario.clone(), RunOptions::default()).unwrap();
    let mut session = Session::replay(scenario, log);
    // Half-way through the transitions: most tasks alive, lanes full.
    let half = session.history.len() / 2;
    session.history.seek(half);
    let app = App::with_session(session);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut group = c.benchmark_group("draw");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("run screen, 100k tasks, 200x60", |b| {
        b.iter(|| {
            terminal.draw(|f| f.render_widget(&app, f.area())).unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
