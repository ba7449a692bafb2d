//! Random sequences of operations, run against Redis and against a plain
//! in-memory model of the rules; after every step both must agree and the
//! audit must be clean. The model also knows when each hold ended: a live
//! hold is in the live set, an ended one is not, and after the retention it
//! has aged out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reservation_core::keys::HoldKey;
use reservation_core::testing::{TestEngine, reserve};
use reservation_core::{Error, HoldState, ReservationId, Sku};

const TOTAL: i64 = 8;
const LIMIT: i64 = 4;
const HOLD_MS: i64 = 30_000;
const SWEEP_BATCH: usize = 3;
const RETENTION: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Debug)]
enum Op {
    Reserve {
        customer: u8,
        quantity: i64,
        request: u8,
    },
    Confirm(usize),
    Cancel(usize),
    Finalize(usize),
    Release(usize),
    Restock(i64),
    Advance(u64),
    /// Two days and a second: past any ended hold's retention.
    AgeOut,
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, 1i64..=3, 0u8..8)
            .prop_map(|(customer, quantity, request)| Op::Reserve { customer, quantity, request }),
        2 => any::<usize>().prop_map(Op::Confirm),
        2 => any::<usize>().prop_map(Op::Cancel),
        2 => any::<usize>().prop_map(Op::Finalize),
        1 => any::<usize>().prop_map(Op::Release),
        1 => prop_oneof![-4i64..=-1, 1i64..=6].prop_map(Op::Restock),
        2 => (0u64..=40).prop_map(Op::Advance),
        1 => Just(Op::AgeOut),
        1 => Just(Op::Sweep),
    ]
}

#[derive(Clone, Debug)]
struct ModelHold {
    id: ReservationId,
    customer: String,
    quantity: i64,
    state: HoldState,
    expires_at: i64,
    /// When it ended, once it has.
    ended_at: Option<i64>,
    /// Ended longer ago than the retention: the engine no longer knows it.
    aged_out: bool,
}

/// The rules of the design, written as plainly as possible.
#[derive(Debug)]
struct Model {
    total: i64,
    available: i64,
    held: i64,
    sold: i64,
    holds: Vec<ModelHold>,
    /// request id → (customer, quantity, index of its hold)
    requests: HashMap<u8, (String, i64, usize)>,
}

/// What a call answered, reduced to what the model can predict.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    Unchanged,
    Replayed(usize),
    Refused(&'static str),
}

impl Model {
    fn owned(&self, customer: &str) -> i64 {
        self.holds
            .iter()
            .filter(|h| h.customer == customer)
            .filter(|h| h.state.is_active() || h.state == HoldState::Purchased)
            .map(|h| h.quantity)
            .sum()
    }

    /// Due HELD holds in the order the due index yields them: by deadline,
    /// then by due entry, which for one reserve a call is the hold's key.
    fn due(&self, now: i64) -> Vec<usize> {
        let mut due: Vec<usize> = (0..self.holds.len())
            .filter(|&i| self.holds[i].state == HoldState::Held && self.holds[i].expires_at <= now)
            .collect();
        due.sort_by_key(|&i| {
            (
                self.holds[i].expires_at,
                HoldKey::of(&self.holds[i].id).key.to_owned(),
            )
        });
        due
    }

    fn give_back(&mut self, i: usize, state: HoldState, now: i64) {
        let hold = &mut self.holds[i];
        hold.state = state;
        hold.ended_at = Some(now);
        self.available += hold.quantity;
        self.held -= hold.quantity;
    }

    fn expire(&mut self, holds: &[usize], now: i64) {
        for &i in holds {
            self.give_back(i, HoldState::Expired, now);
        }
    }
}

