//! Decoding of script replies: an array whose first element names the
//! outcome, then the outcome's fields.
//!
//! Every script lays out its fields by one rule, so each reply has one
//! decoder:
//!
//! - **Named**, `name, value, name, value, ...`, read through
//!   [`Reply::named`], when a reply has more than three fields, or any field
//!   that is a list (of ids, of nested answers). A field moved, added or
//!   dropped in a script is then an error that names it, never a neighbour
//!   read in its place, and a list sits under its name rather than filling
//!   the reply's tail.
//! - **Positional**, read with [`Reply::int`], [`Reply::text`] and
//!   [`Reply::bytes`], for at most three plain fields: one request's answer
//!   (`OK token available`, `CUSTOMER_LIMIT limit owned`, `SALE_CLOSED
//!   starts ends paused`), of which a coalesced reserve carries hundreds, so
//!   it stays as small as it can be.
//!
//! Either way an error names the outcome and the field it did not find, or
//! found of the wrong type.

use redis::Value;

use crate::error::{Error, Result};

pub(super) struct Reply(Vec<Value>);

impl Reply {
    pub(super) fn parse(value: Value) -> Result<Self> {
        match value {
            Value::Array(items) if !items.is_empty() => {
                let reply = Self(items);
                reply.text(0)?;
                Ok(reply)
            }
            other => Err(Error::Internal(format!(
                "script answered {other:?}, not an outcome"
            ))),
        }
    }

    pub(super) fn outcome(&self) -> &str {
        match &self.0[0] {
            Value::BulkString(b) => std::str::from_utf8(b).unwrap_or(""),
            Value::SimpleString(s) => s,
            _ => "",
        }
    }

    pub(super) fn int(&self, index: usize) -> Result<i64> {
        match self.0.get(index) {
            Some(Value::Int(n)) => Ok(*n),
            other => Err(self.unexpected(index, "an integer", other)),
        }
    }

    pub(super) fn bytes(&self, index: usize) -> Result<&[u8]> {
        match self.0.get(index) {
            Some(Value::BulkString(b)) => Ok(b),
            other => Err(self.unexpected(index, "a string", other)),
        }
    }

    pub(super) fn text(&self, index: usize) -> Result<&str> {
        let bytes = self.bytes(index)?;
        std::str::from_utf8(bytes).map_err(|e| Error::Internal(e.to_string()))
    }

    /// The fields after the outcome as name, value pairs, to be read by
    /// name. Every name is checked here, once, so a reply that is not pairs
    /// of distinct names is refused whole rather than half read.
    pub(super) fn named(self) -> Result<Named> {
        let count = self.0.len() - 1;
        if !count.is_multiple_of(2) {
            return Err(Error::Internal(format!(
                "{} reply: {count} elements after the outcome are not name, value pairs",
                self.outcome()
            )));
        }
        for index in (1..self.0.len()).step_by(2) {
            let name = match &self.0[index] {
                Value::BulkString(name) => name,
                other => return Err(self.unexpected(index, "a field name", Some(other))),
            };
            let mut earlier = self.0[1..index].iter().step_by(2);
            if earlier.any(|seen| is_name(seen, name)) {
                return Err(Error::Internal(format!(
                    "{} reply names field {} twice",
                    self.outcome(),
                    String::from_utf8_lossy(name)
                )));
            }
        }
        Ok(Named(self))
    }

    /// An outcome the caller did not expect at this point.
    pub(super) fn unexpected_outcome(&self) -> Error {
        Error::Internal(format!("unexpected script outcome {}", self.outcome()))
    }

    fn unexpected(&self, index: usize, wanted: &str, got: Option<&Value>) -> Error {
        Error::Internal(format!(
            "{} reply: element {index} should be {wanted}, got {got:?}",
            self.outcome()
        ))
    }
}

fn is_name(value: &Value, name: &[u8]) -> bool {
    matches!(value, Value::BulkString(b) if b == name)
}

/// A reply's fields by name (see [`Reply::named`]). A field is looked up by
/// a walk over the names: replies have a handful, where hashing would cost
/// more than it saves.
pub(super) struct Named(Reply);

impl Named {
    pub(super) fn outcome(&self) -> &str {
        self.0.outcome()
    }

    pub(super) fn int(&self, name: &str) -> Result<i64> {
        match self.field(name)? {
            Value::Int(n) => Ok(*n),
            other => Err(self.mistyped(name, "an integer", other)),
        }
    }

    /// A string (a cursor, an id).
    pub(super) fn text(&self, name: &str) -> Result<&str> {
        let value = self.field(name)?;
        match value {
            Value::BulkString(b) => {
                std::str::from_utf8(b).map_err(|_| self.mistyped(name, "a UTF-8 string", value))
            }
            other => Err(self.mistyped(name, "a string", other)),
        }
    }

    /// A list of strings (tokens, ids).
    pub(super) fn texts(&self, name: &str) -> Result<Vec<&str>> {
        let value = self.field(name)?;
        let wanted = "a list of strings";
        let Value::Array(items) = value else {
            return Err(self.mistyped(name, wanted, value));
        };
        items
            .iter()
            .map(|item| match item {
                Value::BulkString(b) => std::str::from_utf8(b).ok(),
                _ => None,
            })
            .map(|text| text.ok_or_else(|| self.mistyped(name, wanted, value)))
            .collect()
    }

    /// Takes out a nested answer (one request's, within a cart's reply).
    pub(super) fn take_reply(&mut self, name: &str) -> Result<Reply> {
        let value = self.take(name)?;
        Reply::parse(value).map_err(|e| self.nested(name, e))
    }

