//! The fast sender: a minimal BGP speaker on blocking sockets. It connects from its own
//! loopback address to the system under test, exchanges OPEN and KEEPALIVE, then writes the
//! pre-encoded UPDATEs as fast as the receiver reads them, then End-of-RIB. A reader thread
//! drains whatever the system sends back (KEEPALIVEs, its own UPDATEs) and notes a
//! NOTIFICATION; a keepalive thread keeps the session up while the bench polls.
//!
//! Writes are serialized by a mutex and always whole messages (UPDATEs are written in chunks
//! of about 64 KiB cut at message boundaries), so a KEEPALIVE never lands inside an UPDATE.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use bgp::session::Describe;
use bgp::{frame, Capability, Context, Family, Message, Open};

/// Our hold time; the systems' own may be lower (the session takes the minimum).
const HOLD_TIME: u16 = 240;
/// KEEPALIVE every this often — under a third of the smallest hold time of the systems (90 s).
const KEEPALIVE_EVERY: Duration = Duration::from_secs(20);
const CHUNK: usize = 64 * 1024;

pub struct Session {
    stream: Arc<Mutex<TcpStream>>,
    stop: Arc<AtomicBool>,
    /// A NOTIFICATION or read error from the system, if any.
    pub trouble: Arc<Mutex<Option<String>>>,
    reader: Option<JoinHandle<()>>,
    keepalive: Option<JoinHandle<()>>,
}

fn keepalive_bytes() -> Vec<u8> {
    Message::Keepalive
        .to_bytes(&Context::default())
        .expect("KEEPALIVE")
}

/// Reads one whole message (blocking), growing `buf`; returns its bytes.
fn read_message(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>, String> {
    let ctx = Context::all();
    loop {
        match frame(buf, &ctx) {
            Ok(Some(f)) => {
                let n = f.len();
                let msg = buf[..n].to_vec();
                buf.drain(..n);
                return Ok(msg);
            }
            Ok(None) => {}
            Err(e) => return Err(format!("bad message from the system: {e}")),
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the system closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn describe(msg: &[u8]) -> String {
    match Message::decode(msg, &Context::all()) {
        Ok(d) => match d.message {
            Message::Notification(n) => format!("NOTIFICATION {}", Describe(&n)),
            m => format!("message type {}", m.msg_type()),
        },
        Err(e) => format!("undecodable message: {e}"),
    }
}

impl Session {
    /// Connects from `local` to `remote` (retrying while nothing listens, up to `wait`) and
    /// brings the session up as AS `asn` with router id `local`, for `family`.
    pub fn connect(
        local: Ipv4Addr,
        remote: SocketAddr,
        asn: u32,
        family: Family,
        wait: Duration,
    ) -> Result<Session, String> {
        let deadline = Instant::now() + wait;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut stream = loop {
            let attempt = rt.block_on(async {
                let sock = tokio::net::TcpSocket::new_v4()?;
                sock.bind(SocketAddr::new(local.into(), 0))?;
                tokio::time::timeout(Duration::from_secs(5), sock.connect(remote))
                    .await
                    .map_err(|_| std::io::Error::other("connect timed out"))?
            });
            match attempt {
                Ok(s) => break s.into_std().map_err(|e| e.to_string())?,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(format!("cannot connect to {remote}: {e}")),
            }
        };
        stream.set_nonblocking(false).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let open = Open::new(
            asn,
            HOLD_TIME,
            local,
            vec![
                Capability::Multiprotocol {
                    family: family.afi_safi(),
                    reserved: 0,
                },
                Capability::RouteRefresh,
                Capability::FourOctetAs(asn),
            ],
        );
        let mut out = Vec::new();
        Message::Open(open)
            .encode(&Context::default(), &mut out)
            .map_err(|e| e.to_string())?;
        stream.write_all(&out).map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let first = read_message(&mut stream, &mut buf)?;
        if first.get(18) != Some(&bgp::consts::msg::OPEN) {
            return Err(format!("expected OPEN, got {}", describe(&first)));
        }
        stream
            .write_all(&keepalive_bytes())
            .map_err(|e| e.to_string())?;
        let m = read_message(&mut stream, &mut buf)?;
        if m.get(18) != Some(&bgp::consts::msg::KEEPALIVE) {
            return Err(format!("expected KEEPALIVE, got {}", describe(&m)));
        }
        stream.set_read_timeout(None).map_err(|e| e.to_string())?;

        let stop = Arc::new(AtomicBool::new(false));
        let trouble: Arc<Mutex<Option<String>>> = Arc::default();
        let mut reader_stream = stream.try_clone().map_err(|e| e.to_string())?;
        let reader = {
            let trouble = trouble.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut buf = buf;
                while !stop.load(Ordering::Relaxed) {
                    match read_message(&mut reader_stream, &mut buf) {
                        Ok(m) if m.get(18) == Some(&bgp::consts::msg::NOTIFICATION) => {
                            *trouble.lock().expect("lock") = Some(describe(&m));
                            return;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            if !stop.load(Ordering::Relaxed) {
                                *trouble.lock().expect("lock") = Some(e);
                            }
                            return;
                        }
                    }
                }
            })
        };
        let stream = Arc::new(Mutex::new(stream));
        let keepalive = {
            let stream = stream.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let ka = keepalive_bytes();
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    if last.elapsed() >= KEEPALIVE_EVERY {
                        let _ = stream.lock().expect("lock").write_all(&ka);
                        last = Instant::now();
                    }
                }
            })
        };
        Ok(Session {
            stream,
            stop,
            trouble,
            reader: Some(reader),
            keepalive: Some(keepalive),
        })
    }

    /// Writes every message, then `end_of_rib`. Returns the wall-clock time just before the
    /// first byte of the first UPDATE and the instant the last write returned.
    pub fn blast(
        &self,
        messages: &[Vec<u8>],
        end_of_rib: &[u8],
    ) -> Result<(SystemTime, Instant, Instant), String> {
        let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
        let t0 = SystemTime::now();
        let i0 = Instant::now();
        let send = |chunk: &mut Vec<u8>| -> Result<(), String> {
            self.stream
                .lock()
                .expect("lock")
                .write_all(chunk)
                .map_err(|e| format!("write: {e}"))?;
            chunk.clear();
            Ok(())
        };
        for m in messages {
            chunk.extend_from_slice(m);
            if chunk.len() >= CHUNK {
                send(&mut chunk)?;
            }
        }
        chunk.extend_from_slice(end_of_rib);
        send(&mut chunk)?;
        Ok((t0, i0, Instant::now()))
    }

    pub fn trouble(&self) -> Option<String> {
        self.trouble.lock().expect("lock").clone()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(s) = self.stream.lock() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        if let Some(h) = self.keepalive.take() {
            let _ = h.join();
        }
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}
