#!/bin/sh
# Creates the compose deployment's certificates on its first start; later starts check them
# and change nothing.
#
# The console CA is made here rather than by the console because the NATS servers need a
# certificate it signed before any console can start. Outputs:
#
#   $PKI_DIR/ca.pem, ca-key.pem       the CA (kept only in this volume and the consoles')
#   $NATS_TLS_DIR/ca.pem              the CA certificate, for the NATS servers to verify clients
#   $NATS_TLS_DIR/server.pem, -key    the NATS servers' certificate, valid for $NATS_HOSTS,
#                                     localhost, 127.0.0.1 and $PALISADE_PUBLIC_HOST
#   <dir>/pki/ca.pem, ca-key.pem      for each console data directory in $CONSOLE_DATA_DIRS;
#                                     each console then issues its own server certificate
#
# Needs openssl. To reissue the NATS certificate (a new public host name, say), delete
# server.pem from the NATS TLS volume and start the deployment again.
set -eu

PKI_DIR=${PKI_DIR:-/pki}
NATS_TLS_DIR=${NATS_TLS_DIR:-/nats-tls}
CONSOLE_DATA_DIRS=${CONSOLE_DATA_DIRS:-/console-a /console-b}
NATS_HOSTS=${NATS_HOSTS:-nats-1 nats-2 nats-3}
PUBLIC_HOST=${PALISADE_PUBLIC_HOST:-localhost}

umask 077
mkdir -p "$PKI_DIR" "$NATS_TLS_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

if [ ! -s "$PKI_DIR/ca.pem" ]; then
	cat >"$work/ca.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
O = Palisade
CN = Palisade CA
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
CNF
	newkey "$work/ca-key.pem"
	openssl req -new -x509 -config "$work/ca.cnf" -extensions ca -key "$work/ca-key.pem" \
		-days 3650 -out "$work/ca.pem"
	mv "$work/ca-key.pem" "$PKI_DIR/ca-key.pem"
	mv "$work/ca.pem" "$PKI_DIR/ca.pem"
	echo "created the console CA in $PKI_DIR"
fi

if [ ! -s "$NATS_TLS_DIR/server.pem" ]; then
	sans="DNS:localhost, IP:127.0.0.1"
	for h in $NATS_HOSTS $PUBLIC_HOST; do
		case "$h" in
		*:*) sans="$sans, IP:$h" ;;         # IPv6
		*[!0-9.]*) sans="$sans, DNS:$h" ;;  # a name
		*) sans="$sans, IP:$h" ;;           # IPv4
		esac
	done
	cat >"$work/nats.cnf" <<CNF
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $sans
CNF
	newkey "$work/server-key.pem"
	openssl req -new -key "$work/server-key.pem" -subj "/O=Palisade/CN=palisade-nats" -out "$work/server.csr"
	openssl x509 -req -in "$work/server.csr" -CA "$PKI_DIR/ca.pem" -CAkey "$PKI_DIR/ca-key.pem" \
		-set_serial "0x$(openssl rand -hex 16)" -days 825 -extfile "$work/nats.cnf" -extensions server \
		-out "$work/server.pem" 2>/dev/null
	cp "$PKI_DIR/ca.pem" "$NATS_TLS_DIR/ca.pem"
	mv "$work/server-key.pem" "$NATS_TLS_DIR/server-key.pem"
	mv "$work/server.pem" "$NATS_TLS_DIR/server.pem"
	echo "issued the NATS server certificate for $sans"
fi
if ! openssl verify -CAfile "$PKI_DIR/ca.pem" "$NATS_TLS_DIR/server.pem" >/dev/null; then
	echo "error: $NATS_TLS_DIR/server.pem was not signed by the CA in $PKI_DIR; delete it to reissue it" >&2
	exit 1
fi

for d in $CONSOLE_DATA_DIRS; do
	mkdir -p "$d/pki"
	if [ ! -s "$d/pki/ca.pem" ]; then
		cp "$PKI_DIR/ca.pem" "$PKI_DIR/ca-key.pem" "$d/pki/"
		echo "gave the console data directory $d the CA"
	fi
	if ! cmp -s "$PKI_DIR/ca.pem" "$d/pki/ca.pem"; then
		echo "error: $d/pki/ca.pem is another CA than $PKI_DIR/ca.pem; the replicas must share one CA (sensors pin it)" >&2
		exit 1
	fi
done
