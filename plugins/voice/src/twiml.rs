//! TwiML: the XML a voice webhook answers with.

/// Escape text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// One verb, with attributes and either text or nested verbs.
pub struct Verb {
    name: &'static str,
    attributes: Vec<(&'static str, String)>,
    body: Body,
}

enum Body {
    Empty,
    Text(String),
    Verbs(Vec<Verb>),
}

impl Verb {
    /// A verb with no content, e.g. `<Hangup/>`.
    pub fn empty(name: &'static str) -> Verb {
        Verb { name, attributes: Vec::new(), body: Body::Empty }
    }

    /// A verb holding text, e.g. `<Say>Hello</Say>`.
    pub fn text(name: &'static str, text: &str) -> Verb {
        Verb { name, attributes: Vec::new(), body: Body::Text(text.to_string()) }
    }

    /// A verb holding verbs, e.g. `<Gather><Say/></Gather>`.
    pub fn nest(name: &'static str, verbs: Vec<Verb>) -> Verb {
        Verb { name, attributes: Vec::new(), body: Body::Verbs(verbs) }
    }

    /// Give an empty verb text content, e.g. `<Redirect>url</Redirect>`.
    pub fn attr_text(mut self, text: String) -> Verb {
        self.body = Body::Text(text);
        self
    }

    /// Add an attribute.
    pub fn attr(mut self, name: &'static str, value: impl ToString) -> Verb {
        self.attributes.push((name, value.to_string()));
        self
    }

    fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(self.name);
        for (k, v) in &self.attributes {
            out.push_str(&format!(" {k}=\"{}\"", escape(v)));
        }
        match &self.body {
            Body::Empty => out.push_str("/>"),
            Body::Text(text) => out.push_str(&format!(">{}</{}>", escape(text), self.name)),
            Body::Verbs(verbs) => {
                out.push('>');
                for v in verbs {
                    v.write(out);
                }
                out.push_str(&format!("</{}>", self.name));
            }
        }
    }
}

/// A whole `<Response>` document.
pub fn response(verbs: Vec<Verb>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    Verb::nest("Response", verbs).write(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_reference_library() {
        assert_eq!(
            response(vec![Verb::nest("Dial", vec![Verb::text("Client", "alice")])]),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial><Client>alice</Client></Dial></Response>"
        );
        assert_eq!(
            response(vec![Verb::nest("Gather", vec![Verb::text("Say", "Hello")])]),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather><Say>Hello</Say></Gather></Response>"
        );
        assert_eq!(response(vec![Verb::empty("Hangup")]), "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Hangup/></Response>");
        assert!(response(vec![Verb::text("Say", "a < b & \"c\"")]).contains("a &lt; b &amp; &quot;c&quot;"));
    }
}
