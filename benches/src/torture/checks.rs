//! What a torture run must find when it is over, every product's books
//! recounted from Redis against what the shoppers were told.

use std::collections::{HashMap, HashSet};

use reservation_core::{AuditReport, HoldState, Order};

use super::shoppers::Books;
use crate::report::Check;

/// One product at the end of the run.
pub struct ProductEnd {
    pub sku: String,
    pub total_at_start: i64,
    pub audit: AuditReport,
    pub version: u64,
}

/// Everything the checks read.
pub struct Ending<'a> {
    pub products: &'a [ProductEnd],
    pub books: &'a Books,
    /// The stored state of every hold the run knows of: the shoppers' and
    /// every ordered one.
    pub holds: &'a HashMap<String, HoldState>,
    pub orders: &'a [Order],
    /// Each watcher's product and the newest version it saw.
    pub watchers: &'a [(String, u64)],
    /// Faults planned and faults done.
    pub faults: (usize, usize),
}

pub fn checks(end: &Ending<'_>) -> Vec<Check> {
    vec![
        Check::new(
            "no_oversell",
            per_product(end, |p| {
                let a = &p.audit;
                let bought = a.reserved - a.cancelled - a.expired - a.released - a.held;
                (a.sold > a.total || a.available < 0 || bought != a.sold).then(|| {
                    format!(
                        "sold {} (granted and not given back or held: {bought}) of {} with {} available",
                        a.sold, a.total, a.available
                    )
                })
            }),
            "no product sold more than its total; sold equals the units granted and not given back",
        ),
        Check::new(
            "no_leaked_units",
            per_product(end, |p| {
                let a = &p.audit;
                (a.held != 0 || a.units_in_active_holds != 0 || a.available + a.sold != a.total)
                    .then(|| {
                        format!(
                            "with every hold finished: available {} + sold {} of total {}, held {}",
                            a.available, a.sold, a.total, a.held
                        )
                    })
            }),
            "once every hold finished, available + sold == total and nothing is held",
        ),
        Check::new(
            "audit_clean",
            end.products
                .iter()
                .flat_map(|p| {
                    p.audit
                        .problems()
                        .into_iter()
                        .map(move |problem| format!("{}: {problem}", p.sku))
                })
                .collect(),
            "every product's audit is clean",
        ),
        Check::new(
            "totals_match_restocks",
            totals_against_restocks(end),
            "each total is its start plus the acknowledged restocks (plus at most the unanswered ones)",
        ),
        Check::new(
            "one_hold_per_request_id",
            per_product(end, |p| {
                (p.audit.repeated_request_holds > 0).then(|| {
                    format!(
                        "{} holds made by a request_id that had one",
                        p.audit.repeated_request_holds
                    )
                })
            })
            .into_iter()
            .chain(end.books.replay_mismatches.iter().cloned())
            .collect(),
            "every request_id made at most one hold, and every retry got it back",
        ),
        Check::new(
            "confirmed_holds_bought_once",
            confirmed_holds(end),
            "every confirmed hold was purchased (with an order) or released (with none), \
             each product's sold units are its orders' units counted once",
        ),
        Check::new(
            "holds_finished",
            finished_holds(end),
            "every hold ended: purchased, cancelled, expired or released; cancels stuck",
        ),
        Check::new(
            "watchers_converged",
            watchers_behind(end),
            "every watcher saw its product's final version",
        ),
        Check::new(
            "no_rejections",
            end.books.rejected.clone(),
            "no well-formed call was refused as malformed",
        ),
        Check::new(
            "faults_injected",
            if end.faults.1 == end.faults.0 {
                Vec::new()
            } else {
                vec![format!("{} of {} faults done", end.faults.1, end.faults.0)]
            },
            "every planned fault happened",
        ),
        Check::new(
            "load_made_progress",
            if !end.books.holds.is_empty() && !end.orders.is_empty() {
                Vec::new()
            } else {
                vec![format!(
                    "{} holds granted, {} orders",
                    end.books.holds.len(),
                    end.orders.len()
                )]
            },
            "shoppers were granted holds and orders were made",
        ),
    ]
}

