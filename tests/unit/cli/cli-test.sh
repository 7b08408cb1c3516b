#!/usr/bin/env bash
# CLI tests: run the built weft on the manifest corpora and assert output and exit codes.
#   cli-test.sh WEFT MANIFEST_DIR
set -uo pipefail
weft=$1
data=$2
tmp=$(mktemp -d /tmp/weft-cli-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 143' TERM INT # (meson's timeout) so that the EXIT trap still cleans up

failures=0
n=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# run EXPECTED_STATUS ARGS... : runs weft, keeps stdout in $tmp/out and stderr in $tmp/err
run() {
	local want=$1
	shift
	n=$((n + 1))
	"$weft" "$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	if [ "$got" -ne "$want" ]; then
		fail "weft $* exited $got, want $want"
		sed 's/^/  out: /' "$tmp/out" | head -5 >&2
		sed 's/^/  err: /' "$tmp/err" | head -5 >&2
	fi
}

# has FILE REGEX : the file has a line matching the extended regex
has() {
	grep -qE -- "$2" "$tmp/$1" || { fail "$1 of the last command lacks /$2/"; sed 's/^/  | /' "$tmp/$1" | head -20 >&2; }
}

hasnt() {
	! grep -qE -- "$2" "$tmp/$1" || fail "$1 of the last command has /$2/"
}

# ---- usage ----
run 2
has err 'Usage: weft COMMAND'
run 0 --help
has out '^  validate '
has out '^  get '
run 0 help get
has out '^Usage: weft get'
run 2 frobnicate
has err "^weft: unknown command 'frobnicate'"
has err '^Commands:'
has err '^  validate '
run 2 --frob
has err "^weft: unknown option '--frob'"
has err '^Usage: weft COMMAND'
for cmd in validate get version; do
	run 0 "$cmd" --help
	has out "^Usage: weft $cmd"
	run 0 "$cmd" -h
	has out "^Usage: weft $cmd"
	run 2 "$cmd" --no-such-flag
	has err "^weft $cmd: unknown option '--no-such-flag'"
	has err "^Usage: weft $cmd"
	has err "Run 'weft $cmd --help' for usage"
done
run 0 version
has out '^weft [0-9]+\.[0-9]+\.[0-9]+$'
run 0 --version
has out '^weft [0-9]'
run 2 validate
has err 'no manifests given'
run 2 get svc
has err 'no manifests given'
run 2 get -f "$data/good" -o bogus
has err "unknown output format 'bogus'"
run 2 get -f "$data/good" gadgets
has err "unknown kind 'gadgets'"
run 2 get -f "$data/good" -n x -A
has err 'exclude each other'
run 2 validate -f
has err "option '-f' needs a value"

# ---- validate: the good corpus ----
run 0 validate -f "$data/good"
has out '^ok: [0-9]+ objects in [0-9]+ files \([0-9]+ ignored kinds\)$'
hasnt out 'error'
# positional paths work too, and single files
run 0 validate "$data/good/services.json" "$data/good/web-app.yaml"
has out '^ok: [0-9]+ objects in 2 files'
run 0 validate -q -f "$data/good"
[ -s "$tmp/out" ] && fail "validate -q printed something"

