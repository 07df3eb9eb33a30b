//! The versioned JSON rendering of a [`Snapshot`] (`cl_status summary --json`), written by hand
//! (no serde). Schema: docs/administration.md. Keys are emitted in a fixed order so the
//! output is stable for diffing.

use super::snapshot::{FenceWant, Snapshot};

/// Bumped on any incompatible change of the layout; additions keep the number. 2: fencing
/// entries show the core's state (`in_progress` now means "wanted, not yet succeeded",
/// `attempts` counts since the node was declared dead, `device` may be null); `guard` added.
pub const JSON_SCHEMA_VERSION: u32 = 2;

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

fn bool(out: &mut String, b: bool) {
    out.push_str(if b { "true" } else { "false" });
}

fn number_or_null(out: &mut String, n: Option<u64>) {
    match n {
        Some(n) => out.push_str(&n.to_string()),
        None => out.push_str("null"),
    }
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
        match &fv.device {
            Some(d) => string(&mut o, d),
            None => o.push_str("null"),
        }
        key(&mut o, g, "in_progress");
        bool(&mut o, fv.want.in_progress());
        key(&mut o, g, "state");
        string(
            &mut o,
            match fv.want {
                FenceWant::Settled => "settled",
                FenceWant::Attempt => "attempt",
                FenceWant::RaceDelay { .. } => "race_delay",
                FenceWant::Retry { .. } => "retry",
            },
        );
        key(&mut o, g, "next_attempt");
        number_or_null(&mut o, fv.want.next_attempt_unix());
        key(&mut o, g, "device_run");
        string(&mut o, fv.device_run.as_str());
        key(&mut o, g, "attempts");
        o.push_str(&fv.attempts.to_string());
        key(&mut o, g, "last_result");
        match &fv.last {
            Some(r) => {
                o.push_str("{\"ok\":");
                bool(&mut o, r.ok);
                o.push_str(",\"at\":");
                o.push_str(&r.at_unix.to_string());
                o.push('}');
            }
            None => o.push_str("null"),
        }
        o.push('}');
    }
    o.push(']');

    key(&mut o, f, "guard");
    let gv = &s.guard;
    o.push('{');
    let g = &mut true;
    key(&mut o, g, "isolated");
    bool(&mut o, gv.isolated);
    key(&mut o, g, "ping_visible");
    o.push_str(&gv.ping_visible.to_string());
    key(&mut o, g, "ping_total");
    o.push_str(&gv.ping_total.to_string());
    key(&mut o, g, "ipfail");
    match &gv.ipfail {
        None => o.push_str("null"),
        Some(i) => {
            o.push_str("{\"peer_ping_visible\":");
            number_or_null(&mut o, i.peer_ping_visible);
            o.push_str(",\"giveup\":");
            match &i.giveup {
                None => o.push_str("null"),
                Some(h) => {
                    o.push_str("{\"hold\":");
                    string(&mut o, h.hold.as_str());
                    o.push_str(",\"at\":");
                    o.push_str(&h.at_unix.to_string());
                    o.push('}');
                }
            }
            o.push('}');
        }
    }
    o.push('}');

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
