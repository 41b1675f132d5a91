//! `agentos policy capabilities`: the capability map of the running stack (which identity may
//! call what, and which state scopes are whose), over `GET /v1/security/capabilities`.

use serde_json::Value;

use crate::client::Client;
use crate::status::block_on;

/// The route this command calls.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/v1/security/capabilities")];

/// Prints the map (or its JSON).
pub fn run(json: bool) -> anyhow::Result<()> {
    let home = agentos_supervisor::Home::discover()?;
    let client = Client::discover(&home)?;
    let map = block_on(client.get("/v1/security/capabilities"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&map)?);
        return Ok(());
    }
    print!("{}", render(&map));
    Ok(())
}

fn list(value: &Value) -> String {
    let items: Vec<&str> = value.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if items.is_empty() { "nobody".to_string() } else { items.join(", ") }
}

/// `only a, b` for a list of identities, `nobody` for none.
fn only(value: &Value) -> String {
    match list(value).as_str() {
        "nobody" => "nobody".to_string(),
        some => format!("only {some}"),
    }
}

/// The map as text: guarded functions, guarded scopes, forbidden built-ins, identities.
pub fn render(map: &Value) -> String {
    let mut out = String::from("Built-in workers may call any function except these (people use the REST API):\n");
    for g in map["guarded_calls"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {:<24} {}: {}\n",
            g["functions"].as_str().unwrap_or_default(),
            only(&g["callers"]),
            g["reason"].as_str().unwrap_or_default()
        ));
    }
    out.push_str("State scopes only their owners may read or write:\n");
    for g in map["guarded_scopes"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {:<24} {}: {}\n",
            g["scopes"].as_str().unwrap_or_default(),
            only(&g["owners"]),
            g["reason"].as_str().unwrap_or_default()
        ));
    }
    out.push_str(&format!("Engine functions no worker may call: {}\n", list(&map["forbidden_engine_functions"])));
    out.push_str(&format!(
        "External workers also may not call: {}\n",
        list(&map["forbidden_engine_functions_external"])
    ));
    out.push_str("External workers call only their own namespaces and what their token grants, and keep state in scopes named after their namespaces.\n");
    out.push_str("Identities (agentos token list shows the same):\n");
    for i in map["identities"].as_array().into_iter().flatten() {
        let calls = list(&i["calls"]);
        out.push_str(&format!(
            "  {:<20} {:<9} owns {}{}\n",
            i["identity"].as_str().unwrap_or_default(),
            i["kind"].as_str().unwrap_or_default(),
            list(&i["namespaces"]),
            if i["calls"].as_array().is_some_and(|c| !c.is_empty()) {
                format!("; may call {calls}")
            } else {
                String::new()
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::render;

    #[test]
    fn the_map_reads_as_sentences() {
        let map = json!({
            "guarded_calls": [
                {"functions": "code::*", "callers": ["agent-core"], "reason": "tools run in a turn"},
                {"functions": "replay::delete", "callers": [], "reason": "REST only"}
            ],
            "guarded_scopes": [{"scopes": "approval:*", "owners": ["approval"], "reason": "grants"}],
            "forbidden_engine_functions": ["engine::traces::clear"],
            "forbidden_engine_functions_external": [],
            "identities": [
                {"identity": "py", "kind": "external", "namespaces": ["py"], "calls": ["llm::complete"]},
                {"identity": "realm", "kind": "worker", "namespaces": ["realm"], "calls": []}
            ]
        });
        let text = render(&map);
        assert!(text.contains("  code::*                  only agent-core: tools run in a turn\n"), "{text}");
        assert!(text.contains("  replay::delete           nobody: REST only\n"), "{text}");
        assert!(text.contains("  approval:*               only approval: grants\n"), "{text}");
        assert!(text.contains("Engine functions no worker may call: engine::traces::clear\n"), "{text}");
        assert!(text.contains("External workers also may not call: nobody\n"), "{text}");
        assert!(text.contains("  py                   external  owns py; may call llm::complete\n"), "{text}");
        assert!(text.contains("  realm                worker    owns realm\n"), "{text}");
    }
}
