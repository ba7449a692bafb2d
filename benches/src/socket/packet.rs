//! Engine.IO v4 and Socket.IO v5 packets as text: reading what the server
//! sent into what a client acts on, and writing what a client sends.
//!
//! Only namespace `/` is joined, so events, acks and disconnects of other
//! namespaces are nothing to this client; connect errors are kept whatever
//! their namespace, since a refusal is what a caller asking for another
//! namespace waits for.

use serde_json::Value;

/// Engine.IO v4 separates packets in one polling payload with this byte.
const RECORD_SEPARATOR: char = '\u{1e}';

/// An event the server emitted.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub name: String,
    /// The event's first argument (`null` if it had none).
    pub data: Value,
    /// Size of the Socket.IO packet on the wire.
    pub bytes: usize,
}

/// What the server sent that a client acts on.
#[derive(Clone, Debug, PartialEq)]
pub enum Received {
    /// `42["name", data]`
    Event(Event),
    /// `43<id>[data]`: the answer to the emit that asked for ack `id`.
    Ack(u64, Value),
    /// `44[/namespace,]{data}`: a namespace refused to connect the socket.
    ConnectError(String, Value),
    /// The server closed the socket (`41`), the session (Engine.IO `1`) or
    /// the connection.
    Closed,
}

/// One Engine.IO packet, as the client handles it.
#[derive(Debug, PartialEq)]
pub(super) enum Packet {
    /// `0{"sid":…}`: the session is open.
    Open,
    /// `2`: the server checks the client is alive; it wants a pong back.
    Ping,
    /// `6`, or an empty packet: nothing to do.
    Noop,
    /// `40{"sid":…}`: namespace `/` accepted the socket.
    Connected,
    Received(Received),
    /// Pongs, upgrades, binary attachments, other namespaces' packets and
    /// malformed ones: nothing this client uses.
    Unknown,
}

/// The Engine.IO packets of one long-polling payload, in order.
pub(super) fn split_payload(payload: &str) -> impl Iterator<Item = &str> {
    payload.split(RECORD_SEPARATOR)
}

/// The pong that answers a ping.
pub(super) const PONG: &str = "3";

/// The Socket.IO connect to namespace `/`, with the `auth` payload a
/// browser's `io(url, { auth })` sends.
pub(super) fn connect(auth: Option<&Value>) -> String {
    match auth {
        Some(auth) => format!("40{auth}"),
        None => "40".to_owned(),
    }
}

/// `event` with `data`, asking for ack `id`.
pub(super) fn event_with_ack(id: u64, event: &str, data: Value) -> String {
    format!("42{id}{}", Value::Array(vec![Value::from(event), data]))
}

/// The session id of a polling handshake's open packet.
pub(super) fn session_id(open: &str) -> Option<String> {
    let handshake: Value = serde_json::from_str(open.strip_prefix('0')?).ok()?;
    Some(handshake["sid"].as_str()?.to_owned())
}

/// Reads one Engine.IO packet.
pub(super) fn parse(packet: &str) -> Packet {
    let mut chars = packet.chars();
    match chars.next() {
        None | Some('6') => Packet::Noop,
        Some('0') => Packet::Open,
        Some('1') => Packet::Received(Received::Closed),
        Some('2') => Packet::Ping,
        Some('4') => socket_io(chars.as_str(), packet.len()).unwrap_or(Packet::Unknown),
        Some(_) => Packet::Unknown,
    }
}

/// Reads a Socket.IO packet (an Engine.IO message, `bytes` long on the wire).
fn socket_io(message: &str, bytes: usize) -> Option<Packet> {
    let mut chars = message.chars();
    let kind = chars.next()?;
    let rest = chars.as_str();
    let (namespace, rest) = match rest.strip_prefix('/') {
        Some(_) => rest.split_once(',').unwrap_or((rest, "")),
        None => ("/", rest),
    };
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (id, payload) = rest.split_at(digits);
    let id: Option<u64> = match id {
        "" => None,
        id => Some(id.parse().ok()?),
    };
    if kind == '4' {
        let data = serde_json::from_str(payload).ok()?;
        return Some(Packet::Received(Received::ConnectError(
            namespace.to_owned(),
            data,
        )));
    }
    if namespace != "/" {
        return None;
    }
    match kind {
        '0' => Some(Packet::Connected),
        '1' => Some(Packet::Received(Received::Closed)),
        '2' => {
            let mut args = arguments(payload)?.into_iter();
            let name = args.next()?.as_str()?.to_owned();
            let data = args.next().unwrap_or(Value::Null);
            Some(Packet::Received(Received::Event(Event {
                name,
                data,
                bytes,
            })))
        }
        '3' => {
            let data = arguments(payload)?
                .into_iter()
                .next()
                .unwrap_or(Value::Null);
            Some(Packet::Received(Received::Ack(id?, data)))
        }
        _ => None,
    }
}

