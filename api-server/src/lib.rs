//! # api-server
//!
//! The engine's front door: merchants' back-ends over gRPC (`flashsale.v1`),
//! shoppers over HTTP JSON and the web pages, and live stock pushed to
//! browsers over Socket.IO. A thin layer over `reservation-core`: it maps
//! wire requests to engine calls and engine errors to wire errors.
//!
//! The crate is being built up; for now it only links the core, so the
//! workspace has its final shape.
