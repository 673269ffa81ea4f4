//! `parole`: the server and the interviewer's CLI in one binary. A thin main: the commands
//! are in [`cli`]; the work is done by `parole-server` and `parole-client-core`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
