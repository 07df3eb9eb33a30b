# Sourced by the lab scripts: take /tmp/netlab.lock (one lab per machine) on fd 9 for the
# rest of the script, unless a process we descend from already holds it (e.g.
# `flock /tmp/netlab.lock cargo test --test lab_daemon_life -- --ignored`): waiting for our
# own ancestor would deadlock every lab on the machine.
# shellcheck shell=bash

# True if an ancestor of this shell holds an flock on file $1 (per /proc/locks).
netlab_lock_held_by_ancestor() {
    local ino holders h p
    ino="$(stat -c %i "$1" 2>/dev/null)" || return 1
    # Holders only: waiting entries read "N: -> FLOCK ...".
    holders="$(awk -v ino="$ino" '$2 == "FLOCK" { n = split($6, d, ":"); if (d[n] == ino) print $5 }' /proc/locks 2>/dev/null)"
    [ -n "$holders" ] || return 1
    p=$$
    while [ -n "$p" ] && [ "$p" -gt 1 ]; do
        for h in $holders; do
            [ "$h" = "$p" ] && return 0
        done
        p="$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)"
    done
    return 1
}

# Locks file $1 on fd 9 (waiting for it), unless an ancestor holds it.
netlab_lock_file() {
    exec 9>>"$1"
    netlab_lock_held_by_ancestor "$1" && return 0
    flock 9
}

netlab_lock() {
    netlab_lock_file /tmp/netlab.lock
}
