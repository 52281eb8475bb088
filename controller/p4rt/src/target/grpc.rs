//! The gRPC target: P4Runtime over tonic to a real switch.
//!
//! On connect it opens the StreamChannel, claims primary with a
//! MasterArbitrationUpdate and waits (bounded) for the answer; the stream
//! then stays open in a background task (the switch ties primaryship to it)
//! that logs packet-ins and notifications. Every Write and
//! SetForwardingPipelineConfig carries our device and election ids.

use super::{
    all_wildcards, check_updates, commit_request, describe_proto, encode_batch, name_entities,
    table_wildcard, write_batches, IndexSlot, Pipeline, Target, TargetError, WriteError,
    DEFAULT_BATCH_SIZE,
};
use crate::entity::{Entity, Update};
use crate::p4info::P4InfoIndex;
use p4runtime_proto::google::rpc::Status;
use p4runtime_proto::p4::v1 as p4;
use p4runtime_proto::p4::v1::p4_runtime_client::P4RuntimeClient;
use prost::Message;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

/// How long `connect` waits for the TCP connection and, separately, for the
/// arbitration answer.
pub const ARBITRATION_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads of large tables exceed gRPC's 4 MiB default; allow far more.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

fn uint128(v: u128) -> p4::Uint128 {
    p4::Uint128 {
        high: (v >> 64) as u64,
        low: v as u64,
    }
}

/// The error and its causes on one line (tonic's own text is terse).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.join(": ")
}

fn code_name(code: tonic::Code) -> String {
    super::code_name(code as i32)
}

/// A tonic status as the google.rpc.Status the server meant: the details
/// trailer (`grpc-status-details-bin`) carries it whole, including the
/// per-update `p4.v1.Error`s of a failed Write.
pub(crate) fn rpc_status(s: &tonic::Status, addr: &str) -> Status {
    let mut out = Status {
        code: s.code() as i32,
        message: s.message().to_string(),
        details: Vec::new(),
    };
    if !s.details().is_empty() {
        if let Ok(decoded) = Status::decode(s.details()) {
            out.details = decoded.details;
            if out.message.is_empty() {
                out.message = decoded.message;
            }
        }
    }
    if matches!(
        s.code(),
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
    ) {
        out.message = format!("{} (P4Runtime server at {addr})", out.message);
    }
    out
}

fn rpc_error(addr: &str, rpc: &'static str, s: &tonic::Status) -> TargetError {
    super::rpc_error(addr, rpc, &rpc_status(s, addr))
}

#[derive(Debug, Default)]
struct StreamState {
    packet_ins: AtomicU64,
    primary: AtomicBool,
    open: AtomicBool,
}

/// A P4Runtime switch reached over gRPC, with us as primary controller.
#[derive(Debug)]
pub struct GrpcTarget {
    addr: String,
    device_id: u64,
    election_id: u128,
    client: P4RuntimeClient<Channel>,
    index: IndexSlot,
    batch_size: usize,
    state: Arc<StreamState>,
    /// Dropping the sender would end our side of the stream, and with it
    /// our primaryship.
    _stream_tx: mpsc::Sender<p4::StreamMessageRequest>,
    stream_task: JoinHandle<()>,
}

impl Drop for GrpcTarget {
    fn drop(&mut self) {
        self.stream_task.abort();
    }
}

impl GrpcTarget {
    /// Connects to `uri` (`127.0.0.1:9559` or `http://...`), opens the
    /// stream channel and becomes primary for `device_id` with
    /// `election_id` (sent as high/low 64-bit halves). Fails if the server
    /// cannot be reached, does not answer arbitration within
    /// [`ARBITRATION_TIMEOUT`], or makes us a backup.
    pub async fn connect(
        uri: &str,
        device_id: u64,
        election_id: u128,
    ) -> Result<Self, TargetError> {
        let addr = uri.to_string();
        let connect_err = |message: String| TargetError::Connect {
            addr: addr.clone(),
            message,
        };
        let full = if uri.contains("://") {
            uri.to_string()
        } else {
            format!("http://{uri}")
        };
        let endpoint = Endpoint::from_shared(full)
            .map_err(|e| connect_err(error_chain(&e)))?
            .connect_timeout(ARBITRATION_TIMEOUT)
            .tcp_nodelay(true);
        let channel = match tokio::time::timeout(ARBITRATION_TIMEOUT, endpoint.connect()).await {
            Err(_) => {
                return Err(connect_err(format!(
                    "timed out after {} s",
                    ARBITRATION_TIMEOUT.as_secs()
                )))
            }
            Ok(Err(e)) => return Err(connect_err(error_chain(&e))),
            Ok(Ok(channel)) => channel,
        };
        let client = P4RuntimeClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);

