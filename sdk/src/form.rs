//! `application/x-www-form-urlencoded` bodies and query strings.

/// Decoded name/value pairs, in the order they appeared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    /// The pairs, in order. A name may appear more than once.
    pub pairs: Vec<(String, String)>,
}

impl Form {
    /// Parse a form body or a query string (without the leading `?`).
    pub fn parse(input: &[u8]) -> Form {
        Form { pairs: form_urlencoded::parse(input).into_owned().collect() }
    }

    /// The first value for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value for `name`, or an error naming the missing parameter.
    pub fn require(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("the required parameter `{name}` is missing"))
    }

    /// Encode pairs as a form body.
    pub fn encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            serializer.append_pair(k, v);
        }
        serializer.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_encodes() {
        let form = Form::parse(b"Body=Hello+World%21&From=%2B15551234567&Body=again");
        assert_eq!(form.get("Body"), Some("Hello World!"));
        assert_eq!(form.get("From"), Some("+15551234567"));
        assert_eq!(form.pairs.len(), 3);
        assert!(form.require("To").unwrap_err().contains("`To`"));
        assert_eq!(Form::encode([("To", "+1 555"), ("Body", "a&b")]), "To=%2B1+555&Body=a%26b");
    }
}
