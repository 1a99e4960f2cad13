# Helpers shared by the bench scripts (sourced by bench/run.sh before
# relay.sh, agent.sh and desktop.sh).

# bench_table_js: prints the JavaScript of benchTable, for the node
# scripts that print a "meshd vs stock" table; run them as
#   { bench_table_js; cat <<'EOF' ... EOF
#   } | node - ARGS...
# benchTable(head, rows, m, s, get, fmt) prints one line per row
# [label, f, better]: the two sides' values from get(m, f, "m") and
# get(s, f, "s") (null: "-"), written by fmt, and for a row with better
# "hi" (higher is better) or "lo" (lower is better) the ratio of the two
# as "N.Nx faster/slower" or "N.Nx less/more". head holds the four column
# titles. Columns are padded to their widest cell.
bench_table_js() {
  cat <<'JS'
function benchTable(head, rows, m, s, get, fmt) {
  const out = [head];
  for (const [label, f, better] of rows) {
    const a = get(m, f, "m"), b = get(s, f, "s");
    let r = "";
    if (better && typeof a === "number" && typeof b === "number" && a > 0 && b > 0) {
      const x = better === "hi" ? a / b : b / a;
      r = x >= 1 ? `${x.toFixed(1)}x ${better === "hi" ? "faster" : "less"}`
                 : `${(1 / x).toFixed(1)}x ${better === "hi" ? "slower" : "more"}`;
    }
    out.push([label, a === null ? "-" : fmt(a), b === null ? "-" : fmt(b), r]);
  }
  const w = [0, 1, 2, 3].map(i => Math.max(...out.map(r => r[i].length)));
  for (const r of out)
    console.log("  " + r[0].padEnd(w[0]) + "  " + r[1].padStart(w[1]) + "  " +
                r[2].padStart(w[2]) + "  " + r[3]);
}
JS
}
