#!/bin/sh
# matrix.sh OUTDIR - makes the certificates of tests/unit/test_tls_matrix.c with openssl, fresh on
# every run (nothing here is committed: each case is its recipe below). Every server chain is
# OUTDIR/<case>.pem (the server's certificate first, then what the server sends after it) with its
# key in OUTDIR/<case>.key; CAs are OUTDIR/<ca>.pem. The test names which CA and which server name
# each case is checked against, and the cause it must be refused for.
#
# The recipes follow what Go's crypto/x509 (kubectl, client-go) refuses, plus what BearSSL refuses
# beyond Go (marked "stricter than Go"). Keys are EC P-256 unless a case is about RSA: they are
# made in milliseconds. Dates: "now - 1 day" to "now + 30 days" unless the case is about dates.
set -eu
out=${1:?usage: matrix.sh OUTDIR}
command -v openssl >/dev/null || { echo "matrix.sh: openssl is missing (apt-get install openssl)" >&2; exit 2; }
mkdir -p "$out"
cd "$out"

# A throw-away CA database for `openssl ca`, the only openssl command here that sets any date.
mkdir -p db
: >db/index.txt
echo 1000 >db/serial
cat >ca.cnf <<'EOF'
[ ca ]
default_ca = any
[ any ]
database = db/index.txt
new_certs_dir = db
serial = db/serial
policy = policy_any
unique_subject = no
default_md = sha256
copy_extensions = none
[ policy_any ]
commonName = optional
organizationName = optional
EOF

now=$(date -u +%s)
stamp() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
start=$(stamp $((now - 86400)))
end=$(stamp $((now + 30 * 86400)))

key() { # name [rsa-bits]
	if [ -n "${2:-}" ]; then
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"$2" -out "$1.key" 2>/dev/null
	else
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
	fi
}

# root NAME EXTENSIONS [rsa-bits]: a self-signed CA.
root() {
	key "$1" "${3:-}"
	printf '%s\n' "$2" >"$1.ext"
	openssl req -new -key "$1.key" -subj "/O=pizza-matrix/CN=$1" -out "$1.csr" 2>/dev/null
	openssl ca -batch -config ca.cnf -selfsign -keyfile "$1.key" -in "$1.csr" -out "$1.pem" -notext \
		-preserveDN -startdate "$start" -enddate "$end" -extfile "$1.ext" 2>/dev/null
}

# cert NAME ISSUER SUBJECT EXTENSIONS [key-bits|""] [md] [startdate] [enddate]: NAME.pem signed by
# ISSUER (ISSUER.pem + ISSUER.key); "self" signs with its own key.
cert() {
	name=$1 issuer=$2 subj=$3 ext=$4 bits=${5:-} md=${6:-sha256} s=${7:-$start} e=${8:-$end}
	key "$name" "$bits"
	printf '%s\n' "$ext" >"$name.ext"
	openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
	if [ "$issuer" = self ]; then
		set -- -selfsign -keyfile "$name.key"
	else
		set -- -cert "$issuer.pem" -keyfile "$issuer.key"
	fi
	openssl ca -batch -config ca.cnf "$@" -in "$name.csr" -out "$name.crt" -notext -preserveDN \
		-md "$md" -startdate "$s" -enddate "$e" -extfile "$name.ext" 2>/dev/null
	cp "$name.crt" "$name.pem"
}

# chain NAME CERT...: NAME.pem is the server's certificate followed by the others, as sent.
chain() {
	name=$1
	shift
	for c in "$@"; do cat "$c.crt" 2>/dev/null || cat "$c.pem"; done >"$name.pem.tmp"
	mv "$name.pem.tmp" "$name.pem"
}

CA='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign'
# The API server's certificate as kubeadm makes it.
SRV='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:api.pizza.test,IP:127.0.0.1,IP:::1'
SUBJ=/CN=kube-apiserver

# ---- CAs ----
root root "$CA"
root other "$CA"
root root-rsa "$CA" 2048
root root-pl0 "$CA
basicConstraints=critical,CA:TRUE,pathlen:0"
root root-eku-client "$CA
extendedKeyUsage=clientAuth"
root root-eku-server "$CA
extendedKeyUsage=serverAuth"
cat other.pem root.pem >bundle.pem

# Intermediates, signed by root unless said.
cert int root /CN=int "$CA"
cert int-pl0 root /CN=int-pl0 "basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign"
cert int-below-pl0 int-pl0 /CN=int-below-pl0 "$CA"
cert int-under-root-pl0 root-pl0 /CN=int-under-root-pl0 "$CA"
cert int-cafalse root /CN=int-cafalse "basicConstraints=critical,CA:FALSE
keyUsage=critical,keyCertSign"
cert int-nobc root /CN=int-nobc "keyUsage=critical,keyCertSign"
cert int-noku root /CN=int-noku "basicConstraints=critical,CA:TRUE
keyUsage=critical,digitalSignature"
cert int-eku-client root /CN=int-eku-client "$CA
extendedKeyUsage=clientAuth"
cert int-nc root /CN=int-nc "$CA
nameConstraints=critical,excluded;IP:127.0.0.0/255.0.0.0"
# A server certificate used as an issuer.
cert leaf-issuer root /CN=leaf-issuer "$SRV"

