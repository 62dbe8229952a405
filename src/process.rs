//! The one place subprocesses are started. A [`Cmd`] displays as the exact
//! command line (`+ cargo build --target …`); running it puts the child in
//! its own process group, drains stdout and stderr concurrently (bounded),
//! enforces a timeout, and kills the whole group on timeout or Ctrl-C.
//! Failures are typed ([`ProcessError`]) and carry the command and stderr.
//!
//! Nothing else in linkmatrix spawns a process.
#![allow(unsafe_code)] // killpg(2) and waitid(2); see `kill_group`, `has_exited`.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Captured output beyond this many bytes per stream is dropped (the rest is
/// still drained so the child never blocks).
const MAX_CAPTURE: usize = 32 << 20;

/// Environment variables that would leak the parent cargo's or the user's
/// build settings into a cell's build. Cells set what they need.
const SCRUB: &[&str] = &[
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_MAKEFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_PKG_NAME",
    "__CARGO_FIX_PLZ",
    "MAKEFLAGS",
    "MFLAGS",
];

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static CHILD_NANOS: AtomicU64 = AtomicU64::new(0);
static CHILD_COUNT: AtomicU64 = AtomicU64::new(0);

/// Commands run so far and the sum of their wall times (for the benchmark
/// of linkmatrix's own overhead).
pub(crate) fn child_stats() -> (u64, Duration) {
    (
        CHILD_COUNT.load(Ordering::Relaxed),
        Duration::from_nanos(CHILD_NANOS.load(Ordering::Relaxed)),
    )
}

/// CPU time (user + system) of every child linkmatrix has waited for and
/// of their waited-for descendants (`getrusage(RUSAGE_CHILDREN)`): with
/// the wall time, how busy the cores were.
pub(crate) fn children_cpu() -> Duration {
    // SAFETY: getrusage writes only into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &raw mut u) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn groups() -> &'static Mutex<HashSet<i32>> {
    static G: OnceLock<Mutex<HashSet<i32>>> = OnceLock::new();
    G.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Mark the run interrupted and kill every running child's process group.
pub(crate) fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let pgids: Vec<i32> = groups()
        .lock()
        .map(|g| g.iter().copied().collect())
        .unwrap_or_default();
    for pgid in pgids {
        kill_group(pgid);
    }
}

/// True once Ctrl-C was pressed.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: killpg has no memory-safety preconditions; a stale pgid
        // fails with ESRCH, which we ignore.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
}

/// Whether the child `pid` has exited, without reaping it: while it is a
/// zombie its pid, and so its process group id, cannot be reused, so the
/// group can still be signalled safely.
/// `None` when waitid fails (then `Child::try_wait` decides).
fn has_exited(pid: i32) -> Option<bool> {
    let id = libc::id_t::try_from(pid).ok()?;
    // SAFETY: an all-zero siginfo_t is a valid value; waitid only writes
    // into it. WNOWAIT leaves the child waitable for `Child::wait`.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            id,
            &raw mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        (r == 0).then(|| info.si_pid() != 0)
    }
}

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProcessError {
    /// It could not be started.
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// It ran and failed.
    #[error("`{command}` failed ({status})\n{stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// "exit status 1" or "killed by signal: 11 (SIGSEGV)".
        status: String,
        /// What it printed on stderr.
        stderr: String,
        /// What it printed on stdout.
        stdout: String,
    },
    /// It ran too long and its process group was killed.
    #[error("`{command}` timed out after {}s; its process group was killed", .after.as_secs())]
    Timeout {
        /// The command line.
        command: String,
        /// The limit.
        after: Duration,
    },
    /// Ctrl-C.
    #[error("`{command}` interrupted")]
    Interrupted {
        /// The command line.
        command: String,
    },
}

/// Why a command was stopped rather than finishing on its own: what
/// callers branch on (an interrupted cell is listed, a timed-out one says
/// so) without reading the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Ctrl-C.
    Interrupted,
    /// Its time limit.
    Timeout,
}

