//! `ferry completion <shell>`: its flag, and the completion script it prints for the command
//! line it is given (the caller passes `Cli`'s, so this file needs nothing of `cli.rs`).

use clap::Args;

/// `ferry completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the completion script of `cli` for the shell of `a` to stdout.
pub fn run(a: CompletionArgs, mut cli: clap::Command) {
    clap_complete::generate(a.shell, &mut cli, "ferry", &mut std::io::stdout());
}
