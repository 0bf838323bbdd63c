//! Crash durability: concurrent creates, renames and binds against the real binary, killed
//! with SIGKILL at random moments over several rounds. After each restart every acknowledged
//! write is there unchanged, `total` counts exactly the stored rows, and no host points at a
//! missing certificate. A write whose answer was lost to the kill may have happened or not:
//! both outcomes are accepted, and the next round starts from what was stored.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;
use crate::outage::mint_token;

const WORKERS: usize = 4;
const ROUNDS: usize = 3;

/// What the clients know: acknowledged values, plus the values a lost answer may have left.
#[derive(Debug, Default)]
struct Ledger {
    /// Certificate id -> the names it may have (the acknowledged one first).
    certs: HashMap<String, Vec<String>>,
    /// Names of creates whose answer was lost: the row may exist.
    maybe_created: HashSet<String>,
    /// Host id -> the certificate ids it may point at.
    hosts: HashMap<String, Vec<String>>,
}

/// One client's HTTP view of the server.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    project: String,
    token: String,
}

/// An answer, or `None` when the connection died (the write may or may not have happened).
type Answer = Option<(u16, Value)>;

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}/v1/{}/{path}", self.base, self.project))
            .header("X-Auth-Token", &self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.ok()?;
        let status = resp.status().as_u16();
        let body = resp.json().await.ok()?;
        // A 5xx did not say whether the write happened: as uncertain as a lost answer.
        (status < 500).then_some((status, body))
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    wafcert::crypto::random_bytes(&mut b).unwrap();
    u64::from_le_bytes(b)
}

/// One worker's loop: creates, renames of its own free certificates, binds of its own host.
async fn work(api: Api, w: usize, round: usize, host: String, ledger: Arc<Mutex<Ledger>>) {
    let key = fixture(60);
    let prefix = format!("w{w}-");
    let mut mine: Vec<String> = ledger
        .lock()
        .unwrap()
        .certs
        .iter()
        .filter(|(_, names)| names[0].starts_with(&prefix))
        .map(|(id, _)| id.clone())
        .collect();
    for i in 0.. {
        let name = format!("w{w}-r{round}-{i}");
        match api
            .call(
                reqwest::Method::POST,
                "waf/certificate",
                Some(&key.body(&name)),
            )
            .await
        {
            Some((200, body)) => {
                let id = body["id"].as_str().unwrap().to_owned();
                ledger
                    .lock()
                    .unwrap()
                    .certs
                    .insert(id.clone(), vec![name.clone()]);
                mine.push(id);
            }
            Some((status, body)) => panic!("create {name}: {status} {body}"),
            None => {
                ledger.lock().unwrap().maybe_created.insert(name);
                return;
            }
        }
        let pick = |salt: u64| {
            mine[usize::try_from((random_u64() ^ salt) % mine.len() as u64).unwrap()].clone()
        };
        // Rename one of this worker's certificates (refused while it serves the host).
        let target = pick(1);
        let new_name = format!("{name}-renamed");
        let answer = api
            .call(
                reqwest::Method::PUT,
                &format!("waf/certificate/{target}"),
                Some(&json!({"name": new_name})),
            )
            .await;
        match answer {
            Some((200, _)) => {
                ledger.lock().unwrap().certs.insert(target, vec![new_name]);
            }
            Some((400, body)) => assert_eq!(body["error_code"], "WAF.00022003", "{body}"),
            Some((status, body)) => panic!("rename: {status} {body}"),
            None => {
                ledger
                    .lock()
                    .unwrap()
                    .certs
                    .get_mut(&target)
                    .unwrap()
                    .push(new_name);
                return;
            }
        }
        // Bind the host to another of its certificates, alternating the two ways to bind.
        let target = pick(2);
        let answer = if i % 2 == 0 {
            api.call(
                reqwest::Method::POST,
                &format!("waf/certificate/{target}/apply-to-hosts"),
                Some(&json!({"premium_host_ids": [host]})),
            )
            .await
        } else {
            let name = ledger.lock().unwrap().certs[&target][0].clone();
            api.call(
                reqwest::Method::PUT,
                &format!("{HOSTS}/{host}"),
                Some(&json!({"certificateid": target, "certificatename": name})),
            )
            .await
        };
        match answer {
            Some((200, _)) => {
                ledger
                    .lock()
                    .unwrap()
                    .hosts
                    .insert(host.clone(), vec![target]);
            }
            // A name that a lost rename may have changed no longer matches: refused, no change.
            Some((400, _)) if i % 2 == 1 => {}
            Some((status, body)) => panic!("bind: {status} {body}"),
            None => {
                ledger
                    .lock()
                    .unwrap()
                    .hosts
                    .get_mut(&host)
                    .unwrap()
                    .push(target);
                return;
            }
        }
    }
}

