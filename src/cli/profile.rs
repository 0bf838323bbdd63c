//! Where the client commands find the server and their credentials: flags, then environment
//! variables, then a profile saved by `wafcert login` (mode 0600 in the user's configuration
//! directory), so the variables are not needed every time.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::client::{Client, password_login};

/// The endpoint used when neither a flag, the environment nor a profile names one.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";
/// The profile used when none is named.
const DEFAULT_PROFILE: &str = "default";

/// Where the API is and who is calling. Flags and environment variables win over the profile.
#[derive(Debug, Args)]
pub struct Endpoint {
    /// Base URL of the service (default: the profile's, else http://127.0.0.1:8080).
    #[arg(long, env = "WAFCERT_ENDPOINT")]
    endpoint: Option<String>,
    /// Project id (32 lowercase hex).
    #[arg(long, env = "WAFCERT_PROJECT")]
    project_id: Option<String>,
    /// Bearer token.
    #[arg(long, env = "WAFCERT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Saved profile to use (see `wafcert login`).
    #[arg(long, env = "WAFCERT_PROFILE")]
    profile: Option<String>,
}

impl Endpoint {
    /// A client for the resolved endpoint, project and token.
    pub fn client(&self) -> anyhow::Result<Client> {
        let saved = match (&self.profile, &self.project_id, &self.token) {
            (None, Some(_), Some(_)) => None,
            _ => load_profile(self.profile.as_deref())?,
        };
        // A flag or variable, else the saved profile's value.
        let pick = |given: &Option<String>, saved_value: fn(&Profile) -> &String| {
            given
                .clone()
                .or_else(|| saved.as_ref().map(|p| saved_value(p).clone()))
        };
        let endpoint =
            pick(&self.endpoint, |p| &p.endpoint).unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let project = pick(&self.project_id, |p| &p.project_id)
            .context("no project: run `wafcert login`, or set --project-id or WAFCERT_PROJECT")?;
        let token = pick(&self.token, |p| &p.token)
            .context("no token: run `wafcert login`, or set --token or WAFCERT_TOKEN")?;
        Ok(Client::new(&endpoint, &project, &token)?)
    }
}

/// A saved connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Profile {
    endpoint: String,
    project_id: String,
    token: String,
    /// When the token expires (ISO 8601), for tokens bought with a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

/// The profiles file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ProfileFile {
    profiles: BTreeMap<String, Profile>,
}

/// `$XDG_CONFIG_HOME/wafcert/profiles.json`, else `~/.config/wafcert/profiles.json`.
fn profiles_path() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => bail!("neither XDG_CONFIG_HOME nor HOME is set: cannot find the profiles"),
        },
    };
    Ok(base.join("wafcert").join("profiles.json"))
}

fn read_profiles() -> anyhow::Result<ProfileFile> {
    let path = profiles_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("reading the profiles in {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ProfileFile::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The named profile (or the default one); a named profile that does not exist is an error.
fn load_profile(name: Option<&str>) -> anyhow::Result<Option<Profile>> {
    let mut file = read_profiles()?;
    match name {
        Some(name) => match file.profiles.remove(name) {
            Some(p) => Ok(Some(p)),
            None => {
                bail!("no profile named {name}: create it with `wafcert login --profile {name}`")
            }
        },
        None => Ok(file.profiles.remove(DEFAULT_PROFILE)),
    }
}

/// Saves `profile` as `name`, in a file only the user can read (0600, directory 0700).
fn save_profile(name: &str, profile: Profile) -> anyhow::Result<PathBuf> {
    let mut file = read_profiles()?;
    file.profiles.insert(name.to_owned(), profile);
    let path = profiles_path()?;
    let dir = path
        .parent()
        .context("the profiles path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let text = serde_json::to_string_pretty(&file)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let mut out = options
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    Ok(path)
}

/// Flags of `wafcert login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Base URL of the service.
    #[arg(long, env = "WAFCERT_ENDPOINT")]
    endpoint: String,
    /// Project id (required with --token; with --username, the user's project by default).
    #[arg(long, env = "WAFCERT_PROJECT")]
    project_id: Option<String>,
    /// An API token to save.
    #[arg(
        long,
        env = "WAFCERT_TOKEN",
        hide_env_values = true,
        conflicts_with = "username"
    )]
    token: Option<String>,
    /// A user (Keystone password login); the password comes from WAFCERT_PASSWORD or stdin.
    #[arg(long)]
    username: Option<String>,
    /// The user's domain.
    #[arg(long, default_value = "Default")]
    domain: String,
    /// Name of the profile to save.
    #[arg(long, env = "WAFCERT_PROFILE", default_value = DEFAULT_PROFILE)]
    profile: String,
}

/// `wafcert login`: checks the credential against the server and saves the profile.
pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let profile = match (&args.token, &args.username) {
        (Some(token), _) => {
            let Some(project_id) = args.project_id.clone() else {
                bail!("--project-id is required with --token");
            };
            Profile {
                endpoint: args.endpoint.clone(),
                project_id,
                token: token.clone(),
                expires_at: None,
            }
        }
        (None, Some(user)) => {
            let password = super::read_password()?;
            let grant = password_login(
                &args.endpoint,
                user,
                &args.domain,
                &password,
                args.project_id.as_deref(),
            )
            .await?;
            Profile {
                endpoint: args.endpoint.clone(),
                project_id: grant.project_id,
                token: grant.token,
                expires_at: Some(grant.expires_at),
            }
        }
        (None, None) => bail!("give --token or --username"),
    };
    // A credential that cannot list is not worth saving.
    Client::new(&profile.endpoint, &profile.project_id, &profile.token)?
        .list(&[("pagesize", "1".to_owned())])
        .await?;
    let project = profile.project_id.clone();
    let path = save_profile(&args.profile, profile)?;
    println!(
        "Logged in to {} (project {project}); profile {} saved in {}",
        args.endpoint,
        args.profile,
        path.display()
    );
    Ok(())
}
