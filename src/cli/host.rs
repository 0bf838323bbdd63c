//! `wafcert host ...`: protected domains from the command line, with flags named after the
//! API's fields. Tables at a terminal, JSON otherwise (`--output` chooses).

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::output::{self, Format, OutputArgs, PageArgs, print_one, print_page, text};
use super::profile::Endpoint;
use crate::client::Client;

/// `wafcert host ...`.
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// List protected domains.
    List {
        /// Connection settings.
        #[command(flatten)]
        endpoint: Endpoint,
        /// Case-insensitive hostname substring.
        #[arg(long)]
        hostname: Option<String>,
        /// The page.
        #[command(flatten)]
        page: PageArgs,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Show one protected domain.
    Show {
        /// Connection settings.
        #[command(flatten)]
        endpoint: Endpoint,
        /// Host id.
        id: String,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Protect a domain.
    Create {
        /// Connection settings.
        #[command(flatten)]
        endpoint: Endpoint,
        /// The domain name.
        #[arg(long)]
        hostname: String,
        /// The settings.
        #[command(flatten)]
        fields: HostFields,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Change a protected domain: only the fields given.
    Update {
        /// Connection settings.
        #[command(flatten)]
        endpoint: Endpoint,
        /// Host id.
        id: String,
        /// The settings.
        #[command(flatten)]
        fields: HostFields,
        /// Unbind the certificate.
        #[arg(long, conflicts_with = "certificate_id")]
        no_certificate: bool,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Stop protecting a domain.
    Delete {
        /// Connection settings.
        #[command(flatten)]
        endpoint: Endpoint,
        /// Host id.
        id: String,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// The host fields of create and update, named as the API's.
#[derive(Debug, Args)]
pub struct HostFields {
    /// Origin server as FRONT,BACK,ADDRESS,PORT (e.g. HTTPS,HTTP,10.0.0.5,8080); repeatable.
    #[arg(long = "server", value_name = "FRONT,BACK,ADDRESS,PORT")]
    servers: Vec<String>,
    /// Certificate to bind (its name is looked up unless --certificate-name is given).
    #[arg(long)]
    certificate_id: Option<String>,
    /// Name of the certificate to bind.
    #[arg(long, requires = "certificate_id")]
    certificate_name: Option<String>,
    /// -1 bypass, 0 paused, 1 protected.
    #[arg(long, allow_negative_numbers = true)]
    protect_status: Option<i64>,
    /// Whether a proxy sits in front (true or false).
    #[arg(long)]
    proxy: Option<bool>,
    /// Free text.
    #[arg(long)]
    description: Option<String>,
    /// Minimum TLS version, e.g. TLS v1.2.
    #[arg(long)]
    tls: Option<String>,
    /// Cipher suite, e.g. cipher_1.
    #[arg(long)]
    cipher: Option<String>,
}

impl HostFields {
    /// The request body carrying the given fields.
    async fn body(&self, client: &Client) -> anyhow::Result<Value> {
        let mut body = json!({});
        if !self.servers.is_empty() {
            let servers = self
                .servers
                .iter()
                .map(|s| server(s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            body["server"] = Value::Array(servers);
        }
        if let Some(id) = &self.certificate_id {
            let name = match &self.certificate_name {
                Some(name) => name.clone(),
                None => text(&client.show(id).await?, "name"),
            };
            body["certificateid"] = json!(id);
            body["certificatename"] = json!(name);
        }
        if let Some(v) = self.protect_status {
            body["protect_status"] = json!(v);
        }
        if let Some(v) = self.proxy {
            body["proxy"] = json!(v);
        }
        if let Some(v) = &self.description {
            body["description"] = json!(v);
        }
        if let Some(v) = &self.tls {
            body["tls"] = json!(v);
        }
        if let Some(v) = &self.cipher {
            body["cipher"] = json!(v);
        }
        Ok(body)
    }
}

/// `FRONT,BACK,ADDRESS,PORT` as the API's server object (the address family is inferred).
fn server(spec: &str) -> anyhow::Result<Value> {
    let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
    let [front, back, address, port] = parts.as_slice() else {
        bail!("--server takes FRONT,BACK,ADDRESS,PORT, e.g. HTTPS,HTTP,10.0.0.5,8080; got {spec}");
    };
    let port: u16 = port
        .parse()
        .with_context(|| format!("the port of --server {spec} must be a number from 1 to 65535"))?;
    Ok(json!({"front_protocol": front.to_ascii_uppercase(),
              "back_protocol": back.to_ascii_uppercase(), "address": address, "port": port}))
}

/// Runs one `host` command and prints the answer.
pub async fn run(command: HostCommand) -> anyhow::Result<()> {
    let (answer, format) = match command {
        HostCommand::List {
            endpoint,
            hostname,
            page,
            output,
        } => {
            let mut query = page.query();
            query.extend(hostname.map(|v| ("hostname", v)));
            let answer = endpoint.client()?.host_list(&query).await?;
            if output.format() == Format::Table {
                print_page(&answer, host_table);
                return Ok(());
            }
            (answer, Format::Json)
        }
        HostCommand::Show {
            endpoint,
            id,
            output,
        } => (endpoint.client()?.host_show(&id).await?, output.format()),
        HostCommand::Create {
            endpoint,
            hostname,
            fields,
            output,
        } => {
            if fields.servers.is_empty() {
                bail!("give at least one --server FRONT,BACK,ADDRESS,PORT");
            }
            let client = endpoint.client()?;
            let mut body = fields.body(&client).await?;
            body["hostname"] = json!(hostname);
            (client.host_create(&body).await?, output.format())
        }
        HostCommand::Update {
            endpoint,
            id,
            fields,
            no_certificate,
            output,
        } => {
            let client = endpoint.client()?;
            let mut body = fields.body(&client).await?;
            if no_certificate {
                body["certificateid"] = Value::Null;
                body["certificatename"] = Value::Null;
            }
            (client.host_update(&id, &body).await?, output.format())
        }
        HostCommand::Delete {
            endpoint,
            id,
            output,
        } => {
            let answer = endpoint.client()?.host_delete(&id).await?;
            if output.format() == Format::Table {
                println!(
                    "Deleted {} ({})",
                    text(&answer, "hostname"),
                    text(&answer, "id")
                );
                return Ok(());
            }
            (answer, Format::Json)
        }
    };
    print_one(&answer, format, host_table)
}

/// HOSTNAME, ID, PROTOCOL, SERVERS, CERTIFICATE, PROTECTION.
fn host_table(items: &[Value]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|h| {
            let servers: Vec<String> = h["server"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    format!(
                        "{}->{} {}:{}",
                        text(s, "front_protocol"),
                        text(s, "back_protocol"),
                        text(s, "address"),
                        s["port"].as_i64().unwrap_or(0)
                    )
                })
                .collect();
            let certificate = match text(h, "certificatename") {
                name if name.is_empty() => "-".to_owned(),
                name => name,
            };
            let protection = match h["protect_status"].as_i64() {
                Some(1) => "protected",
                Some(0) => "paused",
                Some(-1) => "bypass",
                _ => "-",
            };
            vec![
                text(h, "hostname"),
                text(h, "id"),
                text(h, "protocol"),
                servers.join(" "),
                certificate,
                protection.to_owned(),
            ]
        })
        .collect();
    output::table(
        &[
            "HOSTNAME",
            "ID",
            "PROTOCOL",
            "SERVERS",
            "CERTIFICATE",
            "PROTECTION",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_read_as_four_fields() {
        assert_eq!(
            server("https,HTTP,10.0.0.5,8080").unwrap(),
            json!({"front_protocol": "HTTPS", "back_protocol": "HTTP", "address": "10.0.0.5", "port": 8080})
        );
        assert!(server("HTTPS,HTTP,10.0.0.5").is_err());
        assert!(server("HTTPS,HTTP,10.0.0.5,http").is_err());
    }
}
