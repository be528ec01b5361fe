use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    taskscope::command::install_panic_hook();
    let cli = taskscope::cli::Cli::parse();
    match taskscope::command::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("taskscope: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
