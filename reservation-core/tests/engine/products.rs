use reservation_core::testing::{TestEngine, reserve, sku_of};
use reservation_core::{Error, NewProduct, ProductUpdate, Sku};

#[tokio::test]
async fn a_new_product_has_all_its_stock_available_at_version_one() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 100).await;
    let product = t.engine.product(&sku).await.unwrap();
    assert_eq!(product.name, "Product TEE");
    assert_eq!(product.price_cents, 1_000);
    let s = product.stock;
    assert_eq!(
        (s.total, s.available, s.held, s.sold, s.version),
        (100, 100, 0, 0, 1)
    );
}

#[tokio::test]
async fn creating_a_product_twice_is_refused_and_changes_nothing() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 100).await;
    let again = NewProduct::new(sku.clone(), "Other", 5, 7);
    let err = t.engine.create_product(&again).await.unwrap_err();
    assert!(matches!(err, Error::ProductExists(_)), "{err}");
    assert_eq!(err.reason(), "PRODUCT_EXISTS");
    let product = t.engine.product(&sku).await.unwrap();
    assert_eq!(
        (product.name.as_str(), product.stock.total),
        ("Product TEE", 100)
    );
}

#[tokio::test]
async fn invalid_products_are_rejected_before_redis() {
    let t = TestEngine::start().await;
    let base = NewProduct::new(sku_of("X"), "X", 100, 10);
    type Breakage = fn(&mut NewProduct);
    let cases: [(&str, Breakage); 6] = [
        ("name", |p| p.name = " ".into()),
        ("price_cents", |p| p.price_cents = -1),
        ("total", |p| p.total = -5),
        ("hold_seconds", |p| p.hold_seconds = 0),
        ("sale_ends_at", |p| {
            p.sale_starts_at_ms = Some(2_000);
            p.sale_ends_at_ms = Some(1_000);
        }),
        ("sale_starts_at", |p| p.sale_starts_at_ms = Some(-1)),
    ];
    for (field, break_it) in cases {
        let mut bad = base.clone();
        break_it(&mut bad);
        match t.engine.create_product(&bad).await {
            Err(Error::InvalidArgument { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected invalid argument, got {other:?}"),
        }
    }
    assert!(matches!(
        t.engine.product(&sku_of("X")).await,
        Err(Error::ProductNotFound(_))
    ));
    assert!(Sku::new("{X}").is_err());
}

#[tokio::test]
async fn updating_settings_bumps_the_version_but_not_the_stock() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let update = ProductUpdate {
        name: Some("Blue tee".into()),
        price_cents: Some(2_500),
        per_customer_limit: Some(2),
        sale_ends_at_ms: Some(Some(t.engine.now_ms() + 60_000)),
        ..Default::default()
    };
    let product = t.engine.update_product(&sku, &update).await.unwrap();
    assert_eq!(product.name, "Blue tee");
    assert_eq!(product.price_cents, 2_500);
    assert_eq!(product.per_customer_limit, 2);
    assert!(product.sale_ends_at_ms.is_some());
    assert_eq!((product.stock.available, product.stock.version), (10, 2));

    let clear = ProductUpdate {
        sale_ends_at_ms: Some(None),
        ..Default::default()
    };
    let product = t.engine.update_product(&sku, &clear).await.unwrap();
    assert_eq!(product.sale_ends_at_ms, None);

    let err = t
        .engine
        .update_product(&sku, &ProductUpdate::default())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "INVALID_ARGUMENT");
    let err = t
        .engine
        .update_product(&sku_of("NOPE"), &clear)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "NOT_FOUND");
}

#[tokio::test]
async fn restock_moves_total_and_available_together() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let s = t.engine.restock(&sku, 5).await.unwrap().stock;
    assert_eq!((s.total, s.available, s.version), (15, 15, 2));
    let s = t.engine.restock(&sku, -3).await.unwrap().stock;
    assert_eq!((s.total, s.available, s.version), (12, 12, 3));
    let err = t.engine.restock(&sku, 0).await.unwrap_err();
    assert_eq!(err.reason(), "INVALID_ARGUMENT");
}

#[tokio::test]
async fn restock_never_takes_the_total_below_held_plus_sold() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let held = t.reserved(&sku, "ann", 4, "r1").await;
    t.engine.confirm(&held.hold.id, None).await.unwrap();
    t.engine.finalize_purchase(&held.hold.id).await.unwrap();
    t.reserved(&sku, "bob", 3, "r2").await;
    // 4 sold + 3 held: only 3 units can be removed.
    let err = t.engine.restock(&sku, -4).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutOfStock {
                available: 3,
                requested: 4,
                ..
            }
        ),
        "{err}"
    );
    let s = t.engine.restock(&sku, -3).await.unwrap().stock;
    assert_eq!((s.total, s.available, s.held, s.sold), (7, 0, 3, 4));
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test]
async fn restock_of_an_unknown_product_is_not_found() {
    let t = TestEngine::start().await;
    let err = t.engine.restock(&sku_of("NOPE"), 5).await.unwrap_err();
    assert!(matches!(err, Error::ProductNotFound(_)), "{err}");
}

#[tokio::test]
async fn products_are_listed_in_sku_order_page_by_page() {
    let t = TestEngine::start().await;
    for sku in ["C", "A", "E", "B", "D"] {
        t.product(sku, 1).await;
    }
    let first = t.engine.list_products(None, 2).await.unwrap();
    let names = |page: &reservation_core::ProductPage| {
        page.products
            .iter()
            .map(|p| p.sku.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first), ["A", "B"]);
    let second = t
        .engine
        .list_products(first.next_after.as_ref(), 2)
        .await
        .unwrap();
    assert_eq!(names(&second), ["C", "D"]);
    let last = t
        .engine
        .list_products(second.next_after.as_ref(), 2)
        .await
        .unwrap();
    assert_eq!(names(&last), ["E"]);
    assert_eq!(last.next_after, None);
}

#[tokio::test]
async fn a_first_per_customer_limit_comes_before_the_first_reserve() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let keys = reservation_core::keys::ProductKeys::new(&sku);
    t.reserved(&sku, "ann", 3, "r1").await;
    // Without a limit nobody's units are counted...
    let mut conn = t.raw_connection().await;
    let counted: bool = redis::cmd("EXISTS")
        .arg(&keys.customers)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!counted);
    // ...so a limit now could not see ann's three units: refused.
    let limit = ProductUpdate {
        per_customer_limit: Some(2),
        ..Default::default()
    };
    let err = t.engine.update_product(&sku, &limit).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                field: "per_customer_limit",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(t.engine.product(&sku).await.unwrap().per_customer_limit, 0);

    // A product limited from its start counts, and may change its limit later.
    let limited = t
        .product_with("CAP", 10, |p| p.per_customer_limit = 2)
        .await;
    t.reserved(&limited, "ann", 2, "r1").await;
    let raised = ProductUpdate {
        per_customer_limit: Some(3),
        ..Default::default()
    };
    t.engine.update_product(&limited, &raised).await.unwrap();
    let err = t
        .engine
        .reserve(&reserve(&limited, "ann", 2, "r2"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::CustomerLimit {
                owned: 2,
                limit: 3,
                ..
            }
        ),
        "{err}"
    );
}
