#!/bin/sh
# usage: mk/perfdoc.sh SECTION < markdown
# Replaces the text between <!-- bench:SECTION --> and <!-- /bench:SECTION --> in
# docs/performance.md with standard input (appending the section when it is missing).
set -eu
sec=$1
doc=docs/performance.md
new=$(mktemp)
cat > "$new"
tmp=$(mktemp)
if grep -q "<!-- bench:$sec -->" "$doc"; then
	awk -v s="$sec" -v f="$new" '
		$0 == "<!-- bench:" s " -->" { print; while ((getline l < f) > 0) print l; skip = 1; next }
		$0 == "<!-- /bench:" s " -->" { skip = 0 }
		!skip { print }' "$doc" > "$tmp"
else
	{ cat "$doc"; printf '\n<!-- bench:%s -->\n' "$sec"; cat "$new"; printf '<!-- /bench:%s -->\n' "$sec"; } > "$tmp"
fi
mv "$tmp" "$doc"
rm -f "$new"
