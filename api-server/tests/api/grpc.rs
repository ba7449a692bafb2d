use std::time::Duration;

use api_server::testing::TestServer;
use flashsale_proto::v1 as pb;
use tonic::Code;

use crate::{bad_fields, reason};

fn create(sku: &str, total: i64) -> pb::CreateProductRequest {
    pb::CreateProductRequest {
        sku: sku.into(),
        name: format!("Product {sku}"),
        price_cents: 1_500,
        total,
        per_customer_limit: 0,
        hold_seconds: 0,
        sale_starts_at: None,
        sale_ends_at: None,
    }
}

fn reserve(sku: &str, customer: &str, quantity: i64, request: &str) -> pb::ReserveRequest {
    pb::ReserveRequest {
        sku: sku.into(),
        quantity,
        customer_id: customer.into(),
        request_id: request.into(),
    }
}

#[tokio::test]
async fn products_are_created_changed_restocked_read_and_listed() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;

    let created = inventory
        .create_product(create("TEE", 10))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            created.sku.as_str(),
            created.total,
            created.available,
            created.version
        ),
        ("TEE", 10, 10, 1)
    );
    assert_eq!(created.hold_seconds, 600, "the default hold");

    let updated = inventory
        .update_product(pb::UpdateProductRequest {
            sku: "TEE".into(),
            name: Some("Blue tee".into()),
            per_customer_limit: Some(2),
            sale_ends_at: Some(prost_types::Timestamp {
                seconds: 4_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            updated.name.as_str(),
            updated.per_customer_limit,
            updated.version
        ),
        ("Blue tee", 2, 2)
    );
    assert_eq!(updated.sale_ends_at.unwrap().seconds, 4_000_000_000);

    let restocked = inventory
        .restock(pb::RestockRequest {
            sku: "TEE".into(),
            delta: 5,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((restocked.total, restocked.available), (15, 15));

    let read = inventory
        .get_product(pb::GetProductRequest { sku: "TEE".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, restocked);

    for sku in ["A", "B", "C"] {
        inventory.create_product(create(sku, 1)).await.unwrap();
    }
    let first = inventory
        .list_products(pb::ListProductsRequest {
            page_size: 3,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let skus: Vec<_> = first.products.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(skus, ["A", "B", "C"]);
    let rest = inventory
        .list_products(pb::ListProductsRequest {
            page_size: 3,
            page_token: first.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    let skus: Vec<_> = rest.products.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(skus, ["TEE"]);
    assert_eq!(rest.next_page_token, "");
}

#[tokio::test]
async fn inventory_refusals_carry_their_reason() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    inventory.create_product(create("TEE", 3)).await.unwrap();

    let exists = inventory
        .create_product(create("TEE", 3))
        .await
        .unwrap_err();
    assert_eq!(
        (exists.code(), reason(&exists).as_str()),
        (Code::AlreadyExists, "PRODUCT_EXISTS")
    );

    let missing = inventory
        .get_product(pb::GetProductRequest { sku: "NOPE".into() })
        .await
        .unwrap_err();
    assert_eq!(
        (missing.code(), reason(&missing).as_str()),
        (Code::NotFound, "NOT_FOUND")
    );

    let too_many = inventory
        .restock(pb::RestockRequest {
            sku: "TEE".into(),
            delta: -4,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (too_many.code(), reason(&too_many).as_str()),
        (Code::FailedPrecondition, "OUT_OF_STOCK")
    );

    let braced = inventory
        .create_product(create("{TEE}", 3))
        .await
        .unwrap_err();
    assert_eq!(braced.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&braced), ["sku"]);

    let both = inventory
        .update_product(pb::UpdateProductRequest {
            sku: "TEE".into(),
            sale_ends_at: Some(prost_types::Timestamp {
                seconds: 4_000_000_000,
                nanos: 0,
            }),
            clear_sale_ends_at: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&both), ["sale_ends_at"]);

    let nothing = inventory
        .update_product(pb::UpdateProductRequest {
            sku: "TEE".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(nothing.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn an_audit_recounts_the_books_and_names_any_drift() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let mut reservations = s.reservations().await;
    inventory.create_product(create("TEE", 10)).await.unwrap();
    reservations
        .reserve(reserve("TEE", "ann", 2, "r1"))
        .await
        .unwrap();
    let audit = |mut inventory: pb::inventory_service_client::InventoryServiceClient<_>| async move {
        inventory
            .audit_product(pb::AuditProductRequest { sku: "TEE".into() })
            .await
            .unwrap()
            .into_inner()
    };

    let clean = audit(inventory.clone()).await;
    assert_eq!(
        (clean.total, clean.available, clean.held, clean.holds),
        (10, 8, 2, 1)
    );
    assert_eq!(clean.units_in_active_holds, 2);
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);

    // Someone writes to the product behind the engine's back.
    let mut conn = s.t.raw_connection().await;
    let keys = reservation_core::keys::ProductKeys::new(&reservation_core::testing::sku_of("TEE"));
    let _: i64 = redis::cmd("HINCRBY")
        .arg(&keys.product)
        .arg("available")
        .arg(5)
        .query_async(&mut conn)
        .await
        .unwrap();
    let drifted = audit(inventory.clone()).await;
    assert_eq!(
        drifted.problems,
        ["available 13 + held 2 + sold 0 != total 10"]
    );

    let missing = inventory
        .audit_product(pb::AuditProductRequest { sku: "NOPE".into() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn a_sold_out_product_refuses_new_reserves_replays_old_ones_and_sells_what_comes_back() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let mut reservations = s.reservations().await;
    inventory.create_product(create("HOT", 1)).await.unwrap();
    reservations
        .reserve(reserve("HOT", "ann", 1, "r1"))
        .await
        .unwrap();

    for n in 0..20 {
        let refused = reservations
            .reserve(reserve("HOT", "bob", 1, &format!("bob-{n}")))
            .await
            .unwrap_err();
        assert_eq!(reason(&refused), "OUT_OF_STOCK");
    }
    // A retry of the first reserve gets its hold back, sold out or not.
    let again = reservations
        .reserve(reserve("HOT", "ann", 1, "r1"))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);

    // A unit back: the very next reserve gets it.
    inventory
        .restock(pb::RestockRequest {
            sku: "HOT".into(),
            delta: 1,
            request_id: String::new(),
        })
        .await
        .unwrap();
    let held = reservations
        .reserve(reserve("HOT", "cyd", 1, "r2"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.available, 0);
}

#[tokio::test]
async fn a_hold_is_reserved_read_confirmed_and_cancelled_over_grpc() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let mut reservations = s.reservations().await;
    inventory.create_product(create("TEE", 5)).await.unwrap();

    let answer = reservations
        .reserve(reserve("TEE", "ann", 2, "r1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.available, 3);
    assert!(!answer.replayed);
    let hold = answer.reservation.unwrap();
    assert_eq!(hold.state(), pb::HoldState::Held);
    assert!(hold.id.starts_with("TEE~"));
    assert_eq!(
        (
            hold.quantity,
            hold.customer_id.as_str(),
            hold.request_id.as_str()
        ),
        (2, "ann", "r1")
    );

    let replay = reservations
        .reserve(reserve("TEE", "ann", 2, "r1"))
        .await
        .unwrap()
        .into_inner();
    assert!(replay.replayed);
    assert_eq!(replay.reservation.unwrap().id, hold.id);

    let read = reservations
        .get_reservation(pb::GetReservationRequest {
            id: hold.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, hold);

    let confirmed = reservations
        .confirm_reservation(pb::ConfirmReservationRequest {
            id: hold.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(confirmed.state(), pb::HoldState::Confirmed);

    let other = reservations
        .reserve(reserve("TEE", "bob", 1, "r2"))
        .await
        .unwrap()
        .into_inner();
    let other_id = other.reservation.unwrap().id;
    let cancelled = reservations
        .cancel_reservation(pb::CancelReservationRequest { id: other_id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.state(), pb::HoldState::Cancelled);

    let product = inventory
        .get_product(pb::GetProductRequest { sku: "TEE".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((product.available, product.held, product.sold), (3, 2, 0));
}

#[tokio::test]
async fn every_reserve_refusal_has_its_code_and_reason() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let mut reservations = s.reservations().await;
    let mut limited = create("LIM", 1);
    limited.per_customer_limit = 1;
    inventory.create_product(limited).await.unwrap();
    inventory.create_product(create("OPEN", 5)).await.unwrap();
    let mut later = create("LATER", 5);
    later.sale_starts_at = Some(prost_types::Timestamp {
        seconds: 4_000_000_000,
        nanos: 0,
    });
    inventory.create_product(later).await.unwrap();
    reservations
        .reserve(reserve("LIM", "ann", 1, "r1"))
        .await
        .unwrap();

    let cases = [
        (
            reserve("LIM", "bob", 1, "r2"),
            Code::FailedPrecondition,
            "OUT_OF_STOCK",
        ),
        (
            reserve("LIM", "ann", 1, "r3"),
            Code::FailedPrecondition,
            "CUSTOMER_LIMIT",
        ),
        (
            reserve("LATER", "ann", 1, "r4"),
            Code::FailedPrecondition,
            "SALE_CLOSED",
        ),
        (reserve("NOPE", "ann", 1, "r5"), Code::NotFound, "NOT_FOUND"),
        (
            reserve("LIM", "ann", 2, "r1"),
            Code::AlreadyExists,
            "IDEMPOTENCY_MISMATCH",
        ),
        (
            reserve("LIM", "ann", 0, "r6"),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        (
            reserve("LIM", "ann", -1, "r7"),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        (
            reserve("LIM", "ann", 1_000_000, "r8"),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        (
            reserve("L{M}", "ann", 1, "r9"),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        (
            reserve("LIM", "", 1, "r10"),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        (
            reserve("LIM", "ann", 1, ""),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        (
            reserve("LIM", "ann", 1, &"x".repeat(10_000)),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
    ];
    for (request, code, expected) in cases {
        let status = reservations.reserve(request.clone()).await.unwrap_err();
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (code, expected),
            "{request:?}"
        );
        if code == Code::InvalidArgument {
            assert_eq!(bad_fields(&status).len(), 1, "{request:?} names its field");
        }
    }

    let hold = reservations
        .reserve(reserve("OPEN", "bob", 1, "r11"))
        .await
        .unwrap()
        .into_inner();
    let id = hold.reservation.unwrap().id;
    reservations
        .cancel_reservation(pb::CancelReservationRequest { id: id.clone() })
        .await
        .unwrap();
    let wrong = reservations
        .confirm_reservation(pb::ConfirmReservationRequest { id })
        .await
        .unwrap_err();
    assert_eq!(
        (wrong.code(), reason(&wrong).as_str()),
        (Code::FailedPrecondition, "WRONG_STATE")
    );
    let unknown = reservations
        .get_reservation(pb::GetReservationRequest {
            id: "OPEN~01ARZ3NDEKTSV4RRFFQ69G5FAV".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed = reservations
        .get_reservation(pb::GetReservationRequest {
            id: "../etc/passwd".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&malformed), ["reservation_id"]);

    for sku in ["LIM", "OPEN"] {
        let audit = s.t.engine.audit(&sku.parse().unwrap()).await.unwrap();
        assert!(audit.is_clean(), "{:?}", audit.problems());
    }
}

#[tokio::test]
async fn a_held_hold_past_its_deadline_reads_expired() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let mut reservations = s.reservations().await;
    let mut quick = create("QUICK", 5);
    quick.hold_seconds = 1;
    inventory.create_product(quick).await.unwrap();
    let id = reservations
        .reserve(reserve("QUICK", "ann", 1, "r1"))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap()
        .id;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let read = reservations
        .get_reservation(pb::GetReservationRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.state(), pb::HoldState::Expired);
    let refused = reservations
        .confirm_reservation(pb::ConfirmReservationRequest { id })
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "WRONG_STATE");
}

#[tokio::test]
async fn watch_stock_sends_snapshots_then_changes_and_stops_with_the_client() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let mut reservations = s.reservations().await;
    inventory.create_product(create("TEE", 5)).await.unwrap();
    inventory.create_product(create("CAP", 5)).await.unwrap();
    inventory.create_product(create("SHOE", 5)).await.unwrap();

    let mut stream = inventory
        .watch_stock(pb::WatchStockRequest {
            skus: vec!["TEE".into(), "CAP".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), stream.message())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap()
    };
    let mut snapshots = [next().await, next().await];
    snapshots.sort_by(|a, b| a.sku.cmp(&b.sku));
    assert_eq!(
        snapshots
            .iter()
            .map(|e| (e.sku.as_str(), e.available, e.version))
            .collect::<Vec<_>>(),
        [("CAP", 5, 1), ("TEE", 5, 1)]
    );

    reservations
        .reserve(reserve("SHOE", "ann", 1, "r0"))
        .await
        .unwrap();
    reservations
        .reserve(reserve("TEE", "ann", 2, "r1"))
        .await
        .unwrap();
    let change = next().await;
    assert_eq!(
        (change.sku.as_str(), change.available, change.version),
        ("TEE", 3, 2)
    );
    assert_eq!(s.t.engine.now_ms() / 10_000, change.at_ms / 10_000);
    assert_eq!(
        s.stock_subscriptions().await,
        2,
        "the node hears only the watched products"
    );

    drop(stream);
    for _ in 0..50 {
        if s.stock_subscriptions().await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the node kept its subscriptions after the client went away");
}

#[tokio::test]
async fn watch_stock_refuses_unknown_and_malformed_skus() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let unknown = inventory
        .watch_stock(pb::WatchStockRequest {
            skus: vec!["NOPE".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let none = inventory
        .watch_stock(pb::WatchStockRequest { skus: vec![] })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&none), ["skus"]);
    let braced = inventory
        .watch_stock(pb::WatchStockRequest {
            skus: vec!["{x}".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&braced), ["sku"]);
}

#[tokio::test]
async fn malformed_names_are_refused_naming_their_field_and_change_nothing() {
    let s = TestServer::start().await;
    let (mut inventory, mut reservations) = (s.inventory().await, s.reservations().await);
    inventory.create_product(create("TEE", 10)).await.unwrap();
    let long = "A".repeat(65);
    let bad_skus = [
        "",
        long.as_str(),
        "TÉE",
        "T E",
        "../etc",
        "T{E}",
        "TEE\0",
        "TEE~1",
    ];

    for sku in bad_skus {
        let refusals = [
            inventory.create_product(create(sku, 5)).await.unwrap_err(),
            inventory
                .get_product(pb::GetProductRequest { sku: sku.into() })
                .await
                .unwrap_err(),
            reservations
                .reserve(reserve(sku, "ann", 1, "r1"))
                .await
                .unwrap_err(),
            reservations
                .reserve_cart(crate::cart_request("ann", "c1", &[("TEE", 1), (sku, 1)]))
                .await
                .unwrap_err(),
        ];
        for status in refusals {
            assert_eq!(status.code(), Code::InvalidArgument, "{sku:?}: {status:?}");
            assert_eq!(bad_fields(&status), ["sku"], "{sku:?}");
        }
    }
    for customer in ["", "ann smith", "änn", &"c".repeat(129)] {
        let status = reservations
            .reserve(reserve("TEE", customer, 1, "r2"))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&status), ["customer_id"], "{customer:?}");
    }

    let product = inventory
        .get_product(pb::GetProductRequest { sku: "TEE".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (product.available, product.version),
        (10, 1),
        "nothing changed"
    );
    let listed = inventory
        .list_products(pb::ListProductsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.products.len(), 1, "no product was made");
}

/// A call's buffers start at 512 bytes (`flashsale_proto::codec`), sized for
/// a reserve; a cart of 32 products with long names and its answer, each
/// several times that size, still travel whole.
#[tokio::test]
async fn a_cart_many_times_a_calls_first_buffer_travels_whole_both_ways() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let skus: Vec<String> = (0..32)
        .map(|n| format!("LIMITED-EDITION-SNEAKER-{n:02}-{}", "X".repeat(24)))
        .collect();
    for sku in &skus {
        inventory.create_product(create(sku, 5)).await.unwrap();
    }
    let lines: Vec<(&str, i64)> = skus.iter().map(|sku| (sku.as_str(), 2)).collect();

    let cart = s
        .reservations()
        .await
        .reserve_cart(crate::cart_request("ann", "big-cart", &lines))
        .await
        .unwrap()
        .into_inner();

    let holds: Vec<&pb::Reservation> = cart
        .lines
        .iter()
        .map(|line| line.reservation.as_ref().expect("every line holds"))
        .collect();
    let held: Vec<(&str, i64)> = holds
        .iter()
        .map(|hold| (hold.sku.as_str(), hold.quantity))
        .collect();
    assert_eq!(held, lines);
    assert!(holds.iter().all(|hold| hold.customer_id == "ann"));
}