        let (tx, rx) = mpsc::channel(16);
        let claim = p4::StreamMessageRequest {
            update: Some(p4::stream_message_request::Update::Arbitration(
                p4::MasterArbitrationUpdate {
                    device_id,
                    role: None,
                    election_id: Some(uint128(election_id)),
                    status: None,
                },
            )),
        };
        tx.send(claim)
            .await
            .map_err(|_| TargetError::StreamClosed {
                addr: addr.clone(),
                message: "request stream closed before arbitration".to_string(),
            })?;

        let timed_out = || TargetError::ArbitrationTimeout {
            addr: addr.clone(),
            secs: ARBITRATION_TIMEOUT.as_secs(),
        };
        let deadline = Instant::now() + ARBITRATION_TIMEOUT;
        let mut opener = client.clone();
        let mut inbound =
            match timeout_at(deadline, opener.stream_channel(ReceiverStream::new(rx))).await {
                Err(_) => return Err(timed_out()),
                Ok(Err(s)) => return Err(rpc_error(&addr, "StreamChannel", &s)),
                Ok(Ok(response)) => response.into_inner(),
            };
        let state = Arc::new(StreamState::default());
        loop {
            let msg = match timeout_at(deadline, inbound.message()).await {
                Err(_) => return Err(timed_out()),
                Ok(Err(s)) => return Err(rpc_error(&addr, "StreamChannel", &s)),
                Ok(Ok(None)) => {
                    return Err(TargetError::StreamClosed {
                        addr,
                        message: "the server ended the stream before answering arbitration"
                            .to_string(),
                    })
                }
                Ok(Ok(Some(msg))) => msg,
            };
            match msg.update {
                Some(p4::stream_message_response::Update::Arbitration(a)) => {
                    let (code, message) = a.status.map(|s| (s.code, s.message)).unwrap_or((
                        p4runtime_proto::google::rpc::Code::Unknown as i32,
                        "arbitration answer without a status".to_string(),
                    ));
                    if code != 0 {
                        return Err(TargetError::NotPrimary {
                            addr,
                            device_id,
                            election_id,
                            code: super::code_name(code),
                            message,
                        });
                    }
                    break;
                }
                other => {
                    tracing::debug!(?other, "stream message before the arbitration answer");
                }
            }
        }
        state.primary.store(true, Ordering::SeqCst);
        state.open.store(true, Ordering::SeqCst);
        tracing::info!(%addr, device_id, election_id, "P4Runtime: connected as primary");

