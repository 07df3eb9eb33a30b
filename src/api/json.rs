//! The versioned JSON rendering of a [`Snapshot`] (`cl_status summary --json`), written by hand
//! (no serde). Schema: docs/administration.md. Keys are emitted in a fixed order so the
//! output is stable for diffing.

use super::snapshot::Snapshot;

/// Bumped on any incompatible change of the layout; additions keep the number.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// Appends `s` as a JSON string literal.
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn key(out: &mut String, first: &mut bool, k: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    string(out, k);
    out.push(':');
}

/// Renders the snapshot as one line of JSON (no trailing newline).
pub fn render(s: &Snapshot) -> String {
    let mut o = String::with_capacity(1024);
    o.push('{');
    let f = &mut true;
    key(&mut o, f, "schema");
    string(&mut o, "heartbeat-rs/status");
    key(&mut o, f, "schema_version");
    o.push_str(&JSON_SCHEMA_VERSION.to_string());
    key(&mut o, f, "taken_at");
    o.push_str(&s.taken_unix.to_string());
    key(&mut o, f, "heartbeat_version");
    string(&mut o, &s.version);
    key(&mut o, f, "local_node");
    string(&mut o, &s.local_node);
    key(&mut o, f, "managed_by");
    string(&mut o, &s.managed_by);
    key(&mut o, f, "resources_held");
    string(&mut o, s.rsc.as_str());

    key(&mut o, f, "nodes");
    o.push('[');
    for (i, n) in s.nodes.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push('{');
        let g = &mut true;
        key(&mut o, g, "name");
        string(&mut o, &n.name);
        key(&mut o, g, "type");
        string(&mut o, n.kind.as_str());
        key(&mut o, g, "status");
        string(&mut o, n.status.as_str());
        key(&mut o, g, "weight");
        o.push_str(&n.weight.to_string());
        key(&mut o, g, "site");
        string(&mut o, &n.site);
        key(&mut o, g, "links");
        o.push('[');
        for (j, l) in n.links.iter().enumerate() {
            if j > 0 {
                o.push(',');
            }
            o.push_str("{\"name\":");
            string(&mut o, &l.name);
            o.push_str(",\"status\":");
            string(&mut o, l.status.as_str());
            o.push('}');
        }
        o.push_str("]}");
    }
    o.push(']');

    key(&mut o, f, "groups");
    o.push('[');
    for (i, gv) in s.groups.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push('{');
        let g = &mut true;
        key(&mut o, g, "owner");
        string(&mut o, &gv.owner);
        key(&mut o, g, "resources");
        string(&mut o, &gv.resources);
        key(&mut o, g, "holder");
        match &gv.holder {
            Some(h) => string(&mut o, h),
            None => o.push_str("null"),
        }
        key(&mut o, g, "state");
        string(&mut o, &gv.state);
        key(&mut o, g, "last_transition");
        match &gv.last {
            Some(t) => {
                o.push_str("{\"cause\":");
                string(&mut o, &t.cause);
                o.push_str(",\"at\":");
                o.push_str(&t.at_unix.to_string());
                o.push('}');
            }
            None => o.push_str("null"),
        }
        o.push('}');
    }
    o.push(']');

    key(&mut o, f, "fencing");
    o.push('[');
    for (i, fv) in s.fencing.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push('{');
        let g = &mut true;
        key(&mut o, g, "node");
        string(&mut o, &fv.node);
        key(&mut o, g, "device");
        string(&mut o, &fv.device);
        key(&mut o, g, "in_progress");
        o.push_str(if fv.in_progress { "true" } else { "false" });
        key(&mut o, g, "needs_operator");
        o.push_str(if fv.needs_operator { "true" } else { "false" });
        key(&mut o, g, "attempts");
        o.push_str(&fv.attempts.to_string());
        key(&mut o, g, "last_result");
        match &fv.last {
            Some(r) => {
                o.push_str("{\"ok\":");
                o.push_str(if r.ok { "true" } else { "false" });
                o.push_str(",\"at\":");
                o.push_str(&r.at_unix.to_string());
                o.push('}');
            }
            None => o.push_str("null"),
        }
        o.push('}');
    }
    o.push(']');

    key(&mut o, f, "clients");
    o.push('{');
    let g = &mut true;
    for (c, st) in &s.clients {
        key(&mut o, g, c);
        string(&mut o, st.as_str());
    }
    o.push('}');

    key(&mut o, f, "parameters");
    o.push('{');
    let g = &mut true;
    for (k, v) in &s.parameters {
        key(&mut o, g, k);
        string(&mut o, v);
    }
    o.push_str("}}");
    o
}
