//! Channels: configured instances of a connector (one WhatsApp number, one SMS number, ...), and
//! the sandbox context each one's calls run with.

use crate::config::ChannelConfig;
use crate::runtime::bindings::v0_1::switchboard::connector::types as wit;
use crate::runtime::egress::{AllowedHost, EgressPolicy};
use crate::runtime::{CallRouter, ChannelContext, LoadedConnector, StateStore};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

/// A channel as the operator configured it.
#[derive(Debug, Clone)]
pub struct Channel {
    /// The channel's id (its webhook is `/hooks/{id}`).
    pub id: String,
    /// The owning tenant.
    pub tenant: String,
    /// The connector id it runs.
    pub connector: String,
    /// Settings and secrets by key.
    pub settings: BTreeMap<String, String>,
    /// Operator's egress override.
    pub egress: Option<Vec<String>>,
    /// Allow private and loopback destinations.
    pub allow_private_egress: bool,
    /// Let human agents answer with the channel's human-agent tag after the reply window.
    pub human_agent_tag: bool,
}

impl From<&ChannelConfig> for Channel {
    fn from(c: &ChannelConfig) -> Channel {
        Channel {
            id: c.id.clone(),
            tenant: c.tenant.clone(),
            connector: c.connector.clone(),
            settings: c.settings.clone(),
            egress: c.egress.clone(),
            allow_private_egress: c.allow_private_egress,
            human_agent_tag: c.human_agent_tag,
        }
    }
}

impl Channel {
    /// Resolve settings against what the connector declares: defaults filled in, required ones
    /// present, unknown ones refused.
    pub fn resolve_settings(&self, info: &wit::ConnectorInfo) -> Result<HashMap<String, String>, String> {
        for key in self.settings.keys() {
            if !info.settings.iter().any(|s| &s.key == key) {
                let declared: Vec<&str> = info.settings.iter().map(|s| s.key.as_str()).collect();
                return Err(format!(
                    "channel `{}`: setting `{key}` is not declared by connector `{}` (it declares: {})",
                    self.id,
                    info.id,
                    declared.join(", ")
                ));
            }
        }
        let mut resolved = HashMap::new();
        for spec in &info.settings {
            match self.settings.get(&spec.key).filter(|v| !v.is_empty()).or(spec.default_value.as_ref()) {
                Some(value) => {
                    resolved.insert(spec.key.clone(), value.clone());
                }
                None if spec.required => {
                    return Err(format!(
                        "channel `{}`: connector `{}` requires setting `{}` ({}); add it to the channel's settings",
                        self.id, info.id, spec.key, spec.description
                    ));
                }
                None => {}
            }
        }
        Ok(resolved)
    }

    /// The egress policy: the operator's override, or the hosts the connector declares.
    pub fn egress_policy(&self, info: &wit::ConnectorInfo, settings: &HashMap<String, String>) -> Result<EgressPolicy, String> {
        let mut allowed = Vec::new();
        match &self.egress {
            Some(hosts) => {
                for host in hosts {
                    allowed.push(AllowedHost::parse(host).ok_or_else(|| {
                        format!("channel `{}`: egress entry `{host}` is not a host or host:port", self.id)
                    })?);
                }
            }
            None => {
                for rule in &info.egress {
                    match rule {
                        wit::EgressRule::Host(host) => allowed.extend(AllowedHost::parse(host)),
                        wit::EgressRule::HostOfSetting(key) => {
                            if let Some(url) = settings.get(key) {
                                allowed.push(AllowedHost::parse(url).ok_or_else(|| {
                                    format!("channel `{}`: setting `{key}` is `{url}`, which is not a URL", self.id)
                                })?);
                            }
                        }
                    }
                }
            }
        }
        Ok(EgressPolicy { allowed, allow_private: self.allow_private_egress })
    }
}

fn same(a: &Channel, b: &Channel) -> bool {
    a.tenant == b.tenant
        && a.connector == b.connector
        && a.settings == b.settings
        && a.egress == b.egress
        && a.allow_private_egress == b.allow_private_egress
        && a.human_agent_tag == b.human_agent_tag
}

/// The shared services every channel context points at.
#[derive(Clone)]
pub struct ChannelServices {
    /// The public base URL, without a trailing slash.
    pub public_url: String,
    /// Connector state storage.
    pub state: Arc<dyn StateStore>,
    /// Voice routing.
    pub router: Arc<dyn CallRouter>,
}

struct Entry {
    channel: Arc<Channel>,
    /// The context built for a connector version (by digest), reused until the connector changes.
    context: Mutex<Option<(String, Arc<ChannelContext>)>>,
}

