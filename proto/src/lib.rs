//! # flashsale-proto
//!
//! The wire API of the flash-sale reservation engine: the `flashsale.v1` gRPC
//! services (`InventoryService`, `ReservationService`) and their messages,
//! generated from `proto/flashsale/v1/*.proto` at build time in pure Rust, so
//! no system `protoc` is needed. The servers and clients of every crate in the
//! workspace use these types; the `.proto` files are the contract for clients
//! in other languages, and their comments are the API's documentation.
//!
//! - [`v1`]: messages, clients (`*_client`) and servers (`*_server`).
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors, for gRPC reflection.
//! - [`Bearer`], [`Inventory`], [`Reservations`]: clients that present a
//!   merchant token, as every call of both services must.
//! - [`codec`]: the protobuf codec of every generated client and server,
//!   with buffers sized for the API's small messages.

pub mod codec;

/// The `flashsale.v1` package: messages, clients (`inventory_service_client`,
/// `reservation_service_client`) and servers (`inventory_service_server`,
/// `reservation_service_server`).
pub mod v1 {
    // Generated code follows prost's and tonic's style, not ours.
    #![allow(clippy::all, clippy::pedantic, clippy::nursery)]
    tonic::include_proto!("flashsale.v1");
}

/// The encoded `FileDescriptorSet` of the API (its files and the well-known
/// types they import, with their comments), for registering gRPC server
/// reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/flashsale_descriptor.bin"));

/// Adds `authorization: Bearer <token>` to every call (none without a token).
#[derive(Clone, Debug, Default)]
pub struct Bearer(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl Bearer {
    /// `Err` when the token cannot be sent in a header.
    pub fn new(token: Option<&str>) -> Result<Self, tonic::metadata::errors::InvalidMetadataValue> {
        token
            .map(|t| format!("Bearer {t}").parse())
            .transpose()
            .map(Self)
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

type Authenticated =
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>;

/// An `InventoryService` client that presents a merchant token.
pub type Inventory = v1::inventory_service_client::InventoryServiceClient<Authenticated>;
/// A `ReservationService` client that presents a merchant token.
pub type Reservations = v1::reservation_service_client::ReservationServiceClient<Authenticated>;

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_types::FileDescriptorSet;

    fn descriptor_set() -> FileDescriptorSet {
        FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET).unwrap()
    }

    #[test]
    fn the_descriptor_set_describes_both_services() {
        let set = descriptor_set();
        let services: Vec<String> = set
            .file
            .iter()
            .filter(|f| f.package() == "flashsale.v1")
            .flat_map(|f| f.service.iter().map(|s| s.name().to_owned()))
            .collect();
        assert_eq!(services, ["InventoryService", "ReservationService"]);
    }

    /// The comments are the API's documentation, so every service, method,
    /// message, field, enum and enum value must have one.
    #[test]
    fn every_element_of_the_api_is_documented() {
        // Field numbers of FileDescriptorProto, DescriptorProto,
        // EnumDescriptorProto and ServiceDescriptorProto used in
        // SourceCodeInfo paths.
        const MESSAGE: i32 = 4;
        const ENUM: i32 = 5;
        const SERVICE: i32 = 6;
        const FIELD: i32 = 2;
        const ENUM_VALUE: i32 = 2;
        const METHOD: i32 = 2;

        let mut undocumented = Vec::new();
        for file in descriptor_set()
            .file
            .iter()
            .filter(|f| f.package() == "flashsale.v1")
        {
            let info = file.source_code_info.as_ref().expect("source info kept");
            let documented = |path: &[i32]| {
                info.location
                    .iter()
                    .any(|l| l.path == path && !l.leading_comments().trim().is_empty())
            };
            let mut check = |path: Vec<i32>, name: String| {
                if !documented(&path) {
                    undocumented.push(name);
                }
            };
            for (i, message) in file.message_type.iter().enumerate() {
                let i = i as i32;
                check(vec![MESSAGE, i], message.name().to_owned());
                for (j, field) in message.field.iter().enumerate() {
                    let name = format!("{}.{}", message.name(), field.name());
                    check(vec![MESSAGE, i, FIELD, j as i32], name);
                }
            }
            for (i, enumeration) in file.enum_type.iter().enumerate() {
                let i = i as i32;
                check(vec![ENUM, i], enumeration.name().to_owned());
                for (j, value) in enumeration.value.iter().enumerate() {
                    let name = format!("{}.{}", enumeration.name(), value.name());
                    check(vec![ENUM, i, ENUM_VALUE, j as i32], name);
                }
            }
            for (i, service) in file.service.iter().enumerate() {
                let i = i as i32;
                check(vec![SERVICE, i], service.name().to_owned());
                for (j, method) in service.method.iter().enumerate() {
                    let name = format!("{}.{}", service.name(), method.name());
                    check(vec![SERVICE, i, METHOD, j as i32], name);
                }
            }
        }
        assert!(undocumented.is_empty(), "undocumented: {undocumented:?}");
    }

    #[test]
    fn clients_and_servers_are_generated() {
        use super::v1::{
            inventory_service_client::InventoryServiceClient,
            inventory_service_server::InventoryServiceServer,
            reservation_service_client::ReservationServiceClient,
            reservation_service_server::ReservationServiceServer,
        };
        use tonic::transport::Channel;

        let _ = std::any::type_name::<InventoryServiceClient<Channel>>();
        let _ = std::any::type_name::<ReservationServiceClient<Channel>>();
        let _ = std::any::type_name::<InventoryServiceServer<()>>();
        let _ = std::any::type_name::<ReservationServiceServer<()>>();
    }

    #[test]
    fn update_fields_are_optional_and_timestamps_are_prost_types() {
        use super::v1::{HoldState, Product, UpdateProductRequest};

        let update = UpdateProductRequest {
            sku: "TEE-1".into(),
            price_cents: Some(1999),
            ..Default::default()
        };
        assert_eq!(update.name, None);
        assert_eq!(update.hold_seconds, None);

        let product = Product {
            sale_starts_at: Some(prost_types::Timestamp {
                seconds: 1,
                nanos: 0,
            }),
            ..Default::default()
        };
        let decoded = Product::decode(product.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, product);
        assert_eq!(HoldState::Unspecified as i32, 0);
        assert_eq!(HoldState::Released as i32, 6);
        assert_eq!(
            HoldState::from_str_name("HOLD_STATE_HELD"),
            Some(HoldState::Held)
        );
    }
}
