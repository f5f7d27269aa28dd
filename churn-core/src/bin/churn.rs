//! The `churn` command line tool. See `churn --help` and [`churn_core::cli`].

fn main() -> std::process::ExitCode {
    churn_core::cli::main()
}
