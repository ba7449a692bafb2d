use api_server::testing::TestServer;
use flashsale_proto::v1 as pb;
use tonic::Code;

#[tokio::test]
async fn merchant_calls_without_a_valid_token_are_refused_and_do_nothing() {
    let s = TestServer::start().await;
    for token in [
        None,
        Some("wrong"),
        Some("test-merchant-token-but-longer"),
        Some(""),
    ] {
        let (mut inventory, mut reservations) = s.clients_with_token(token).await;
        let created = inventory
            .create_product(pb::CreateProductRequest {
                sku: "TEE".into(),
                name: "Tee".into(),
                total: 5,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(created.code(), Code::Unauthenticated, "token {token:?}");
        let reserved = reservations
            .reserve(pb::ReserveRequest {
                sku: "TEE".into(),
                quantity: 1,
                customer_id: "ann".into(),
                request_id: "r1".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(reserved.code(), Code::Unauthenticated);
    }
    let product = s.t.engine.product(&"TEE".parse().unwrap()).await;
    assert!(product.is_err(), "nothing was created");

    let mut inventory = s.inventory().await;
    inventory
        .create_product(pb::CreateProductRequest {
            sku: "TEE".into(),
            name: "Tee".into(),
            total: 5,
            ..Default::default()
        })
        .await
        .expect("the configured token is accepted");
}

#[tokio::test]
async fn health_and_reflection_need_no_token() {
    let s = TestServer::start().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(s.channel().await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "flashsale.v1.ReservationService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
}

#[tokio::test]
async fn reflection_lists_the_api_in_both_protocol_versions() {
    use tonic_reflection::pb::{v1, v1alpha};
    let s = TestServer::start().await;

    let mut client = v1::server_reflection_client::ServerReflectionClient::new(s.channel().await);
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("v1 reflection did not list services");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "flashsale.v1.InventoryService",
        "flashsale.v1.ReservationService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }

    let mut alpha =
        v1alpha::server_reflection_client::ServerReflectionClient::new(s.channel().await);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut answers = alpha
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    assert!(
        matches!(
            answer.message_response,
            Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(ref l))
                if l.service.iter().any(|s| s.name == "flashsale.v1.ReservationService")
        ),
        "v1alpha reflection did not list the API"
    );
}
