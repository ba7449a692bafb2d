//! Decoding of script replies: an array whose first element names the outcome.

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