        let stream_task = tokio::spawn(watch_stream(inbound, state.clone(), addr.clone()));
        Ok(Self {
            addr,
            device_id,
            election_id,
            client,
            index: IndexSlot::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            state,
            _stream_tx: tx,
            stream_task,
        })
    }

    /// Updates per Write RPC (default [`DEFAULT_BATCH_SIZE`]).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The address as given to `connect`.
    pub fn address(&self) -> &str {
        &self.addr
    }

    /// The device id every request carries.
    pub fn device_id(&self) -> u64 {
        self.device_id
    }

    /// Our election id.
    pub fn election_id(&self) -> u128 {
        self.election_id
    }

    /// Packet-ins received on the stream so far.
    pub fn packet_in_count(&self) -> u64 {
        self.state.packet_ins.load(Ordering::Relaxed)
    }

    /// Whether the last arbitration news made us primary.
    pub fn is_primary(&self) -> bool {
        self.state.primary.load(Ordering::SeqCst)
    }

    /// Whether the stream channel is still open.
    pub fn stream_open(&self) -> bool {
        self.state.open.load(Ordering::SeqCst)
    }

    /// The P4Runtime version the server reports.
    pub async fn capabilities(&self) -> Result<String, TargetError> {
        let mut client = self.client.clone();
        let r = client
            .capabilities(p4::CapabilitiesRequest {
                device_id: self.device_id,
            })
            .await
            .map_err(|s| rpc_error(&self.addr, "Capabilities", &s))?;
        Ok(r.into_inner().p4runtime_api_version)
    }

    async fn get_config(
        &self,
        response_type: i32,
    ) -> Result<Option<p4::ForwardingPipelineConfig>, TargetError> {
        let mut client = self.client.clone();
        let req = p4::GetForwardingPipelineConfigRequest {
            device_id: self.device_id,
            response_type,
        };
        match client.get_forwarding_pipeline_config(req).await {
            Ok(r) => Ok(Some(r.into_inner().config.unwrap_or_default())),
            // What servers answer when no pipeline was ever set.
            Err(s) if s.code() == tonic::Code::FailedPrecondition => Ok(None),
            Err(s) => Err(rpc_error(&self.addr, "GetForwardingPipelineConfig", &s)),
        }
    }

    async fn read(
        &self,
        index: &P4InfoIndex,
        entities: Vec<p4::Entity>,
    ) -> Result<Vec<Entity>, TargetError> {
        let mut client = self.client.clone();
        let req = p4::ReadRequest {
            device_id: self.device_id,
            role: String::new(),
            entities,
        };
        let mut stream = client
            .read(req)
            .await
            .map_err(|s| rpc_error(&self.addr, "Read", &s))?
            .into_inner();
        let mut found = Vec::new();
        while let Some(r) = stream
            .message()
            .await
            .map_err(|s| rpc_error(&self.addr, "Read", &s))?
        {
            found.extend(r.entities);
        }
        name_entities(index, &self.addr, &found)
    }

    fn send(
        &self,
        updates: Vec<p4::Update>,
    ) -> impl std::future::Future<Output = Result<(), Status>> + Send + 'static {
        let mut client = self.client.clone();
        let addr = self.addr.clone();
        let req = p4::WriteRequest {
            device_id: self.device_id,
            election_id: Some(uint128(self.election_id)),
            updates,
            atomicity: p4::write_request::Atomicity::ContinueOnError as i32,
            ..Default::default()
        };
        async move {
            client
                .write(req)
                .await
                .map(|_| ())
                .map_err(|s| rpc_status(&s, &addr))
        }
    }
}

/// Reads the switch's side of the stream channel until it ends.
async fn watch_stream(
    mut inbound: tonic::Streaming<p4::StreamMessageResponse>,
    state: Arc<StreamState>,
    addr: String,
) {
    use p4::stream_message_response::Update as U;
    loop {
        match inbound.message().await {
            Ok(Some(msg)) => match msg.update {
                Some(U::Packet(p)) => {
                    let n = state.packet_ins.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::debug!(%addr, bytes = p.payload.len(), count = n, "packet-in");
                }
                Some(U::Arbitration(a)) => {
                    let code = a.status.as_ref().map_or(-1, |s| s.code);
                    let primary = code == 0;
                    let was = state.primary.swap(primary, Ordering::SeqCst);
                    if was && !primary {
                        tracing::warn!(%addr, code = %super::code_name(code), "P4Runtime: we are no longer primary; writes will be refused");
                    } else if !was && primary {
                        tracing::info!(%addr, "P4Runtime: primary again");
                    }
                }
                Some(U::IdleTimeoutNotification(n)) => {
                    tracing::debug!(%addr, entries = n.table_entry.len(), "idle timeout notification");
                }
                Some(U::Digest(d)) => {
                    tracing::debug!(%addr, digest_id = d.digest_id, "digest list");
                }
                Some(U::Error(e)) => {
                    tracing::warn!(%addr, code = %super::code_name(e.canonical_code), message = %e.message, "stream error from the switch");
                }
                Some(U::Other(_)) | None => {
                    tracing::debug!(%addr, "unrecognised stream message");
                }
            },
            Ok(None) => {
                tracing::warn!(%addr, "P4Runtime stream channel closed by the switch");
                break;
            }
            Err(s) => {
                tracing::warn!(%addr, code = %code_name(s.code()), message = s.message(), "P4Runtime stream channel failed");
                break;
            }
        }
    }
    state.open.store(false, Ordering::SeqCst);
    state.primary.store(false, Ordering::SeqCst);
}

