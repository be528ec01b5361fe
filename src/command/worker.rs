//! The child side of a `process` step (`taskscope __worker`): burn CPU,
//! say what the OS measured, exit.

use super::out;
use crate::Error;

/// The child side of a `process` step: burn CPU, then exit.
pub(super) fn worker(job: &str, nanos: u64) -> Result<u8, Error> {
    match job {
        "cpu" => {
            crate::runtime::work::burn_cpu(std::time::Duration::from_nanos(nanos));
            // What the OS measured of this process, for the parent's row.
            if let Some(s) = crate::runtime::os::Schedstat::own() {
                out(&format!("{}\n", s.to_line()))?;
            }
            Ok(0)
        }
        other => Err(Error::Input(format!("unknown worker job `{other}`"))),
    }
}
