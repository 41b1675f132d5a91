//! The typed adapter: worker functions take and return plain Rust types, never raw JSON.
//!
//! Rules it keeps:
//! - The engine's injected `_caller_worker_id` key is removed before decoding, so request
//!   structs may use `#[serde(deny_unknown_fields)]` (spec §2.1, quirk §9.3).
//! - Input that does not decode is `INVALID_INPUT`, and the message names the function, the
//!   serde complaint and the fields the request type expects.
//! - A [`WorkerError`] leaves as the iii handler error `CODE: message`; [`call`] reads it back,
//!   so a caller sees the callee's code, not a generic failure.

use std::future::Future;
use std::time::Duration;

use iii_sdk::{FunctionRef, III, IIIConnectionState, IIIError, RegisterFunctionMessage, TriggerAction, TriggerRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{WorkerError, codes};

/// The key the engine adds to object inputs of calls that come from a worker socket.
pub const CALLER_KEY: &str = "_caller_worker_id";

/// Registers `id` on `iii` as a typed function: the input is decoded into `Req` (see
/// [`decode`]), `f` runs, and its `Resp` is encoded as the result.
///
/// # Panics
/// Like the SDK's `register_function`, when `id` is empty or already registered on this `iii`:
/// both are programming errors a worker's first test catches.
pub fn register_typed<Req, Resp, F, Fut>(iii: &III, id: &str, description: &str, f: F) -> FunctionRef
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + 'static,
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, WorkerError>> + Send + 'static,
{
    let message = RegisterFunctionMessage::with_id(id.to_string()).with_description(description.to_string());
    register_typed_with(iii, message, f)
}

/// Like [`register_typed`], with the whole registration message: a `request_format` JSON schema
/// there is what agents offer a model as the tool's parameters.
///
/// # Panics
/// As [`register_typed`].
pub fn register_typed_with<Req, Resp, F, Fut>(iii: &III, message: RegisterFunctionMessage, f: F) -> FunctionRef
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + 'static,
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, WorkerError>> + Send + 'static,
{
    let function_id = message.id.clone();
    iii.register_function_with(message, move |input: Value| {
        let started = decode::<Req>(&function_id, input).map(&f);
        let function_id = function_id.clone();
        async move {
            let response = started?.await?;
            serde_json::to_value(response).map_err(|e| {
                IIIError::from(WorkerError::internal(format!("{function_id}: could not encode the response: {e}")))
            })
        }
    })
}

/// Decodes a function input into `Req` after removing [`CALLER_KEY`]. A `null` input is read
/// as `{}` when `Req` does not accept `null`, so functions without arguments can be called
/// with nothing. Errors are `INVALID_INPUT` naming `function_id` and the expected fields.
pub fn decode<Req: DeserializeOwned>(function_id: &str, mut input: Value) -> Result<Req, WorkerError> {
    if let Value::Object(map) = &mut input {
        map.remove(CALLER_KEY);
    }
    let was_null = input.is_null();
    match serde_json::from_value::<Req>(input) {
        Ok(req) => Ok(req),
        Err(_) if was_null => serde_json::from_value::<Req>(Value::Object(serde_json::Map::new()))
            .map_err(|e| invalid_input::<Req>(function_id, &e)),
        Err(e) => Err(invalid_input::<Req>(function_id, &e)),
    }
}

/// The `INVALID_INPUT` error for a failed decode of `Req`.
fn invalid_input<Req: DeserializeOwned>(function_id: &str, err: &serde_json::Error) -> WorkerError {
    let expected = match introspect::fields::<Req>() {
        Some([]) => "; expected an empty object {}".to_string(),
        Some(fields) => format!("; expected fields: {}", fields.join(", ")),
        None => format!("; expected a {}", short_type_name::<Req>()),
    };
    WorkerError::invalid_input(format!("{function_id}: {err}{expected}"))
}

/// `Vec<my_crate::Thing>` → `Vec<Thing>`: enough to name the type without crate paths.
fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let mut out = String::new();
    let mut segment = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            segment.push(c);
        } else {
            out.push_str(segment.rsplit("::").next().unwrap_or(&segment));
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(&segment));
    out
}

