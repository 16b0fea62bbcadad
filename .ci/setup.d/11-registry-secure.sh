# shellcheck shell=bash
# A second distribution registry on loopback with htpasswd authentication and
# a self-signed TLS certificate, for the tests of credentials and TLS.
# It listens on 127.0.0.2 (the loopback network, but not the address
# go-containerregistry treats as plain HTTP), with a certificate for that
# address signed by a CA made here. Exports:
#   CACHECHECK_REGISTRY_SECURE=127.0.0.2:PORT (5802 unless taken)
#   CACHECHECK_REGISTRY_USER, CACHECHECK_REGISTRY_PASSWORD  the htpasswd user
#   CACHECHECK_REGISTRY_CA       the CA certificate (PEM): trust it with
#                                SSL_CERT_FILE (Go) or --cert-dir (skopeo)
#   CACHECHECK_REGISTRY_CERT_DIR a directory for skopeo --cert-dir
# Sourced by .ci/test.sh after 10-registry.sh.
apt_install apache2-utils openssl

secure_dir="$CACHECHECK_CI_TMP/registry-secure-auth"
mkdir -p "$secure_dir/certs"
CACHECHECK_REGISTRY_USER=cachecheck-ci
CACHECHECK_REGISTRY_PASSWORD="ci-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
htpasswd -Bbn "$CACHECHECK_REGISTRY_USER" "$CACHECHECK_REGISTRY_PASSWORD" > "$secure_dir/htpasswd" \
  || { echo "htpasswd failed"; exit 1; }
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cachecheck test CA" \
  -keyout "$secure_dir/ca.key" -out "$secure_dir/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null \
  || { echo "openssl could not make the CA"; exit 1; }
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.2" \
  -keyout "$secure_dir/server.key" -out "$secure_dir/server.csr" 2>/dev/null \
  || { echo "openssl could not make the server key"; exit 1; }
printf 'subjectAltName=IP:127.0.0.2\nextendedKeyUsage=serverAuth\n' > "$secure_dir/ext.cnf"
openssl x509 -req -in "$secure_dir/server.csr" -CA "$secure_dir/ca.crt" -CAkey "$secure_dir/ca.key" \
  -CAcreateserial -days 2 -extfile "$secure_dir/ext.cnf" -out "$secure_dir/server.crt" 2>/dev/null \
  || { echo "openssl could not sign the server certificate"; exit 1; }
# skopeo --cert-dir wants the CA as *.crt in a directory.
cp "$secure_dir/ca.crt" "$secure_dir/certs/ca.crt"

# It listens on 127.0.0.2, so it is ready when it answers TLS there: 401
# without credentials is the answer wanted (TLS and auth are on).
secure_port=$(free_port 127.0.0.2 5802)
secure_ready() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$secure_dir/ca.crt" "https://127.0.0.2:$secure_port/v2/" || true)" = 401 ]
}
start_registry secure "127.0.0.2:$secure_port" true secure_ready "  tls:
    certificate: $secure_dir/server.crt
    key: $secure_dir/server.key
auth:
  htpasswd:
    realm: cachecheck-ci
    path: $secure_dir/htpasswd" || exit 1
curl -fsS --cacert "$secure_dir/ca.crt" -u "$CACHECHECK_REGISTRY_USER:$CACHECHECK_REGISTRY_PASSWORD" \
  "https://127.0.0.2:$secure_port/v2/" >/dev/null || { echo "secure registry refuses the CI credentials"; exit 1; }
export CACHECHECK_REGISTRY_SECURE=127.0.0.2:$secure_port
export CACHECHECK_REGISTRY_USER CACHECHECK_REGISTRY_PASSWORD
export CACHECHECK_REGISTRY_CA="$secure_dir/ca.crt"
export CACHECHECK_REGISTRY_CERT_DIR="$secure_dir/certs"
