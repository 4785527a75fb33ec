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

/// What `switchboard:connector@0.2.0` adds to 0.1.0: the `http` import.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: ["../wit", "../wit/v0.2"],
        inline: "
            package switchboard:host-bindings;
            world http-import {
                import switchboard:connector/http@0.2.0;
            }
        ",
        world: "switchboard:host-bindings/http-import",
        imports: { default: async },
    });

    /// The import that marks a component as built against 0.2.0.
    pub const IMPORT: &str = "switchboard:connector/http@0.2.0";
}

/// Contract versions this host loads, newest first, each with the import that only components
/// built against it (or a later version) have; 0.1.0 needs none.
pub const SUPPORTED_VERSIONS: &[(&str, Option<&str>)] = &[("0.2.0", Some(v0_2::IMPORT)), ("0.1.0", None)];

/// The contract version a component with these imports was built against.
pub fn contract_version<'a>(imports: impl Iterator<Item = &'a str> + Clone) -> &'static str {
    SUPPORTED_VERSIONS
        .iter()
        .find(|(_, marker)| marker.is_none_or(|marker| imports.clone().any(|name| name == marker)))
        .map(|(version, _)| *version)
        .unwrap_or("0.1.0")
}
