//! Services: upsert by name keeps runtime state, pid, proxy target (servers
//! row), OAuth client link, deletion with tokens and grants.

use ferrohub_core::token;
use ferrohub_store::{
    NewService, NewToken, OAuthClient, RoleHolder, ServerAddress, StoreError, TokenOwner,
};
use serde_json::json;

use crate::scenarios::servers::service;
use crate::support::{TestDb, count};

pub async fn services(db: &TestDb) {
    let store = db.store().await;
    store.prepare().await.unwrap();
    let raw = db.raw().await;

    let created = store
        .upsert_service(&NewService {
            command: vec!["python3".to_owned(), "-m".to_owned(), "cull".to_owned()],
            ..service("cull")
        })
        .await
        .unwrap();
    assert_eq!(created.name, "cull");
    assert_eq!(created.command, ["python3", "-m", "cull"]);
    assert_eq!((created.pid, created.server.clone()), (None, None));
    assert_eq!(created.oauth_client_id, None);
    assert_eq!(created.info, json!({}));
    assert!(created.display && created.from_config && !created.admin);
    assert_eq!(created.timeout, 30);

    store.set_service_pid(created.id, Some(4242)).await.unwrap();
    let changed = NewService {
        admin: true,
        url: Some("http://127.0.0.1:10101".to_owned()),
        oauth_client_allowed_scopes: vec!["read:users".to_owned()],
        info: json!({"about": "culls idle servers"}),
        display: false,
        oauth_no_confirm: true,
        command: vec!["cull".to_owned()],
        cwd: Some("/srv/cull".to_owned()),
        environment: json!({"TIMEOUT": "3600"}),
        user: Some("culler".to_owned()),
        timeout: 60,
        from_config: false,
        ..service("cull")
    };
    let updated = store.upsert_service(&changed).await.unwrap();
    assert_eq!(updated.id, created.id, "same row, by name");
    assert_eq!(updated.pid, Some(4242), "upsert keeps the pid");
    assert!(updated.admin && updated.oauth_no_confirm && !updated.display && !updated.from_config);
    assert_eq!(updated.url.as_deref(), Some("http://127.0.0.1:10101"));
    assert_eq!(updated.oauth_client_allowed_scopes, ["read:users"]);
    assert_eq!(updated.info, json!({"about": "culls idle servers"}));
    assert_eq!(updated.cwd.as_deref(), Some("/srv/cull"));
    assert_eq!(updated.environment, json!({"TIMEOUT": "3600"}));
    assert_eq!(updated.user.as_deref(), Some("culler"));
    assert_eq!(updated.timeout, 60);
    store.set_service_pid(created.id, None).await.unwrap();
    assert_eq!(
        store.service_by_id(created.id).await.unwrap().unwrap().pid,
        None
    );

    // The proxy target is a servers row, replaced rather than leaked.
    let target = |port| ServerAddress {
        proto: "http".to_owned(),
        ip: "127.0.0.1".to_owned(),
        port,
        base_url: "/services/cull/".to_owned(),
    };
    store
        .set_service_server(created.id, Some(&target(10101)))
        .await
        .unwrap();
    store
        .set_service_server(created.id, Some(&target(10102)))
        .await
        .unwrap();
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM servers", None).await, 1);
    let with_server = store.service_by_name("cull").await.unwrap().unwrap();
    assert_eq!(with_server.server, Some(target(10102)));
    store.upsert_service(&changed).await.unwrap();
    assert_eq!(
        store.service_by_name("cull").await.unwrap().unwrap().server,
        Some(target(10102)),
        "upsert keeps the server"
    );
    store.set_service_server(created.id, None).await.unwrap();
    assert_eq!(
        store.service_by_name("cull").await.unwrap().unwrap().server,
        None
    );
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM servers", None).await, 0);

    // OAuth client link; deleting the client unlinks it.
    let client = "service-cull";
    store
        .upsert_oauth_client(&OAuthClient {
            identifier: client.to_owned(),
            description: "JupyterHub service cull".to_owned(),
            secret: String::new(),
            redirect_uri: "/services/cull/oauth_callback".to_owned(),
            allowed_scopes: Vec::new(),
        })
        .await
        .unwrap();
    store
        .set_service_oauth_client(created.id, Some(client))
        .await
        .unwrap();
    assert_eq!(
        store
            .service_by_id(created.id)
            .await
            .unwrap()
            .unwrap()
            .oauth_client_id
            .as_deref(),
        Some(client)
    );
    store.delete_oauth_client(client).await.unwrap();
    assert_eq!(
        store
            .service_by_id(created.id)
            .await
            .unwrap()
            .unwrap()
            .oauth_client_id,
        None
    );
    assert!(
        store
            .set_service_oauth_client(created.id, Some("no-such-client"))
            .await
            .is_err(),
        "the client must exist"
    );

    let announcer = store.upsert_service(&service("announcer")).await.unwrap();
    let names: Vec<String> = store
        .list_services()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["announcer", "cull"]);
    assert_eq!(store.service_by_name("nope").await.unwrap(), None);

    sqlx::query("UPDATE services SET command = 'not a list' WHERE name = 'announcer'")
        .execute(&raw)
        .await
        .unwrap();
    assert!(matches!(
        store.service_by_id(announcer.id).await,
        Err(StoreError::Corrupt {
            what: "services.command",
            ..
        })
    ));

    // Deleting takes its server row, tokens and role grants along.
    let role = store
        .upsert_role("culler", "", &["admin:servers".to_owned()])
        .await
        .unwrap();
    store
        .grant_role(RoleHolder::Service(created.id), role.id)
        .await
        .unwrap();
    assert_eq!(
        store.service_role_scopes(created.id).await.unwrap(),
        ["admin:servers"]
    );
    store
        .set_service_server(created.id, Some(&target(10103)))
        .await
        .unwrap();
    let secret = token::new_token();
    store
        .create_token(&NewToken {
            token: &secret,
            rounds: token::GENERATED_TOKEN_ROUNDS,
            owner: TokenOwner::Service(created.id),
            client_id: ferrohub_store::BUILTIN_CLIENT,
            session_id: None,
            scopes: &[],
            note: None,
            expires_at: None,
        })
        .await
        .unwrap();
    assert!(store.delete_service(created.id).await.unwrap());
    assert!(!store.delete_service(created.id).await.unwrap());
    assert_eq!(store.service_by_name("cull").await.unwrap(), None);
    assert_eq!(store.find_token(&secret).await.unwrap(), None);
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM servers", None).await, 0);
    let sql = "SELECT COUNT(*) FROM service_role_map WHERE service_id = $1";
    assert_eq!(count(&raw, sql, Some(created.id)).await, 0);
    assert!(
        store
            .service_role_scopes(created.id)
            .await
            .unwrap()
            .is_empty()
    );
    raw.close().await;
    store.close().await;
}