/// Checks the stored state against the ledger, then makes the ledger the stored state.
async fn verify(api: &Api, ledger: &mut Ledger) {
    let (status, list) = api
        .call(
            reqwest::Method::GET,
            "waf/certificate?page=1&pagesize=-1",
            None,
        )
        .await
        .expect("the restarted server answers");
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(
        list["total"],
        json!(items.len()),
        "total counts exactly the stored rows"
    );
    let stored: HashMap<String, String> = items
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (id, names) in &ledger.certs {
        let name = stored
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged certificate {id} ({names:?}) lost"));
        assert!(
            names.contains(name),
            "certificate {id} is named {name}, expected one of {names:?}"
        );
        let (status, shown) = api
            .call(reqwest::Method::GET, &format!("waf/certificate/{id}"), None)
            .await
            .unwrap();
        assert_eq!(status, 200, "{shown}");
        assert!(
            shown["content"]
                .as_str()
                .unwrap()
                .contains("BEGIN CERTIFICATE"),
            "content unchanged"
        );
    }
    let mut unknown = Vec::new();
    for (id, name) in &stored {
        if !ledger.certs.contains_key(id) {
            assert!(
                ledger.maybe_created.contains(name),
                "a certificate nobody created: {name}"
            );
            unknown.push((id.clone(), name.clone()));
        }
    }
    for (id, name) in unknown {
        ledger.certs.insert(id, vec![name]);
    }
    ledger.maybe_created.clear();
    for (id, names) in &mut ledger.certs {
        *names = vec![stored[id].clone()];
    }

    let (status, hosts) = api
        .call(reqwest::Method::GET, &format!("{HOSTS}?pagesize=-1"), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{hosts}");
    let hosts = hosts["items"].as_array().unwrap();
    assert_eq!(hosts.len(), ledger.hosts.len());
    for host in hosts {
        let id = host["id"].as_str().unwrap();
        let cert = host["certificateid"]
            .as_str()
            .expect("an HTTPS host keeps a certificate");
        assert!(
            stored.contains_key(cert),
            "host {id} points at missing certificate {cert}"
        );
        assert_eq!(
            host["certificatename"].as_str(),
            stored.get(cert).map(String::as_str)
        );
        let allowed = &ledger.hosts[id];
        assert!(
            allowed.iter().any(|c| c == cert),
            "host {id} points at {cert}, expected one of {allowed:?}"
        );
        ledger.hosts.insert(id.to_owned(), vec![cert.to_owned()]);
    }
}

/// Rounds of load and SIGKILL against the binary on `url`; bounded to about 30 s.
async fn killed_under_load_loses_nothing(url: &str) {
    let started = Instant::now();
    let key = master_key_hex();
    let (project, token) = mint_token(url, &key);
    let mut server = Replica::start_with(url, &key, &[]);
    let mut api = Api {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        base: server.base.clone(),
        project,
        token,
    };
    let mut ledger = Ledger::default();
    let mut hosts = Vec::new();
    let key_pair = fixture(60);
    for w in 0..WORKERS {
        let name = format!("w{w}-init");
        let (status, cert) = api
            .call(
                reqwest::Method::POST,
                "waf/certificate",
                Some(&key_pair.body(&name)),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{cert}");
        let cert = cert["id"].as_str().unwrap().to_owned();
        let body = host_body(
            &format!("h{w}.crash.example"),
            "HTTPS",
            Some((&cert, &name)),
        );
        let (status, host) = api
            .call(reqwest::Method::POST, HOSTS, Some(&body))
            .await
            .unwrap();
        assert_eq!(status, 200, "{host}");
        let host = host["id"].as_str().unwrap().to_owned();
        ledger.certs.insert(cert.clone(), vec![name]);
        ledger.hosts.insert(host.clone(), vec![cert]);
        hosts.push(host);
    }
    let ledger = Arc::new(Mutex::new(ledger));
    for round in 0..ROUNDS {
        let workers: Vec<_> = hosts
            .iter()
            .enumerate()
            .map(|(w, host)| {
                tokio::spawn(work(api.clone(), w, round, host.clone(), ledger.clone()))
            })
            .collect();
        // Kill at a random moment between 0.3 and 1.8 s into the round.
        let after = 300 + random_u64() % 1500;
        tokio::time::sleep(Duration::from_millis(after)).await;
        server.kill();
        for w in workers {
            w.await.unwrap();
        }
        server = Replica::start_with(url, &key, &[]);
        api.base = server.base.clone();
        let mut held = std::mem::take(&mut *ledger.lock().unwrap());
        let in_flight = held.maybe_created.len()
            + held.certs.values().filter(|n| n.len() > 1).count()
            + held.hosts.values().filter(|c| c.len() > 1).count();
        verify(&api, &mut held).await;
        let acknowledged = held.certs.len();
        *ledger.lock().unwrap() = held;
        println!(
            "round {round}: killed after {after} ms with {in_flight} writes in flight, \
             {acknowledged} certificates verified"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "bounded: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_kill_9_under_load() {
    let dir = tempfile::tempdir().unwrap();
    killed_under_load_loses_nothing(&format!("sqlite://{}/wafcert.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_kill_9_under_load() {
    if postgres_url().is_none() {
        return;
    }
    let db = TestDb::new(Db::Postgres).await;
    killed_under_load_loses_nothing(&db.url).await;
}
