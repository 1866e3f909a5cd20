# tests/images.sh — images, copy-on-write disks, cloud-init seeds, kernel
# boot and guest addresses, with a real guest OS (sourced by
# tests/integration.sh, which gives it a node of its own: $IT_URI).
#
# The guest is tools/testguest's: a Debian cloud kernel and busybox, booted
# directly (spec.boot) under TCG, its serial console logged to a file
# (spec.consoleLog). It prints fixed lines the cases wait for:
#   qkvm-guest: block NAME SIZE head=TEXT     a disk, with its first bytes
#   qkvm-guest: ip ADDR/PREFIX                its DHCP lease
#   qkvm-guest: user-data exit N              a #! user-data was run
#   qkvm-guest: ready
#   qkvm-guest: block added NAME SIZE ...     a disk hot-plugged later
#   qkvm-guest: power button                  the ACPI button: it powers off
# The image is served by a real nginx on 127.0.0.1 (tools/httpd), whose
# access log tells how many times it was downloaded.

# wait_console FILE PATTERN [SECONDS]: until FILE has a line matching
# PATTERN (bounded: a guest that never gets there fails the case, it does
# not hang the suite). Under TCG on a loaded 2-core machine a boot takes
# 4 to 12 s; the bound is generous.
wait_console() {
    local f=$1 pat=$2 max=${3:-240} i=0
    while ! grep -qE -- "$pat" "$f" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt $((max * 10)) ] && return 1
        sleep 0.1
    done
}

# The manifests: a pool, an isolated network with DHCP, an Image served
# over HTTP, two VMs each on a disk made from it, booting the test guest.
ig_write() {
    local dir=$1 url=$2 sha=$3 extra=${4:-}
    mkdir -p "$dir"
    cat >"$dir/base.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: ig-pool}
spec: {path: $IG/pool}
---
apiVersion: qkvm.dev/v1
kind: Network
metadata: {name: ig-net}
spec: {mode: isolated, cidr: 10.83.0.0/24, dhcp: {start: 10.83.0.100, end: 10.83.0.199}}
---
apiVersion: qkvm.dev/v1
kind: Image
metadata: {name: base}
spec: {url: "$url", sha256: $sha, format: raw, pool: ig-pool}
EOF
    local n
    for n in 1 2; do
        cat >"$dir/vm$n.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: ig-$n-root}
spec: {pool: ig-pool, from: {image: base}, size: 8MiB}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: ig-$n}
spec:
  memory: 192MiB
  accel: tcg
  boot: {kernel: $GUEST_KERNEL, initrd: $GUEST_INITRD, cmdline: "console=ttyS0"}
  consoleLog: $IG/console-$n.log
  disks: [{disk: ig-$n-root}]
  nics: [{network: ig-net}]
  cloudInit:
    userData: |
      #!/bin/sh
      echo "hello from user-data of ig-$n"
EOF
    done
    [ -z "$extra" ] || printf '%s\n' "$extra" >"$dir/extra.yaml"
}

gets() {   # NAME COUNT: nginx served the image COUNT times (GET, 200 or 206)
    local n
    n=$(grep -c '^GET /base.img ' "$IG/httpd/access.log" 2>/dev/null || true)
    if [ "${n:-0}" = "$2" ]; then pass "$1"; else
        fail "$1" "$n GETs: $(cat "$IG/httpd/access.log")"; fi
}

# ig_set FILE PROJECT POOL PATH: a project of its own with one pool (the
# fault cases below never touch the main set's objects)
ig_set() {
    printf 'apiVersion: qkvm.dev/v1\nkind: Project\nmetadata: {name: %s}\n---\n' "$2" >"$1"
    printf 'apiVersion: qkvm.dev/v1\nkind: Pool\nmetadata: {name: %s}\nspec: {path: %s}\n' \
        "$3" "$4" >>"$1"
}

# ig_image FILE IMAGE URL SHA POOL DISK: append a raw Image and a Disk made from it
ig_image() {
    cat >>"$1" <<EOF
---
apiVersion: qkvm.dev/v1
kind: Image
metadata: {name: $2}
spec: {url: "$3", sha256: "$4", format: raw, pool: $5}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: $6}
spec: {pool: $5, from: {image: $2}}
EOF
}

ig_cases() {
    ig_body
    tools/httpd stop "$TESTTMP/ig/httpd"
    unset QKVM_CACHE_DIR
}

