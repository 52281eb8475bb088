//! p4vrf's own protobuf definitions of P4Runtime v1, P4Info and google.rpc,
//! compiled with tonic (client and server stubs) and prost.
//!
//! The `.proto` sources live in `proto/` and were written for this project.
//! They are wire-compatible with P4Runtime 1.5 (package names, message names,
//! field numbers, types and oneofs are the same), so gRPC method paths such
//! as `/p4.v1.P4Runtime/Write` and all encodings match real switches (bmv2
//! `simple_switch_grpc`, Stratum) and the P4Info that p4c emits decodes in
//! full.
//!
//! # How compatibility is proved
//!
//! `ptf-tests/test_proto_compat.py` (run with pytest from the venv that
//! `ptf-tests/setup-venv` creates) does two things:
//!
//! 1. It compiles these `.proto` files with `grpc_tools.protoc` and compares,
//!    message by message, every field (name, number, type, cardinality,
//!    referenced type, oneof membership), every enum value and every service
//!    method against the descriptors shipped in the PyPI `p4runtime` package.
//! 2. It round-trips real bytes: the `encode_samples` example of this crate
//!    (`cargo run -p p4runtime-proto --example encode_samples -- DIR`)
//!    writes encoded WriteRequest / StreamMessageRequest / P4Info samples that
//!    Python decodes with the PyPI classes and checks; Python then writes
//!    messages it built itself, and `encode_samples -- --check DIR` decodes and
//!    checks them in Rust.
//!
//! The Rust half of the samples (building and checking them) is also a plain
//! `cargo test` (`tests/samples.rs`), so it runs without Python.

#[allow(clippy::all)]
/// Google's RPC types: `google.rpc.Status` (error details) and `Code`.
pub mod google {
    /// `google.rpc`.
    pub mod rpc {
        include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
    }
}

#[allow(clippy::all)]
/// P4Runtime (`p4.v1`) and P4Info (`p4.config.v1`).
pub mod p4 {
    /// `p4.v1`: the P4Runtime service, entities, stream messages, P4Data.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/p4.v1.rs"));
    }
    /// `p4.config.v1`.
    pub mod config {
        /// `p4.config.v1`: P4Info and the P4 type descriptions.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/p4.config.v1.rs"));
        }
    }
}

pub mod samples;

pub use prost;
pub use prost_types;
pub use tonic;
