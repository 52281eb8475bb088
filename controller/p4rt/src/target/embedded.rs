//! The embedded target: writes go to an in-memory [`EmbeddedSwitch`], which
//! answers them with the rules, codes and [`WriteError`]s a real switch
//! produces. Name-level writes ([`Target::write`]) are handed to the switch as
//! the checked entities themselves (`EmbeddedSwitch::write_updates`): the
//! P4Runtime messages a switch would get are built only where the outcome
//! needs them, since building and re-parsing them was most of a write's cost.
//! Route entries are checked and packed into their records in one pass
//! (`EmbeddedSwitch::pack_updates`) before any is written, so a write still
//! writes nothing when an update fails its check.

use super::switch::{EmbeddedSwitch, SharedSwitch};
use super::{
    all_wildcards, check_updates, commit_request, describe_proto, name_entities, rpc_error,
    table_wildcard, write_batches, IndexSlot, Pipeline, Target, TargetError, WriteError,
    DEFAULT_BATCH_SIZE,
};
use crate::entity::{Entity, Update};
use crate::p4info::P4InfoIndex;
use p4runtime_proto::google::rpc::{Code, Status};
use p4runtime_proto::p4::v1 as p4;
use std::sync::{Arc, MutexGuard};

/// How errors name this target (where a gRPC target names its address).
const ADDR: &str = "embedded switch";

/// A target backed by an in-memory switch; the product's default.
#[derive(Debug)]
pub struct EmbeddedTarget {
    switch: SharedSwitch,
    index: IndexSlot,
    batch_size: usize,
}

impl Default for EmbeddedTarget {
    fn default() -> Self {
        Self::new()
    }
}

impl EmbeddedTarget {
    /// A target with its own new switch (no pipeline yet).
    pub fn new() -> Self {
        Self::with_switch(EmbeddedSwitch::shared())
    }

    /// A target writing to an existing switch (e.g. one also served over
    /// gRPC, or inspected by a test).
    pub fn with_switch(switch: SharedSwitch) -> Self {
        Self {
            switch,
            index: IndexSlot::default(),
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }

    /// Updates per Write (default [`DEFAULT_BATCH_SIZE`]).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The switch behind this target.
    pub fn switch(&self) -> SharedSwitch {
        self.switch.clone()
    }

    fn lock(&self) -> MutexGuard<'_, EmbeddedSwitch> {
        // A panic elsewhere while holding the lock leaves consistent data
        // (every update applies whole or not at all), so keep going.
        self.switch
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get_config(
        &self,
        response_type: i32,
    ) -> Result<Option<p4::ForwardingPipelineConfig>, TargetError> {
        let req = p4::GetForwardingPipelineConfigRequest {
            device_id: 0,
            response_type,
        };
        match self.lock().get_pipeline(&req) {
            Ok(config) => Ok(Some(config)),
            Err(s) if s.code == Code::FailedPrecondition as i32 => Ok(None),
            Err(s) => Err(rpc_error(ADDR, "GetForwardingPipelineConfig", &s)),
        }
    }

    fn read(
        &self,
        index: &P4InfoIndex,
        entities: Vec<p4::Entity>,
    ) -> Result<Vec<Entity>, TargetError> {
        let req = p4::ReadRequest {
            device_id: 0,
            role: String::new(),
            entities,
        };
        let found = self
            .lock()
            .read(&req)
            .map_err(|s| rpc_error(ADDR, "Read", &s))?;
        name_entities(index, ADDR, &found)
    }

    fn send(&self, updates: Vec<p4::Update>) -> Result<(), Status> {
        let req = p4::WriteRequest {
            updates,
            ..Default::default()
        };
        self.lock().write(&req)
    }
}

impl Target for EmbeddedTarget {
    fn index(&self) -> Option<Arc<P4InfoIndex>> {
        self.index.get()
    }

    fn use_pipeline(&self, p4info: &[u8]) -> Result<Arc<P4InfoIndex>, TargetError> {
        self.index.load(p4info)
    }

    async fn set_pipeline(&self, p4info: &[u8], device_config: &[u8]) -> Result<u64, TargetError> {
        let (index, cookie, req) = commit_request(p4info, device_config)?;
        self.lock()
            .set_pipeline(&req)
            .map_err(|s| rpc_error(ADDR, "SetForwardingPipelineConfig", &s))?;
        self.index.set(index);
        Ok(cookie)
    }

    async fn pipeline_cookie(&self) -> Result<Option<u64>, TargetError> {
        use p4::get_forwarding_pipeline_config_request::ResponseType;
        Ok(self
            .get_config(ResponseType::CookieOnly as i32)?
            .and_then(|c| c.cookie)
            .map(|c| c.cookie))
    }

    async fn get_pipeline(&self) -> Result<Option<Pipeline>, TargetError> {
        use p4::get_forwarding_pipeline_config_request::ResponseType;
        Ok(self
            .get_config(ResponseType::P4infoAndCookie as i32)?
            .map(|c| Pipeline {
                p4info: c.p4info,
                cookie: c.cookie.map(|c| c.cookie),
            }))
    }

    async fn write(&self, updates: &[Update]) -> Result<(), WriteError> {
        let index = self.index.get();
        // The check and the packing of route entries in one pass; when that finds a problem
        // (or cannot run), the check proper reports it.
        let packed = index
            .as_ref()
            .and_then(|index| self.lock().pack_updates(index, updates));
        if packed.is_none() {
            check_updates(index.as_deref(), updates)?;
        }
        let Some(index) = index else {
            return Ok(()); // nothing to write: the check refuses any update without a P4Info
        };
        let describe = |i: usize| (updates[i].kind, updates[i].entity.to_string());
        write_batches(updates.len(), self.batch_size, &describe, Ok, |range| {
            let packed = packed.as_ref().map(|p| (p, range.start));
            std::future::ready(self.lock().write_updates(&index, &updates[range], packed))
        })
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
            |batch| std::future::ready(self.send(batch)),
        )
        .await
    }

    async fn read_table(&self, table: &str) -> Result<Vec<Entity>, TargetError> {
        let index = self.index.get().ok_or(TargetError::NoPipeline)?;
        let id = index.table(table)?.id;
        self.read(&index, vec![table_wildcard(id)])
    }

    async fn read_all(&self) -> Result<Vec<Entity>, TargetError> {
        let index = self.index.get().ok_or(TargetError::NoPipeline)?;
        self.read(&index, all_wildcards(&index))
    }
}
