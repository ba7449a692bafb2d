//! `ReservationService`: a hold reserved, replayed, read, confirmed and
//! cancelled; a sold-out product; every reserve refusal with its code and
//! reason; a hold past its deadline reading expired.

use std::time::Duration;

use api_server::testing::TestServer;
use flashsale_proto::v1 as pb;
use tonic::Code;

use super::{create, reserve};
use crate::{bad_fields, reason};

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