/// The channels this host serves, by id.
pub struct ChannelDirectory {
    entries: RwLock<HashMap<String, Arc<Entry>>>,
    services: ChannelServices,
}

impl ChannelDirectory {
    /// An empty directory.
    pub fn new(services: ChannelServices) -> ChannelDirectory {
        ChannelDirectory { entries: RwLock::default(), services }
    }

    /// Add or replace a channel.
    pub fn upsert(&self, channel: Channel) {
        let entry = Arc::new(Entry { channel: Arc::new(channel.clone()), context: Mutex::new(None) });
        self.entries.write().unwrap().insert(channel.id.clone(), entry);
    }

    /// Make the directory hold exactly `channels` (from the database), keeping the cached
    /// sandbox context of every channel that did not change.
    pub fn replace_all(&self, channels: Vec<Channel>) {
        let mut entries = self.entries.write().unwrap();
        let mut next = HashMap::with_capacity(channels.len());
        for channel in channels {
            let entry = match entries.remove(&channel.id) {
                Some(e) if same(&e.channel, &channel) => e,
                _ => Arc::new(Entry { channel: Arc::new(channel.clone()), context: Mutex::new(None) }),
            };
            next.insert(channel.id.clone(), entry);
        }
        *entries = next;
    }

    /// Remove a channel.
    pub fn remove(&self, id: &str) -> bool {
        self.entries.write().unwrap().remove(id).is_some()
    }

    /// A channel by id.
    pub fn get(&self, id: &str) -> Option<Arc<Channel>> {
        self.entries.read().unwrap().get(id).map(|e| e.channel.clone())
    }

    /// Every channel, sorted by id.
    pub fn all(&self) -> Vec<Channel> {
        let mut all: Vec<Channel> = self.entries.read().unwrap().values().map(|e| Channel::clone(&e.channel)).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The sandbox context for a call on `channel_id` with this connector version.
    pub fn context(&self, channel_id: &str, connector: &LoadedConnector) -> Result<Arc<ChannelContext>, String> {
        let entry = self
            .entries
            .read()
            .unwrap()
            .get(channel_id)
            .cloned()
            .ok_or_else(|| format!("no channel `{channel_id}`"))?;
        let mut cached = entry.context.lock().unwrap();
        if let Some((digest, context)) = cached.as_ref()
            && *digest == connector.digest
        {
            return Ok(context.clone());
        }
        let channel = &entry.channel;
        let settings = channel.resolve_settings(&connector.info)?;
        let egress = channel.egress_policy(&connector.info, &settings)?;
        let context = Arc::new(ChannelContext {
            tenant: channel.tenant.clone(),
            channel_id: channel.id.clone(),
            settings,
            webhook_url: format!("{}/hooks/{}", self.services.public_url, channel.id),
            egress,
            state: self.services.state.clone(),
            router: self.services.router.clone(),
        });
        *cached = Some((connector.digest.clone(), context.clone()));
        Ok(context)
    }
}

/// Check a channel against its connector and store it: the one path for channels from the
/// configuration file, the API and the CLI. Returns the channel as saved, or what is wrong.
pub async fn save(
    db: &crate::store::Db,
    sealer: &crate::store::secrets::SecretBox,
    connectors: &crate::runtime::registry::ConnectorRegistry,
    directory: &ChannelDirectory,
    channel: Channel,
) -> Result<Channel, String> {
    crate::domain::ids::check_slug(&channel.id).map_err(|why| format!("channel id {why}"))?;
    crate::domain::ids::check_slug(&channel.tenant).map_err(|why| format!("tenant {why}"))?;
    let connector = connectors.get(&channel.connector).ok_or_else(|| {
        let loaded: Vec<String> = connectors.all().iter().map(|c| c.info.id.clone()).collect();
        format!(
            "channel `{}` uses connector `{}`, which is not loaded (loaded: {}); put its .wasm file in runtime.connector_dir",
            channel.id,
            channel.connector,
            if loaded.is_empty() { "none".to_string() } else { loaded.join(", ") }
        )
    })?;
    let settings = channel.resolve_settings(&connector.info)?;
    channel.egress_policy(&connector.info, &settings)?;
    let info = &connector.info;
    crate::store::channels::upsert(db, sealer, &channel, |key| info.settings.iter().any(|s| s.key == key && s.secret))
        .await
        .map_err(|e| format!("the channel could not be stored: {e}"))?;
    directory.upsert(channel.clone());
    Ok(channel)
}
