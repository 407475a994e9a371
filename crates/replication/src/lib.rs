//! How far behind the leader each follower is, over simulated time.
//!
//! # Brief overview
//! * [`LagModel`] — the statistical description of follower lag: [`IidLag`]
//!   (the kata's: every observation independent, 2 % of them multi-second
//!   spikes) or [`EpisodicLag`] (spikes are episodes: replication stalls, the
//!   backlog grows one-for-one with time, then drains at a catch-up speed).
//! * [`LagProcess`] — one follower's lag as a function of time, drawing from its
//!   own random stream.
//! * [`FollowerStream`] — the log as one follower receives it: entries and
//!   heartbeats applied strictly in order after their lag, and the follower's
//!   watermark (closed timestamp) from which it reports its staleness.
//! * [`clock::ClockModel`] — a region's wall clock (offset, drift, step,
//!   periodic wander), through which it stamps and reads time.
//! * [`rng`] — named sub-streams of one master seed.
//!
//! # Key decision: lag is a process in time, not a number per request
//! The kata draws a fresh lag for every request, which hides how long a user
//! stays stale: a real spike is an episode that every request during it sees.
//! A [`LagProcess`] is therefore asked for the lag *at a time*; the `iid` model
//! is the special case that ignores the time. Because each follower's process
//! owns its generator (see [`rng::substream`]), the lag path depends only on the
//! seed and the observation times, never on which read strategy is running —
//! two strategies compared on one seed face the same replication weather.
//!
//! This crate knows nothing about read strategies or reports, and does no I/O.
#![deny(missing_docs)]

pub mod clock;
mod lag;
pub mod rng;
mod stream;

pub use lag::{EpisodicLag, IidLag, LagModel, LagProcess, Normal};
pub use stream::FollowerStream;

/// Invalid replication parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplicationError {
    /// A lag-model parameter is out of range; the message says which and why.
    #[error("replication parameter `{name}`: {reason}")]
    BadParameter {
        /// The parameter's name.
        name: &'static str,
        /// What is wrong with it and what is allowed.
        reason: String,
    },
}
