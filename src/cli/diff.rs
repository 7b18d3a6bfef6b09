//! stub
#[derive(clap::Args)]
pub struct Args {}
pub fn run(_args: Args) -> i32 {
    0
}
