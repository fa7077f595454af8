#!/bin/sh
# gen.sh - regenerates the TLS fixtures of tests/unit/test_tls.c and test_config.c (run once, from
# this folder; the outputs are committed so the tests need no openssl). Nothing here is a secret:
# these keys sign nothing but test fixtures. Validity does not matter: tls_cert_info and
# tls_creds_* never look at dates.
set -eu
cd "$(dirname "$0")"
days=3650

# Two CAs: RSA and EC, for one- and two-certificate bundles.
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days $days \
	-subj "/CN=pizza-test-ca" -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca2.key -out ca2.pem \
	-days $days -subj "/CN=pizza-test-ca-2" -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null

leaf() { # name subject extensions key-algorithm-args...
	name=$1 subj=$2 ext=$3
	shift 3
	openssl req -new -newkey "$@" -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
	if [ -n "$ext" ]; then
		printf '%s\n' "$ext" >"$name.ext"
		openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days $days \
			-extfile "$name.ext" -out "$name.pem" 2>/dev/null
		rm -f "$name.ext"
	else
		openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days $days \
			-out "$name.pem" 2>/dev/null
	fi
	rm -f "$name.csr"
}

# API server: DNS and both loopback addresses, as a local control plane's certificate carries.
# Other extensions come first, so the SAN search has to walk past them.
leaf server "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:kubernetes.default.svc,IP:127.0.0.1,IP:::1" \
	ec -pkeyopt ec_paramgen_curve:P-256
# In-cluster style: one service IPv4 address only; a critical SAN extension.
leaf server-v4 "/CN=kube-apiserver" "subjectAltName=critical,DNS:kubernetes,IP:10.96.0.1" \
	ec -pkeyopt ec_paramgen_curve:P-256
# No extensions at all (X.509 v1), and one with extensions but no SAN.
leaf nosan "/CN=127.0.0.1" "" ec -pkeyopt ec_paramgen_curve:P-256
leaf nosan-ext "/CN=127.0.0.1" "basicConstraints=CA:FALSE" ec -pkeyopt ec_paramgen_curve:P-256

# Client certificates and their keys in every encoding kubeconfigs carry.
leaf client-rsa "/O=system:masters/CN=pizza-admin" "extendedKeyUsage=clientAuth" rsa:2048
openssl pkey -in client-rsa.key -out client-rsa-pkcs8.key
openssl rsa -in client-rsa.key -traditional -out client-rsa-pkcs1.key 2>/dev/null
leaf client-ec "/O=system:masters/CN=pizza-admin" "extendedKeyUsage=clientAuth" ec -pkeyopt ec_paramgen_curve:P-256
openssl pkey -in client-ec.key -out client-ec-pkcs8.key
openssl ec -in client-ec.key -out client-ec-sec1.key 2>/dev/null
rm -f client-rsa.key client-ec.key server.key server-v4.key nosan.key nosan-ext.key ca.srl ca.key ca2.key
chmod 644 ./*.key

# DER copies for tls_cert_info and the X.509 wrapper tests.
for c in server server-v4 nosan nosan-ext; do
	openssl x509 -in $c.pem -outform DER -out $c.der
done
