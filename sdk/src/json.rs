//! Reading provider JSON in place.

use serde_json::Value;

/// The value at `path` (`/a/b/0/c`: object keys and array indices), without allocating.
/// `Value::pointer` builds two new strings for every step to unescape `~0` and `~1`, which
/// provider field names never contain; on a webhook's hot path those copies add up.
pub fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let Some(steps) = path.strip_prefix('/') else {
        return path.is_empty().then_some(value);
    };
    steps.split('/').try_fold(value, |current, step| match current {
        Value::Object(fields) => fields.get(step),
        Value::Array(items) => items.get(step.parse::<usize>().ok()?),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_objects_and_arrays() {
        let v = serde_json::json!({ "a": { "b": [ { "c": 1 }, { "c": 2 } ] }, "": 3 });
        assert_eq!(at(&v, "/a/b/1/c"), Some(&serde_json::json!(2)));
        assert_eq!(at(&v, ""), Some(&v));
        assert_eq!(at(&v, "/a/b/2/c"), None);
        assert_eq!(at(&v, "/a/b/x"), None);
        assert_eq!(at(&v, "/a/b/0/c/d"), None);
        assert_eq!(at(&v, "a"), None);
        assert_eq!(at(&v, "/a/b/1/c"), v.pointer("/a/b/1/c"));
    }
}
