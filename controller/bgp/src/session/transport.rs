//! One TCP connection of a neighbor: a fixed read buffer framed in place with the codec's
//! [`frame`](crate::frame), and a writer task behind a bounded queue.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;
use tracing::debug;

use super::fsm::ConnId;

/// Largest BGP message (RFC 8654) plus room for the start of the next one: a full message
/// always fits after compaction, so the buffer never grows.
const READ_BUFFER: usize = 2 * 65_536;

/// Messages (or batches of messages) waiting for the socket. When full, `send_update`
/// callers wait: backpressure reaches the controller instead of memory growing.
pub(crate) const WRITE_QUEUE: usize = 256;

/// How long a closing connection may take to deliver its NOTIFICATION.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Something the writer task tells the neighbor task.
#[derive(Debug)]
pub(crate) struct WriteFailed {
    pub conn: ConnId,
    pub error: io::Error,
}

/// The neighbor task's side of a connection.
pub(crate) struct Connection {
    pub id: ConnId,
    pub remote: SocketAddr,
    reader: OwnedReadHalf,
    buf: Box<[u8]>,
    /// Unprocessed bytes are `buf[start..filled]`.
    start: usize,
    filled: usize,
    /// Encoded messages to write; cloned into the session handle once Established.
    pub queue: mpsc::Sender<Vec<u8>>,
    close: Option<oneshot::Sender<Option<Vec<u8>>>>,
}

impl Connection {
    /// Splits the stream and starts its writer task; write errors come back on `failed`.
    pub fn new(
        id: ConnId,
        stream: TcpStream,
        failed: mpsc::UnboundedSender<WriteFailed>,
    ) -> io::Result<Connection> {
        // BGP messages are small and latency matters for KEEPALIVEs and NOTIFICATIONs.
        stream.set_nodelay(true)?;
        let remote = stream.peer_addr()?;
        let (reader, writer) = stream.into_split();
        let (queue, rx) = mpsc::channel(WRITE_QUEUE);
        let (close, close_rx) = oneshot::channel();
        tokio::spawn(write_loop(id, writer, rx, close_rx, failed));
        Ok(Connection {
            id,
            remote,
            reader,
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            start: 0,
            filled: 0,
            queue,
            close: Some(close),
        })
    }

    /// Reads more bytes: `Ok(0)` is the peer closing. Cancel-safe (one `poll_read`).
    pub fn poll_fill(&mut self, cx: &mut TaskContext<'_>) -> Poll<io::Result<usize>> {
        if self.filled == self.buf.len() {
            self.compact();
        }
        let mut rb = ReadBuf::new(&mut self.buf[self.filled..]);
        match Pin::new(&mut self.reader).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                self.filled += n;
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The bytes not yet framed.
    pub fn unread(&self) -> &[u8] {
        &self.buf[self.start..self.filled]
    }

    /// Marks `n` bytes as processed.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.filled);
        if self.start == self.filled {
            self.start = 0;
            self.filled = 0;
        }
    }

    /// Drops everything buffered (after a framing error nothing more can be read).
    pub fn discard(&mut self) {
        self.start = 0;
        self.filled = 0;
    }

    /// Moves the unprocessed tail to the front so the next read has room.
    pub fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
    }

    /// Queues one encoded message without waiting; false when the queue is full or gone.
    pub fn try_send(&self, bytes: Vec<u8>) -> bool {
        self.queue.try_send(bytes).is_ok()
    }

    /// Ends the connection: the writer sends `last` (a NOTIFICATION) if given, then shuts
    /// the socket down. Whatever is still queued is dropped.
    pub fn close(mut self, last: Option<Vec<u8>>) {
        if let Some(c) = self.close.take() {
            let _ = c.send(last);
        }
    }
}

async fn write_loop(
    id: ConnId,
    mut w: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
    mut close: oneshot::Receiver<Option<Vec<u8>>>,
    failed: mpsc::UnboundedSender<WriteFailed>,
) {
    loop {
        let bytes = tokio::select! {
            biased;
            last = &mut close => {
                if let Ok(Some(last)) = last {
                    let _ = timeout(CLOSE_GRACE, w.write_all(&last)).await;
                }
                let _ = timeout(CLOSE_GRACE, w.shutdown()).await;
                return;
            }
            m = rx.recv() => match m {
                Some(b) => b,
                None => return,
            },
        };
        tokio::select! {
            biased;
            _ = &mut close => {
                // Closed in the middle of a message: nothing can follow a partial message.
                let _ = timeout(CLOSE_GRACE, w.shutdown()).await;
                return;
            }
            r = w.write_all(&bytes) => {
                if let Err(error) = r {
                    debug!(conn = id, %error, "write failed");
                    let _ = failed.send(WriteFailed { conn: id, error });
                    return;
                }
            }
        }
    }
}

/// Opens the active connection, from `local` when a source address is configured.
pub(crate) async fn connect(remote: SocketAddr, local: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if remote.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(local) = local {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    socket.connect(remote).await
}
