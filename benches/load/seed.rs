//! Seeding: certificate/key pairs generated once, then one project with `--n` certificates
//! and bound hosts written through the storage layer in large transactions.

use anyhow::Context;
use wafcert::app::{MasterKeySource, open_sealer};
use wafcert::auth::project_token;
use wafcert::domain::{
    CertificateId, CertificateName, HostId, NameLimit, PolicyId, PolicyName, PolicySettings,
    ProjectId, Role, now_ms,
};
use wafcert::storage::{HostPolicy, NewCertificate, NewHost, NewPolicy, PoolSettings, Store};

/// The substring that ~1% of the seeded names contain.
pub(crate) const NEEDLE: &str = "needle";
/// Rows per seeding transaction.
pub(crate) const SEED_BATCH: usize = 5_000;
/// Distinct certificate/key pairs generated for seeding (rows reuse them round-robin).
pub(crate) const POOL_PAIRS: usize = 2_000;

/// A pair for the create cases.
#[derive(Debug)]
pub(crate) struct CreatePair {
    pub(crate) case: &'static str,
    pub(crate) content: String,
    pub(crate) key: String,
}

/// A seeded pair: chain, key and the leaf's notAfter.
#[derive(Debug)]
pub(crate) struct PoolPair {
    pub(crate) content: String,
    pub(crate) key: String,
    pub(crate) not_after_ms: i64,
}

#[derive(Debug)]
pub(crate) struct Fixtures {
    pub(crate) pool: Vec<PoolPair>,
    pub(crate) create: Vec<CreatePair>,
}

impl Fixtures {
    /// `POOL_PAIRS` distinct leaf certificates (half RSA-2048 from a pool of `rsa_keys` keys,
    /// half EC P-256 with their own keys) issued by one EC P-256 CA, with notAfter spread so
    /// that 5% are expired and 10% expire within 30 days; plus one self-signed pair of each
    /// algorithm for the create cases.
    pub(crate) fn generate(rsa_keys: usize) -> anyhow::Result<Self> {
        let rsa_keys = rsa_keys.max(1);
        let now = time::OffsetDateTime::now_utc();
        let rsa: Vec<String> =
            parallel(rsa_keys, |_| {
                Ok(rcgen::KeyPair::generate_rsa_for(
                    &rcgen::PKCS_RSA_SHA256,
                    rcgen::RsaKeySize::_2048,
                )?
                .serialize_pem())
            })?;
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "wafcert bench CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.not_before = now - time::Duration::days(1_000);
        ca_params.not_after = now + time::Duration::days(3_000);
        let ca_pem = ca_params.self_signed(&ca_key)?.pem();
        let ca_key_pem = ca_key.serialize_pem();
        let pool = parallel(POOL_PAIRS, |j| {
            let ca_key = rcgen::KeyPair::from_pem(&ca_key_pem)?;
            let issuer = rcgen::Issuer::from_params(&ca_params, ca_key);
            let key = if j % 2 == 0 {
                rcgen::KeyPair::from_pem(&rsa[(j / 2) % rsa.len()])?
            } else {
                rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?
            };
            let host = format!("host-{j}.bench.example");
            let mut params = rcgen::CertificateParams::new(vec![host.clone()])?;
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, host);
            params.not_before = now - time::Duration::days(800);
            params.not_after =
                (now + time::Duration::seconds(expiry_offset_secs(j))).replace_nanosecond(0)?;
            let leaf = params.signed_by(&key, &issuer)?;
            Ok(PoolPair {
                content: format!("{}{ca_pem}", leaf.pem()).trim().to_owned(),
                key: key.serialize_pem().trim().to_owned(),
                not_after_ms: params.not_after.unix_timestamp() * 1000,
            })
        })?;
        let mut create = Vec::new();
        for (case, key) in [
            (
                "create_ec",
                rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
            ),
            ("create_rsa", rcgen::KeyPair::from_pem(&rsa[0])?),
        ] {
            let mut params = rcgen::CertificateParams::new(vec!["www.bench.example".to_owned()])?;
            params.not_before = now - time::Duration::days(10);
            params.not_after = now + time::Duration::days(365);
            let cert = params.self_signed(&key)?;
            create.push(CreatePair {
                case,
                content: cert.pem(),
                key: key.serialize_pem(),
            });
        }
        Ok(Self { pool, create })
    }
}

