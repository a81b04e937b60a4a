//! The reverse (unmasking) process, shared by the CPU loop here and the GPU loop in
//! `gpu::generate` (whose kernels implement `pick` and `commit` exactly as written
//! here): the parameters and their checks ([`params`]), the per-position
//! constraints of regulated verse and the repeat rule ([`constraints`]), the step
//! schedule ([`schedule`]), and one step — pick, commit, the CPU loop ([`step`]).

mod constraints;
mod params;
mod schedule;
mod step;

pub use constraints::*;
pub use params::*;
pub use schedule::*;
pub use step::*;