impl ProcessError {
    /// Whether it was stopped (Ctrl-C, timeout); `None` when it could not
    /// start or failed on its own.
    pub(crate) fn stop(&self) -> Option<Stop> {
        match self {
            ProcessError::Interrupted { .. } => Some(Stop::Interrupted),
            ProcessError::Timeout { .. } => Some(Stop::Timeout),
            ProcessError::Spawn { .. } | ProcessError::Failed { .. } => None,
        }
    }
}

/// What a finished command printed.
#[derive(Debug)]
pub(crate) struct Output {
    /// Its exit status.
    pub(crate) status: ExitStatus,
    /// Captured stdout.
    pub(crate) stdout: Vec<u8>,
    /// Captured stderr.
    pub(crate) stderr: Vec<u8>,
}

/// A command to run.
#[derive(Clone, Debug)]
pub(crate) struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    timeout: Option<Duration>,
}

impl Cmd {
    /// A command running `program`.
    pub(crate) fn new(program: impl AsRef<Path>) -> Self {
        Self {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            timeout: None,
        }
    }

    /// Add one argument.
    #[must_use]
    pub(crate) fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_owned());
        self
    }

    /// Add arguments.
    #[must_use]
    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Set an environment variable.
    #[must_use]
    pub(crate) fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.env
            .push((k.as_ref().to_owned(), Some(v.as_ref().to_owned())));
        self
    }

    /// Run in `dir` (cargo reads `.cargo/config.toml` from where it runs).
    #[must_use]
    pub(crate) fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Kill the process group after `t`.
    #[must_use]
    pub(crate) fn timeout(mut self, t: Option<Duration>) -> Self {
        self.timeout = t;
        self
    }

    /// The command another library built (program, arguments, environment,
    /// directory), to be run here instead.
    pub(crate) fn from_std(c: &Command) -> Self {
        let mut cmd = Cmd::new(c.get_program()).args(c.get_args());
        cmd.env = c
            .get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(OsStr::to_owned)))
            .collect();
        cmd.cwd = c.get_current_dir().map(Path::to_path_buf);
        cmd
    }

    /// The program.
    pub(crate) fn program(&self) -> &Path {
        &self.program
    }

    /// Run to completion; a non-zero exit is an error.
    pub(crate) fn run(&self) -> Result<Output, ProcessError> {
        let out = self.run_unchecked()?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(ProcessError::Failed {
                command: self.to_string(),
                status: describe_status(out.status),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            })
        }
    }

    /// Run to completion, whatever the exit status.
    pub(crate) fn run_unchecked(&self) -> Result<Output, ProcessError> {
        let command = self.to_string();
        if interrupted() {
            return Err(ProcessError::Interrupted { command });
        }
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for k in SCRUB {
            cmd.env_remove(k);
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(d) = &self.cwd {
            cmd.current_dir(d);
        }
        let start = Instant::now();
        let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn {
            command: command.clone(),
            source,
        })?;
        let pgid = i32::try_from(child.id()).unwrap_or(0);
        if let Ok(mut g) = groups().lock() {
            g.insert(pgid);
        }
        let guard = GroupGuard(pgid);
        let out_reader = drain(child.stdout.take());
        let err_reader = drain(child.stderr.take());
        let status = loop {
            match has_exited(pgid) {
                Some(true) => {
                    // The leader is done: whatever it left in its group (a
                    // background child holding our pipes) goes too, so
                    // neither the reads below nor the caller wait for it.
                    // The leader is not reaped yet: the group id is ours.
                    kill_group(pgid);
                    break child.wait();
                }
                Some(false) => {}
                None => match child.try_wait() {
                    Ok(Some(status)) => break Ok(status),
                    Ok(None) => {}
                    Err(e) => break Err(e),
                },
            }
            if interrupted() {
                kill_group(pgid);
                let _ = child.wait();
                return Err(ProcessError::Interrupted { command });
            }
            if let Some(t) = self.timeout
                && start.elapsed() > t
            {
                kill_group(pgid);
                let _ = child.wait();
                return Err(ProcessError::Timeout { command, after: t });
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // Reaped: its pid (and so the group id) may be reused from now on,
        // so the group must not be signalled again.
        drop(guard);
        let status = status.map_err(|source| ProcessError::Spawn {
            command: command.clone(),
            source,
        })?;
        let stdout = out_reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        let took = start.elapsed();
        CHILD_COUNT.fetch_add(1, Ordering::Relaxed);
        CHILD_NANOS.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// `cargo metadata` as `mc` describes it, run through [`Cmd`] (process
/// group, timeout, interruption) and parsed by `cargo_metadata`.
pub(crate) fn cargo_metadata(
    mc: &cargo_metadata::MetadataCommand,
) -> anyhow::Result<cargo_metadata::Metadata> {
    let cmd = Cmd::from_std(&mc.cargo_command()).timeout(Some(Duration::from_secs(300)));
    let out = cmd.run()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let json = text
        .lines()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| anyhow::anyhow!("{cmd}: no JSON in its output"))?;
    Ok(cargo_metadata::MetadataCommand::parse(json)?)
}

struct GroupGuard(i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Ok(mut g) = groups().lock() {
            g.remove(&self.0);
        }
    }
}

fn drain<R: Read + Send + 'static>(src: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let Some(mut src) = src else { return buf };
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match src.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = MAX_CAPTURE.saturating_sub(buf.len());
                    buf.extend_from_slice(&chunk[..n.min(room)]);
                }
            }
        }
        buf
    })
}

