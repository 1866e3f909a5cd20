# tests/fetch.sh — image downloads (qkvm pull) against real servers on
# 127.0.0.1 (sourced by tests/run; alone: `QKVM=./qkvm bash tests/fetch.sh`,
# which prints its own "N passed, N failed").
#
# nginx (Debian's nginx-light) serves files the test makes (a few MiB of
# random data each) from a config the test writes into $TESTTMP: one
# process (master_process off), its access log recording
# `$request $status "$http_range"` so the checks can count GETs and see
# Range requests; /slow/ is rate-limited so a download can be caught and
# interrupted midway; /forbidden/ answers 403. An S3 server
# (@20minutes/s3rver, installed into build/s3rver by `tools/install-deps
# s3`, which `make check` runs) checks Signature Version 4 with its built-in
# S3RVER/S3RVER account. Ports are chosen free at run time; both servers
# are ended by PID. Every wait is a bounded poll for an event (a port that
# answers, a .part that has grown); no check depends on the machine's speed.
# The small-cache cases mount a tmpfs in a mount namespace of their own
# (unshare -m), which disappears with the process: nothing to unmount.
if [ -z "${passed+x}" ]; then
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
    fetch_alone=1
fi
FETCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# the backoff between retries, short for the tests (fetch.h)
export QKVM_FETCH_BACKOFF_MS=20
# the servers are local: never through a proxy
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

FT=$TESTTMP/fetch
NGINX_PID="" S3_PID=""

fetch_cleanup() {
    if [ -n "$NGINX_PID" ]; then tools/httpd stop "$FT/nginx"; fi
    if [ -n "$S3_PID" ]; then kill "$S3_PID" 2>/dev/null; wait "$S3_PID" 2>/dev/null; fi
    NGINX_PID="" S3_PID=""
}

ft_port() { tools/httpd port; }

ft_answers() { curl -s -o /dev/null --max-time 2 "$1"; }
ft_gone() { ! kill -0 "$1" 2>/dev/null; }

# ft_nginx RATE: nginx on $NPORT (tools/httpd), /slow/ limited to RATE (0: unlimited)
ft_nginx() {
    NGINX_PID=$(tools/httpd start "$FT/nginx" "$FT/www" "$NPORT" "$1" 2>>"$FT/nginx/stderr")
}

ft_s3rver() {
    cat >"$FT/s3rver.js" <<'EOF'
// the S3 server's command line (its package ships lib/cli.js, not a bin)
require(process.env.S3RVER_CLI).parseAsync(process.argv);
EOF
    mkdir -p "$FT/s3data"
    S3RVER_CLI=$S3DIR/node_modules/@20minutes/s3rver/lib/cli.js \
        node "$FT/s3rver.js" -d "$FT/s3data" -a 127.0.0.1 -p "$S3PORT" \
        --configure-bucket images >"$FT/s3rver.log" 2>&1 &
    S3_PID=$!
    wait_until 300 ft_answers "http://127.0.0.1:$S3PORT/"
}

ft_gets() { grep -c "^GET $1 " "$FT/nginx/access.log" 2>/dev/null; }

# ft_pull NAME EXIT OUT_RE ERR_RE -- ARGS...: run qkvm (bounded by timeout)
# with ARGS; EXIT, and grep -E patterns on stdout and stderr ('' must be
# empty, '*' anything)
ft_pull() {
    local name=$1 want=$2 out_pat=$3 err_pat=$4; shift 5
    local rc=0 why=""
    timeout 300 $WRAP "$QKVM" "$@" >"$FT/o" 2>"$FT/e" || rc=$?
    [ "$rc" -eq "$want" ] || why="exit $rc, expected $want"
    case "$out_pat" in
    '*') ;;
    '') [ -z "$why" ] && [ -s "$FT/o" ] && why="stdout not empty" ;;
    *) [ -z "$why" ] && ! grep -qE -- "$out_pat" "$FT/o" && why="stdout lacks /$out_pat/" ;;
    esac
    case "$err_pat" in
    '*') ;;
    '') [ -z "$why" ] && [ -s "$FT/e" ] && why="stderr not empty" ;;
    *) [ -z "$why" ] && ! grep -qE -- "$err_pat" "$FT/e" && why="stderr lacks /$err_pat/" ;;
    esac
    if [ -z "$why" ]; then
        pass "$name"
    else
        fail "$name" "$why
