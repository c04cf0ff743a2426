#!/bin/sh
# make-certs.sh DIR -- a throw-away PKI for the simulator's HTTPS agent port.
#
# Writes into DIR (created if missing; existing files of these names are replaced):
#   ca.pem, ca-key.pem          self-signed CA ("ostiary test CA")
#   server.pem, server-key.pem  signed by ca.pem; SAN DNS:localhost,
#                               DNS:server.dc1.consul, IP:127.0.0.1; serverAuth
#   client.pem, client-key.pem  signed by ca.pem; clientAuth (for verify_incoming)
#   other-ca.pem                an unrelated self-signed CA, for "wrong CA" tests
#
# EC P-256 keys, because RSA key generation would dominate the test's run time.
# server.dc1.consul is the name `consul tls cert create -server` puts in an
# agent certificate (tlsutil ServerSNI: "server.<dc>.<domain>"), so a client set
# up with CONSUL_TLS_SERVER_NAME=server.dc1.consul verifies as against a real one.
# The certificates carry the extensions strict verifiers insist on (Python 3.13+
# sets VERIFY_X509_STRICT): CA basicConstraints/keyUsage critical, SKI and AKI.
#
# Quiet on success.  On failure openssl's own message goes to stderr and the exit
# status is non-zero; DIR is left untouched (everything is made in a scratch
# directory first and moved into place at the end).  Never prompts: no
# passphrases, subjects come from -subj, and no system openssl.cnf is read.
set -eu

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
days=3650   # ten years: clock skew between test hosts never matters

mkdir -p "$dir"
work=$(mktemp -d "$dir/.make-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

# Run an openssl command with its chatter captured; show it only if it fails
# (`openssl x509 -req` prints "Certificate request self-signature ok" on success).
run() {
    if ! out=$(openssl "$@" 2>&1); then
        printf '%s\n' "$out" >&2
        echo "$0: openssl $1 failed" >&2
        exit 1
    fi
}

# A minimal config of our own, so that neither a missing nor an unusual system
# openssl.cnf (OPENSSL_CONF) changes what is produced.
cat > "$work/openssl.cnf" <<'EOF'
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, DNS:server.dc1.consul, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
OPENSSL_CONF="$work/openssl.cnf"
export OPENSSL_CONF

key() {   # key FILE: a new unencrypted P-256 key (PKCS#8 PEM)
    run genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1"
}

ca() {    # ca NAME CN: a self-signed CA certificate NAME.pem with key NAME-key.pem
    key "$work/$1-key.pem"
    run req -new -x509 -config "$OPENSSL_CONF" -extensions v3_ca -key "$work/$1-key.pem" \
        -subj "/O=ostiary tests/CN=$2" -days "$days" -sha256 \
        -set_serial "0x$(openssl rand -hex 8)" -out "$work/$1.pem"
}

leaf() {  # leaf NAME CN SECTION: NAME.pem/NAME-key.pem signed by ca.pem
    key "$work/$1-key.pem"
    run req -new -config "$OPENSSL_CONF" -key "$work/$1-key.pem" \
        -subj "/O=ostiary tests/CN=$2" -out "$work/$1.csr"
    # A random serial rather than -CAcreateserial, which would leave ca.srl behind.
    run x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" \
        -set_serial "0x$(openssl rand -hex 8)" -days "$days" -sha256 \
        -extfile "$OPENSSL_CONF" -extensions "$3" -out "$work/$1.pem"
}

ca ca "ostiary test CA"
leaf server "server.dc1.consul" server
leaf client "ostiary test client" client
ca other-ca "ostiary unrelated CA"

for file in ca.pem ca-key.pem server.pem server-key.pem client.pem client-key.pem \
            other-ca.pem; do
    mv -f "$work/$file" "$dir/$file"
done
