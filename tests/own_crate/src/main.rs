use std::time::Duration;

fn main() -> std::process::ExitCode {
    taskscope::watch(async {
        let eggs = tokio::task::Builder::new()
            .name("eggs")
            .spawn(tokio::time::sleep(Duration::from_millis(300)))
            .unwrap();
        let toast = tokio::spawn(tokio::time::sleep(Duration::from_millis(200)));
        eggs.await.unwrap();
        toast.await.unwrap();
    })
}
