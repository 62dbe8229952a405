//! [`CellError`]: why the tool could not finish one cell, typed where it
//! happens and kept as an [`ErrorKind`] in the outcome (its `Display` is
//! the outcome's `error` text). Findings are never errors: a compile or
//! link failure of the code is a `Found`, not a `CellError`.
//!
//! It must not print, and must not recognize a kind from message text:
//! stops (Ctrl-C, timeout) come from [`crate::process::Stop`].
use std::path::PathBuf;

use crate::build::{BuildFailure, Cause};
use crate::link::LinkToolError;
use crate::model::ErrorKind;
use crate::process::{ProcessError, Stop};

/// Why one cell has no findings to give. Each variant's text is what the
/// report's `error` says; `Clone` because one target's failed preparation
/// is every one of its cells' error.
#[derive(Clone, Debug, thiserror::Error)]
pub(crate) enum CellError {
    /// Ctrl-C.
    #[error("{0}")]
    Interrupted(String),
    /// The cell's `--timeout`.
    #[error("{0}")]
    Timeout(String),
    /// A toolchain, program or source tree is missing; `fix` is what
    /// installs it, when known.
    #[error("{what}{}", fix.as_ref().map(|f| format!("; fix: {f}")).unwrap_or_default())]
    MissingTool {
        /// What is missing, as a sentence.
        what: String,
        /// The command or step that installs it.
        fix: Option<String>,
    },
    /// A file or directory could not be created, written, read or locked.
    #[error("{message}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What happened, naming `path`.
        message: String,
    },
    /// Readying the toolchain failed (a sysroot build, the C compiler's
    /// flags for the triple).
    #[error("{0}")]
    Toolchain(String),
    /// The build tool failed for a reason other than the code.
    #[error("{0}")]
    Build(String),
    /// The cell cannot be built as configured.
    #[error("{0}")]
    Configuration(String),
    /// The linker could not run or was killed.
    #[error("{0}")]
    Link(String),
    /// The built files could not be read or analysed.
    #[error("{0}")]
    Inspection(String),
    /// A bug in linkmatrix: a panic, a target the plan lacks.
    #[error("{0}")]
    Internal(String),
}

impl CellError {
    /// The kind the report keeps.
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            CellError::Interrupted(_) => ErrorKind::Interrupted,
            CellError::Timeout(_) => ErrorKind::Timeout,
            CellError::MissingTool { .. } => ErrorKind::MissingTool,
            CellError::Io { .. } => ErrorKind::Io,
            CellError::Toolchain(_) => ErrorKind::Toolchain,
            CellError::Build(_) => ErrorKind::Build,
            CellError::Configuration(_) => ErrorKind::Configuration,
            CellError::Link(_) => ErrorKind::Link,
            CellError::Inspection(_) => ErrorKind::Inspection,
            CellError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// `doing path: e` (`creating /w/cells/x: Permission denied`).
    pub(crate) fn io(doing: &str, path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        let path = path.into();
        let message = format!("{doing} {}: {e}", path.display());
        CellError::Io { path, message }
    }

    /// `message`, as a stop when `stop` says so, else as `otherwise`.
    fn stopped_or(stop: Option<Stop>, message: String, otherwise: fn(String) -> Self) -> Self {
        match stop {
            Some(Stop::Interrupted) => CellError::Interrupted(message),
            Some(Stop::Timeout) => CellError::Timeout(message),
            None => otherwise(message),
        }
    }

    /// A failed command's error saying `message`: a stop when it was
    /// stopped, else `otherwise`.
    pub(crate) fn process(
        e: &ProcessError,
        message: String,
        otherwise: fn(String) -> Self,
    ) -> Self {
        Self::stopped_or(e.stop(), message, otherwise)
    }

    /// An error from a step that reports through anyhow (`{e:#}`): a stop
    /// when a command in its chain was stopped, else `otherwise`.
    pub(crate) fn chain(e: &anyhow::Error, otherwise: fn(String) -> Self) -> Self {
        let stop = e
            .chain()
            .find_map(|c| c.downcast_ref::<ProcessError>())
            .and_then(ProcessError::stop);
        Self::stopped_or(stop, format!("{e:#}"), otherwise)
    }

    /// An inspection step's anyhow error.
    pub(crate) fn inspection(e: &anyhow::Error) -> Self {
        Self::chain(e, CellError::Inspection)
    }
}

impl From<BuildFailure> for CellError {
    /// A build failure of the tool (a failure of the code is findings:
    /// callers check [`BuildFailure::is_code`] first).
    fn from(f: BuildFailure) -> Self {
        match f.cause {
            Cause::Stopped(s) => Self::stopped_or(Some(s), f.message, CellError::Build),
            Cause::Code | Cause::Tool => CellError::Build(f.message),
        }
    }
}

impl From<LinkToolError> for CellError {
    fn from(e: LinkToolError) -> Self {
        Self::stopped_or(e.stop, e.message, CellError::Link)
    }
}

/// The message of a caught panic's payload (`panic!("…")` gives a `&str`
/// or a `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_command_is_an_interrupt_or_a_timeout_whatever_its_text() {
        let e = ProcessError::Interrupted {
            command: "cargo build".to_owned(),
        };
        let c = CellError::process(&e, "configuring failed".to_owned(), CellError::Build);
        assert_eq!(c.kind(), ErrorKind::Interrupted);
        assert_eq!(c.to_string(), "configuring failed");
        let e = ProcessError::Timeout {
            command: "cc".to_owned(),
            after: std::time::Duration::from_secs(3),
        };
        let any = anyhow::Error::new(e).context("building core");
        let c = CellError::chain(&any, CellError::Toolchain);
        assert_eq!(c.kind(), ErrorKind::Timeout);
        assert!(
            c.to_string().starts_with("building core: `cc` timed out"),
            "{c}"
        );
    }

    #[test]
    fn a_missing_tool_shows_its_fix() {
        let c = CellError::MissingTool {
            what: "no Rust std for x".to_owned(),
            fix: Some("rustup target add x".to_owned()),
        };
        assert_eq!(c.to_string(), "no Rust std for x; fix: rustup target add x");
        assert_eq!(c.kind(), ErrorKind::MissingTool);
    }

    #[test]
    fn panic_payloads_give_their_message() {
        let p = std::panic::catch_unwind(|| panic!("at {}", 3)).unwrap_err();
        assert_eq!(panic_message(p.as_ref()), "at 3");
    }
}
