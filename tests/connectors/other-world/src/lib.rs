//! A component that exports a greeter, not the connector contract.

wit_bindgen::generate!({
    inline: "
        package test:other-world;
        world greeter {
            export greet: func(name: string) -> string;
        }
    ",
});

struct Greeter;

impl Guest for Greeter {
    fn greet(name: String) -> String {
        format!("hello {name}")
    }
}

export!(Greeter);
