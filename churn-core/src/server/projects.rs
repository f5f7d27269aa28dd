//! Projects (tenants) of one server, persisted in the store.
//!
//! A project's events live in the store under its id; its record (name, hashed keys,
//! allowed origins) is a JSON object stored with [`Store::put_object`] in the reserved
//! project [`SYSTEM_PROJECT`], namespace [`NAMESPACE`]. Keys are generated here, shown to
//! the caller once ([`NewKeys`]) and stored only as SHA-256 digests.
//!
//! ## CORS (`cors_origins`)
//! - empty (the default): browsers on any origin may **send** events with the write key
//!   (write keys are public, as with Segment and PostHog); no origin may **read** with
//!   the secret key;
//! - a list of origins (`https://app.example.com`, or `*` for any): only those origins
//!   may send events (others get 403) and read.
//!
//! ```
//! use std::sync::Arc;
//! use churn_core::server::projects::Projects;
//! use churn_core::store::MemoryStore;
//! let projects = Projects::load(Arc::new(MemoryStore::new()))?;
//! let keys = projects.ensure_default()?.expect("first start creates the default project");
//! assert_eq!(projects.by_write_key(&keys.write_key).unwrap().id, "default");
//! assert!(projects.by_secret_key(&keys.write_key).is_none());
//! assert!(projects.ensure_default()?.is_none(), "only once");
//! # Ok::<(), churn_core::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::auth::{new_secret_key, new_write_key, KeyHash};
use crate::error::{Error, Result};
use crate::store::{Store, DEFAULT_PROJECT};
use crate::time::Timestamp;

/// The store project holding server records (never a tenant id).
pub const SYSTEM_PROJECT: &str = "_churnlens";
/// The object namespace of project records.
pub const NAMESPACE: &str = "projects";

/// A project record as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Id: `[a-z0-9_-]{1,64}`, not starting with `_`. Events are stored under it.
    pub id: String,
    /// Display name.
    pub name: String,
    /// SHA-256 of the write key.
    pub write_key_hash: KeyHash,
    /// SHA-256 of the secret key.
    pub secret_key_hash: KeyHash,
    /// Allowed browser origins (see the module docs).
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Where "entered the Critical segment" alerts are POSTed (see
    /// [`super::live`]); `None`: no webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
}

impl Project {
    /// Whether a browser on `origin` may send events.
    pub fn allows_ingest_from(&self, origin: &str) -> bool {
        self.cors_origins.is_empty() || self.lists(origin)
    }

    /// Whether a browser on `origin` may read with the secret key.
    pub fn allows_read_from(&self, origin: &str) -> bool {
        self.lists(origin)
    }

    fn lists(&self, origin: &str) -> bool {
        self.cors_origins
            .iter()
            .any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

/// Keys of a new or rotated project, in clear text: shown once, never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKeys {
    /// Project id.
    pub project: String,
    /// Public write key (SDKs embed it).
    pub write_key: String,
    /// Secret key (read and admin).
    pub secret_key: String,
}

#[derive(Default)]
struct Index {
    by_id: BTreeMap<String, Project>,
    by_write: HashMap<KeyHash, String>,
    by_secret: HashMap<KeyHash, String>,
}

impl Index {
    fn insert(&mut self, p: Project) {
        if let Some(old) = self.by_id.remove(&p.id) {
            self.by_write.remove(&old.write_key_hash);
            self.by_secret.remove(&old.secret_key_hash);
        }
        self.by_write.insert(p.write_key_hash, p.id.clone());
        self.by_secret.insert(p.secret_key_hash, p.id.clone());
        self.by_id.insert(p.id.clone(), p);
    }
}

/// The server's projects: loaded from the store at start, written through on change.
pub struct Projects {
    store: Arc<dyn Store>,
    index: RwLock<Index>,
}

impl std::fmt::Debug for Projects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projects")
            .field("ids", &self.index.read().by_id.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Check a project id.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('_')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "project",
            format!("{id:?}: use 1 to 64 of a-z, 0-9, _ and -, not starting with _"),
        ))
    }
}

impl Projects {
    /// Load every project record from `store`.
    pub fn load(store: Arc<dyn Store>) -> Result<Projects> {
        let mut index = Index::default();
        for key in store.list_objects(SYSTEM_PROJECT, NAMESPACE)? {
            let Some(bytes) = store.get_object(SYSTEM_PROJECT, NAMESPACE, &key)? else {
                continue;
            };
            let p: Project = serde_json::from_slice(&bytes).map_err(|e| {
                Error::storage(format!("project record {key:?} is unreadable: {e}"))
            })?;
            index.insert(p);
        }
        Ok(Projects {
            store,
            index: RwLock::new(index),
        })
    }

