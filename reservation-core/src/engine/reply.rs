//! Decoding of script replies: an array whose first element names the outcome.

use std::collections::HashMap;

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

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// Takes out an element that is itself a reply (one answer of a batch).
    pub(super) fn take_nested(&mut self, index: usize) -> Result<Reply> {
        match self.0.get_mut(index) {
            Some(value @ Value::Array(_)) => Reply::parse(std::mem::replace(value, Value::Nil)),
            other => {
                let other = other.cloned();
                Err(self.unexpected(index, "an answer", other.as_ref()))
            }
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

    /// The elements after the outcome as name, integer pairs: a reply of
    /// many fields is read by name, so a field moved or added in the script
    /// cannot be taken for another.
    pub(super) fn named_ints(&self) -> Result<NamedInts> {
        if self.len().is_multiple_of(2) {
            return Err(Error::Internal(format!(
                "{} reply: {} elements after the outcome are not name, value pairs",
                self.outcome(),
                self.len() - 1
            )));
        }
        let mut fields = HashMap::new();
        for index in (1..self.len()).step_by(2) {
            fields.insert(self.text(index)?.to_owned(), self.int(index + 1)?);
        }
        Ok(NamedInts {
            outcome: self.outcome().to_owned(),
            fields,
        })
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

/// A reply's integer fields by name (see [`Reply::named_ints`]).
pub(super) struct NamedInts {
    outcome: String,
    fields: HashMap<String, i64>,
}

impl NamedInts {
    pub(super) fn get(&self, name: &str) -> Result<i64> {
        self.fields
            .get(name)
            .copied()
            .ok_or_else(|| Error::Internal(format!("{} reply has no field {name}", self.outcome)))
    }
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::Reply;

    fn text(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn a_named_reply_is_read_by_name_and_a_missing_field_is_an_error() {
        let reply = Reply::parse(Value::Array(vec![
            text("OK"),
            text("held"),
            Value::Int(3),
            text("total"),
            Value::Int(10),
        ]))
        .unwrap();
        let fields = reply.named_ints().unwrap();
        assert_eq!(
            (fields.get("total").unwrap(), fields.get("held").unwrap()),
            (10, 3)
        );
        let missing = fields.get("sold").unwrap_err().to_string();
        assert!(missing.contains("no field sold"), "{missing}");

        let odd = Reply::parse(Value::Array(vec![text("OK"), text("held")])).unwrap();
        assert!(odd.named_ints().is_err(), "a name without its value");
    }
}
