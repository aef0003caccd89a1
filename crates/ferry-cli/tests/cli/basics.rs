//! The basics of the `ferry` binary end to end: first start, customers, users and login,
//! errors, SIGTERM, integrations and instances.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_store::testing::TestStore;

use crate::harness::{failure, Served, FERRY};

ferry_store::store_tests!(
    first_start_then_customers_from_the_command_line,
    users_and_login_from_the_command_line,
    errors_are_one_line_and_exit_non_zero,
    sigterm_stops_the_server_cleanly,
    integrations_from_the_command_line,
    instances_from_the_command_line,
);

async fn first_start_then_customers_from_the_command_line(store: &TestStore) {
    let served = Served::start(store);
    let token = served.ok(&["me:token"]);
    assert!(token.trim().starts_with("ferry_"), "{token}");
    for secret in ["owner.token", "master.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(served.data_dir.path().join(secret))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "{secret} is readable by its owner only"
        );
    }
    let me = served.ok(&["me"]);
    assert!(
        me.contains("Name: Owner") && me.contains("Organization: My Organization"),
        "{me}"
    );
    assert_eq!(
        served.json(&["me", "-o", "json"])["email"],
        "owner@localhost"
    );

    let id = served.ok(&[
        "customers:create",
        "--name",
        "Mars Missions",
        "--external-id",
        "abc-123",
        "-l",
        "Gold",
        "-l",
        "EU",
    ]);
    assert!(
        ferry_core::id::decode(ferry_core::id::Kind::Customer, id.trim()).is_ok(),
        "prints the id: {id}"
    );
    served.ok(&[
        "customers:create",
        "--name",
        "Eastern Space Flight",
        "-e",
        "xyz-456",
        "-d",
        "Houston, TX",
    ]);

    let listed = served.json(&["customers:list", "-o", "json"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["labels"], serde_json::json!(["eu", "gold"]));
    assert!(listed[0].get("id").is_none(), "ids only with --extended");
    let table = served.ok(&["customers:list"]);
    assert!(
        table.lines().next().unwrap().contains("NAME") && table.contains("Mars Missions"),
        "{table}"
    );
    let csv = served.ok(&[
        "customers:list",
        "-o",
        "csv",
        "--no-header",
        "--columns",
        "name,externalId",
        "--sort",
        "-name",
    ]);
    assert_eq!(csv, "Mars Missions,abc-123\nEastern Space Flight,xyz-456\n");
    let filtered = served.json(&[
        "customers:list",
        "-o",
        "json",
        "--filter",
        "description=houston",
    ]);
    assert_eq!(filtered[0]["name"], "Eastern Space Flight");
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let yaml = served.ok(&["customers:list", "-o", "yaml", "-x", "--columns", "id,name"]);
    assert!(
        yaml.contains("- id: ") && yaml.contains("name: Mars Missions"),
        "{yaml}"
    );

    served.ok(&[
        "customers:update",
        "abc-123",
        "--description",
        "Mars Missions Corp",
    ]);
    let updated = served.json(&["customers:list", "-o", "json", "--external-id", "abc-123"]);
    assert_eq!(updated[0]["description"], "Mars Missions Corp");
    served.ok(&["customers:delete", "Eastern Space Flight"]);
    assert_eq!(
        served
            .json(&["customers:list", "-o", "json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn users_and_login_from_the_command_line(store: &TestStore) {
    let served = Served::start(store);
    served.ok(&["customers:create", "-n", "Acme", "-e", "acme"]);
    served.ok(&[
        "users:create",
        "-e",
        "dev@us.test",
        "-n",
        "Dev",
        "-r",
        "Integrator",
    ]);
    served.ok(&[
        "users:create",
        "-e",
        "ann@acme.test",
        "-r",
        "Marketplace Admin",
        "-c",
        "acme",
    ]);
    let users = served.json(&["users:list", "-o", "json", "--type", "customer"]);
    assert_eq!(
        users,
        serde_json::json!([{ "name": "ann@acme.test", "email": "ann@acme.test", "role": "Marketplace Admin", "customer": "Acme" }])
    );
    let org = served.ok(&[
        "users:list",
        "--type",
        "organization",
        "-o",
        "csv",
        "--columns",
        "email,role",
        "--sort",
        "email",
    ]);
    assert_eq!(
        org,
        "email,role\ndev@us.test,Integrator\nowner@localhost,Owner\n"
    );
    served.ok(&["users:delete", "ann@acme.test"]);
    assert_eq!(
        served.json(&["users:list", "-o", "json", "-c", "acme"]),
        serde_json::json!([])
    );
    let roles = served.json(&["users:roles", "-o", "json", "--type", "customer"]);
    assert_eq!(roles.as_array().unwrap().len(), 4);

    // `ferry login` stores the token; later commands need no data directory.
    let token = served.ok(&["me:token"]).trim().to_string();
    let nowhere = PathBuf::from("/nonexistent-ferry-data");
    let login = served
        .command(&["login", "--token", &token], &nowhere)
        .output()
        .unwrap();
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let me = served.command(&["me"], &nowhere).output().unwrap();
    assert!(String::from_utf8_lossy(&me.stdout).contains("Email: owner@localhost"));
    assert_eq!(
        String::from_utf8(
            served
                .command(&["me:token"], &nowhere)
                .output()
                .unwrap()
                .stdout
        )
        .unwrap()
        .trim(),
        token
    );
    assert!(served
        .command(&["logout"], &nowhere)
        .output()
        .unwrap()
        .status
        .success());
    let message = failure(served.command(&["me"], &nowhere).output().unwrap());
    assert!(message.contains("no API token"), "{message}");
}

async fn errors_are_one_line_and_exit_non_zero(store: &TestStore) {
    let served = Served::start(store);
    served.ok(&["customers:create", "-n", "Taken"]);
    let message = failure(served.run(&["customers:create", "-n", "Taken"]));
    assert_eq!(
        message,
        "error: name: a customer named \"Taken\" already exists"
    );
    let message = failure(served.run(&["customers:list", "--columns", "nope"]));
    assert!(message.contains("unknown column \"nope\""), "{message}");
    let message = failure(served.run(&["customers:delete", "ghost"]));
    assert!(
        message.contains("no customer with id, external id or name \"ghost\""),
        "{message}"
    );
    let bad_token = served
        .command(&["me"], served.data_dir.path())
        .env("FERRY_API_KEY", "ferry_wrong")
        .output()
        .unwrap();
    assert!(failure(bad_token).contains("invalid API token"));
    let nowhere = served
        .command(&["me"], served.data_dir.path())
        .env("FERRY_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert!(failure(nowhere).contains("cannot reach Ferry at http://127.0.0.1:9"));
    let bad_key = Command::new(FERRY)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("FERRY_DATA_DIR", served.home.path())
        .env("FERRY_MASTER_KEY", "c2hvcnQ=")
        .env("FERRY_LOG", "off")
        .output()
        .unwrap();
    let message = failure(bad_key);
    assert!(
        message.contains("the master key is 5 bytes; it must be 32"),
        "{message}"
    );
    let message = failure(served.run(&["users:create", "-e", "x@y.test", "-r", "Admiral"]));
    assert!(
        message.starts_with("error: role: unknown role \"Admiral\"; expected one of: Owner, Admin"),
        "{message}"
    );
}

async fn sigterm_stops_the_server_cleanly(store: &TestStore) {
    let mut served = Served::start(store);
    let pid = served.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ferry serve did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The next start finds its organization and does not bootstrap again: the token still works.
    let token_before = served.ok(&["me:token"]);
    let key_before = std::fs::read_to_string(served.data_dir.path().join("master.key")).unwrap();
    served.restart(store);
    assert_eq!(served.ok(&["me:token"]), token_before);
    let key_after = std::fs::read_to_string(served.data_dir.path().join("master.key")).unwrap();
    assert_eq!(key_after, key_before, "the master key survives restarts");
    assert_eq!(
        served.json(&["me", "-o", "json"])["email"],
        "owner@localhost"
    );
}

const ORDERS: &str = include_str!("../../../ferry-definition/tests/fixtures/orders.yml");

async fn integrations_from_the_command_line(store: &TestStore) {
    let served = Served::start(store);
    let file = served.home.path().join("orders.yml");
    std::fs::write(&file, ORDERS).unwrap();
    let path = file.to_str().unwrap();
    let id = served.ok(&["integrations:import", "--path", path]);
    assert!(
        ferry_core::id::decode(ferry_core::id::Kind::Integration, id.trim()).is_ok(),
        "{id}"
    );
    assert_eq!(
        served.ok(&["integrations:export", "Orders to Acme ERP"]),
        ORDERS
    );

    let broken = served.home.path().join("broken.yml");
    std::fs::write(
        &broken,
        ORDERS.replace("action: log.write", "action: log.scribble"),
    )
    .unwrap();
    let output = served.run(&[
        "integrations:import",
        "--path",
        broken.to_str().unwrap(),
        "-i",
        id.trim(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(
            "error: 3 problems:\n  flows[0].steps[1].branches[1].steps[0].action: line "
        ),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("unknown action \"log.scribble\"").count(),
        3,
        "{stderr}"
    );

    let version = served.json(&[
        "integrations:publish",
        "Orders to Acme ERP",
        "-c",
        "first",
        "-o",
        "json",
    ]);
    assert_eq!(version["versionNumber"], 1);
    served.ok(&[
        "integrations:import",
        "--path",
        path,
        "--integration-id",
        "Orders to Acme ERP",
    ]);
    served.ok(&["integrations:publish", id.trim()]);
    let versions = served.json(&[
        "integrations:versions",
        "Orders to Acme ERP",
        "-o",
        "json",
        "--columns",
        "versionNumber,comment",
    ]);
    assert_eq!(
        versions,
        serde_json::json!([{ "versionNumber": 2, "comment": "" }, { "versionNumber": 1, "comment": "first" }])
    );
    assert_eq!(
        served.ok(&[
            "integrations:export",
            "Orders to Acme ERP",
            "--version",
            "1"
        ]),
        ORDERS
    );
    let listed = served.ok(&[
        "integrations:list",
        "-o",
        "csv",
        "--columns",
        "name,versionNumber",
        "--no-header",
    ]);
    assert_eq!(listed, "Orders to Acme ERP,2\n");
    let message = failure(served.run(&[
        "integrations:export",
        "Orders to Acme ERP",
        "--version",
        "9",
    ]));
    assert!(message.contains("has no version 9"), "{message}");
    served.ok(&["integrations:delete", "Orders to Acme ERP"]);
    assert_eq!(served.ok(&["integrations:list", "--no-header"]), "");
}

async fn instances_from_the_command_line(store: &TestStore) {
    let served = Served::start(store);
    let file = served.home.path().join("orders.yml");
    std::fs::write(&file, ORDERS).unwrap();
    served.ok(&["integrations:import", "--path", file.to_str().unwrap()]);
    served.ok(&["integrations:publish", "Orders to Acme ERP"]);
    served.ok(&["customers:create", "-n", "Mars Missions", "-e", "mars"]);
    let create = [
        "instances:create",
        "-n",
        "Mars Orders",
        "-i",
        "Orders to Acme ERP",
        "-c",
        "mars",
    ];
    let id = served.ok(&create);
    assert!(
        ferry_core::id::decode(ferry_core::id::Kind::Instance, id.trim()).is_ok(),
        "{id}"
    );
    let message = failure(served.run(&["instances:deploy", "Mars Orders"]));
    assert_eq!(
        message,
        "error: configVariables: \"Acme API Key\" needs a value"
    );
    let values =
        r#"{"Acme API Key": {"apiKey": "s3cret"}, "Acme Base URL": "https://erp.mars.test"}"#;
    let configured = [
        "instances:create",
        "-n",
        "Mars Orders 2",
        "-i",
        "Orders to Acme ERP",
        "-c",
        "Mars Missions",
        "-v",
        values,
    ];
    served.ok(&configured);
    let deployed = served.json(&["instances:deploy", "Mars Orders 2", "-o", "json"]);
    assert!(deployed["lastDeployedAt"].is_string(), "{deployed}");
    served.ok(&["instances:disable", id.trim()]);
    let listed = served.ok(&[
        "instances:list",
        "-c",
        "mars",
        "-o",
        "csv",
        "--columns",
        "name,version,enabled",
        "--sort",
        "name",
    ]);
    assert_eq!(
        listed,
        "name,version,enabled\nMars Orders,1,false\nMars Orders 2,1,true\n"
    );
    let message = failure(served.run(&[
        "instances:create",
        "-n",
        "Bad",
        "-i",
        "Orders to Acme ERP",
        "-c",
        "mars",
        "-v",
        "not json",
    ]));
    assert!(
        message.contains("--config-vars must be a JSON object"),
        "{message}"
    );
    served.ok(&["instances:delete", "Mars Orders"]);
    let message = failure(served.run(&["instances:delete", "Mars Orders"]));
    assert!(
        message.contains("no instance with id or name \"Mars Orders\""),
        "{message}"
    );
}