# ---- validate: the bad corpus, every file reported with file:line:col ----
run 1 validate -f "$data/bad"
nbad=0
for f in "$data"/bad/*.yaml "$data"/bad/*.yml "$data"/bad/*.json; do
	[ -e "$f" ] || continue
	nbad=$((nbad + 1))
	grep -qF -- "$f:" "$tmp/out" || fail "validate did not report $f"
	# the k8s corpus gives the expected diagnostic (file name relative) in FILE.expect
	if [ -f "$f.expect" ]; then
		want=$(head -1 "$f.expect")
		grep -qF -- "$(dirname "$f")/$want" "$tmp/out" ||
			fail "validate output for $f is not: $want"
	fi
done
[ "$nbad" -gt 10 ] || fail "bad corpus too small ($nbad)"
has out '^[^:]+:[0-9]+:[0-9]+: [^ ]'
has out "^failed: [0-9]+ errors;"
nerr=$(grep -cE '^[^ ]+:[0-9]+' "$tmp/out")
[ "$nerr" -eq "$nbad" ] || fail "validate listed $nerr errors for $nbad bad files"

# ---- validate: a duplicate across files names both; a broken file among good ones ----
mkdir -p "$tmp/m/sub"
cat >"$tmp/m/a.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80}]
YAML
cat >"$tmp/m/sub/b.yaml" <<'YAML'
# the same Service again
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 8080}]
YAML
cp "$data/good/services.json" "$tmp/m/"
echo "not: [valid" >"$tmp/m/.hidden.yaml"   # ignored: hidden
echo "not: [valid" >"$tmp/m/notes.txt"      # ignored: not a manifest name
run 1 validate -f "$tmp/m"
has out "^$tmp/m/sub/b.yaml:2:1: metadata.name: Service/shop/web is also defined in $tmp/m/a.yaml:1$"
has out '^failed: 1 error;'
rm "$tmp/m/sub/b.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n  - port: 0\n' >"$tmp/m/bad.yaml"
run 1 validate -f "$tmp/m"
has out "^$tmp/m/bad.yaml:7:11: spec.ports\[0\].port: "
run 1 validate -f "$tmp/does-not-exist"
has out "does-not-exist: No such file or directory"

# ---- get: kubectl's columns (printers.go), status included ----
# AGE of an object with a creationTimestamp depends on today; without one it is <unknown>
AGE='[0-9]+[smhdy][0-9smhdy]*'
run 0 get -A -f "$data/good"
has out '^NAMESPACE +NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE$'
has out '^kube-system +service/kube-dns +ClusterIP +10\.96\.0\.10 +<none> +53/UDP,53/TCP,9153/TCP +<unknown>$'
has out '^shop +service/cache +NodePort +<none> +<none> +6379:30079/TCP,6379/UDP +<unknown>$'
has out '^default +service/edge +LoadBalancer +<none> +198\.51\.100\.7 +80:30080/TCP +<unknown>$'
has out "^default +service/web +ClusterIP +10\.96\.12\.34 +<none> +80/TCP +$AGE\$"
has out '^shop +service/db +ClusterIP +None +'
has out '^default +service/upstream-db +ExternalName +<none> +db\.prod\.example\.com\. +<none> +<unknown>$'
has out '^NAME +STATUS +ROLES +AGE +VERSION$'
has out '^node/node-1 +Ready +control-plane +<unknown> +v1\.30\.2$'
has out '^node/node-2 +Unknown +<none> +<unknown> *$'
has out '^NAMESPACE +NAME +READY +STATUS +RESTARTS +AGE$'
has out "^shop +pod/web-7d4b9c-xk2lp +1/1 +Running +2 \\($AGE ago\\) +<unknown>\$"
has out "^default +pod/web-7d4b9c-abcde +0/1 +Terminating +0 +$AGE\$"
has out '^NAMESPACE +NAME +ADDRESSTYPE +PORTS +ENDPOINTS +AGE$'
has out '^shop +endpointslice/web-abc12 +IPv4 +8080,9090 +10\.244\.1\.5,10\.244\.2\.7,10\.244\.3\.9 +<unknown>$'
has out '^shop +networkpolicy/allow-dns-egress +app=web +<unknown>$'
has out '^shop +ingress/web +weft +shop\.example\.com,\*\.shop\.example\.com +80, 443 +<unknown>$'
has out '^NAMESPACE +NAME +READY +UP-TO-DATE +AVAILABLE +AGE$'
has out '^shop +deployment/web +0/3 +0 +0 +<unknown>$'
has out '^namespace/shop +Active +<unknown>$'

# -o wide: kubectl's extra columns
run 0 get pods -A -o wide -f "$data/good"
has out '^NAMESPACE +NAME +READY +STATUS +RESTARTS +AGE +IP +NODE +NOMINATED NODE +READINESS GATES$'
has out "^shop +web-7d4b9c-xk2lp +1/1 +Running +2 \\($AGE ago\\) +<unknown> +10\.244\.1\.5 +node-1 +<none> +<none>\$"
run 0 get nodes -o wide -f "$data/good"
has out '^NAME +STATUS +ROLES +AGE +VERSION +INTERNAL-IP +EXTERNAL-IP +OS-IMAGE +KERNEL-VERSION +CONTAINER-RUNTIME$'
has out '^node-1 +Ready +control-plane +<unknown> +v1\.30\.2 +172\.18\.0\.2 +<none> +Debian GNU/Linux 12 \(bookworm\) +6\.1\.0-21-amd64 +containerd://1\.7\.13$'
run 0 get deploy -n shop -o wide -f "$data/good"
has out '^NAME +READY +UP-TO-DATE +AVAILABLE +AGE +CONTAINERS +IMAGES +SELECTOR$'
has out '^web +0/3 +0 +0 +<unknown> +web +registry\.example\.com/shop/web:1\.4\.2 +app=web$'
run 0 get eps -n shop -o wide -f "$data/good"
has out '^NAME +ADDRESSTYPE +PORTS +ENDPOINTS +AGE$'

# one kind, short name, the default namespace, no NAMESPACE column
run 0 get svc -f "$data/good"
has out '^NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE$'
has out "^kubernetes +ClusterIP +10\.96\.0\.1 +<none> +443/TCP +$AGE\$"
hasnt out 'kube-dns'
run 0 get services -n kube-system -f "$data/good"
has out '^kube-dns '
run 0 get svc/kube-dns -n kube-system -o wide -f "$data/good"
has out '^NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE +SELECTOR$'
has out '^kube-dns +ClusterIP +10\.96\.0\.10 +<none> +53/UDP,53/TCP,9153/TCP +<unknown> +k8s-app=kube-dns$'
run 1 get svc nope -f "$data/good"
has err 'services "nope" not found in namespace default'
run 0 get pods -n nowhere -f "$data/good"
has err 'No resources found in nowhere namespace.'
run 0 get po -A -l app=web -f "$data/good"
has out 'web-7d4b9c-xk2lp'
run 0 get po -A -l 'app!=web' -f "$data/good"
hasnt out 'web-7d4b9c'

# EndpointSlice with more than three addresses: kubectl's " + N more..."
cat >"$tmp/eps.yaml" <<'YAML'
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: big-1
  labels: {kubernetes.io/service-name: big}
addressType: IPv4
ports: [{port: 80}, {port: 443}]
endpoints:
- addresses: [10.0.0.1]
- addresses: [10.0.0.2]
- addresses: [10.0.0.3]
- addresses: [10.0.0.4]
- addresses: [10.0.0.5]
YAML
run 0 get eps -f "$tmp/eps.yaml"
has out '^big-1 +IPv4 +80,443 +10\.0\.0\.1,10\.0\.0\.2,10\.0\.0\.3 \+ 2 more\.\.\. +<unknown>$'

# JSON: valid, one object as itself, several as a List
run 0 get svc kubernetes -o json -f "$data/good"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["kind"]=="Service" and d["spec"]["clusterIP"]=="10.96.0.1", d' "$tmp/out" ||
	fail "get -o json of one service"
run 0 get svc -A -o json -f "$data/good"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["kind"]=="List" and len(d["items"])>5' "$tmp/out" ||
	fail "get -o json list"
run 0 get svc kube-dns -n kube-system -o yaml -f "$data/good"
has out '^kind: Service$'
has out '^  clusterIP: 10\.96\.0\.10$'
has out '^  - name: dns$'
if python3 -c 'import yaml' 2>/dev/null; then
	python3 -c 'import yaml,sys; d=yaml.safe_load(open(sys.argv[1])); assert d["spec"]["ports"][0]["port"]==53, d' "$tmp/out" ||
		fail "get -o yaml does not load back"
fi

# a broken file: errors on stderr, the rest still listed, exit 1
run 1 get svc -A -f "$tmp/m"
has err "bad.yaml:7:11: spec.ports"
has out 'web'

echo "cli-test: $n runs, $failures failures"
[ "$failures" -eq 0 ]