/// Calls `function_id` with `req` and decodes its result into `Resp`, waiting at most `timeout`.
///
/// Errors keep the callee's code: `IIIError::Remote{code, message}` becomes
/// `WorkerError{code, message}`, and a kit worker's `handler error: CODE: message` becomes
/// `WorkerError{CODE, message}`. A timeout is `TIMEOUT` while connected and
/// `ENGINE_UNAVAILABLE` when the connection is down (the SDK queues calls while it reconnects,
/// so a dead engine otherwise looks like a slow function). A result that does not decode is
/// `BAD_RESPONSE`. A missing result arrives as `null`, so use `Option<T>` when there may be none.
pub async fn call<Req, Resp>(iii: &III, function_id: &str, req: &Req, timeout: Duration) -> Result<Resp, WorkerError>
where
    Req: Serialize + ?Sized,
    Resp: DeserializeOwned,
{
    let payload = serde_json::to_value(req)
        .map_err(|e| WorkerError::internal(format!("{function_id}: could not encode the request: {e}")))?;
    let request = TriggerRequest {
        function_id: function_id.to_string(),
        payload,
        action: None,
        timeout_ms: Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
    };
    let value = iii.trigger(request).await.map_err(|e| from_iii(iii, function_id, timeout, e))?;
    serde_json::from_value(value).map_err(|e| {
        WorkerError::new(
            codes::BAD_RESPONSE,
            format!(
                "{function_id} answered with a value that is not a {}: {e}; the caller and the function disagree on the response shape",
                short_type_name::<Resp>()
            ),
        )
    })
}

/// Fire-and-forget: sends `req` to `function_id` without waiting for (or getting) a result.
/// Only encoding fails here; delivery problems show up in the engine's log.
pub async fn fire<Req: Serialize + ?Sized>(iii: &III, function_id: &str, req: &Req) -> Result<(), WorkerError> {
    let payload = serde_json::to_value(req)
        .map_err(|e| WorkerError::internal(format!("{function_id}: could not encode the request: {e}")))?;
    let request = TriggerRequest {
        function_id: function_id.to_string(),
        payload,
        action: Some(TriggerAction::Void),
        timeout_ms: None,
    };
    iii.trigger(request).await.map(drop).map_err(|e| from_iii(iii, function_id, Duration::ZERO, e))
}

/// Durable delivery: `req` goes to `function_id` through the engine's queue `queue`. Returns
/// once the engine has stored the job (it survives an engine crash and is retried until the
/// function succeeds, then dead-lettered), so the callee must accept the same request twice.
pub async fn enqueue<Req: Serialize + ?Sized>(
    iii: &III,
    function_id: &str,
    req: &Req,
    queue: &str,
) -> Result<(), WorkerError> {
    let payload = serde_json::to_value(req)
        .map_err(|e| WorkerError::internal(format!("{function_id}: could not encode the request: {e}")))?;
    let request = TriggerRequest {
        function_id: function_id.to_string(),
        payload,
        action: Some(TriggerAction::Enqueue { queue: queue.to_string() }),
        timeout_ms: Some(10_000),
    };
    iii.trigger(request).await.map(drop).map_err(|e| from_iii(iii, function_id, Duration::from_secs(10), e))
}

/// Maps an SDK error from calling `function_id` to a [`WorkerError`] that keeps the callee's code.
pub fn from_iii(iii: &III, function_id: &str, timeout: Duration, err: IIIError) -> WorkerError {
    let address = iii.address();
    match err {
        IIIError::Remote { code, message, .. } => {
            WorkerError::from_handler_text(&message).unwrap_or_else(|| WorkerError::new(code, message))
        }
        IIIError::Handler(text) => WorkerError::from_handler_text(&format!("handler error: {text}"))
            .unwrap_or_else(|| WorkerError::internal(text)),
        IIIError::Timeout if iii.get_connection_state() != IIIConnectionState::Connected => unavailable(address),
        IIIError::Timeout => WorkerError::new(
            codes::TIMEOUT,
            format!(
                "{function_id} did not answer within {} ms; check that its worker is running (`agentos status`) or allow a longer timeout",
                timeout.as_millis()
            ),
        ),
        IIIError::NotConnected | IIIError::WebSocket(_) => unavailable(address),
        IIIError::Serde(e) | IIIError::Runtime(e) => WorkerError::internal(format!("{function_id}: {e}")),
    }
}

