//! A store that is briefly unreachable (PostgreSQL behind a TCP proxy on loopback that the test
//! cuts and restores): requests get 503 while it is gone, nothing acknowledged is lost, and
//! the node reconnects by itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_store::testing::TestStore;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::harness::TestServer;

ferry_store::store_tests!(a_store_outage_answers_503_and_the_node_recovers_by_itself);

/// A TCP proxy to PostgreSQL that can be cut (open connections dropped, new ones closed at
/// once) and restored.
struct Proxy {
    addr: String,
    cut: Arc<AtomicBool>,
    pipes: Arc<Mutex<JoinSet<()>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let pipes = Arc::new(Mutex::new(JoinSet::new()));
        let (is_cut, all) = (cut.clone(), pipes.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if is_cut.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let upstream = upstream.clone();
                all.lock().unwrap().spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Proxy { addr, cut, pipes }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.pipes.lock().unwrap().abort_all();
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// The test store's URL with its host and port replaced by the proxy's.
fn through(url: &str, proxy: &str) -> (String, String) {
    let start = url
        .find('@')
        .map(|at| at + 1)
        .unwrap_or_else(|| url.find("://").unwrap() + 3);
    let end = start + url[start..].find('/').unwrap();
    (
        format!("{}{proxy}{}", &url[..start], &url[end..]),
        url[start..end].to_string(),
    )
}

const FLOW: &str = r#"
name: Outage Test
flows:
  - name: Note
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - { name: Say, action: log.write, inputs: { message: "got {{ steps.trigger.results.body.data.n }}" } }
"#;

async fn post(server: &TestServer, url: &str, n: u32) -> (u16, Value) {
    let response = server
        .http
        .post(url)
        .json(&json!({ "n": n }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn a_store_outage_answers_503_and_the_node_recovers_by_itself(t: &TestStore) {
    if t.store.kind() != "postgres" {
        return; // SQLite is a file in the process: it has no outage to survive
    }
    let (_, upstream) = through(&t.url, "");
    let proxy = Proxy::start(upstream).await;
    let (proxied_url, _) = through(&t.url, &proxy.addr);
    let store = ferry_store::Store::open(&ferry_store::StoreOptions::new(&proxied_url))
        .await
        .unwrap();
    let server = TestServer::start_on(&store, |_| {}).await;
    let integration = server.publish(FLOW).await;
    let customer = server.customer("Mars", "mars").await;
    let (_, urls) = server.instance(&integration, &customer, json!([])).await;
    let url = urls["Note"].as_str().unwrap().to_string();

    let mut acknowledged = Vec::new();
    let (status, body) = post(&server, &url, 1).await;
    assert_eq!(status, 200, "{body}");
    acknowledged.push(body["executionId"].clone());

    proxy.cut();
    let (status, body) = post(&server, &url, 2).await;
    assert_eq!(status, 503, "a webhook while the store is gone: {body}");
    let api = server
        .http
        .post(format!("{}/api", server.base))
        .bearer_auth(&server.token)
        .json(&json!({ "query": "{ organization { name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 503, "the API too");
    let health = server
        .http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503, "and the health check");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 3;
    loop {
        let (status, body) = post(&server, &url, n).await;
        if status == 200 {
            acknowledged.push(body["executionId"].clone());
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            Instant::now() < deadline,
            "the node did not reconnect within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        n += 1;
    }
    for _ in 0..3 {
        n += 1;
        let (status, body) = post(&server, &url, n).await;
        assert_eq!(status, 200, "{body}");
        acknowledged.push(body["executionId"].clone());
    }

    // Every acknowledged request ran to its end, through the node that lived through the cut.
    let query = "query ($id: ID!) { executionResult(id: $id) { status } }";
    for id in &acknowledged {
        let execution = server.ended(query, id).await;
        assert_eq!(execution["status"], "SUCCEEDED", "execution {id}");
    }
    drop(server);
    store.close().await;
}