    /// Takes out a list of nested answers (a batch's, one per request).
    pub(super) fn take_replies(&mut self, name: &str) -> Result<Vec<Reply>> {
        match self.take(name)? {
            Value::Array(items) => items
                .into_iter()
                .map(|item| Reply::parse(item).map_err(|e| self.nested(name, e)))
                .collect(),
            other => Err(self.mistyped(name, "a list of answers", &other)),
        }
    }

    fn field(&self, name: &str) -> Result<&Value> {
        let at = self.position(name)?;
        Ok(&self.0.0[at])
    }

    fn take(&mut self, name: &str) -> Result<Value> {
        let at = self.position(name)?;
        Ok(std::mem::replace(&mut self.0.0[at], Value::Nil))
    }

    /// Where the value of field `name` is.
    fn position(&self, name: &str) -> Result<usize> {
        let items = &self.0.0;
        (1..items.len())
            .step_by(2)
            .find(|&index| is_name(&items[index], name.as_bytes()))
            .map(|index| index + 1)
            .ok_or_else(|| Error::Internal(format!("{} reply has no field {name}", self.outcome())))
    }

    fn mistyped(&self, name: &str, wanted: &str, got: &Value) -> Error {
        Error::Internal(format!(
            "{} reply: field {name} should be {wanted}, got {got:?}",
            self.outcome()
        ))
    }

    /// An error within a nested answer, said as the field's.
    fn nested(&self, name: &str, error: Error) -> Error {
        let detail = match error {
            Error::Internal(detail) => detail,
            other => other.to_string(),
        };
        Error::Internal(format!(
            "{} reply: field {name} should hold answers: {detail}",
            self.outcome()
        ))
    }
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::Reply;

    fn text(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn reply(items: Vec<Value>) -> Reply {
        Reply::parse(Value::Array(items)).unwrap()
    }

    fn error_of<T>(result: crate::Result<T>) -> String {
        match result {
            Ok(_) => panic!("decoded what it should have refused"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn a_named_reply_is_read_by_name_and_a_missing_field_is_an_error() {
        let fields = reply(vec![
            text("OK"),
            text("held"),
            Value::Int(3),
            text("total"),
            Value::Int(10),
        ])
        .named()
        .unwrap();
        assert_eq!(
            (fields.int("total").unwrap(), fields.int("held").unwrap()),
            (10, 3)
        );
        let missing = error_of(fields.int("sold"));
        assert!(missing.contains("OK reply has no field sold"), "{missing}");
    }

    #[test]
    fn a_reply_that_is_not_pairs_of_distinct_names_is_refused_whole() {
        let odd = error_of(reply(vec![text("OK"), text("held")]).named());
        assert!(odd.contains("not name, value pairs"), "{odd}");

        let unnamed = error_of(reply(vec![text("OK"), Value::Int(1), Value::Int(2)]).named());
        assert!(
            unnamed.contains("element 1 should be a field name"),
            "{unnamed}"
        );

        let twice = reply(vec![
            text("OK"),
            text("held"),
            Value::Int(1),
            text("held"),
            Value::Int(2),
        ]);
        let twice = error_of(twice.named());
        assert!(twice.contains("names field held twice"), "{twice}");
    }

    #[test]
    fn a_field_of_the_wrong_type_is_an_error_naming_it() {
        let mut fields = reply(vec![
            text("SWEPT"),
            text("units"),
            text("3"),
            text("expired"),
            Value::Array(vec![text("a"), Value::Int(2)]),
            text("answers"),
            Value::Int(0),
        ])
        .named()
        .unwrap();
        let units = error_of(fields.int("units"));
        assert!(
            units.contains("SWEPT reply: field units should be an integer"),
            "{units}"
        );
        let expired = error_of(fields.texts("expired"));
        assert!(
            expired.contains("field expired should be a list of strings"),
            "{expired}"
        );
        let answers = error_of(fields.take_replies("answers"));
        assert!(
            answers.contains("field answers should be a list of answers"),
            "{answers}"
        );
    }

    #[test]
    fn lists_and_nested_answers_sit_under_their_names() {
        let mut fields = reply(vec![
            text("BATCH"),
            text("expired"),
            Value::Array(vec![text("a"), text("b")]),
            text("none"),
            Value::Array(vec![]),
            text("answers"),
            Value::Array(vec![
                Value::Array(vec![text("OK"), text("t1"), Value::Int(4)]),
                Value::Array(vec![text("OUT_OF_STOCK"), Value::Int(0)]),
            ]),
            text("answer"),
            Value::Array(vec![text("NOT_FOUND")]),
            text("bad"),
            Value::Array(vec![Value::Int(7)]),
        ])
        .named()
        .unwrap();
        assert_eq!(fields.texts("expired").unwrap(), ["a", "b"]);
        assert!(fields.texts("none").unwrap().is_empty());

        let answers = fields.take_replies("answers").unwrap();
        let outcomes: Vec<_> = answers.iter().map(Reply::outcome).collect();
        assert_eq!(outcomes, ["OK", "OUT_OF_STOCK"]);
        assert_eq!(answers[0].text(1).unwrap(), "t1");
        assert_eq!(answers[1].int(1).unwrap(), 0);
        // Taken out, so a second take finds no answers there.
        assert!(fields.take_replies("answers").is_err());

        assert_eq!(fields.take_reply("answer").unwrap().outcome(), "NOT_FOUND");
        let bad = error_of(fields.take_replies("bad"));
        assert!(
            bad.contains("BATCH reply: field bad should hold answers"),
            "{bad}"
        );
    }
}
