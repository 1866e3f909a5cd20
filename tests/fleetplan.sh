# tests/fleetplan.sh — golden plans of fleets (sourced by tests/run):
# placement over several nodes, each a libvirt test-driver host file.
#
# tests/data/fleet/CASE/ holds:
#   manifests/   the desired state; @DIR@ stands for the case's directory
#                (Node URIs: test://@DIR@/hv1.xml)
#   hv*.xml      the observed nodes (libvirt test-driver <node> files)
#   owned        ownership records (optional), in the text format of
#                earlier versions, imported into the store by the first run
#   runs         the commands, one per line (default: plan); -f and --state
#                are added; with -o junit the output is also checked against
#                tests/data/junit/junit.xsd (xmllint). Reading commands (get) come first: the AGE a
#                recorded run leaves would depend on the clock
#   expected     for each: the command, exit code, stderr and stdout; the
#                case's directory is DIR, the manifests' M, an apply's time
#                T (an apply runs with --parallelism 1: lines in order)
if [ -z "${passed+x}" ]; then . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"; fi

for c in tests/data/fleet/*/; do
    c=${c%/}
    name=$(basename "$c")
    w="$TESTTMP/fleet-$name"
    mkdir -p "$w/m"
    for f in "$c"/manifests/*.yaml; do
        sed "s#@DIR@#$PWD/$c#g" "$f" >"$w/m/$(basename "$f")"
    done
    : >"$TESTTMP/fleet.norm"
    [ -f "$c/owned" ] && cp "$c/owned" "$w/state.db.owned"
    while read -r -a cmd; do
        [ ${#cmd[@]} -gt 0 ] || continue
        run_qkvm "$TESTTMP/fleet.out" "${cmd[@]}" -f "$w/m" --state "$w/state.db"
        expect_junit "fleet/$name: ${cmd[*]}" "${cmd[@]}"
        { printf '=== %s\n' "${cmd[*]}"; cat "$TESTTMP/fleet.out"; } |
            sed -e "s#$PWD/$c#DIR#g" -e "s#$w/m#M#g" -e 's/ ([0-9.]* s)\.$/ (T s)./' \
                >>"$TESTTMP/fleet.norm"
    done < <(if [ -f "$c/runs" ]; then sed "s#@DIR@#$PWD/$c#g" "$c/runs"; else echo plan; fi)
    expect_file "fleet/$name" "$TESTTMP/fleet.norm" "$c/expected"
done
