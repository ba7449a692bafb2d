use api_server::testing::TestServer;
use flashsale_proto::v1 as pb;
use tonic::Code;

use crate::reason;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_reserves_over_grpc_get_exactly_fifty_units() {
    let s = TestServer::start().await;
    s.inventory()
        .await
        .create_product(pb::CreateProductRequest {
            sku: "HOT".into(),
            name: "Hot item".into(),
            total: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(s.reservations().await);
    }
    let calls: Vec<_> = (0..1_000)
        .map(|i| {
            let mut client = clients[i % clients.len()].clone();
            tokio::spawn(async move {
                client
                    .reserve(pb::ReserveRequest {
                        sku: "HOT".into(),
                        quantity: 1,
                        customer_id: format!("shopper-{i}"),
                        request_id: format!("req-{i}"),
                    })
                    .await
            })
        })
        .collect();
    let (mut granted, mut sold_out) = (0, 0);
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => granted += 1,
            Err(status) => {
                assert_eq!(
                    (status.code(), reason(&status).as_str()),
                    (Code::FailedPrecondition, "OUT_OF_STOCK")
                );
                sold_out += 1;
            }
        }
    }
    assert_eq!((granted, sold_out), (50, 950));
    let audit = s.t.engine.audit(&"HOT".parse().unwrap()).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.problems());
    assert_eq!((audit.available, audit.held), (0, 50));
}