stdout: $(head -c 800 "$FT/o")
stderr: $(head -c 1500 "$FT/e")"
    fi
}

# ft_holds NAME SHELL-CONDITION [FILE]: FILE's head is shown when it fails
ft_holds() {
    if eval "$2"; then
        pass "$1"
    else
        fail "$1" "not true: $2${3:+
$3: $(head -c 1500 "$3" 2>&1)}"
    fi
}

# ft_image NAME URL SHA256 [S3-BLOCK]: one Image document (ft_manifests DIR
# writes the Pool it names)
ft_image() {
    cat <<EOF
apiVersion: qkvm.dev/v1
kind: Image
metadata: {name: $1}
spec:
  url: $2
  sha256: $3
  pool: images
${4:-}
---
EOF
}
ft_manifests() {   # DIR: a directory with the Pool; Images are added to DIR/images.yaml
    mkdir -p "$1"
    cat >"$1/pool.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: images}
spec: {type: dir, path: $FT/pool}
EOF
}

ft_json() {   # FILE INDEX FIELD: a field of images[INDEX] of pull -o json
    python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["images"][int(sys.argv[2])][sys.argv[3]]))' "$@"
}

fetch_cases() {
    local U="http://127.0.0.1:$NPORT" C=$FT/cache
    local sha_a sha_d sha_c sha_big sha_fill sha_ch
    sha_a=$(sha256sum "$FT/www/img/a.img" | cut -d' ' -f1)
    sha_d=$(sha256sum "$FT/www/img/d.img" | cut -d' ' -f1)
    sha_c=$(sha256sum "$FT/www/img/c.img" | cut -d' ' -f1)
    sha_big=$(sha256sum "$FT/www/slow/big.img" | cut -d' ' -f1)
    sha_fill=$(sha256sum "$FT/www/slow/fill.img" | cut -d' ' -f1)
    sha_ch=$(sha256sum "$FT/www/img/changed.img" | cut -d' ' -f1)

    # --- http: cold, then cached
    ft_manifests "$FT/m/http"
    ft_image a "$U/img/a.img" "$sha_a" >"$FT/m/http/images.yaml"
    ft_pull "http: a cold download is downloaded and verified" 0 \
        '^image/a: downloaded 4\.0 MiB in [0-9.]+ s, sha256 verified$' '*' -- \
        pull -f "$FT/m/http" --cache-dir "$C"
    ft_holds "... the file is in the cache under its digest, read-only, the same bytes" \
        '[ "$(stat -c %a "$C/sha256/$sha_a")" = 444 ] && cmp -s "$C/sha256/$sha_a" "$FT/www/img/a.img"'
    ft_holds "... nothing partial is left" \
        '[ ! -e "$C/sha256/$sha_a.part" ] && [ ! -e "$C/sha256/$sha_a.part.meta" ]'
    ft_holds "... the cache directory is private (0700)" '[ "$(stat -c %a "$C/sha256")" = 700 ]'
    ft_holds "... one GET" '[ "$(ft_gets /img/a.img)" = 1 ]'
    ft_pull "http: a second pull is cached" 0 '^image/a: cached$' '*' -- \
        pull -f "$FT/m/http" --cache-dir "$C"
    ft_holds "... and asks the server nothing" '[ "$(ft_gets /img/a.img)" = 1 ]'
    ft_pull "-q: nothing on stdout for success" 0 '' '*' -- pull -q -f "$FT/m/http" --cache-dir "$C"
    ft_pull "-o json: the cached image's document" 0 '"cached": true' '*' -- \
        pull -o json -f "$FT/m/http" --cache-dir "$C"
    ft_holds "... with its path, size and no error" \
        '[ "$(ft_json "$FT/o" 0 path)" = "\"$C/sha256/$sha_a\"" ] &&
         [ "$(ft_json "$FT/o" 0 size)" = 4194304 ] && [ "$(ft_json "$FT/o" 0 error)" = null ]'
    QKVM_CACHE_DIR=$C ft_pull "QKVM_CACHE_DIR is the cache when --cache-dir is not given" 0 \
        '^image/a: cached$' '*' -- pull -f "$FT/m/http"
    ft_pull "an unknown image name is an error, nothing is pulled" 1 '' "unknown image 'b' \(did you mean 'a'\?\)" -- \
        pull -f "$FT/m/http" --cache-dir "$FT/cache-unknown" b
    ft_holds "... the cache was not even created" '[ ! -e "$FT/cache-unknown" ]'
    ft_pull "--cache-dir is a flag of pull" 1 '' '--cache-dir is a flag of: pull' -- \
        validate -f "$FT/m/http" --cache-dir "$C"

    # --- two Images, one digest: one download
    ft_manifests "$FT/m/dup"
    { ft_image dup1 "$U/img/d.img" "$sha_d"; ft_image dup2 "$U/img/d.img" "$sha_d"; } >"$FT/m/dup/images.yaml"
    ft_pull "two Images with one sha256: the first is downloaded" 0 '^image/dup1: downloaded' '*' -- \
        pull -f "$FT/m/dup" --cache-dir "$C"
    ft_holds "... the second is cached" 'grep -q "^image/dup2: cached$" "$FT/o"'
    ft_holds "... one GET for both" '[ "$(ft_gets /img/d.img)" = 1 ]'

    # --- two processes at once: the second waits on the lock and finds it cached
    ft_manifests "$FT/m/conc"
    ft_image conc "$U/img/c.img" "$sha_c" >"$FT/m/conc/images.yaml"
    local p1 p2 r1=0 r2=0
    timeout 300 $WRAP "$QKVM" pull -f "$FT/m/conc" --cache-dir "$C" >"$FT/c1.o" 2>"$FT/c1.e" & p1=$!
    timeout 300 $WRAP "$QKVM" pull -f "$FT/m/conc" --cache-dir "$C" >"$FT/c2.o" 2>"$FT/c2.e" & p2=$!
    wait "$p1" || r1=$?
    wait "$p2" || r2=$?
    ft_holds "two pulls of one image at once both succeed" '[ "$r1" = 0 ] && [ "$r2" = 0 ]'
    ft_holds "... with one GET between them" '[ "$(ft_gets /img/c.img)" = 1 ]'
    ft_holds "... one downloaded it, the other found it cached" \
        'cat "$FT/c1.o" "$FT/c2.o" | grep -c "downloaded" | grep -qx 1 &&
         cat "$FT/c1.o" "$FT/c2.o" | grep -c ": cached$" | grep -qx 1'

    # --- a progress bar on a terminal only
    if command -v script >/dev/null; then
        ft_manifests "$FT/m/tty"
        ft_image tty "$U/img/a.img" "$sha_a" >"$FT/m/tty/images.yaml"
        script -qec "$WRAP $QKVM pull -f $FT/m/tty --cache-dir $FT/cache-tty" /dev/null >"$FT/tty.out" 2>&1
        ft_holds "a terminal shows a progress bar (rate, then cleared)" \
            'grep -q "tty: .*B/s" "$FT/tty.out" && grep -qF "$(printf "\r\033[K")" "$FT/tty.out"'
        ft_pull "... and no bar when stderr is not a terminal" 0 '^image/tty: downloaded' '*' -- \
            pull -f "$FT/m/tty" --cache-dir "$FT/cache-notty"
        ft_holds "... (no carriage return in stderr at all)" '! grep -q "$(printf "\r")" "$FT/e"'
    else
        skip "progress bar on a terminal" "script(1) is missing (bsdutils; tools/install-deps test)"
    fi

    # --- checksum mismatch: discarded
    ft_manifests "$FT/m/bad"
    local wrong=0000000000000000000000000000000000000000000000000000000000000bad
    ft_image bad "$U/img/d.img" "$wrong" >"$FT/m/bad/images.yaml"
    ft_pull "a wrong sha256: exit 1, both digests named" 1 '' \
        "image bad: the download's SHA-256 is $sha_d, the manifest says $wrong; the file was discarded" -- \
        pull -f "$FT/m/bad" --cache-dir "$FT/cache-bad"
    ft_holds "... no file under the digest, no .part, no meta" \
        '[ ! -e "$FT/cache-bad/sha256/$wrong" ] && [ ! -e "$FT/cache-bad/sha256/$wrong.part" ] &&
         [ ! -e "$FT/cache-bad/sha256/$wrong.part.meta" ]'

    # --- 404 and 403: clear, not retried
    ft_manifests "$FT/m/nf"
    ft_image nf "$U/img/missing.img" "$sha_a" >"$FT/m/nf/images.yaml"
    ft_pull "404: exit 1, the URL and the status" 1 '' \
        "image nf: http://127\.0\.0\.1:$NPORT/img/missing\.img answered 404 Not Found" -- \
        pull -f "$FT/m/nf" --cache-dir "$FT/cache-nf"
    ft_pull "... not retried (one attempt), nothing left behind" 1 '"attempts": 1' '*' -- \
        pull -o json -f "$FT/m/nf" --cache-dir "$FT/cache-nf"
    ft_holds "... (no .part)" '[ -z "$(ls "$FT/cache-nf/sha256" | grep -v "\.lock$")" ]'
    ft_manifests "$FT/m/fb"
    ft_image fb "$U/forbidden/a.img" "$sha_a" >"$FT/m/fb/images.yaml"
    ft_pull "403: exit 1, the URL and the status" 1 '' \
        "image fb: http://127\.0\.0\.1:$NPORT/forbidden/a\.img answered 403 Forbidden" -- \
        pull -f "$FT/m/fb" --cache-dir "$FT/cache-fb"
    ft_manifests "$FT/m/two"
    { ft_image nf "$U/img/missing.img" "$sha_a"; ft_image ok "$U/img/d.img" "$sha_d"; } >"$FT/m/two/images.yaml"
    ft_pull "one image failing does not stop the others (exit 1)" 1 '^image/ok: downloaded' \
        '1 of 2 images could not be pulled' -- pull -f "$FT/m/two" --cache-dir "$FT/cache-two"

    # --- file:///
    ft_manifests "$FT/m/file"
    ft_image local "file://$FT/www/img/a.img" "$sha_a" >"$FT/m/file/images.yaml"
    ft_pull "file:/// is read and verified into the cache" 0 '^image/local: downloaded 4\.0 MiB' '*' -- \
        pull -f "$FT/m/file" --cache-dir "$FT/cache-file"
    ft_holds "... the same bytes" 'cmp -s "$FT/cache-file/sha256/$sha_a" "$FT/www/img/a.img"'
    ft_image gone "file://$FT/www/img/nothing.img" "$sha_a" >"$FT/m/file/images.yaml"
    ft_pull "file:/// of a missing file: exit 1, curl's words" 1 '' \
        "image gone: cannot download file://$FT/www/img/nothing\.img: " -- \
        pull -f "$FT/m/file" --cache-dir "$FT/cache-file2"

    # --- an unsupported scheme never gets past validation
    ft_manifests "$FT/m/ftp"
    ft_image ftp "ftp://127.0.0.1/a.img" "$sha_a" >"$FT/m/ftp/images.yaml"
    ft_pull "ftp://: refused by validation, exit 3, file:line:col" 3 '' \
        "images\.yaml:[0-9]+:[0-9]+: bad URL 'ftp://127\.0\.0\.1/a\.img'" -- \
        pull -f "$FT/m/ftp" --cache-dir "$FT/cache-ftp"

    # --- a changed object: If-Range answers 200, the download starts over
    ft_manifests "$FT/m/ch"
    ft_image ch "$U/img/changed.img" "$sha_ch" >"$FT/m/ch/images.yaml"
    mkdir -p "$FT/cache-ch/sha256"
    head -c 300000 /dev/urandom >"$FT/cache-ch/sha256/$sha_ch.part"     # bytes of an older version
    printf 'url %s\netag "0-0"\nlast-modified \nbytes 300000\n' "$U/img/changed.img" \
        >"$FT/cache-ch/sha256/$sha_ch.part.meta"
    ft_pull "a .part of an older version (ETag differs): downloaded whole again, verified" 0 \
        '"resumed": false' '*' -- pull -o json -f "$FT/m/ch" --cache-dir "$FT/cache-ch"
    ft_holds "... the request was a Range with If-Range, answered 200" \
        'grep -q "^GET /img/changed.img HTTP/1.1 200 \"bytes=300000-\"" "$FT/nginx/access.log"'
    ft_holds "... the file is right" 'cmp -s "$FT/cache-ch/sha256/$sha_ch" "$FT/www/img/changed.img"'

    # --- a .part whose meta has only a Last-Modified date: If-Range with the date
    local sha_lm lm
    sha_lm=$(sha256sum "$FT/www/img/lm.img" | cut -d' ' -f1)
    lm=$(curl -sI "$U/img/lm.img" | sed -n 's/^Last-Modified: *//Ip' | tr -d '\r')
    ft_manifests "$FT/m/lm"
    ft_image lm "$U/img/lm.img" "$sha_lm" >"$FT/m/lm/images.yaml"
    mkdir -p "$FT/cache-lm/sha256"
    head -c 1000000 "$FT/www/img/lm.img" >"$FT/cache-lm/sha256/$sha_lm.part"
    printf 'url %s\netag \nlast-modified %s\nbytes 1000000\n' "$U/img/lm.img" "$lm" \
        >"$FT/cache-lm/sha256/$sha_lm.part.meta"
    ft_pull "a .part validated by Last-Modified only (no ETag) is resumed" 0 '"resumed": true' '*' -- \
        pull -o json -f "$FT/m/lm" --cache-dir "$FT/cache-lm"
    ft_holds "... from its end, answered 206" \
        'grep -q "^GET /img/lm.img HTTP/1.1 206 \"bytes=1000000-\"" "$FT/nginx/access.log"'
    ft_holds "... the file is right" 'cmp -s "$FT/cache-lm/sha256/$sha_lm" "$FT/www/img/lm.img"'

    # --- the cache file system is too small: refused before anything is written
    if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
        mkdir -p "$FT/small"
        local rc=0
        unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs "$1" || exit 99
            $WRAP "$2" pull -f "$3" --cache-dir "$1" >"$4.o" 2>"$4.e"; rc=$?
            ls -A "$1/sha256" >"$4.ls" 2>&1; exit $rc' sh "$FT/small" "$QKVM" "$FT/m/http" "$FT/small-run" || rc=$?
        ft_holds "a 4 MiB image into a 1 MiB cache: exit 1" '[ "$rc" = 1 ]'
        ft_holds "... needs N bytes, the file system has M free" \
            'grep -qE "image a: http://127\.0\.0\.1:$NPORT/img/a\.img needs 4194304 bytes, the cache file system \(.*/small/sha256\) has [0-9]+ free" "$FT/small-run.e"'
        ft_holds "... no partial file left (only the lock)" '[ "$(cat "$FT/small-run.ls")" = "$sha_a.lock" ]' \
            "$FT/small-run.ls"

        # the cache fills up during the download (size checked when it began)
        ft_manifests "$FT/m/fill"
        ft_image fill "$U/slow/fill.img" "$sha_fill" >"$FT/m/fill/images.yaml"
        mkdir -p "$FT/full"
        rc=0
        unshare -m sh -c 'mount -t tmpfs -o size=5m tmpfs "$1" || exit 99
            $WRAP "$2" pull -f "$3" --cache-dir "$1" >"$4.o" 2>"$4.e" & p=$!
            n=0
            until [ "$(stat -c %s "$1/sha256/$5.part" 2>/dev/null || echo 0)" -gt 262144 ]; do
                n=$((n + 1)); [ $n -lt 1200 ] || break; sleep 0.1
            done
            dd if=/dev/zero of="$1/filler" bs=64k 2>/dev/null
            wait $p; rc=$?
            ls -A "$1/sha256" >"$4.ls" 2>&1; exit $rc' sh "$FT/full" "$QKVM" "$FT/m/fill" "$FT/full-run" "$sha_fill" || rc=$?
        ft_holds "a cache that fills up during a download: exit 1" '[ "$rc" = 1 ]'
        ft_holds "... says the file system is full, the partial download removed" \
            'grep -qE "image fill: the cache file system \(.*/full/sha256\) is full after [0-9]+ bytes of http://127\.0\.0\.1:$NPORT/slow/fill\.img; the partial download was removed" "$FT/full-run.e"'
        ft_holds "... and it was" '[ "$(cat "$FT/full-run.ls")" = "$sha_fill.lock" ]' "$FT/full-run.ls"
    else
        skip "a cache file system too small" "needs root and mount namespaces (unshare -m) for a tmpfs"
    fi

    # --- the server dies mid-download; the next pull resumes with Range
    ft_manifests "$FT/m/big"
    ft_image big "$U/slow/big.img" "$sha_big" >"$FT/m/big/images.yaml"
    local bp brc=0 part=$FT/cache-big/sha256/$sha_big.part
    timeout 300 $WRAP "$QKVM" pull -f "$FT/m/big" --cache-dir "$FT/cache-big" >"$FT/big1.o" 2>"$FT/big1.e" & bp=$!
    ft_partsize() { stat -c %s "$part" 2>/dev/null || echo 0; }
    ft_grown() { [ "$(ft_partsize)" -gt 600000 ]; }
    if wait_until 1200 ft_grown; then
        pass "a slow download is under way (the .part grows)"
    else
        fail "a slow download is under way (the .part grows)" "size $(ft_partsize) after 120 s"
    fi
    kill -9 "$NGINX_PID"
    wait_until 100 ft_gone "$NGINX_PID"
    NGINX_PID=""
    wait "$bp" || brc=$?
    ft_holds "nginx killed mid-download: pull fails (exit 1)" '[ "$brc" = 1 ]'
    ft_holds "... saying which image and URL, with curl's words, after its retries" \
        'grep -qE "image big: cannot download http://127\.0\.0\.1:$NPORT/slow/big\.img: .+ \(4 attempts\)" "$FT/big1.e"'
    local kept
    kept=$(ft_partsize)
    ft_holds "... the .part remains ($kept bytes) with its meta" \
        '[ "$kept" -gt 600000 ] && [ "$kept" -lt 4194304 ] && [ -s "$part.meta" ] && [ ! -e "$FT/cache-big/sha256/$sha_big" ]'
    if ft_nginx 0; then
        pass "nginx restarts"
    else
        fail "nginx restarts" "$(tail -5 "$FT/nginx/error.log" 2>/dev/null)"
    fi
    ft_pull "the next pull resumes and verifies" 0 '"resumed": true' '*' -- \
        pull -o json -f "$FT/m/big" --cache-dir "$FT/cache-big"
    ft_holds "... with a Range request from where it stopped, answered 206" \
        'grep -q "^GET /slow/big.img HTTP/1.1 206 \"bytes=$kept-\"" "$FT/nginx/access.log"'
    ft_holds "... the file is whole and right, the .part gone" \
        'cmp -s "$FT/cache-big/sha256/$sha_big" "$FT/www/slow/big.img" && [ ! -e "$part" ] && [ ! -e "$part.meta" ]'
}

