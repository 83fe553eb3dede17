//! Folders and favorites: `sluice conversations mv ID FOLDER | mv ID --out | star ID [--off]`
//! and `sluice folders list | add NAME | rename NAME NEW | rm NAME`. Folders are named as
//! people see them; the ids stay behind the scenes.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_shared::dto::{ConversationOut, GroupOut};
use uuid::Uuid;

use crate::{
    client::Api,
    error::{CliError, CliResult},
};

#[derive(Deserialize)]
struct Groups {
    items: Vec<GroupOut>,
}

pub async fn all(api: &mut Api) -> CliResult<Vec<GroupOut>> {
    let groups: Groups = api.call(Method::GET, "/api/groups", None).await?;
    Ok(groups.items)
}

/// The folder named `name` (case aside), or a clear error listing the ones there are.
async fn named(api: &mut Api, name: &str) -> CliResult<GroupOut> {
    let groups = all(api).await?;
    let names: Vec<String> = groups.iter().map(|g| format!("“{}”", g.name)).collect();
    groups
        .into_iter()
        .find(|g| g.name.to_lowercase() == name.trim().to_lowercase())
        .ok_or_else(|| {
            let have = if names.is_empty() {
                "you have none yet".to_string()
            } else {
                format!("yours: {}", names.join(", "))
            };
            CliError::new(format!("no folder named “{name}” ({have})"))
        })
}

pub async fn list(api: &mut Api) -> CliResult<()> {
    let groups = all(api).await?;
    if groups.is_empty() {
        println!("No folders yet: make one with `sluice folders add NAME`.");
    }
    for g in groups {
        let s = if g.conversations == 1 { "" } else { "s" };
        println!("{}  ({} conversation{s})", g.name, g.conversations);
    }
    Ok(())
}

pub async fn add(api: &mut Api, name: &str) -> CliResult<GroupOut> {
    let group: GroupOut = api
        .call(Method::POST, "/api/groups", Some(json!({ "name": name })))
        .await?;
    println!("Made folder “{}”.", group.name);
    Ok(group)
}

pub async fn rename(api: &mut Api, name: &str, new: &str) -> CliResult<()> {
    let group = named(api, name).await?;
    let path = format!("/api/groups/{}", group.id);
    let renamed: GroupOut = api
        .call(Method::PATCH, &path, Some(json!({ "name": new })))
        .await?;
    println!("Renamed “{}” to “{}”.", group.name, renamed.name);
    Ok(())
}

pub async fn remove(api: &mut Api, name: &str) -> CliResult<()> {
    let group = named(api, name).await?;
    let _: Value = api
        .call(Method::DELETE, &format!("/api/groups/{}", group.id), None)
        .await?;
    println!(
        "Deleted folder “{}”; its conversations are kept, in no folder.",
        group.name
    );
    Ok(())
}

/// Puts conversation `id` in the folder named `folder` (made if there is none), or in none.
pub async fn move_to(api: &mut Api, id: Uuid, folder: Option<&str>) -> CliResult<()> {
    let group = match folder {
        None => None,
        Some(name) => Some(match named(api, name).await {
            Ok(group) => group,
            Err(_) => add(api, name).await?,
        }),
    };
    let body = json!({ "group_id": group.as_ref().map(|g| g.id) });
    let _: ConversationOut = api
        .call(
            Method::PATCH,
            &format!("/api/conversations/{id}"),
            Some(body),
        )
        .await?;
    match group {
        Some(g) => println!("Moved {id} to “{}”.", g.name),
        None => println!("Took {id} out of its folder."),
    }
    Ok(())
}

pub async fn star(api: &mut Api, id: Uuid, favorite: bool) -> CliResult<()> {
    let body = json!({ "favorite": favorite });
    let c: ConversationOut = api
        .call(
            Method::PATCH,
            &format!("/api/conversations/{id}"),
            Some(body),
        )
        .await?;
    let title = c.title.as_deref().unwrap_or("(untitled)");
    if favorite {
        println!("Starred “{title}”.");
    } else {
        println!("Unstarred “{title}”.");
    }
    Ok(())
}
