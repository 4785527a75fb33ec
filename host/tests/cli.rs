//! The `switchboard` command line: plugin validation and inspection, and clear failures for bad
//! configuration. Runs the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn built(dir: &str, name: &str) -> PathBuf {
    let path = workspace().join("target").join(dir).join(format!("{name}.wasm"));
    assert!(path.is_file(), "{} is missing: run `scripts/build-connectors.sh --tests` first", path.display());
    path
}

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env("SWITCHBOARD_RUNTIME__CACHE_DIR", workspace().join("target/test-cache"))
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn one_line(output: &Output) -> String {
    let text = stdout(output);
    assert_eq!(text.trim_end().lines().count(), 1, "expected one line, got: {text}");
    text.trim_end().to_string()
}

#[test]
fn validate_accepts_a_connector() {
    let file = built("connectors", "signed-webhook");
    let output = switchboard(&["plugin", "validate", file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let line = one_line(&output);
    assert!(line.starts_with("ok:") && line.contains("`signed-webhook`") && line.contains("switchboard:connector@0.2.0"), "{line}");
}

#[test]
fn validate_rejects_a_core_module() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("core.wasm");
    // The smallest valid core module: the magic number and version 1.
    std::fs::write(&file, b"\0asm\x01\0\0\0").unwrap();
    let output = switchboard(&["plugin", "validate", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let line = one_line(&output);
    assert!(line.contains("core WebAssembly module, not a component"), "{line}");
}

#[test]
fn validate_rejects_a_component_of_another_world() {
    let file = built("test-connectors", "other-world");
    let output = switchboard(&["plugin", "validate", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let line = one_line(&output);
    assert!(line.contains("does not implement the connector contract"), "{line}");
    assert!(line.contains("exports [greet]"), "{line}");
    assert!(line.contains("switchboard:connector/connector@0.1.0"), "{line}");
}

#[test]
fn validate_rejects_a_truncated_file() {
    let bytes = std::fs::read(built("connectors", "signed-webhook")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("truncated.wasm");
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let output = switchboard(&["plugin", "validate", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let line = one_line(&output);
    assert!(line.contains("not a valid component (truncated or corrupt)"), "{line}");
}

#[test]
fn validate_rejects_a_missing_file_and_a_non_wasm_file() {
    let output = switchboard(&["plugin", "validate", "/no/such/connector.wasm"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(one_line(&output).contains("cannot read the file"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.wasm");
    std::fs::write(&file, "hello").unwrap();
    let output = switchboard(&["plugin", "validate", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(one_line(&output).contains("not a WebAssembly file"));
}

#[test]
fn inspect_prints_metadata_world_and_imports() {
    let file = built("connectors", "signed-webhook");
    let output = switchboard(&["plugin", "inspect", file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "world:      switchboard:connector/channel@0.2.0",
        "connector:  signed-webhook 0.1.0",
        "signing-secret [required, secret]",
        "egress:     host of setting `api-base-url`",
        "switchboard:connector/host@0.1.0",
        "switchboard:connector/http@0.2.0",
        "switchboard:connector/crypto@0.2.0",
        "switchboard:connector/connector@0.1.0",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    // The SDK's HTTP goes through the contract's import, not `wasi:http`.
    assert!(!text.contains("wasi:http"), "{text}");
    let output = switchboard(&["plugin", "inspect", "--json", file.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["id"], "signed-webhook");
    assert_eq!(json["contract_version"], "0.2.0");
    assert!(json["imports"].as_array().unwrap().iter().any(|i| i == "switchboard:connector/host@0.1.0"));

    // A connector built against 0.1.0 is still one.
    let legacy = built("test-connectors", "contract-0-1");
    let output = switchboard(&["plugin", "inspect", "--json", legacy.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["contract_version"], "0.1.0");
}

fn serve_with(config: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("switchboard.toml");
    std::fs::write(&file, config).unwrap();
    switchboard(&["serve", "--config", file.to_str().unwrap()])
}

#[test]
fn serve_rejects_an_unknown_key() {
    let output = serve_with("[server]\nlisten = \"127.0.0.1:0\"\nlisten_port = 9\n");
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("listen_port") && err.contains("switchboard.toml"), "{err}");
}

#[test]
fn serve_rejects_a_bad_value() {
    let output = serve_with("[server]\nlisten = \"everywhere\"\n");
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("server.listen") && err.contains("127.0.0.1:8080"), "{err}");

    let output = serve_with("[runtime]\nmemory_limit_mib = \"lots\"\n");
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("memory_limit_mib"), "{}", stderr(&output));
}

#[test]
fn serve_rejects_a_missing_config_file() {
    let output = switchboard(&["serve", "--config", "/no/such/switchboard.toml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("does not exist"), "{}", stderr(&output));
}

#[test]
fn serve_rejects_a_channel_of_an_unknown_connector_and_a_missing_setting() {
    let dir = tempfile::tempdir().unwrap();
    let connectors = dir.path().join("connectors");
    std::fs::create_dir_all(&connectors).unwrap();
    std::fs::copy(built("connectors", "signed-webhook"), connectors.join("signed-webhook.wasm")).unwrap();
    let base = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[runtime]\nconnector_dir = \"{}\"\n",
        connectors.display()
    );
    let output = serve_with(&format!("{base}[[channels]]\nid = \"x\"\ntenant = \"acme\"\nconnector = \"telepathy\"\n"));
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("connector `telepathy`, which is not loaded (loaded: signed-webhook)"), "{err}");

    let output = serve_with(&format!(
        "{base}[[channels]]\nid = \"x\"\ntenant = \"acme\"\nconnector = \"signed-webhook\"\n[channels.settings]\napi-token = \"t\"\n"
    ));
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("requires setting `signing-secret`"), "{err}");

    // A bad connector file in the directory stops the start, naming the file.
    std::fs::write(connectors.join("broken.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let output = serve_with(&base);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("broken.wasm") && err.contains("core WebAssembly module"), "{err}");
}

#[test]
fn channel_add_list_remove_and_user_add() {
    let dir = tempfile::tempdir().unwrap();
    let connectors = dir.path().join("connectors");
    std::fs::create_dir_all(&connectors).unwrap();
    std::fs::copy(built("connectors", "signed-webhook"), connectors.join("signed-webhook.wasm")).unwrap();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\npublic_url = \"https://cc.example.com\"\n[storage]\nurl = \"sqlite://{}\"\n[runtime]\nconnector_dir = \"{}\"\n",
            dir.path().join("sb.db").display(),
            connectors.display()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let output = switchboard(&[
        "channel", "add", "--config", cfg, "--id", "acme-web", "--tenant", "acme", "--connector", "signed-webhook",
        "--setting", "signing-secret=s3cret", "--setting", "api-token=t0ken", "--setting", "api-base-url=https://api.example.com",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("https://cc.example.com/hooks/acme-web"), "{}", stdout(&output));

    let output = switchboard(&["channel", "list", "--config", cfg]);
    let listed = stdout(&output);
    assert!(listed.contains("acme-web\tacme\tsigned-webhook\thttps://cc.example.com/hooks/acme-web"), "{listed}");
    assert!(!listed.contains("s3cret") && !listed.contains("t0ken"), "secrets are never printed");
    let db = std::fs::read(dir.path().join("sb.db")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains("s3cret"), "secrets are encrypted at rest");

    let output = switchboard(&["channel", "add", "--config", cfg, "--id", "x", "--tenant", "acme", "--connector", "signed-webhook", "--setting", "nonsense"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("must be key=value"));
    let output = switchboard(&["channel", "add", "--config", cfg, "--id", "x", "--tenant", "acme", "--connector", "signed-webhook", "--setting", "colour=red"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("setting `colour` is not declared"), "{}", stderr(&output));

    let output = switchboard(&["channel", "remove", "--config", cfg, "--id", "acme-web"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&switchboard(&["channel", "list", "--config", cfg])).is_empty());
    let output = switchboard(&["channel", "remove", "--config", cfg, "--id", "acme-web"]);
    assert_eq!(output.status.code(), Some(1));

    let output = switchboard(&["user", "add", "--config", cfg, "--tenant", "acme", "--name", "Grace", "--role", "admin"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("token: sb_"), "{}", stdout(&output));
    let output = switchboard(&["user", "add", "--config", cfg, "--tenant", "acme", "--name", "Grace", "--role", "owner"]);
    assert_eq!(output.status.code(), Some(2), "clap refuses an unknown role");
}
