//! Compiles `flashsale/v1/*.proto` with protox (a protobuf compiler in Rust),
//! so building needs no system `protoc`, and keeps the descriptor set for
//! server reflection.

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &[
    "flashsale/v1/inventory.proto",
    "flashsale/v1/reservation.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=flashsale");
    let descriptors = protox::compile(PROTOS, ["."])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("flashsale_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
