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

/// The terminal is raw and on the alternate screen (the dashboard's).
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Gives the terminal back if the dashboard has it: cooked mode, the main
/// screen, the cursor shown (the panic hook and a second signal call it).
pub fn give_back() {
    if TAKEN.swap(false, Ordering::SeqCst) {
        ratatui::restore();
    }
}

/// [`give_back`] when memory has run out: raw mode off and the main screen
/// back with nothing allocated (the escape sequences written straight to
/// the terminal).
pub fn give_back_without_allocating() {
    if TAKEN.swap(false, Ordering::SeqCst) {
        let _ = crossterm::terminal::disable_raw_mode();
        const BACK: &[u8] = b"\x1b[?1049l\x1b[?25h\r\n";
        // SAFETY: writes a static buffer to the process's stdout.
        #[allow(unsafe_code)]
        unsafe {
            libc::write(1, BACK.as_ptr().cast(), BACK.len());
        }
    }
}

/// Takes the terminal: raw mode and the alternate screen. Not
/// `ratatui::init`, which installs a panic hook of its own: the process
/// has one (`process::install_panic_hook`), which calls [`give_back`].
fn take() -> std::io::Result<ratatui::DefaultTerminal> {
    TAKEN.store(true, Ordering::SeqCst);
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))
}

/// Runs the dashboard until the viewer quits or a signal arrives (`stop`
/// holds its number; `suspend` is Ctrl-Z); the terminal is restored before
/// this returns.
pub fn run(mut app: App, stop: &AtomicUsize, suspend: &AtomicBool) -> std::io::Result<Closed> {
    // Raw mode turns Ctrl-Z into a key: it suspends, as SIGTSTP does.
    let ctrl_z = Arc::new(AtomicBool::new(false));
    let ctrl_z_in = ctrl_z.clone();
    let mut terminal = match take() {
        Ok(t) => t,
        Err(e) => {
            give_back();
            return Err(e);
        }
    };
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
                    ctrl_z_in.store(true, Ordering::Relaxed);
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
    while !app.quit && stop.load(Ordering::Relaxed) == 0 {
        if (suspend.swap(false, Ordering::Relaxed) | ctrl_z.swap(false, Ordering::Relaxed))
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
                // Everything that came meanwhile, at once: keys pressed
                // faster than the screen draws never queue behind it.
                let more = std::iter::from_fn(|| rx.try_recv().ok());
                app.update_all(std::iter::once(message).chain(more));
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
    give_back();
    let signal = match stop.load(Ordering::Relaxed) {
        0 => None,
        s => Some(s as i32),
    };
    result.map(|()| Closed { app, signal })
}

/// Gives the terminal back and stops, as a shell's Ctrl-Z stops a
/// program; once continued (`fg`), takes the screen again. The run goes on
/// meanwhile, as it would in a hidden window.
fn suspended(terminal: &mut ratatui::DefaultTerminal) -> std::io::Result<()> {
    give_back();
    crossterm::execute!(std::io::stdout(), crossterm::cursor::Show)?;
    signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGTSTP)?;
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
        crossterm::cursor::Hide
    )?;
    TAKEN.store(true, Ordering::SeqCst);
    // A blank frame, so the next one is drawn whole (`Terminal::clear`
    // would ask the terminal for the cursor, and the input thread would
    // take the answer).
    terminal.draw(|f| f.render_widget(ratatui::widgets::Clear, f.area()))?;
    Ok(())
}

/// The key pressed, if it is one the dashboard knows: Ctrl-C, and keys
/// without Ctrl or Alt (Shift makes the characters it makes, but a
/// shifted arrow is no arrow). Any other modified key does nothing, so
/// Ctrl-R never restarts and Ctrl-Q never quits.
fn to_key(code: KeyCode, modifiers: KeyModifiers) -> Option<Key> {
    let held = KeyModifiers::CONTROL
        | KeyModifiers::ALT
        | KeyModifiers::SUPER
        | KeyModifiers::HYPER
        | KeyModifiers::META;
    if modifiers.intersects(held) {
        return (code == KeyCode::Char('c') && modifiers == KeyModifiers::CONTROL)
            .then_some(Key::CtrlC);
    }
    if modifiers.contains(KeyModifiers::SHIFT) && !matches!(code, KeyCode::Char(_)) {
        return None;
    }
    Some(match code {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_keys_other_than_ctrl_c_are_no_keys() {
        let _limit = crate::test_limit::limit();
        let ctrl = KeyModifiers::CONTROL;
        assert_eq!(to_key(KeyCode::Char('c'), ctrl), Some(Key::CtrlC));
        assert_eq!(to_key(KeyCode::Char('r'), ctrl), None);
        assert_eq!(to_key(KeyCode::Char('q'), ctrl), None);
        assert_eq!(to_key(KeyCode::Char('q'), KeyModifiers::ALT), None);
        assert_eq!(to_key(KeyCode::Left, KeyModifiers::SHIFT), None);
        assert_eq!(to_key(KeyCode::Left, ctrl), None);
        // Shift makes the character it makes.
        assert_eq!(
            to_key(KeyCode::Char('?'), KeyModifiers::SHIFT),
            Some(Key::Char('?'))
        );
        assert_eq!(
            to_key(KeyCode::Char('r'), KeyModifiers::NONE),
            Some(Key::Char('r'))
        );
    }
}
