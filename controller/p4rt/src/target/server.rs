//! The embedded switch served as a P4Runtime gRPC server, with our own tonic
//! server stub. It lets [`super::GrpcTarget`] be tested end to end without
//! bmv2 (arbitration, pipeline, write, read, error details), and can stand in
//! for a switch in any test that wants a P4Runtime endpoint on loopback.
//!
//! Arbitration follows the spec's rules in a simplified form: the live
//! stream with the highest election id ever seen is primary; Write and
//! SetForwardingPipelineConfig from anyone else get PERMISSION_DENIED.

// `tonic::Status` is large, but it is what a tonic service returns.
#![allow(clippy::result_large_err)]

use super::switch::SharedSwitch;
use p4runtime_proto::google::rpc::{Code, Status};
use p4runtime_proto::p4::v1 as p4;
use p4runtime_proto::p4::v1::p4_runtime_server::{P4Runtime, P4RuntimeServer};
use prost::Message;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Streaming};

/// Entities per ReadResponse message.
const READ_CHUNK: usize = 1000;
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

type StreamTx = mpsc::Sender<Result<p4::StreamMessageResponse, tonic::Status>>;

#[derive(Debug, Default)]
struct Arbitration {
    next_conn: u64,
    /// Live streams: election id (once claimed) and the way back.
    conns: HashMap<u64, (Option<u128>, StreamTx)>,
    highest: Option<u128>,
}

impl Arbitration {
    /// The election id of the live primary, if any.
    fn primary(&self) -> Option<u128> {
        let highest = self.highest?;
        self.conns
            .values()
            .any(|(e, _)| *e == Some(highest))
            .then_some(highest)
    }

    /// Tells every live stream who is primary now.
    fn notify_all(&self, device_id: u64) {
        let primary = self.primary();
        for (election, tx) in self.conns.values() {
            let Some(election) = election else { continue };
            let (code, message) = match primary {
                Some(p) if p == *election => (Code::Ok, "primary"),
                Some(_) => (Code::AlreadyExists, "backup: another controller is primary"),
                None => (Code::NotFound, "backup: there is no primary"),
            };
            let msg = p4::StreamMessageResponse {
                update: Some(p4::stream_message_response::Update::Arbitration(
                    p4::MasterArbitrationUpdate {
                        device_id,
                        role: None,
                        election_id: self.highest.map(uint128),
                        status: Some(Status {
                            code: code as i32,
                            message: message.to_string(),
                            details: Vec::new(),
                        }),
                    },
                )),
            };
            // A full or closed stream just misses an advisory message.
            let _ = tx.try_send(Ok(msg));
        }
    }
}

fn uint128(v: u128) -> p4::Uint128 {
    p4::Uint128 {
        high: (v >> 64) as u64,
        low: v as u64,
    }
}

fn from_uint128(v: &p4::Uint128) -> u128 {
    (u128::from(v.high) << 64) | u128::from(v.low)
}

/// A google.rpc.Status as a tonic status, details in the trailer as a
/// P4Runtime server sends them.
fn to_tonic(s: Status) -> tonic::Status {
    let code = tonic::Code::from(s.code);
    let message = s.message.clone();
    if s.details.is_empty() {
        tonic::Status::new(code, message)
    } else {
        tonic::Status::with_details(code, message, s.encode_to_vec().into())
    }
}

/// The P4Runtime service over an embedded switch.
#[derive(Debug, Clone)]
pub struct EmbeddedService {
    switch: SharedSwitch,
    device_id: u64,
    arbitration: Arc<Mutex<Arbitration>>,
}

impl EmbeddedService {
    /// Serves `switch` as device `device_id`.
    pub fn new(switch: SharedSwitch, device_id: u64) -> Self {
        Self {
            switch,
            device_id,
            arbitration: Arc::default(),
        }
    }