fn per_product(end: &Ending<'_>, problem: impl Fn(&ProductEnd) -> Option<String>) -> Vec<String> {
    end.products
        .iter()
        .filter_map(|p| problem(p).map(|what| format!("{}: {what}", p.sku)))
        .collect()
}

fn totals_against_restocks(end: &Ending<'_>) -> Vec<String> {
    per_product(end, |p| {
        let acknowledged = end.books.restocked.get(&p.sku).copied().unwrap_or(0);
        let unanswered = end
            .books
            .restocks_unanswered
            .get(&p.sku)
            .copied()
            .unwrap_or(0);
        let low = p.total_at_start + acknowledged;
        let high = low + unanswered;
        (!(low..=high).contains(&p.audit.total))
            .then(|| format!("total {} outside {low}..={high}", p.audit.total))
    })
}

fn confirmed_holds(end: &Ending<'_>) -> Vec<String> {
    let ordered: HashSet<&str> = end
        .orders
        .iter()
        .map(|order| order.reservation_id.as_str())
        .collect();
    let mut problems = Vec::new();
    for hold in &end.books.confirmed {
        match end.holds.get(hold) {
            Some(HoldState::Purchased) if !ordered.contains(hold.as_str()) => {
                problems.push(format!("{hold} was purchased but has no order"));
            }
            Some(HoldState::Released) if ordered.contains(hold.as_str()) => {
                problems.push(format!("{hold} was released but has an order"));
            }
            Some(HoldState::Purchased | HoldState::Released) => {}
            state => problems.push(format!(
                "{hold} was confirmed, and is now {}",
                state.map_or("missing", |s| s.as_str())
            )),
        }
    }
    // Each order counted once, whatever duplicates at-least-once delivery
    // left, must add up to exactly what each product sold.
    let mut sold_in_orders: HashMap<&str, i64> = HashMap::new();
    let mut counted = HashSet::new();
    for order in end.orders {
        if end.holds.get(&order.reservation_id) != Some(&HoldState::Purchased) {
            problems.push(format!(
                "order for {} whose hold is not PURCHASED",
                order.reservation_id
            ));
        }
        if counted.insert(order.reservation_id.as_str()) {
            *sold_in_orders.entry(order.sku.as_str()).or_default() += i64::from(order.quantity);
        }
    }
    problems.extend(per_product(end, |p| {
        let in_orders = sold_in_orders.get(p.sku.as_str()).copied().unwrap_or(0);
        (in_orders != p.audit.sold).then(|| {
            format!(
                "sold {} but its orders hold {in_orders} units",
                p.audit.sold
            )
        })
    }));
    problems
}

fn finished_holds(end: &Ending<'_>) -> Vec<String> {
    let mut problems: Vec<String> = end
        .books
        .holds
        .iter()
        .filter_map(|hold| match end.holds.get(hold) {
            Some(state) if !state.is_active() => None,
            state => Some(format!(
                "{hold} is {}",
                state.map_or("missing", |s| s.as_str())
            )),
        })
        .collect();
    problems.extend(
        end.books
            .cancelled
            .iter()
            .filter(|hold| end.holds.get(*hold) != Some(&HoldState::Cancelled))
            .map(|hold| format!("{hold} was cancelled, and is now {:?}", end.holds.get(hold))),
    );
    problems
}

