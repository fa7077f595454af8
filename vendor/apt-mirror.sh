# Sourced (bash) by vendor/build-deps.sh and tests/cp/build.sh: where this machine's apt gets Debian.
#
#   pz_debian_mirror    prints the URI of the first enabled Debian archive entry that serves
#                       SUITE (default: this system's codename) with component main, read from
#                       deb822 `URIs:` in /etc/apt/sources.list.d/*.sources, then from one-line
#                       entries in /etc/apt/sources.list and /etc/apt/sources.list.d/*.list.
#                       Returns 1 with nothing printed when no entry fits.
#
# Why: the scripts fetch source packages with a private apt configuration, and must do so from
# the mirror the machine is set up with (a local mirror, a snapshot, a proxy), never from a host
# name written into the repository. PIZZA_DEBIAN_MIRROR overrides the lookup.
# PZ_APT_ETC (default /etc/apt) exists for the tests of this function.

pz_debian_mirror() { # [SUITE]
  local suite=${1:-} etc=${PZ_APT_ETC:-/etc/apt}
  if [ -n "${PIZZA_DEBIAN_MIRROR:-}" ]; then echo "${PIZZA_DEBIAN_MIRROR%/}"; return 0; fi
  if [ -z "$suite" ]; then
    suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
    [ -n "$suite" ] || suite=bookworm
  fi
  local f uri
  # deb822: stanzas separated by blank lines; fields may hold several space-separated values.
  for f in "$etc"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk -v want="$suite" '
      function flush() {
        if (uris != "" && enabled && has(types, "deb") && has(suites, want) && has(comps, "main")) {
          split(uris, u, " "); print u[1]; found = 1; exit
        }
        uris = ""; types = ""; suites = ""; comps = ""; enabled = 1
      }
      function has(list, w,   a, n, i) { n = split(list, a, " "); for (i = 1; i <= n; i++) if (a[i] == w) return 1; return 0 }
      BEGIN { enabled = 1 }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { line = $0; key = tolower(line); sub(/:.*/, "", key); val = line; sub(/^[^:]*:[ \t]*/, "", val) }
      key == "uris" { uris = val } key == "types" { types = val } key == "suites" { suites = val }
      key == "components" { comps = val } key == "enabled" { enabled = (tolower(val) != "no") }
      END { if (!found) flush() }' "$f")
    [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
  done
  # One-line form: deb [options] URI SUITE COMPONENT...
  for f in "$etc"/sources.list "$etc"/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk -v want="$suite" '
      $1 != "deb" { next }
      { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } }
      $(i + 1) == want { for (c = i + 2; c <= NF; c++) if ($c == "main") { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
  done
  return 1
}
