//! Compiles `flashsale/v1/*.proto` into Rust messages, clients and servers.
//!
//! The descriptor set comes from protox, a protobuf compiler written in Rust,
//! so a build needs no system `protoc`. The same descriptor set is written to
//! `OUT_DIR` so that servers can offer gRPC reflection.

use std::path::PathBuf;

use protox::prost::Message;

/// The API's files, relative to the include root (the crate directory), so
/// that their import paths read `flashsale/v1/...`.
const PROTOS: &[&str] = &[
    "flashsale/v1/inventory.proto",
    "flashsale/v1/reservation.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=flashsale");
    println!("cargo:rerun-if-changed=build.rs");

    // google/protobuf/timestamp.proto is built into protox, so only the
    // crate directory is an include root.
    let descriptors = protox::compile(PROTOS, ["."])?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("flashsale_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        // Buffers sized for this API's messages (src/codec.rs).
        .codec_path("crate::codec::SmallBufferCodec")
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