fn watchers_behind(end: &Ending<'_>) -> Vec<String> {
    let finals: HashMap<&str, u64> = end
        .products
        .iter()
        .map(|p| (p.sku.as_str(), p.version))
        .collect();
    end.watchers
        .iter()
        .enumerate()
        .filter_map(|(n, (sku, seen))| {
            let last = finals.get(sku.as_str()).copied().unwrap_or(0);
            (*seen != last).then(|| format!("watcher {n} of {sku} saw version {seen}, not {last}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reservation_core::Sku;

    /// A product that sold 3 of 10 units in two holds, all finished.
    fn product(sku: &str) -> ProductEnd {
        ProductEnd {
            sku: sku.to_owned(),
            total_at_start: 10,
            version: 7,
            audit: AuditReport {
                sku: Sku::new(sku).unwrap(),
                total: 10,
                available: 7,
                held: 0,
                sold: 3,
                version: 7,
                reserved: 3,
                cancelled: 0,
                expired: 0,
                released: 0,
                holds: 2,
                counts_customers: true,
                settled: true,
                live_holds: 0,
                units_in_active_holds: 0,
                ended_holds_in_live_set: 0,
                customer_units: 3,
                customers_miscounted: 0,
                held_holds_not_due_on_time: 0,
                confirmed_holds_not_in_purchase_index: 0,
                stray_purchase_entries: 0,
                repeated_request_holds: 0,
                holders_index_drift: 0,
                customers_misindexed: 0,
            },
        }
    }

    fn order(id: &str, quantity: u32) -> Order {
        Order {
            reservation_id: id.to_owned(),
            sku: "P".to_owned(),
            customer_id: "c".to_owned(),
            quantity,
            purchased_at_ms: 0,
        }
    }

    struct World {
        products: Vec<ProductEnd>,
        books: Books,
        holds: HashMap<String, HoldState>,
        orders: Vec<Order>,
        watchers: Vec<(String, u64)>,
    }

    impl World {
        /// A run where everything adds up: holds a and b confirmed and bought.
        fn clean() -> Self {
            let mut books = Books {
                holds: vec!["a".into(), "b".into()],
                ..Books::default()
            };
            books.confirmed = vec!["a".into(), "b".into()];
            Self {
                products: vec![product("P")],
                books,
                holds: [("a", HoldState::Purchased), ("b", HoldState::Purchased)]
                    .map(|(id, state)| (id.to_owned(), state))
                    .into(),
                // Delivered at least once: a's order twice.
                orders: vec![order("a", 1), order("b", 2), order("a", 1)],
                watchers: vec![("P".into(), 7)],
            }
        }

        fn failed(&self) -> Vec<&'static str> {
            checks(&Ending {
                products: &self.products,
                books: &self.books,
                holds: &self.holds,
                orders: &self.orders,
                watchers: &self.watchers,
                faults: (3, 3),
            })
            .into_iter()
            .filter(|check| !check.passed)
            .map(|check| check.name)
            .collect()
        }
    }

    #[test]
    fn a_run_whose_books_add_up_passes() {
        assert_eq!(World::clean().failed(), Vec::<&str>::new());
    }

    #[test]
    fn each_way_of_losing_something_fails_its_check() {
        type Breakage = fn(&mut World);
        let cases: [(&str, Breakage); 8] = [
            ("no_oversell", |w| {
                w.products[0].audit.sold = 11;
                w.products[0].audit.available = -1;
            }),
            ("no_leaked_units", |w| w.products[0].audit.available = 6),
            ("totals_match_restocks", |w| {
                w.books.restocked.insert("P".into(), 5);
            }),
            ("one_hold_per_request_id", |w| {
                w.products[0].audit.repeated_request_holds = 1;
            }),
            ("confirmed_holds_bought_once", |w| {
                w.orders.retain(|o| o.reservation_id != "b");
            }),
            ("holds_finished", |w| {
                w.holds.insert("b".into(), HoldState::Confirmed);
            }),
            ("watchers_converged", |w| w.watchers[0].1 = 6),
            ("load_made_progress", |w| w.orders.clear()),
        ];
        for (check, break_it) in cases {
            let mut world = World::clean();
            break_it(&mut world);
            assert!(
                world.failed().contains(&check),
                "{check} passed; failed: {:?}",
                world.failed()
            );
        }
    }
}
