//! Web push, against a real HTTP push service on loopback
//! (`tests/push/receiver.py`, through [`service::PushService`]), which
//! decrypts every push and checks its VAPID signature with libraries that
//! are not the worker's.

mod back_in_stock;
mod hold_expiring;
mod opening;
mod outcomes;
mod sending;
mod service;
mod stopping;
mod two_origins;
mod workers;
