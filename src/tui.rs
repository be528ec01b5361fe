//! The terminal: raw mode and the alternate screen, input on its own thread,
//! a frame at most every 33 ms, and the terminal restored however it ends
//! (quit, panic, Ctrl-C, SIGINT, SIGTERM, SIGHUP) and while it is suspended
//! (Ctrl-Z, SIGTSTP), until the shell's `fg` brings it back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::app::{App, Message};
use crate::keys::Key;

const FRAME: Duration = Duration::from_millis(33);

/// How the dashboard ended.
pub struct Closed {
    pub app: App,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
}

/// Runs the dashboard until the viewer quits or a signal arrives; the
/// terminal is restored before this returns.
pub fn run(mut app: App) -> std::io::Result<Closed> {
    let signal = Arc::new(AtomicUsize::new(0));
    for s in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register_usize(s, signal.clone(), s as usize)?;
    }
    // Suspending is done by the loop: the terminal first, then the stop.
    let suspend = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTSTP, suspend.clone())?;
    let ctrl_z = suspend.clone();
    // ratatui's hook restores the terminal before reporting a panic; a
    // task's panic (a `fail` step, or your own code's) is part of the run,
    // not a crash, so it must not tear the screen down: your own code's is
    // its task's outcome.
    let mut terminal = ratatui::init();
    let restore_and_report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if crate::probe::in_task() {
            crate::watch::note_panic(&crate::probe::panic_message(info.payload()));
        } else {
            restore_and_report(info);
        }
    }));
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("taskscope-input".into())
        .spawn(move || {
            loop {
                let ev = match event::read() {
                    Ok(ev) => ev,
                    // A signal (a stop and `fg`) cut the read short.
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                };
                // Raw mode turns Ctrl-Z into a key: it suspends, as in a shell.
                if let Event::Key(k) = &ev
                    && k.code == KeyCode::Char('z')
                    && k.modifiers.contains(KeyModifiers::CONTROL)
                {
                    ctrl_z.store(true, Ordering::Relaxed);
                    if tx.send(Message::Tick).is_err() {
                        return;
                    }
                    continue;
                }
                let key = match ev {
                    Event::Key(k) if k.kind != KeyEventKind::Release => to_key(k.code, k.modifiers),
                    Event::Resize(..) => None,
                    _ => continue,
                };
                let message = key.map_or(Message::Tick, Message::Key);
                if tx.send(message).is_err() {
                    return;
                }
            }
        })?;
    let mut result = Ok(());
    let mut next_frame = Instant::now();
    let mut next_draw = next_frame;
    while !app.quit && signal.load(Ordering::Relaxed) == 0 {
        if suspend.swap(false, Ordering::Relaxed)
            && let Err(e) = suspended(&mut terminal)
        {
            result = Err(e);
            break;
        }
        let now = Instant::now();
        if now >= next_frame {
            // The run's news is taken in every frame...
            app.update(Message::Tick);
            next_frame = now + FRAME;
            // ...but a screen that takes long to draw (a million tasks) is
            // drawn less often: at most a third of a core, keys stay live.
            if now >= next_draw {
                if let Err(e) = terminal.draw(|f| {
                    f.render_widget(&app, f.area());
                }) {
                    result = Err(e);
                    break;
                }
                next_draw = now + FRAME.max(now.elapsed() * 3);
            }
        }
        match rx.recv_timeout(next_frame.saturating_duration_since(Instant::now())) {
            Ok(message) => {
                app.update(message);
                // Show what a key did right away.
                next_frame = Instant::now();
                next_draw = next_frame;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if let Some(session) = app.session.as_mut() {
        session.stop();
    }
    ratatui::restore();
    let signal = match signal.load(Ordering::Relaxed) {
        0 => None,
        s => Some(s as i32),
    };
    result.map(|()| Closed { app, signal })
}

/// Gives the terminal back and stops, as a shell's Ctrl-Z stops a
/// program; once continued (`fg`), takes the screen again. The run goes on
/// meanwhile, as it would in a hidden window.
fn suspended(terminal: &mut ratatui::DefaultTerminal) -> std::io::Result<()> {
    ratatui::restore();
    crossterm::execute!(std::io::stdout(), crossterm::cursor::Show)?;
    signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGTSTP)?;
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
        crossterm::cursor::Hide
    )?;
    // A blank frame, so the next one is drawn whole (`Terminal::clear`
    // would ask the terminal for the cursor, and the input thread would
    // take the answer).
    terminal.draw(|f| f.render_widget(ratatui::widgets::Clear, f.area()))?;
    Ok(())
}

fn to_key(code: KeyCode, modifiers: KeyModifiers) -> Option<Key> {
    Some(match code {
        KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlC,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        _ => return None,
    })
}
