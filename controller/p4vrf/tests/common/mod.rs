//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use p4rt::target::{EmbeddedTarget, Target};
use p4vrf::config;
use p4vrf::pipeline::Pipeline;
use p4vrf::router::Router;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

pub fn seed_lab_config() -> config::Config {
    config::load(&repo_root().join("examples/seed-lab/p4vrf.toml"))
        .expect("seed lab config is valid")
}

/// A fresh embedded switch running our pipeline.
pub async fn embedded() -> EmbeddedTarget {
    let target = EmbeddedTarget::new();
    let p = Pipeline::builtin();
    target
        .set_pipeline(&p.p4info, &p.device_config)
        .await
        .expect("pipeline");
    target
}

/// Applies a configuration and writes its updates; panics with the switch's words on failure.
pub async fn apply(router: &mut Router, target: &impl Target, config: config::Config) {
    let updates = router.apply(config).expect("translation");
    target
        .write(&updates)
        .await
        .unwrap_or_else(|e| panic!("switch refused the updates:\n{e}"));
}
