//! How a host's settings are kept in the `hosts.settings` column: JSON with fixed field names,
//! so the column reads back the same whatever the API's wire names become.

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::domain::{
    AddressKind, Cipher, Compliance, HostSettings, ProtectStatus, Protocol, Server, TlsVersion,
};

/// The stored form of [`HostSettings`].
#[derive(Debug, Serialize, Deserialize)]
struct SettingsJson {
    servers: Vec<ServerJson>,
    proxy: bool,
    description: String,
    protect_status: i64,
    tls: String,
    cipher: String,
    /// Absent in rows written before compliance flags were recorded.
    #[serde(default)]
    pci_3ds: bool,
    #[serde(default)]
    pci_dss: bool,
}

/// The stored form of [`Server`].
#[derive(Debug, Serialize, Deserialize)]
struct ServerJson {
    front_protocol: String,
    back_protocol: String,
    address: String,
    port: u16,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vpc_id: Option<String>,
}

/// Encodes settings for the `settings` column.
pub(super) fn encode(settings: &HostSettings) -> Result<String, StoreError> {
    let json = SettingsJson {
        servers: settings
            .servers
            .iter()
            .map(|s| ServerJson {
                front_protocol: s.front_protocol.as_str().to_owned(),
                back_protocol: s.back_protocol.as_str().to_owned(),
                address: s.address.clone(),
                port: s.port,
                kind: s.kind.as_str().to_owned(),
                vpc_id: s.vpc_id.clone(),
            })
            .collect(),
        proxy: settings.proxy,
        description: settings.description.clone(),
        protect_status: i64::from(settings.protect_status.code()),
        tls: settings.tls.as_str().to_owned(),
        cipher: settings.cipher.as_str().to_owned(),
        pci_3ds: settings.compliance.pci_3ds,
        pci_dss: settings.compliance.pci_dss,
    };
    serde_json::to_string(&json).map_err(|e| corrupt(&e))
}

/// Decodes the `settings` column. Stored values were checked on the way in, so anything
/// unreadable means the row was damaged outside wafcert.
pub(super) fn decode(text: &str) -> Result<HostSettings, StoreError> {
    let json: SettingsJson = serde_json::from_str(text).map_err(|e| corrupt(&e))?;
    let servers = json
        .servers
        .into_iter()
        .map(|s| {
            Ok(Server {
                front_protocol: Protocol::parse(&s.front_protocol)
                    .ok_or_else(|| corrupt(&"front_protocol"))?,
                back_protocol: Protocol::parse(&s.back_protocol)
                    .ok_or_else(|| corrupt(&"back_protocol"))?,
                address: s.address,
                port: s.port,
                kind: AddressKind::parse(&s.kind).ok_or_else(|| corrupt(&"kind"))?,
                vpc_id: s.vpc_id,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(HostSettings {
        servers,
        proxy: json.proxy,
        description: json.description,
        protect_status: ProtectStatus::from_code(json.protect_status).map_err(|e| corrupt(&e))?,
        tls: TlsVersion::parse(&json.tls).map_err(|e| corrupt(&e))?,
        cipher: Cipher::parse(&json.cipher).map_err(|e| corrupt(&e))?,
        compliance: Compliance {
            pci_3ds: json.pci_3ds,
            pci_dss: json.pci_dss,
        },
    })
}

fn corrupt(what: &dyn std::fmt::Display) -> StoreError {
    StoreError::Schema(format!("a host's stored settings are unreadable: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ServerFields, parse_servers};

    #[test]
    fn settings_round_trip() {
        let servers = parse_servers(&[
            ServerFields {
                front_protocol: Some("HTTPS"),
                back_protocol: Some("HTTP"),
                address: Some("fd00::2"),
                port: Some(8443),
                kind: None,
                vpc_id: Some("vpc-7"),
            },
            ServerFields {
                front_protocol: Some("HTTP"),
                back_protocol: Some("HTTPS"),
                address: Some("origin.internal"),
                port: Some(80),
                kind: None,
                vpc_id: None,
            },
        ])
        .unwrap();
        let mut settings = HostSettings::new(servers);
        settings.proxy = true;
        settings.description = "shop \"front\" ✓".to_owned();
        settings.protect_status = ProtectStatus::Bypass;
        settings.tls = TlsVersion::V1_3;
        settings.cipher = Cipher::parse("cipher_2").unwrap();
        settings.compliance.pci_dss = true;
        let text = encode(&settings).unwrap();
        assert_eq!(decode(&text).unwrap(), settings);
        assert!(matches!(decode("{}"), Err(StoreError::Schema(_))));
    }
}