async fn apply(t: &TestEngine, sku: &Sku, model: &mut Model, op: &Op) {
    let now = t.engine.now_ms();
    let pick = |i: usize| (!model.holds.is_empty()).then(|| i % model.holds.len());
    let (expected, actual) = match *op {
        Op::Reserve {
            customer,
            quantity,
            request,
        } => {
            let customer = format!("c{customer}");
            let request_id = format!("req-{request}");
            let result = t
                .engine
                .reserve(&reserve(sku, &customer, quantity, &request_id))
                .await;
            let expected = if let Some((c, q, index)) = model.requests.get(&request) {
                if *c == customer && *q == quantity {
                    Outcome::Replayed(*index)
                } else {
                    Outcome::Refused("IDEMPOTENCY_MISMATCH")
                }
            } else {
                // Due holds are looked at only when they could change the answer.
                let short = model.owned(&customer) + quantity > LIMIT || model.available < quantity;
                let due = if short { model.due(now) } else { Vec::new() };
                let due_units: i64 = due.iter().map(|&i| model.holds[i].quantity).sum();
                let own_due: i64 = due
                    .iter()
                    .filter(|&&i| model.holds[i].customer == customer)
                    .map(|&i| model.holds[i].quantity)
                    .sum();
                if model.owned(&customer) - own_due + quantity > LIMIT {
                    Outcome::Refused("CUSTOMER_LIMIT")
                } else if model.available + due_units < quantity {
                    Outcome::Refused("OUT_OF_STOCK")
                } else {
                    model.expire(&due, now);
                    let hold = &result.as_ref().expect("the model expects a hold").hold;
                    model.holds.push(ModelHold {
                        id: hold.id.clone(),
                        customer: customer.clone(),
                        quantity,
                        state: HoldState::Held,
                        expires_at: now + HOLD_MS,
                        ended_at: None,
                        aged_out: false,
                    });
                    model.available -= quantity;
                    model.held += quantity;
                    model
                        .requests
                        .insert(request, (customer, quantity, model.holds.len() - 1));
                    Outcome::Done
                }
            };
            let actual = match result {
                Ok(r) if r.replayed => {
                    Outcome::Replayed(model.holds.iter().position(|h| h.id == r.hold.id).unwrap())
                }
                Ok(_) => Outcome::Done,
                Err(e) => Outcome::Refused(e.reason()),
            };
            (expected, actual)
        }
        Op::Confirm(i) => {
            let Some(i) = pick(i) else { return };
            let result = t.engine.confirm(&model.holds[i].id, None).await;
            let expected = match model.holds[i].state {
                _ if model.holds[i].aged_out => Outcome::Refused("NOT_FOUND"),
                HoldState::Confirmed | HoldState::Purchased => Outcome::Unchanged,
                HoldState::Held if model.holds[i].expires_at <= now => {
                    model.expire(&[i], now);
                    Outcome::Refused("WRONG_STATE")
                }
                HoldState::Held => {
                    model.holds[i].state = HoldState::Confirmed;
                    Outcome::Done
                }
                _ => Outcome::Refused("WRONG_STATE"),
            };
            (expected, transition_outcome(result))
        }
        Op::Cancel(i) => {
            let Some(i) = pick(i) else { return };
            let result = t.engine.cancel(&model.holds[i].id, None).await;
            let expected = match model.holds[i].state {
                _ if model.holds[i].aged_out => Outcome::Refused("NOT_FOUND"),
                HoldState::Cancelled | HoldState::Expired => Outcome::Unchanged,
                HoldState::Held if model.holds[i].expires_at <= now => {
                    model.expire(&[i], now);
                    Outcome::Done
                }
                HoldState::Held => {
                    model.give_back(i, HoldState::Cancelled, now);
                    Outcome::Done
                }
                _ => Outcome::Refused("WRONG_STATE"),
            };
            (expected, transition_outcome(result))
        }
        Op::Finalize(i) => {
            let Some(i) = pick(i) else { return };
            let result = t.engine.finalize_purchase(&model.holds[i].id).await;
            let expected = match model.holds[i].state {
                _ if model.holds[i].aged_out => Outcome::Refused("NOT_FOUND"),
                HoldState::Purchased => Outcome::Unchanged,
                HoldState::Confirmed => {
                    model.holds[i].state = HoldState::Purchased;
                    model.holds[i].ended_at = Some(now);
                    model.held -= model.holds[i].quantity;
                    model.sold += model.holds[i].quantity;
                    Outcome::Done
                }
                _ => Outcome::Refused("WRONG_STATE"),
            };
            (expected, transition_outcome(result))
        }
        Op::Release(i) => {
            let Some(i) = pick(i) else { return };
            let result = t.engine.release(&model.holds[i].id).await;
            let expected = match model.holds[i].state {
                _ if model.holds[i].aged_out => Outcome::Refused("NOT_FOUND"),
                HoldState::Released => Outcome::Unchanged,
                HoldState::Confirmed => {
                    model.give_back(i, HoldState::Released, now);
                    Outcome::Done
                }
                _ => Outcome::Refused("WRONG_STATE"),
            };
            (expected, transition_outcome(result))
        }
        Op::Restock(delta) => {
            let result = t.engine.restock(sku, delta).await;
            let due = model.due(now);
            let due_units: i64 = due.iter().map(|&i| model.holds[i].quantity).sum();
            let expected = if model.available + due_units + delta < 0 {
                Outcome::Refused("OUT_OF_STOCK")
            } else {
                model.expire(&due, now);
                model.total += delta;
                model.available += delta;
                Outcome::Done
            };
            let actual = match result {
                Ok(_) => Outcome::Done,
                Err(e) => Outcome::Refused(e.reason()),
            };
            (expected, actual)
        }
        Op::Advance(seconds) => {
            t.advance(Duration::from_secs(seconds));
            return;
        }
        Op::AgeOut => {
            t.advance(2 * RETENTION + Duration::from_secs(1));
            // A request whose hold aged out is forgotten with it.
            for hold in &mut model.holds {
                hold.aged_out |= hold.ended_at.is_some();
            }
            let holds = &model.holds;
            model.requests.retain(|_, (_, _, i)| !holds[*i].aged_out);
            return;
        }
        Op::Sweep => {
            let swept = t
                .engine
                .sweep_product(sku, SWEEP_BATCH as u32)
                .await
                .unwrap();
            let due: Vec<usize> = model.due(now).into_iter().take(SWEEP_BATCH).collect();
            let expected_ids: Vec<_> = due.iter().map(|&i| model.holds[i].id.clone()).collect();
            model.expire(&due, now);
            assert_eq!(swept.expired, expected_ids, "the sweep expired other holds");
            return;
        }
    };
    assert_eq!(actual, expected, "after {op:?}");
}