impl Target for GrpcTarget {
    fn index(&self) -> Option<Arc<P4InfoIndex>> {
        self.index.get()
    }

    fn use_pipeline(&self, p4info: &[u8]) -> Result<Arc<P4InfoIndex>, TargetError> {
        self.index.load(p4info)
    }

    async fn set_pipeline(&self, p4info: &[u8], device_config: &[u8]) -> Result<u64, TargetError> {
        let (index, cookie, mut req) = commit_request(p4info, device_config)?;
        req.device_id = self.device_id;
        req.election_id = Some(uint128(self.election_id));
        let mut client = self.client.clone();
        client
            .set_forwarding_pipeline_config(req)
            .await
            .map_err(|s| rpc_error(&self.addr, "SetForwardingPipelineConfig", &s))?;
        self.index.set(index);
        tracing::info!(addr = %self.addr, cookie = format_args!("{cookie:#018x}"), "pipeline pushed");
        Ok(cookie)
    }

    async fn pipeline_cookie(&self) -> Result<Option<u64>, TargetError> {
        use p4::get_forwarding_pipeline_config_request::ResponseType;
        Ok(self
            .get_config(ResponseType::CookieOnly as i32)
            .await?
            .and_then(|c| c.cookie)
            .map(|c| c.cookie))
    }

    async fn get_pipeline(&self) -> Result<Option<Pipeline>, TargetError> {
        use p4::get_forwarding_pipeline_config_request::ResponseType;
        Ok(self
            .get_config(ResponseType::P4infoAndCookie as i32)
            .await?
            .map(|c| Pipeline {
                p4info: c.p4info,
                cookie: c.cookie.map(|c| c.cookie),
            }))
    }

    async fn write(&self, updates: &[Update]) -> Result<(), WriteError> {
        let index = self.index.get();
        check_updates(index.as_deref(), updates)?;
        let Some(index) = index else {
            return Ok(()); // nothing to write: the check refuses any update without a P4Info
        };
        let describe = |i: usize| (updates[i].kind, updates[i].entity.to_string());
        write_batches(
            updates.len(),
            self.batch_size,
            &describe,
            |range| encode_batch(&index, &updates[range]),
            |batch| self.send(batch),
        )
        .await
    }

    async fn write_proto(&self, updates: Vec<p4::Update>) -> Result<(), WriteError> {
        let index = self.index.get();
        let describe = |i: usize| describe_proto(index.as_deref(), &updates[i]);
        write_batches(
            updates.len(),
            self.batch_size,
            &describe,
            |range| Ok(updates[range].to_vec()),
            |batch| self.send(batch),
        )
        .await
    }

    async fn read_table(&self, table: &str) -> Result<Vec<Entity>, TargetError> {
        let index = self.index.get().ok_or(TargetError::NoPipeline)?;
        let id = index.table(table)?.id;
        self.read(&index, vec![table_wildcard(id)]).await
    }

    async fn read_all(&self) -> Result<Vec<Entity>, TargetError> {
        let index = self.index.get().ok_or(TargetError::NoPipeline)?;
        self.read(&index, all_wildcards(&index)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn election_id_splits_into_high_and_low() {
        let u = uint128((7u128 << 64) | 9);
        assert_eq!((u.high, u.low), (7, 9));
        let u = uint128(1);
        assert_eq!((u.high, u.low), (0, 1));
    }

    #[test]
    fn details_trailer_is_decoded() {
        let inner = Status {
            code: 2,
            message: "inner".into(),
            details: vec![prost_types::Any {
                type_url: super::super::P4_ERROR_TYPE_URL.into(),
                value: vec![],
            }],
        };
        let s = tonic::Status::with_details(tonic::Code::Unknown, "", inner.encode_to_vec().into());
        let st = rpc_status(&s, "x");
        assert_eq!(st.details.len(), 1);
        assert_eq!(st.message, "inner");
        let s = tonic::Status::unavailable("connection refused");
        assert!(rpc_status(&s, "127.0.0.1:1")
            .message
            .contains("127.0.0.1:1"));
    }
}
