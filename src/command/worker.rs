//! The child side of a `process` step (`taskscope __worker`): burn CPU,
//! say what the OS measured, exit.

use super::out;
use crate::Error;

/// The child side of a `process` step: burn CPU, then exit.
pub(super) fn worker(job: &str, nanos: u64) -> Result<u8, Error> {
    match job {
        "cpu" => {
            use crate::runtime::os::{Schedstat, ToParent};
            let stop = std::sync::atomic::AtomicBool::new(false);
            // Each time slice told to the parent as it happens.
            let mut parent = ToParent::new(std::io::stdout().lock());
            let d = std::time::Duration::from_nanos(nanos);
            let before = Schedstat::own();
            crate::runtime::work::burn_sliced(d, &stop, &mut parent);
            let after = Schedstat::own();
            drop(parent);
            // What the OS measured of the work (not of starting the
            // program), for the parent's row.
            if let (Some(a), Some(b)) = (before, after) {
                let work = Schedstat {
                    run_ns: b.run_ns.saturating_sub(a.run_ns),
                    wait_ns: b.wait_ns.saturating_sub(a.wait_ns),
                    slices: b.slices.saturating_sub(a.slices),
                };
                out(&format!("{}\n", work.to_line()))?;
            }
            Ok(0)
        }
        other => Err(Error::Input(format!("unknown worker job `{other}`"))),
    }
}