/// The line of a failed child's output saying the machine, not the code,
/// stopped it: a full disk or quota, a read-only file system, no file
/// descriptors or memory left. These are the C library's `strerror` texts
/// of ENOSPC, EDQUOT, EROFS, EMFILE, ENFILE and ENOMEM (glibc), which
/// rustc and cargo (through `std::io::Error`, "… (os error 28)"), GNU ld,
/// gold, lld, mold and the C compilers print when a write or open fails.
/// A build or link that failed with one is an error of the cell, never a
/// finding: the same code builds on a machine with room.
pub(crate) fn resource_fault(output: &str) -> Option<&str> {
    const FAULTS: [&str; 6] = [
        "No space left on device",
        "Disk quota exceeded",
        "Read-only file system",
        "Too many open files",
        "Too many open files in system",
        "Cannot allocate memory",
    ];
    output
        .lines()
        .find(|l| FAULTS.iter().any(|f| l.contains(f)))
        .map(str::trim)
}

/// "exit status 2", or "killed by signal: 11 (SIGSEGV)".
pub(crate) fn describe_status(status: ExitStatus) -> String {
    match status.code() {
        Some(c) => format!("exit status {c}"),
        // std names the signal: "signal: 11 (SIGSEGV) (core dumped)".
        None => format!("killed by {status}"),
    }
}

/// Quote a word so that a POSIX shell (bash for control characters, as
/// `$'…'`) reads it back exactly: the displayed command is runnable.
fn quote(s: &OsStr) -> String {
    quote_word(&s.to_string_lossy())
}

/// [`quote`] for a string.
pub(crate) fn quote_word(s: &str) -> String {
    use std::fmt::Write as _;
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_owned()
    } else if s.chars().any(char::is_control) {
        let mut out = String::from("$'");
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                c if c.is_control() && c.is_ascii() => {
                    let _ = write!(out, "\\x{:02x}", u32::from(c));
                }
                c if c.is_control() => {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("+ ")?;
        if let Some(d) = &self.cwd {
            write!(f, "cd {} && ", quote(d.as_os_str()))?;
        }
        for (k, v) in &self.env {
            if let Some(v) = v {
                // A directory put before the caller's PATH reads as such.
                let inherited = std::env::var_os(k).filter(|_| k == "PATH");
                let prefix = inherited.as_ref().and_then(|old| {
                    let (v, old) = (v.as_encoded_bytes(), old.as_encoded_bytes());
                    v.strip_suffix(old)?.strip_suffix(b":")
                });
                match prefix {
                    Some(p) => write!(
                        f,
                        "PATH={}:\"$PATH\" ",
                        quote(OsStr::new(&*String::from_utf8_lossy(p)))
                    )?,
                    None => write!(f, "{}={} ", k.to_string_lossy(), quote(v))?,
                }
            }
        }
        f.write_str(&quote(self.program.as_os_str()))?;
        for a in &self.args {
            write!(f, " {}", quote(a))?;
        }
        Ok(())
    }
}

