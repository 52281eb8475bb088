//! Compiles our .proto files with tonic-build. protoc comes from the
//! `protoc-bin-vendored` crate so a fresh machine needs no system protoc.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/p4/v1/p4runtime.proto",
    "proto/p4/v1/p4data.proto",
    "proto/p4/config/v1/p4info.proto",
    "proto/p4/config/v1/p4types.proto",
    "proto/google/rpc/status.proto",
    "proto/google/rpc/code.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;
    // prost-build finds protoc through this variable.
    std::env::set_var("PROTOC", protoc);

    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest.join("proto");
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let files: Vec<PathBuf> = PROTOS.iter().map(|p| manifest.join(p)).collect();
    tonic_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_protos(&files, &[proto_root, well_known])?;
    Ok(())
}