    /// The tonic service, with generous message limits.
    pub fn into_server(self) -> P4RuntimeServer<Self> {
        P4RuntimeServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    fn arb(&self) -> MutexGuard<'_, Arbitration> {
        self.arbitration.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check_device(&self, device_id: u64) -> Result<(), tonic::Status> {
        if device_id != self.device_id {
            return Err(tonic::Status::not_found(format!(
                "unknown device id {device_id} (this switch is device {})",
                self.device_id
            )));
        }
        Ok(())
    }

    /// PI's rule: with no stream open, requests without an election id are
    /// accepted; otherwise only the primary's election id is.
    fn check_primary(&self, election_id: Option<&p4::Uint128>) -> Result<(), tonic::Status> {
        let arb = self.arb();
        let claimed = arb.conns.values().any(|(e, _)| e.is_some());
        let ok = match (claimed, election_id) {
            (false, None) => true,
            (false, Some(_)) => false,
            (true, e) => e.map(from_uint128) == arb.primary(),
        };
        if ok {
            Ok(())
        } else {
            Err(tonic::Status::permission_denied("Not primary"))
        }
    }

    fn with_switch<T>(&self, f: impl FnOnce(&mut super::EmbeddedSwitch) -> T) -> T {
        let mut guard = self.switch.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Handles one arbitration claim from stream `conn`; an error ends the stream.
    fn claim(&self, conn: u64, a: &p4::MasterArbitrationUpdate) -> Result<(), tonic::Status> {
        self.check_device(a.device_id)?;
        let election = a.election_id.as_ref().map(from_uint128);
        let mut arb = self.arb();
        if let Some(e) = election {
            let taken = arb
                .conns
                .iter()
                .any(|(c, (other, _))| *c != conn && *other == Some(e));
            if taken {
                return Err(tonic::Status::invalid_argument(format!(
                    "election id {e} is used by another controller"
                )));
            }
            if arb.highest.is_none_or(|h| e >= h) {
                arb.highest = Some(e);
            }
        }
        if let Some(slot) = arb.conns.get_mut(&conn) {
            slot.0 = Some(election.unwrap_or(0));
        }
        tracing::debug!(conn, ?election, primary = ?arb.primary(), "embedded server: arbitration");
        arb.notify_all(self.device_id);
        Ok(())
    }

    fn disconnect(&self, conn: u64) {
        let mut arb = self.arb();
        let was_primary = arb
            .conns
            .get(&conn)
            .is_some_and(|(e, _)| e.is_some() && *e == arb.primary());
        arb.conns.remove(&conn);
        if was_primary {
            arb.notify_all(self.device_id);
        }
    }
}

#[tonic::async_trait]
impl P4Runtime for EmbeddedService {
    async fn write(
        &self,
        request: Request<p4::WriteRequest>,
    ) -> Result<Response<p4::WriteResponse>, tonic::Status> {
        let req = request.into_inner();
        self.check_device(req.device_id)?;
        self.check_primary(req.election_id.as_ref())?;
        self.with_switch(|s| s.write(&req)).map_err(to_tonic)?;
        Ok(Response::new(p4::WriteResponse {}))
    }

    type ReadStream =
        tokio_stream::Iter<std::vec::IntoIter<Result<p4::ReadResponse, tonic::Status>>>;

    async fn read(
        &self,
        request: Request<p4::ReadRequest>,
    ) -> Result<Response<Self::ReadStream>, tonic::Status> {
        let req = request.into_inner();
        self.check_device(req.device_id)?;
        let entities = self.with_switch(|s| s.read(&req)).map_err(to_tonic)?;
        let chunks: Vec<Result<p4::ReadResponse, tonic::Status>> = if entities.is_empty() {
            vec![Ok(p4::ReadResponse::default())]
        } else {
            entities
                .chunks(READ_CHUNK)
                .map(|c| {
                    Ok(p4::ReadResponse {
                        entities: c.to_vec(),
                    })
                })
                .collect()
        };
        Ok(Response::new(tokio_stream::iter(chunks)))
    }

    async fn set_forwarding_pipeline_config(
        &self,
        request: Request<p4::SetForwardingPipelineConfigRequest>,
    ) -> Result<Response<p4::SetForwardingPipelineConfigResponse>, tonic::Status> {
        let req = request.into_inner();
        self.check_device(req.device_id)?;
        self.check_primary(req.election_id.as_ref())?;
        self.with_switch(|s| s.set_pipeline(&req))
            .map_err(to_tonic)?;
        Ok(Response::new(p4::SetForwardingPipelineConfigResponse {}))
    }

    async fn get_forwarding_pipeline_config(
        &self,
        request: Request<p4::GetForwardingPipelineConfigRequest>,
    ) -> Result<Response<p4::GetForwardingPipelineConfigResponse>, tonic::Status> {
        let req = request.into_inner();
        self.check_device(req.device_id)?;
        let config = self
            .with_switch(|s| s.get_pipeline(&req))
            .map_err(to_tonic)?;
        Ok(Response::new(p4::GetForwardingPipelineConfigResponse {
            config: Some(config),
        }))
    }

    type StreamChannelStream = ReceiverStream<Result<p4::StreamMessageResponse, tonic::Status>>;

    async fn stream_channel(
        &self,
        request: Request<Streaming<p4::StreamMessageRequest>>,
    ) -> Result<Response<Self::StreamChannelStream>, tonic::Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(64);
        let conn = {
            let mut arb = self.arb();
            arb.next_conn += 1;
            let conn = arb.next_conn;
            arb.conns.insert(conn, (None, tx.clone()));
            conn
        };
        let service = self.clone();
        tokio::spawn(async move {
            // The stream ends when the client goes away (or fails).
            while let Ok(Some(msg)) = inbound.message().await {
                if let Some(p4::stream_message_request::Update::Arbitration(a)) = msg.update {
                    if let Err(status) = service.claim(conn, &a) {
                        let _ = tx.send(Err(status)).await;
                        break;
                    }
                }
                // Packet-outs and digest acks: the embedded switch has no
                // data plane, so there is nothing to do.
            }
            service.disconnect(conn);
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn capabilities(
        &self,
        _request: Request<p4::CapabilitiesRequest>,
    ) -> Result<Response<p4::CapabilitiesResponse>, tonic::Status> {
        Ok(Response::new(p4::CapabilitiesResponse {
            p4runtime_api_version: "1.5.0".to_string(),
            experimental: None,
        }))
    }
}

/// Serves `switch` as device `device_id` on an ephemeral port of 127.0.0.1
/// in a background task; returns the address. The task ends with the
/// runtime (or when aborted through the handle).
pub async fn spawn_local(
    switch: SharedSwitch,
    device_id: u64,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let service = EmbeddedService::new(switch, device_id).into_server();
    let task = tokio::spawn(async move {
        let served = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "embedded P4Runtime server stopped");
        }
    });
    tracing::info!(%addr, device_id, "embedded P4Runtime server listening");
    Ok((addr, task))
}
