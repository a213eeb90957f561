//! JSON views of users and servers, shaped like upstream's REST API models.

use ferrohub_core::time::iso_z;
use ferrohub_store::{SpawnerRecord, UserRecord};
use serde_json::{Map, Value, json};

use crate::identity::Identity;
use crate::servers::Phase;
use crate::state::AppState;

fn ts(value: Option<&ferrohub_core::time::Timestamp>) -> Value {
    value.map_or(Value::Null, |t| Value::String(iso_z(t)))
}

/// The server model of one spawner.
fn server_model(
    state: &AppState,
    user: &UserRecord,
    record: &SpawnerRecord,
    phase: &Phase,
    with_state: bool,
) -> Value {
    let prefix = state.urls.server_prefix(&user.name, &record.name);
    let quoted = ferrohub_core::url::quote_name(&user.name);
    let progress = if record.name.is_empty() {
        format!("{}api/users/{quoted}/server/progress", state.urls.hub)
    } else {
        format!(
            "{}api/users/{quoted}/servers/{}/progress",
            state.urls.hub,
            ferrohub_core::url::quote_name(&record.name)
        )
    };
    let mut model = json!({
        "name": record.name,
        "display_name": record.name,
        "full_name": format!("{}/{}", user.name, record.name),
        "last_activity": ts(record.last_activity.as_ref()),
        "started": ts(record.started.as_ref()),
        "pending": phase.pending(),
        "ready": *phase == Phase::Ready,
        "stopped": matches!(phase, Phase::Stopped | Phase::Failed(_)),
        "url": prefix,
        "user_options": {},
        "progress_url": progress,
        "full_url": null,
        "full_progress_url": null,
    });
    if with_state {
        model["state"] = record.state.clone();
    }
    model
}

/// The user model as `who` may see it (`read:users` for everything, names otherwise).
pub async fn user_model(
    state: &AppState,
    user: &UserRecord,
    who: &Identity,
) -> Result<Value, ferrohub_store::StoreError> {
    let mut model = Map::new();
    model.insert("kind".into(), json!("user"));
    model.insert("name".into(), json!(user.name));
    let scopes = &who.scopes;
    if scopes.allows_user("read:users:groups", &user.name) {
        model.insert("groups".into(), json!([]));
    }
    if scopes.allows_user("read:users", &user.name) {
        let spawners = state.store.spawners_of(user.id).await?;
        let default_phase = state.servers.phase(&user.name, "");
        let roles = if user.admin {
            json!(["admin", "user"])
        } else {
            json!(["user"])
        };
        model.insert("admin".into(), json!(user.admin));
        model.insert("roles".into(), roles);
        model.insert("created".into(), ts(user.created.as_ref()));
        model.insert("last_activity".into(), ts(user.last_activity.as_ref()));
        model.insert("pending".into(), json!(default_phase.pending()));
        let server_url =
            (default_phase == Phase::Ready).then(|| state.urls.server_prefix(&user.name, ""));
        model.insert("server".into(), json!(server_url));
        model.insert("user_info".into(), Value::Null);
        if scopes.allows_user("read:servers", &user.name) {
            let with_state = scopes.allows_user("admin:server_state", &user.name);
            let servers: Map<String, Value> = spawners
                .iter()
                .filter_map(|record| {
                    let phase = state.servers.phase(&user.name, &record.name);
                    let active = phase.pending().is_some() || phase == Phase::Ready;
                    active.then(|| {
                        (
                            record.name.clone(),
                            server_model(state, user, record, &phase, with_state),
                        )
                    })
                })
                .collect();
            model.insert("servers".into(), Value::Object(servers));
        }
    } else if scopes.allows_user("read:users:activity", &user.name) {
        model.insert("last_activity".into(), ts(user.last_activity.as_ref()));
    }
    Ok(Value::Object(model))
}