/// An event's or an ack's arguments: a JSON array.
fn arguments(payload: &str) -> Option<Vec<Value>> {
    match serde_json::from_str(payload).ok()? {
        Value::Array(args) => Some(args),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn received(packet: &str) -> Option<Received> {
        match parse(packet) {
            Packet::Received(received) => Some(received),
            _ => None,
        }
    }

    #[test]
    fn events_are_read_from_their_packets() {
        let packet = r#"42["stock",{"sku":"A","version":3}]"#;
        assert_eq!(
            received(packet),
            Some(Received::Event(Event {
                name: "stock".into(),
                data: json!({"sku": "A", "version": 3}),
                bytes: 35,
            }))
        );
        let Some(Received::Event(bare)) = received(r#"42["expired"]"#) else {
            panic!("an event without arguments");
        };
        assert_eq!((bare.name.as_str(), bare.data), ("expired", Value::Null));
        let Some(Received::Event(two)) = received(r#"42["hold",1,2]"#) else {
            panic!("an event with two arguments");
        };
        assert_eq!(two.data, json!(1), "the first argument is the data");
    }

    #[test]
    fn malformed_events_are_passed_over() {
        for packet in [
            "42not json",
            "42[not json",
            r#"42{"name":"stock"}"#,
            "42[]",
            "42[3,{}]",
            r#"42/admin,["stock",{}]"#,
        ] {
            assert_eq!(parse(packet), Packet::Unknown, "{packet:?}");
        }
    }

    #[test]
    fn acks_name_the_emit_they_answer() {
        assert_eq!(
            received(r#"430[{"ok":true}]"#),
            Some(Received::Ack(0, json!({"ok": true})))
        );
        assert_eq!(
            received(r#"431234[{"sku":"A"},2]"#),
            Some(Received::Ack(1234, json!({"sku": "A"})))
        );
        assert_eq!(received("437[]"), Some(Received::Ack(7, Value::Null)));
        for packet in [
            r#"43[{"ok":true}]"#,
            r#"4399999999999999999999[{"ok":true}]"#,
            "430{}",
            r#"43/admin,0[{"ok":true}]"#,
        ] {
            assert_eq!(parse(packet), Packet::Unknown, "{packet:?}");
        }
    }

    #[test]
    fn connect_errors_carry_the_namespace_and_the_servers_data() {
        assert_eq!(
            received(r#"44{"message":"this address already holds 2 sockets"}"#),
            Some(Received::ConnectError(
                "/".into(),
                json!({"message": "this address already holds 2 sockets"})
            ))
        );
        assert_eq!(
            received(r#"44/admin,{"message":"Invalid namespace"}"#),
            Some(Received::ConnectError(
                "/admin".into(),
                json!({"message": "Invalid namespace"})
            ))
        );
        assert_eq!(parse("44not json"), Packet::Unknown);
    }

    #[test]
    fn closes_of_the_socket_and_the_session_read_as_closed() {
        assert_eq!(received("1"), Some(Received::Closed));
        assert_eq!(received("41"), Some(Received::Closed));
        assert_eq!(parse("41/admin,"), Packet::Unknown, "another namespace's");
    }

    #[test]
    fn engine_io_packets_are_told_apart() {
        assert_eq!(
            parse(r#"0{"sid":"abc","pingInterval":25000}"#),
            Packet::Open
        );
        assert_eq!(parse("2"), Packet::Ping);
        assert_eq!(parse("6"), Packet::Noop);
        assert_eq!(parse(""), Packet::Noop);
        assert_eq!(parse(r#"40{"sid":"xyz"}"#), Packet::Connected);
        for packet in ["3", "5", "9hello", "b AQID", "451-[\"x\"]", "4"] {
            assert_eq!(parse(packet), Packet::Unknown, "{packet:?}");
        }
    }

    #[test]
    fn a_polling_payload_splits_on_the_record_separator() {
        let payload = "40{\"sid\":\"x\"}\u{1e}2\u{1e}42[\"stock\",{\"version\":1}]";
        assert_eq!(
            split_payload(payload).collect::<Vec<_>>(),
            ["40{\"sid\":\"x\"}", "2", "42[\"stock\",{\"version\":1}]"]
        );
        assert_eq!(split_payload("6").collect::<Vec<_>>(), ["6"]);
        assert_eq!(
            split_payload("").map(parse).collect::<Vec<_>>(),
            [Packet::Noop],
            "an empty poll is nothing to act on"
        );
        // The separator never occurs inside JSON text: it is escaped there.
        let escaped = "42[\"stock\",{\"note\":\"\\u001e\"}]";
        assert_eq!(split_payload(escaped).count(), 1);
    }

    #[test]
    fn what_the_client_sends_is_framed_as_the_server_reads_it() {
        assert_eq!(connect(None), "40");
        assert_eq!(connect(Some(&json!({"token": "t"}))), r#"40{"token":"t"}"#);
        assert_eq!(
            event_with_ack(3, "watch", json!({"sku": "A"})),
            r#"423["watch",{"sku":"A"}]"#
        );
        assert_eq!(
            session_id(r#"0{"sid":"abc","upgrades":[]}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(session_id(r#"{"sid":"abc"}"#), None);
        assert_eq!(session_id("0{}"), None);
    }
}
