#!/usr/bin/env bash
# Checks that the library's layers depend one way (docs/architecture.md):
#
#     src/api -> src/tcp -> src/link -> src/wire -> src/net -> src/util
#
# - a file may include headers of its own layer and of the layers below it, never above;
# - below src/api nothing calls a public efvitcp_* function (the wire simulator implements the
#   public efvitcp_wire_* functions and may call its own);
# - no link includes the public header: links take what they need from et_link_params;
# - no function in src/ is longer than 100 lines.
#
# Prints what includes what (the dependency table) and every violation; exits 1 on any.
# Usage: bash scripts/check_layers.sh [--quiet]
set -euo pipefail
cd "$(dirname "$0")/.."
layers=(util net wire link tcp api)
quiet=${1:-}
rank() {
    local i
    for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done
    echo -1
}
fail=0
bad() { echo "layer violation: $*"; fail=1; }

declare -A edges
for dir in src/*/; do
    from=$(basename "$dir")
    rf=$(rank "$from")
    [ "$rf" -ge 0 ] || { bad "src/$from is not a known layer (${layers[*]})"; continue; }
    for f in "$dir"*.[ch]; do
        [ -e "$f" ] || continue
        while IFS= read -r inc; do
            to=${inc%%/*}
            [ "$to" = "$inc" ] && to=$from # a sibling header named without its directory
            if [ "$to" = efvitcp ]; then
                [ "$from" = link ] && bad "$f includes the public header $inc (links take et_link_params)"
                edges["$from -> public header"]=1
                continue
            fi
            rt=$(rank "$to")
            [ "$rt" -ge 0 ] || continue # generated headers (xdp_prog_obj.h), emulator headers
            [ "$rt" -le "$rf" ] || bad "$f (layer $from) includes $inc (layer $to, above it)"
            [ "$to" != "$from" ] && edges["$from -> $to"]=1
        done < <(sed -n 's/^#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    done
done

# Calls of the public API below the API layer.
while IFS= read -r hit; do
    file=${hit%%:*}
    line=${hit#*:}
    line=${line#*:}
    # The wire module implements the public efvitcp_wire_* functions and may use its own.
    case "$file" in src/wire/*) [[ "$line" =~ efvitcp_wire_[a-z_]+\( ]] && continue ;; esac
    bad "$file calls the public API: $line"
done < <(grep -nE '\befvitcp_[a-z_]+\(' src/util src/net src/wire src/link src/tcp -r \
    --include='*.c' --include='*.h' | grep -vE ':[0-9]+:\s*(\*|/\*|//)' |
    grep -vE 'efvitcp_(wire|config|handler|conn|stats|state|drop)[a-z_]*\b[^(]' || true)

# Function lengths, longest first: from a signature's opening brace to its closing brace.
lengths=$(for f in $(find src -name '*.c' -o -name '*.h'); do
    awk -v F="$f" 'prev != "" && /^\{/ { start = NR; name = prev }
        /^\}/ && start { print NR - start + 1 " lines " F ":" start " " name; start = 0 }
        { if ($0 !~ /^[ \t]/ && $0 != "{") prev = $0 }' "$f"
done | sort -rn)
while IFS= read -r long; do
    if [ -n "$long" ] && [ "${long%% *}" -gt 100 ]; then bad "function over 100 lines: $long"; fi
done <<<"$lengths"

if [ "$quiet" != --quiet ]; then
    echo "what includes what (src/):"
    for e in "${!edges[@]}"; do echo "  $e"; done | sort
    echo "longest function: ${lengths%%$'\n'*}"
fi
[ "$fail" = 0 ] && echo "layers: ok"
exit "$fail"
