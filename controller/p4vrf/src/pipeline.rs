//! The P4 pipeline the controller pushes: our compiled program, built into the binary so it
//! runs anywhere, or files given on the command line.

use std::path::Path;

use anyhow::{Context, Result};

/// Binary P4Info and device config (bmv2 JSON) of a P4 program.
#[derive(Clone)]
pub struct Pipeline {
    pub p4info: Vec<u8>,
    pub device_config: Vec<u8>,
}

/// `p4/build/p4vrf.p4info.binpb`, as committed (see `p4/regen`).
pub const BUILTIN_P4INFO: &[u8] = include_bytes!("../../../p4/build/p4vrf.p4info.binpb");
/// `p4/build/p4vrf.json`, as committed.
pub const BUILTIN_DEVICE_CONFIG: &[u8] = include_bytes!("../../../p4/build/p4vrf.json");

impl Pipeline {
    /// The program this controller was built with.
    pub fn builtin() -> Self {
        Pipeline {
            p4info: BUILTIN_P4INFO.to_vec(),
            device_config: BUILTIN_DEVICE_CONFIG.to_vec(),
        }
    }

    /// A pipeline from files (e.g. a Tofino build of the same program).
    pub fn from_files(p4info: &Path, device_config: &Path) -> Result<Self> {
        Ok(Pipeline {
            p4info: std::fs::read(p4info)
                .with_context(|| format!("cannot read {}", p4info.display()))?,
            device_config: std::fs::read(device_config)
                .with_context(|| format!("cannot read {}", device_config.display()))?,
        })
    }
}
