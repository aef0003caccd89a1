//! A Ferry server on an ephemeral loopback port over a fresh store, and a GraphQL client.

use std::net::SocketAddr;

use ferry_server::bootstrap::{self, BootstrapOptions};
use ferry_server::{Handle, ServerOptions};
use ferry_store::testing::TestStore;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub struct TestServer {
    pub base: String,
    /// The bootstrap owner's token.
    pub token: String,
    pub http: reqwest::Client,
    pub store: ferry_store::Store,
    pub tenant: ferry_store::Tenant,
    handle: Option<Handle>,
    _data_dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(store: &TestStore) -> TestServer {
        Self::start_with(store, |_| {}).await
    }

    /// Starts a server whose options `adjust` changes first.
    pub async fn start_with(
        store: &TestStore,
        adjust: impl FnOnce(&mut ServerOptions),
    ) -> TestServer {
        Self::start_on(&store.store, adjust).await
    }

    /// Starts a server on `store` (a handle of the test's store opened another way).
    pub async fn start_on(
        store: &ferry_store::Store,
        adjust: impl FnOnce(&mut ServerOptions),
    ) -> TestServer {
        let data_dir = tempfile::tempdir().unwrap();
        bootstrap::run(store, data_dir.path(), &BootstrapOptions::default())
            .await
            .unwrap();
        let token = std::fs::read_to_string(bootstrap::token_path(data_dir.path()))
            .unwrap()
            .trim()
            .to_string();
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut options = ServerOptions::new(listen, data_dir.path());
        // Short leases and waits, so that cancellation and timeouts show within a test.
        options.sync_timeout = std::time::Duration::from_secs(2);
        if let Some(worker) = options.worker.as_mut() {
            worker.lease = std::time::Duration::from_secs(3);
            worker.poll_interval = std::time::Duration::from_millis(200);
        }
        adjust(&mut options);
        let handle = ferry_server::start(&options, store.clone()).await.unwrap();
        let org_id = store.bootstrap_organization().await.unwrap().unwrap();
        TestServer {
            base: format!("http://{}", handle.addr()),
            token,
            http: reqwest::Client::new(),
            store: store.clone(),
            tenant: ferry_store::Tenant::organization(org_id),
            handle: Some(handle),
            _data_dir: data_dir,
        }
    }

    /// Posts a GraphQL request with `token`; returns the status and the body.
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/api/", self.base))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// Runs a request as the owner and returns `data`, failing on any error.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.ok_as(&self.token.clone(), query, variables).await
    }

    /// Runs a request as `token` and returns `data`, failing on any error.
    pub async fn ok_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.gql_as(token, query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Runs a request as `token` that must fail with a GraphQL error; returns its first message.
    pub async fn error_as(&self, token: &str, query: &str, variables: Value) -> String {
        let (status, body) = self.gql_as(token, query, variables).await;
        assert!(
            status.is_client_error() || status == StatusCode::OK,
            "{status}: {body}"
        );
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error, got {body}"))
            .to_string()
    }

    /// Polls `query` (an `executionResult(id: $id)` query) until the execution is neither
    /// queued nor running (20 s at most); gives the `executionResult`.
    pub async fn ended(&self, query: &str, id: &Value) -> Value {
        for _ in 0..200 {
            let found = self.gql(query, json!({ "id": id })).await;
            let execution = found["executionResult"].clone();
            if !matches!(execution["status"].as_str(), Some("QUEUED" | "RUNNING")) {
                return execution;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("execution {id} did not end");
    }

    /// Creates a customer and returns its id.
    pub async fn customer(&self, name: &str, external_id: &str) -> String {
        let data = self
            .gql(
                "mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { field messages } } }",
                json!({ "input": { "name": name, "externalId": external_id } }),
            )
            .await;
        assert_eq!(data["createCustomer"]["errors"], json!([]), "{data}");
        data["createCustomer"]["customer"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Imports `definition` as a new integration and publishes it; returns the integration id.
    pub async fn publish(&self, definition: &str) -> Value {
        let import = "mutation ($input: ImportIntegrationInput!) { importIntegration(input: $input) { integration { id } errors { field messages } } }";
        let imported = self
            .gql(import, json!({ "input": { "definition": definition } }))
            .await;
        assert_eq!(
            imported["importIntegration"]["errors"],
            json!([]),
            "{imported}"
        );
        let integration = imported["importIntegration"]["integration"]["id"].clone();
        let publish = "mutation ($id: ID!) { publishIntegration(input: { id: $id }) { errors { messages } } }";
        let published = self.gql(publish, json!({ "id": integration })).await;
        assert_eq!(
            published["publishIntegration"]["errors"],
            json!([]),
            "{published}"
        );
        integration
    }

    /// Creates an instance of `integration` for `customer` with config values (`[{ key, value }]`);
    /// returns its id and the webhook URL of each flow by name.
    pub async fn instance(
        &self,
        integration: &Value,
        customer: &str,
        values: Value,
    ) -> (String, Value) {
        let create = "mutation ($input: CreateInstanceInput!) { createInstance(input: $input) { \
                      instance { id flowConfigs { nodes { flow { name } webhookUrl } } } errors { field messages } } }";
        let input = json!({ "input": {
            "customer": customer, "integration": integration, "name": format!("{customer} instance"),
            "configVariables": values,
        }});
        let created = self.gql(create, input).await;
        assert_eq!(created["createInstance"]["errors"], json!([]), "{created}");
        let instance = &created["createInstance"]["instance"];
        let mut urls = serde_json::Map::new();
        for node in instance["flowConfigs"]["nodes"].as_array().unwrap() {
            urls.insert(
                node["flow"]["name"].as_str().unwrap().into(),
                node["webhookUrl"].clone(),
            );
        }
        (
            instance["id"].as_str().unwrap().to_string(),
            Value::Object(urls),
        )
    }

    /// Creates a user (a customer user when `customer` is given) and returns a token acting as it.
    pub async fn user_token(&self, email: &str, role: &str, customer: Option<&str>) -> String {
        let data = match customer {
            None => {
                self.gql(
                    "mutation ($input: CreateOrganizationUserInput!) { createOrganizationUser(input: $input) { user { id } errors { field messages } } }",
                    json!({ "input": { "email": email, "role": role } }),
                )
                .await["createOrganizationUser"]
                    .clone()
            }
            Some(customer) => {
                self.gql(
                    "mutation ($input: CreateCustomerUserInput!) { createCustomerUser(input: $input) { user { id } errors { field messages } } }",
                    json!({ "input": { "email": email, "role": role, "customer": customer } }),
                )
                .await["createCustomerUser"]
                    .clone()
            }
        };
        assert_eq!(data["errors"], json!([]), "{data}");
        self.token_for(data["user"]["id"].as_str().unwrap()).await
    }

    /// A token for a user. The API mints tokens only for the caller, so the harness asks the
    /// store, as a user logging in would get one.
    async fn token_for(&self, user_id: &str) -> String {
        let uuid = ferry_core::id::decode(ferry_core::id::Kind::User, user_id).unwrap();
        self.store
            .create_token(&self.tenant, uuid, "test", None)
            .await
            .unwrap()
            .secret
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            let stop = handle.stopper();
            stop();
        }
    }
}
