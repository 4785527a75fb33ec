//! The `switchboard` command line.

use crate::config::{Config, RuntimeConfig};
use crate::runtime::Runtime;
use crate::runtime::bindings::v0_1::switchboard::connector::types as wit;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Switchboard: an omnichannel contact-center host.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the host.
    Serve {
        /// The TOML configuration file. Without one, the defaults and SWITCHBOARD_* variables apply.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Work with connector files.
    Plugin {
        /// The plugin command.
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Add, list and remove channels (stored in the configured database).
    Channel {
        /// The configuration file, for the database, connectors and public URL.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        /// The channel command.
        #[command(subcommand)]
        command: ChannelCommand,
    },
    /// Manage API users.
    User {
        /// The configuration file, for the database.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        /// The user command.
        #[command(subcommand)]
        command: UserCommand,
    },
}

/// `switchboard channel ...`
#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Add (or replace) a channel and print its webhook URL.
    Add {
        /// The channel id; its webhook is `/hooks/{id}`.
        #[arg(long)]
        id: String,
        /// The owning tenant.
        #[arg(long)]
        tenant: String,
        /// The connector id.
        #[arg(long)]
        connector: String,
        /// A setting, `key=value`; repeat for each.
        #[arg(long = "setting", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// Replace the connector's egress hosts; repeat for each.
        #[arg(long = "egress", value_name = "HOST[:PORT]")]
        egress: Vec<String>,
        /// Allow egress to loopback and private addresses.
        #[arg(long)]
        allow_private_egress: bool,
    },
    /// List channels.
    List {
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Remove a channel; its history stays.
    Remove {
        /// The channel id.
        #[arg(long)]
        id: String,
    },
}

/// `switchboard user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print an API token for it (shown once).
    Add {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The user's name.
        #[arg(long)]
        name: String,
        /// `admin` or `agent`.
        #[arg(long, value_parser = ["admin", "agent"])]
        role: String,
    },
}

/// `switchboard plugin ...`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Print a connector's metadata, contract version, imports and exports.
    Inspect {
        /// The connector file (.wasm).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check that a file is a connector this host can load. Prints one line; exits non-zero if not.
    Validate {
        /// The connector file (.wasm).
        file: PathBuf,
    },
}

/// A runtime for one-off plugin commands: default limits, no hot reload.
fn plugin_runtime() -> anyhow::Result<Runtime> {
    let config = RuntimeConfig { max_concurrent_calls: 4, ..RuntimeConfig::default() };
    Runtime::new(&config)
}

/// Run `plugin validate`. Returns the line to print and whether the file is valid.
pub async fn validate(file: &std::path::Path) -> (String, bool) {
    let runtime = match plugin_runtime() {
        Ok(r) => r,
        Err(e) => return (format!("error: cannot start the runtime: {e}"), false),
    };
    match runtime.load_file(file).await {
        Ok(c) => (
            format!(
                "ok: {} is connector `{}` {} ({}), contract switchboard:connector@{}",
                file.display(),
                c.info.id,
                c.info.version,
                c.info.name,
                c.contract_version
            ),
            true,
        ),
        Err(e) => (format!("invalid: {e}"), false),
    }
}

/// Run `plugin inspect`.
pub async fn inspect(file: &std::path::Path, json: bool) -> anyhow::Result<String> {
    let runtime = plugin_runtime()?;
    let c = runtime.load_file(file).await?;
    let info = &c.info;
    let caps = &info.capabilities;
    let egress: Vec<String> = info
        .egress
        .iter()
        .map(|r| match r {
            wit::EgressRule::Host(h) => h.clone(),
            wit::EgressRule::HostOfSetting(k) => format!("host of setting `{k}`"),
        })
        .collect();
    if json {
        let value = serde_json::json!({
            "file": file.display().to_string(),
            "sha256": c.digest,
            "world": "switchboard:connector/channel",
            "contract_version": c.contract_version,
            "id": info.id, "version": info.version, "name": info.name, "kind": crate::ingest::translate::channel_kind_name(info.kind),
            "capabilities": {
                "reply_window_seconds": caps.reply_window_seconds,
                "human_agent_window_seconds": caps.human_agent_window_seconds,
                "max_text_length": caps.max_text_length,
                "attachment_kinds": caps.attachment_kinds.iter().map(|k| format!("{k:?}").to_lowercase()).collect::<Vec<_>>(),
                "templates": caps.templates, "interactive": caps.interactive, "reactions": caps.reactions,
                "replies": caps.replies, "typing": caps.typing, "read_receipts": caps.read_receipts,
                "comments": caps.comments, "calls": caps.calls,
            },
            "settings": info.settings.iter().map(|s| serde_json::json!({
                "key": s.key, "description": s.description, "secret": s.secret, "required": s.required, "default": s.default_value,
            })).collect::<Vec<_>>(),
            "egress": egress,
            "imports": c.imports,
            "exports": c.exports,
        });
        return Ok(serde_json::to_string_pretty(&value)?);
    }
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("file:       {}", file.display()));
    line(format!("sha256:     {}", c.digest));
    line(format!("world:      switchboard:connector/channel@{}", c.contract_version));
    line(format!("connector:  {} {} ({})", info.id, info.version, info.name));
    line(format!("kind:       {}", crate::ingest::translate::channel_kind_name(info.kind)));
    let window = caps.reply_window_seconds.map(|s| format!("{s}s")).unwrap_or_else(|| "none".into());
    let max_len = caps.max_text_length.map(|n| n.to_string()).unwrap_or_else(|| "unlimited".into());
    line(format!("capabilities: reply window {window}, max text {max_len}"));
    let flags = [
        ("templates", caps.templates),
        ("interactive", caps.interactive),
        ("reactions", caps.reactions),
        ("replies", caps.replies),
        ("typing", caps.typing),
        ("read-receipts", caps.read_receipts),
        ("comments", caps.comments),
        ("calls", caps.calls),
    ];
    let on: Vec<&str> = flags.iter().filter(|(_, v)| *v).map(|(k, _)| *k).collect();
    line(format!("  features: {}", if on.is_empty() { "none".into() } else { on.join(", ") }));
    let kinds: Vec<String> = caps.attachment_kinds.iter().map(|k| format!("{k:?}").to_lowercase()).collect();
    line(format!("  attachments: {}", if kinds.is_empty() { "none".into() } else { kinds.join(", ") }));
    line("settings:".into());
    for s in &info.settings {
        let mut tags = Vec::new();
        if s.required {
            tags.push("required".to_string());
        }
        if s.secret {
            tags.push("secret".to_string());
        }
        if let Some(d) = &s.default_value {
            tags.push(format!("default {d}"));
        }
        line(format!("  {} [{}]: {}", s.key, tags.join(", "), s.description));
    }
    line(format!("egress:     {}", if egress.is_empty() { "none".into() } else { egress.join(", ") }));
    line("imports:".into());
    for i in &c.imports {
        line(format!("  {i}"));
    }
    line("exports:".into());
    for e in &c.exports {
        line(format!("  {e}"));
    }
    Ok(out)
}

