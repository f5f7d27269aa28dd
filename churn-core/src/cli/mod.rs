//! The `churn` command line (cargo feature `cli`).
//!
//! Each subcommand lives in its own file in this folder: a `clap::Args` struct, whose doc
//! comment is the command's help, implementing [`Run`]. Adding a subcommand is one new
//! file plus one line in the `commands!` list below (the line declares the module and
//! the variant); the shared flags (`--db`, `--project`) and the store come from [`Ctx`].
//!
//! Exit codes: 0 when the command ran (an import with rejected rows included), 1 on a
//! fatal error (unreadable file, store error, bad options), 2 on a usage error.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::error::{Error, Result};
use crate::store::{SqliteOptions, SqliteStore, Store, DEFAULT_PROJECT};

/// Declares the subcommand modules and the [`Command`] enum with its dispatch.
macro_rules! commands {
    ($($module:ident => $variant:ident($args:ident),)*) => {
        $(pub mod $module;)*

        /// The subcommands.
        #[derive(Debug, Subcommand)]
        pub enum Command {
            $(
                #[allow(missing_docs)]
                $variant($module::$args),
            )*
        }

        impl Command {
            /// Run the chosen subcommand.
            pub fn run(self, ctx: &Ctx) -> Result<()> {
                match self {
                    $(Command::$variant(args) => Run::run(args, ctx),)*
                }
            }
        }
    };
}

commands! {
    import => Import(ImportArgs),
    export => Export(ExportArgs),
    serve => Serve(ServeArgs),
    sessions => Sessions(SessionsArgs),
    funnel => Funnel(FunnelArgs),
    active_users => ActiveUsers(ActiveUsersArgs),
    retention => Retention(RetentionArgs),
    revenue => Revenue(RevenueArgs),
    churn_rate => ChurnRate(ChurnRateArgs),
    user => User(UserArgs),
    segments => Segments(SegmentsArgs),
    train => Train(TrainArgs),
    score => Score(ScoreArgs),
    report => Report(ReportArgs),
}

pub mod analysis;

/// Product analytics and churn prediction on your own event data.
#[derive(Debug, Parser)]
#[command(name = "churn", version, propagate_version = true)]
pub struct Cli {
    /// Flags every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// The store: a SQLite file, or a `postgres://user@host/db` URL.
    #[arg(long, global = true, value_name = "PATH", default_value = "churn.db")]
    pub db: PathBuf,
    /// The project (tenant) to work on.
    #[arg(long, global = true, value_name = "NAME", default_value = DEFAULT_PROJECT)]
    pub project: String,
}

/// A subcommand: parsed arguments that can run against the shared context.
pub trait Run {
    /// Do the work; print results on stdout, progress on stderr.
    fn run(self, ctx: &Ctx) -> Result<()>;
}

/// What every subcommand gets: the shared flags and access to the store.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `--db`.
    pub db: PathBuf,
    /// `--project`.
    pub project: String,
    /// Whether stdout is a terminal (progress bars are drawn only then).
    pub interactive: bool,
}

impl Ctx {
    /// The context for parsed global flags.
    pub fn new(global: &GlobalArgs) -> Self {
        Ctx {
            db: global.db.clone(),
            project: global.project.clone(),
            interactive: std::io::stdout().is_terminal(),
        }
    }

    /// Whether `--db` is a database URL (`postgres://...`) rather than a file.
    pub fn is_database_url(&self) -> bool {
        let db = self.db.to_string_lossy();
        db.starts_with("postgres://") || db.starts_with("postgresql://")
    }

    /// Open (or create) the store at `--db`.
    pub fn open_store(&self) -> Result<Arc<dyn Store>> {
        open_store(&self.db)
    }

    /// Open the store at `--db` for reading; a missing file is an error, not a new store.
    pub fn open_existing_store(&self) -> Result<Arc<dyn Store>> {
        if self.is_database_url() {
            // A database server: nothing to check on disk (opened read-write).
            return open_store(&self.db);
        }
        if !self.db.exists() {
            return Err(Error::NotFound {
                what: format!(
                    "store {} (import data first, or pass --db)",
                    self.db.display()
                ),
            });
        }
        Ok(Arc::new(SqliteStore::open_with(
            &self.db,
            SqliteOptions::default().read_only(true),
        )?))
    }
}

/// Open (or create) the store at `path`: a SQLite file, or a PostgreSQL database when
/// it is a `postgres://` URL (see [`crate::store::open_location`]).
pub fn open_store(path: &Path) -> Result<Arc<dyn Store>> {
    crate::store::open_location(&path.to_string_lossy())
}

/// Whether an error is a closed output pipe (`churn export | head`): not a failure.
fn is_broken_pipe(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Parse the process arguments, run, and turn the outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = Ctx::new(&cli.global);
    match cli.command.run(&ctx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Write to stdout, turning a failed write into an [`Error::Io`].
pub(crate) fn print(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| Error::Io {
            path: PathBuf::from("<stdout>"),
            source,
        })
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli =
            Cli::try_parse_from(["churn", "export", "--db", "x.db", "--project", "p"]).unwrap();
        assert_eq!(cli.global.db, PathBuf::from("x.db"));
        assert_eq!(cli.global.project, "p");
        let cli = Cli::try_parse_from(["churn", "import", "f.csv"]).unwrap();
        assert_eq!(cli.global.db, PathBuf::from("churn.db"));
        assert!(matches!(cli.command, Command::Import(_)));
        assert!(Cli::try_parse_from(["churn", "import"]).is_err());
        assert!(Cli::try_parse_from(["churn", "export", "--format", "xml"]).is_err());
        assert!(Cli::try_parse_from(["churn", "export", "--from", "someday"]).is_err());
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
