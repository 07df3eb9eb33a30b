//! The cluster state machine: one node's view of membership, transport and v1 resource
//! negotiation. Pure: `handle(now, input)` in, `poll_action()` out.
