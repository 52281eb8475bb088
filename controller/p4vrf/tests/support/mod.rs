//! What the daemon-level tests share: bounded polling, processes killed by PID when dropped,
//! a CLI runner with a time limit, and a little JSON reader for the daemons' `-j` output.
#![allow(dead_code)] // each test file uses its own part

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Every wait is bounded by this.
pub const WAIT: Duration = Duration::from_secs(30);

/// `bin` on PATH, in /usr/sbin, /usr/bin or /usr/lib/frr (where Debian puts FRR's daemons).
pub fn find(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin", "/usr/bin", "/usr/lib/frr"].map(PathBuf::from))
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

/// Polls `check` every 200 ms until it returns `Ok`, for up to [`WAIT`]; panics with its last
/// error.
pub fn poll<T>(what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        match check() {
            Ok(v) => return v,
            Err(e) if Instant::now() >= deadline => {
                panic!("timed out after {WAIT:?} waiting for {what}: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

// ----- processes ---------------------------------------------------------------------------

/// A process this test started; killed by its PID when dropped (also on panic).
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, dir: &Path, mut cmd: Command) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_string(),
            child: Some(child),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGKILL by PID, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The output so far, without terminal colour sequences.
    pub fn log(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs a CLI command with a 10 s limit; its stdout, or the error.
pub fn run_cli(program: &Path, args: &[&str]) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{} {args:?}: timed out", program.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{} {args:?}: {}: {text}{}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

// ----- a little JSON, for gobgp -j ---------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = JsonParser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at {}", p.i));
        }
        Ok(v)
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn path(&self, keys: &[&str]) -> Option<&Json> {
        keys.iter().try_fold(self, |v, k| v.get(k))
    }

    pub fn num(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            _ => &[],
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at {}", c as char, self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut kv = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(kv));
                }
                loop {
                    self.ws();
                    let Json::Str(k) = self.value()? else {
                        return Err(format!("object key expected at {}", self.i));
                    };
                    self.eat(b':')?;
                    kv.push((k, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(kv));
                        }
                        _ => return Err(format!("`,` or `}}` expected at {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(format!("`,` or `]` expected at {}", self.i)),
                    }
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    match self.s.get(self.i) {
                        None => return Err("unterminated string".into()),
                        Some(b'"') => {
                            self.i += 1;
                            return Ok(Json::Str(out));
                        }
                        Some(b'\\') => {
                            let c = self.s.get(self.i + 1).copied().unwrap_or(b'?');
                            self.i += 2;
                            match c {
                                b'n' => out.push('\n'),
                                b't' => out.push('\t'),
                                b'u' => {
                                    let hex = std::str::from_utf8(
                                        self.s.get(self.i..self.i + 4).unwrap_or(b"003f"),
                                    )
                                    .unwrap_or("003f");
                                    let code = u32::from_str_radix(hex, 16).unwrap_or(0x3f);
                                    out.push(char::from_u32(code).unwrap_or('?'));
                                    self.i += 4;
                                }
                                other => out.push(other as char),
                            }
                        }
                        Some(_) => {
                            let start = self.i;
                            while self
                                .s
                                .get(self.i)
                                .is_some_and(|c| *c != b'"' && *c != b'\\')
                            {
                                self.i += 1;
                            }
                            out.push_str(&String::from_utf8_lossy(&self.s[start..self.i]));
                        }
                    }
                }
            }
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Json::Bool(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Json::Bool(false))
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Json::Null)
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| b"+-.eE".contains(c) || c.is_ascii_digit())
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).expect("ascii");
                t.parse()
                    .map(Json::Num)
                    .map_err(|_| format!("bad number `{t}`"))
            }
            _ => Err(format!("value expected at {}", self.i)),
        }
    }
}

// ----- the p4vrf daemon --------------------------------------------------------------------

/// `p4vrf run` on the embedded switch, with its configuration, PID file, API socket and log
/// in the test's directory; killed by its PID when dropped.
pub struct P4vrf {
    pub proc: Proc,
    pub dir: PathBuf,
}

impl P4vrf {
    /// Writes `config` to DIR/p4vrf.toml, starts the daemon on it and returns once the switch
    /// is programmed (the PID file is written then).
    pub fn start(dir: &Path, config: &str) -> P4vrf {
        let config_path = dir.join("p4vrf.toml");
        std::fs::write(&config_path, config).expect("write p4vrf.toml");
        let pid_file = dir.join("p4vrf.pid");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_p4vrf"));
        cmd.arg("run")
            .arg(&config_path)
            .arg("--pid-file")
            .arg(&pid_file)
            // Its own API socket: tests run side by side, and the default one is shared.
            .arg("--api-socket")
            .arg(dir.join("api.sock"))
            .env("P4VRF_LOG", "info")
            .env("NO_COLOR", "1");
        let mut p = Proc::spawn("p4vrf", dir, cmd);
        poll("p4vrf to program the switch", || {
            if !p.alive() {
                panic!("p4vrf exited:\n{}", p.log());
            }
            std::fs::read_to_string(&pid_file)
                .map_err(|e| e.to_string())
                .and_then(|s| {
                    if s.trim() == p.pid().to_string() {
                        Ok(())
                    } else {
                        Err(format!("pid file says `{s}`"))
                    }
                })
        });
        P4vrf {
            proc: p,
            dir: dir.to_path_buf(),
        }
    }

    pub fn log(&self) -> String {
        self.proc.log()
    }

    /// `p4vrf show WORDS` against this daemon (its own API socket).
    pub fn show(&self, words: &str) -> String {
        let socket = self.dir.join("api.sock");
        let mut args = vec!["show", "--socket", socket.to_str().expect("utf-8 path")];
        args.extend(words.split_whitespace());
        run_cli(Path::new(env!("CARGO_BIN_EXE_p4vrf")), &args)
            .unwrap_or_else(|e| panic!("p4vrf show {words}: {e}"))
    }

    /// Rewrites the configuration and sends SIGHUP.
    pub fn reload(&self, config: &str) {
        std::fs::write(self.dir.join("p4vrf.toml"), config).expect("write p4vrf.toml");
        let pid = self.proc.pid();
        let ok = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -HUP {pid} failed");
    }

    /// The log says the session with `addr` is up.
    pub fn wait_established(&self, addr: IpAddr) {
        let needle = format!("session established neighbor={addr}");
        poll(&format!("p4vrf's session with {addr}"), || {
            if self.log().contains(&needle) {
                Ok(())
            } else {
                Err("not yet".into())
            }
        });
    }

    /// The `switch programmed updates=N` lines of the log, N each.
    pub fn programmed(&self) -> Vec<u32> {
        self.log()
            .lines()
            .filter_map(|l| l.split("switch programmed updates=").nth(1))
            .filter_map(|rest| rest.trim().parse().ok())
            .collect()
    }

    /// Waits for a `switch programmed` line after the first `before` ones; its update count.
    pub fn wait_programmed_after(&self, before: usize, what: &str) -> u32 {
        poll(&format!("p4vrf to program the switch ({what})"), || {
            let p = self.programmed();
            p.get(before)
                .copied()
                .ok_or_else(|| format!("programmed {p:?}"))
        })
    }
}
