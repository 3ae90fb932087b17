#!/bin/sh
# The image's entrypoint: the first argument names the process (docs/deploy.md).
#   init          make the signing key, the pairwise salt and the master key once (a shared
#                 state volume), then exit — run it before the first `idp`
#   idp           the IdP under gunicorn (workers: $HIDEEZ_WORKERS, default 2)
#   satosa        SATOSA with the plugin pack under gunicorn ($SATOSA_CONFIG)
#   link          the workstation link server
#   gateway-sim   simulated workstations against $LINK_URL
#   key-sim       virtual Hideez Keys ($KEY_SERIALS) behind a TCP HCI controller on $KEYSIM_PORT
#   gateway       one gateway agent against $LINK_URL driving the keys of $KEYSIM_HOST
#   anything else runs as a command (e.g. `hideez-idp employee list`)
set -eu
state="${HIDEEZ_STATE_DIR:-/var/lib/hideez-idp}"
etc="$(dirname "$0")"
mkdir -p "${PROMETHEUS_MULTIPROC_DIR:-/tmp/hideez-idp-metrics}"

secret() {  # secret FILE BYTES: random base64, written once, readable by the owner only
  if [ ! -s "$1" ]; then
    umask 077
    python -c "import base64,os,sys; sys.stdout.write(base64.b64encode(os.urandom($2)).decode())" > "$1.tmp"
    mv "$1.tmp" "$1"
  fi
}

case "${1:-idp}" in
  init)
    mkdir -p "$state/keys" "$state/secrets"
    [ -s "$state/keys/idp-signing.key" ] || hideez-idp keygen \
      --key "$state/keys/idp-signing.key" --cert "$state/keys/idp-signing.crt" \
      --common-name "${HIDEEZ_IDP_HOST:-idp}"
    [ -s "$state/keys/satosa-frontend.key" ] || hideez-idp keygen \
      --key "$state/keys/satosa-frontend.key" --cert "$state/keys/satosa-frontend.crt" \
      --common-name "${HIDEEZ_SATOSA_HOST:-satosa}"
    secret "$state/secrets/pairwise_salt" 32
    secret "$state/secrets/master_key" 32
    hideez-idp check-config
    ;;
  idp)
    exec gunicorn --config "$etc/gunicorn.conf.py" 'flask_idp.wsgi:create()'
    ;;
  satosa)
    exec gunicorn --config "$etc/gunicorn.conf.py" 'satosa_plugins.wsgi:app'
    ;;
  link)
    exec hideez-idp link serve --host 0.0.0.0 --port "${LINK_PORT:-8765}"
    ;;
  gateway-sim)
    exec hideez-idp workstation-sim --server "${LINK_URL:?set LINK_URL}" \
      --state-dir "$state/gateways" --count "${GATEWAYS:-3}"
    ;;
  key-sim)
    set --  # one --serial per word of $KEY_SERIALS
    for serial in ${KEY_SERIALS:-ST10301234567890}; do set -- "$@" --serial "$serial"; done
    exec hideez-idp key-sim --host 0.0.0.0 --port "${KEYSIM_PORT:-7400}" "$@"
    ;;
  gateway)
    exec hideez-idp gateway run --server "${LINK_URL:?set LINK_URL}" \
      --state-dir "$state/gateway" --name "${GATEWAY_NAME:-keys-gateway}" --actuator recording \
      --keys "bumble:tcp-client:${KEYSIM_HOST:?set KEYSIM_HOST}:${KEYSIM_PORT:-7400}"
    ;;
  *)
    exec "$@"
    ;;
esac