ig_body() {
    IG="$TESTTMP/ig"
    IT_STATE="$IG/state.db"
    mkdir -p "$IG/www" "$IG/pool" "$IG/cache"
    local G
    if ! G=$(tools/testguest build "$BUILD/guest" 2>"$IG/guest.err"); then
        fail "the test guest builds (tools/testguest)" "$(cat "$IG/guest.err")"
        return
    fi
    GUEST_KERNEL=$(printf '%s\n' "$G" | sed -n 1p)
    GUEST_INITRD=$(printf '%s\n' "$G" | sed -n 2p)
    # a raw image whose first bytes are a marker the guest prints
    { printf 'QKVM-IMAGE-MARKER-7f3a'; head -c 4194282 /dev/urandom; } >"$IG/www/base.img"
    local sha
    sha=$(sha256sum "$IG/www/base.img" | cut -d' ' -f1)
    local port
    port=$(tools/httpd port)
    if ! tools/httpd start "$IG/httpd" "$IG/www" "$port" 512k >/dev/null 2>"$IG/httpd.err"; then
        fail "nginx serves the images on 127.0.0.1" "$(cat "$IG/httpd.err")"
        return
    fi
    local M="$IG/m" url="http://127.0.0.1:$port/base.img"
    ig_write "$M" "$url" "$sha"
    export QKVM_CACHE_DIR="$IG/cache"

    # --- plan: the image, two overlays on it, two VMs
    q plan -f "$M" --detailed-exitcode
    expect "plan: the image is created once, the disks are overlays of it" 2 \
        "\+ +image/base" "\+ +disk/ig-1-root" "copy-on-write overlay of image base"
    q apply -f "$M" --yes
    expect "apply: image, disks from it, seeds, two guests" 0 "image/base: created" \
        "disk/ig-1-root: created" "disk/ig-2-root: created" "vm/ig-1: started" "vm/ig-2: started"
    gets "two disks of one image: one download" 1
    local vol="base.${sha:0:16}.raw"
    holds "one image volume in the pool, named by its digest" \
        '[ "$(V vol-list ig-pool | grep -c "base\.")" = 1 ] && V vol-info --pool ig-pool "'"$vol"'" >/dev/null'
    holds "the image volume holds the image" 'cmp -s "$IG/pool/'"$vol"'" "$IG/www/base.img"'
    holds "the image volume is recorded with its digest" \
        '[ "$(sqlite3 "$IT_STATE" "SELECT digest FROM owned WHERE volume = '"'$vol'"'")" = "'"$sha"'" ]'
    holds "each disk is a qcow2 overlay backed by the image volume" \
        'qemu-img info -U "$IG/pool/ig-1-root" | grep -q "backing file: $IG/pool/'"$vol"'" && qemu-img info -U "$IG/pool/ig-2-root" | grep -q "backing file: $IG/pool/'"$vol"'"'
    holds "the overlay's virtual size is the declared one" \
        'qemu-img info -U "$IG/pool/ig-1-root" | grep -q "virtual size: 8 MiB"'
    holds "each VM has its seed next to its first disk" \
        'V vol-info --pool ig-pool ig-1.cidata.iso >/dev/null && V vol-info --pool ig-pool ig-2.cidata.iso >/dev/null'
    holds "the seed is attached as a read-only cdrom" \
        'V dumpxml ig-1 | grep -q "device=.cdrom" && V dumpxml ig-1 | grep -q "<readonly/>"'

    # --- the guests boot: DHCP, the image's bytes, user-data
    local n ok=1
    for n in 1 2; do
        wait_console "$IG/console-$n.log" "qkvm-guest: ready" || ok=0
    done
    if [ $ok = 1 ]; then pass "both guests boot (console: ready)"; else
        fail "both guests boot (console: ready)" "$(tail -5 "$IG"/console-*.log)"; return; fi
    holds "a disk from an image is readable in the guest (the marker)" \
        'grep -q "qkvm-guest: block vda .*head=QKVM-IMAGE-MARKER-7f3a" "$IG/console-1.log"'
    holds "cloud-init user-data (#!) ran in the guest" \
        'grep -q "hello from user-data of ig-1" "$IG/console-1.log" && grep -q "qkvm-guest: user-data exit 0" "$IG/console-1.log"'
    local gip lip
    gip=$(sed -n 's/.*qkvm-guest: ip \([0-9.]*\)\/.*/\1/p' "$IG/console-1.log" | head -1)
    holds "the guest got an address by DHCP" '[ -n "$gip" ]'
    lip=$(V net-dhcp-leases ig-net | awk -v m="$(V domiflist ig-1 | awk 'NR>0{print $5}' | head -1)" '$3 == m {print $5}')
    holds "the lease and the guest agree" '[ "${lip%/*}" = "$gip" ]'
    q get vms -f "$M"
    expect "get vms shows the guest's address" 0 "ig-1 .* $gip "
    q get vm ig-1 -f "$M" -o json
    expect "get -o json: the address of each NIC" 0 "\"ip\": \"$gip/24\"" '"network": "ig-net"'
    no_changes "images" "$M"

    # --- hot-plug: the guest sees a new disk
    cat >"$M/data.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: ig-1-data}
spec: {pool: ig-pool, size: 4MiB}
EOF
    sed -i 's/disks: \[{disk: ig-1-root}\]/disks: [{disk: ig-1-root}, {disk: ig-1-data}]/' "$M/vm1.yaml"
    q apply -f "$M" --yes
    expect "hot-plug a disk into the running guest" 0 "vm/ig-1: updated"
    if wait_console "$IG/console-1.log" "qkvm-guest: block added vdb" 60; then
        pass "the guest sees the hot-plugged disk"
    else
        fail "the guest sees the hot-plugged disk" "$(tail -5 "$IG/console-1.log")"
    fi

    # --- a new seed: restart-required, and the guest runs the new user-data
    sed -i 's/hello from user-data of ig-1/second user-data of ig-1/' "$M/vm1.yaml"
    q plan -f "$M"
    expect "a changed cloudInit is a restart-required update" 0 "cloudInit: seed [0-9a-f]+ → seed [0-9a-f]+" \
        "restart"
    local t0 t1
    t0=$(date +%s)
    q apply -f "$M" --yes --restart
    t1=$(date +%s)
    expect "apply --restart: seed rewritten, guest restarted" 0 "vm/ig-1: restarted"
    if printf '%s\n' "$out" | grep -q "did not power off"; then
        fail "graceful stop: the guest powered off on the ACPI button" "$out"
    else
        pass "graceful stop: the guest powered off on the ACPI button ($((t1 - t0)) s for the restart)"
    fi
    if wait_console "$IG/console-1.log" "second user-data of ig-1"; then
        pass "after the restart the guest ran the new user-data"
    else
        fail "after the restart the guest ran the new user-data" "$(tail -8 "$IG/console-1.log")"
    fi
    no_changes "restart" "$M"

    # --- stop: graceful, in seconds (not the timeout)
    sed -i 's/  accel: tcg/  accel: tcg\n  state: stopped/' "$M/vm2.yaml"
    q apply -f "$M" --yes --shutdown-timeout 120
    expect "state: stopped" 0 "vm/ig-2: stopped"
    if printf '%s\n' "$out" | grep -q "did not power off"; then
        fail "graceful stop of a real guest" "$out"
    else
        pass "graceful stop of a real guest (the power button, not the timeout)"
    fi
    holds "the guest said it saw the power button" 'grep -q "qkvm-guest: power button" "$IG/console-2.log"'

    # --- the server killed mid-download: apply fails clearly, keeps the
    # partial file, and the next apply resumes it with a Range request
    mkdir -p "$IG/www/slow" "$IG/r"
    head -c 6291456 /dev/urandom >"$IG/www/slow/big.img"
    local bsha part
    bsha=$(sha256sum "$IG/www/slow/big.img" | cut -d' ' -f1)
    part="$IG/cache/sha256/$bsha.part"
    ig_set "$IG/r/r.yaml" resume ig-res "$IG/respool"
    ig_image "$IG/r/r.yaml" big "http://127.0.0.1:$port/slow/big.img" "$bsha" ig-res res-root
    QKVM_FETCH_BACKOFF_MS=50 $WRAP "$QKVM" -c "$IT_URI" --state "$IG/res.db" apply -f "$IG/r" --yes \
        >"$IG/res.out" 2>&1 &
    local apid=$! arc=0 i=0
    while [ "$(stat -c %s "$part" 2>/dev/null || echo 0)" -lt 1048576 ] && [ $i -lt 1200 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$(cat "$IG/httpd/server.pid")"
    wait "$apid" || arc=$?
    holds "server killed mid-download: the apply fails (exit 1), naming the image" \
        '[ "$arc" = 1 ] && grep -q "image/big: create FAILED: .*cannot download" "$IG/res.out"'
    holds "... the partial download is kept for the next run" '[ -s "$part" ]'
    holds "... no volume of the image" '! V vol-list ig-res | grep -q "big\."'
    tools/httpd stop "$IG/httpd"
    if tools/httpd start "$IG/httpd" "$IG/www" "$port" >/dev/null 2>"$IG/httpd.err"; then
        IT_STATE="$IG/res.db" q apply -f "$IG/r" --yes
        expect "the next apply resumes the download and succeeds" 0 "image/big: created" \
            "disk/res-root: created"
        holds "... with a Range request from where it stopped, answered 206" \
            'grep -q "^GET /slow/big.img HTTP/1.1 206 \"bytes=[1-9][0-9]*-\"" "$IG/httpd/access.log"'
        holds "... and the volume holds the whole image" \
            'cmp -s "$IG/respool/big.${bsha:0:16}.raw" "$IG/www/slow/big.img"'
        # an upload recorded as unfinished (a run killed in the middle): never
        # replaced while a disk is built on it; replaced once nothing is
        sqlite3 "$IG/res.db" "UPDATE owned SET digest = '-' WHERE volume LIKE 'big.%'"
        IT_STATE="$IG/res.db" q plan -f "$IG/r"
        expect "an image volume whose upload did not finish, with a disk on it: left alone" 0 \
            "image/big .*did not finish, but volume ig-res/res-root is built on it"
        V vol-delete --pool ig-res res-root >/dev/null
        IT_STATE="$IG/res.db" q apply -f "$IG/r" --yes
        expect "... with nothing on it: deleted and uploaded again, then the disk" 0 \
            "image/big: replaced" "disk/res-root: created"
        holds "... and recorded complete, with its digest" \
            '[ "$(sqlite3 "$IG/res.db" "SELECT digest FROM owned WHERE volume LIKE '"'big.%'"'")" = "$bsha" ]'
    else
        fail "nginx restarts" "$(cat "$IG/httpd.err")"
    fi

    # --- a wrong digest: the image fails, no volume, its dependents skipped
    local B="$IG/bad"
    mkdir -p "$B"
    ig_set "$B/bad.yaml" bad ig-bad "$IG/badpool"
    ig_image "$B/bad.yaml" wrong "$url" "$(printf '%064d' 0)" ig-bad bad-root
    ig_image "$B/bad.yaml" gone "http://127.0.0.1:$port/nothing.img" "$(printf '%064d' 1)" \
        ig-bad gone-root
    IT_STATE="$IG/bad.db" q apply -f "$B" --yes
    expect "a wrong digest fails the image with both digests" 1 \
        "image/wrong: .*$sha" "image/wrong: .*0000000000000000" "disk/bad-root: skipped"
    expect "a 404 is a clear message" 1 "image/gone: .*404"
    holds "no volume of a failed image" '! V vol-list ig-bad | grep -q "wrong\.\|gone\."'
    holds "no file of a failed download in the cache" \
        '! ls "$IG/cache/sha256/" | grep -v "\.lock$" | grep -q "^0000"'

    # --- a pool too small for the image: the partial volume is removed. The
    # tmpfs is mounted in the node's own mount namespace, where its libvirtd
    # (and nothing else) sees it; it goes with the node.
    local holder
    holder=$(cat "${QKVM_TESTBED:-/tmp/qkvm-testbed}/$IT_NODE/pid")
    mkdir -p "$IG/small"
    if nsenter -t "$holder" -m mount -t tmpfs -o size=2m tmpfs "$IG/small"; then
        local S="$IG/s"
        mkdir -p "$S"
        ig_set "$S/small.yaml" small ig-small "$IG/small"
        ig_image "$S/small.yaml" base "$url" "$sha" ig-small small-root
        IT_STATE="$IG/small.db" q apply -f "$S" --yes
        expect "a full pool: the image fails with a clear error" 1 "image/base: .*(space|No space)" \
            "disk/small-root: skipped"
        gets "the image came from the cache, not the server (the 2nd GET was image/wrong's)" 2
        holds "a full pool: no partial volume left" '! V vol-list ig-small | grep -q "base\."'
        holds "a full pool: the file is gone too" \
            '! nsenter -t "$holder" -m ls "$IG/small" | grep -q "base\."'
    else
        fail "a tmpfs for the full-pool case mounts in the node's namespace" "nsenter mount failed"
    fi
}
