//! Host bindings for each supported version of the connector contract.
//!
//! A released contract version is frozen, so each version keeps its own generated module here.
//! A component is matched to a version by the `connector` interface it exports.

/// `switchboard:connector@0.1.0`, world `channel`.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "channel",
        imports: { default: async },
        exports: { default: async },
    });

    /// The name of the interface a 0.1 connector exports.
    pub const EXPORT: &str = "switchboard:connector/connector@0.1.0";
}

/// Contract versions this host loads, newest first, with the export that identifies each.
pub const SUPPORTED_VERSIONS: &[(&str, &str)] = &[("0.1.0", v0_1::EXPORT)];
