//! Writes the Rust-built sample messages into a directory, or checks the
//! Python-built ones found there. Used by ptf-tests/test_proto_compat.py.
//!
//! ```text
//! encode_samples DIR          # write rust_*.bin into DIR
//! encode_samples --check DIR  # decode and check python_*.bin from DIR
//! ```

use p4runtime_proto::samples;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn encode(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for sample in samples::rust_samples() {
        let path = dir.join(sample.name);
        std::fs::write(&path, &sample.bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {} ({} bytes)", path.display(), sample.bytes.len());
    }
    Ok(())
}

fn check(dir: &Path) -> Result<(), String> {
    let mut failures = Vec::new();
    for name in samples::PYTHON_SAMPLES {
        let path = dir.join(name);
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        match samples::check_python_sample(name, &bytes) {
            Ok(()) => println!("ok {}", path.display()),
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, dir] if flag == "--check" => check(&PathBuf::from(dir)),
        [dir] if !dir.starts_with('-') => encode(&PathBuf::from(dir)),
        _ => Err("usage: encode_samples DIR | encode_samples --check DIR".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("encode_samples: {e}");
            ExitCode::FAILURE
        }
    }
}
