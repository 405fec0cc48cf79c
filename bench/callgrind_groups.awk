# Instructions of a callgrind output file (--callgrind-out-file) by part of the program, for
# bench/run_efvi_callgrind.sh:
#
#   awk -v root=REPO_ROOT -f bench/callgrind_groups.awk callgrind.out
#
# prints "GROUP COUNT" lines for stack (src/tcp, src/net, src/api, src/util), link (src/link),
# wire (src/wire and the ef_vi emulator, tests/efvi_emu), app (bench/), other, then "total"
# (their sum) and "summary" (callgrind's own total; the two agree when nothing was left out).
#
# Code is charged to the source file it was written in (fi=/fe=, inlined code included) when that
# file is in the tree, else to its function's file (fl=), so that libc header wrappers inlined
# into the stack count as the stack; code of the shared utilities (src/util/, the clock for one)
# is charged to the function it was inlined into, so that the wire's clock is the wire's. Code
# in other objects (libc's memcpy, the vDSO's clock) has no file of ours: each call into it is
# charged, with all it costs (the call's inclusive cost), to the caller's part, and its own lines
# are not counted, or they would count twice. So a copy the
# link makes is the link's, and one the emulator makes is the emulator's.

function id_name(v, kind,    id, rest) {
    # "(12) /path" defines id 12, "(12)" refers to it, a bare name is itself (no compression).
    if (match(v, /^\([0-9]+\)/)) {
        id = substr(v, 1, RLENGTH)
        rest = substr(v, RLENGTH + 1)
        sub(/^ /, "", rest)
        if (rest != "") names[kind, id] = rest
        return names[kind, id]
    }
    return v
}
function group(file,    rel) {
    if (substr(file, 1, length(root) + 1) != root "/") return "other"
    rel = substr(file, length(root) + 2)
    if (rel ~ /^src\/(tcp|net|api|util)\//) return "stack"
    if (rel ~ /^src\/link\//) return "link"
    if (rel ~ /^(src\/wire|tests\/efvi_emu)\//) return "wire"
    if (rel ~ /^bench\//) return "app"
    return "other"
}
# Whether object o is the program that callgrind ran (the cmd: line, perhaps a relative path).
function is_exe(o) {
    if (!(o in exe_seen)) exe_seen[o] = o == exe || substr(o, length(o) - length(exe)) == "/" exe
    return exe_seen[o]
}
function in_tree(file) { return substr(file, 1, length(root) + 1) == root "/" }
# Whether file is one of the shared utilities (src/util/): helpers that every part inlines.
function is_util(file) { return substr(file, 1, length(root) + 10) == root "/src/util/" }
# The part the current line is charged to: the file it was written in, except that a shared
# utility (the clock, say) inlined into another part's function is that part's cost.
function here() {
    if (fi != "" && in_tree(fi) && !(is_util(fi) && in_tree(fl) && !is_util(fl))) return group(fi)
    return group(fl)
}

BEGIN { split("stack link wire app other", order, " ") }
/^cmd:/ { exe = $2; next }
/^summary:/ { summary = $2; next }
/^ob=/ { ob = id_name(substr($0, 4), "ob"); next }
/^fl=/ { fl = id_name(substr($0, 4), "fl"); fi = ""; next }
/^(fi|fe)=/ { fi = id_name(substr($0, 4), "fl"); next }
/^fn=/ { fi = ""; next }
/^cob=/ { cob = id_name(substr($0, 5), "ob"); next }
/^(cfi|cfl)=/ { id_name(substr($0, 5), "fl"); next }
/^cfn=/ { next }
/^calls=/ { incall = 1; next }
/^[-+*0-9]/ {
    ir = NF >= 2 ? $2 : 0
    if (incall) {
        # The call's inclusive cost: charged here only from our code into another object (not
        # from callgrind's "(below main)", which encloses everything).
        callee = cob != "" ? cob : ob
        if (is_exe(ob) && in_tree(fl) && !is_exe(callee)) part[here()] += ir
        incall = 0
        cob = ""
    } else if (is_exe(ob)) {
        part[here()] += ir
    }
    next
}
END {
    total = 0
    for (i = 1; i <= 5; i++) {
        printf "%s %d\n", order[i], part[order[i]]
        total += part[order[i]]
    }
    printf "total %d\nsummary %d\n", total, summary
}