fetch_s3_cases() {
    local E="http://127.0.0.1:$S3PORT" sha_a creds=$FT/s3creds
    sha_a=$(sha256sum "$FT/www/img/a.img" | cut -d' ' -f1)
    local empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
    # the object, put there signed as a client would
    local put
    put=$(curl -s -o "$FT/put.out" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user S3RVER:S3RVER -H "x-amz-content-sha256: $sha_a" -T "$FT/www/img/a.img" \
        "$E/images/deb/a%2Bb.img")
    if [ "$put" = 200 ]; then
        pass "s3: the object is uploaded to the S3 server"
    else
        fail "s3: the object is uploaded to the S3 server" "HTTP $put: $(head -c 400 "$FT/put.out")"
    fi
    ft_s3m() {   # DIR CREDENTIALS-FILE
        ft_manifests "$1"
        ft_image s3img "s3://images/deb/a+b.img" "$sha_a" "  s3:
    endpoint: $E
    region: us-east-1
    credentialsFile: $2" >"$1/images.yaml"
    }
    printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$creds"
    chmod 600 "$creds"
    ft_s3m "$FT/m/s3" "$creds"
    ft_pull "s3: a signed download (SigV4) is downloaded and verified" 0 \
        '^image/s3img: downloaded 4\.0 MiB' '*' -- pull -f "$FT/m/s3" --cache-dir "$FT/cache-s3"
    ft_holds "... the same bytes" 'cmp -s "$FT/cache-s3/sha256/$sha_a" "$FT/www/img/a.img"'
    ft_holds "... no warning for a 0600 credentials file" '! grep -q "warning: image s3img" "$FT/e"'

    printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = N0tTheS3cret\n' >"$FT/s3wrong"
    chmod 600 "$FT/s3wrong"
    ft_s3m "$FT/m/s3wrong" "$FT/s3wrong"
    ft_pull "s3: a wrong secret is refused: 403 SignatureDoesNotMatch" 1 '' \
        "image s3img: s3://images/deb/a\+b\.img \($E/images/deb/a%2Bb\.img\) answered 403 Forbidden.*: SignatureDoesNotMatch" -- \
        pull -f "$FT/m/s3wrong" --cache-dir "$FT/cache-s3wrong"
    ft_holds "... the secret is never printed" '! grep -q N0tTheS3cret "$FT/e"'
    ft_holds "... nothing left in the cache" '[ -z "$(ls "$FT/cache-s3wrong/sha256" | grep -v "\.lock$")" ]'

    cp "$creds" "$FT/s3open"
    chmod 644 "$FT/s3open"
    ft_s3m "$FT/m/s3open" "$FT/s3open"
    ft_pull "s3: a credentials file others can read: a warning, still used" 0 '^image/s3img: downloaded' \
        "warning: image s3img: the credentials file '$FT/s3open' can be read by other users" -- \
        pull -f "$FT/m/s3open" --cache-dir "$FT/cache-s3open"

    ft_s3m "$FT/m/s3none" "$FT/no-such-credentials"
    ft_pull "s3: a missing credentials file: exit 1, the file named" 1 '' \
        "image s3img: cannot read the credentials file '$FT/no-such-credentials': No such file or directory" -- \
        pull -f "$FT/m/s3none" --cache-dir "$FT/cache-s3none"
    ft_holds "... before anything is created" '[ ! -e "$FT/cache-s3none" ]'

    printf '[default]\naws_access_key_id = S3RVER\n' >"$FT/s3half"
    chmod 600 "$FT/s3half"
    ft_s3m "$FT/m/s3half" "$FT/s3half"
    ft_pull "s3: a credentials file without the secret: exit 1, what is missing" 1 '' \
        "the credentials file '$FT/s3half' has no aws_secret_access_key under \[default\]" -- \
        pull -f "$FT/m/s3half" --cache-dir "$FT/cache-s3half"
}

