//! Host bindings for each supported version of the connector contract.
//!
//! A released contract version is frozen, so each version keeps its own generated module here.
//! Later versions only add imports, so every version's components export the `connector`
//! interface of 0.1.0, and a component's version is the newest whose imports it uses.

/// `switchboard:connector@0.1.0`, world `channel`.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "channel",
        imports: { default: async },
        exports: { default: async },
    });

    /// The name of the interface every connector exports.
    pub const EXPORT: &str = "switchboard:connector/connector@0.1.0";
}

/// What `switchboard:connector@0.2.0` adds to 0.1.0: the `http` and `crypto` imports.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: ["../wit", "../wit/v0.2"],
        inline: "
            package switchboard:host-bindings;
            world additions {
                import switchboard:connector/http@0.2.0;
                import switchboard:connector/crypto@0.2.0;
            }
        ",
        world: "switchboard:host-bindings/additions",
        // Only a request waits; a MAC is computed on the spot.
        imports: { "switchboard:connector/http@0.2.0.send": async },
    });

    /// The imports that mark a component as built against 0.2.0: it uses one or both.
    pub const IMPORTS: [&str; 2] = ["switchboard:connector/http@0.2.0", "switchboard:connector/crypto@0.2.0"];
}

/// Contract versions this host loads, newest first, each with the imports that only components
/// built against it (or a later version) can have; 0.1.0 has none of its own.
pub const SUPPORTED_VERSIONS: &[(&str, &[&str])] = &[("0.2.0", &v0_2::IMPORTS), ("0.1.0", &[])];

/// The contract version a component with these imports was built against: the newest whose
/// own imports it uses.
pub fn contract_version<'a>(imports: impl Iterator<Item = &'a str> + Clone) -> &'static str {
    SUPPORTED_VERSIONS
        .iter()
        .find(|(_, own)| own.is_empty() || imports.clone().any(|name| own.contains(&name)))
        .expect("0.1.0 has no imports of its own, so every component matches it")
        .0
}
