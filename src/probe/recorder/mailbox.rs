//! The mailbox for live figures: the runner's sampler leaves the newest
//! sample there, and whoever shows them takes it when it likes.

use std::sync::{Arc, Mutex};

use crate::probe::Sample;

/// Holds the newest sample only: a newer one replaces it, read or not.
#[derive(Default)]
pub(super) struct Mailbox(Mutex<Option<Arc<Sample>>>);

impl Mailbox {
    /// Leaves `sample`, in place of the one before.
    pub(super) fn put(&self, sample: Sample) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(sample));
    }

    /// The newest sample, if any was left.
    pub(super) fn newest(&self) -> Option<Arc<Sample>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_mailbox_holds_the_newest_sample_only() {
        let _limit = crate::test_limit::limit();
        let mailbox = Mailbox::default();
        assert!(mailbox.newest().is_none());
        for ms in [1, 2] {
            mailbox.put(Sample {
                at: Duration::from_millis(ms),
                runtime: Default::default(),
                tasks: Vec::new(),
            });
        }
        let newest = mailbox.newest().expect("put");
        assert_eq!(newest.at, Duration::from_millis(2));
        // Reading leaves it there.
        assert!(mailbox.newest().is_some());
    }
}