    fn save(&self, p: &Project) -> Result<()> {
        let bytes = serde_json::to_vec(p).map_err(|e| Error::storage(e.to_string()))?;
        self.store
            .put_object(SYSTEM_PROJECT, NAMESPACE, &p.id, &bytes)?;
        self.index.write().insert(p.clone());
        Ok(())
    }

    /// Create a project with new keys. Fails when the id is taken or invalid.
    pub fn create(&self, id: &str, name: &str) -> Result<NewKeys> {
        validate_id(id)?;
        if self.get(id).is_some() {
            return Err(Error::invalid("project", format!("{id:?} already exists")));
        }
        self.create_with_keys(id, name, &new_write_key(), &new_secret_key())
    }

    /// Create (or replace) a project with keys chosen by the caller (tests, provisioning).
    pub fn create_with_keys(
        &self,
        id: &str,
        name: &str,
        write_key: &str,
        secret_key: &str,
    ) -> Result<NewKeys> {
        validate_id(id)?;
        if write_key.len() < 16 || secret_key.len() < 16 || write_key == secret_key {
            return Err(Error::invalid(
                "keys",
                "keys must be at least 16 characters and differ",
            ));
        }
        let (w, s) = (KeyHash::of(write_key), KeyHash::of(secret_key));
        {
            let idx = self.index.read();
            let clash = |h: &KeyHash| {
                [idx.by_write.get(h), idx.by_secret.get(h)]
                    .into_iter()
                    .flatten()
                    .any(|owner| owner != id)
            };
            if clash(&w) || clash(&s) {
                return Err(Error::invalid(
                    "keys",
                    "a key is already used by another project",
                ));
            }
        }
        let p = Project {
            id: id.to_string(),
            name: name.to_string(),
            write_key_hash: w,
            secret_key_hash: s,
            cors_origins: self.get(id).map(|p| p.cors_origins).unwrap_or_default(),
            webhook_url: self.get(id).and_then(|p| p.webhook_url),
            created_at: self
                .get(id)
                .map(|p| p.created_at)
                .unwrap_or_else(Timestamp::now),
        };
        self.save(&p)?;
        Ok(NewKeys {
            project: id.to_string(),
            write_key: write_key.to_string(),
            secret_key: secret_key.to_string(),
        })
    }

    /// On first start (no project at all), create [`DEFAULT_PROJECT`] and return its keys.
    pub fn ensure_default(&self) -> Result<Option<NewKeys>> {
        if !self.index.read().by_id.is_empty() {
            return Ok(None);
        }
        self.create(DEFAULT_PROJECT, "Default project").map(Some)
    }

    /// New keys for a project (the old ones stop working at once).
    pub fn rotate_keys(&self, id: &str) -> Result<NewKeys> {
        let p = self.get(id).ok_or_else(|| Error::NotFound {
            what: format!("project {id}"),
        })?;
        self.create_with_keys(&p.id, &p.name, &new_write_key(), &new_secret_key())
    }

    /// Replace a project's allowed origins.
    pub fn set_cors(&self, id: &str, origins: Vec<String>) -> Result<Project> {
        let mut p = self.get(id).ok_or_else(|| Error::NotFound {
            what: format!("project {id}"),
        })?;
        for o in &origins {
            if o != "*" && !(o.starts_with("http://") || o.starts_with("https://")) {
                return Err(Error::invalid(
                    "cors_origins",
                    format!("{o:?} is not an origin (scheme://host[:port]) or *"),
                ));
            }
        }
        p.cors_origins = origins
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_string())
            .collect();
        self.save(&p)?;
        Ok(p)
    }

    /// Set or clear a project's alert webhook (an `http://` or `https://` URL).
    pub fn set_webhook(&self, id: &str, url: Option<String>) -> Result<Project> {
        let mut p = self.get(id).ok_or_else(|| Error::NotFound {
            what: format!("project {id}"),
        })?;
        if let Some(u) = &url {
            if !(u.starts_with("http://") || u.starts_with("https://")) || u.len() > 2000 {
                return Err(Error::invalid(
                    "webhook_url",
                    format!("{u:?} is not an http:// or https:// URL"),
                ));
            }
        }
        p.webhook_url = url;
        self.save(&p)?;
        Ok(p)
    }

    /// A project by id.
    pub fn get(&self, id: &str) -> Option<Project> {
        self.index.read().by_id.get(id).cloned()
    }

    /// Every project, by id.
    pub fn list(&self) -> Vec<Project> {
        self.index.read().by_id.values().cloned().collect()
    }

    /// The project whose write key this is.
    pub fn by_write_key(&self, key: &str) -> Option<Project> {
        let h = KeyHash::of(key);
        let idx = self.index.read();
        let p = idx.by_write.get(&h).and_then(|id| idx.by_id.get(id))?;
        p.write_key_hash.ct_eq(&h).then(|| p.clone())
    }

    /// The project whose secret key this is.
    pub fn by_secret_key(&self, key: &str) -> Option<Project> {
        let h = KeyHash::of(key);
        let idx = self.index.read();
        let p = idx.by_secret.get(&h).and_then(|id| idx.by_id.get(id))?;
        p.secret_key_hash.ct_eq(&h).then(|| p.clone())
    }

    /// The project for an ingestion key: a write key, or a secret key (server-side
    /// senders may use either).
    pub fn for_ingest(&self, key: &str) -> Option<Project> {
        self.by_write_key(key).or_else(|| self.by_secret_key(key))
    }

    /// Whether some project lets `origin` send events (answers CORS preflights, which
    /// carry no key).
    pub fn any_allows_ingest_from(&self, origin: &str) -> bool {
        self.index
            .read()
            .by_id
            .values()
            .any(|p| p.allows_ingest_from(origin))
    }

    /// Whether some project lets `origin` read.
    pub fn any_allows_read_from(&self, origin: &str) -> bool {
        self.index
            .read()
            .by_id
            .values()
            .any(|p| p.allows_read_from(origin))
    }
}