# ---- refused ----
cert expired root $SUBJ "$SRV" "" sha256 20200101000000Z 20210101000000Z
cert not-yet-valid root $SUBJ "$SRV" "" sha256 20900101000000Z 20910101000000Z
cert wrong-ca other $SUBJ "$SRV"
cert self-signed self $SUBJ "$SRV"
cert cn-only-dns root /CN=api.pizza.test "basicConstraints=critical,CA:FALSE
extendedKeyUsage=serverAuth"
cert cn-only-ip root /CN=127.0.0.1 "basicConstraints=critical,CA:FALSE
extendedKeyUsage=serverAuth"
cert cn-only-v1 root /CN=127.0.0.1 ""
cert cn-match-san-other root /CN=api.pizza.test "extendedKeyUsage=serverAuth
subjectAltName=DNS:other.pizza.test"
cert san-dns-mismatch root $SUBJ "subjectAltName=DNS:other.pizza.test,IP:127.0.0.1"
cert san-ip-mismatch root $SUBJ "subjectAltName=DNS:api.pizza.test,IP:127.0.0.2,IP:::2"
cert ip-as-dns-san root $SUBJ "subjectAltName=DNS:127.0.0.1"
cert eku-client root $SUBJ "extendedKeyUsage=clientAuth
subjectAltName=DNS:api.pizza.test,IP:127.0.0.1"
cert eku-other root $SUBJ "extendedKeyUsage=codeSigning,emailProtection,1.2.3.4.5
subjectAltName=DNS:api.pizza.test,IP:127.0.0.1"
cert by-int-cafalse int-cafalse $SUBJ "$SRV"
chain by-int-cafalse by-int-cafalse int-cafalse
cert by-int-nobc int-nobc $SUBJ "$SRV"
chain by-int-nobc by-int-nobc int-nobc
cert by-leaf leaf-issuer $SUBJ "$SRV"
chain by-leaf by-leaf leaf-issuer
cert int-pathlen int-below-pl0 $SUBJ "$SRV"
chain int-pathlen int-pathlen int-below-pl0 int-pl0
cert root-pathlen int-under-root-pl0 $SUBJ "$SRV"
chain root-pathlen root-pathlen int-under-root-pl0
cert by-int-eku-client int-eku-client $SUBJ "$SRV"
chain by-int-eku-client by-int-eku-client int-eku-client
cert by-root-eku-client root-eku-client $SUBJ "$SRV"
cert by-int-noku int-noku $SUBJ "$SRV"
chain by-int-noku by-int-noku int-noku
cert by-int-nc int-nc $SUBJ "$SRV"
chain by-int-nc by-int-nc int-nc
cert critical-unknown root $SUBJ "$SRV
1.3.6.1.4.1.55555.1=critical,ASN1:NULL"
cert md5 root-rsa $SUBJ "$SRV" "" md5
cert sha1 root-rsa $SUBJ "$SRV" "" sha1
cert rsa1024 root $SUBJ "$SRV" 1024
# Over TLS_CERT_MAX (8 KiB) with 300 DNS names: the policy cannot read it, so it fails closed.
big=$(i=0; while [ $i -lt 300 ]; do printf 'DNS:name-%03d.a-rather-long-zone.pizza.test,' $i; i=$((i + 1)); done)
cert too-large root $SUBJ "subjectAltName=${big}IP:127.0.0.1"
# stricter than Go: Go reads neither keyUsage on the server's certificate nor a critical EKU as a
# reason to refuse; BearSSL does.
cert ku-keyenc-only root $SUBJ "keyUsage=critical,keyEncipherment
subjectAltName=DNS:api.pizza.test,IP:127.0.0.1"
cert eku-critical root $SUBJ "extendedKeyUsage=critical,serverAuth
subjectAltName=DNS:api.pizza.test,IP:127.0.0.1"

# ---- accepted (the controls: the matrix must be able to fail both ways) ----
cert ok root $SUBJ "$SRV"
cert ok-rsa-via-int-pl0 int-pl0 $SUBJ "subjectAltName=DNS:api.pizza.test" 2048
chain ok-rsa-via-int-pl0 ok-rsa-via-int-pl0 int-pl0
cert ok-any-eku root $SUBJ "extendedKeyUsage=anyExtendedKeyUsage
subjectAltName=IP:127.0.0.1"
cert ok-eku-both root $SUBJ "extendedKeyUsage=clientAuth,serverAuth
subjectAltName=IP:127.0.0.1"
cert ok-no-eku root $SUBJ "subjectAltName=IP:127.0.0.1"
cert ok-root-pl0 root-pl0 $SUBJ "$SRV"
cert ok-root-eku-server root-eku-server $SUBJ "$SRV"
cert ok-wildcard root $SUBJ "subjectAltName=DNS:*.pizza.test"
cert ok-sha384 root-rsa $SUBJ "$SRV" "" sha384
# Certificates after the one the CA signed are ignored, by Go and by us: the CA itself, and an
# intermediate whose EKU would be refused if it were in the path.
chain ok-extra ok root int-eku-client
rm -f ./*.csr ./*.ext ./*.crt
