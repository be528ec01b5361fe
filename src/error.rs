//! The one place errors become a message and an exit code.

use crate::recording::LogError;
use crate::scenario::ScenarioError;

/// Exit code for invalid input: a scenario, a file, an argument.
pub const EXIT_INVALID: u8 = 2;
/// Exit code for a failure while running.
pub const EXIT_FAILED: u8 = 1;

/// Every message is shown through [`crate::text::visible`]: it may quote a
/// file's text or a path, and neither may steer the terminal.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    #[error("{0}")]
    Log(#[from] LogError),
    /// Bad input that is not a scenario: a missing file, a bad option value.
    #[error("{}", crate::text::visible(.0))]
    Input(String),
    /// Something failed while running.
    #[error("{}", crate::text::visible(.0))]
    Failed(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Scenario(_) | Error::Log(_) | Error::Input(_) => EXIT_INVALID,
            Error::Failed(_) => EXIT_FAILED,
        }
    }
}

/// One line on stderr, `taskscope: ` first, sanitized. A failing stderr
/// is ignored: there is nowhere left to say so.
pub fn say(message: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "taskscope: {}",
        crate::text::visible(message)
    );
}
