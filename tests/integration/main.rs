//! The integration tests, one binary: each module proves one area's
//! promises through the library or the real binary; `util` holds what
//! they share.

mod alloc;
mod cli;
mod console;
mod cpu_slices;
mod exports;
mod golden;
mod hostile;
mod hostile3;
mod metrics;
mod os;
mod own_crate;
mod promises;
mod pty;
mod real_clock;
mod reliability;
mod scheduling;
mod screen;
mod scrub;
mod suite;
mod ui;
mod util;
mod watch;