/// The first `program` found on PATH (or as given, if it is a path).
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_in_a_childs_output_is_the_machines_fault() {
        let rustc = "error: failed to build archive at `libcore.rlib`: No space left on device (os error 28)\n";
        assert_eq!(
            resource_fault(&format!("   Compiling core\n{rustc}")),
            Some(rustc.trim())
        );
        assert_eq!(
            resource_fault("ld: final link failed: Disk quota exceeded"),
            Some("ld: final link failed: Disk quota exceeded")
        );
        assert_eq!(
            resource_fault("undefined reference to `no_space_left'"),
            None
        );
    }

    #[test]
    fn a_directory_put_before_path_is_shown_as_such() {
        let old = std::env::var("PATH").unwrap_or_default();
        let c = Cmd::new("make").env("PATH", format!("/w/ccache-bin:{old}"));
        assert_eq!(c.to_string(), "+ PATH=/w/ccache-bin:\"$PATH\" make");
    }

    #[test]
    fn display_is_the_exact_command_line() {
        let c = Cmd::new("cargo")
            .args(["build", "--features", "a b"])
            .env("RUSTFLAGS", "--sysroot /x");
        assert_eq!(
            c.to_string(),
            "+ RUSTFLAGS='--sysroot /x' cargo build --features 'a b'"
        );
    }

    #[test]
    fn control_characters_are_quoted_for_the_shell() {
        let c = Cmd::new("cargo").env("CARGO_ENCODED_RUSTFLAGS", "-Ca\x1f--sysroot\x1f/x y");
        assert_eq!(
            c.to_string(),
            "+ CARGO_ENCODED_RUSTFLAGS=$'-Ca\\x1f--sysroot\\x1f/x y' cargo"
        );
        let out = std::process::Command::new("bash")
            .args([
                "-c",
                &format!("printf %s {}", quote(OsStr::new("a\x1fb'c\\"))),
            ])
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"a\x1fb'c\\");
    }

    #[test]
    fn signals_are_named() {
        let e = Cmd::new("sh")
            .args(["-c", "kill -SEGV $$"])
            .run()
            .unwrap_err();
        assert!(e.to_string().contains("SIGSEGV"), "{e}");
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        // The mechanism, not a time: the background child, in the group
        // but not the direct child, is gone after the timeout.
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("bg");
        let e = Cmd::new("sh")
            .args(["-c", "sleep 120 & echo $! > \"$0\"; sleep 120"])
            .arg(&pidfile)
            .timeout(Some(Duration::from_millis(300)))
            .run()
            .unwrap_err();
        assert!(matches!(e, ProcessError::Timeout { .. }), "{e}");
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let stat = format!("/proc/{}/stat", pid.trim());
        let until = Instant::now() + Duration::from_secs(30);
        let alive = || {
            std::fs::read_to_string(&stat).is_ok_and(|s| {
                s.rsplit_once(") ")
                    .is_some_and(|(_, r)| !r.starts_with('Z'))
            })
        };
        while alive() {
            assert!(Instant::now() < until, "background child {pid} survived");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The leader exits first and leaves a background child holding the
    /// output pipe: the run once waited for that child (a compiler doing
    /// this made a cell with `--timeout 5` take 95 s). Now the leader's end
    /// ends the run, and the child is gone. The mechanism is asserted (the
    /// output, the child's death), with a hang guard far above its sleep.
    #[test]
    fn a_background_child_holding_the_pipe_does_not_outlive_its_leader() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("bg");
        let (tx, rx) = std::sync::mpsc::channel();
        let pf = pidfile.clone();
        std::thread::spawn(move || {
            let r = Cmd::new("sh")
                .args(["-c", "sleep 300 & echo $! > \"$0\"; echo started"])
                .arg(&pf)
                .timeout(Some(Duration::from_secs(600)))
                .run();
            let _ = tx.send(r);
        });
        let out = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the run waited for the background child")
            .unwrap();
        assert_eq!(out.stdout, b"started\n");
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let stat = format!("/proc/{}/stat", pid.trim());
        let until = Instant::now() + Duration::from_secs(30);
        while std::fs::read_to_string(&stat).is_ok_and(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, r)| !r.starts_with('Z'))
        }) {
            assert!(Instant::now() < until, "background child {pid} survived");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
