//! The client side (`p4vrf show`): blocking, one request per connection.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Request, Response};

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens there: no socket file, or the daemon that made it is gone.
    #[error("no p4vrf daemon answers: is `p4vrf run` running? (socket {})", path.display())]
    NotRunning { path: PathBuf },
    #[error("permission denied on {}: run as the daemon's user (or root)", path.display())]
    PermissionDenied { path: PathBuf },
    #[error("talking to the daemon on {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("the daemon on {} sent an answer that is not one: {message}", path.display())]
    Protocol { path: PathBuf, message: String },
}

/// Sends one request to the daemon listening on `path` and waits (at most `timeout` per read
/// or write) for its answer.
pub fn query(path: &Path, request: &Request, timeout: Duration) -> Result<Response, ClientError> {
    let io_err = |source: io::Error| ClientError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => ClientError::NotRunning {
            path: path.to_path_buf(),
        },
        io::ErrorKind::PermissionDenied => ClientError::PermissionDenied {
            path: path.to_path_buf(),
        },
        _ => io_err(e),
    })?;
    stream.set_read_timeout(Some(timeout)).map_err(io_err)?;
    stream.set_write_timeout(Some(timeout)).map_err(io_err)?;
    let mut line = serde_json::to_vec(request).map_err(|e| ClientError::Protocol {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    line.push(b'\n');
    stream.write_all(&line).map_err(io_err)?;
    let mut answer = Vec::new();
    BufReader::new(&stream)
        .read_until(b'\n', &mut answer)
        .map_err(io_err)?;
    if answer.is_empty() {
        return Err(ClientError::Protocol {
            path: path.to_path_buf(),
            message: "the connection closed without an answer".to_string(),
        });
    }
    serde_json::from_slice(&answer).map_err(|e| ClientError::Protocol {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
