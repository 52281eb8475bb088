//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

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

/// Started bmv2 from `bmv2/start`; stopped (by the harness, by PID) when dropped.
pub struct Bmv2 {
    name: String,
    pub grpc_addr: String,
}

impl Bmv2 {
    /// `None` (after printing one SKIP line) when simple_switch_grpc is not installed.
    pub fn start(name: &str, ports: u32) -> Option<Bmv2> {
        let root = repo_root();
        let out = Command::new(root.join("bmv2/start"))
            .args(["--name", name, "--ports", &ports.to_string(), "--no-p4"])
            .output()
            .expect("run bmv2/start");
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.code() == Some(77) {
            println!(
                "{}",
                stdout.lines().next().unwrap_or("SKIP: bmv2 not available")
            );
            return None;
        }
        assert!(
            out.status.success(),
            "bmv2/start failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let grpc_addr = stdout
            .lines()
            .find_map(|l| l.strip_prefix("GRPC_ADDR="))
            .expect("GRPC_ADDR in bmv2/start output")
            .to_string();
        Some(Bmv2 {
            name: name.to_string(),
            grpc_addr,
        })
    }
}

impl Drop for Bmv2 {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("bmv2/stop"))
            .args(["--name", &self.name])
            .status();
    }
}

/// bmv2 started under `name` with `ports` ports, this test primary on it and our pipeline
/// pushed; `None` (after the one SKIP line) when bmv2 is not installed.
pub async fn bmv2_target(name: &str, ports: u32) -> Option<(Bmv2, p4rt::target::GrpcTarget)> {
    let bmv2 = Bmv2::start(name, ports)?;
    let target = p4rt::target::GrpcTarget::connect(&format!("http://{}", bmv2.grpc_addr), 1, 1)
        .await
        .expect("become primary on bmv2");
    let p = Pipeline::builtin();
    target
        .set_pipeline(&p.p4info, &p.device_config)
        .await
        .expect("push pipeline to bmv2");
    Some((bmv2, target))
}
