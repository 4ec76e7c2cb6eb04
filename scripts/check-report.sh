#!/usr/bin/env bash
# Opens a report written by `cnn reproduce` in headless Chromium, as a reader's browser would
# from the disk (file://, no server), and checks that it renders: every image of index.html
# and every SVG figure beside it loads, the page has its sections, and the browser logs no
# console error or failed load. Takes a screenshot to look at.
#
# Usage: scripts/check-report.sh [DIR [SHOT.png]]
#   DIR       the report folder (default: a quick report made now in a temporary folder)
#   SHOT.png  where to write the screenshot (default: DIR/../report-screenshot.png; - for none)
# Needs Debian's chromium (apt-get install -y chromium). Exit status 0: renders; 1: a check
# failed; 2: cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "check-report: chromium is not installed (apt-get install -y chromium)" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=${1:-}
if [ -z "$dir" ]; then
  dir=$work/report
  tags=$(./scripts/setup.sh 2>/dev/null || true)
  go run -tags "$tags" ./cmd/cnn reproduce --quick -o "$dir" >/dev/null
fi
dir=$(cd "$dir" && pwd)
shot=${2:-$(dirname "$dir")/report-screenshot.png}
[ -f "$dir/index.html" ] || { echo "check-report: $dir/index.html does not exist" >&2; exit 2; }

# A page beside the report that opens it in a frame and reports, into its own DOM, which
# images did not load; file:// pages may read each other only with --allow-file-access-from-files.
svgs=""
for f in "$dir"/*.svg; do
  [ -e "$f" ] && svgs+="<img class=\"svg\" src=\"file://$f\">"
done
cat >"$work/check.html" <<EOF
<!DOCTYPE html>
<html><head><meta charset="utf-8"></head>
<body>
<div id="result">PENDING</div>
$svgs
<iframe id="report" src="file://$dir/index.html" width="1200" height="800"></iframe>
<script>
window.addEventListener("load", function () {
  var bad = [];
  var doc = document.getElementById("report").contentDocument;
  if (!doc) { document.getElementById("result").textContent = "NO-ACCESS"; return; }
  var imgs = Array.prototype.slice.call(doc.images).concat(Array.prototype.slice.call(document.querySelectorAll("img.svg")));
  imgs.forEach(function (im) {
    if (!(im.complete && im.naturalWidth > 0)) bad.push(im.getAttribute("src"));
  });
  var heads = doc.querySelectorAll("h1, h2, h3").length;
  document.getElementById("result").textContent = bad.length ? "BROKEN " + bad.join(" ") :
    "OK images=" + imgs.length + " headings=" + heads + " tables=" + doc.querySelectorAll("table").length;
});
</script>
</body></html>
EOF

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
  --disable-component-update --disable-sync --enable-logging=stderr --v=0)
status=0

"$browser" "${flags[@]}" --user-data-dir="$work/p1" --allow-file-access-from-files \
  --dump-dom "file://$work/check.html" >"$work/check.dom" 2>"$work/check.err" || true
result=$(sed -n 's:.*<div id="result">\([^<]*\)</div>.*:\1:p' "$work/check.dom")
echo "check-report: images and headings: ${result:-no result}"
case "$result" in OK*) ;; *) status=1 ;; esac

touch "$work/shot.err"
if [ "$shot" != - ]; then
  rm -f "$shot"
  "$browser" "${flags[@]}" --user-data-dir="$work/p2" --window-size=1200,3000 \
    --screenshot="$shot" "file://$dir/index.html" >/dev/null 2>"$work/shot.err" || true
  if [ -s "$shot" ]; then
    echo "check-report: screenshot $shot"
  else
    echo "check-report: no screenshot was written" >&2
    status=1
  fi
fi

# Console messages and failed loads; the D-Bus and GPU complaints of a headless machine are not the page's.
if grep -hE 'CONSOLE|Failed to load resource|net::ERR_|Uncaught|Not allowed to load' "$work/check.err" "$work/shot.err"; then
  echo "check-report: the browser logged the errors above" >&2
  status=1
fi
exit $status
