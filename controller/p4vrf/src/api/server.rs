//! The daemon side: a Unix socket, one task per connection, requests handed to the main loop.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::{Request, Response, MAX_REQUEST};

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request may wait for the main loop (busy reconnecting a switch, say).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long writing the answer may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 16;
/// Requests queued for the main loop.
const QUEUE: usize = 16;

/// A request on its way to the main loop, which answers it with [`ApiCall::respond`].
#[derive(Debug)]
pub struct ApiCall {
    pub request: Request,
    reply: oneshot::Sender<Response>,
}

impl ApiCall {
    /// Sends the answer back to the waiting client (gone clients are ignored).
    pub fn respond(self, response: Response) {
        let _ = self.reply.send(response);
    }
}

/// Why the local API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot create the socket directory {}: {source}", dir.display())]
    CreateDir { dir: PathBuf, source: io::Error },
    #[error("another p4vrf daemon answers on {} (stop it, or pick another --api-socket)", path.display())]
    InUse { path: PathBuf },
    #[error("{} exists and is not a socket; refusing to replace it", path.display())]
    NotASocket { path: PathBuf },
    #[error("cannot remove the stale socket {}: {source}", path.display())]
    RemoveStale { path: PathBuf, source: io::Error },
    #[error("cannot listen on {}: {source}", path.display())]
    Bind { path: PathBuf, source: io::Error },
}

/// The listening socket and its accept task. Dropping it stops listening and removes the
/// socket file (if it is still the one this server created).
#[derive(Debug)]
pub struct ApiServer {
    path: PathBuf,
    /// (device, inode) of the socket file we bound.
    identity: (u64, u64),
    task: JoinHandle<()>,
}

impl ApiServer {
    /// Listens on `path` (mode 0600; its directory is created with mode 0700 if missing) and
    /// returns the server with the receiving end of its requests. A socket file left by a dead
    /// daemon is removed; a live daemon answering on it is an error. Call it from within a
    /// Tokio runtime.
    pub fn start(path: &Path) -> Result<(ApiServer, mpsc::Receiver<ApiCall>), ApiError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|source| ApiError::CreateDir {
                        dir: dir.to_path_buf(),
                        source,
                    })?;
            }
        }
        remove_stale(path)?;
        let bind_err = |source| ApiError::Bind {
            path: path.to_path_buf(),
            source,
        };
        let std_listener = std::os::unix::net::UnixListener::bind(path).map_err(bind_err)?;
        // Until this chmod the file has the umask's mode; connections from other users in
        // that window are refused below by their credentials.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
            let _ = std::fs::remove_file(path);
            bind_err(e)
        })?;
        let meta = std::fs::metadata(path).map_err(bind_err)?;
        std_listener.set_nonblocking(true).map_err(bind_err)?;
        let listener = UnixListener::from_std(std_listener).map_err(bind_err)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(accept_loop(listener, tx, meta.uid()));
        Ok((
            ApiServer {
                path: path.to_path_buf(),
                identity: (meta.dev(), meta.ino()),
                task,
            },
            rx,
        ))
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if (meta.dev(), meta.ino()) == self.identity {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Removes a socket file nobody answers on; refuses when a daemon does, or when the path is
/// not a socket at all.
fn remove_stale(path: &Path) -> Result<(), ApiError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ApiError::Bind {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ApiError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(ApiError::InUse {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            debug!(path = %path.display(), "removing the stale socket of a dead daemon");
            std::fs::remove_file(path).map_err(|source| ApiError::RemoveStale {
                path: path.to_path_buf(),
                source,
            })
        }
        Err(source) => Err(ApiError::Bind {
            path: path.to_path_buf(),
            source,
        }),
    }
}

async fn accept_loop(listener: UnixListener, calls: mpsc::Sender<ApiCall>, owner: u32) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                warn!("local API: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let allowed = stream
            .peer_cred()
            .is_ok_and(|c| c.uid() == owner || c.uid() == 0);
        if !allowed {
            debug!("local API: refusing a connection from another user");
            continue;
        }
        let calls = calls.clone();
        tokio::spawn(async move {
            serve_connection(stream, calls).await;
            drop(permit);
        });
    }
}

/// Reads the request line: at most [`MAX_REQUEST`] bytes, within [`READ_TIMEOUT`].
async fn read_request(stream: &mut UnixStream) -> Result<Request, String> {
    let mut line = Vec::new();
    let limit = (MAX_REQUEST + 1) as u64;
    let mut reader = BufReader::new(stream).take(limit);
    match tokio::time::timeout(READ_TIMEOUT, reader.read_until(b'\n', &mut line)).await {
        Err(_) => return Err("% no request received in time".to_string()),
        Ok(Err(e)) => return Err(format!("% cannot read the request: {e}")),
        Ok(Ok(_)) => {}
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.len() > MAX_REQUEST {
        return Err(format!("% request larger than {MAX_REQUEST} bytes"));
    }
    serde_json::from_slice(&line).map_err(|e| format!("% malformed request: {e}"))
}

async fn serve_connection(mut stream: UnixStream, calls: mpsc::Sender<ApiCall>) {
    let response = match read_request(&mut stream).await {
        Err(e) => Response::Error(e),
        Ok(request) => {
            debug!(command = ?request.command, json = request.json, "local API request");
            let (reply, answer) = oneshot::channel();
            if calls.send(ApiCall { request, reply }).await.is_err() {
                Response::Error("% the daemon is stopping".to_string())
            } else {
                match tokio::time::timeout(ANSWER_TIMEOUT, answer).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(_)) => Response::Error("% the daemon is stopping".to_string()),
                    Err(_) => Response::Error("% the daemon did not answer in time".to_string()),
                }
            }
        }
    };
    let mut bytes = serde_json::to_vec(&response)
        .unwrap_or_else(|_| br#"{"ok":false,"error":"% cannot encode the answer"}"#.to_vec());
    bytes.push(b'\n');
    let write = async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    };
    if let Err(e) = tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")))
    {
        debug!("local API: cannot send the answer: {e}");
    }
}

/// The next request for the main loop; never ready when there is no API (`None`), so a
/// `tokio::select!` arm on it simply never fires.
pub async fn next_call(calls: &mut Option<mpsc::Receiver<ApiCall>>) -> ApiCall {
    if let Some(rx) = calls {
        if let Some(call) = rx.recv().await {
            return call;
        }
        *calls = None;
    }
    std::future::pending().await
}
