//! The engine's behaviour, specified against a real private Redis.
//! One test binary, one module per area.

mod announcements;
mod audit;
mod cart;
mod cluster;
mod coalescer;
mod connections;
mod contention;
mod events;
mod feed;
mod holds;
mod merchant;
mod model;
mod notices;
mod partitions;
mod products;
mod push;
mod push_claims;
mod push_delivery;
mod push_endpoints;
mod push_rounds;
mod reserve;
mod retention;
mod secured;
mod shoppers;
mod stream_groups;
mod streams;
mod sweep_index;
mod upgrade;
