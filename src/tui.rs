//! The terminal: raw mode and the alternate screen, input on its own thread,
//! a frame at most every 33 ms, and the terminal restored however it ends
//! (quit, panic, Ctrl-C, SIGINT, SIGTERM, SIGHUP) and while it is suspended
//! (Ctrl-Z, SIGTSTP), until the shell's `fg` brings it back.
//!
//! Your own program's output (its logs, its prints) would write over the
//! dashboard: while it is open, what the program writes to stdout and
//! stderr is held in two unnamed temporary files, and written where it
//! would have gone once the terminal is given back.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
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

/// The file descriptor the dashboard draws on: stdout, or the terminal
/// stdout was while the program's output is held.
static SCREEN_FD: AtomicI32 = AtomicI32::new(1);

/// The dashboard's terminal, written through [`SCREEN_FD`].
pub struct Screen;

impl Write for Screen {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // SAFETY: writes `buf` to a descriptor this process keeps open.
        #[allow(unsafe_code)]
        let n = unsafe {
            libc::write(
                SCREEN_FD.load(Ordering::SeqCst),
                buf.as_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

type Term = ratatui::Terminal<ratatui::backend::CrosstermBackend<BufWriter<Screen>>>;

/// Where the program's stdout (1) or stderr (2) went, and the file that
/// holds what it writes meanwhile.
struct Held {
    fd: i32,
    was: OwnedFd,
    file: File,
}

static HELD: Mutex<Vec<Held>> = Mutex::new(Vec::new());

fn dup2(from: i32, to: i32) -> std::io::Result<()> {
    // SAFETY: points descriptor `to` where `from` points.
    #[allow(unsafe_code)]
    if unsafe { libc::dup2(from, to) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// From now until [`give_back`], the dashboard draws on the terminal and
/// what the program writes to stdout and stderr waits in temporary files.
/// Nothing is held if they cannot be made (the program's output then
/// shows through, as before).
fn hold_output() -> std::io::Result<()> {
    let stdout = std::io::stdout().as_fd().try_clone_to_owned()?;
    let screen = stdout.try_clone()?;
    let held = vec![
        Held {
            fd: 1,
            was: stdout,
            file: tempfile::tempfile()?,
        },
        Held {
            fd: 2,
            was: std::io::stderr().as_fd().try_clone_to_owned()?,
            file: tempfile::tempfile()?,
        },
    ];
    for h in &held {
        dup2(h.file.as_raw_fd(), h.fd)?;
    }
    SCREEN_FD.store(screen.as_raw_fd(), Ordering::SeqCst);
    // Kept open for the process's life: the screen, drawn on to the end.
    std::mem::forget(screen);
    *HELD.lock().unwrap_or_else(|e| e.into_inner()) = held;
    Ok(())
}

/// The program's stdout and stderr back where they were, with what they
/// held written there.
fn release_output() {
    let held = std::mem::take(&mut *HELD.lock().unwrap_or_else(|e| e.into_inner()));
    for mut h in held {
        if dup2(h.was.as_raw_fd(), h.fd).is_err() {
            continue;
        }
        let _ = h.file.rewind();
        let _ = if h.fd == 1 {
            std::io::copy(&mut h.file, &mut std::io::stdout().lock())
        } else {
            std::io::copy(&mut h.file, &mut std::io::stderr().lock())
        };
    }
    let _ = std::io::stdout().flush();
}

/// Cooked mode, the main screen, the cursor shown.
fn restore_terminal() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        Screen,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Gives the terminal back if the dashboard has it: cooked mode, the main
/// screen, the cursor shown, and the program's held output written out
/// (the panic hook and a second signal call it).
pub fn give_back() {
    if TAKEN.swap(false, Ordering::SeqCst) {
        restore_terminal();
    }
    release_output();
}

/// [`give_back`] when memory has run out: raw mode off and the main screen
/// back with nothing allocated (the escape sequences written straight to
/// the terminal).
pub fn give_back_without_allocating() {
    if TAKEN.swap(false, Ordering::SeqCst) {
        let _ = crossterm::terminal::disable_raw_mode();
        const BACK: &[u8] = b"\x1b[?1049l\x1b[?25h\r\n";
        // SAFETY: writes a static buffer to the terminal.
        #[allow(unsafe_code)]
        unsafe {
            libc::write(
                SCREEN_FD.load(Ordering::SeqCst),
                BACK.as_ptr().cast(),
                BACK.len(),
            );
        }
    }
}

/// Takes the terminal: raw mode and the alternate screen, the program's
/// output held if `hold`. Not `ratatui::init`, which installs a panic hook
/// of its own: the process has one (`process::install_panic_hook`), which
/// calls [`give_back`].
fn take(hold: bool) -> std::io::Result<Term> {
    if hold {
        // Not held: the program's output shows through, as it did.
        let _ = hold_output();
    }
    TAKEN.store(true, Ordering::SeqCst);
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(Screen, crossterm::terminal::EnterAlternateScreen)?;
    ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(
        BufWriter::with_capacity(1 << 16, Screen),
    ))
}

/// Runs the dashboard until the viewer quits or a signal arrives (`stop`
/// holds its number; `suspend` is Ctrl-Z); the terminal is restored before
/// this returns.
pub fn run(mut app: App, stop: &AtomicUsize, suspend: &AtomicBool) -> std::io::Result<Closed> {
    // Raw mode turns Ctrl-Z into a key: it suspends, as SIGTSTP does.
    let ctrl_z = Arc::new(AtomicBool::new(false));
    let ctrl_z_in = ctrl_z.clone();
    let program = app.screen_context() == crate::keys::Context::Program;
    let mut terminal = match take(program) {
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
    // A lesson stops here; your program is asked to stop first, as Ctrl-C
    // asks it, by the caller (stopping it here would cancel its tasks
    // before its own shutdown could run).
    if let Some(session) = app.session.as_mut().filter(|_| !program) {
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
fn suspended(terminal: &mut Term) -> std::io::Result<()> {
    if TAKEN.swap(false, Ordering::SeqCst) {
        restore_terminal();
    }
    signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGTSTP)?;
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(
        Screen,
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