/// The notAfter of pool pair `j`, in seconds from now: of every 20 pairs one has expired
/// (1 to 365 days ago), two expire within 30 days (1 to 29 days) and the rest later (31 days to
/// 2 years).
pub(crate) fn expiry_offset_secs(j: usize) -> i64 {
    let spread = i64::try_from(j.wrapping_mul(7_919) % 86_400).unwrap_or(0);
    let day = i64::try_from(j % 365).unwrap_or(0);
    let days = match j % 20 {
        0 => -(1 + day),
        1 | 2 => 1 + day % 28,
        _ => 31 + (day * 2) % 700,
    };
    days * 86_400 + spread.min(86_399) * if days < 0 { -1 } else { 1 }
}

/// `f(0..n)` on two threads, in order.
pub(crate) fn parallel<T: Send>(
    n: usize,
    f: impl Fn(usize) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    let threads = 2;
    let results: Vec<anyhow::Result<Vec<(usize, T)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                s.spawn(move || {
                    (t..n)
                        .step_by(threads)
                        .map(|j| f(j).map(|v| (j, v)))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("generator thread panicked")))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(n);
    for r in results {
        all.extend(r?);
    }
    all.sort_by_key(|(j, _)| *j);
    Ok(all.into_iter().map(|(_, v)| v).collect())
}

/// The seeded project.
#[derive(Debug)]
pub(crate) struct Seeded {
    pub(crate) project: ProjectId,
    pub(crate) token: String,
    /// Ids spread over the project, for the show case.
    pub(crate) show_ids: Vec<String>,
    pub(crate) hosts: usize,
}

/// A new project and an admin token for it that never expires.
async fn project_with_admin_token(store: &Store, now: i64) -> anyhow::Result<(ProjectId, String)> {
    let project = ProjectId::random();
    let token = project_token(store, &project, Role::Admin, None, now).await?;
    Ok((project, token))
}

