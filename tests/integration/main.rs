//! Integration tests: the real `linkmatrix` binary on real inputs. Topic
//! modules; shared helpers in `util`.
#![allow(
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    clippy::format_push_string,
    clippy::many_single_char_names
)]

mod action;
mod check;
mod ci;
mod cli;
mod command;
mod config;
mod cover;
mod explain;
mod explain_cases;
mod faults;
mod firmware;
mod footprint;
mod hosted;
mod inspect;
mod layout;
mod linkfail;
#[path = "../oracle/goblin.rs"]
mod oracle;
mod plan;
mod reports;
mod robustness;
mod triage;
mod util;