fetch_run() {
    local what
    for what in nginx curl python3 sha256sum; do
        if ! command -v "$what" >/dev/null; then
            fail "image downloads: $what is installed" "tools/install-deps test installs it"
            return
        fi
    done
    mkdir -p "$FT/www/img" "$FT/www/slow" "$FT/www/forbidden" "$FT/nginx"
    local f
    for f in img/a.img img/d.img img/c.img slow/big.img slow/fill.img img/changed.img img/lm.img; do
        head -c 4194304 /dev/urandom >"$FT/www/$f"
    done
    trap 'fetch_cleanup; rm -rf "$TESTTMP"' EXIT
    NPORT=$(ft_port)
    if ft_nginx 256k; then
        pass "nginx starts on 127.0.0.1:$NPORT"
        fetch_cases
    else
        fail "nginx starts on 127.0.0.1:$NPORT" "$(cat "$FT/nginx/stderr" "$FT/nginx/error.log" 2>/dev/null | tail -5)"
    fi

    S3DIR=$FETCH_ROOT/build/s3rver
    if [ ! -f "$S3DIR/node_modules/@20minutes/s3rver/lib/cli.js" ]; then
        if command -v npm >/dev/null && command -v node >/dev/null; then
            "$FETCH_ROOT/tools/install-deps" s3 >"$FT/s3install" 2>&1 ||
                fail "the S3 server installs (tools/install-deps s3)" "$(tail -5 "$FT/s3install")"
        fi
    fi
    if ! command -v node >/dev/null; then
        skip "s3:// downloads" "node and npm are not installed (tools/install-deps s3 installs them)"
    elif [ ! -f "$S3DIR/node_modules/@20minutes/s3rver/lib/cli.js" ]; then
        [ -f "$FT/s3install" ] ||
            skip "s3:// downloads" "npm is not installed (tools/install-deps s3 installs it)"
    else
        S3PORT=$(ft_port)
        if ft_s3rver; then
            pass "the S3 server starts on 127.0.0.1:$S3PORT"
            fetch_s3_cases
        else
            fail "the S3 server starts on 127.0.0.1:$S3PORT" "$(tail -5 "$FT/s3rver.log")"
        fi
    fi
    fetch_cleanup
    trap 'rm -rf "$TESTTMP"' EXIT
}

fetch_run
if [ -n "${fetch_alone:-}" ]; then summary; fi