/// Creates the project, an admin token, `n` certificates (in transactions of `SEED_BATCH`
/// rows, newest last) and hosts bound to every 20th of the 2,000 newest certificates.
pub(crate) async fn seed(
    url: &str,
    master_hex: &str,
    n: usize,
    fixtures: &Fixtures,
) -> anyhow::Result<Seeded> {
    let store = Store::open(url, PoolSettings::default()).await?;
    let sealer = open_sealer(&store, &MasterKeySource::Hex(master_hex.to_owned()), url).await?;
    let now = now_ms();
    let (project, token) = project_with_admin_token(&store, now).await?;
    let n_i64 = i64::try_from(n)?;
    // One upload every 10 ms up to a second ago, so the newest-first order is total.
    let created_at = |i: usize| now - 1_000 - (n_i64 - i64::try_from(i).unwrap_or(0)) * 10;
    let mut all_ids = Vec::with_capacity(n);
    for start in (0..n).step_by(SEED_BATCH) {
        let end = (start + SEED_BATCH).min(n);
        let ids: Vec<CertificateId> = (start..end).map(|_| CertificateId::random()).collect();
        let names = (start..end)
            .map(|i| {
                let name = if i % 100 == 42 {
                    format!("cert-{i:06}-{NEEDLE}")
                } else {
                    format!("cert-{i:06}")
                };
                CertificateName::parse(&name, NameLimit::Create).context("seed name")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let pairs: Vec<&PoolPair> = (start..end)
            .map(|i| &fixtures.pool[i % fixtures.pool.len()])
            .collect();
        let sealed = ids
            .iter()
            .zip(&pairs)
            .map(|(id, p)| sealer.seal(p.key.as_bytes(), id.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        let batch: Vec<NewCertificate<'_>> = (0..ids.len())
            .map(|k| NewCertificate {
                id: &ids[k],
                project: &project,
                name: &names[k],
                content: &pairs[k].content,
                sealed_key: &sealed[k],
                expire_time: pairs[k].not_after_ms,
                created_at: created_at(start + k),
                leaf_sha256: None,
                key_sha256: None,
            })
            .collect();
        store.insert_certificates(&batch, None).await?;
        all_ids.extend(ids);
    }
    // Hosts on every 20th of the 2,000 newest certificates (so the 10-item page 7, positions
    // 60 to 69, shows one binding and the 100-item page five).
    let mut hosts = 0;
    let servers = wafcert::domain::parse_servers(&[wafcert::domain::ServerFields {
        front_protocol: Some("HTTPS"),
        back_protocol: Some("HTTP"),
        address: Some("10.0.0.10"),
        port: Some(8080),
        ..Default::default()
    }])?;
    let settings = wafcert::domain::HostSettings::new(servers);
    for position in (5..2_000.min(n)).step_by(20) {
        let id = HostId::random();
        let hostname = wafcert::domain::Hostname::parse(&format!("www-{position}.bench.example"))?;
        let policy_id = PolicyId::random();
        let policy = NewPolicy {
            name: PolicyName::automatic(policy_id.as_str()),
            id: policy_id,
            settings: PolicySettings::default(),
        };
        store
            .insert_host(
                &NewHost {
                    id: &id,
                    project: &project,
                    hostname: &hostname,
                    certificate_id: Some(&all_ids[n - 1 - position]),
                    settings: &settings,
                    policy: HostPolicy::Create(&policy),
                    created_at: now,
                },
                "bench",
                |_| Ok::<(), std::convert::Infallible>(()),
            )
            .await
            .map_err(|e| match e {
                wafcert::storage::WriteError::Store(e) => anyhow::Error::from(e),
                wafcert::storage::WriteError::Refused(never) => match never {},
            })?;
        hosts += 1;
    }
    let step = (n / 1_000).max(1);
    let show_ids = all_ids
        .iter()
        .step_by(step)
        .map(|id| id.as_str().to_owned())
        .collect();
    store.close().await;
    Ok(Seeded {
        project,
        token,
        show_ids,
        hosts,
    })
}

/// Many tenants: `projects` projects of `per_project` certificates each (the same pool of
/// pairs, none expiring within 30 days), with an admin token each; returns `(project id,
/// token)` per project.
pub(crate) async fn seed_tenants(
    url: &str,
    master_hex: &str,
    projects: usize,
    per_project: usize,
    fixtures: &Fixtures,
) -> anyhow::Result<Vec<(String, String)>> {
    let store = Store::open(url, PoolSettings::default()).await?;
    let sealer = open_sealer(&store, &MasterKeySource::Hex(master_hex.to_owned()), url).await?;
    let now = now_ms();
    let mut tenants = Vec::with_capacity(projects);
    for _ in 0..projects {
        tenants.push(project_with_admin_token(&store, now).await?);
    }
    let per_batch = (SEED_BATCH / per_project.max(1)).max(1);
    for (b, group) in tenants.chunks(per_batch).enumerate() {
        let rows: Vec<(usize, &ProjectId, usize)> = group
            .iter()
            .enumerate()
            .flat_map(|(g, (project, _))| {
                (0..per_project).map(move |i| (b * per_batch + g, project, i))
            })
            .collect();
        let ids: Vec<CertificateId> = rows.iter().map(|_| CertificateId::random()).collect();
        let names = rows
            .iter()
            .map(|(p, _, i)| {
                CertificateName::parse(&format!("tenant-{p:05}-{i:04}"), NameLimit::Create)
                    .context("seed name")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        // Pairs valid for 31+ days only (pool index 3..=19 modulo 20): the tenants add no
        // expiry events, so the server's scheduler stays idle during their case.
        let pairs: Vec<&PoolPair> = rows
            .iter()
            .map(|(p, _, i)| {
                let k = p * per_project + i;
                &fixtures.pool[(k * 20 + 3 + k % 17) % fixtures.pool.len()]
            })
            .collect();
        let sealed = ids
            .iter()
            .zip(&pairs)
            .map(|(id, p)| sealer.seal(p.key.as_bytes(), id.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        let batch: Vec<NewCertificate<'_>> = (0..rows.len())
            .map(|k| NewCertificate {
                id: &ids[k],
                project: rows[k].1,
                name: &names[k],
                content: &pairs[k].content,
                sealed_key: &sealed[k],
                expire_time: pairs[k].not_after_ms,
                created_at: now - 1_000 - i64::try_from(per_project - rows[k].2).unwrap_or(0) * 10,
                leaf_sha256: None,
                key_sha256: None,
            })
            .collect();
        store.insert_certificates(&batch, None).await?;
    }
    store.close().await;
    Ok(tenants
        .into_iter()
        .map(|(p, t)| (p.as_str().to_owned(), t))
        .collect())
}
