//! taskscope: watch a tokio scheduler at work.
//!
//! Data flows one way: a [`scenario`] (TOML) is run by the [`runner`] on a
//! tokio runtime of its own; the [`probe`] turns every poll and wake into
//! events; the [`model`] folds events into what the outputs show: the
//! headless [`summary`], JSON lines ([`export`]), and the dashboard
//! ([`app`] state, [`ui`] drawing, [`tui`] terminal).

pub mod app;
pub mod cli;
pub mod command;
pub mod compare;
pub mod console;
pub mod error;
pub mod event;
pub mod export;
pub mod feed;
pub mod format;
pub mod headless;
pub mod keys;
pub mod lesson;
pub mod model;
pub mod probe;
pub mod process;
pub mod program;
pub mod runner;
pub mod runtime;
pub mod scenario;
pub mod speed;
pub mod summary;
pub mod target;
pub mod text;
pub mod tui;
pub mod ui;
pub mod watch;

pub use error::Error;
pub use watch::{Watch, watch};
