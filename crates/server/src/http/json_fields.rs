//! What a JSON body we could not read says to whoever sent it: which field is missing, which has
//! the wrong type and what it should be, or where the JSON itself breaks, in English and Chinese.
//!
//! axum deserializes through `serde_path_to_error`, whose path names the field as the API names
//! it (`open.price_policy`); serde's own wording ("invalid type: integer `5`, expected a string")
//! is taken apart here rather than passed on, so a missing field is never called a wrong type.

use axum::extract::rejection::{JsonDataError, JsonSyntaxError};
use domain::partner::FieldError;
use services::Error;

pub type PathError = serde_path_to_error::Error<serde_json::Error>;

/// The deserializer's error inside axum's rejection (rejection → axum's error → this).
fn path_error<'a>(rejection: &'a (dyn std::error::Error + 'static)) -> Option<&'a PathError> {
    let mut source = rejection.source();
    while let Some(error) = source {
        if let Some(found) = error.downcast_ref::<PathError>() {
            return Some(found);
        }
        source = error.source();
    }
    None
}

/// serde_json's message without its " at line 1 column 12" (people read the field name instead).
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The text between the backticks after `prefix`: "missing field `reason`" → "reason".
fn quoted_after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.strip_prefix(prefix)?.split('`').next()
}

/// serde's "expected …" phrases in Chinese, for the common ones; others keep serde's wording.
fn expected_zh(expected: &str) -> String {
    let plain = expected.trim_start_matches("a ").trim_start_matches("an ");
    let zh = match plain {
        "string" | "borrowed string" => "字符串",
        "boolean" => "true 或 false",
        "sequence" => "数组",
        "map" => "对象",
        "integer" | "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" | "usize" | "isize" => "整数",
        "f32" | "f64" | "number" => "数字",
        "Decimal" | "a Decimal type representing a fixed-point number" => "数字（金额请用字符串，如 \"12.50\"）",
        "UUID" | "UUID parsable string" => "UUID 字符串",
        _ if plain.starts_with("struct ") => "对象",
        _ if plain.contains("RFC 3339") || plain.contains("datetime") => "RFC 3339 时间字符串",
        _ => return format!("{expected}（见接口文档）"),
    };
    zh.to_owned()
}

fn field_error(field: String, message: String, message_zh: String) -> Error {
    Error::Invalid(vec![FieldError::new(field, message, message_zh)])
}

/// Well-formed JSON that does not fit the request: 422 naming the field.
pub fn data_error(rejection: &JsonDataError) -> Error {
    let Some(error) = path_error(rejection) else {
        return field_error("body".into(), rejection.body_text(), "请求内容与接口要求不符，请对照接口文档".into());
    };
    from_path_error(error)
}

/// The same for a value read on its own (an item of a batch, checked one by one so that one bad
/// item does not spoil the others): the path is relative to that value.
pub fn from_path_error(error: &PathError) -> Error {
    let path = error.path().to_string();
    let within = |name: &str| if path == "." { name.to_owned() } else { format!("{path}.{name}") };
    let message = without_position(error.inner());
    if let Some(name) = quoted_after(&message, "missing field `") {
        return field_error(within(name), "is missing; this field is required".into(), "缺少此字段（必填）".into());
    }
    if let Some(name) = quoted_after(&message, "unknown field `") {
        return field_error(within(name), "is not a field of this request".into(), "不是此接口的字段，请对照接口文档".into());
    }
    let field = if path == "." { "body".to_owned() } else { path };
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (got, expected) = rest.split_once(", expected ").unwrap_or((rest, "another type"));
        return field_error(field, format!("has the wrong type: {got} where {expected} is expected"), format!("类型不符：应为{}", expected_zh(expected)));
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (got, allowed) = rest.split_once(", expected ").unwrap_or((rest, "a documented value"));
        let allowed = allowed.trim_start_matches("one of ").replace('`', "");
        return field_error(field, format!("{} is not one of the allowed values: {allowed}", got.replace('`', "")), format!("取值不合法，可选值：{allowed}"));
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        let (got, expected) = rest.split_once(", expected ").unwrap_or((rest, "a valid value"));
        return field_error(field, format!("{got} is not valid; expected {expected}"), format!("取值不合法：应为{}", expected_zh(expected)));
    }
    field_error(field, message, "取值不合法，请对照接口文档".into())
}

/// Not JSON at all (or cut short): 400 saying where it breaks.
pub fn syntax_error(rejection: &JsonSyntaxError) -> Error {
    let (line, column) = path_error(rejection).map(|e| (e.inner().line(), e.inner().column())).unwrap_or_default();
    if line == 0 {
        return Error::Malformed(format!("the body is not valid JSON: {}", rejection.body_text()));
    }
    Error::Malformed(format!("the body is not valid JSON: it breaks at line {line}, column {column}"))
}
