//! Every tokio primitive the README names, each in a task of its own
//! that waits a known time for it; one task is still asleep when `main`
//! returns.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{RwLock, Semaphore, mpsc, oneshot};
use tokio::task::{Builder, JoinHandle, JoinSet};
use tokio::time::{Instant, interval, sleep, sleep_until};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn task<F>(name: &str, f: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    Builder::new().name(name).spawn(f).unwrap()
}

fn main() -> std::process::ExitCode {
    taskscope::watch(async {
        let rw = Arc::new(RwLock::new(()));
        let written = rw.clone().write_owned().await;
        let r = rw.clone();
        let mut all = vec![
            task("rwlock-reader", async move {
                let _read = r.read().await;
            }),
            task("rwlock-writer", async move {
                sleep(ms(100)).await;
                drop(written);
            }),
        ];
        let semaphore = Arc::new(Semaphore::new(1));
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        all.push(task("semaphore-holder", async move {
            sleep(ms(150)).await;
            drop(permit);
        }));
        all.push(task("semaphore-waiter", async move {
            let _permit = semaphore.acquire().await.unwrap();
        }));
        let (tx, rx) = oneshot::channel();
        all.push(task("oneshot-receiver", async move {
            rx.await.unwrap();
        }));
        all.push(task("oneshot-sender", async move {
            sleep(ms(200)).await;
            tx.send(()).unwrap();
        }));
        let (mtx, mut mrx) = mpsc::channel(1);
        all.push(task("mpsc-receiver", async move {
            mrx.recv().await.unwrap();
        }));
        all.push(task("mpsc-sender", async move {
            sleep(ms(250)).await;
            mtx.send(()).await.unwrap();
        }));
        all.push(task("interval", async move {
            let mut every = interval(ms(100));
            for _ in 0..3 {
                every.tick().await;
            }
        }));
        all.push(task("sleep-until", async move {
            sleep_until(Instant::now() + ms(120)).await;
        }));
        all.push(task("yielder", async move {
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
        }));
        all.push(task("joinset", async move {
            let mut set = JoinSet::new();
            set.build_task().name("joined-a").spawn(sleep(ms(80))).unwrap();
            set.build_task().name("joined-b").spawn(sleep(ms(160))).unwrap();
            while set.join_next().await.is_some() {}
        }));
        task("left-running", sleep(ms(10_000)));
        for handle in all {
            handle.await.unwrap();
        }
    })
}