fn transition_outcome(result: Result<reservation_core::Transition, Error>) -> Outcome {
    match result {
        Ok(t) if t.changed => Outcome::Done,
        Ok(_) => Outcome::Unchanged,
        Err(e) => Outcome::Refused(e.reason()),
    }
}

async fn check_agreement(t: &TestEngine, sku: &Sku, model: &Model) {
    let s = t.engine.product(sku).await.unwrap().stock;
    assert_eq!(
        (s.total, s.available, s.held, s.sold),
        (model.total, model.available, model.held, model.sold),
        "counters differ from the model"
    );
    let now = t.engine.now_ms();
    for hold in &model.holds {
        let stored = t.engine.reservation(&hold.id).await;
        match hold.ended_at {
            Some(ended) if now - ended >= 2 * RETENTION.as_millis() as i64 => {
                assert!(
                    matches!(stored, Err(Error::ReservationAgedOut { .. })),
                    "hold {} ended long ago: {stored:?}",
                    hold.id
                );
            }
            _ => assert_eq!(stored.unwrap().state, hold.state, "hold {}", hold.id),
        }
    }
    let live = model.holds.iter().filter(|h| h.state.is_active()).count();
    let mut conn = t.raw_connection().await;
    let stored_live: usize = redis::cmd("HLEN")
        .arg(reservation_core::keys::ProductKeys::new(sku).holds)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored_live, live, "the live set holds the live holds only");
    let audit = t.engine.audit(sku).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.problems());
}

#[test]
fn redis_and_the_model_agree_after_every_step() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let t = runtime.block_on(TestEngine::start());
    let case = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..40), |ops| {
            runtime.block_on(async {
                let name = format!("MODEL-{}", case.fetch_add(1, Ordering::SeqCst));
                let sku = t
                    .product_with(&name, TOTAL, |p| {
                        p.per_customer_limit = LIMIT as u32;
                        p.hold_seconds = (HOLD_MS / 1000) as u32;
                    })
                    .await;
                let mut model = Model {
                    total: TOTAL,
                    available: TOTAL,
                    held: 0,
                    sold: 0,
                    holds: Vec::new(),
                    requests: HashMap::new(),
                };
                for op in &ops {
                    apply(&t, &sku, &mut model, op).await;
                    check_agreement(&t, &sku, &model).await;
                }
            });
            Ok(())
        })
        .unwrap();
}