/// Write the keys of a new project to `path` (mode 0600 on Unix), one `name=value` per
/// line. Refuses to overwrite an existing file.
pub fn write_keys_file(path: &std::path::Path, keys: &NewKeys) -> Result<()> {
    use std::io::Write;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    writeln!(
        f,
        "# churnlens keys, shown once; only their SHA-256 is kept in the database\nproject={}\nwrite_key={}\nsecret_key={}",
        keys.project, keys.write_key, keys.secret_key
    )
    .map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn create_lookup_persist_rotate() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let ps = Projects::load(store.clone()).unwrap();
        let k = ps.ensure_default().unwrap().unwrap();
        let shop = ps.create("shop", "Shop").unwrap();
        assert!(ps.create("shop", "again").is_err());
        assert!(ps.create("_x", "x").is_err());
        assert!(ps.create("Bad Id", "x").is_err());
        assert_eq!(ps.by_write_key(&shop.write_key).unwrap().id, "shop");
        assert_eq!(ps.by_secret_key(&shop.secret_key).unwrap().id, "shop");
        assert_eq!(ps.for_ingest(&shop.secret_key).unwrap().id, "shop");
        assert!(ps.by_write_key(&shop.secret_key).is_none());
        assert!(ps.by_write_key("wk_nope").is_none());
        // Nothing in clear text is stored.
        let raw = store
            .get_object(SYSTEM_PROJECT, NAMESPACE, "shop")
            .unwrap()
            .unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(!text.contains(&shop.write_key) && !text.contains(&shop.secret_key));
        // Reload from the store.
        let again = Projects::load(store.clone()).unwrap();
        assert_eq!(again.list().len(), 2);
        assert_eq!(again.by_write_key(&k.write_key).unwrap().id, "default");
        assert!(again.ensure_default().unwrap().is_none());
        // Rotation invalidates the old keys.
        let new = again.rotate_keys("shop").unwrap();
        assert!(again.by_write_key(&shop.write_key).is_none());
        assert_eq!(again.by_write_key(&new.write_key).unwrap().id, "shop");
        assert!(again.rotate_keys("nope").is_err());
        // Chosen keys must not clash with another project's.
        assert!(again
            .create_with_keys("other", "o", &new.write_key, "sk_0123456789abcdef")
            .is_err());
        assert!(again
            .create_with_keys("other", "o", "short", "sk_0123456789abcdef")
            .is_err());
    }

    #[test]
    fn cors_rules() {
        let ps = Projects::load(Arc::new(MemoryStore::new())).unwrap();
        ps.create("a", "A").unwrap();
        let p = ps.get("a").unwrap();
        assert!(p.allows_ingest_from("https://x.io"));
        assert!(!p.allows_read_from("https://x.io"));
        let p = ps.set_cors("a", vec!["https://app.x.io/".into()]).unwrap();
        assert_eq!(p.cors_origins, vec!["https://app.x.io"]);
        assert!(p.allows_ingest_from("https://app.x.io"));
        assert!(p.allows_read_from("https://APP.x.io"));
        assert!(!p.allows_ingest_from("https://evil.io"));
        assert!(!ps.any_allows_ingest_from("https://evil.io"));
        assert!(ps.any_allows_read_from("https://app.x.io"));
        assert!(ps.set_cors("a", vec!["app.x.io".into()]).is_err());
        let p = ps.set_cors("a", vec!["*".into()]).unwrap();
        assert!(p.allows_read_from("https://any.io"));
        assert!(ps.set_cors("zz", vec![]).is_err());
    }

    #[test]
    fn keys_file_is_private_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("churn.db.keys");
        let k = NewKeys {
            project: "default".into(),
            write_key: "wk_1".into(),
            secret_key: "sk_1".into(),
        };
        write_keys_file(&path, &k).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("write_key=wk_1") && text.contains("secret_key=sk_1"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(write_keys_file(&path, &k).is_err());
    }
}
