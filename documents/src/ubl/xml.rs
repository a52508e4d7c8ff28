//! A minimal XML writer: nested elements, attributes and escaped text, indented two spaces.
//!
//! UBL needs nothing more (no mixed content, no namespaces beyond fixed prefixes), and a few
//! dozen lines are easier to trust than a dependency; the output is checked against the
//! UBL 2.1 schemas by the e-Factura validator in the tests.

/// Builds one XML document in memory.
pub(crate) struct Xml {
    out: String,
    open: Vec<&'static str>,
}

impl Xml {
    /// A document starting with the XML declaration.
    pub(crate) fn new() -> Self {
        Self { out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), open: Vec::new() }
    }

    /// Opens `<name attr="…">`.
    pub(crate) fn open(&mut self, name: &'static str, attributes: &[(&str, &str)]) -> &mut Self {
        self.indent();
        self.start_tag(name, attributes);
        self.out.push_str(">\n");
        self.open.push(name);
        self
    }

    /// Closes the innermost open element.
    pub(crate) fn close(&mut self) -> &mut Self {
        let name = self.open.pop().expect("close matches an open element");
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self
    }

    /// Writes `<name>text</name>`.
    pub(crate) fn leaf(&mut self, name: &'static str, text: &str) -> &mut Self {
        self.leaf_with(name, &[], text)
    }

    /// Writes `<name attr="…">text</name>`.
    pub(crate) fn leaf_with(
        &mut self,
        name: &'static str,
        attributes: &[(&str, &str)],
        text: &str,
    ) -> &mut Self {
        self.indent();
        self.start_tag(name, attributes);
        self.out.push('>');
        escape_into(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self
    }

    /// The finished document; every element must be closed.
    pub(crate) fn finish(self) -> String {
        assert!(self.open.is_empty(), "unclosed elements: {:?}", self.open);
        self.out
    }

    fn start_tag(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attributes {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            escape_into(&mut self.out, value);
            self.out.push('"');
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.open.len() {
            self.out.push_str("  ");
        }
    }
}

/// Escapes the five characters XML reserves. Control characters never reach here: the
/// domain refuses them in every text field.
fn escape_into(out: &mut String, text: &str) {
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
}

#[cfg(test)]
mod tests {
    use super::Xml;

    #[test]
    fn nests_and_escapes() {
        let mut xml = Xml::new();
        xml.open("Root", &[("xmlns", "urn:x")]);
        xml.leaf_with("cbc:Name", &[("a", "\"q\" & <b>")], "Șerban & Fiii <SRL> 'x'");
        xml.close();
        let out = xml.finish();
        assert!(out.contains("<Root xmlns=\"urn:x\">\n"));
        assert!(out.contains(
            "  <cbc:Name a=\"&quot;q&quot; &amp; &lt;b&gt;\">Șerban &amp; Fiii &lt;SRL&gt; &apos;x&apos;</cbc:Name>\n"
        ));
        assert!(out.ends_with("</Root>\n"));
    }
}
