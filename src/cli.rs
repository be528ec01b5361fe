//! The command line (clap derive). The contract is in DESIGN.md.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::speed::Speed;

/// Watch a tokio scheduler at work: scripted scenarios spawn tasks, and you
/// see every task's state change, which worker runs what, and when one
/// blocking call stalls everyone else.
#[derive(Debug, Parser)]
#[command(name = "taskscope", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the bundled scenarios, one line each.
    List {
        /// One JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validate scenario files (or bundled names); exit 2 on any problem.
    Check {
        /// Bundled scenario names or paths to .toml files.
        #[arg(required = true)]
        scenarios: Vec<String>,
    },
    /// Run a scenario.
    Run(RunArgs),
    /// Open a recorded run (from `run --events FILE`) with the same controls.
    Replay {
        /// The events file.
        events: PathBuf,
        /// No dashboard: print the run's JSON summary.
        #[arg(long)]
        json: bool,
        /// No dashboard: print the run's summary table.
        #[arg(long)]
        headless: bool,
    },
    /// Run scenarios headless and compare them: wall time, CPU time,
    /// parallelism, speedup. `compare breakfast` runs the four breakfasts.
    Compare {
        /// Bundled names, paths, or `breakfast`.
        #[arg(required = true)]
        scenarios: Vec<String>,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Draw the run screen of SCENARIO at scenario time AT_MS as an SVG
    /// picture (how the README's picture is made).
    #[command(hide = true)]
    Screenshot {
        scenario: String,
        /// Scenario time to show, in ms.
        #[arg(value_parser = parse_at_ms)]
        at_ms: f64,
        /// Where to write the SVG.
        out: PathBuf,
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u16).range(1..=1000))]
        width: u16,
        #[arg(long, default_value_t = 35, value_parser = clap::value_parser!(u16).range(1..=1000))]
        height: u16,
    },
    /// Internal: the child process of a `process` step.
    #[command(name = "__worker", hide = true)]
    Worker {
        /// What to do: `cpu`.
        job: String,
        /// For how long, in nanoseconds of CPU time.
        nanos: u64,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A bundled scenario name (see `taskscope list`) or a path to a .toml file.
    pub scenario: String,
    #[command(flatten)]
    pub opts: RunOpts,
    /// off: run the same tasks without the probe (an overhead baseline).
    #[arg(long, value_enum, default_value = "on")]
    pub probe: Switch,
}

/// How to run and what to write: the same for a scenario and for your own
/// code under `taskscope::watch`.
#[derive(Debug, Default, clap::Args)]
pub struct RunOpts {
    /// No dashboard: print a summary table at the end.
    #[arg(long)]
    pub headless: bool,
    /// No dashboard: print one JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write every task transition to FILE as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Serve tokio-console on ADDR (default 127.0.0.1:6669), to watch the
    /// same run in both tools.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, require_equals = true, default_missing_value = crate::console::DEFAULT_ADDR)]
    pub console: Option<String>,
    /// Write a Chrome Trace Event file (opens in Perfetto).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Draw the timeline as an SVG picture (for slides).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Which clock: virtual (tokio's paused clock: exact and repeatable,
    /// time moves only in timers) or real (the wall clock). Default: the
    /// lesson's own; your own code's is real unless it asks for virtual.
    #[arg(long, value_enum)]
    pub clock: Option<ClockArg>,
    /// Pace: 0.25 is 4x slow motion. Default: on screen, the lesson's own
    /// pace; headless, the virtual clock as fast as it can go and the real
    /// clock in real time.
    #[arg(long, value_parser = Speed::parse)]
    pub speed: Option<Speed>,
    /// Open the dashboard paused (press n to step one poll, space to go).
    #[arg(long)]
    pub paused: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClockArg {
    Virtual,
    Real,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// A moment of a run, in ms: a finite number, no later than a log may go.
fn parse_at_ms(s: &str) -> Result<f64, String> {
    const LATEST: f64 = crate::recording::MAX_LOG_MS;
    match s.parse::<f64>() {
        Ok(v) if (0.0..=LATEST).contains(&v) => Ok(v),
        _ => Err(format!(
            "expected a time in ms from 0 to {LATEST}, like 350"
        )),
    }
}

/// Parses the command line. On an error, `--help` or `--version`, prints
/// clap's text with control characters made visible (an argument may hold
/// escape sequences, which must not reach the terminal) and gives the exit
/// code: 0 for help and version, 2 for an error.
pub fn parse<T: Parser>() -> Result<T, u8> {
    parse_from::<T>(std::env::args_os().collect())
}

/// [`parse`] of `args` (the program's name first).
pub fn parse_from<T: Parser>(args: Vec<std::ffi::OsString>) -> Result<T, u8> {
    use std::io::Write;
    // clap would echo such an argument raw, or strip it from its message.
    for (i, arg) in args.iter().enumerate().skip(1) {
        let arg = arg.to_string_lossy();
        if arg.chars().any(crate::text::is_hidden) {
            let _ = writeln!(
                std::io::stderr(),
                "error: argument {i} (`{}`) holds control characters; expected plain text",
                crate::text::visible(&arg)
            );
            return Err(2);
        }
    }
    T::try_parse_from(args).map_err(|e| {
        let text: Vec<String> = e
            .render()
            .to_string()
            .lines()
            .map(|l| crate::text::visible(l).into_owned())
            .collect();
        let text = text.join("\n") + "\n";
        if e.use_stderr() {
            let _ = std::io::stderr().write_all(text.as_bytes());
            2
        } else {
            let _ = std::io::stdout().write_all(text.as_bytes());
            0
        }
    })
}

/// The words of `text` as a shell splits them: on white space, with '...'
/// and "..." keeping spaces and `\` the next character (for the
/// `TASKSCOPE` variable of a program under `#[taskscope::main]`).
pub fn words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' | '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => w.extend(chars.next()),
                        Some(x) => w.push(x),
                        None => return Err(format!("a {c} is not closed")),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn the_taskscope_variable_splits_as_a_shell_would() {
        let _limit = crate::test_limit::limit();
        assert_eq!(
            words("--json --events run.jsonl").unwrap(),
            ["--json", "--events", "run.jsonl"]
        );
        assert_eq!(
            words("  --svg 'my run.svg' ").unwrap(),
            ["--svg", "my run.svg"]
        );
        assert_eq!(
            words(r#"--events "a \"b\".jsonl""#).unwrap(),
            ["--events", r#"a "b".jsonl"#]
        );
        assert_eq!(words(r"a\ b").unwrap(), ["a b"]);
        assert!(words("'open").unwrap_err().contains("not closed"));
        assert!(words("").unwrap().is_empty());
    }
}
