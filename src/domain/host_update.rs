//! The rules of updating a protected domain: which fields a request changes, what happens to
//! its certificate, and when the update is refused. Storage reads the current host and the
//! certificate to bind under lock and hands both to [`HostUpdate::decide`], so the rules hold
//! at commit.

use super::binding::{CertificateChange, check_bind, check_certificate_present};
use super::host::{Cipher, HostSettings, ProtectStatus, TlsVersion};
use super::{CertificateId, DomainError, Hostname, Millis, PolicyId, Server};

/// The settings fields a request carries, checked; absent ones are `None`.
#[derive(Debug, Clone, Default)]
pub struct SettingsPatch {
    /// `server`, replacing the whole list.
    pub servers: Option<Vec<Server>>,
    /// `proxy`.
    pub proxy: Option<bool>,
    /// `description`.
    pub description: Option<String>,
    /// `protect_status`.
    pub protect_status: Option<ProtectStatus>,
    /// `tls`.
    pub tls: Option<TlsVersion>,
    /// `cipher`.
    pub cipher: Option<Cipher>,
    /// `flag.pci_3ds`.
    pub pci_3ds: Option<bool>,
    /// `flag.pci_dss`.
    pub pci_dss: Option<bool>,
}

impl SettingsPatch {
    /// `base` with every carried field replaced.
    pub fn apply(&self, mut base: HostSettings) -> HostSettings {
        if let Some(servers) = &self.servers {
            base.servers.clone_from(servers);
        }
        if let Some(proxy) = self.proxy {
            base.proxy = proxy;
        }
        if let Some(description) = &self.description {
            base.description.clone_from(description);
        }
        if let Some(status) = self.protect_status {
            base.protect_status = status;
        }
        if let Some(tls) = self.tls {
            base.tls = tls;
        }
        if let Some(cipher) = self.cipher {
            base.cipher = cipher;
        }
        if let Some(on) = self.pci_3ds {
            base.compliance.pci_3ds = on;
        }
        if let Some(on) = self.pci_dss {
            base.compliance.pci_dss = on;
        }
        base
    }
}

/// A certificate as read under its lock, for the binding checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// Id.
    pub id: CertificateId,
    /// Current name.
    pub name: String,
    /// Leaf notAfter, epoch ms.
    pub expire_time: Millis,
}

/// A host as read under its lock, for an update to be decided from.
#[derive(Debug, Clone)]
pub struct HostState {
    /// Hostname.
    pub hostname: String,
    /// Bound certificate.
    pub certificate_id: Option<CertificateId>,
    /// Current settings.
    pub settings: HostSettings,
}

/// What an update writes.
#[derive(Debug, Clone)]
pub struct HostChange {
    /// The certificate bound afterwards: the current one, or one locked for this update
    /// (binding any other would bypass the checks).
    pub certificate_id: Option<CertificateId>,
    /// The settings afterwards.
    pub settings: HostSettings,
}

/// A create or update request of a host after every carried field has been checked.
#[derive(Debug, Clone)]
pub struct HostUpdate {
    /// `hostname`, if carried.
    pub hostname: Option<Hostname>,
    /// The settings carried.
    pub patch: SettingsPatch,
    /// What to do with the certificate.
    pub certificate: CertificateChange,
    /// The policy named by `policyid` (create only); `None` when absent or empty.
    pub policy: Option<PolicyId>,
}

impl HostUpdate {
    /// The certificate to lock before deciding: the one the update binds, if any.
    pub fn certificate_to_lock(&self) -> Option<&CertificateId> {
        match &self.certificate {
            CertificateChange::Bind { id, .. } => Some(id),
            CertificateChange::Keep | CertificateChange::Unbind => None,
        }
    }

    /// The host after this update, given its current state and the certificate to bind (read
    /// under lock), or why the update is refused.
    pub fn decide(
        &self,
        current: &HostState,
        facts: Option<&CertificateFacts>,
        now: Millis,
    ) -> Result<HostChange, DomainError> {
        if let Some(h) = &self.hostname
            && h.as_str() != current.hostname
        {
            return Err(DomainError::HostnameChanged);
        }
        let settings = self.patch.apply(current.settings.clone());
        let certificate_id = match (&self.certificate, facts) {
            (CertificateChange::Keep, _) => current.certificate_id.clone(),
            (CertificateChange::Unbind, _) => None,
            (CertificateChange::Bind { id, name }, Some(facts)) if facts.id == *id => {
                let newly_bound = current.certificate_id.as_ref() != Some(id);
                check_bind(name, &facts.name, facts.expire_time, newly_bound, now)?;
                Some(id.clone())
            }
            (CertificateChange::Bind { .. }, _) => return Err(DomainError::BindNotLocked),
        };
        check_certificate_present(&settings, certificate_id.is_some())?;
        Ok(HostChange {
            certificate_id,
            settings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ServerFields, parse_servers};

    fn settings(front: &str) -> HostSettings {
        HostSettings::new(parse_servers(&[ServerFields::sample(front, "10.0.0.1")]).unwrap())
    }

    fn current(certificate: Option<&CertificateId>, front: &str) -> HostState {
        HostState {
            hostname: "www.example.com".to_owned(),
            certificate_id: certificate.cloned(),
            settings: settings(front),
        }
    }

    fn update(certificate: CertificateChange) -> HostUpdate {
        HostUpdate {
            hostname: None,
            patch: SettingsPatch::default(),
            certificate,
            policy: None,
        }
    }

    #[test]
    fn the_hostname_cannot_change() {
        let mut u = update(CertificateChange::Keep);
        u.hostname = Hostname::parse("other.example.com").ok();
        let r = u.decide(&current(None, "HTTP"), None, 0);
        assert_eq!(r.err(), Some(DomainError::HostnameChanged));
        u.hostname = Hostname::parse("www.example.com").ok();
        assert!(u.decide(&current(None, "HTTP"), None, 0).is_ok());
    }

    #[test]
    fn binding_needs_the_locked_certificate_and_its_name() {
        let id = CertificateId::random();
        let facts = CertificateFacts {
            id: id.clone(),
            name: "a".to_owned(),
            expire_time: 10,
        };
        let bind = |name: &str| {
            update(CertificateChange::Bind {
                id: id.clone(),
                name: name.to_owned(),
            })
        };
        let host = current(None, "HTTPS");
        let change = bind("a").decide(&host, Some(&facts), 0).unwrap();
        assert_eq!(change.certificate_id, Some(id.clone()));
        assert_eq!(
            bind("b").decide(&host, Some(&facts), 0).err(),
            Some(DomainError::CertificateNameMismatch)
        );
        assert_eq!(
            bind("a").decide(&host, None, 0).err(),
            Some(DomainError::BindNotLocked)
        );
        assert_eq!(
            bind("a").decide(&host, Some(&facts), 10).err(),
            Some(DomainError::CertificateExpired)
        );
        let bound = current(Some(&id), "HTTPS");
        assert!(
            bind("a").decide(&bound, Some(&facts), 10).is_ok(),
            "restating an expired binding is allowed"
        );
    }

    #[test]
    fn https_hosts_keep_a_certificate() {
        let id = CertificateId::random();
        let host = current(Some(&id), "HTTPS");
        let kept = update(CertificateChange::Keep)
            .decide(&host, None, 0)
            .unwrap();
        assert_eq!(kept.certificate_id, Some(id));
        assert_eq!(
            update(CertificateChange::Unbind)
                .decide(&host, None, 0)
                .err(),
            Some(DomainError::CertificateRequired)
        );
    }
}
