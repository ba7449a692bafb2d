//! # flashsale-proto
//!
//! The wire API of the reservation engine: the `flashsale.v1` gRPC services
//! and messages, generated from `proto/flashsale/v1/*.proto` at build time in
//! pure Rust (no system `protoc`). Servers and clients of every crate use
//! these types; the `.proto` files are the contract for clients in other
//! languages.

/// Generated messages, clients (`*_client`) and servers (`*_server`).
pub mod v1 {
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("flashsale.v1");
}

/// The encoded descriptor set of the API, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/flashsale_descriptor.bin"));

#[cfg(test)]
mod tests {
    use prost::Message;

    #[test]
    fn the_descriptor_set_describes_both_services() {
        let set = prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET).unwrap();
        let services: Vec<String> = set
            .file
            .iter()
            .filter(|f| f.package() == "flashsale.v1")
            .flat_map(|f| f.service.iter().map(|s| s.name().to_owned()))
            .collect();
        assert_eq!(services, ["InventoryService", "ReservationService"]);
    }

    #[test]
    fn clients_and_servers_are_generated() {
        use super::v1::{inventory_service_client, reservation_service_server};
        let _ = std::any::type_name::<
            inventory_service_client::InventoryServiceClient<tonic::transport::Channel>,
        >();
        let _ = std::any::type_name::<reservation_service_server::ReservationServiceServer<()>>();
    }
}