fn report(result: anyhow::Result<String>) -> i32 {
    match result {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// Install the tracing subscriber from the log configuration (`RUST_LOG` wins over the file).
pub fn init_logging(config: &crate::config::LogConfig) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if config.format == "json" { builder.json().try_init() } else { builder.try_init() };
}

async fn channel_command(config: Option<PathBuf>, command: ChannelCommand) -> anyhow::Result<String> {
    let config = Config::load(config.as_deref())?;
    let services = crate::app::Services::open(&config).await?;
    match command {
        ChannelCommand::Add { id, tenant, connector, settings, egress, allow_private_egress } => {
            let mut parsed = std::collections::BTreeMap::new();
            for entry in settings {
                let (k, v) = entry
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--setting `{entry}` must be key=value"))?;
                parsed.insert(k.trim().to_string(), v.to_string());
            }
            let channel = crate::channels::Channel {
                id,
                tenant,
                connector,
                settings: parsed,
                egress: if egress.is_empty() { None } else { Some(egress) },
                allow_private_egress,
                human_agent_tag: false,
            };
            let saved = crate::channels::save(&services.db, &services.sealer, &services.connectors, &services.channels, channel)
                .await
                .map_err(anyhow::Error::msg)?;
            Ok(format!(
                "channel `{}` added for tenant `{}`; point the provider's webhook at {}/hooks/{}\n",
                saved.id, saved.tenant, services.public_url, saved.id
            ))
        }
        ChannelCommand::List { tenant } => {
            let mut out = String::new();
            for c in services.channels.all().iter().filter(|c| tenant.as_ref().is_none_or(|t| &c.tenant == t)) {
                out.push_str(&format!("{}\t{}\t{}\t{}/hooks/{}\n", c.id, c.tenant, c.connector, services.public_url, c.id));
            }
            Ok(out)
        }
        ChannelCommand::Remove { id } => {
            if crate::store::channels::remove(&services.db, None, &id).await? {
                Ok(format!("channel `{id}` removed; its conversations stay\n"))
            } else {
                anyhow::bail!("no channel `{id}`; `switchboard channel list` shows them")
            }
        }
    }
}

async fn user_command(config: Option<PathBuf>, command: UserCommand) -> anyhow::Result<String> {
    let config = Config::load(config.as_deref())?;
    let db = crate::store::Db::connect(&config.storage.url).await?;
    match command {
        UserCommand::Add { tenant, name, role } => {
            crate::domain::ids::check_slug(&tenant).map_err(|why| anyhow::anyhow!("--tenant {why}"))?;
            let id = crate::store::users::create_user(&db, &tenant, &name, &role).await?;
            let token = crate::store::users::create_token(&db, &tenant, &id).await?;
            Ok(format!("user {id} ({role}) created in tenant `{tenant}`\ntoken: {token}\n"))
        }
    }
}

/// Run the command line; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Channel { config, command } => report(channel_command(config, command).await),
        Command::User { config, command } => report(user_command(config, command).await),
        Command::Serve { config } => {
            let config = match Config::load(config.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 1;
                }
            };
            init_logging(&config.log);
            let host = match crate::app::Host::start(config).await {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return 1;
                }
            };
            match host.run_until_signal().await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            }
        }
        Command::Plugin { command: PluginCommand::Validate { file } } => {
            let (line, ok) = validate(&file).await;
            println!("{line}");
            if ok { 0 } else { 1 }
        }
        Command::Plugin { command: PluginCommand::Inspect { file, json } } => match inspect(&file, json).await {
            Ok(text) => {
                print!("{text}");
                if json {
                    println!();
                }
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
    }
}