/// `ENGINE_UNAVAILABLE` for the engine at `address`.
fn unavailable(address: &str) -> WorkerError {
    WorkerError::new(
        codes::ENGINE_UNAVAILABLE,
        format!(
            "not connected to the engine at {address} (the SDK retries every 2 s); start it with `agentos up` or point AGENTOS_ENGINE_URL at a running one"
        ),
    )
}

/// The field names a request struct `T` decodes (`None` for maps, enums and scalars): lets a
/// worker test that a hand-written `request_format` schema names exactly its request's fields.
pub fn field_names<'de, T: serde::Deserialize<'de>>() -> Option<&'static [&'static str]> {
    introspect::fields::<T>()
}

/// Finds the field names a `Deserialize` struct asks for, without a schema crate: serde hands
/// them to `deserialize_struct`, which this deserializer records and then refuses.
mod introspect {
    use serde::de::{self, Deserialize, Deserializer, Visitor};

    /// The struct's field names, or `None` when `T` is not a plain struct (maps, enums,
    /// flattened structs, scalars).
    pub fn fields<'de, T: Deserialize<'de>>() -> Option<&'static [&'static str]> {
        let mut found = None;
        let _ = T::deserialize(Recorder { found: &mut found });
        found
    }

    struct Recorder<'a> {
        found: &'a mut Option<&'static [&'static str]>,
    }

    impl<'de> Deserializer<'de> for Recorder<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.found = Some(fields);
            Err(de::Error::custom("recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Store {
        text: String,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NoArgs {}

    #[test]
    fn the_caller_key_is_removed_before_a_strict_struct_decodes() {
        let req: Store = decode("memory::store", json!({"text": "hi", "_caller_worker_id": "w1"})).unwrap();
        assert_eq!(req, Store { text: "hi".into(), tags: vec![] });
    }

    #[test]
    fn a_missing_field_is_invalid_input_naming_the_function_and_the_expected_fields() {
        let err = decode::<Store>("memory::store", json!({"txt": "hi"})).unwrap_err();
        assert_eq!(
            err,
            WorkerError::invalid_input(
                "memory::store: unknown field `txt`, expected `text` or `tags`; expected fields: text, tags"
            )
        );
    }

    #[test]
    fn a_null_input_reads_as_an_empty_object() {
        assert_eq!(decode::<NoArgs>("x::list", Value::Null).unwrap(), NoArgs {});
        assert_eq!(decode::<Option<u32>>("x::maybe", Value::Null).unwrap(), None);
    }

    #[test]
    fn a_non_struct_request_type_is_named_in_the_error() {
        let err = decode::<Vec<u32>>("x::sum", json!({"a": 1})).unwrap_err();
        assert_eq!(err.code, codes::INVALID_INPUT);
        assert!(err.message.ends_with("; expected a Vec<u32>"), "{}", err.message);
    }

    #[test]
    fn short_type_names_drop_crate_paths() {
        assert_eq!(short_type_name::<Vec<Store>>(), "Vec<Store>");
        assert_eq!(short_type_name::<Option<String>>(), "Option<String>");
    }

    #[test]
    fn a_remote_kit_error_keeps_its_code_and_other_remote_errors_keep_theirs() {
        let iii = III::new("ws://127.0.0.1:1");
        let kit = IIIError::Remote {
            code: "invocation_failed".into(),
            message: "handler error: NOT_FOUND: no realm 'x'".into(),
            stacktrace: None,
        };
        assert_eq!(from_iii(&iii, "realm::get", Duration::from_secs(1), kit), WorkerError::not_found("no realm 'x'"));
        let engine = IIIError::Remote {
            code: "function_not_found".into(),
            message: "Function a::b not found".into(),
            stacktrace: None,
        };
        assert_eq!(
            from_iii(&iii, "a::b", Duration::from_secs(1), engine),
            WorkerError::new("function_not_found", "Function a::b not found")
        );
    }

    #[test]
    fn a_timeout_while_disconnected_is_engine_unavailable() {
        let iii = III::new("ws://127.0.0.1:1");
        let err = from_iii(&iii, "a::b", Duration::from_secs(1), IIIError::Timeout);
        assert_eq!(err.code, codes::ENGINE_UNAVAILABLE);
        assert!(err.message.contains("ws://127.0.0.1:1"), "{}", err.message);
    }
}
