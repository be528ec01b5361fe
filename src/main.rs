use std::io::Write;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: taskscope::process::GiveBackOnOom = taskscope::process::GiveBackOnOom;

fn main() -> ExitCode {
    taskscope::process::limit_malloc_arenas();
    taskscope::process::install_panic_hook();
    taskscope::process::stop_on_user_signals();
    let cli = match taskscope::cli::parse::<taskscope::cli::Cli>() {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(code),
    };
    match taskscope::command::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Already sanitized, line by line (a scenario may have several).
            let _ = writeln!(std::io::stderr(), "taskscope: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
